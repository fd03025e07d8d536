"""What a sensor's microphone, converter and clock do to the sound it records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.sources import db_spl_to_pa


def digitize(p_pa: np.ndarray, full_scale_db_spl: float, bits: int) -> np.ndarray:
    """Pressure to ADC codes: scale so ``full_scale_db_spl`` (peak) is ±1, clip, quantize.

    Parameters
    ----------
    p_pa : numpy.ndarray, shape (n,)
        Pressure at the membrane including self-noise, Pa.
    full_scale_db_spl : float
        Peak pressure that reaches digital full scale, dB SPL.
    bits : int
        ADC resolution, bits.

    Returns
    -------
    numpy.ndarray of int32, shape (n,)
        Codes in [−2^(bits−1), 2^(bits−1) − 1]; louder sound is clipped.
    """
    q = float(2 ** (bits - 1))
    x = np.rint(p_pa * (q / db_spl_to_pa(full_scale_db_spl)))
    return np.clip(x, -q, q - 1).astype(np.int32)


def codes_to_float(codes: np.ndarray, bits: int) -> np.ndarray:
    """ADC codes to float32 full scale ±1, exactly what reading the WAV back with soundfile gives."""
    return (codes.astype(np.float64) / float(2 ** (bits - 1))).astype(np.float32)


@dataclass(frozen=True)
class Clock:
    """A sensor clock: reads ``t + offset_s + drift_ppm·1e-6·t`` at true time t (s from scenario start).

    Attributes
    ----------
    kind : str
        ``gps``, ``ntp`` or ``unknown``.
    offset_s : float
        Offset at the scenario start (fault included), s.
    drift_ppm : float
        Rate error, parts per million.
    sigma_s : float
        The 1-sigma offset a user would assume for this kind of clock, s.
    """

    kind: str
    offset_s: float
    drift_ppm: float
    sigma_s: float

    def reading(self, t_s):
        """Clock reading at true time ``t_s`` (s from scenario start)."""
        return t_s + self.offset_s + self.drift_ppm * 1e-6 * np.asarray(t_s, float)

    def true_time(self, reading_s):
        """Inverse of :meth:`reading`."""
        return (np.asarray(reading_s, float) - self.offset_s) / (1.0 + self.drift_ppm * 1e-6)

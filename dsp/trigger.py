"""Frame-energy impulse trigger with an adaptive noise floor (the detector's first, cheap stage).

One pass per sample: a high-pass biquad cascade and a squared-sum into frames of ``frame_s``.  Per frame, a fast
energy average must exceed both the adaptive noise floor by ``snr_on_db`` and the recent-energy reference by
``jump_db`` (a *step* from quiet to loud, the idea of TN 098's step kernel and of seismology's STA/LTA), outside a
refractory time after the previous trigger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from dsp import _kernels as K
from dsp.config import DetectorConfig

#: Lowest noise floor the trigger assumes (mean square re full scale): -100 dBFS, below 16-bit dither.
FLOOR_MIN = 1e-10


def _alpha(frame_s: float, tau_s: float) -> float:
    """Per-frame weight of an exponential average with time constant ``tau_s``."""
    return 1.0 - math.exp(-frame_s / tau_s)


@dataclass(frozen=True, slots=True)
class TriggerDesign:
    """The trigger's filter and parameters for one sample rate, in samples and frames.

    Attributes
    ----------
    fs_hz : float
        Sample rate (Hz).
    hop : int
        Frame hop (samples).
    sos : ndarray, float64, shape (n_sections, 6)
        High-pass filter.
    zi_unit : ndarray, float64, shape (n_sections, 2)
        Filter state at rest under a unit DC input (scaled by the first sample to start without a transient).
    params : ndarray, float64, shape (N_PARAMS,)
        Kernel parameter vector (layout in :mod:`dsp._kernels`).
    """

    fs_hz: float
    hop: int
    sos: np.ndarray
    zi_unit: np.ndarray
    params: np.ndarray


def design_trigger(fs_hz: float, config: DetectorConfig) -> TriggerDesign:
    """Convert ``config`` (seconds, dB) to the trigger's sample- and frame-domain design for ``fs_hz``."""
    hop = max(1, int(round(config.frame_s * fs_hz)))
    frame_s = hop / fs_hz
    sos = signal.butter(4, config.highpass_hz, btype="highpass", fs=fs_hz, output="sos")
    params = np.zeros(K.N_PARAMS)
    params[K.P_HOP] = hop
    params[K.P_ALPHA_FAST] = _alpha(frame_s, config.fast_tau_s)
    params[K.P_ALPHA_REF] = _alpha(frame_s, config.ref_tau_s)
    params[K.P_FLOOR_UP] = 10.0 ** (config.floor_rise_db_per_s * frame_s / 10.0)
    params[K.P_ALPHA_DOWN] = _alpha(frame_s, config.floor_tau_s)
    params[K.P_ALPHA_WARM] = _alpha(frame_s, 0.05)
    params[K.P_WARM_FRAMES] = math.ceil(config.warmup_s / frame_s)
    params[K.P_SNR_ON] = 10.0 ** (config.snr_on_db / 10.0)
    params[K.P_JUMP] = 10.0 ** (config.jump_db / 10.0)
    params[K.P_REFRACTORY] = max(0, math.ceil(config.refractory_s / frame_s) - 1)
    params[K.P_FLOOR_MIN] = FLOOR_MIN
    params[K.P_MIN_GAP] = math.ceil(config.override_gap_s / frame_s)
    params[K.P_STRONG] = 10.0 ** (config.override_db / 10.0)
    params[K.P_HOLDOFF] = math.ceil(config.holdoff_s / frame_s)
    params[K.P_ALPHA_WEAK] = _alpha(frame_s, config.weak_tau_s)
    params[K.P_WEAK_ON] = 10.0 ** (config.weak_snr_on_db / 10.0) if config.weak_snr_on_db > 0 else 0.0
    params[K.P_WEAK_JUMP] = 10.0 ** (config.weak_jump_db / 10.0)
    return TriggerDesign(float(fs_hz), hop, np.ascontiguousarray(sos), signal.sosfilt_zi(sos), params)


class TriggerStream:
    """Explicit state of the trigger over one stream; :meth:`run` continues exactly where the last block ended."""

    def __init__(self, design: TriggerDesign) -> None:
        self.design = design
        self._zi: np.ndarray | None = None
        self._state = np.zeros(K.N_STATE)

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`run_both` without the weak channel's candidates: (y, trig, floor)."""
        y, trig, floor, _ = self.run_both(x)
        return y, trig, floor

    def run_into(self, x: np.ndarray, y_out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`run_both` writing the high-passed block into ``y_out`` (float32, shape (n,)); returns
        (trig, floor, weak)."""
        d = self.design
        if x.shape[0] == 0:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
        if self._zi is None:  # start at rest on the first sample: a DC offset makes no transient
            self._zi = d.zi_unit * float(x[0])
        cap = x.shape[0] // d.hop + 2
        trig = np.empty(cap, np.int64)
        floor = np.empty(cap, np.float64)
        weak = np.empty(cap, np.int64)
        n_weak = np.zeros(1, np.int64)
        n = K.trigger_kernel(x, d.sos, self._zi, d.params, self._state, y_out, trig, floor, weak, n_weak)
        return trig[:n].copy(), floor[:n].copy(), weak[: n_weak[0]].copy()

    def run_both(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Filter one validated float32 block and trigger on it.

        Parameters
        ----------
        x : ndarray, float32, shape (n,)
            The next block of the stream.

        Returns
        -------
        y : ndarray, float32, shape (n,)
            High-passed block.
        trig : ndarray, int64, shape (k,)
            Trigger sample indices counted from the stream start.
        floor : ndarray, float64, shape (k,)
            Noise floor (mean square re full scale) at each trigger.
        weak : ndarray, int64, shape (m,)
            The weak channel's candidate sample indices counted from the stream start.
        """
        y = np.empty(x.shape[0], np.float32)
        trig, floor, weak = self.run_into(x, y)
        return y, trig, floor, weak

"""Confirmation of faint candidates by a whitened, blast-matched filter.

The weak trigger channel proposes candidates whose energy alone cannot be told from ambience.  A muzzle blast is
not any burst of energy: it is a short positive phase and a longer negative one.  Correlating with that shape,
after whitening the ambience (a prediction-error filter fitted on the ~18 ms before the candidate), gains what
the blast's bandwidth and duration offer over a peak or energy test.  The statistic is the largest
matched-filter output near the candidate in standard deviations of that output on the ambience itself, so its
false-alarm rate does not depend on the ambience's level or colour.

Measured on simulator TRAINING seeds (see training/ and benchmarks/bench_onset.py --bound): ambience
candidates of the weak channel stay below ~5.2, faint shots at 15 dB peak SNR reach a median of ~8.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import signal

from dsp import _kernels as K

#: Order of the whitening (prediction-error) filter.
ORDER = 8
#: Positive-phase duration of the template's Friedlander wave (s): a handgun's, between the weapons' 0.35-0.5 ms.
TEMPLATE_T_S = 0.4e-3
#: Template length (s): the positive and most of the negative phase.
TEMPLATE_S = 2e-3
#: Corner of the one-pole low-pass that rounds the template's edge as a few hundred metres of air do (Hz).
TEMPLATE_LP_HZ = 3000.0
#: The matched filter is evaluated from this long before to this long after the candidate (s): the weak
#: channel's slower average triggers up to ~1.5 ms after a faint blast begins ...
SEARCH_BEFORE_S = 2e-3
SEARCH_AFTER_S = 1e-3
#: ... and the ambience ends this long before the candidate (s).
GUARD_S = 1.5e-3


@lru_cache(maxsize=16)
def blast_template(fs_hz: float, highpass_hz: float) -> np.ndarray:
    """The template: a Friedlander wave, low-passed like distant air, high-passed like the detector's input.

    Returns
    -------
    ndarray, float64, shape (round(TEMPLATE_S * fs_hz),)
    """
    n = int(round(TEMPLATE_S * fs_hz))
    t = np.arange(n) / fs_hz
    f = (1.0 - t / TEMPLATE_T_S) * np.exp(-t / TEMPLATE_T_S)
    f = signal.sosfilt(signal.butter(1, min(TEMPLATE_LP_HZ, 0.4 * fs_hz), fs=fs_hz, output="sos"), f)
    f = signal.sosfilt(signal.butter(4, highpass_hz, btype="highpass", fs=fs_hz, output="sos"), f)
    return np.ascontiguousarray(f / np.abs(f).max())


def matched_z(y: np.ndarray, trig: int, fs_hz: float, highpass_hz: float) -> float:
    """Whitened matched-filter statistic of the candidate at ``trig`` in the high-passed window ``y``.

    Parameters
    ----------
    y : ndarray, shape (n,)
        High-passed window holding ambience before the candidate.
    trig : int
        Candidate index within ``y``.
    fs_hz : float
        Sample rate (Hz).
    highpass_hz : float
        The detector's high-pass corner (Hz); the template is filtered alike.

    Returns
    -------
    float
        Largest |output| within ``SEARCH_BEFORE_S`` / ``SEARCH_AFTER_S`` of ``trig``, in standard deviations of
        the output on the ambience (0.0 when there is too little ambience to whiten).
    """
    tmpl = blast_template(float(fs_hz), float(highpass_hz))
    pre_end = trig - int(round(GUARD_S * fs_hz))
    if pre_end < 8 * ORDER:
        return 0.0
    lo = trig - int(round(SEARCH_BEFORE_S * fs_hz))
    hi = trig + int(round(SEARCH_AFTER_S * fs_hz))
    seg = np.ascontiguousarray(y[: min(y.shape[0], hi + tmpl.size + ORDER)], dtype=np.float64)
    z = K.matched_z_kernel(seg, pre_end, lo, hi, tmpl, ORDER, np.empty(ORDER + 1))
    return float(z) if math.isfinite(z) else 0.0

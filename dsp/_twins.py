"""Plain-numpy twins of the numba kernels in :mod:`dsp._kernels`, for the tests to compare against.

Written differently on purpose (scipy's ``sosfilt`` for the filter, frame energies by reshaping), over a whole
signal from the stream start.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from dsp import _kernels as K


def trigger_twin(x: np.ndarray, sos: np.ndarray, zi0: np.ndarray, params: np.ndarray):
    """Whole-signal twin of :func:`dsp._kernels.trigger_kernel` started from a fresh state.

    Returns
    -------
    y : ndarray, float64, shape (n,)
        Filtered signal.
    trig : ndarray, int64
        Trigger sample indices (start of the triggering frame).
    floors : ndarray, float64
        Noise floor (mean square) at each trigger.
    weak : ndarray, int64
        The weak channel's trigger sample indices.
    """
    y, _ = signal.sosfilt(sos, np.asarray(x, dtype=np.float64), zi=zi0)
    hop = int(params[K.P_HOP])
    n_frames = y.shape[0] // hop
    energy = (y[: n_frames * hop] ** 2).reshape(n_frames, hop).mean(axis=1)
    trig, floors, weak_trig = [], [], []
    fast = ref = floor = weak = 0.0
    weak_refr = 0.0
    refr = 0.0
    event_max = 0.0
    since = 0
    for k, e in enumerate(energy):
        if k == 0:
            fast = ref = weak = e
            floor = max(e, params[K.P_FLOOR_MIN])
            continue
        ref_prev = ref
        fast = fast + params[K.P_ALPHA_FAST] * (e - fast)
        weak = weak + params[K.P_ALPHA_WEAK] * (e - weak)
        ref = ref + params[K.P_ALPHA_REF] * (e - ref)
        if k < params[K.P_WARM_FRAMES]:
            floor = floor + params[K.P_ALPHA_WARM] * (ref - floor)
        elif refr <= 0:
            floor = min(floor + params[K.P_ALPHA_DOWN] * (ref - floor), floor * params[K.P_FLOOR_UP])
        floor = max(floor, params[K.P_FLOOR_MIN])
        since += 1
        step = fast > params[K.P_SNR_ON] * floor and fast > params[K.P_JUMP] * ref_prev
        louder = since >= params[K.P_MIN_GAP] and fast > params[K.P_STRONG] * event_max
        if step and k >= params[K.P_HOLDOFF] and (refr <= 0 or louder):
            trig.append(k * hop)
            floors.append(floor)
            refr = params[K.P_REFRACTORY]
            event_max, since = fast, 0
        else:
            refr = max(refr - 1, 0)
            event_max = max(event_max, fast)
        weak_step = weak > params[K.P_WEAK_ON] * floor and weak > params[K.P_WEAK_JUMP] * ref_prev
        if params[K.P_WEAK_ON] > 0 and k >= params[K.P_HOLDOFF] and weak_refr <= 0 and weak_step:
            weak_trig.append(k * hop)
            weak_refr = params[K.P_REFRACTORY]
        else:
            weak_refr = max(weak_refr - 1, 0)
    return (y, np.asarray(trig, dtype=np.int64), np.asarray(floors, dtype=np.float64),
            np.asarray(weak_trig, dtype=np.int64))


def matched_z_twin(seg: np.ndarray, pre_end: int, lo: int, hi: int, template: np.ndarray, order: int) -> float:
    """Twin of :func:`dsp._kernels.matched_z_kernel` with scipy's Toeplitz solver, ``lfilter`` and ``correlate``."""
    from scipy.linalg import solve_toeplitz

    seg = np.asarray(seg, dtype=np.float64)
    pre = seg[:pre_end]
    r = np.array([np.dot(pre[k:], pre[: pre.size - k]) for k in range(order + 1)])
    if r[0] <= 0:
        return 0.0
    r[0] *= 1.0 + 1e-9
    a = np.concatenate([[1.0], -solve_toeplitz(r[:order], r[1 : order + 1])])
    w = signal.lfilter(a, [1.0], seg)
    var = float(np.dot(a, r)) / pre_end  # prediction error power of the autocorrelation method
    hw = np.convolve(a, template)
    start, stop = max(lo, order), min(hi, seg.size - hw.size + 1)
    if var <= 0 or stop <= start:
        return 0.0
    c = np.correlate(w[start : stop + hw.size - 1], hw, mode="valid")
    return float(np.abs(c).max() / np.sqrt(np.dot(hw, hw) * var))

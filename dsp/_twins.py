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
    """
    y, _ = signal.sosfilt(sos, np.asarray(x, dtype=np.float64), zi=zi0)
    hop = int(params[K.P_HOP])
    n_frames = y.shape[0] // hop
    energy = (y[: n_frames * hop] ** 2).reshape(n_frames, hop).mean(axis=1)
    trig, floors = [], []
    fast = ref = floor = 0.0
    refr = 0.0
    event_max = 0.0
    since = 0
    for k, e in enumerate(energy):
        if k == 0:
            fast = ref = e
            floor = max(e, params[K.P_FLOOR_MIN])
            continue
        ref_prev = ref
        fast = fast + params[K.P_ALPHA_FAST] * (e - fast)
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
    return y, np.asarray(trig, dtype=np.int64), np.asarray(floors, dtype=np.float64)

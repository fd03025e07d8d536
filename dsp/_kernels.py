"""Numba kernels of ``dsp``.  Private: preallocated outputs, no validation; the public wrappers check and allocate.

Each kernel has a plain-numpy twin in :mod:`dsp._twins` that the tests compare it against.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Layout of the trigger's parameter vector (float64).
P_HOP = 0            # frame hop (samples)
P_ALPHA_FAST = 1     # per-frame EMA weight of the fast energy
P_ALPHA_REF = 2      # per-frame EMA weight of the recent reference
P_FLOOR_UP = 3       # per-frame multiplicative slew limit of the floor's rise
P_ALPHA_DOWN = 4     # per-frame EMA weight with which the floor follows the ambience
P_ALPHA_WARM = 5     # per-frame EMA weight of the floor during warm-up
P_WARM_FRAMES = 6    # warm-up length (frames)
P_SNR_ON = 7         # fast / floor needed to trigger (energy ratio)
P_JUMP = 8           # fast / previous reference needed to trigger (energy ratio)
P_REFRACTORY = 9     # frames without triggers after a trigger
P_FLOOR_MIN = 10     # lowest floor (energy, full scale = 1)
P_MIN_GAP = 11       # frames after a trigger before a much louder step may override the refractory time
P_STRONG = 12        # fast / loudest fast since the last trigger needed for that override (energy ratio)
P_HOLDOFF = 13       # frames at the stream start without triggers (the averages settle)
N_PARAMS = 14

# Layout of the trigger's state vector (float64).
S_ACC = 0            # energy accumulated in the current, unfinished frame
S_COUNT = 1          # samples in the current frame
S_FAST = 2
S_REF = 3
S_FLOOR = 4
S_FRAME = 5          # frames completed since the stream start
S_REFR_LEFT = 6      # refractory frames left
S_EVENT_MAX = 7      # loudest fast energy since the last trigger
S_SINCE = 8          # frames since the last trigger
N_STATE = 9


@njit(cache=True, nogil=True)
def trigger_kernel(x, sos, zi, params, state, y_out, trig_out, floor_out):  # pragma: no cover - compiled
    """High-pass ``x`` through ``sos`` and run the frame-energy trigger over it.

    ``sos`` must have exactly two sections (the 4th-order design of :mod:`dsp.trigger`): their coefficients
    and states live in registers for the whole loop.  ``zi`` (2, 2) and ``state`` (N_STATE,) are updated in place so that consecutive blocks continue
    exactly.  Writes the filtered samples to ``y_out`` and, per trigger, the sample index of the triggering
    frame's start (from the stream start) to ``trig_out`` and the noise floor (mean-square) to ``floor_out``.
    Returns the number of triggers written.
    """
    hop = int(params[P_HOP])
    a_fast = params[P_ALPHA_FAST]
    a_ref = params[P_ALPHA_REF]
    up = params[P_FLOOR_UP]
    a_down = params[P_ALPHA_DOWN]
    a_warm = params[P_ALPHA_WARM]
    warm = params[P_WARM_FRAMES]
    snr_on = params[P_SNR_ON]
    jump = params[P_JUMP]
    refractory = params[P_REFRACTORY]
    floor_min = params[P_FLOOR_MIN]
    min_gap = params[P_MIN_GAP]
    strong = params[P_STRONG]
    holdoff = params[P_HOLDOFF]
    b00, b01, b02, a01, a02 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5]
    b10, b11, b12, a11, a12 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5]
    z00, z01, z10, z11 = zi[0, 0], zi[0, 1], zi[1, 0], zi[1, 1]
    acc = state[S_ACC]
    count = int(state[S_COUNT])
    fast = state[S_FAST]
    ref = state[S_REF]
    floor = state[S_FLOOR]
    frame = state[S_FRAME]
    refr = state[S_REFR_LEFT]
    event_max = state[S_EVENT_MAX]
    since = state[S_SINCE]
    n_trig = 0
    for i in range(x.shape[0]):
        v = np.float64(x[i])
        # two sections in transposed direct form II, as scipy.signal.sosfilt
        u = b00 * v + z00
        z00 = b01 * v - a01 * u + z01
        z01 = b02 * v - a02 * u
        w = b10 * u + z10
        z10 = b11 * u - a11 * w + z11
        z11 = b12 * u - a12 * w
        v = w
        y_out[i] = v
        acc += v * v
        count += 1
        if count == hop:
            e = acc / hop
            acc = 0.0
            count = 0
            if frame == 0.0:
                fast = e
                ref = e
                floor = max(e, floor_min)
            else:
                ref_prev = ref
                fast += a_fast * (e - fast)
                ref += a_ref * (e - ref)
                # the floor is the mean ambient energy: frozen during an event, rising at most at a slew limit
                if frame < warm:
                    floor += a_warm * (ref - floor)
                elif refr <= 0.0:
                    floor = min(floor + a_down * (ref - floor), floor * up)
                if floor < floor_min:
                    floor = floor_min
                since += 1.0
                step = fast > snr_on * floor and fast > jump * ref_prev
                # a weak trigger must not hide a much louder arrival right after it
                louder = since >= min_gap and fast > strong * event_max
                if step and frame >= holdoff and (refr <= 0.0 or louder):
                    trig_out[n_trig] = np.int64(frame) * hop
                    floor_out[n_trig] = floor
                    n_trig += 1
                    refr = refractory
                    event_max = fast
                    since = 0.0
                else:
                    if refr > 0.0:
                        refr -= 1.0
                    if fast > event_max:
                        event_max = fast
            frame += 1.0
    zi[0, 0], zi[0, 1], zi[1, 0], zi[1, 1] = z00, z01, z10, z11
    state[S_ACC] = acc
    state[S_COUNT] = count
    state[S_FAST] = fast
    state[S_REF] = ref
    state[S_FLOOR] = floor
    state[S_FRAME] = frame
    state[S_REFR_LEFT] = refr
    state[S_EVENT_MAX] = event_max
    state[S_SINCE] = since
    return n_trig

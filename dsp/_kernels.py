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
P_ALPHA_WEAK = 14    # per-frame EMA weight of the weak channel's slower fast energy
P_WEAK_ON = 15       # weak fast / floor needed for a weak trigger (energy ratio); 0 disables the channel
P_WEAK_JUMP = 16     # weak fast / previous reference needed for a weak trigger (energy ratio)
N_PARAMS = 17

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
S_WEAK = 9           # the weak channel's fast energy
S_WEAK_REFR = 10     # the weak channel's refractory frames left
N_STATE = 11


@njit(cache=True, nogil=True)
def trigger_kernel(x, sos, zi, params, state, y_out, trig_out, floor_out, weak_out, n_weak):  # pragma: no cover
    """High-pass ``x`` through ``sos`` and run the frame-energy trigger over it.

    A second, *weak* channel on the same frames (a slower fast average, lower thresholds, its own refractory
    time) writes its triggers' sample indices to ``weak_out`` and their count to ``n_weak[0]``; they are only
    candidates, which the detector confirms or drops (the default channel's triggers are always picked).

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
    a_weak = params[P_ALPHA_WEAK]
    weak_on = params[P_WEAK_ON]
    weak_jump = params[P_WEAK_JUMP]
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
    weak = state[S_WEAK]
    weak_refr = state[S_WEAK_REFR]
    n_trig = 0
    nw = 0
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
                weak = e
                floor = max(e, floor_min)
            else:
                ref_prev = ref
                fast += a_fast * (e - fast)
                weak += a_weak * (e - weak)
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
                # the weak channel: a longer average sees faint blasts that the fast one cannot tell from noise
                if (weak_on > 0.0 and frame >= holdoff and weak_refr <= 0.0 and weak > weak_on * floor
                        and weak > weak_jump * ref_prev):
                    weak_out[nw] = np.int64(frame) * hop
                    nw += 1
                    weak_refr = refractory
                elif weak_refr > 0.0:
                    weak_refr -= 1.0
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
    state[S_WEAK] = weak
    state[S_WEAK_REFR] = weak_refr
    n_weak[0] = nw
    return n_trig


@njit(cache=True, nogil=True)
def matched_z_kernel(seg, pre_end, lo, hi, template, order, a_out):  # pragma: no cover - compiled
    """Whitened matched-filter statistic of a candidate in ``seg`` (see :func:`dsp.confirm.matched_z`).

    ``seg[:pre_end]`` is ambience: its autocorrelation (lags 0..order) gives, through Levinson-Durbin, the
    prediction-error (whitening) filter written to ``a_out`` (order + 1,) and the whitened ambience's mean
    square (the final prediction error over ``pre_end``).  The whitened ``seg`` is correlated
    with the whitened ``template`` at offsets ``lo`` to ``hi`` (exclusive, clipped to where the filters are
    full); returns the largest |output| over its standard deviation on the ambience, or 0.0 when undefined.
    """
    n = seg.shape[0]
    r = np.zeros(order + 1)
    for k in range(order + 1):
        acc = 0.0
        for i in range(k, pre_end):
            acc += seg[i] * seg[i - k]
        r[k] = acc
    if r[0] <= 0.0:
        return 0.0
    r[0] *= 1.0 + 1e-9
    # Levinson-Durbin: a[0] = 1, prediction error filter
    a_out[:] = 0.0
    a_out[0] = 1.0
    err = r[0]
    tmp = np.zeros(order + 1)
    for m in range(1, order + 1):
        acc = r[m]
        for j in range(1, m):
            acc += a_out[j] * r[m - j]
        k = -acc / err
        for j in range(m + 1):
            tmp[j] = a_out[j]
        for j in range(1, m):
            a_out[j] = tmp[j] + k * tmp[m - j]
        a_out[m] = k
        err *= 1.0 - k * k
        if err <= 0.0:
            return 0.0
    # whitened ambience: its mean square is Levinson's final prediction error over the samples
    var = err / pre_end
    # whitened template and its norm
    nt = template.shape[0] + order
    hw = np.zeros(nt)
    for i in range(nt):
        acc = 0.0
        for j in range(order + 1):
            if 0 <= i - j < template.shape[0]:
                acc += a_out[j] * template[i - j]
        hw[i] = acc
    norm2 = 0.0
    for i in range(nt):
        norm2 += hw[i] * hw[i]
    if norm2 <= 0.0:
        return 0.0
    # whitened segment from lo - order on, correlated with hw
    start = max(lo, order)
    stop = min(hi, n - nt + 1)
    if stop <= start:
        return 0.0
    wseg = np.zeros(stop - start + nt - 1)
    for i in range(wseg.shape[0]):
        acc = 0.0
        for j in range(order + 1):
            acc += a_out[j] * seg[start + i - j]
        wseg[i] = acc
    best = 0.0
    for m in range(stop - start):
        acc = 0.0
        for j in range(nt):
            acc += hw[j] * wseg[m + j]
        if abs(acc) > best:
            best = abs(acc)
    return best / np.sqrt(norm2 * var)

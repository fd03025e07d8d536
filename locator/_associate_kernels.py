"""Numba kernels of the associator (private; ``locator.associate`` validates and allocates).

Each kernel takes preallocated outputs and validates nothing.  :func:`best_hypotheses_numpy`
is the plain-numpy twin of :func:`best_hypotheses` that the tests compare it against.

Notation: ``n`` detections, ``S`` sensors.  Times are float64 seconds relative to a
reference; positions are local metres.  Per-sensor detections are a CSR layout: the
detections of sensor ``s`` are ``order[ptr[s]:ptr[s+1]]``, sorted by time, and their
times ``st[ptr[s]:ptr[s+1]]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def strength_windows(t, lev, snr, window, decay, out):
    """``locator.associate.strength_db`` of one sensor's detections (times ``t`` (n,) s, sorted;
    ``lev`` (n,) peak levels, dB, NaN unknown; ``snr`` (n,) dB, NaN unknown) into ``out`` (n,)."""
    j0 = 0
    for k in range(t.shape[0]):
        v = snr[k] if np.isfinite(snr[k]) else np.inf
        while t[j0] < t[k] - window:
            j0 += 1
        if np.isfinite(lev[k]):
            best = -np.inf
            for j in range(j0, k):
                x = lev[j] - decay * (t[k] - t[j])
                if np.isfinite(x) and x > best:
                    best = x
            if best > -np.inf:
                v = min(v, lev[k] - best)
        out[k] = v if np.isfinite(v) else np.nan


def strength_numpy(t, lev, snr, window, decay):
    """Plain-numpy twin of :func:`strength_windows`; returns ``out`` (n,)."""
    out = np.where(np.isfinite(snr), snr, np.inf)
    j0 = 0
    for k in range(t.size):
        while t[j0] < t[k] - window:
            j0 += 1
        if k > j0 and np.isfinite(lev[k]):
            prev = lev[j0:k] - decay * (t[k] - t[j0:k])
            prev = prev[np.isfinite(prev)]
            if prev.size:
                out[k] = min(out[k], lev[k] - float(prev.max()))
    out[np.isinf(out)] = np.nan
    return out


@njit(cache=True)
def _lower_bound(a, lo, hi, x):
    # first index in a[lo:hi] with a[idx] >= x
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _nearest_active(st, order, active, lo, hi, x, tol):
    # index (into the detections) of the active detection of one sensor nearest x within tol, or -1
    k = _lower_bound(st, lo, hi, x)
    best = -1
    bestd = tol
    j = k
    while j < hi and st[j] - x <= bestd:
        if active[order[j]]:
            d = st[j] - x
            if d <= bestd:
                best = order[j]
                bestd = d
            break
        j += 1
    j = k - 1
    while j >= lo and x - st[j] <= bestd:
        if active[order[j]]:
            d = x - st[j]
            # ties go to the earlier arrival: the direct path precedes its echoes
            if d <= bestd:
                best = order[j]
            break
        j -= 1
    return best


#: Tolerance multiple at which a minimal set's source gathers arrivals for its refinement.
LOOSE = 3.0


@njit(cache=True)
def _arrival(spos, s, sx, sy, z0, t0, c, wx, wy):
    # arrival time at sensor s from a source at (sx, sy, z0) emitting at t0, through wind (wx, wy):
    # |d - w T| = c T with d = sensor - source
    dx = spos[s, 0] - sx
    dy = spos[s, 1] - sy
    dz = spos[s, 2] - z0
    aw = c * c - wx * wx - wy * wy
    bw = dx * wx + dy * wy
    return t0 + (np.sqrt(bw * bw + aw * (dx * dx + dy * dy + dz * dz)) - bw) / aw


@njit(cache=True)
def _gather(t, st, order, active, ptr, spos, sx, sy, z0, t0, c, wx, wy, tl, cand, need):
    # per sensor the active detection nearest the predicted arrival within tl (cand, -1 for none);
    # returns how many; gives up early (returning fewer than need) once need cannot be reached
    n_sens = spos.shape[0]
    n = 0
    for s in range(n_sens):
        cand[s] = -1
    for s in range(n_sens):
        if n + (n_sens - s) < need:
            return n
        q = _nearest_active(st, order, active, ptr[s], ptr[s + 1], _arrival(spos, s, sx, sy, z0, t0, c, wx, wy), tl)
        cand[s] = q
        if q >= 0:
            n += 1
    return n


@njit(cache=True)
def covered_s(x, half, t_end):
    """How much of the rate window ``x +- half`` (s) lies before ``t_end`` (s), the time up to
    which the detections are known: ``2 half`` offline; near the present of a live stream,
    what has been heard so far, but never less than ``half`` (a predicted arrival later than
    ``t_end``, at a sensor the sound may not have reached yet, keeps the half window before it).
    A sensor's rate is its count over this, not over the whole window: counting a burst's
    last second of detections over ten seconds, half of them still to come, makes each
    look rarer than it is, and the echoes of a burst line up into confident ghosts.  The
    floor of one detection a window is a prior, not a count, and stays ``1 / (2 half)``: a
    lone shot in a quiet street weighs as much live as offline."""
    return min(2.0 * half, max(half, t_end - (x - half)))


@njit(cache=True)
def evidence_windows(spos, src, t0, c, wind, p_hear, rate_key, rate_base, rate_str, msens, mstr, res, ws, half, gate,
                     free, t_end, out):
    """Log-likelihood ratio of a source against chance, for each window (``_Search.evidence``).

    Parameters
    ----------
    spos : (S, 3) float64, sensor positions, m.  src : (3,) float64, the source, m.  t0 : float,
        its emission time, s.  c : float, speed of sound, m/s.  wind : (2,) float64, m/s.
    p_hear : (S,) float64, probability
        that each sensor detects the source (0: not expected to hear it).  rate_key : (N,) float64, every sensor's detection times
        offset by ``rate_base[s]`` and concatenated (sorted).  rate_base : (S,) float64.
    rate_str : (N,) float64, their strengths, dB (NaN: unknown).
    msens : (m,) int64, the members' sensors (one member per sensor).  mstr : (m,) float64,
        the members' strengths (NaN: unknown, then every detection counts as strong).
    res : (m,) float64, |residual| of each member, s.  ws : (W,) float64, windows, s.
    half : float, half-width of the rate window, s.
    gate : float, span of one wavefront's arrivals, s.  free : int, best gains not counted.
    t_end : (S,) float64, s: how far each sensor's detections are known (inf: complete); a rate
        window reaching past it is only counted over its known part (:func:`covered_s`).
    out : (W,) float64.
    """
    n_sens = spos.shape[0]
    pred = np.empty(n_sens)
    for s in range(n_sens):
        pred[s] = _arrival(spos, s, src[0], src[1], src[2], t0, c, wind[0], wind[1])
    m = msens.shape[0]
    n_key = rate_key.shape[0]
    floor = 0.5 / half  # at least one a whole window (a prior, not a count: not scaled by span)
    lo = np.empty(n_sens, np.int64)
    hi = np.empty(n_sens, np.int64)
    n_all = np.empty(n_sens)
    span = np.empty(n_sens)  # the known part of each rate window, s
    for s in range(n_sens):
        x = rate_base[s] + pred[s]
        lo[s] = _lower_bound(rate_key, 0, n_key, x - half)
        hi[s] = _lower_bound(rate_key, 0, n_key, x + half)
        span[s] = covered_s(pred[s], half, t_end[s])
        n_all[s] = max((hi[s] - lo[s]) / span[s], floor)  # all its detections' rate, Hz
    n_as = np.empty(m)
    for k in range(m):
        s = msens[k]
        f = mstr[k]
        if np.isfinite(f):
            c = 0
            for j in range(lo[s], hi[s]):
                if rate_str[j] >= f:
                    c += 1
            n_as[k] = c
        else:
            n_as[k] = hi[s] - lo[s]
    gw = np.empty(m)
    gg = np.empty(m)
    for wi in range(ws.shape[0]):
        w = ws[wi]
        total = 0.0
        # every sensor in range as if it missed: log((1 - p) / (1 - P_s)) ...
        for s in range(n_sens):
            if p_hear[s] > 0.0:
                ps = -np.expm1(-n_all[s] * 2.0 * w)
                total += np.log((1.0 - p_hear[s]) / max(1.0 - ps, 1e-9))
        # ... then the ones that fit: that term back out, log(p / P_s) in (as-strong rate)
        nk = 0
        for k in range(m):
            s = msens[k]
            if res[k] <= w and p_hear[s] > 0.0:
                p = p_hear[s]
                ps = -np.expm1(-n_all[s] * 2.0 * w)
                total -= np.log((1.0 - p) / max(1.0 - ps, 1e-9))
                rate = max((n_as[k] - 1.0) / span[s], floor)
                g1 = np.log(p / -np.expm1(-rate * 2.0 * w))
                g2 = np.log(p / -np.expm1(-rate * gate))
                i = nk  # insertion, ascending, stable
                while i > 0 and gw[i - 1] > g1:
                    gw[i] = gw[i - 1]
                    gg[i] = gg[i - 1]
                    i -= 1
                gw[i] = g1
                gg[i] = g2
                nk += 1
        start = max(nk - free, 0)
        for j in range(start):
            total += gw[j]
        for j in range(start, nk - 1):
            total += gg[j]
        out[wi] = total


@njit(cache=True)
def source_evidence(spos, sx, sy, z0, t0, c, wind, members, t, sens, strength, p_hear, hear_range, rate_key,
                    rate_base, rate_str, tol, half, gate, t_end):
    """Evidence (nats) of a new source at ``(sx, sy, z0)`` m emitting at ``t0`` s with the
    detections ``members`` (indices, at most one per sensor): ``_Search.evidence`` of their
    residuals there, in one call (the pre-refine check ``_Search._hopeless`` makes for every
    hypothesis it is about to refine).

    Parameters
    ----------
    spos : (S, 3) float64, m.  c : float, m/s.  wind : (2,) float64, m/s.
    members : (m,) int64.  t : (n,) float64, s.  sens : (n,) int64.  strength : (n,) float64, dB.
    p_hear : float, ``detection_probability``.  hear_range : float, m (inf: no limit).
    rate_key, rate_base, rate_str, half, gate, t_end : as :func:`evidence_windows`.
    tol : float, the association's tolerance, s.
    """
    m = members.shape[0]
    n_sens = spos.shape[0]
    res = np.empty(m)
    msens = np.empty(m, np.int64)
    mstr = np.empty(m)
    for k in range(m):
        q = members[k]
        s = sens[q]
        msens[k] = s
        mstr[k] = strength[q]
        res[k] = abs(t[q] - _arrival(spos, s, sx, sy, z0, t0, c, wind[0], wind[1]))
    # the window the residuals fill: 3 robust sigmas (MAD, inflated for the 3 fitted unknowns),
    # between a third of the tolerance and the tolerance (``_Search.evidence``)
    med = np.median(res) if m > 0 else 0.0
    scale = 1.4826 * med * np.sqrt(m / max(m - 3, 1))
    ws = np.empty(1)
    ws[0] = min(max(3.0 * scale, tol / 3.0), tol)
    ph = np.empty(n_sens)
    for s in range(n_sens):
        dx = spos[s, 0] - sx
        dy = spos[s, 1] - sy
        dz = spos[s, 2] - z0
        ph[s] = p_hear if dx * dx + dy * dy + dz * dz <= hear_range * hear_range else 0.0
    src = np.empty(3)
    src[0] = sx
    src[1] = sy
    src[2] = z0
    out = np.empty(1)
    evidence_windows(spos, src, t0, c, wind, ph, rate_key, rate_base, rate_str, msens, mstr, res, ws, half, gate,
                     3, t_end, out)
    return out[0]


def gather(t, st, order, active, ptr, spos, sx, sy, z0, t0, c, wx, wy, tl, cand, need):
    """Per sensor the active detection nearest the arrival predicted from a source at
    ``(sx, sy, z0)`` m emitting at ``t0`` s, within ``tl`` s: written to ``cand`` (S,) (-1 for
    none); returns how many (fewer than ``need`` once ``need`` cannot be reached)."""
    return _gather(t, st, order, active, ptr, spos, sx, sy, z0, t0, c, wx, wy, tl, cand, need)


@njit(cache=True)
def _gauss_newton(t, spos, cand, sx, sy, z0, t0, c, wx, wy, scale):
    # two Gauss-Newton steps on (x, y, t0) over the gathered arrivals, Cauchy-weighted so a
    # wrong one pulls little; the direction of the travel-time gradient ignores the wind
    for _ in range(2):
        a00 = a01 = a02 = a11 = a12 = a22 = 0.0
        g0 = g1 = g2 = 0.0
        for s in range(spos.shape[0]):
            q = cand[s]
            if q < 0:
                continue
            r = t[q] - _arrival(spos, s, sx, sy, z0, t0, c, wx, wy)
            dx = spos[s, 0] - sx
            dy = spos[s, 1] - sy
            dz = spos[s, 2] - z0
            dd = np.sqrt(dx * dx + dy * dy + dz * dz) + 1e-9
            # d arrival / d (x, y, t0)
            j0 = -dx / (c * dd)
            j1 = -dy / (c * dd)
            w = 1.0 / (1.0 + (r / scale) ** 2)
            a00 += w * j0 * j0
            a01 += w * j0 * j1
            a02 += w * j0
            a11 += w * j1 * j1
            a12 += w * j1
            a22 += w
            g0 += w * j0 * r
            g1 += w * j1 * r
            g2 += w * r
        # solve the 3x3 normal equations (Cramer's rule; skip when singular)
        det = a00 * (a11 * a22 - a12 * a12) - a01 * (a01 * a22 - a12 * a02) + a02 * (a01 * a12 - a11 * a02)
        if abs(det) < 1e-18:
            break
        d0 = (g0 * (a11 * a22 - a12 * a12) - a01 * (g1 * a22 - a12 * g2) + a02 * (g1 * a12 - a11 * g2)) / det
        d1 = (a00 * (g1 * a22 - a12 * g2) - g0 * (a01 * a22 - a12 * a02) + a02 * (a01 * g2 - g1 * a02)) / det
        d2 = (a00 * (a11 * g2 - g1 * a12) - a01 * (a01 * g2 - g1 * a02) + g0 * (a01 * a12 - a11 * a02)) / det
        sx += d0
        sy += d1
        t0 += d2
    return sx, sy, t0


@njit(cache=True)
def _select_partners(st, order, active, strong, wgt, lo, hi, tmax, depth, tmp_w, tmp_p, out):
    # The active strong detections of one sensor's gate st[lo:hi] <= tmax offered as partners:
    # all of them (depth 0), or the first ``depth`` and the ``depth`` largest-weight of the rest
    # (ties to the earlier); written to ``out`` as detection indices in time order; returns how many.
    n = 0
    m = 0
    j = lo
    while j < hi and st[j] <= tmax:
        q = order[j]
        if active[q] and strong[q]:
            if depth == 0 or n < depth:
                out[n] = j
                n += 1
            else:
                w = wgt[q]
                if m < depth or w > tmp_w[m - 1]:
                    if m < depth:
                        m += 1
                    i = m - 1
                    while i > 0 and tmp_w[i - 1] < w:
                        tmp_w[i] = tmp_w[i - 1]
                        tmp_p[i] = tmp_p[i - 1]
                        i -= 1
                    tmp_w[i] = w
                    tmp_p[i] = j
        j += 1
    for i in range(m):
        out[n + i] = tmp_p[i]
    n += m
    # CSR positions -> time order (insertion sort of at most 2 depth), then detection indices
    for i in range(1, n):
        v = out[i]
        k = i - 1
        while k >= 0 and out[k] > v:
            out[k + 1] = out[k]
            k -= 1
        out[k + 1] = v
    for i in range(n):
        out[i] = order[out[i]]
    return n


@njit(cache=True)
def best_hypotheses(
    t, sens, wgt, wmax, active, strong, depth, st, order, ptr, spos, nbr, dist, anchors, z0, c, wx, wy, tol, margin,
    max_range, min_sensors,
    out_support, out_score, out_xyt, out_members,
):
    """For each anchor detection, the single source most consistent with it.

    Hypotheses come from minimal sets: the anchor plus one gated detection at each of two
    of the anchor's neighbour sensors (gate: from ``tol`` before the anchor to ``d/c + margin``
    after it, i.e. the anchor is the earliest of its minimal set, which the first arrival of
    every shot is; this halves each gate against a two-sided one) give (x, y, t0) in closed form at source height
    ``z0``; each hypothesis is scored by how many sensors have an active detection within
    ``tol`` of its predicted arrival, weighted ``1 - (r/tol)^2`` so that a near miss counts
    less than an exact fit (a dense burst puts some detection within ``tol`` of almost any
    prediction; only a true source puts them near zero).  Two shortcuts, both heuristics (the
    gunfight and Pittsburgh benchmarks gave the same results with and without them): a minimal
    set whose closed-form source lies within ``c tol / 4`` (x, y) and ``tol / 4`` (t0) of one
    already tried for this anchor is skipped (the minimal sets of one source start there and
    refine to the same hypothesis), and the starts are refined in order of the weight of the
    arrivals they gather loosely, stopping at the first that weighs no more than the best
    score so far (the refined source keeps, as a rule, a subset of them: branch and bound).

    Parameters
    ----------
    t : (n,) float64, detection times, s.  sens : (n,) int64, sensor index.
    wgt : (n,) float64 > 0, weight of each detection (how unlikely a chance detection this
        strong is).  wmax : float, the largest weight (not used; kept for the callers).
    active : (n,) bool.  strong : (n,) bool, detections that may be a partner of a minimal set.
    depth : int, partners per neighbour sensor (``_select_partners``): the first ``depth``
        active strong detections of its gate and the ``depth`` rarest (largest ``wgt``) of the
        rest (0: all).  Taken front first, the earliest unresolved shot's direct arrivals are
        the first strong ones left in each gate (a burst) or among the rarest (a shot in
        dense street noise), so a few suffice; this turns the cost per anchor from quadratic
        in the gate's detections into a constant.  st, order, ptr : CSR of the detections per sensor (see module).
    spos : (S, 3) float64, sensor positions, m.  nbr : (S, K) int64, neighbours by distance, -1 pads.
    dist : (S, S) float64, sensor distances, m.  anchors : (m,) int64 detection indices.
    z0 : float, source height, m.  c : float, m/s.  wx, wy : float, known wind (east, north), m/s.
    tol, margin : float, s.  max_range : float, m.
    out_support : (m,) int64, sensors within tol (0 when no hypothesis).
    out_score : (m,) float64, sum over sensors within tol of (1 - (r/tol)^2) * wgt (0 when no hypothesis).
    out_xyt : (m, 3) float64, x, y (m) and t0 (s) of the best hypothesis.
    out_members : (m, S) int64, per sensor the detection used, -1 for none.
    """
    n_sens = spos.shape[0]
    k_nbr = nbr.shape[1]
    cand = np.empty(n_sens, np.int64)
    cap = 2 * depth
    if depth == 0:
        for s in range(n_sens):
            cap = max(cap, ptr[s + 1] - ptr[s])
    plist = np.empty((k_nbr, max(cap, 1)), np.int64)
    pn = np.zeros(k_nbr, np.int64)
    tmp_w = np.empty(max(depth, 1))
    tmp_p = np.empty(max(depth, 1), np.int64)
    seen = np.empty((256, 3))
    dup_m = 0.25 * c * tol
    starts = np.empty((64, 4))  # the minimal sets' sources that pass the loose check: x, y, t0, bound
    for ai in range(anchors.shape[0]):
        i = anchors[ai]
        a = sens[i]
        n_seen = 0
        n_start = 0
        out_support[ai] = 0
        out_score[ai] = 0.0
        best_score = 0.0
        for s in range(n_sens):
            out_members[ai, s] = -1
        if not active[i]:
            continue
        ti = t[i]
        xa = spos[a, 0]
        ya = spos[a, 1]
        za = spos[a, 2]
        zr = z0 - za
        # the partners each neighbour offers this anchor (gate: tol before it to d/c + margin after)
        for ib in range(k_nbr):
            b = nbr[a, ib]
            pn[ib] = 0
            if b >= 0:
                lo_b = _lower_bound(st, ptr[b], ptr[b + 1], ti - tol)
                pn[ib] = _select_partners(st, order, active, strong, wgt, lo_b, ptr[b + 1],
                                          ti + dist[a, b] / c + margin, depth, tmp_w, tmp_p, plist[ib])
        for ib in range(k_nbr):
            b = nbr[a, ib]
            if b < 0:
                continue
            xb = spos[b, 0] - xa
            yb = spos[b, 1] - ya
            zb = spos[b, 2] - za
            for ic in range(ib + 1, k_nbr):
                cc = nbr[a, ic]
                if cc < 0:
                    continue
                xc = spos[cc, 0] - xa
                yc = spos[cc, 1] - ya
                zc = spos[cc, 2] - za
                det = 2.0 * (xb * yc - yb * xc) * 2.0
                if abs(det) < 1e-3:
                    continue  # collinear with the anchor: no unique intersection
                gbc = dist[b, cc] / c + margin
                for xb_i in range(pn[ib]):
                    j = plist[ib, xb_i]
                    tb = t[j] - ti
                    for xc_i in range(pn[ic]):
                        k = plist[ic, xc_i]
                        if abs(t[k] - t[j]) > gbc:
                            continue
                        tc = t[k] - ti
                        # In air moving with the wind, sound spreads in spheres: a sensor at s
                        # hearing at t sits at s - w t in the air's frame, so the triple is
                        # solved there (anchor at the origin) and the source moved back by w t0.
                        ebx = xb - wx * tb
                        eby = yb - wy * tb
                        ecx = xc - wx * tc
                        ecy = yc - wy * tc
                        # 2 (s_k . p) = |s_k|^2 - 2 zr z_k - c^2 tau_k^2 + 2 c^2 tau0 tau_k
                        ub = ebx * ebx + eby * eby + zb * zb - 2.0 * zr * zb - c * c * tb * tb
                        uc = ecx * ecx + ecy * ecy + zc * zc - 2.0 * zr * zc - c * c * tc * tc
                        vb = 2.0 * c * c * tb
                        vc = 2.0 * c * c * tc
                        # (x, y) = P + Q tau0 with M = 2 [[ebx, eby], [ecx, ecy]]
                        m_det = 4.0 * (ebx * ecy - eby * ecx)
                        if abs(m_det) < 1e-3:
                            continue
                        px = (2.0 * ecy * ub - 2.0 * eby * uc) / m_det
                        py = (-2.0 * ecx * ub + 2.0 * ebx * uc) / m_det
                        qx = (2.0 * ecy * vb - 2.0 * eby * vc) / m_det
                        qy = (-2.0 * ecx * vb + 2.0 * ebx * vc) / m_det
                        # |P + Q tau0|^2 + zr^2 = c^2 tau0^2
                        qa = qx * qx + qy * qy - c * c
                        qb = 2.0 * (px * qx + py * qy)
                        qc = px * px + py * py + zr * zr
                        disc = qb * qb - 4.0 * qa * qc
                        if disc < 0.0 or qa == 0.0:
                            continue
                        sq = np.sqrt(disc)
                        for root in range(2):
                            tau0 = (-qb + (sq if root == 0 else -sq)) / (2.0 * qa)
                            if tau0 > 1e-9:
                                continue  # emission after the anchor's arrival
                            x = px + qx * tau0 + wx * tau0
                            y = py + qy * tau0 + wy * tau0
                            if x * x + y * y > max_range * max_range:
                                continue
                            t0 = ti + tau0
                            sx = x + xa
                            sy = y + ya
                            # minimal sets of one source (its other arrivals as partners) start
                            # from nearly the same point and refine to the same hypothesis: once is enough
                            dup = False
                            for u in range(n_seen):
                                if (abs(seen[u, 0] - sx) <= dup_m and abs(seen[u, 1] - sy) <= dup_m
                                        and abs(seen[u, 2] - t0) <= 0.25 * tol):
                                    dup = True
                                    break
                            if dup:
                                continue
                            if n_seen < seen.shape[0]:
                                seen[n_seen, 0] = sx
                                seen[n_seen, 1] = sy
                                seen[n_seen, 2] = t0
                                n_seen += 1
                            # a minimal set's source is only as good as three arrivals: check that
                            # enough sensors lie near it at a loose tolerance, then refine it on
                            # the arrivals it gathers (local optimisation), tightening the tolerance
                            n_pre = _gather(t, st, order, active, ptr, spos, sx, sy, z0, t0, c, wx, wy,
                                            LOOSE * tol, cand, min_sensors)
                            if n_pre < min_sensors:
                                continue
                            # the refined source keeps, as a rule, a subset of the arrivals the
                            # loose check saw, each scoring at most its weight: that sum bounds
                            # what refining this start can score
                            bound = 0.0
                            for s in range(n_sens):
                                if cand[s] >= 0:
                                    bound += wgt[cand[s]]
                            if n_start == starts.shape[0]:
                                grown = np.empty((2 * n_start, 4))
                                grown[:n_start] = starts
                                starts = grown
                            starts[n_start, 0] = sx
                            starts[n_start, 1] = sy
                            starts[n_start, 2] = t0
                            starts[n_start, 3] = bound
                            n_start += 1
        # Refine the starts best bound first (ties in the order found): once a start's bound
        # is no more than the best score, no later one can beat it.  On the benchmark's
        # 600-detection window best-first refines 14 of the 91 starts per anchor that pass
        # the loose check, where the order found refined 24.
        rank = np.argsort(-starts[:n_start, 3], kind="mergesort")
        for r_i in range(n_start):
            h = rank[r_i]
            if starts[h, 3] <= best_score:
                break
            sx = starts[h, 0]
            sy = starts[h, 1]
            t0 = starts[h, 2]
            n_pre = 0
            for it in range(3):
                tl = tol * (LOOSE if it == 0 else (2.0 if it == 1 else 1.0))
                n_pre = _gather(t, st, order, active, ptr, spos, sx, sy, z0, t0, c, wx, wy, tl, cand, 0)
                if n_pre < 4:
                    break
                sx, sy, t0 = _gauss_newton(t, spos, cand, sx, sy, z0, t0, c, wx, wy, 0.5 * tl)
            support = _gather(t, st, order, active, ptr, spos, sx, sy, z0, t0, c, wx, wy, tol, cand, 0)
            if support < 3:
                continue
            score = 0.0
            for s in range(n_sens):
                q = cand[s]
                if q >= 0:
                    r = (t[q] - _arrival(spos, s, sx, sy, z0, t0, c, wx, wy)) / tol
                    score += (1.0 - r * r) * wgt[q]
            if score > best_score:
                best_score = score
                out_score[ai] = score
                out_support[ai] = support
                out_xyt[ai, 0] = sx
                out_xyt[ai, 1] = sy
                out_xyt[ai, 2] = t0
                for s in range(n_sens):
                    out_members[ai, s] = cand[s]


def best_hypotheses_numpy(t, sens, wgt, wmax, active, strong, depth, spos, nbr, dist, anchors, z0, c, wx, wy, tol,
                          margin, max_range, min_sensors):
    """Plain-numpy twin of :func:`best_hypotheses` (vectorised over candidate triples).

    Returns ``(support (m,), score (m,), xyt (m, 3), members (m, S))`` with the same meaning.
    """
    n_sens = spos.shape[0]
    m = len(anchors)
    support = np.zeros(m, np.int64)
    score = np.zeros(m)
    xyt = np.zeros((m, 3))
    members = np.full((m, n_sens), -1, np.int64)
    idx_by_sensor = [np.flatnonzero((sens == s) & active) for s in range(n_sens)]
    idx_by_sensor = [ix[np.argsort(t[ix], kind="stable")] for ix in idx_by_sensor]
    dup_m = 0.25 * c * tol
    for ai, i in enumerate(anchors):
        if not active[i]:
            continue
        seen = []  # starts tried for this anchor (the kernel's dedup)
        starts = []  # (x, y, t0, bound) of those that pass the loose check
        a = sens[i]
        sa = spos[a]
        zr = z0 - sa[2]
        for ib in range(nbr.shape[1]):
            for ic in range(ib + 1, nbr.shape[1]):
                b, cc = nbr[a, ib], nbr[a, ic]
                if b < 0 or cc < 0:
                    continue
                sb, sc = spos[b] - sa, spos[cc] - sa
                mat = 2.0 * np.array([[sb[0], sb[1]], [sc[0], sc[1]]])
                if abs(np.linalg.det(mat)) < 1e-3:
                    continue
                db, dc = t[idx_by_sensor[b]] - t[i], t[idx_by_sensor[cc]] - t[i]
                jb = idx_by_sensor[b][(db >= -tol) & (db <= dist[a, b] / c + margin)]
                jc = idx_by_sensor[cc][(dc >= -tol) & (dc <= dist[a, cc] / c + margin)]
                jb, jc = _partners_numpy(jb[strong[jb]], wgt, depth), _partners_numpy(jc[strong[jc]], wgt, depth)
                if len(jb) == 0 or len(jc) == 0:
                    continue
                gj, gk = np.meshgrid(jb, jc, indexing="ij")
                gj, gk = gj.ravel(), gk.ravel()
                keep = np.abs(t[gk] - t[gj]) <= dist[b, cc] / c + margin
                gj, gk = gj[keep], gk[keep]
                tau = np.stack([t[gj] - t[i], t[gk] - t[i]])  # (2, p)
                # sensors where the air carried them: s - w tau (anchor at the origin)
                ex = np.stack([sb[0] - wx * tau[0], sc[0] - wx * tau[1]])
                ey = np.stack([sb[1] - wy * tau[0], sc[1] - wy * tau[1]])
                ez = np.array([sb[2], sc[2]])[:, None]
                u = ex**2 + ey**2 + ez**2 - 2.0 * zr * ez - c * c * tau**2
                v = 2.0 * c * c * tau
                det = 4.0 * (ex[0] * ey[1] - ey[0] * ex[1])
                good_m = np.abs(det) >= 1e-3
                det = np.where(good_m, det, 1.0)
                p_xy = np.stack([(2.0 * ey[1] * u[0] - 2.0 * ey[0] * u[1]) / det,
                                 (-2.0 * ex[1] * u[0] + 2.0 * ex[0] * u[1]) / det])
                q_xy = np.stack([(2.0 * ey[1] * v[0] - 2.0 * ey[0] * v[1]) / det,
                                 (-2.0 * ex[1] * v[0] + 2.0 * ex[0] * v[1]) / det])
                qa = (q_xy**2).sum(0) - c * c
                qb = 2.0 * (p_xy * q_xy).sum(0)
                qc = (p_xy**2).sum(0) + zr * zr
                disc = qb * qb - 4.0 * qa * qc
                ok = (disc >= 0) & (qa != 0) & good_m
                sq = np.sqrt(np.where(ok, disc, 0.0))
                roots = []
                for sign in (1.0, -1.0):
                    with np.errstate(divide="ignore", invalid="ignore"):
                        tau0 = (-qb + sign * sq) / (2.0 * qa)
                    xy = p_xy + q_xy * tau0 + np.array([[wx], [wy]]) * tau0
                    roots.append((tau0, xy, ok & (tau0 <= 1e-9) & ((xy**2).sum(0) <= max_range**2)))
                # the kernel's order: partner pair by partner pair, both roots of each
                for h in range(gj.size):
                    for tau0, xy, good in roots:
                        if not good[h]:
                            continue
                        sx, sy, t0 = xy[0, h] + sa[0], xy[1, h] + sa[1], t[i] + tau0[h]
                        if any(abs(a - sx) <= dup_m and abs(b - sy) <= dup_m and abs(u - t0) <= 0.25 * tol
                               for a, b, u in seen):
                            continue  # a start this close was refined already
                        if len(seen) < 256:
                            seen.append((sx, sy, t0))
                        mem = _gather_numpy(t, idx_by_sensor, spos, sx, sy, z0, t0, c, wx, wy, LOOSE * tol)
                        if (mem >= 0).sum() < min_sensors:
                            continue
                        starts.append((sx, sy, t0, float(wgt[mem[mem >= 0]].sum())))
        # best bound first, ties in the order found (the kernel's branch and bound)
        for sx, sy, t0, bound in sorted(starts, key=lambda h: -h[3]):
            if bound <= score[ai]:
                break
            for mult in (LOOSE, 2.0, 1.0):
                mem = _gather_numpy(t, idx_by_sensor, spos, sx, sy, z0, t0, c, wx, wy, mult * tol)
                if (mem >= 0).sum() < 4:
                    break
                sx, sy, t0 = _gauss_newton_numpy(t, spos, mem, sx, sy, z0, t0, c, wx, wy, 0.5 * mult * tol)
            mem = _gather_numpy(t, idx_by_sensor, spos, sx, sy, z0, t0, c, wx, wy, tol)
            sup = int((mem >= 0).sum())
            if sup < 3:
                continue
            ok_m = mem >= 0
            r = (t[mem[ok_m]] - _arrival_numpy(spos, sx, sy, z0, t0, c, wx, wy)[ok_m]) / tol
            sco = float(np.sum((1.0 - r * r) * wgt[mem[ok_m]]))
            if sco > score[ai]:
                support[ai], score[ai] = sup, sco
                xyt[ai] = (sx, sy, t0)
                members[ai] = mem
    return support, score, xyt, members


def _partners_numpy(ix, wgt, depth):
    # twin of _select_partners over a gate's active strong detections ``ix`` in time order
    if depth == 0 or ix.size <= depth:
        return ix
    rest = depth + np.argsort(-wgt[ix[depth:]], kind="stable")[:depth]
    return ix[np.sort(np.concatenate([np.arange(depth), rest]))]


def _arrival_numpy(spos, sx, sy, z0, t0, c, wx, wy):
    d = spos - np.array([sx, sy, z0])
    aw, bw = c * c - wx * wx - wy * wy, d[:, 0] * wx + d[:, 1] * wy
    return t0 + (np.sqrt(bw * bw + aw * (d * d).sum(1)) - bw) / aw


def _gather_numpy(t, idx_by_sensor, spos, sx, sy, z0, t0, c, wx, wy, tl):
    pred = _arrival_numpy(spos, sx, sy, z0, t0, c, wx, wy)
    mem = np.full(spos.shape[0], -1, np.int64)
    for s, ix in enumerate(idx_by_sensor):
        if ix.size:
            d = np.abs(t[ix] - pred[s])
            j = int(np.argmin(d))
            if d[j] <= tl:
                mem[s] = ix[j]
    return mem


def _gauss_newton_numpy(t, spos, mem, sx, sy, z0, t0, c, wx, wy, scale):
    ok = mem >= 0
    for _ in range(2):
        r = t[mem[ok]] - _arrival_numpy(spos, sx, sy, z0, t0, c, wx, wy)[ok]
        d = spos[ok] - np.array([sx, sy, z0])
        dd = np.linalg.norm(d, axis=1) + 1e-9
        jac = np.column_stack([-d[:, 0] / (c * dd), -d[:, 1] / (c * dd), np.ones(ok.sum())])
        w = 1.0 / (1.0 + (r / scale) ** 2)
        a = jac.T @ (w[:, None] * jac)
        if abs(np.linalg.det(a)) < 1e-18:
            break
        step = np.linalg.solve(a, jac.T @ (w * r))
        sx, sy, t0 = sx + step[0], sy + step[1], t0 + step[2]
    return sx, sy, t0


@njit(cache=True)
def repeat_matches(t, active, st, order, ptr, pat_sens, pat_delay, t0s, tol, out_mem):
    """For each candidate emission time, the detections that repeat one shot's arrival pattern.

    At every pattern sensor the active detection nearest ``t0 + pat_delay[k]``, within
    ``tol``, is taken.

    Parameters
    ----------
    t : (n,) float64, s.  active : (n,) bool.  st, order, ptr : CSR per sensor (see module).
    pat_sens : (k,) int64, the pattern's sensors.  pat_delay : (k,) float64, arrival minus
        emission time at each, s.  t0s : (m,) float64, candidate emission times, s.  tol : float, s.
    out_mem : (m, k) int64, the matching detection per pattern sensor, -1 for none.
    """
    for ai in range(t0s.shape[0]):
        for k in range(pat_sens.shape[0]):
            s = pat_sens[k]
            out_mem[ai, k] = _nearest_active(st, order, active, ptr[s], ptr[s + 1], t0s[ai] + pat_delay[k], tol)


def gather_numpy(t, active, sens, spos, sx, sy, z0, t0, c, wx, wy, tl):
    """Plain-numpy twin of :func:`gather`; returns ``cand`` (S,).  Ties go to the earlier
    detection, as in the kernel."""
    d = spos - np.array([sx, sy, z0])
    aw = c * c - wx * wx - wy * wy
    bw = d[:, 0] * wx + d[:, 1] * wy
    pred = t0 + (np.sqrt(bw * bw + aw * (d * d).sum(axis=1)) - bw) / aw
    out = np.full(spos.shape[0], -1, np.int64)
    for s in range(spos.shape[0]):
        ix = np.flatnonzero((sens == s) & active)
        if ix.size == 0:
            continue
        ix = ix[np.argsort(t[ix], kind="stable")]
        dt = np.abs(t[ix] - pred[s])
        j = int(np.argmin(dt))
        if dt[j] <= tl:
            out[s] = ix[j]
    return out


def repeat_matches_numpy(t, active, sens, pat_sens, pat_delay, t0s, tol):
    """Plain-numpy twin of :func:`repeat_matches`; returns ``out_mem`` (m, k).  Ties go to the
    earlier detection, as in the kernel."""
    out = np.full((t0s.size, pat_sens.size), -1, np.int64)
    for k, s in enumerate(pat_sens):
        ix = np.flatnonzero((sens == s) & active)
        ix = ix[np.argsort(t[ix], kind="stable")]
        if ix.size == 0:
            continue
        d = np.abs(t[ix][None, :] - (t0s + pat_delay[k])[:, None])
        j = np.argmin(d, axis=1)  # first of equal distances: the earlier detection
        ok = d[np.arange(t0s.size), j] <= tol
        out[ok, k] = ix[j[ok]]
    return out

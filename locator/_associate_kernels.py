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


@njit(cache=True)
def best_hypotheses(
    t, sens, wgt, wmax, active, st, order, ptr, spos, nbr, dist, anchors, z0, c, tol, margin, max_range,
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
    prediction; only a true source puts them near zero).

    Parameters
    ----------
    t : (n,) float64, detection times, s.  sens : (n,) int64, sensor index.
    wgt : (n,) float64 > 0, weight of each detection (how unlikely a chance detection this
        strong is).  wmax : float, the largest weight (for the pruning bound).
    active : (n,) bool.  st, order, ptr : CSR of the detections per sensor (see module).
    spos : (S, 3) float64, sensor positions, m.  nbr : (S, K) int64, neighbours by distance, -1 pads.
    dist : (S, S) float64, sensor distances, m.  anchors : (m,) int64 detection indices.
    z0 : float, source height, m.  c : float, m/s.  tol, margin : float, s.  max_range : float, m.
    out_support : (m,) int64, sensors within tol (0 when no hypothesis).
    out_score : (m,) float64, sum over sensors within tol of (1 - (r/tol)^2) * wgt (0 when no hypothesis).
    out_xyt : (m, 3) float64, x, y (m) and t0 (s) of the best hypothesis.
    out_members : (m, S) int64, per sensor the detection used, -1 for none.
    """
    n_sens = spos.shape[0]
    k_nbr = nbr.shape[1]
    cand = np.empty(n_sens, np.int64)
    for ai in range(anchors.shape[0]):
        i = anchors[ai]
        a = sens[i]
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
        for ib in range(k_nbr):
            b = nbr[a, ib]
            if b < 0:
                continue
            gb = dist[a, b] / c + margin
            lo_b = _lower_bound(st, ptr[b], ptr[b + 1], ti - tol)
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
                gc = dist[a, cc] / c + margin
                gbc = dist[b, cc] / c + margin
                lo_c = _lower_bound(st, ptr[cc], ptr[cc + 1], ti - tol)
                jb = lo_b
                while jb < ptr[b + 1] and st[jb] <= ti + gb:
                    j = order[jb]
                    jb += 1
                    if not active[j]:
                        continue
                    tb = t[j] - ti
                    jc = lo_c
                    while jc < ptr[cc + 1] and st[jc] <= ti + gc:
                        k = order[jc]
                        jc += 1
                        if not active[k]:
                            continue
                        if abs(t[k] - t[j]) > gbc:
                            continue
                        tc = t[k] - ti
                        # 2 (s_k . p) = |s_k|^2 - 2 zr z_k - c^2 tau_k^2 + 2 c^2 tau0 tau_k  (anchor at origin)
                        ub = xb * xb + yb * yb + zb * zb - 2.0 * zr * zb - c * c * tb * tb
                        uc = xc * xc + yc * yc + zc * zc - 2.0 * zr * zc - c * c * tc * tc
                        vb = 2.0 * c * c * tb
                        vc = 2.0 * c * c * tc
                        # (x, y) = P + Q tau0 with M = 2 [[xb, yb], [xc, yc]]
                        m_det = 4.0 * (xb * yc - yb * xc)
                        px = (2.0 * yc * ub - 2.0 * yb * uc) / m_det
                        py = (-2.0 * xc * ub + 2.0 * xb * uc) / m_det
                        qx = (2.0 * yc * vb - 2.0 * yb * vc) / m_det
                        qy = (-2.0 * xc * vb + 2.0 * xb * vc) / m_det
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
                            x = px + qx * tau0
                            y = py + qy * tau0
                            if x * x + y * y > max_range * max_range:
                                continue
                            t0 = ti + tau0
                            # the three sensors of the minimal set fit exactly by construction
                            support = 3
                            score = wgt[i] + wgt[j] + wgt[k]
                            left = n_sens - 3
                            pruned = False
                            for s in range(n_sens):
                                cand[s] = -1
                            cand[a] = i
                            cand[b] = j
                            cand[cc] = k
                            for s in range(n_sens):
                                if s == a or s == b or s == cc:
                                    continue
                                if score + left * wmax < best_score:
                                    pruned = True
                                    break  # cannot beat the best even if every remaining sensor fits exactly
                                left -= 1
                                dx = x + xa - spos[s, 0]
                                dy = y + ya - spos[s, 1]
                                dz = z0 - spos[s, 2]
                                pred = t0 + np.sqrt(dx * dx + dy * dy + dz * dz) / c
                                q = _nearest_active(st, order, active, ptr[s], ptr[s + 1], pred, tol)
                                cand[s] = q
                                if q >= 0:
                                    r = (t[q] - pred) / tol
                                    support += 1
                                    score += (1.0 - r * r) * wgt[q]
                            if not pruned and score > best_score:
                                best_score = score
                                out_score[ai] = score
                                out_support[ai] = support
                                out_xyt[ai, 0] = x + xa
                                out_xyt[ai, 1] = y + ya
                                out_xyt[ai, 2] = t0
                                for s in range(n_sens):
                                    out_members[ai, s] = cand[s]


def best_hypotheses_numpy(t, sens, wgt, wmax, active, spos, nbr, dist, anchors, z0, c, tol, margin, max_range):
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
    for ai, i in enumerate(anchors):
        if not active[i]:
            continue
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
                if len(jb) == 0 or len(jc) == 0:
                    continue
                gj, gk = np.meshgrid(jb, jc, indexing="ij")
                gj, gk = gj.ravel(), gk.ravel()
                keep = np.abs(t[gk] - t[gj]) <= dist[b, cc] / c + margin
                gj, gk = gj[keep], gk[keep]
                tau = np.stack([t[gj] - t[i], t[gk] - t[i]])  # (2, p)
                svec = np.stack([sb, sc])  # (2, 3)
                u = (svec**2).sum(1)[:, None] - 2.0 * zr * svec[:, 2:3] - c * c * tau**2
                v = 2.0 * c * c * tau
                inv = np.linalg.inv(mat)
                p_xy, q_xy = inv @ u, inv @ v  # (2, p)
                qa = (q_xy**2).sum(0) - c * c
                qb = 2.0 * (p_xy * q_xy).sum(0)
                qc = (p_xy**2).sum(0) + zr * zr
                disc = qb * qb - 4.0 * qa * qc
                ok = (disc >= 0) & (qa != 0)
                sq = np.sqrt(np.where(ok, disc, 0.0))
                for sign in (1.0, -1.0):
                    with np.errstate(divide="ignore", invalid="ignore"):
                        tau0 = (-qb + sign * sq) / (2.0 * qa)
                    xy = p_xy + q_xy * tau0
                    good = ok & (tau0 <= 1e-9) & ((xy**2).sum(0) <= max_range**2)
                    for h in np.flatnonzero(good):
                        src = np.array([xy[0, h] + sa[0], xy[1, h] + sa[1], z0])
                        t0 = t[i] + tau0[h]
                        pred = t0 + np.linalg.norm(spos - src, axis=1) / c
                        sup, sco, mem = 0, 0.0, np.full(n_sens, -1, np.int64)
                        for s in range(n_sens):
                            ix = idx_by_sensor[s]
                            d = t[ix] - pred[s]
                            within = np.flatnonzero(np.abs(d) <= tol)
                            if len(within) == 0:
                                continue
                            best = within[np.argmin(np.abs(d[within]))]
                            sup += 1
                            sco += (1.0 - (d[best] / tol) ** 2) * wgt[ix[best]]
                            mem[s] = ix[best]
                        if sco > score[ai]:
                            support[ai], score[ai] = sup, sco
                            xyt[ai] = (src[0], src[1], t0)
                            members[ai] = mem
                            members[ai, a] = i
    return support, score, xyt, members

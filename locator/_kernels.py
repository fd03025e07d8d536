"""Numba kernels of the TDOA solver, and their plain-numpy twins.

Private: the public functions in :mod:`locator.solve` validate, centre the
coordinates, allocate the outputs and call these.  The kernels validate nothing.

Model (one shot, sensors i = 1..n, all in a centred local frame, metres/seconds)::

    tau_i = t0 + T(s_i - x; c, w) + noise_i,      noise_i ~ N(0, sigma_i^2)

where ``T`` is the travel time from the source ``x`` to sensor ``s_i`` through air
moving with the horizontal wind ``w``: the wavefront leaves the source at speed
``c`` relative to the air, so the ray to ``s_i`` satisfies ``|d - w T| = c T`` with
``d = s_i - x``, whose positive root is::

    T = (sqrt(b^2 + a |d|^2) - b) / a,   a = c^2 - |w|^2,  b = d . w

(``T = |d| / c`` without wind).

The parameter vector has a fixed layout of 7 entries, ``[x, y, z, t0, c, wx, wy]``;
``free`` (uint8, 7) says which are estimated, the others are held at their value.
Residuals are ``tau_i - t0 - T_i`` in seconds; weights ``w_i = 1/sigma_i^2``, zero
for sensors left out.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NPAR = 7
IX, IY, IZ, IT0, IC, IWX, IWY = range(NPAR)

# Status codes returned by ``locate``.
OK = 0
NO_CANDIDATE = 1  # no start at all (kept for callers; the centroid start makes it rare)
SINGULAR = 2  # the Fisher information is singular at the solution
# Codes returned by ``prepare``.
BAD_POS, BAD_TOA, BAD_SIGMA, BAD_SIGMA_SIGN = 11, 12, 13, 14


# ----------------------------------------------------------------------------------------------
# numba kernels
# ----------------------------------------------------------------------------------------------


@njit(cache=True)
def _travel(dx, dy, dz, c, wx, wy, grad):
    """Travel time (s) over d = sensor - source; grad[0:3] = dT/dd, grad[4] = dT/dc, grad[5:7] = dT/dw."""
    a = c * c - wx * wx - wy * wy
    b = dx * wx + dy * wy
    dd = dx * dx + dy * dy + dz * dz
    big_d = np.sqrt(b * b + a * dd)
    if big_d < 1e-9:
        big_d = 1e-9
    t = (big_d - b) / a
    grad[0] = ((b * wx + a * dx) / big_d - wx) / a
    grad[1] = ((b * wy + a * dy) / big_d - wy) / a
    grad[2] = dz / big_d
    grad[3] = 0.0
    grad[4] = c * (dd / big_d - 2.0 * t) / a
    grad[5] = (((b * dx - dd * wx) / big_d - dx) + 2.0 * wx * t) / a
    grad[6] = (((b * dy - dd * wy) / big_d - dy) + 2.0 * wy * t) / a
    return t


@njit(cache=True)
def _residuals_jacobian(s, tau, p, idx, res, jac):
    """Fill res (n,) with tau - t0 - T and jac (n, k) with d res / d p[idx]."""
    grad = np.empty(NPAR)
    for i in range(s.shape[0]):
        t = _travel(s[i, 0] - p[IX], s[i, 1] - p[IY], s[i, 2] - p[IZ], p[IC], p[IWX], p[IWY], grad)
        res[i] = tau[i] - p[IT0] - t
        # d res / d x = + dT/dd (d = s - x); d res / d t0 = -1; d res / d (c, w) = - dT/d(c, w)
        grad[4] = -grad[4]
        grad[5] = -grad[5]
        grad[6] = -grad[6]
        grad[3] = -1.0
        for j in range(idx.shape[0]):
            jac[i, j] = grad[idx[j]]


@njit(cache=True)
def _cost(s, tau, wt, p):
    grad = np.empty(NPAR)
    total = 0.0
    for i in range(s.shape[0]):
        if wt[i] > 0.0:
            t = _travel(s[i, 0] - p[IX], s[i, 1] - p[IY], s[i, 2] - p[IZ], p[IC], p[IWX], p[IWY], grad)
            r = tau[i] - p[IT0] - t
            total += wt[i] * r * r
    return total


@njit(cache=True)
def _chol_solve(a, b, x):
    """Solve the symmetric positive system a x = b (k <= 7) with Jacobi scaling; False if singular."""
    k = a.shape[0]
    d = np.empty(k)
    for i in range(k):
        if a[i, i] <= 0.0:
            return False
        d[i] = 1.0 / np.sqrt(a[i, i])
    m = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            m[i, j] = a[i, j] * d[i] * d[j]
    for j in range(k):
        acc = m[j, j]
        for q in range(j):
            acc -= m[j, q] * m[j, q]
        if acc <= 1e-13:
            return False
        m[j, j] = np.sqrt(acc)
        for i in range(j + 1, k):
            acc = m[i, j]
            for q in range(j):
                acc -= m[i, q] * m[j, q]
            m[i, j] = acc / m[j, j]
    y = np.empty(k)
    for i in range(k):
        acc = b[i] * d[i]
        for q in range(i):
            acc -= m[i, q] * y[q]
        y[i] = acc / m[i, i]
    for i in range(k - 1, -1, -1):
        acc = y[i]
        for q in range(i + 1, k):
            acc -= m[q, i] * x[q]
        x[i] = acc / m[i, i]
    for i in range(k):
        x[i] *= d[i]
    return True


@njit(cache=True)
def _closed_form(s, tau, wt, zf, c, cands):
    """Constrained linear start (Chan & Ho / Bancroft style) -> up to two (x, y, z, t0) rows in cands.

    Squaring |x - s_i| = c (tau_i - t0) gives, with R = |x|^2 - c^2 t0^2 and T0 = c t0,
    ``-2 s_i . x + 2 c tau_i T0 + R = c^2 tau_i^2 - |s_i|^2``, linear in (x, T0) for a
    given R; the weighted least-squares (x, T0) = a + b R put back into the definition
    of R is a quadratic in R.  Returns the number of rows written (0 if degenerate).
    """
    n = s.shape[0]
    three_d = np.isnan(zf)
    q = 4 if three_d else 3  # unknowns besides R: position components and T0
    ata = np.zeros((q, q))
    ath = np.zeros(q)
    at1 = np.zeros(q)
    row = np.empty(q)
    for i in range(n):
        if wt[i] <= 0.0:
            continue
        h = c * c * tau[i] * tau[i] - (s[i, 0] ** 2 + s[i, 1] ** 2 + s[i, 2] ** 2)
        row[0] = -2.0 * s[i, 0]
        row[1] = -2.0 * s[i, 1]
        if three_d:
            row[2] = -2.0 * s[i, 2]
        else:
            h += 2.0 * s[i, 2] * zf
        row[q - 1] = 2.0 * c * tau[i]
        for j in range(q):
            ath[j] += wt[i] * row[j] * h
            at1[j] += wt[i] * row[j]
            for k in range(q):
                ata[j, k] += wt[i] * row[j] * row[k]
    va = np.empty(q)
    vb = np.empty(q)
    if not _chol_solve(ata, ath, va):
        return 0
    if not _chol_solve(ata, at1, vb):
        return 0
    for j in range(q):
        vb[j] = -vb[j]
    # theta = va + vb R ; R = |x|^2 - T0^2
    z2 = 0.0 if three_d else zf * zf
    qa = -(vb[q - 1] ** 2)
    qb = -2.0 * va[q - 1] * vb[q - 1] - 1.0
    qc = z2 - va[q - 1] ** 2
    for j in range(q - 1):
        qa += vb[j] ** 2
        qb += 2.0 * va[j] * vb[j]
        qc += va[j] ** 2
    roots = np.empty(2)
    nr = 0
    if abs(qa) < 1e-300 or abs(qa) * abs(qc) < 1e-12 * qb * qb:
        # (nearly) linear: the small root of the quadratic, stably
        roots[0] = -qc / qb if qb != 0.0 else 0.0
        nr = 1
    else:
        disc = qb * qb - 4.0 * qa * qc
        if disc < 0.0:
            roots[0] = -qb / (2.0 * qa)  # noise pushed the roots off the real axis: take the vertex
            nr = 1
        else:
            sq = np.sqrt(disc)
            qq = -0.5 * (qb + sq) if qb >= 0.0 else -0.5 * (qb - sq)
            roots[0] = qq / qa
            roots[1] = qc / qq if qq != 0.0 else roots[0]
            nr = 2
    m = 0
    for r in range(nr):
        rr = roots[r]
        cands[m, 0] = va[0] + vb[0] * rr
        cands[m, 1] = va[1] + vb[1] * rr
        cands[m, 2] = va[2] + vb[2] * rr if three_d else zf
        cands[m, 3] = (va[q - 1] + vb[q - 1] * rr) / c
        m += 1
    return m


@njit(cache=True)
def _start(cands, r, c, wind, p):
    p[IX] = cands[r, 0]
    p[IY] = cands[r, 1]
    p[IZ] = cands[r, 2]
    p[IT0] = cands[r, 3]
    p[IC] = c
    p[IWX] = wind[0]
    p[IWY] = wind[1]


@njit(cache=True)
def _centroid_start(s, tau, wt, zf, c, cands):
    total = 0.0
    for j in range(3):
        cands[0, j] = 0.0
    tmin = np.inf
    for i in range(s.shape[0]):
        if wt[i] > 0.0:
            total += 1.0
            for j in range(3):
                cands[0, j] += s[i, j]
            tmin = min(tmin, tau[i])
    for j in range(3):
        cands[0, j] /= total
    if not np.isnan(zf):
        cands[0, 2] = zf
    spread = 0.0
    for i in range(s.shape[0]):
        if wt[i] > 0.0:
            spread += np.sqrt((s[i, 0] - cands[0, 0]) ** 2 + (s[i, 1] - cands[0, 1]) ** 2
                              + (s[i, 2] - cands[0, 2]) ** 2)
    cands[0, 3] = tmin - spread / total / c


@njit(cache=True)
def _lm(s, tau, wt, p, idx, max_iter):
    """Levenberg-Marquardt from p (modified in place) over the free indices idx; returns the cost."""
    n = s.shape[0]
    k = idx.shape[0]
    res = np.empty(n)
    jac = np.empty((n, k))
    a = np.empty((k, k))
    g = np.empty(k)
    step = np.empty(k)
    trial = np.empty(NPAR)
    lam = 1e-4
    _residuals_jacobian(s, tau, p, idx, res, jac)
    cost = 0.0
    for i in range(n):
        cost += wt[i] * res[i] * res[i]
    for _ in range(max_iter):
        for j in range(k):
            g[j] = 0.0
            for l in range(k):
                a[j, l] = 0.0
        for i in range(n):
            if wt[i] <= 0.0:
                continue
            for j in range(k):
                g[j] -= wt[i] * jac[i, j] * res[i]
                for l in range(j + 1):
                    a[j, l] += wt[i] * jac[i, j] * jac[i, l]
        for j in range(k):
            for l in range(j):
                a[l, j] = a[j, l]
        improved = False
        while lam < 1e10:
            damped = a.copy()
            for j in range(k):
                damped[j, j] = a[j, j] * (1.0 + lam)
            if not _chol_solve(damped, g, step):
                lam *= 10.0
                continue
            for j in range(NPAR):
                trial[j] = p[j]
            for j in range(k):
                trial[idx[j]] += step[j]
            # keep the wind well below the speed of sound and c physical
            if trial[IC] < 100.0 or trial[IWX] ** 2 + trial[IWY] ** 2 > 0.25 * trial[IC] ** 2:
                lam *= 10.0
                continue
            new_cost = _cost(s, tau, wt, trial)
            if new_cost <= cost:
                improved = True
                break
            lam *= 10.0
        if not improved:
            break
        drop = cost - new_cost
        for j in range(NPAR):
            p[j] = trial[j]
        cost = new_cost
        lam = max(lam * 0.1, 1e-12)
        _residuals_jacobian(s, tau, p, idx, res, jac)
        if drop <= 1e-12 * cost + 1e-24:
            break
    return cost


@njit(cache=True)
def locate(s, tau, wt, zf, c, wind, free, max_iter, out_p, out_cost, out_cov, out_res, out_stats):
    """Closed-form start(s) then Levenberg-Marquardt; best fit first.

    Parameters
    ----------
    s : (n, 3) float64
        Sensor positions, metres, centred.
    tau : (n,) float64
        Arrival times, seconds, relative to a reference.
    wt : (n,) float64
        Weights 1/sigma^2 (s^-2); 0 leaves a sensor out.
    zf : float
        Source height (m) in 2D mode; NaN solves z.
    c : float
        Speed of sound (m/s), the start value when fitted.
    wind : (2,) float64
        Horizontal wind towards east and north (m/s), the start value when fitted.
    free : (7,) uint8
        Which of [x, y, z, t0, c, wx, wy] are estimated.
    max_iter : int
        Levenberg-Marquardt iterations per start.
    out_p : (2, 7) float64
        Fitted parameters of up to two distinct solutions, best first.
    out_cost : (2,) float64
        Their weighted squared residual sums (chi-square).
    out_cov : (7, 7) float64
        Covariance of the best fit (zero rows/columns for fixed parameters).
    out_res : (n,) float64
        Residuals tau - t0 - T of the best fit, seconds, for every sensor.
    out_stats : (8,) float64
        Over the used sensors: largest squared normalised residual of the best fit, number used,
        mean sigma^2 (s^2), earliest tau (s); then the horizontal error radius sqrt(var_x + var_y),
        the ellipse's semi-major and semi-minor axes (m) and its azimuth (degrees from north).

    Returns
    -------
    n_solutions : int
        0, 1 or 2 rows of out_p filled.
    status : int
        OK, NO_CANDIDATE or SINGULAR.
    """
    n = s.shape[0]
    nfree = 0
    for j in range(NPAR):
        if free[j]:
            nfree += 1
    idx = np.empty(nfree, dtype=np.int64)
    m = 0
    for j in range(NPAR):
        if free[j]:
            idx[m] = j
            m += 1
    cands = np.empty((2, 4))
    ncand = _closed_form(s, tau, wt, zf, c, cands)
    if ncand == 0:
        # The linear system is singular (e.g. equal arrivals in the sensors' plane, or collinear
        # sensors): start from the weighted centroid, fired one mean sensor distance before the first arrival.
        _centroid_start(s, tau, wt, zf, c, cands)
        ncand = 1
    n_used = 0
    tau_min = np.inf
    sig2_sum = 0.0
    for i in range(n):
        if wt[i] > 0.0:
            n_used += 1
            tau_min = min(tau_min, tau[i])
            sig2_sum += 1.0 / wt[i]
    dof = n_used - nfree
    p = np.empty(NPAR)
    start_cost = np.empty(2)
    for r in range(ncand):
        _start(cands, r, c, wind, p)
        start_cost[r] = _cost(s, tau, wt, p)
    # Causal starts (fired before the first arrival) first, then the better fitting: a root of the
    # squared equations that fires after the arrivals is a mirror image, and LM from it can run away.
    slack = 5.0 * np.sqrt(sig2_sum / max(n_used, 1)) * np.sqrt(n_used)
    order0 = 0
    if ncand == 2:
        causal0 = cands[0, 3] <= tau_min + slack
        causal1 = cands[1, 3] <= tau_min + slack
        if (causal1 and not causal0) or (causal1 == causal0 and start_cost[1] < start_cost[0]):
            order0 = 1
    # A second start is worth refining only if it is causal and, with redundant arrivals, not
    # hopelessly worse than chance: otherwise it cannot be an alternative.
    chance = dof + 3.0 * np.sqrt(2.0 * max(dof, 0)) + 1.0
    found = 0
    for rr in range(ncand):
        r = order0 if rr == 0 else 1 - order0
        if rr == 1 and (cands[r, 3] > tau_min + slack or (dof > 0 and start_cost[r] > 25.0 * chance)):
            continue
        _start(cands, r, c, wind, p)
        cost = _lm(s, tau, wt, p, idx, max_iter)
        dup = False
        for q in range(found):
            dist = (p[IX] - out_p[q, IX]) ** 2 + (p[IY] - out_p[q, IY]) ** 2 + (p[IZ] - out_p[q, IZ]) ** 2
            if dist < 1e-6:
                dup = True
                if cost < out_cost[q]:
                    out_cost[q] = cost
                    for j in range(NPAR):
                        out_p[q, j] = p[j]
        if dup:
            continue
        for j in range(NPAR):
            out_p[found, j] = p[j]
        out_cost[found] = cost
        found += 1
    if found == 2 and out_cost[1] < out_cost[0]:
        for j in range(NPAR):
            tmp = out_p[0, j]
            out_p[0, j] = out_p[1, j]
            out_p[1, j] = tmp
        tmp = out_cost[0]
        out_cost[0] = out_cost[1]
        out_cost[1] = tmp
    # covariance and residuals at the best fit
    for j in range(NPAR):
        p[j] = out_p[0, j]
    jac = np.empty((n, nfree))
    _residuals_jacobian(s, tau, p, idx, out_res, jac)
    zmax2 = 0.0
    for i in range(n):
        if wt[i] > 0.0:
            zmax2 = max(zmax2, wt[i] * out_res[i] * out_res[i])
    out_stats[0] = zmax2
    out_stats[1] = n_used
    out_stats[2] = sig2_sum / max(n_used, 1)
    out_stats[3] = tau_min
    fisher = np.zeros((nfree, nfree))
    for i in range(n):
        if wt[i] <= 0.0:
            continue
        for j in range(nfree):
            for l in range(nfree):
                fisher[j, l] += wt[i] * jac[i, j] * jac[i, l]
    for j in range(NPAR):
        for l in range(NPAR):
            out_cov[j, l] = 0.0
    unit = np.zeros(nfree)
    col = np.empty(nfree)
    for l in range(nfree):
        unit[:] = 0.0
        unit[l] = 1.0
        if not _chol_solve(fisher, unit, col):
            return found, SINGULAR
        for j in range(nfree):
            out_cov[idx[j], idx[l]] = col[j]
    _ellipse(out_cov, out_stats)
    return found, OK


@njit(cache=True)
def _ellipse(cov, out_stats):
    """Horizontal 1-sigma radius sqrt(var_x + var_y), ellipse semi-axes and major-axis azimuth into out_stats[4:8]."""
    vxx = cov[0, 0]
    vyy = cov[1, 1]
    vxy = cov[0, 1]
    half = 0.5 * (vxx + vyy)
    rad = np.hypot(0.5 * (vxx - vyy), vxy)
    out_stats[4] = np.sqrt(max(vxx + vyy, 0.0))
    out_stats[5] = np.sqrt(max(half + rad, 0.0))
    out_stats[6] = np.sqrt(max(half - rad, 0.0))
    # eigenvector angle from east, counter-clockwise -> azimuth clockwise from north, 0..180
    out_stats[7] = (90.0 - np.degrees(0.5 * np.arctan2(2.0 * vxy, vxx - vyy))) % 180.0


@njit(cache=True)
def prepare(pos, toa, sig, out_s, out_tau, out_wt, out_origin):
    """Check finiteness, centre positions and times, weights 1/sigma^2: one pass for the hot path.

    Returns (code, t_ref, median sensor height); code is OK or one of the BAD_* values, in which
    case the outputs are undefined.
    """
    n = pos.shape[0]
    for j in range(3):
        out_origin[j] = 0.0
    t_ref = np.inf
    for i in range(n):
        for j in range(3):
            if not np.isfinite(pos[i, j]):
                return BAD_POS, np.nan, np.nan
            out_origin[j] += pos[i, j]
        if not np.isfinite(toa[i]):
            return BAD_TOA, np.nan, np.nan
        if not np.isfinite(sig[i]):
            return BAD_SIGMA, np.nan, np.nan
        if not sig[i] > 0.0:
            return BAD_SIGMA_SIGN, np.nan, np.nan
        t_ref = min(t_ref, toa[i])
    for j in range(3):
        out_origin[j] /= n
    for i in range(n):
        for j in range(3):
            out_s[i, j] = pos[i, j] - out_origin[j]
        out_tau[i] = toa[i] - t_ref
        out_wt[i] = 1.0 / (sig[i] * sig[i])
    z = np.sort(pos[:, 2])
    mid = n // 2
    zmed = z[mid] if n % 2 else 0.5 * (z[mid - 1] + z[mid])
    return OK, t_ref, zmed


# ----------------------------------------------------------------------------------------------
# plain-numpy twins (same algorithm, vectorised; the tests compare them with the kernels)
# ----------------------------------------------------------------------------------------------


def travel_numpy(d, c, w):
    """Travel times (n,) over d = sensor - source (n, 3) and gradients (n, 7) as in ``_travel``."""
    wv = np.array([w[0], w[1], 0.0])
    a = c * c - w[0] ** 2 - w[1] ** 2
    b = d @ wv
    dd = np.einsum("ij,ij->i", d, d)
    big_d = np.maximum(np.sqrt(b * b + a * dd), 1e-9)
    t = (big_d - b) / a
    grad = np.zeros((d.shape[0], NPAR))
    grad[:, 0:3] = ((b[:, None] * wv + a * d) / big_d[:, None] - wv) / a
    grad[:, 2] = d[:, 2] / big_d
    grad[:, IC] = c * (dd / big_d - 2.0 * t) / a
    for j, col in ((0, IWX), (1, IWY)):
        grad[:, col] = (((b * d[:, j] - dd * w[j]) / big_d - d[:, j]) + 2.0 * w[j] * t) / a
    return t, grad


def residuals_jacobian_numpy(s, tau, p, idx):
    t, grad = travel_numpy(s - p[:3], p[IC], p[IWX:])
    res = tau - p[IT0] - t
    grad[:, IT0] = -1.0
    grad[:, IC:] *= -1.0
    return res, grad[:, idx]


def closed_form_numpy(s, tau, wt, zf, c):
    """Twin of ``_closed_form``: list of (4,) candidates [x, y, z, t0]."""
    use = wt > 0
    s_u, tau_u, w_u = s[use], tau[use], wt[use]
    three_d = np.isnan(zf)
    h = c * c * tau_u**2 - np.einsum("ij,ij->i", s_u, s_u)
    cols = [-2.0 * s_u[:, 0], -2.0 * s_u[:, 1]]
    if three_d:
        cols.append(-2.0 * s_u[:, 2])
    else:
        h = h + 2.0 * s_u[:, 2] * zf
    cols.append(2.0 * c * tau_u)
    mat = np.stack(cols, axis=1)
    ata = mat.T @ (w_u[:, None] * mat)
    try:
        np.linalg.cholesky(ata / np.sqrt(np.outer(np.diag(ata), np.diag(ata))))
    except np.linalg.LinAlgError:
        return []
    va = np.linalg.solve(ata, mat.T @ (w_u * h))
    vb = -np.linalg.solve(ata, mat.T @ w_u)
    z2 = 0.0 if three_d else zf * zf
    qa = np.sum(vb[:-1] ** 2) - vb[-1] ** 2
    qb = 2.0 * np.dot(va[:-1], vb[:-1]) - 2.0 * va[-1] * vb[-1] - 1.0
    qc = np.sum(va[:-1] ** 2) + z2 - va[-1] ** 2
    if abs(qa) < 1e-300 or abs(qa) * abs(qc) < 1e-12 * qb * qb:
        roots = [-qc / qb if qb != 0.0 else 0.0]
    else:
        disc = qb * qb - 4.0 * qa * qc
        if disc < 0.0:
            roots = [-qb / (2.0 * qa)]
        else:
            qq = -0.5 * (qb + np.copysign(np.sqrt(disc), qb if qb != 0 else 1.0))
            roots = [qq / qa, qc / qq if qq != 0.0 else qq / qa]
    out = []
    for rr in roots:
        th = va + vb * rr
        z = th[2] if three_d else zf
        out.append(np.array([th[0], th[1], z, th[-1] / c]))
    return out


def lm_numpy(s, tau, wt, p, idx, max_iter):
    """Twin of ``_lm``; returns (p, cost)."""
    p = p.copy()
    res, jac = residuals_jacobian_numpy(s, tau, p, idx)
    cost = float(np.sum(wt * res**2))
    lam = 1e-4
    for _ in range(max_iter):
        a = jac.T @ (wt[:, None] * jac)
        g = -jac.T @ (wt * res)
        improved = False
        while lam < 1e10:
            damped = a + np.diag(np.diag(a) * lam)
            scale = 1.0 / np.sqrt(np.diag(damped))
            try:
                np.linalg.cholesky(damped * np.outer(scale, scale))
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            trial = p.copy()
            trial[idx] += np.linalg.solve(damped, g)
            if trial[IC] < 100.0 or trial[IWX] ** 2 + trial[IWY] ** 2 > 0.25 * trial[IC] ** 2:
                lam *= 10.0
                continue
            r_trial, _ = residuals_jacobian_numpy(s, tau, trial, idx)
            new_cost = float(np.sum(wt * r_trial**2))
            if new_cost <= cost:
                improved = True
                break
            lam *= 10.0
        if not improved:
            break
        drop = cost - new_cost
        p, cost = trial, new_cost
        lam = max(lam * 0.1, 1e-12)
        res, jac = residuals_jacobian_numpy(s, tau, p, idx)
        if drop <= 1e-12 * cost + 1e-24:
            break
    return p, cost


def locate_numpy(s, tau, wt, zf, c, wind, free, max_iter):
    """Twin of ``locate``: (params (m, 7), costs (m,), cov (7, 7) or None, res (n,), stats (4,), status)."""
    idx = np.flatnonzero(free)
    cands = closed_form_numpy(s, tau, wt, zf, c)
    if not cands:
        use = wt > 0
        start = s[use].mean(axis=0)
        if not np.isnan(zf):
            start[2] = zf
        spread = np.linalg.norm(s[use] - start, axis=1).mean()
        cands = [np.array([*start, tau[use].min() - spread / c])]
    use = wt > 0
    n_used = int(use.sum())
    dof = n_used - len(idx)
    tau_min = tau[use].min()
    sig2_mean = float(np.mean(1.0 / wt[use]))
    starts = [np.array([cand[0], cand[1], cand[2], cand[3], c, wind[0], wind[1]]) for cand in cands]
    start_costs = [float(np.sum(wt * residuals_jacobian_numpy(s, tau, p0, idx)[0] ** 2)) for p0 in starts]
    slack = 5.0 * np.sqrt(sig2_mean) * np.sqrt(n_used)
    acausal = [float(p0[IT0] > tau_min + slack) for p0 in starts]
    order = np.lexsort((start_costs, acausal))  # causal first, then by cost
    chance = dof + 3.0 * np.sqrt(2.0 * max(dof, 0)) + 1.0
    params, costs = [], []
    for rank, r in enumerate(order):
        p0 = starts[r]
        if rank == 1 and (p0[IT0] > tau_min + slack or (dof > 0 and start_costs[r] > 25.0 * chance)):
            continue
        p, cost = lm_numpy(s, tau, wt, p0, idx, max_iter)
        dup = [q for q, other in enumerate(params) if np.sum((p[:3] - other[:3]) ** 2) < 1e-6]
        if dup:
            if cost < costs[dup[0]]:
                params[dup[0]], costs[dup[0]] = p, cost
            continue
        params.append(p)
        costs.append(cost)
    order = np.argsort(costs, kind="stable")
    params = np.array(params)[order]
    costs = np.array(costs)[order]
    res, jac = residuals_jacobian_numpy(s, tau, params[0], idx)
    stats = np.array([np.max(wt[use] * res[use] ** 2), n_used, sig2_mean, tau_min])
    fisher = jac.T @ (wt[:, None] * jac)
    cov = np.zeros((NPAR, NPAR))
    try:
        scale = 1.0 / np.sqrt(np.diag(fisher))
        inv = np.linalg.inv(fisher * np.outer(scale, scale)) * np.outer(scale, scale)
        np.linalg.cholesky(fisher * np.outer(scale, scale))
    except (np.linalg.LinAlgError, FloatingPointError):
        return params, costs, None, res, stats, SINGULAR
    cov[np.ix_(idx, idx)] = inv
    vals, vecs = np.linalg.eigh(cov[:2, :2])
    major = vecs[:, 1]
    azimuth = np.degrees(np.arctan2(major[0], major[1])) % 180.0  # clockwise from north
    stats = np.concatenate([stats, [np.sqrt(vals.sum()), np.sqrt(vals[1]), np.sqrt(max(vals[0], 0.0)), azimuth]])
    return params, costs, cov, res, stats, OK


def prepare_numpy(pos, toa, sig):
    """Twin of ``prepare``: (code, centred positions, tau, weights, origin (3,), t_ref, median z)."""
    for code, arr in ((BAD_POS, pos), (BAD_TOA, toa), (BAD_SIGMA, sig)):
        if not np.all(np.isfinite(arr)):
            return code, None, None, None, None, np.nan, np.nan
    if not np.all(sig > 0):
        return BAD_SIGMA_SIGN, None, None, None, None, np.nan, np.nan
    origin = pos.mean(axis=0)
    t_ref = toa.min()
    return OK, pos - origin, toa - t_ref, 1.0 / sig**2, origin, t_ref, float(np.median(pos[:, 2]))

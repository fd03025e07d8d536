"""The numba kernels of the solver agree with their plain-numpy twins."""

from __future__ import annotations

import numpy as np
import pytest

from locator import _kernels as K

WIND0 = np.array([1.0, -0.5])  # start (or known) wind, m/s


def random_problem(rng, n, three_d, noise_s=5e-4, wind=(0.0, 0.0), c=340.0):
    s = np.column_stack([rng.uniform(-600, 600, n), rng.uniform(-600, 600, n), rng.uniform(0, 40, n)])
    src = np.array([rng.uniform(-900, 900), rng.uniform(-900, 900), rng.uniform(0, 20) if three_d else 1.5])
    t, _ = K.travel_numpy(s - src, c, np.asarray(wind, dtype=float))
    tau = t + 0.3 + rng.normal(0, noise_s, n)
    centre = s.mean(axis=0)
    return s - centre, tau - tau.min(), src - centre


def test_travel_gradient_matches_finite_differences(rng):
    d = rng.uniform(-500, 500, (6, 3))
    c, w = 338.0, np.array([4.0, -3.0])
    t, grad = K.travel_numpy(d, c, w)
    eps = 1e-4
    for j in range(3):
        dd = d.copy()
        dd[:, j] += eps
        np.testing.assert_allclose((K.travel_numpy(dd, c, w)[0] - t) / eps, grad[:, j], rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose((K.travel_numpy(d, c + eps, w)[0] - t) / eps, grad[:, K.IC], rtol=1e-4)
    for j, col in ((0, K.IWX), (1, K.IWY)):
        ww = w.copy()
        ww[j] += eps
        np.testing.assert_allclose((K.travel_numpy(d, c, ww)[0] - t) / eps, grad[:, col], rtol=1e-4, atol=1e-9)


def test_travel_with_wind_is_the_exact_ray_time(rng):
    # the sound moves at c relative to air drifting with w: |d - w T| must equal c T
    d = rng.uniform(-500, 500, (10, 3))
    c, w = 340.0, np.array([6.0, 2.0])
    t, _ = K.travel_numpy(d, c, w)
    drift = d - np.outer(t, [w[0], w[1], 0.0])
    np.testing.assert_allclose(np.linalg.norm(drift, axis=1), c * t, rtol=1e-12)


def test_travel_kernel_equals_twin(rng):
    d = rng.uniform(-500, 500, (8, 3))
    c, w = 341.0, np.array([3.0, -5.0])
    t_np, g_np = K.travel_numpy(d, c, w)
    grad = np.empty(K.NPAR)
    for i in range(len(d)):
        t = K._travel(d[i, 0], d[i, 1], d[i, 2], c, w[0], w[1], grad)
        assert t == pytest.approx(t_np[i], rel=1e-14)
        np.testing.assert_allclose(np.delete(grad, K.IT0), np.delete(g_np[i], K.IT0), rtol=1e-12, atol=1e-15)


def test_residuals_jacobian_kernel_equals_twin(rng):
    s, tau, src = random_problem(rng, 9, True)
    p = np.array([*src, -1.2, 338.0, 2.0, -3.0])
    idx = np.arange(K.NPAR)
    res, jac = np.empty(9), np.empty((9, K.NPAR))
    K._residuals_jacobian(s, tau, p, idx, res, jac)
    res_np, jac_np = K.residuals_jacobian_numpy(s, tau, p, idx)
    np.testing.assert_allclose(res, res_np, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(jac, jac_np, rtol=1e-12, atol=1e-15)
    assert np.all(jac[:, K.IT0] == -1.0)


@pytest.mark.parametrize("three_d", [False, True])
def test_closed_form_kernel_equals_twin(rng, three_d):
    for _ in range(20):
        s, tau, src = random_problem(rng, int(rng.integers(4, 12)), three_d)
        wt = rng.uniform(0.5, 2.0, len(tau)) * 1e6
        zf = np.nan if three_d else src[2]
        cands = np.empty((2, 4))
        m = K._closed_form(s, tau, wt, zf, 340.0, cands)
        twin = K.closed_form_numpy(s, tau, wt, zf, 340.0)
        assert m == len(twin)
        for j in range(m):
            np.testing.assert_allclose(cands[j], twin[j], rtol=1e-7, atol=1e-6)


@pytest.mark.parametrize(
    ("three_d", "fit_c", "fit_wind"),
    [(False, False, False), (True, False, False), (False, True, False), (False, True, True), (True, True, True)],
)
def test_locate_kernel_equals_twin(rng, three_d, fit_c, fit_wind):
    free = np.array([1, 1, three_d, 1, fit_c, fit_wind, fit_wind], dtype=np.uint8)
    for _ in range(10):
        n = int(rng.integers(8, 16))
        s, tau, src = random_problem(rng, n, three_d, wind=(3.0, -2.0) if fit_wind else (0.0, 0.0))
        wt = np.full(n, 1.0 / 5e-4**2)
        wt[rng.integers(n)] = 0.0  # one sensor left out
        zf = np.nan if three_d else src[2]
        out_p, out_cost = np.empty((2, K.NPAR)), np.empty(2)
        out_cov, out_res, out_stats = np.empty((K.NPAR, K.NPAR)), np.empty(n), np.empty(8)
        found, status = K.locate(s, tau, wt, zf, 343.0, WIND0, free, 40, out_p, out_cost, out_cov, out_res,
                                 out_stats)
        params, costs, cov, res, stats, status_np = K.locate_numpy(s, tau, wt, zf, 343.0, WIND0, free, 40)
        assert status == status_np == K.OK
        assert found == len(params)
        # the fits agree to a thousandth of their own standard error (flat directions stop early)
        tol = 1e-3 * np.sqrt(np.diag(cov)) + 1e-9
        assert np.all(np.abs(out_p[0] - params[0]) <= tol)
        assert out_cost[0] == pytest.approx(costs[0], rel=1e-6, abs=1e-9)
        np.testing.assert_allclose(out_res, res, atol=1e-7)
        np.testing.assert_allclose(out_cov, cov, rtol=1e-4, atol=1e-14)
        np.testing.assert_allclose(out_stats[:7], stats[:7], rtol=1e-4, atol=1e-9)
        # azimuth of the ellipse's major axis, modulo 180 degrees
        assert abs((out_stats[7] - stats[7] + 90.0) % 180.0 - 90.0) < 0.1


def test_locate_reports_both_roots_like_its_twin():
    # three sensors, source beyond the apex sensor: two exact causal solutions
    tri = np.array([[0.0, 0.0, 0.0], [300.0, 0.0, 0.0], [150.0, 260.0, 0.0]])
    src = np.array([150.0, 600.0, 0.0])
    tau = np.linalg.norm(tri - src, axis=1) / 343.0
    s = tri - tri.mean(axis=0)
    wt = np.full(3, 1e8)
    free = np.array([1, 1, 0, 1, 0, 0, 0], dtype=np.uint8)
    zf = -tri[:, 2].mean()
    out_p, out_cost = np.empty((2, K.NPAR)), np.empty(2)
    found, status = K.locate(s, tau, wt, zf, 343.0, WIND0, free, 40, out_p, out_cost, np.empty((7, 7)), np.empty(3),
                             np.empty(8))
    params, costs, _, _, _, _ = K.locate_numpy(s, tau, wt, zf, 343.0, WIND0, free, 40)
    assert found == len(params) == 2
    # both fit exactly, so their order is arbitrary: compare as sets (sorted by y)
    kernel_roots = out_p[:2, :4][np.argsort(out_p[:2, 1])]
    twin_roots = params[:, :4][np.argsort(params[:, 1])]
    np.testing.assert_allclose(kernel_roots, twin_roots, atol=1e-6)


@pytest.mark.parametrize("bad", [None, "pos", "toa", "sigma", "sign"])
def test_prepare_kernel_equals_twin(rng, bad):
    n = 7
    pos = rng.uniform(-1e3, 1e3, (n, 3)) + [587_000.0, 4_477_000.0, 250.0]
    toa = rng.uniform(0, 2, n) + 1.5e9
    sig = rng.uniform(1e-4, 1e-3, n)
    if bad == "pos":
        pos[3, 1] = np.nan
    elif bad == "toa":
        toa[2] = np.inf
    elif bad == "sigma":
        sig[0] = np.nan
    elif bad == "sign":
        sig[5] = -1e-3
    s, tau, wt, origin = np.empty((n, 3)), np.empty(n), np.empty(n), np.empty(3)
    code, t_ref, zmed = K.prepare(pos, toa, sig, s, tau, wt, origin)
    twin = K.prepare_numpy(pos, toa, sig)
    assert code == twin[0]
    if bad is None:
        assert code == K.OK
        np.testing.assert_allclose(s, twin[1], atol=1e-9)
        np.testing.assert_allclose(tau, twin[2], atol=1e-9)
        np.testing.assert_allclose(wt, twin[3], rtol=1e-15)
        np.testing.assert_allclose(origin, twin[4], rtol=1e-15)
        assert t_ref == twin[5] and zmed == twin[6]


def test_lm_kernel_equals_twin_from_a_poor_start(rng):
    s, tau, src = random_problem(rng, 9, False, noise_s=1e-3)
    wt = np.full(9, 1e6)
    idx = np.array([0, 1, 3])
    start = np.array([300.0, -200.0, src[2], -1.0, 343.0, 0.0, 0.0])
    p = start.copy()
    cost = K._lm(s, tau, wt, p, idx, 50)
    p_np, cost_np = K.lm_numpy(s, tau, wt, start, idx, 50)
    np.testing.assert_allclose(p, p_np, rtol=1e-7, atol=1e-7)
    assert cost == pytest.approx(cost_np, rel=1e-7)

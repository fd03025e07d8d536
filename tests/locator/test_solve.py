"""The TDOA solver: hand-computable geometries, degenerate inputs, precision, ambiguity."""

from __future__ import annotations

import numpy as np
import pytest

from locator.solve import SOLVERS, Solution, solve
from salvo.errors import InputError

C = 343.2


def arrivals(sensors, source, t0=0.0, c=C):
    return t0 + np.linalg.norm(np.asarray(sensors) - np.asarray(source), axis=1) / c


def grid(n_side=3, spacing=400.0, z=6.0):
    g = np.arange(n_side) * spacing
    xx, yy = np.meshgrid(g, g)
    return np.column_stack([xx.ravel(), yy.ravel(), np.full(xx.size, z)])


SQUARE = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [100.0, 100.0, 0.0], [0.0, 100.0, 0.0]])


def test_square_with_equal_arrivals_is_its_centre():
    sol = solve(SQUARE, np.full(4, 2.0), 1e-4, z_m=0.0)
    assert isinstance(sol, Solution) and sol.ok
    np.testing.assert_allclose(sol.pos_m, [50.0, 50.0, 0.0], atol=1e-6)
    # the shot was fired (half-diagonal / c) before the arrivals
    assert sol.t0_s == pytest.approx(2.0 - np.hypot(50.0, 50.0) / C, abs=1e-9)
    np.testing.assert_allclose(sol.residual_s, 0.0, atol=1e-9)
    assert sol.used.all() and sol.flags == ("",) * 4


@pytest.mark.parametrize("method", sorted(SOLVERS))
def test_every_solver_finds_an_exact_source(method):
    sensors = grid()
    src = np.array([310.0, 95.0, 1.5])
    sol = solve(sensors, arrivals(sensors, src, t0=5.0), 2e-4, z_m=1.5, method=method)
    assert sol.ok and sol.method == method
    np.testing.assert_allclose(sol.pos_m, src, atol=1e-6)
    assert sol.t0_s == pytest.approx(5.0, abs=1e-9)


def test_three_d_mode_recovers_height():
    sensors = grid()
    sensors[:, 2] = [0.0, 12.0, 30.0, 5.0, 40.0, 8.0, 20.0, 3.0, 15.0]
    src = np.array([150.0, 520.0, 10.0])
    sol = solve(sensors, arrivals(sensors, src), 1e-4, mode="3d")
    assert sol.ok
    np.testing.assert_allclose(sol.pos_m, src, atol=1e-5)
    assert sol.cov_m2[2, 2] > sol.cov_m2[0, 0]  # height is always the worst-determined axis


def test_default_height_is_near_the_ground_below_the_array():
    sensors = grid(z=10.0)
    src = np.array([200.0, 300.0, 6.5])  # 10 m sensors - 5 m mount + 1.5 m muzzle
    sol = solve(sensors, arrivals(sensors, src), 1e-4)
    np.testing.assert_allclose(sol.pos_m, src, atol=1e-6)


def test_noise_gives_consistent_error_estimate(rng):
    sensors = grid()
    src = np.array([420.0, 380.0, 1.5])
    sigma = 1e-3
    errs, radii = [], []
    for _ in range(200):
        toa = arrivals(sensors, src) + rng.normal(0, sigma, len(sensors))
        sol = solve(sensors, toa, sigma, z_m=1.5)
        errs.append(np.hypot(*(sol.pos_m[:2] - src[:2])))
        radii.append(sol.err_m)
    inside = np.mean(np.array(errs) <= np.array(radii))
    assert 0.5 < inside < 0.85
    assert sol.ellipse.semi_major_m >= sol.ellipse.semi_minor_m > 0
    assert sol.err_m == pytest.approx(np.hypot(sol.ellipse.semi_major_m, sol.ellipse.semi_minor_m))
    assert 0.2 < sol.gdop < 3.0


def test_utm_sized_offsets_lose_no_precision():
    sensors = grid()
    src = np.array([310.0, 95.0, 1.5])
    toa = arrivals(sensors, src, t0=1.7e9 % 86400)  # a time of day in seconds
    shift = np.array([587_000.0, 4_477_000.0, 0.0])  # UTM zone 17N around Pittsburgh
    near = solve(sensors, toa, 1e-4, z_m=1.5)
    far = solve(sensors + shift, toa + 1.5e9, 1e-4, z_m=1.5)
    np.testing.assert_allclose(far.pos_m - shift, near.pos_m, atol=1e-6)
    assert far.t0_s - 1.5e9 == pytest.approx(near.t0_s, abs=1e-6)
    np.testing.assert_allclose(far.pos_m - shift, src, atol=1e-5)


def test_fewer_sensors_than_unknowns_is_a_result_with_a_reason():
    sol = solve(SQUARE[:2], [0.1, 0.2], 1e-3, z_m=0.0)
    assert not sol.ok and "2 sensors for 3 unknowns" in sol.reason
    assert np.isnan(sol.pos_m).all()
    sol = solve(SQUARE, arrivals(SQUARE, [30, 40, 0]), 1e-3, mode="3d", fit_c=True, fit_wind=True)
    assert not sol.ok and "7 unknowns" in sol.reason


def test_collinear_sensors_are_reported():
    line = np.column_stack([np.arange(5) * 100.0, np.zeros(5), np.zeros(5)])
    sol = solve(line, arrivals(line, [150.0, 200.0, 0.0]), 1e-4, z_m=0.0)
    assert not sol.ok and "collinear" in sol.reason


def test_coincident_sensors_are_reported():
    same = np.tile([10.0, 20.0, 3.0], (5, 1))
    sol = solve(same, np.full(5, 1.0), 1e-4, z_m=0.0)
    assert not sol.ok and "coincide" in sol.reason


def test_coplanar_sensors_in_3d_are_reported():
    sensors = grid(z=0.0)
    sol = solve(sensors, arrivals(sensors, [100.0, 100.0, 0.0]), 1e-4, mode="3d")
    assert not sol.ok and "coplanar" in sol.reason


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(positions_m=[[0, 0, 0], [1, 0, 0], [0, 1, np.nan]]), "positions_m"),
        (dict(toas_s=[0.0, np.nan, 0.1]), "toas_s"),
        (dict(sigmas_s=[1e-3, np.inf, 1e-3]), "sigmas_s"),
        (dict(sigmas_s=[1e-3, 0.0, 1e-3]), "sigmas_s"),
        (dict(toas_s=[0.0, 0.1]), "toas_s"),
        (dict(positions_m=[[0, 0], [1, 0], [0, 1]]), "positions_m"),
        (dict(mode="4d"), "mode"),
        (dict(method="nope"), "method"),
    ],
)
def test_bad_input_raises_input_error_naming_the_argument(kwargs, name):
    args = dict(positions_m=[[0, 0, 0], [100, 0, 0], [0, 100, 0]], toas_s=[0.0, 0.1, 0.2], sigmas_s=1e-3)
    args.update(kwargs)
    mode = args.pop("mode", "2d")
    method = args.pop("method", None)
    with pytest.raises(InputError, match=name):
        solve(args["positions_m"], args["toas_s"], args["sigmas_s"], mode=mode, method=method)


def test_three_sensors_behind_a_sensor_give_both_roots():
    # beyond the apex sensor, on the axis of symmetry, two causal points fit three arrivals exactly
    tri = np.array([[0.0, 0.0, 0.0], [300.0, 0.0, 0.0], [150.0, 260.0, 0.0]])
    src = np.array([150.0, 600.0, 0.0])
    sol = solve(tri, arrivals(tri, src), 1e-4, z_m=0.0)
    assert sol.ok and sol.dof == 0
    candidates = [sol.pos_m] + [alt.pos_m for alt in sol.alternatives]
    assert len(candidates) == 2 and "alternatives" in sol.reason
    assert min(np.linalg.norm(c - src) for c in candidates) < 1e-4
    # both candidates explain the arrivals exactly
    for cand, t0 in [(sol.pos_m, sol.t0_s)] + [(a.pos_m, a.t0_s) for a in sol.alternatives]:
        np.testing.assert_allclose(arrivals(tri, cand, t0=t0), arrivals(tri, src), atol=1e-7)


def test_near_keeps_the_root_within_reach_with_its_own_uncertainty():
    """Of the two roots of an exact 3-arrival fix, ``near_m`` gives the one within the circle,
    with residuals and covariance evaluated there (the Cramer-Rao bound at that point), and
    lists the other; a circle around the root the solver gave anyway changes nothing."""
    from locator.crlb import crlb

    tri = np.array([[0.0, 0.0, 0.0], [300.0, 0.0, 0.0], [150.0, 260.0, 0.0]])
    src = np.array([150.0, 600.0, 0.0])
    sol = solve(tri, arrivals(tri, src), 1e-4, z_m=0.0)
    (alt,) = sol.alternatives
    for root, other in ((alt.pos_m, sol.pos_m), (sol.pos_m, alt.pos_m)):
        got = solve(tri, arrivals(tri, src), 1e-4, z_m=0.0, near_m=(root[:2], 20.0))
        np.testing.assert_allclose(got.pos_m, root, atol=1e-6)
        np.testing.assert_allclose(got.residual_s, 0.0, atol=1e-9)
        np.testing.assert_allclose([a.pos_m for a in got.alternatives], [other], atol=1e-6)
        np.testing.assert_allclose(got.cov_m2[:2, :2], crlb(tri, root, 1e-4)[:2, :2], rtol=1e-3, atol=1e-9)
    far = solve(tri, arrivals(tri, src), 1e-4, z_m=0.0, near_m=((5000.0, 5000.0), 20.0))
    np.testing.assert_allclose(far.pos_m, sol.pos_m)  # neither within: the better fit, as without


def test_near_never_trades_a_fit_for_a_root_that_fits_worse():
    """With redundant arrivals the other root of the closed-form start usually fits far worse than
    chance allows: ``near_m`` keeps the best fit then, even when only that root is within reach."""
    import math

    rng = np.random.default_rng(1)
    swaps = 0
    for _ in range(600):
        n = int(rng.integers(4, 6))
        pos = np.c_[rng.uniform(-300, 300, (n, 2)), rng.uniform(0, 10, n)]
        src = np.r_[rng.uniform(-2000, 2000, 2), 1.5]
        toa = np.linalg.norm(pos - src, axis=1) / C + rng.normal(0, 0.01, n)
        best = solve(pos, toa, 0.0083, z_m=1.5)
        got = solve(pos, toa, 0.0083, z_m=1.5, near_m=(pos[np.argmin(toa), :2], 900.0))
        if best.ok and not np.allclose(got.pos_m, best.pos_m):
            swaps += 1
            assert got.chi2 <= got.dof + 3.0 * math.sqrt(2.0 * got.dof) + 1e-6 and got.t0_s <= toa.min()
    assert swaps >= 3


@pytest.mark.parametrize("near", [((0.0, 0.0, 0.0), 10.0), ((0.0, 0.0), -1.0), ((0.0, np.nan), 5.0), (5.0, 1.0), {},
                                  ((0.0, 0.0), 5.0, 1.0), ((0.0, 0.0), np.nan)])
def test_near_must_be_a_centre_and_a_radius(near):
    tri = np.array([[0.0, 0.0, 0.0], [300.0, 0.0, 0.0], [150.0, 260.0, 0.0]])
    with pytest.raises(InputError, match="near_m"):
        solve(tri, np.zeros(3), 1e-3, near_m=near)
    # an infinite radius is no constraint (AssociationConfig(max_range_m=inf))
    src = np.array([150.0, 600.0, 0.0])
    free = solve(tri, arrivals(tri, src), 1e-4, z_m=0.0)
    np.testing.assert_allclose(solve(tri, arrivals(tri, src), 1e-4, z_m=0.0, near_m=((0.0, 0.0), np.inf)).pos_m,
                               free.pos_m)


def test_three_sensors_inside_give_one_causal_root():
    tri = np.array([[0.0, 0.0, 0.0], [300.0, 0.0, 0.0], [150.0, 260.0, 0.0]])
    src = np.array([150.0, 90.0, 0.0])
    sol = solve(tri, arrivals(tri, src), 1e-4, z_m=0.0)
    assert sol.ok and not sol.alternatives
    np.testing.assert_allclose(sol.pos_m, src, atol=1e-6)


def test_solver_config_rejects_bad_fields_by_name():
    from locator.solve import SolverConfig
    from salvo.errors import ConfigError

    with pytest.raises(ConfigError, match="outlier_sigma"):
        SolverConfig(outlier_sigma=0.0)
    with pytest.raises(ConfigError, match="max_iter"):
        SolverConfig(max_iter=0)
    assert SolverConfig(max_outliers=0).max_outliers == 0

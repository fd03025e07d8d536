"""Covariance, the Cramér–Rao bound and GDOP."""

from __future__ import annotations

import numpy as np
import pytest

from locator.solve import crlb, solve
from salvo.errors import InputError

C = 343.2


def test_crlb_matches_the_unit_vector_formula(rng):
    # In the sensors' plane with the height known: cov = c^2 sigma^2 [sum (u_i - u_mean)(u_i - u_mean)^T]^-1
    sensors = np.column_stack([rng.uniform(0, 800, 7), rng.uniform(0, 800, 7), np.zeros(7)])
    src = np.array([300.0, 450.0, 0.0])
    sigma = 1e-3
    u = (src - sensors)[:, :2]
    u /= np.linalg.norm(u, axis=1)[:, None]
    du = u - u.mean(axis=0)
    expected = C**2 * sigma**2 * np.linalg.inv(du.T @ du)
    got = crlb(sensors, src, sigma, mode="2d", c_mps=C)
    np.testing.assert_allclose(got[:2, :2], expected, rtol=1e-9)
    assert got[2, 2] == 0.0


def test_crlb_grows_with_unknowns(rng):
    sensors = np.column_stack([rng.uniform(0, 800, 9), rng.uniform(0, 800, 9), rng.uniform(0, 30, 9)])
    src = np.array([900.0, 300.0, 1.5])
    base = np.trace(crlb(sensors, src, 1e-3)[:2, :2])
    with_c = np.trace(crlb(sensors, src, 1e-3, fit_c=True)[:2, :2])
    with_wind = np.trace(crlb(sensors, src, 1e-3, fit_c=True, fit_wind=True)[:2, :2])
    assert base < with_c < with_wind


def test_crlb_rejects_a_singular_geometry():
    line = np.column_stack([np.arange(4) * 100.0, np.zeros(4), np.zeros(4)])
    with pytest.raises(InputError, match="singular"):
        crlb(line, [50.0, 0.0, 0.0], 1e-3)


def test_reported_covariance_is_the_bound_at_the_solution(rng):
    sensors = np.column_stack([rng.uniform(0, 600, 8), rng.uniform(0, 600, 8), rng.uniform(2, 12, 8)])
    src = np.array([250.0, 320.0, 1.5])
    toa = np.linalg.norm(sensors - src, axis=1) / C
    sol = solve(sensors, toa, 5e-4, z_m=1.5)
    np.testing.assert_allclose(sol.cov_m2, crlb(sensors, src, 5e-4), rtol=1e-6, atol=1e-12)
    # GDOP: horizontal error radius per metre of range noise
    assert sol.gdop == pytest.approx(sol.err_m / (C * 5e-4))


def test_monte_carlo_rmse_is_near_the_bound(rng):
    sensors = np.column_stack([rng.uniform(0, 600, 8), rng.uniform(0, 600, 8), rng.uniform(2, 12, 8)])
    src = np.array([250.0, 320.0, 1.5])
    sigma = 1e-3
    bound = np.sqrt(np.trace(crlb(sensors, src, sigma)[:2, :2]))
    clean = np.linalg.norm(sensors - src, axis=1) / C
    errs = [solve(sensors, clean + rng.normal(0, sigma, 8), sigma, z_m=1.5).pos_m[:2] - src[:2]
            for _ in range(300)]
    rmse = np.sqrt(np.mean(np.sum(np.square(errs), axis=1)))
    assert 0.85 < rmse / bound < 1.15

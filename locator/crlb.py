"""The Cramér–Rao bound of a TDOA geometry: the least covariance any unbiased solver can reach.

For arrival times ``t_i = t0 + T(s_i - x) + n_i`` with ``n_i ~ N(0, sigma_i^2)`` the Fisher
information of the unknowns ``theta`` (position, t0, and optionally c and wind) is
``F = J^T diag(1/sigma^2) J`` with ``J = d t / d theta``; the bound is ``F^-1``.  Keeping
t0 among the unknowns is what removes the common part of the unit vectors (the
``u_i - u_mean`` of REFERENCE.md).
"""

from __future__ import annotations

import numpy as np

from locator import _kernels as K
from salvo.errors import InputError

__all__ = ["crlb"]


def crlb(positions_m, source_m, sigmas_s, *, mode: str = "2d", c_mps: float = 343.2,
         fit_c: bool = False, fit_wind: bool = False, wind_mps=(0.0, 0.0)) -> np.ndarray:
    """Cramér–Rao bound on the source position for one geometry.

    Parameters
    ----------
    positions_m : array_like, shape (n, 3)
        Sensor positions, metres, any Cartesian frame.
    source_m : array_like, shape (3,)
        True source position, metres, same frame.
    sigmas_s : float or array_like, shape (n,)
        1-sigma timing noise per sensor, seconds.
    mode : {"2d", "3d"}
        "2d" holds the source height known (only x, y, t0 are estimated); "3d" estimates z too.
    c_mps : float
        Speed of sound, m/s.
    fit_c, fit_wind : bool
        Whether c and the horizontal wind are unknowns too (they widen the bound).
    wind_mps : array_like, shape (2,)
        True horizontal wind (east, north), m/s.

    Returns
    -------
    ndarray, shape (3, 3)
        Bound on the position covariance, m^2; the z row and column are zero in "2d" mode.
        ``sqrt(trace(cov[:2, :2]))`` bounds the horizontal RMSE.

    Raises
    ------
    InputError
        On bad shapes, non-finite values, or a singular geometry (no bound exists).
    """
    s = np.asarray(positions_m, dtype=np.float64)
    x = np.asarray(source_m, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != 3:
        raise InputError(f"positions_m: expected shape (n, 3), got {s.shape}")
    if x.shape != (3,):
        raise InputError(f"source_m: expected shape (3,), got {x.shape}")
    sig = np.broadcast_to(np.asarray(sigmas_s, dtype=np.float64), (s.shape[0],))
    for name, arr in (("positions_m", s), ("source_m", x), ("sigmas_s", sig)):
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{name}: contains NaN or infinite values")
    if np.any(sig <= 0):
        raise InputError("sigmas_s: every sigma must be > 0")
    if mode not in ("2d", "3d"):
        raise InputError(f"mode: {mode!r} is not '2d' or '3d'")
    free = np.array([1, 1, mode == "3d", 1, fit_c, fit_wind, fit_wind], dtype=bool)
    idx = np.flatnonzero(free)
    centre = s.mean(axis=0)
    p = np.array([*(x - centre), 0.0, c_mps, wind_mps[0], wind_mps[1]])
    _, jac = K.residuals_jacobian_numpy(s - centre, np.zeros(s.shape[0]), p, idx)
    fisher = jac.T @ (jac / sig[:, None] ** 2)
    diag = np.diag(fisher)
    scale = 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0))
    normed = fisher * np.outer(scale, scale)
    if not diag.min() > 0 or np.linalg.cond(normed) > 1e12:
        raise InputError("crlb: the geometry is singular (too few or collinear sensors for these unknowns)")
    inv = np.linalg.inv(normed) * np.outer(scale, scale)
    out = np.zeros((3, 3))
    npos = 3 if mode == "3d" else 2
    out[:npos, :npos] = inv[:npos, :npos]
    return out

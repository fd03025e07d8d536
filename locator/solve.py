"""Where and when a shot was fired, from its arrival times at several sensors (TDOA).

``solve(positions_m, toas_s, sigmas_s, ...) -> Solution`` is the one entry point.  It
validates, centres the coordinates (sensor centroid, earliest arrival) so that
UTM-sized positions or epoch-sized times lose no precision, and hands the problem
to a solver from :data:`SOLVERS`:

``"ls"``
    Plain weighted least squares: a closed-form start (Chan & Ho style constrained
    linear solution, both roots) refined by Levenberg–Marquardt.
``"robust"`` (default)
    ``"ls"``, then while an arrival is inconsistent with the others (normalised
    residual above ``SolverConfig.outlier_sigma``) leave out the one whose removal
    fits the rest best, if that lowers chi2 by more than chance (normal threshold
    with honest sigmas, Student's t when the scale had to be estimated from the
    residuals), and flag it with the reason;
    needs one redundant arrival beyond the unknowns to tell which one is wrong.
``"ransac"``
    Every minimal set of arrivals (random ones when there are many) gives exact
    candidates; the candidate most arrivals agree with is refined on its inliers.
    Handles several wrong arrivals at once, at the price of speed, but needs honest sigmas.

Unknowns: horizontal position and discharge time always; height in ``mode="3d"``
(in ``"2d"`` the shooter's height is given, by default near the ground below the
array); the speed of sound (``fit_c``) and a horizontal wind (``fit_wind``) on request.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import NamedTuple

import numpy as np
from scipy.special import stdtrit

from locator import _kernels as K
from locator.crlb import crlb
from salvo.errors import ConfigError, InputError

__all__ = ["Solution", "Ellipse", "Alternative", "SolverConfig", "SOLVERS", "solve", "crlb", "default_source_z"]


@dataclass(frozen=True)
class SolverConfig:
    """Tuning of the solvers; every field with its unit and default.

    Attributes
    ----------
    max_iter : int
        Levenberg–Marquardt iterations per start (default 30; 3–8 are typical).
    outlier_sigma : float
        An arrival whose residual exceeds this many of its own sigmas is inconsistent
        (dimensionless, default 4.0: a false alarm on 6e-5 of good arrivals); when the sigmas
        prove understated and the scale is estimated from the residuals, the Student-t
        threshold with the same tail probability is used instead.
    max_outliers : int
        At most this many arrivals are left out of one solution (default 3).
    sensor_height_m : float
        Typical height of a sensor above its ground, metres (default 5.0), for the
        default shooter height in "2d" mode.
    muzzle_height_m : float
        Height of the muzzle above the ground, metres (default 1.5).
    ransac_max_sets : int
        Minimal sets RANSAC tries; all of them when there are fewer (default 300).
    ransac_seed : int
        Seed of the random minimal sets, so results are reproducible (default 0).
    """

    max_iter: int = 30
    outlier_sigma: float = 4.0
    max_outliers: int = 3
    sensor_height_m: float = 5.0
    muzzle_height_m: float = 1.5
    ransac_max_sets: int = 300
    ransac_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("max_iter", "ransac_max_sets"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ConfigError(f"SolverConfig: {name} must be a whole number >= 1, got {getattr(self, name)!r}")
        if not (isinstance(self.max_outliers, int) and self.max_outliers >= 0):
            raise ConfigError(f"SolverConfig: max_outliers must be a whole number >= 0, got {self.max_outliers!r}")
        if not (math.isfinite(self.outlier_sigma) and self.outlier_sigma > 0):
            raise ConfigError(f"SolverConfig: outlier_sigma must be > 0, got {self.outlier_sigma!r}")
        for name in ("sensor_height_m", "muzzle_height_m"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"SolverConfig: {name} must be a finite number of metres")


DEFAULT_CONFIG = SolverConfig()


@dataclass(frozen=True)
class Ellipse:
    """1-sigma horizontal error ellipse.

    Attributes
    ----------
    semi_major_m, semi_minor_m : float
        Semi-axes, metres (square roots of the eigenvalues of the horizontal covariance).
    azimuth_deg : float
        Direction of the major axis, degrees clockwise from north (0..180).
    """

    semi_major_m: float
    semi_minor_m: float
    azimuth_deg: float


@dataclass(frozen=True)
class Alternative:
    """Another source position that fits the arrivals (the 3-sensor 2D mirror solution).

    Attributes
    ----------
    pos_m : ndarray, shape (3,)
        Position in the caller's frame, metres.
    t0_s : float
        Discharge time, seconds, in the caller's time base.
    chi2 : float
        Weighted sum of squared residuals at that position.
    """

    pos_m: np.ndarray
    t0_s: float
    chi2: float


@dataclass(frozen=True)
class Solution:
    """Where and when one shot was fired, and how sure the solver is.

    Attributes
    ----------
    ok : bool
        False when no position could be given; ``reason`` says why.
    reason : str
        Why ``ok`` is False, or a note on a valid solution (ambiguity, no redundancy); "" otherwise.
    pos_m : ndarray, shape (3,)
        Source position in the caller's frame, metres (NaN when not ok).
    cov_m2 : ndarray, shape (3, 3)
        Position covariance, m^2 (the z row/column is zero in "2d" mode, where z was given).
    t0_s : float
        Discharge time, seconds, in the same time base as ``toas_s``.
    residual_s : ndarray, shape (n,)
        Observed minus predicted arrival time per sensor, seconds (left-out sensors too).
    used : ndarray of bool, shape (n,)
        Sensors the solution rests on.
    flags : tuple of str, length n
        Why a sensor was left out ("" for sensors used).
    err_m : float
        1-sigma horizontal error radius, metres: ``sqrt(var_x + var_y)``.
    ellipse : Ellipse or None
        1-sigma horizontal error ellipse.
    gdop : float
        Horizontal geometric dilution of precision: ``err_m / (c * sigma_rms)`` (dimensionless).
    c_mps : float
        Speed of sound used or fitted, m/s.
    wind_mps : ndarray, shape (2,)
        Horizontal wind used or fitted (towards east, north), m/s.
    alternatives : tuple of Alternative
        Other positions that fit equally well (two roots with 3 sensors in 2D).
    chi2 : float
        Weighted sum of squared residuals over used sensors.
    dof : int
        Used sensors minus unknowns.
    mode : str
        "2d" or "3d".
    method : str
        Name of the solver in :data:`SOLVERS`.
    sigma_scale : float
        How many times the given sigmas the residuals show (1.0 when chi2 is plausible); ``cov_m2``,
        ``err_m`` and ``ellipse`` already include it, ``gdop`` does not.
    """

    ok: bool
    reason: str
    pos_m: np.ndarray
    cov_m2: np.ndarray
    t0_s: float
    residual_s: np.ndarray
    used: np.ndarray
    flags: tuple[str, ...]
    err_m: float
    ellipse: Ellipse | None
    gdop: float
    c_mps: float
    wind_mps: np.ndarray
    alternatives: tuple[Alternative, ...] = ()
    chi2: float = math.nan
    dof: int = 0
    mode: str = "2d"
    method: str = "robust"
    sigma_scale: float = 1.0


# ----------------------------------------------------------------------------------------------
# the problem as the solvers see it, and what they return
# ----------------------------------------------------------------------------------------------


class Problem(NamedTuple):
    """One shot, centred: what a solver in :data:`SOLVERS` receives.

    Attributes
    ----------
    s : ndarray, shape (n, 3)
        Sensor positions minus ``origin``, metres.
    tau : ndarray, shape (n,)
        Arrival times minus ``t_ref``, seconds.
    sigma : ndarray, shape (n,)
        1-sigma timing uncertainty, seconds.
    zf : float
        Source height (centred frame) in "2d" mode, metres; NaN in "3d".
    c : float
        Speed of sound (start value when fitted), m/s.
    wind : ndarray, shape (2,)
        Horizontal wind towards east, north (start value when fitted), m/s.
    free : ndarray of uint8, shape (7,)
        Which of [x, y, z, t0, c, wx, wy] are unknown.
    """

    s: np.ndarray
    tau: np.ndarray
    sigma: np.ndarray
    zf: float
    c: float
    wind: np.ndarray
    free: np.ndarray
    origin: np.ndarray
    t_ref: float
    weight: np.ndarray  # (n,) 1 / sigma^2, s^-2
    n_unknowns: int


class Fit(NamedTuple):
    """A solver's answer in the centred frame (params layout of :mod:`locator._kernels`).

    Problem and Fit are immutable named tuples rather than dataclasses because they are built
    several times per solve on the association's hot path (a frozen dataclass costs ~5x more).
    """

    status: int
    params: np.ndarray  # (7,)
    cov: np.ndarray  # (7, 7)
    res: np.ndarray  # (n,)
    used: np.ndarray  # (n,) bool
    chi2: float
    flags: tuple[str, ...]
    others: tuple[tuple[np.ndarray, float], ...] = ()  # (params, chi2) of other solutions
    note: str = ""
    stats: np.ndarray | None = None  # (8,) as ``locate``'s out_stats


def _run(problem: Problem, used: np.ndarray | None, config: SolverConfig) -> Fit:
    """One closed-form + LM solve over the ``used`` sensors (all when None)."""
    n = problem.s.shape[0]
    wt = problem.weight if used is None else problem.weight * used
    out_p = np.empty((2, K.NPAR))
    out_cost = np.empty(2)
    out_cov = np.empty((K.NPAR, K.NPAR))
    out_res = np.empty(n)
    stats = np.empty(8)
    found, status = K.locate(problem.s, problem.tau, wt, problem.zf, problem.c, problem.wind, problem.free,
                             config.max_iter, out_p, out_cost, out_cov, out_res, stats)
    if used is None:
        used = np.ones(n, dtype=bool)
    if found == 0:
        return Fit(status, np.full(K.NPAR, np.nan), out_cov, np.full(n, np.nan), used, math.inf, ("",) * n)
    others = ((out_p[1], float(out_cost[1])),) if found == 2 else ()
    return Fit(status, out_p[0], out_cov, out_res, used, float(out_cost[0]), ("",) * n, others, "", stats)


def _flag_text(res_s: float, sigma_s: float) -> str:
    kind = "late: non-line-of-sight or echo?" if res_s > 0 else "early: N-wave or wrong pick?"
    return f"left out: {res_s * 1e3:+.1f} ms ({abs(res_s) / sigma_s:.1f} sigma) off the others' fit, {kind}"


def solve_ls(problem: Problem, config: SolverConfig) -> Fit:
    """Plain weighted least squares over every arrival."""
    return _run(problem, None, config)


@lru_cache(maxsize=512)
def _t_limit(dof: int, outlier_sigma: float) -> float:
    """Student-t quantile (``dof`` degrees of freedom) with the normal upper tail of ``outlier_sigma``.

    When the scale is estimated from the others' residuals, sqrt(chi2 / dof), the studentised
    residual of a good arrival follows Student's t with dof degrees of freedom, not the normal; the
    same false-alarm rate as ``outlier_sigma`` under the normal needs this larger threshold (4.0 ->
    9.8 at 6 dof, 5.0 at 20).  With few arrivals to estimate the scale from, the normal threshold
    leaves out good arrivals that are merely the largest of a scatter.
    """
    tail = 0.5 * math.erfc(outlier_sigma / math.sqrt(2.0))
    return float(-stdtrit(dof, tail))


def solve_robust(problem: Problem, config: SolverConfig) -> Fit:
    """Least squares, then leave out inconsistent arrivals one at a time (best leave-one-out fit).

    When some residual exceeds ``outlier_sigma`` sigmas, the arrival whose removal fits the others
    best is the suspect.  It is left out only if leaving it out lowers chi2 by more than chance
    (the deletion statistic, the externally studentised residual squared): by more than
    ``outlier_sigma``^2 when the others' scatter agrees with the given sigmas, or by the Student-t
    equivalent (:func:`_t_limit`) in units of the others' scatter when the scale had to be
    estimated from their residuals.  A wrong arrival must stand out from the others' own scatter.
    """
    fit = solve_ls(problem, config)
    limit = config.outlier_sigma**2
    if fit.status == K.NO_CANDIDATE or (fit.status == K.OK and fit.stats[0] <= limit):
        return fit  # the common case: every arrival consistent
    flags = list(fit.flags)
    k = problem.n_unknowns
    removed = 0
    # SINGULAR here means a wrong arrival dragged the fit off to where the geometry degenerates
    while fit.status == K.SINGULAR or fit.stats[0] > limit:
        if int(fit.stats[1]) - 1 < k + 1:
            return fit._replace(flags=tuple(flags),
                                note="arrivals are inconsistent but too few are redundant to tell which is wrong")
        if removed >= config.max_outliers:
            return fit._replace(flags=tuple(flags), note=f"arrivals still inconsistent after leaving out {removed}")
        best = None
        for j in np.flatnonzero(fit.used):
            trial_used = fit.used.copy()
            trial_used[j] = False
            trial = _run(problem, trial_used, config)
            if trial.status == K.OK and (best is None or trial.chi2 < best[1].chi2):
                best = (j, trial)
        if best is None:
            break
        j, trial = best
        # Deletion statistic: how much leaving j out lowers chi2.  For a model linear near the fit it is
        # j's squared residual against the others' prediction, in units of its own variance plus the
        # prediction's (the externally studentised residual squared); it also catches a full fit that
        # a wrong arrival dragged into a false minimum, where the drop is far larger than j's residual.
        drop = fit.chi2 - trial.chi2 if fit.status == K.OK else math.inf
        dof = int(trial.stats[1]) - k
        scale2, z_limit = 1.0, config.outlier_sigma
        # Same plausibility test as sigma_scale.  Its price: with 1-2 dof it fires by chance on ~1% of honest
        # fits, and the t threshold of so noisy a scale then keeps a wrong arrival (robustness bench at 1 ms:
        # 95.5% vs 96.0% with the normal threshold).  A switch as strict as the outlier tail itself keeps
        # those but makes understated sigmas with few sensors leave good arrivals out again (30% of 8-sensor
        # shots with 4x understated sigmas): the scale cannot be known from 2-4 dof either way.
        if dof > 0 and trial.chi2 > dof + 3.0 * math.sqrt(2.0 * dof):
            scale2 = trial.chi2 / dof
            z_limit = _t_limit(dof, config.outlier_sigma)
        if drop <= z_limit * z_limit * scale2:
            break  # within the others' own scatter: the sigmas were understated, not an outlier
        fit = trial
        z = math.sqrt(drop / scale2) if math.isfinite(drop) else math.inf
        sd = abs(float(fit.res[j])) / z if math.isfinite(z) else float(problem.sigma[j]) * math.sqrt(scale2)
        flags[j] = _flag_text(float(fit.res[j]), sd)
        removed += 1
    return fit._replace(flags=tuple(flags))


def solve_ransac(problem: Problem, config: SolverConfig) -> Fit:
    """RANSAC over minimal sets of arrivals, then least squares on the largest consistent set.

    Inliers are arrivals within ``outlier_sigma`` of their own sigma, so this needs honest sigmas:
    with understated ones (real data) it keeps only the few arrivals that happen to agree.
    """
    n = problem.s.shape[0]
    m = 4 if np.isnan(problem.zf) else 3  # position components + t0 (c and wind come in the refit)
    if n <= m + 1:
        return solve_robust(problem, config)
    sets = list(combinations(range(n), m))
    if len(sets) > config.ransac_max_sets:
        rng = np.random.default_rng(config.ransac_seed)
        sets = [tuple(sorted(rng.choice(n, m, replace=False))) for _ in range(config.ransac_max_sets)]
    base_free = problem.free.copy()
    base_free[K.IC:] = 0
    sub = problem._replace(free=base_free, n_unknowns=int(base_free.sum()))
    best_inliers, best_cost = None, math.inf
    for chosen in sets:
        used = np.zeros(n, dtype=bool)
        used[list(chosen)] = True
        fit = _run(sub, used, config)
        if fit.status != K.OK:
            continue
        for params in (fit.params, *(p for p, _ in fit.others)):
            t, _ = K.travel_numpy(problem.s - params[:3], params[K.IC], params[K.IWX:])
            z = np.abs(problem.tau - params[K.IT0] - t) / problem.sigma
            inliers = z <= config.outlier_sigma
            cost = float(np.sum(np.minimum(z, config.outlier_sigma) ** 2))
            if best_inliers is None or inliers.sum() > best_inliers.sum() or (
                    inliers.sum() == best_inliers.sum() and cost < best_cost):
                best_inliers, best_cost = inliers, cost
    if best_inliers is None or best_inliers.sum() < problem.n_unknowns:
        return solve_robust(problem, config)
    fit = _run(problem, best_inliers, config)
    flags = tuple("" if best_inliers[i] else _flag_text(float(fit.res[i]), float(problem.sigma[i]))
                  for i in range(n))
    return Fit(fit.status, fit.params, fit.cov, fit.res, fit.used, fit.chi2, flags, fit.others, fit.note, fit.stats)


#: The solvers by name; each takes a :class:`Problem` and a :class:`SolverConfig` and returns a :class:`Fit`.
SOLVERS: dict[str, Callable[[Problem, SolverConfig], Fit]] = {
    "ls": solve_ls,
    "robust": solve_robust,
    "ransac": solve_ransac,
}
DEFAULT_METHOD = "robust"


# ----------------------------------------------------------------------------------------------
# the public entry point
# ----------------------------------------------------------------------------------------------


def default_source_z(positions_m, config: SolverConfig = DEFAULT_CONFIG) -> float:
    """Default shooter height for "2d" mode: near the ground below the array, metres.

    The median sensor height minus a typical mount height plus the muzzle height: the
    median resists one sensor on a tall building or down in a valley.
    """
    z = np.asarray(positions_m, dtype=np.float64)[:, 2]
    return float(np.median(z) - config.sensor_height_m + config.muzzle_height_m)


def _check(name: str, arr: np.ndarray) -> None:
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise InputError(f"{name}{list(bad.tolist())}: is {arr[tuple(bad)]!r}, not a finite number")


def solve(positions_m, toas_s, sigmas_s, *, mode: str = "2d", z_m: float | None = None, c_mps: float = 343.2,
          fit_c: bool = False, fit_wind: bool = False, method: str | None = None,
          config: SolverConfig | None = None, wind_mps=None, near_m=None) -> Solution:
    """Locate one shot from its arrival times.

    Parameters
    ----------
    positions_m : array_like, shape (n, 3)
        Sensor positions, metres, in any Cartesian frame (e.g. local ENU or UTM).
    toas_s : array_like, shape (n,)
        Arrival times, seconds, in any time base (e.g. relative to the first detection).
    sigmas_s : float or array_like, shape (n,)
        1-sigma uncertainty of each arrival time, seconds (picker, clock and position error together).
    mode : {"2d", "3d"}
        "2d": the shooter's height is given (``z_m``) and x, y, t0 are solved; "3d": z too.
    z_m : float, optional
        Shooter (muzzle) height in "2d" mode, same frame as ``positions_m``; default
        :func:`default_source_z` (near the ground below the array).
    c_mps : float
        Speed of sound, m/s (its start value when ``fit_c``).
    fit_c : bool
        Also solve for the speed of sound (one more unknown).
    fit_wind : bool
        Also solve for a horizontal wind vector (two more unknowns).
    method : str, optional
        Name in :data:`SOLVERS` (default "robust").
    config : SolverConfig, optional
    wind_mps : array_like, shape (2,), optional
        Known horizontal wind (towards east, north), m/s, e.g. from a weather station; the start
        value when ``fit_wind``.  Default no wind.
    near_m : tuple (array_like (2,), float), optional
        ``((x, y), radius)``, metres, same frame (radius > 0; inf: anywhere): where the source
        can be.  When the best solution lies farther than ``radius`` from ``(x, y)`` and another that fits as well
        (``Solution.alternatives``: the mirror root of an exact 3-arrival fix) lies within,
        that one is given, and the far one becomes the alternative.  Default: the better fit.

    Returns
    -------
    Solution
        ``ok=False`` with a reason when there are fewer usable sensors than unknowns
        or the geometry cannot fix the position (coincident or collinear sensors).

    Raises
    ------
    InputError
        When an argument has the wrong shape or holds NaN/inf, a sigma is not positive,
        or ``mode``/``method`` is unknown.
    """
    config = DEFAULT_CONFIG if config is None else config
    method = DEFAULT_METHOD if method is None else method
    pos = np.asarray(positions_m, dtype=np.float64)
    toa = np.asarray(toas_s, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise InputError(f"positions_m: expected shape (n, 3), got {pos.shape}")
    n = pos.shape[0]
    if toa.shape != (n,):
        raise InputError(f"toas_s: expected shape ({n},) to match positions_m, got {toa.shape}")
    sig = np.asarray(sigmas_s, dtype=np.float64)
    if sig.shape != (n,):
        if sig.ndim != 0:
            raise InputError(f"sigmas_s: expected a number or shape ({n},), got {sig.shape}")
        sig = np.full(n, float(sig))
    free = _FREE.get((mode, bool(fit_c), bool(fit_wind)))
    if free is None:
        raise InputError(f"mode: {mode!r} is not '2d' or '3d'")
    if not (math.isfinite(c_mps) and c_mps > 100.0):
        raise InputError(f"c_mps: {c_mps!r} is not a plausible speed of sound (m/s)")
    solver = SOLVERS.get(method)
    if solver is None:
        raise InputError(f"method: {method!r} is not one of {sorted(SOLVERS)}")
    k = _N_FREE[free.tobytes()]
    if wind_mps is None:
        wind = _NO_WIND
    else:
        wind = np.asarray(wind_mps, dtype=np.float64)
        if wind.shape != (2,) or not np.isfinite(wind).all() or float(wind @ wind) > (0.25 * c_mps) ** 2:
            raise InputError(f"wind_mps: {wind_mps!r} is not a finite (east, north) wind well below c_mps")
    if near_m is not None:
        try:
            centre, radius = near_m
            centre_m, radius_m = np.asarray(centre, dtype=np.float64), float(radius)
        except (TypeError, ValueError, KeyError):
            centre_m, radius_m = np.full(1, np.nan), math.nan
        if centre_m.shape != (2,) or not np.isfinite(centre_m).all() or not radius_m > 0:
            raise InputError(f"near_m: {near_m!r} is not ((x, y), radius) in metres with a radius > 0")
    if n == 0:
        return _failed(0, f"0 sensors for {k} unknowns: at least {k} needed", mode, method, c_mps)

    # Centre (sensor centroid, earliest arrival): UTM-sized coordinates and epoch-sized times
    # would otherwise cost digits in the squared ranges.  One kernel pass also checks finiteness.
    s = np.empty((n, 3))
    tau = np.empty(n)
    weight = np.empty(n)
    origin = np.empty(3)
    code, t_ref, z_median = K.prepare(pos, toa, sig, s, tau, weight, origin)
    if code != K.OK:
        _check("positions_m", pos)
        _check("toas_s", toa)
        _check("sigmas_s", sig)
        raise InputError(f"sigmas_s[{int(np.argmin(sig > 0))}]: must be > 0 seconds")
    if mode == "2d":
        if z_m is None:
            z_m = z_median - config.sensor_height_m + config.muzzle_height_m
        elif not math.isfinite(z_m):
            raise InputError(f"z_m: {z_m!r} is not a finite height (m)")
    if n < k:
        what = "x, y" + (", z" if mode == "3d" else "") + ", t0" + (", c" if fit_c else "") + (
            ", wind" if fit_wind else "")
        return _failed(n, f"{n} sensors for {k} unknowns ({what}): at least {k} needed", mode, method, c_mps)
    zf = float(z_m) - float(origin[2]) if mode == "2d" else math.nan
    problem = Problem(s, tau, sig, zf, float(c_mps), wind, free, origin, float(t_ref), weight, k)
    fit = solver(problem, config)
    if fit.status != K.OK:
        return _failed(n, _degenerate_reason(problem, fit), mode, method, c_mps)
    if near_m is not None and fit.others:
        fit = _nearer(problem, fit, centre_m, radius_m)
    return _solution(problem, fit, mode, method)


def _nearer(problem: Problem, fit: Fit, centre_m: np.ndarray, radius_m: float) -> Fit:
    """``fit``, or the other root that fits as well (``_ambiguous``) when only that one lies within
    ``radius_m`` of ``centre_m`` ((2,), caller's frame), with residuals and covariance evaluated there."""
    centre = centre_m - problem.origin[:2]

    def inside(params: np.ndarray) -> bool:
        return bool(np.hypot(*(params[:2] - centre)) <= radius_m)

    if inside(fit.params):
        return fit
    for params, chi2 in fit.others:
        if not (inside(params) and _ambiguous(problem, fit, params, chi2)):
            continue
        idx = np.flatnonzero(problem.free)
        res, jac = K.residuals_jacobian_numpy(problem.s, problem.tau, params, idx)
        w = problem.weight * fit.used
        fisher = (jac * w[:, None]).T @ jac
        cov = np.zeros((K.NPAR, K.NPAR))
        unit, col = np.zeros(idx.size), np.empty(idx.size)
        for j in range(idx.size):  # as the kernel does; a singular Fisher matrix leaves the fit as it was
            unit[:] = 0.0
            unit[j] = 1.0
            if not K._chol_solve(fisher, unit, col):
                return fit
            cov[idx, idx[j]] = col
        stats = fit.stats.copy()
        stats[0] = float(np.max(w * res * res))
        K._ellipse(cov, stats)
        # what an arrival left out is off by, now from this root
        flags = tuple(f and _flag_text(float(r), float(sd)) for f, r, sd in zip(fit.flags, res, problem.sigma))
        return fit._replace(params=params.copy(), cov=cov, res=res, chi2=chi2, flags=flags,
                            others=((fit.params, fit.chi2),), stats=stats)
    return fit


def _ambiguous(problem: Problem, fit: Fit, params: np.ndarray, chi2: float) -> bool:
    """Whether another root ``params`` (its ``chi2``) of ``fit`` is a real ambiguity: it fits as well
    as chance allows and was fired before the arrivals."""
    dof = int(fit.stats[1]) - problem.n_unknowns
    return chi2 <= dof + 3.0 * math.sqrt(2.0 * max(dof, 0)) + 1e-6 and params[K.IT0] <= fit.stats[3]


def _free_mask(mode: str, fit_c: bool, fit_wind: bool) -> np.ndarray:
    mask = np.array([1, 1, mode == "3d", 1, fit_c, fit_wind, fit_wind], dtype=np.uint8)
    mask.setflags(write=False)
    return mask


# Which of [x, y, z, t0, c, wx, wy] are unknown, per (mode, fit_c, fit_wind): built once, shared read-only.
_FREE = {(m, fc, fw): _free_mask(m, fc, fw) for m in ("2d", "3d") for fc in (False, True) for fw in (False, True)}
_N_FREE = {mask.tobytes(): int(mask.sum()) for mask in _FREE.values()}
_NO_WIND = np.zeros(2)
_NO_WIND.setflags(write=False)


def _failed(n: int, reason: str, mode: str, method: str, c_mps: float) -> Solution:
    nan3 = np.full(3, np.nan)
    return Solution(False, reason, nan3, np.full((3, 3), np.nan), math.nan, np.full(n, np.nan),
                    np.zeros(n, dtype=bool), ("",) * n, math.nan, None, math.nan, c_mps, np.zeros(2), (),
                    math.nan, 0, mode, method)


def _degenerate_reason(problem: Problem, fit: Fit) -> str:
    pts = problem.s[fit.used]
    horiz = pts[:, :2] - pts[:, :2].mean(axis=0)
    sv = np.linalg.svd(horiz, compute_uv=False) if len(pts) > 1 else np.zeros(2)
    spread = float(np.ptp(pts, axis=0).max()) if len(pts) else 0.0
    if spread < 1e-6:
        return "sensors coincide: no baseline to locate from"
    if sv.size < 2 or sv[1] < 1e-6 * max(sv[0], 1e-12):
        return "sensors are collinear: the position is ambiguous across their line"
    if np.isnan(problem.zf) and np.ptp(pts[:, 2]) < 1e-3 * spread:
        return "sensors are coplanar: the height is ambiguous above/below their plane; use mode='2d'"
    return "geometry does not fix the unknowns (singular information matrix)"


def _solution(problem: Problem, fit: Fit, mode: str, method: str) -> Solution:
    p = fit.params
    _, n_used, sig2_mean, _, err, major, minor, azimuth = fit.stats.tolist()
    dof = int(n_used) - problem.n_unknowns
    note = fit.note
    alternatives = []
    for params, chi2 in fit.others:
        if _ambiguous(problem, fit, params, chi2):
            alternatives.append(Alternative(params[:3] + problem.origin, float(params[K.IT0] + problem.t_ref),
                                            chi2))
    if alternatives:
        note = (note + "; " if note else "") + (
            f"{len(alternatives) + 1} positions fit the arrivals; the alternatives are listed")
    elif dof == 0 and not note:
        note = "no redundant arrival: a wrong arrival cannot be detected"
    c_fit = p[K.IC].item()
    gdop = err / (c_fit * math.sqrt(sig2_mean))
    cov = fit.cov[:3, :3].copy()
    # Residuals far beyond chance mean the sigmas were understated: widen the covariance by the
    # observed variance ratio so that err_m stays honest (left alone when they are plausible).
    scale2 = fit.chi2 / dof if dof > 0 and fit.chi2 > dof + 3.0 * math.sqrt(2.0 * dof) else 1.0
    if scale2 != 1.0:
        cov *= scale2
        k = math.sqrt(scale2)
        err, major, minor = err * k, major * k, minor * k
    return Solution(True, note, p[:3] + problem.origin, cov, p[K.IT0].item() + problem.t_ref, fit.res, fit.used,
                    fit.flags, err, Ellipse(major, minor, azimuth), gdop, c_fit, p[K.IWX:].copy(),
                    tuple(alternatives), fit.chi2, dof, mode, method, math.sqrt(scale2))

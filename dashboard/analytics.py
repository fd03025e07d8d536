"""Violence-prevention analytics over incident columns: zones, schools, time of day, trend, heatmap.

The approach: every incident's zone, schools (within the radius), local hour, weekday,
day, month, day period and fireworks flag are computed once when the data is loaded
(:func:`build_dataset`); a query is then a boolean mask (:func:`select`) and a handful of
``np.bincount`` calls over it, which stays well under a second for a million incidents.
Time-of-day fields are local wall-clock time in the configured zone (SF: America/Los_Angeles).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dashboard.config import DashboardConfig
from dashboard.density import KDE_KERNELS
from dashboard.geo import Zone, assign_zones, build_zone_index, project_m, school_members
from dashboard.localtime import LocalFields, local_date_to_day, local_fields, month_label
from dashboard.store import IncidentColumns, School
from salvo.errors import InputError

#: Day periods, in code order (``Dataset.period``).
PERIODS = ("school hours", "after school", "night", "weekend / no school", "other")
FIREWORKS_MODES = ("include", "exclude", "only")
_DAY_S = 86_400


@dataclass(frozen=True)
class Dataset:
    """Incidents with everything a query needs precomputed. Built by :func:`build_dataset`.

    Attributes
    ----------
    cols : IncidentColumns
        The raw columns (n incidents, time order).
    local : LocalFields
        Local wall-clock fields.
    zone : ndarray of int32, shape (n,)
        Index into ``zone_names``, -1 outside every zone.
    zone_names : tuple of str
    zones : tuple of Zone
    schools : tuple of School
    school_start, school_members : ndarray of int64
        CSR: incidents within the radius of school ``s`` are
        ``school_members[school_start[s]:school_start[s+1]]``.
    school_zone : ndarray of int32, shape (n_schools,)
        Zone of each school, -1 outside every zone.
    period : ndarray of int8, shape (n,)
        Index into :data:`PERIODS`.
    fireworks : ndarray of bool, shape (n,)
        Inside a fireworks window (July 4th, New Year, +- ``fireworks_window_h``).
    days_sorted : bool
        Local day numbers never decrease along the (time-ordered) columns, so a date window
        is a slice (false only where a zone's clock change crosses midnight in the data).
    config : DashboardConfig
    """

    cols: IncidentColumns
    local: LocalFields
    zone: np.ndarray
    zone_names: tuple[str, ...]
    zones: tuple[Zone, ...]
    schools: tuple[School, ...]
    school_start: np.ndarray
    school_members: np.ndarray
    school_zone: np.ndarray
    period: np.ndarray
    fireworks: np.ndarray
    days_sorted: bool
    config: DashboardConfig

    @property
    def n(self) -> int:
        """Number of incidents."""
        return self.cols.n


@dataclass(frozen=True)
class Filter:
    """A query. Empty tuples mean "no restriction".

    Attributes
    ----------
    t0_ns, t1_ns : int or None
        UTC time window [t0, t1), nanoseconds.
    day0, day1 : int or None
        Local date window [day0, day1] as local day numbers (inclusive), the form the page uses.
    zones : tuple of int
        Zone indices.
    school : int or None
        School index: only incidents within its radius.
    hours : tuple of int
        Local hours of day, 0..23.
    weekdays : tuple of int
        0 = Monday .. 6 = Sunday.
    fireworks : str
        ``include`` | ``exclude`` | ``only`` the fireworks windows.
    """

    t0_ns: int | None = None
    t1_ns: int | None = None
    day0: int | None = None
    day1: int | None = None
    zones: tuple[int, ...] = ()
    school: int | None = None
    hours: tuple[int, ...] = ()
    weekdays: tuple[int, ...] = ()
    fireworks: str = "include"


def _periods(local: LocalFields, cfg: DashboardConfig) -> np.ndarray:
    sd = cfg.school_day
    school_day = np.isin(local.weekday, np.asarray(sd.weekdays, dtype=np.int8))
    if sd.holidays:
        school_day &= ~np.isin(local.day, np.asarray([local_date_to_day(h) for h in sd.holidays], np.int32))
    if sd.terms:
        in_term = np.zeros_like(school_day)
        for a, b in sd.terms:
            in_term |= (local.day >= local_date_to_day(a)) & (local.day <= local_date_to_day(b))
        school_day &= in_term
    h = local.hour_f
    if sd.night_start_hour > sd.night_end_hour:
        night = (h >= sd.night_start_hour) | (h < sd.night_end_hour)
    else:
        night = (h >= sd.night_start_hour) & (h < sd.night_end_hour)
    period = np.full(h.shape, 4, dtype=np.int8)
    period[(h >= sd.start_hour) & (h < sd.end_hour)] = 0
    period[(h >= sd.end_hour) & (h < sd.after_school_end_hour)] = 1
    period[night] = 2
    period[~school_day] = 3
    return period


def _fireworks(local: LocalFields, window_h: float) -> np.ndarray:
    if local.local_s.size == 0:
        return np.zeros(0, dtype=bool)
    years = local.month // 12 + 1970
    w = int(window_h * 3600)
    flag = np.zeros(local.local_s.shape, dtype=bool)
    for y in range(int(years.min()) - 1, int(years.max()) + 2):
        ny = local_date_to_day(f"{y}-01-01") * _DAY_S  # local midnight starting the year
        flag |= (local.local_s >= ny - w) & (local.local_s < ny + w)
        j4 = local_date_to_day(f"{y}-07-04") * _DAY_S  # the whole local day of July 4th
        flag |= (local.local_s >= j4 - w) & (local.local_s < j4 + _DAY_S + w)
    return flag


def build_dataset(cols: IncidentColumns, zones: list[Zone], schools: list[School], config: DashboardConfig) -> Dataset:
    """Precompute every incident's zone, schools, local time fields, period and fireworks flag."""
    local = local_fields(cols.t_ns, config.timezone)
    zindex = build_zone_index(zones)
    zone = assign_zones(cols.lat, cols.lon, zindex)
    start, members = school_members(cols.lat, cols.lon, schools, config.school_radius_m)
    school_zone = assign_zones(np.array([s.lat for s in schools], float), np.array([s.lon for s in schools], float),
                               zindex)
    return Dataset(
        cols=cols, local=local, zone=zone, zone_names=zindex.names, zones=tuple(zones), schools=tuple(schools),
        school_start=start, school_members=members, school_zone=school_zone,
        period=_periods(local, config), fireworks=_fireworks(local, config.fireworks_window_h),
        days_sorted=bool(np.all(np.diff(local.day) >= 0)), config=config,
    )


def with_zones(ds: Dataset, zones: list[Zone]) -> Dataset:
    """The same dataset grouped by another zone set (only the zone assignment is redone)."""
    zindex = build_zone_index(zones)
    school_zone = assign_zones(np.array([s.lat for s in ds.schools], float),
                               np.array([s.lon for s in ds.schools], float), zindex)
    return replace(ds, zone=assign_zones(ds.cols.lat, ds.cols.lon, zindex), zone_names=zindex.names,
                   zones=tuple(zones), school_zone=school_zone)


def select(ds: Dataset, f: Filter) -> np.ndarray:
    """Boolean mask (n,) of the incidents that pass ``f``.

    The columns are in time order, so the time window (and the local date window, while
    local days do not run backwards in the data) is a slice; the other tests run on the
    slice only, which makes date-limited queries cost in proportion to their window.
    """
    n = ds.n
    lo, hi = 0, n
    if f.t0_ns is not None:
        lo = max(lo, int(np.searchsorted(ds.cols.t_ns, f.t0_ns, "left")))
    if f.t1_ns is not None:
        hi = min(hi, int(np.searchsorted(ds.cols.t_ns, f.t1_ns, "left")))
    if ds.days_sorted:
        if f.day0 is not None:
            lo = max(lo, int(np.searchsorted(ds.local.day, f.day0, "left")))
        if f.day1 is not None:
            hi = min(hi, int(np.searchsorted(ds.local.day, f.day1, "right")))
    m = np.zeros(n, dtype=bool)
    if hi <= lo:
        return m
    win = slice(lo, hi)
    sub = np.ones(hi - lo, dtype=bool)
    if not ds.days_sorted:
        if f.day0 is not None:
            sub &= ds.local.day[win] >= f.day0
        if f.day1 is not None:
            sub &= ds.local.day[win] <= f.day1
    if f.zones:
        zmask = np.zeros(len(ds.zone_names) + 1, dtype=bool)  # last slot: zone -1
        zmask[list(f.zones)] = True
        sub &= zmask[ds.zone[win]]
    if f.school is not None:
        s = f.school
        near = np.zeros(n, dtype=bool)
        near[ds.school_members[ds.school_start[s] : ds.school_start[s + 1]]] = True
        sub &= near[win]
    if f.hours:
        hm = np.zeros(24, dtype=bool)
        hm[list(f.hours)] = True
        sub &= hm[ds.local.hour[win]]
    if f.weekdays:
        wm = np.zeros(7, dtype=bool)
        wm[list(f.weekdays)] = True
        sub &= wm[ds.local.weekday[win]]
    if f.fireworks == "exclude":
        sub &= ~ds.fireworks[win]
    elif f.fireworks == "only":
        sub &= ds.fireworks[win]
    m[win] = sub
    return m


@dataclass(frozen=True)
class GroupCounts:
    """Incidents and rounds per group (zone or school), in the dataset's group order."""

    names: tuple[str, ...]
    incidents: np.ndarray
    rounds: np.ndarray


def zone_counts(ds: Dataset, mask: np.ndarray) -> GroupCounts:
    """Incidents and rounds per zone (incidents outside every zone are not counted)."""
    k = len(ds.zone_names)
    z = ds.zone[mask]
    inz = z >= 0
    return GroupCounts(
        ds.zone_names,
        np.bincount(z[inz], minlength=k)[:k].astype(np.int64),
        np.bincount(z[inz], weights=ds.cols.rounds[mask][inz], minlength=k)[:k].astype(np.int64),
    )


def school_counts(ds: Dataset, mask: np.ndarray) -> GroupCounts:
    """Incidents and rounds within the radius of each school (an incident may count for several)."""
    ns = len(ds.schools)
    if ns == 0 or ds.school_members.size == 0:
        z = np.zeros(ns, np.int64)
        return GroupCounts(tuple(s.name for s in ds.schools), z, z.copy())
    hit = mask[ds.school_members]
    w = ds.cols.rounds[ds.school_members] * hit
    owner = np.repeat(np.arange(ns), np.diff(ds.school_start))
    return GroupCounts(
        tuple(s.name for s in ds.schools),
        np.bincount(owner, weights=hit, minlength=ns).astype(np.int64),
        np.bincount(owner, weights=w, minlength=ns).astype(np.int64),
    )


def hour_weekday(ds: Dataset, mask: np.ndarray) -> np.ndarray:
    """Incident counts, shape (7, 24): [weekday (0 = Monday), local hour]."""
    cell = ds.local.weekday[mask].astype(np.int64) * 24 + ds.local.hour[mask]
    return np.bincount(cell, minlength=168).reshape(7, 24)


def period_counts(ds: Dataset, mask: np.ndarray) -> np.ndarray:
    """Incident counts per :data:`PERIODS` entry, shape (5,)."""
    return np.bincount(ds.period[mask], minlength=len(PERIODS))


@dataclass(frozen=True)
class Trend:
    """Monthly trend.

    Attributes
    ----------
    months : tuple of str
        ``YYYY-MM`` for every month from the first to the last selected incident.
    incidents, rounds : ndarray of int64, shape (k,)
    change : ndarray of float64, shape (k,)
        Incidents minus the previous month's (NaN for the first month).
    change_pct : ndarray of float64, shape (k,)
        Relative change vs the previous month, percent (NaN where the previous month had none).
    """

    months: tuple[str, ...]
    incidents: np.ndarray
    rounds: np.ndarray
    change: np.ndarray
    change_pct: np.ndarray


def monthly_trend(ds: Dataset, mask: np.ndarray) -> Trend:
    """Incidents and rounds per local calendar month, with the change versus the month before."""
    mo = ds.local.month[mask]
    if mo.size == 0:
        e = np.zeros(0)
        return Trend((), e.astype(np.int64), e.astype(np.int64), e, e)
    m0 = int(mo.min())
    k = int(mo.max()) - m0 + 1
    inc = np.bincount(mo - m0, minlength=k).astype(np.int64)
    rnd = np.bincount(mo - m0, weights=ds.cols.rounds[mask], minlength=k).astype(np.int64)
    change = np.full(k, np.nan)
    pct = np.full(k, np.nan)
    change[1:] = inc[1:] - inc[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        pct[1:] = np.where(inc[:-1] > 0, 100.0 * change[1:] / inc[:-1], np.nan)
    return Trend(tuple(month_label(m0 + i) for i in range(k)), inc, rnd, change, pct)


@dataclass(frozen=True)
class Heatmap:
    """Kernel density of incidents on a regular grid.

    Attributes
    ----------
    density : ndarray of float64, shape (ny, nx)
        Incidents per km^2; row 0 is the southern edge.
    lat0, lon0, lat1, lon1 : float
        Grid bounds (south, west, north, east), degrees.
    bandwidth_m : float
        Kernel bandwidth, metres (Gaussian: standard deviation; quartic: radius).
    cell_m : float
        Grid cell size, metres.
    kernel : str
        The kernel's name in :data:`dashboard.density.KDE_KERNELS`.
    """

    density: np.ndarray
    lat0: float
    lon0: float
    lat1: float
    lon1: float
    bandwidth_m: float
    cell_m: float
    kernel: str


def heatmap(ds: Dataset, mask: np.ndarray, bounds: tuple[float, float, float, float] | None = None,
            bandwidth_m: float | None = None, cell_m: float | None = None, max_cells: int = 250_000,
            kernel: str | None = None) -> Heatmap:
    """Kernel density estimate of the selected incidents on a grid.

    A binned KDE: incidents are counted into cells of ``cell_m`` on a local
    equirectangular grid and the count grid is convolved with the kernel (see
    :mod:`dashboard.density`: by default a Gaussian of standard deviation
    ``bandwidth_m``, truncated at 4 sigma). Binning moves each point by at most half a
    cell, small against the bandwidth.

    Parameters
    ----------
    bounds : (south, west, north, east), degrees, optional
        Grid extent; default the zones' extent (or the incidents', padded by 3 bandwidths).
    bandwidth_m, cell_m : float, optional
        Defaults from the config.
    kernel : str, optional
        A :data:`dashboard.density.KDE_KERNELS` name; default from the config.
    max_cells : int
        Refuse grids larger than this (nx * ny).
    """
    bw = float(bandwidth_m or ds.config.kde_bandwidth_m)
    kname = kernel or ds.config.kde_kernel
    if kname not in KDE_KERNELS:
        raise InputError(f"kernel: {kname!r} is not one of {', '.join(KDE_KERNELS)}")
    cell = float(cell_m or ds.config.kde_cell_m)
    if bounds is None:
        if ds.zones:
            zb = build_zone_index(list(ds.zones)).zbox
            bounds = (zb[:, 1].min(), zb[:, 0].min(), zb[:, 3].max(), zb[:, 2].max())
        elif ds.n:
            pad = np.degrees(3 * bw / 6_371_008.8)
            bounds = (ds.cols.lat.min() - pad, ds.cols.lon.min() - pad, ds.cols.lat.max() + pad, ds.cols.lon.max() + pad)
        else:
            bounds = (0.0, 0.0, 0.01, 0.01)
    s, w, n_, e = (float(v) for v in bounds)
    if not (n_ > s and e > w):
        raise InputError(f"heatmap bounds {bounds}: need south < north and west < east")
    lat0 = 0.5 * (s + n_)
    x1, y1 = project_m(np.array([n_]), np.array([e]), lat0, w)
    _, y0 = project_m(np.array([s]), np.array([w]), lat0, w)
    nx = max(1, int(np.ceil(x1[0] / cell)))
    ny = max(1, int(np.ceil((y1[0] - y0[0]) / cell)))
    if nx * ny > max_cells:
        raise InputError(f"heatmap grid {nx} x {ny} exceeds {max_cells} cells; use a larger cell_m")
    x, y = project_m(ds.cols.lat[mask], ds.cols.lon[mask], lat0, w)
    ix = np.floor(x / cell).astype(np.int64)
    iy = np.floor((y - y0[0]) / cell).astype(np.int64)
    ok = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    counts = np.bincount(iy[ok] * nx + ix[ok], minlength=nx * ny).reshape(ny, nx).astype(np.float64)
    dens = KDE_KERNELS[kname](counts, bw / cell)
    dens *= 1e6 / (cell * cell)  # per cell -> per km^2
    # The grid's real north/east edges are whole cells past the requested ones.
    lat1 = s + np.degrees(ny * cell / 6_371_008.8)
    lon1 = w + np.degrees(nx * cell / (6_371_008.8 * np.cos(np.radians(lat0))))
    return Heatmap(dens, s, w, float(lat1), float(lon1), bw, cell, kname)

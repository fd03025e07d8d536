"""Typed configuration of the dashboard: every field with its unit and default in one place.

A TOML file may override any field::

    timezone = "America/Los_Angeles"
    school_radius_m = 500.0
    kde_bandwidth_m = 150.0

    [school_day]
    start_hour = 8.0          # local hours, 0-24
    end_hour = 15.0
    after_school_end_hour = 18.0
    night_start_hour = 20.0
    night_end_hour = 6.0
    weekdays = [0, 1, 2, 3, 4]  # 0 = Monday
    holidays = ["2014-12-25"]   # local dates with no school (whole-day)
    terms = [["2013-08-19", "2014-05-30"]]  # school in session (inclusive); empty = all year

    [limits]
    max_query_chars = 2048
"""

from __future__ import annotations

import datetime as _dt
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from salvo.errors import ConfigError, where


@dataclass(frozen=True)
class SchoolDay:
    """When school is in session, in local wall-clock time.

    Attributes
    ----------
    start_hour, end_hour : float
        School hours on a school day, local hours (8.0 = 08:00). Default 8.0 to 15.0.
    after_school_end_hour : float
        End of the after-school period that follows ``end_hour``, local hours. Default 18.0.
    night_start_hour, night_end_hour : float
        Night, local hours, wrapping midnight (default 20.0 to 6.0). Night wins over every
        other period except weekend.
    weekdays : tuple of int
        School weekdays, 0 = Monday. Default Monday to Friday. Other days are "weekend".
    holidays : tuple of str
        Local ISO dates (``YYYY-MM-DD``) without school; such days count as "weekend"
        (no school) for the period split.
    terms : tuple of (str, str)
        Inclusive local date ranges in which school is in session; outside them every
        day counts as "weekend". Empty (default) means every school weekday is in session.
    """

    start_hour: float = 8.0
    end_hour: float = 15.0
    after_school_end_hour: float = 18.0
    night_start_hour: float = 20.0
    night_end_hour: float = 6.0
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    holidays: tuple[str, ...] = ()
    terms: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Limits:
    """What the API refuses, so no query can tie the server up.

    Attributes
    ----------
    max_query_chars : int
        Longest accepted URL query string, characters. Default 2048.
    max_body_bytes : int
        Largest accepted request body, bytes. Default 65536.
    max_list_items : int
        Most zones / schools / hours named in one filter. Default 64.
    max_points : int
        Most incident points one response returns. Default 20000.
    max_grid_cells : int
        Largest heatmap grid (nx * ny). Default 250000.
    """

    max_query_chars: int = 2048
    max_body_bytes: int = 65536
    max_list_items: int = 64
    max_points: int = 20000
    max_grid_cells: int = 250_000


@dataclass(frozen=True)
class DashboardConfig:
    """Dashboard settings.

    Attributes
    ----------
    timezone : str
        IANA zone of the city; time-of-day analytics use local wall-clock time in it.
        Default ``"America/Los_Angeles"`` (San Francisco).
    school_radius_m : float
        Radius around each school within which an incident counts for it, metres. Default 500.
    kde_bandwidth_m : float
        Bandwidth of the heatmap's kernel, metres: the standard deviation of the Gaussian, or
        the radius of the quartic kernel. Default 150.
    kde_kernel : str
        ``"gaussian"`` (default) or ``"quartic"`` (see :mod:`dashboard.density`).
    kde_cell_m : float
        Heatmap grid cell size, metres. Default 50.
    fireworks_window_h : float
        Half-width of the fireworks windows around local midnight of New Year's Day and
        around July 4th (whole local day), hours. Default 48.
    school_day : SchoolDay
        The school day and calendar.
    limits : Limits
        API limits.
    """

    timezone: str = "America/Los_Angeles"
    school_radius_m: float = 500.0
    kde_bandwidth_m: float = 150.0
    kde_kernel: str = "gaussian"
    kde_cell_m: float = 50.0
    fireworks_window_h: float = 48.0
    school_day: SchoolDay = field(default_factory=SchoolDay)
    limits: Limits = field(default_factory=Limits)


def _check_date(text: str, path: object, name: str) -> str:
    try:
        _dt.date.fromisoformat(str(text))
    except ValueError as exc:
        raise ConfigError(f"{where(path, field=name)}: {text!r} is not a YYYY-MM-DD date") from exc
    return str(text)


def _build(cls: type, data: dict, path: object, prefix: str) -> object:
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in known:
            raise ConfigError(f"{where(path, field=name)}: unknown setting")
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - guarded by the key check above
        raise ConfigError(f"{where(path)}: {exc}") from exc


def config_from_dict(data: dict, path: object = "<config>") -> DashboardConfig:
    """Build a :class:`DashboardConfig` from a parsed TOML mapping, checking every field.

    Raises
    ------
    ConfigError
        On an unknown key or a value of the wrong type or range; the message names the field.
    """
    data = dict(data)
    sd_raw = data.pop("school_day", {}) or {}
    lim_raw = data.pop("limits", {}) or {}
    base = _build(DashboardConfig, data, path, "")
    sd = _build(SchoolDay, sd_raw, path, "school_day.")
    lim = _build(Limits, lim_raw, path, "limits.")
    # Normalise and range-check.
    for name in ("start_hour", "end_hour", "after_school_end_hour", "night_start_hour", "night_end_hour"):
        v = getattr(sd, name)
        if not isinstance(v, (int, float)) or not 0 <= float(v) <= 24:
            raise ConfigError(f"{where(path, field='school_day.' + name)}: {v!r} must be hours 0..24")
    if not float(sd.start_hour) < float(sd.end_hour) <= float(sd.after_school_end_hour):
        raise ConfigError(f"{where(path, field='school_day')}: need start_hour < end_hour <= after_school_end_hour")
    wd = tuple(int(d) for d in sd.weekdays)
    if any(d < 0 or d > 6 for d in wd):
        raise ConfigError(f"{where(path, field='school_day.weekdays')}: days are 0 (Monday) .. 6 (Sunday)")
    hol = tuple(_check_date(h, path, "school_day.holidays") for h in sd.holidays)
    terms = []
    for t in sd.terms:
        if len(t) != 2:
            raise ConfigError(f"{where(path, field='school_day.terms')}: each term is [first, last]")
        terms.append((_check_date(t[0], path, "school_day.terms"), _check_date(t[1], path, "school_day.terms")))
    sd = replace(sd, weekdays=wd, holidays=hol, terms=tuple(terms))
    for name in ("school_radius_m", "kde_bandwidth_m", "kde_cell_m", "fireworks_window_h"):
        v = getattr(base, name)
        if not isinstance(v, (int, float)) or float(v) <= 0:
            raise ConfigError(f"{where(path, field=name)}: {v!r} must be a positive number")
    for f in fields(Limits):
        v = getattr(lim, f.name)
        if not isinstance(v, int) or v <= 0:
            raise ConfigError(f"{where(path, field='limits.' + f.name)}: {v!r} must be a positive integer")
    if base.kde_kernel not in ("gaussian", "quartic"):
        raise ConfigError(f"{where(path, field='kde_kernel')}: {base.kde_kernel!r} is not gaussian or quartic")
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(str(base.timezone))
    except Exception as exc:
        raise ConfigError(f"{where(path, field='timezone')}: unknown time zone {base.timezone!r}") from exc
    return replace(base, school_day=sd, limits=lim)


def load_config(path: str | Path | None) -> DashboardConfig:
    """Load a dashboard TOML file; ``None`` gives the defaults.

    Raises
    ------
    ConfigError
        When the file is unreadable, not TOML, or has a bad field.
    """
    if path is None:
        return DashboardConfig()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where(p)}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where(p)}: not valid TOML: {exc}") from exc
    return config_from_dict(data, p)


@dataclass(frozen=True)
class ServeConfig:
    """Settings of ``salvo dashboard serve``.

    Attributes
    ----------
    db : str
        The dashboard store (SQLite file).
    host : str
        Address to listen on. Default ``"127.0.0.1"``.
    port : int
        TCP port; 0 picks a free one. Default 8765.
    zone_set : str or None
        Which stored zone set the page groups by at first (others are a choice on the page,
        ``zone_set=`` in the API); default the first one stored.
    tiles_url : str or None
        Base-map tile URL template (``.../{z}/{x}/{y}.png``); None (default) keeps the page
        fully offline and the tiles option disabled.
    live_db : str or None
        The locator's incident store to copy from (read-only); None (default): no live source.
    live_interval_s : float
        Seconds between copies from ``live_db``. Default 5.
    locator_url : str or None
        Base URL of the locator's HTTP side (``http://host:port``): its ``/incidents`` are
        proxied to the dispatch role and its ``/alerts`` stream linked. Default None (the
        feed shows the newest stored incidents).
    reload_interval_s : float
        Seconds between checks of the store for new incidents. Default 2.
    dashboard : DashboardConfig
        Analytics settings.
    """

    db: str
    host: str = "127.0.0.1"
    port: int = 8765
    zone_set: str | None = None
    tiles_url: str | None = None
    live_db: str | None = None
    live_interval_s: float = 5.0
    locator_url: str | None = None
    reload_interval_s: float = 2.0
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)

"""The API's query side: parse and check request parameters, enforce the caller's area, and
build the JSON bodies. No HTTP and no SQL here (:mod:`dashboard.server` does HTTP).

Every parameter is checked against an allow-list (known names, known zones and schools,
numeric ranges, count limits), so no request text ever reaches SQL or an unbounded loop.
"""

from __future__ import annotations

import base64
import datetime as _dt
import time
from dataclasses import dataclass, replace

import numpy as np

from dashboard.analytics import (FIREWORKS_MODES, PERIODS, Dataset, Filter, heatmap, hour_weekday, monthly_trend,
                                 period_counts, school_counts, select, zone_counts)
from dashboard.localtime import local_date_to_day
from dashboard.partners import Account
from salvo.errors import InputError

FILTER_PARAMS = ("from", "to", "zone", "school", "hour", "weekday", "fireworks")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class ApiError(Exception):
    """A request the API refuses: HTTP ``status`` and a message for the caller."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Query:
    """A checked request: the filter and the zone indices the caller may see.

    Attributes
    ----------
    filter : Filter
        What was asked, already narrowed to the caller's area.
    visible_zones : tuple of int
        Zones the caller may see (all for admin and dispatch).
    visible_schools : tuple of int
        Schools inside the caller's area.
    """

    filter: Filter
    visible_zones: tuple[int, ...]
    visible_schools: tuple[int, ...]


def visible(ds: Dataset, account: Account) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Zone and school indices ``account`` may see."""
    if account.sees_everything:
        return tuple(range(len(ds.zone_names))), tuple(range(len(ds.schools)))
    zi = tuple(i for i, n in enumerate(ds.zone_names) if n in set(account.zones))
    si = tuple(int(i) for i in np.flatnonzero(np.isin(ds.school_zone, zi)))
    return zi, si


def _ints(values: list[str], lo: int, hi: int, name: str) -> tuple[int, ...]:
    out = []
    for v in values:
        for part in v.split(","):
            part = part.strip()
            if not part:
                continue
            a, dash, b = part.partition("-")
            try:
                a_i = int(a)
                b_i = int(b) if dash else a_i
            except ValueError:
                raise ApiError(400, f"{name}: {part[:40]!r} is not a number or range") from None
            if not (lo <= a_i <= hi and lo <= b_i <= hi and a_i <= b_i):
                raise ApiError(400, f"{name}: {part[:40]!r} is outside {lo}..{hi}")
            out.extend(range(a_i, b_i + 1))
    return tuple(sorted(set(out)))


def _date(values: list[str], name: str) -> int | None:
    if not values or not values[-1]:
        return None
    try:
        return local_date_to_day(values[-1])
    except ValueError:
        raise ApiError(400, f"{name}: {values[-1][:40]!r} is not a YYYY-MM-DD date") from None


def parse_query(params: dict[str, list[str]], ds: Dataset, account: Account, max_items: int,
                extra: tuple[str, ...] = ()) -> Query:
    """Check request parameters and build the caller's :class:`Query`.

    Parameters
    ----------
    params : dict of str to list of str
        Parsed query string (``urllib.parse.parse_qs``).
    ds : Dataset
    account : Account
    max_items : int
        Most values any one parameter may carry.
    extra : tuple of str
        Endpoint-specific parameter names also allowed (checked by the endpoint).

    Raises
    ------
    ApiError
        400 for an unknown parameter, value or zone, or too many values; 403 for a zone or
        school outside the caller's area.
    """
    for k, v in params.items():
        if k not in FILTER_PARAMS and k not in extra:
            raise ApiError(400, f"unknown parameter {k[:40]!r}")
        if len(v) > max_items or sum(len(x) for x in v) > 100 * max_items:
            raise ApiError(400, f"{k}: too many values (at most {max_items})")
    vz, vs = visible(ds, account)
    names = {n: i for i, n in enumerate(ds.zone_names)}
    zones = []
    for z in params.get("zone", []):
        if z not in names:
            raise ApiError(400, f"zone: {z[:60]!r} is not a known zone")
        if names[z] not in vz:
            raise ApiError(403, f"zone: {z!r} is outside your area")
        zones.append(names[z])
    school = None
    if params.get("school"):
        sname = params["school"][-1]
        idx = [i for i, s in enumerate(ds.schools) if s.name == sname]
        if not idx:
            raise ApiError(400, f"school: {sname[:60]!r} is not a known school")
        if idx[0] not in vs:
            raise ApiError(403, f"school: {sname!r} is outside your area")
        school = idx[0]
    fw = (params.get("fireworks") or ["include"])[-1]
    if fw not in FIREWORKS_MODES:
        raise ApiError(400, f"fireworks: {fw[:40]!r} is not one of {', '.join(FIREWORKS_MODES)}")
    if not account.sees_everything:
        if not vz:
            raise ApiError(403, "none of your account's zones is in the zone set this dashboard serves")
        if not zones:
            zones = list(vz)  # a partner's default view is its whole area, never the city
    f = Filter(
        day0=_date(params.get("from", []), "from"),
        day1=_date(params.get("to", []), "to"),
        zones=tuple(sorted(set(zones))),
        school=school,
        hours=_ints(params.get("hour", []), 0, 23, "hour"),
        weekdays=_ints(params.get("weekday", []), 0, 6, "weekday"),
        fireworks=fw,
    )
    return Query(f, vz, vs)


def selection(ds: Dataset, q: Query) -> np.ndarray:
    """Boolean mask (n,) of the incidents a checked query selects."""
    return select(ds, q.filter)


def _nan_none(a: np.ndarray) -> list:
    return [None if not np.isfinite(x) else round(float(x), 2) for x in a]


def summary(ds: Dataset, q: Query) -> dict:
    """Everything the page's charts and tables show for one query."""
    m = selection(ds, q)
    zc = zone_counts(ds, m)
    sc = school_counts(ds, m)
    tr = monthly_trend(ds, m)
    hw = hour_weekday(ds, m)
    pc = period_counts(ds, m)
    # The same-length window right before the selected dates, for "change vs previous period".
    prev = None
    f = q.filter
    if f.day0 is not None and f.day1 is not None and f.day1 >= f.day0:
        span = f.day1 - f.day0 + 1
        pm = select(ds, replace(f, day0=f.day0 - span, day1=f.day0 - 1))
        prev = {"from": _day_text(f.day0 - span), "to": _day_text(f.day0 - 1), "incidents": int(pm.sum()),
                "rounds": int(ds.cols.rounds[pm].sum())}
    return {
        "incidents": int(m.sum()),
        "rounds": int(ds.cols.rounds[m].sum()),
        "fireworks_incidents": int((m & ds.fireworks).sum()),
        "previous_period": prev,
        "zones": [{"name": zc.names[i], "incidents": int(zc.incidents[i]), "rounds": int(zc.rounds[i])}
                  for i in q.visible_zones],
        "schools": [{"name": sc.names[i], "incidents": int(sc.incidents[i]), "rounds": int(sc.rounds[i])}
                    for i in q.visible_schools],
        "hour_weekday": hw.tolist(),
        "hours": hw.sum(axis=0).tolist(),
        "weekdays": hw.sum(axis=1).tolist(),
        "periods": [{"name": PERIODS[i], "incidents": int(pc[i])} for i in range(len(PERIODS))],
        "trend": {"months": list(tr.months), "incidents": tr.incidents.tolist(), "rounds": tr.rounds.tolist(),
                  "change": _nan_none(tr.change), "change_pct": _nan_none(tr.change_pct)},
        "time_zone": ds.config.timezone,
        "school_radius_m": ds.config.school_radius_m,
    }


def _day_text(day: int) -> str:
    return (_dt.date(1970, 1, 1) + _dt.timedelta(days=int(day))).isoformat()


def points(ds: Dataset, q: Query, limit: int) -> dict:
    """The newest ``limit`` selected incidents as compact rows ``[lat, lon, rounds, t_utc, zone, fireworks]``."""
    m = selection(ds, q)
    idx = np.flatnonzero(m)
    truncated = idx.size > limit
    idx = idx[-limit:] if limit else idx[:0]
    # Columns formatted vectorised; one Python list per point only at the end.
    t_sec = ds.cols.t_ns[idx].astype("datetime64[ns]").astype("datetime64[s]")
    t_text = [x + "Z" for x in t_sec.astype(str).tolist()]
    names = np.array(list(ds.zone_names) + [None], dtype=object)
    rows = [list(r) for r in zip(np.round(ds.cols.lat[idx], 6).tolist(), np.round(ds.cols.lon[idx], 6).tolist(),
                                 ds.cols.rounds[idx].tolist(), t_text, names[ds.zone[idx]].tolist(),
                                 ds.fireworks[idx].tolist())]
    return {"total": int(m.sum()), "truncated": bool(truncated), "fields": ["lat", "lon", "rounds", "t_utc", "zone", "fireworks"],
            "points": rows}


def heatmap_body(ds: Dataset, q: Query, cell_m: float | None, max_cells: int, kernel: str | None = None) -> dict:
    """The KDE grid, quantised to bytes (base64, row 0 = south) with the scale to undo it."""
    m = selection(ds, q)
    try:
        h = heatmap(ds, m, cell_m=cell_m, max_cells=max_cells, kernel=kernel)
    except InputError as exc:
        raise ApiError(400, str(exc)) from None
    peak = float(h.density.max()) if h.density.size else 0.0
    q8 = np.zeros(h.density.shape, np.uint8) if peak <= 0 else np.round(255 * np.sqrt(h.density / peak)).astype(np.uint8)
    return {"nx": int(h.density.shape[1]), "ny": int(h.density.shape[0]), "south": h.lat0, "west": h.lon0,
            "north": h.lat1, "east": h.lon1, "bandwidth_m": h.bandwidth_m, "cell_m": h.cell_m, "kernel": h.kernel,
            "peak_per_km2": round(peak, 3), "scale": "sqrt", "data": base64.b64encode(q8.tobytes()).decode()}


def zones_geojson(ds: Dataset, q: Query, with_counts: bool = True) -> dict:
    """The caller's zones as a FeatureCollection, with incident and round counts under the filter."""
    zc = zone_counts(ds, selection(ds, q)) if with_counts else None
    feats = []
    for i in q.visible_zones:
        props = {"name": ds.zone_names[i]}
        if zc is not None:
            props.update(incidents=int(zc.incidents[i]), rounds=int(zc.rounds[i]))
        feats.append({"type": "Feature", "properties": props, "geometry": ds.zones[i].geometry})
    return {"type": "FeatureCollection", "features": feats}


def schools_geojson(ds: Dataset, q: Query) -> dict:
    """The caller's schools as points, with counts within the radius under the filter."""
    sc = school_counts(ds, selection(ds, q))
    feats = []
    for i in q.visible_schools:
        s = ds.schools[i]
        feats.append({"type": "Feature",
                      "properties": {"name": s.name, "type": s.kind, "address": s.address,
                                     "incidents": int(sc.incidents[i]), "rounds": int(sc.rounds[i]),
                                     "radius_m": ds.config.school_radius_m,
                                     "zone": ds.zone_names[ds.school_zone[i]] if ds.school_zone[i] >= 0 else None},
                      "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]}})
    return {"type": "FeatureCollection", "features": feats}


def selected_rows(ds: Dataset, q: Query, limit: int) -> tuple[np.ndarray, bool]:
    """Indices of the selected incidents (at most ``limit``, newest kept) and whether some were cut."""
    idx = np.flatnonzero(selection(ds, q))
    return idx[-limit:], bool(idx.size > limit)


def meta(ds: Dataset, q: Query, account: Account) -> dict:
    """What the page needs to build its filters: visible zones and schools, the date span, settings."""
    days = ds.local.day
    sd = ds.config.school_day
    return {
        "account": {"name": account.name, "role": account.role, "zones": list(account.zones)},
        "zones": [ds.zone_names[i] for i in q.visible_zones],
        "schools": [{"name": ds.schools[i].name, "lat": ds.schools[i].lat, "lon": ds.schools[i].lon}
                    for i in q.visible_schools],
        "first_day": _day_text(int(days.min())) if ds.n else None,
        "last_day": _day_text(int(days.max())) if ds.n else None,
        "n_incidents_total": int(ds.n) if account.sees_everything else None,
        "time_zone": ds.config.timezone,
        "school_radius_m": ds.config.school_radius_m,
        "kde_bandwidth_m": ds.config.kde_bandwidth_m,
        "kde_kernel": ds.config.kde_kernel,
        "school_day": {"start_hour": sd.start_hour, "end_hour": sd.end_hour,
                       "after_school_end_hour": sd.after_school_end_hour, "night_start_hour": sd.night_start_hour,
                       "night_end_hour": sd.night_end_hour, "weekdays": list(sd.weekdays)},
        "fireworks_window_h": ds.config.fireworks_window_h,
        "periods": list(PERIODS),
        "weekdays": list(WEEKDAYS),
    }


def default_title(ds: Dataset, q: Query, account: Account) -> str:
    """A report title naming what was selected: the school, up to three zones, or the account's area."""
    f = q.filter
    if f.school is not None:
        return f"Gunfire near {ds.schools[f.school].name}"
    if f.zones and len(f.zones) <= 3:
        return "Gunfire in " + ", ".join(ds.zone_names[i] for i in f.zones)
    return "Gunfire incidents" + ("" if account.sees_everything else f" - {account.name}")


def describe(params: dict[str, list[str]]) -> str:
    """The filter in words, with the time the report was made, for a report's subtitle."""
    parts = [f"{k}={','.join(v)}" for k, v in sorted(params.items()) if k in FILTER_PARAMS]
    made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return "Filter: " + ("; ".join(parts) if parts else "all incidents") + f" - made {made}"

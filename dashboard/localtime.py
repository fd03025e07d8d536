"""UTC nanoseconds -> local wall-clock fields, vectorised, with the city's daylight-saving rules.

Time-of-day analytics are about people's days, so they use *local* time (SF alerts are
recorded in America/Los_Angeles).  ``zoneinfo`` answers one instant at a time; here the
UTC offset is asked at the start and end of each UTC day present in the data, and per
quarter hour (every zone's offset changes only on quarter-hour boundaries) only on the
days where those two differ, then broadcast: a million incidents over three years cost
a few thousand ``zoneinfo`` calls.
"""

from __future__ import annotations

import datetime as _dt
import zoneinfo
from dataclasses import dataclass

import numpy as np

_NS = 1_000_000_000
_QUARTER_S = 900
_DAY_S = 86_400
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


@dataclass(frozen=True)
class LocalFields:
    """Local wall-clock fields of each instant.

    Attributes
    ----------
    local_s : ndarray of int64, shape (n,)
        Local wall-clock time as seconds since 1970-01-01T00:00 *local* (UTC seconds + offset).
    hour : ndarray of int8, shape (n,)
        Local hour of day, 0..23.
    hour_f : ndarray of float32, shape (n,)
        Local time of day in hours, 0 <= h < 24.
    weekday : ndarray of int8, shape (n,)
        0 = Monday .. 6 = Sunday.
    day : ndarray of int32, shape (n,)
        Local calendar day number (days since 1970-01-01 local).
    month : ndarray of int32, shape (n,)
        Months since 1970-01 (local calendar).
    """

    local_s: np.ndarray
    hour: np.ndarray
    hour_f: np.ndarray
    weekday: np.ndarray
    day: np.ndarray
    month: np.ndarray


def utc_offsets_s(t_ns: np.ndarray, tz: str) -> np.ndarray:
    """UTC offset of ``tz`` at each instant, seconds (local = UTC + offset).

    Parameters
    ----------
    t_ns : ndarray of int64, shape (n,)
        UTC nanoseconds since the epoch.
    tz : str
        IANA zone name.
    """
    zone = zoneinfo.ZoneInfo(tz)

    def offset(sec: int) -> int:
        return int((_EPOCH + _dt.timedelta(seconds=sec)).astimezone(zone).utcoffset().total_seconds())

    t_s = np.floor_divide(np.asarray(t_ns, dtype=np.int64), _NS)
    # Offsets change at most a few times a year: ask once at the start and end of each UTC
    # day present, and per quarter hour only on the days where the two differ.
    d = np.floor_divide(t_s, _DAY_S)
    ud, inv = np.unique(d, return_inverse=True)
    first = np.array([offset(k * _DAY_S) for k in ud.tolist()], dtype=np.int64)
    last = np.array([offset(k * _DAY_S + _DAY_S - 1) for k in ud.tolist()], dtype=np.int64)
    out = first[inv.reshape(-1)]
    changing = np.flatnonzero(first != last)
    if changing.size:
        sel = np.flatnonzero(np.isin(inv.reshape(-1), changing))
        q = np.floor_divide(t_s[sel], _QUARTER_S)
        uq, qinv = np.unique(q, return_inverse=True)
        out[sel] = np.array([offset(k * _QUARTER_S) for k in uq.tolist()], dtype=np.int64)[qinv.reshape(-1)]
    return out


def local_fields(t_ns: np.ndarray, tz: str) -> LocalFields:
    """Local hour, weekday, day and month of each UTC instant in zone ``tz``.

    Parameters
    ----------
    t_ns : ndarray of int64, shape (n,)
        UTC nanoseconds since the epoch.
    tz : str
        IANA zone name, e.g. ``"America/Los_Angeles"``.
    """
    t_ns = np.asarray(t_ns, dtype=np.int64)
    local_s = np.floor_divide(t_ns, _NS) + utc_offsets_s(t_ns, tz)
    day = np.floor_divide(local_s, _DAY_S)
    sod = local_s - day * _DAY_S
    month = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return LocalFields(
        local_s=local_s,
        hour=(sod // 3600).astype(np.int8),
        hour_f=(sod / 3600.0).astype(np.float32),
        # 1970-01-01 was a Thursday (weekday 3).
        weekday=((day + 3) % 7).astype(np.int8),
        day=day.astype(np.int32),
        month=month.astype(np.int32),
    )


def local_date_to_day(text: str) -> int:
    """A local ISO date ``YYYY-MM-DD`` as a local day number (days since 1970-01-01)."""
    return (_dt.date.fromisoformat(text) - _dt.date(1970, 1, 1)).days


def month_label(month: int) -> str:
    """Months since 1970-01 as ``YYYY-MM``."""
    y, m = divmod(int(month), 12)
    return f"{1970 + y:04d}-{m + 1:02d}"

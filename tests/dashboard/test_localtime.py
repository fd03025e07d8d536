"""Local wall-clock fields against zoneinfo, one instant at a time, across daylight-saving changes."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np

from dashboard.localtime import local_fields, month_label


def test_matches_zoneinfo_per_instant(rng):
    tz = "America/Los_Angeles"
    # Around both 2014 DST changes plus random times over three years.
    edges = np.array([1394359200, 1414918800], dtype=np.int64)  # 2014-03-09 10:00Z, 2014-11-02 09:00Z
    t_s = np.concatenate([edges[:, None] + np.arange(-7200, 7200, 450)[None, :]]).ravel()
    t_s = np.concatenate([t_s, rng.integers(1356998400, 1451606400, 2000)])
    f = local_fields(t_s * 1_000_000_000 + 123, tz)
    zone = zoneinfo.ZoneInfo(tz)
    for i, s in enumerate(t_s.tolist()):
        d = dt.datetime.fromtimestamp(s, tz=dt.timezone.utc).astimezone(zone)
        assert (f.hour[i], f.weekday[i]) == (d.hour, d.weekday())
        assert month_label(f.month[i]) == f"{d.year:04d}-{d.month:02d}"
        assert f.day[i] == (d.date() - dt.date(1970, 1, 1)).days
        assert abs(f.hour_f[i] - (d.hour + d.minute / 60 + d.second / 3600)) < 1e-3

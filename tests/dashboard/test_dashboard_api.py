"""Query checking without HTTP: allow-lists, ranges, the caller's area."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.analytics import build_dataset
from dashboard.api import ApiError, parse_query, selection, summary
from dashboard.config import DashboardConfig
from dashboard.geo import Zone
from dashboard.partners import Account
from dashboard.store import IncidentColumns, School

A = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
B = {"type": "Polygon", "coordinates": [[[1, 0], [2, 0], [2, 1], [1, 1], [1, 0]]]}
ADMIN = Account(1, "admin", "admin", ())


@pytest.fixture
def ds(rng):
    n = 500
    t = np.sort(rng.integers(1_400_000_000, 1_420_000_000, n)).astype(np.int64) * 1_000_000_000
    cols = IncidentColumns(np.arange(n, dtype=np.int64), t, rng.uniform(0.1, 0.9, n), rng.uniform(0.1, 1.9, n),
                           np.ones(n, np.int32), np.zeros(n, np.int16), ("",))
    return build_dataset(cols, [Zone("A", A), Zone("B", B)], [School("in A", 0.5, 0.5), School("in B", 0.5, 1.5)],
                         DashboardConfig())


def test_hours_weekdays_and_dates_parse(ds):
    q = parse_query({"hour": ["22-23,0-2", "5"], "weekday": ["0", "6"], "from": ["2014-06-01"], "to": ["2014-06-30"]},
                    ds, ADMIN, 64)
    assert q.filter.hours == (0, 1, 2, 5, 22, 23) and q.filter.weekdays == (0, 6)
    assert q.filter.day1 - q.filter.day0 == 29
    m = selection(ds, q)
    assert np.all(np.isin(ds.local.hour[m], q.filter.hours))


@pytest.mark.parametrize("params, status", [
    ({"hour": ["24"]}, 400), ({"hour": ["5-2"]}, 400), ({"hour": ["x"]}, 400), ({"weekday": ["7"]}, 400),
    ({"from": ["2014-02-30"]}, 400), ({"zone": ["C"]}, 400), ({"school": ["nowhere"]}, 400),
    ({"fireworks": ["maybe"]}, 400), ({"limit": ["5"]}, 400), ({"zone": ["A"] * 65}, 400),
])
def test_bad_parameters_are_400(ds, params, status):
    with pytest.raises(ApiError) as exc:
        parse_query(params, ds, ADMIN, 64)
    assert exc.value.status == status


def test_partner_area(ds):
    partner = Account(2, "p", "partner", ("B",))
    q = parse_query({}, ds, partner, 64)
    assert q.filter.zones == (1,) and q.visible_schools == (1,)
    s = summary(ds, q)
    assert [z["name"] for z in s["zones"]] == ["B"] and s["incidents"] == int((ds.zone == 1).sum())
    for params in ({"zone": ["A"]}, {"school": ["in A"]}, {"zone": ["A", "B"]}):
        with pytest.raises(ApiError) as exc:
            parse_query(params, ds, partner, 64)
        assert exc.value.status == 403
    with pytest.raises(ApiError) as exc:
        parse_query({}, ds, Account(3, "q", "partner", ("Elsewhere",)), 64)
    assert exc.value.status == 403

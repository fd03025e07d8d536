"""Analytics: time of day against the raw SF CSV, periods, fireworks, trend, heatmap and filters."""

from __future__ import annotations

import csv
import datetime as dt
import zoneinfo

import numpy as np
import pytest

from dashboard.analytics import (PERIODS, Filter, build_dataset, heatmap, hour_weekday, monthly_trend,
                                 period_counts, school_counts, select, zone_counts)
from dashboard.config import DashboardConfig, SchoolDay, config_from_dict
from dashboard.geo import Zone, load_schools, load_zones
from dashboard.importers import load_mapping
from dashboard.sources import import_table
from dashboard.store import DashboardStore, IncidentColumns, School

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
SQUARE_A = {"type": "Polygon", "coordinates": [[[-122.5, 37.7], [-122.4, 37.7], [-122.4, 37.8], [-122.5, 37.8],
                                                 [-122.5, 37.7]]]}
SQUARE_B = {"type": "Polygon", "coordinates": [[[-122.4, 37.7], [-122.3, 37.7], [-122.3, 37.8], [-122.4, 37.8],
                                                 [-122.4, 37.7]]]}


def _cols(local_times, lats, lons, rounds):
    t = np.array([int(d.replace(tzinfo=LA).timestamp()) * 1_000_000_000 for d in local_times], np.int64)
    order = np.argsort(t, kind="stable")
    n = len(t)
    return IncidentColumns(np.arange(n, dtype=np.int64)[order], t[order], np.asarray(lats, float)[order],
                           np.asarray(lons, float)[order], np.asarray(rounds, np.int32)[order],
                           np.zeros(n, np.int16), ("",))


def _synthetic(rng, n=4000, config=None):
    # UTC instants seen as local time (a random *local* time could fall in the skipped DST hour).
    utc0 = dt.datetime(2014, 1, 1, tzinfo=dt.timezone.utc)
    times = [(utc0 + dt.timedelta(seconds=int(s))).astimezone(LA).replace(tzinfo=None)
             for s in rng.integers(0, 365 * 86400, n)]
    lats = rng.uniform(37.71, 37.79, n)
    lons = rng.uniform(-122.49, -122.31, n)
    rounds = rng.integers(1, 8, n)
    zones = [Zone("A", SQUARE_A), Zone("B", SQUARE_B)]
    schools = [School("S1", 37.75, -122.45), School("S2", 37.75, -122.35)]
    return build_dataset(_cols(times, lats, lons, rounds), zones, schools, config or DashboardConfig()), times


def test_zone_and_school_counts_and_filters(rng):
    ds, times = _synthetic(rng)
    everything = select(ds, Filter())
    zc = zone_counts(ds, everything)
    west = ds.cols.lon < -122.4
    assert zc.incidents.tolist() == [int(west.sum()), int((~west).sum())]
    assert zc.rounds[0] == ds.cols.rounds[west].sum()
    only_a = select(ds, Filter(zones=(0,)))
    assert only_a.sum() == west.sum()
    near = select(ds, Filter(school=1))
    assert near.sum() == school_counts(ds, everything).incidents[1] > 0
    evening = select(ds, Filter(hours=(19, 20), weekdays=(5, 6)))
    assert np.all(np.isin(ds.local.hour[evening], [19, 20])) and np.all(ds.local.weekday[evening] >= 5)
    assert evening.sum() == sum(1 for d in times if d.hour in (19, 20) and d.weekday() >= 5)


def test_hour_weekday_matrix_matches_the_local_times(rng):
    ds, times = _synthetic(rng)
    hw = hour_weekday(ds, select(ds, Filter()))
    want = np.zeros((7, 24), int)
    for d in times:
        want[d.weekday(), d.hour] += 1
    assert np.array_equal(hw, want)


def test_periods_follow_the_configured_school_day():
    # A Tuesday in term; the same Tuesday made a holiday; a Saturday.
    times = [dt.datetime(2014, 3, 4, h, 30) for h in (7, 9, 16, 21)] + [dt.datetime(2014, 3, 8, 10)]
    cols = _cols(times, [37.75] * 5, [-122.45] * 5, [1] * 5)
    ds = build_dataset(cols, [], [], DashboardConfig())
    assert [PERIODS[p] for p in ds.period] == ["other", "school hours", "after school", "night", "weekend / no school"]
    cfg = config_from_dict({"school_day": {"holidays": ["2014-03-04"], "start_hour": 7.0}})
    ds2 = build_dataset(cols, [], [], cfg)
    assert period_counts(ds2, np.ones(5, bool)).tolist() == [0, 0, 0, 5, 0]
    cfg3 = DashboardConfig(school_day=SchoolDay(start_hour=7.0, terms=(("2014-03-01", "2014-03-05"),)))
    assert PERIODS[build_dataset(cols, [], [], cfg3).period[0]] == "school hours"


def test_fireworks_windows_and_filter():
    times = [dt.datetime(2014, 7, 2, 1), dt.datetime(2014, 7, 6, 23), dt.datetime(2014, 7, 7, 0, 30),
             dt.datetime(2014, 12, 30, 0, 10), dt.datetime(2014, 12, 29, 23, 50), dt.datetime(2015, 1, 1, 23),
             dt.datetime(2015, 1, 3, 0, 1), dt.datetime(2014, 3, 1)]
    ds = build_dataset(_cols(times, [37.75] * 8, [-122.45] * 8, [1] * 8), [], [], DashboardConfig())
    flagged = dict(zip(ds.cols.row_id.tolist(), ds.fireworks.tolist()))
    assert [flagged[i] for i in range(8)] == [True, True, False, True, False, True, False, False]
    assert select(ds, Filter(fireworks="exclude")).sum() == 4
    assert select(ds, Filter(fireworks="only")).sum() == 4


def test_monthly_trend_and_change():
    times = ([dt.datetime(2014, 1, 5)] * 4 + [dt.datetime(2014, 2, 5)] * 2 + [dt.datetime(2014, 4, 1)] * 3)
    ds = build_dataset(_cols(times, [37.75] * 9, [-122.45] * 9, [2] * 9), [], [], DashboardConfig())
    tr = monthly_trend(ds, np.ones(9, bool))
    assert tr.months == ("2014-01", "2014-02", "2014-03", "2014-04")
    assert tr.incidents.tolist() == [4, 2, 0, 3] and tr.rounds.tolist() == [8, 4, 0, 6]
    assert np.isnan(tr.change[0]) and tr.change[1:].tolist() == [-2, -2, 3]
    assert tr.change_pct[1] == -50.0 and np.isnan(tr.change_pct[3])


def test_heatmap_integrates_to_the_count_and_peaks_at_the_cluster(rng):
    n = 2000
    lats = np.r_[37.75 + rng.normal(0, 0.001, n), rng.uniform(37.71, 37.79, 200)]
    lons = np.r_[-122.45 + rng.normal(0, 0.001, n), rng.uniform(-122.49, -122.31, 200)]
    times = [dt.datetime(2014, 5, 1)] * (n + 200)
    ds = build_dataset(_cols(times, lats, lons, [1] * (n + 200)), [Zone("A", SQUARE_A), Zone("B", SQUARE_B)], [],
                       DashboardConfig())
    h = heatmap(ds, np.ones(n + 200, bool))
    total = h.density.sum() * (h.cell_m ** 2) / 1e6
    assert abs(total - (n + 200)) < 0.02 * (n + 200)
    iy, ix = np.unravel_index(np.argmax(h.density), h.density.shape)
    lat_pk = h.lat0 + (iy + 0.5) * (h.lat1 - h.lat0) / h.density.shape[0]
    lon_pk = h.lon0 + (ix + 0.5) * (h.lon1 - h.lon0) / h.density.shape[1]
    assert abs(lat_pk - 37.75) < 0.001 and abs(lon_pk + 122.45) < 0.001
    with pytest.raises(Exception, match="cells"):
        heatmap(ds, np.ones(n + 200, bool), cell_m=1.0)


@pytest.mark.realdata
def test_sf_hour_of_day_totals_match_the_raw_csv(sf_alerts, tmp_path):
    with open(sf_alerts / "San_Francisco_ShotSpotter.csv", encoding="utf-8-sig", newline="") as fh:
        raw_hours = [int(r["Time"].split(":")[0]) for r in csv.DictReader(fh)]
    want = np.bincount(raw_hours, minlength=24)
    with DashboardStore(tmp_path / "d.db") as store:
        import_table(store, sf_alerts / "San_Francisco_ShotSpotter.csv", load_mapping("sf-shotspotter"), "sf")
        cols = store.load_columns()
    ds = build_dataset(cols, load_zones(sf_alerts / "sf-neighborhoods-analysis.geojson", "nhood"),
                       load_schools(sf_alerts / "sfusd_schools_extracted.csv"), DashboardConfig())
    hw = hour_weekday(ds, select(ds, Filter()))
    assert hw.sum(axis=0).tolist() == want.tolist()
    assert ds.fireworks.sum() > 0 and select(ds, Filter(fireworks="exclude")).sum() < ds.n


def test_heatmap_kernel_choice(rng):
    ds, _ = _synthetic(rng, n=500)
    m = np.ones(ds.n, bool)
    g = heatmap(ds, m)
    q = heatmap(ds, m, kernel="quartic")
    assert (g.kernel, q.kernel) == ("gaussian", "quartic") and g.density.shape == q.density.shape
    assert not np.allclose(g.density, q.density)
    with pytest.raises(Exception, match="kernel"):
        heatmap(ds, m, kernel="tophat")


def test_date_window_slice_matches_the_plain_test(rng):
    from dataclasses import replace

    ds, _ = _synthetic(rng)
    assert ds.days_sorted
    plain = replace(ds, days_sorted=False)
    for f in (Filter(day0=16200, day1=16250), Filter(day0=16300, hours=(22, 23), zones=(1,)), Filter(day1=16100),
              Filter(day0=17000), Filter(day0=16250, day1=16200, fireworks="exclude")):
        fast, slow = select(ds, f), select(plain, f)
        assert np.array_equal(fast, slow)
        want = np.ones(ds.n, bool)
        if f.day0 is not None:
            want &= ds.local.day >= f.day0
        if f.day1 is not None:
            want &= ds.local.day <= f.day1
        assert np.array_equal(fast & want, fast) and (f.hours or f.zones or f.fireworks != "include"
                                                       or np.array_equal(fast, want))

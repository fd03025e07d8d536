"""Exports: CSV and GeoJSON rows match the selection; the report is one page in PNG and PDF."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import numpy as np

from dashboard import api
from dashboard.analytics import Filter, build_dataset, select
from dashboard.config import DashboardConfig
from dashboard.geo import Zone
from dashboard.partners import Account
from dashboard.report import incidents_csv, incidents_geojson, one_page_report
from dashboard.store import IncidentColumns, School

SQ = {"type": "Polygon", "coordinates": [[[-122.5, 37.7], [-122.4, 37.7], [-122.4, 37.8], [-122.5, 37.8], [-122.5, 37.7]]]}


def _ds(rng, n=300):
    t = np.sort(1_404_500_000 + rng.integers(0, 86400 * 30, n)).astype(np.int64) * 1_000_000_000  # July 2014
    cols = IncidentColumns(np.arange(n, dtype=np.int64), t, rng.uniform(37.71, 37.79, n), rng.uniform(-122.49, -122.31, n),
                           rng.integers(1, 5, n).astype(np.int32), np.zeros(n, np.int16), ("gunfire",))
    return build_dataset(cols, [Zone("West", SQ)], [School("S", 37.75, -122.45)], DashboardConfig())


def test_csv_and_geojson_hold_the_selection(rng):
    ds = _ds(rng)
    idx = np.flatnonzero(select(ds, Filter(zones=(0,))))
    details = {int(i): {"ext_id": f"e{i}", "source": "t", "address": "1 Main St, \"quoted\""} for i in ds.cols.row_id}
    rows = list(csv.DictReader(io.StringIO(incidents_csv(ds, idx, details).decode())))
    assert len(rows) == idx.size > 0
    assert all(r["zone"] == "West" and float(r["lon"]) < -122.4 for r in rows)
    first = rows[0]
    i0 = idx[0]
    assert first["id"] == f"e{ds.cols.row_id[i0]}" and first["address"] == '1 Main St, "quoted"'
    local = dt.datetime.fromtimestamp(int(ds.cols.t_ns[i0]) // 10**9, dt.timezone(dt.timedelta(hours=-7)))
    assert first["local_time"] == local.strftime("%Y-%m-%d %H:%M:%S")  # July: PDT
    assert first["fireworks"] == str(int(ds.fireworks[i0]))
    gj = json.loads(incidents_geojson(ds, idx))
    assert len(gj["features"]) == idx.size and gj["features"][0]["properties"]["zone"] == "West"


def test_one_page_report_png_and_pdf(rng):
    ds = _ds(rng)
    q = api.parse_query({"zone": ["West"]}, ds, Account(1, "a", "admin", ()), 64)
    summ = api.summary(ds, q)
    m = select(ds, q.filter)
    png = one_page_report(ds, m, summ, "Gunfire in West", "test", "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (w, h) == (1240, 1753)  # A4 portrait at 150 dpi
    pdf = one_page_report(ds, m, summ, "Gunfire in West", "test", "pdf")
    assert pdf[:5] == b"%PDF-" and pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1

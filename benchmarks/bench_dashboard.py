"""Dashboard speed: aggregations over 10k / 100k / 1M synthetic incidents, against SQL GROUP BY.

For each size N the script writes N synthetic incidents to a fresh dashboard store (SQLite),
placed like SF's real alerts (each a real alert position jittered by ~150 m, when
../shared/data/sf-alerts is present; uniform over the zones otherwise) at random times over
three years, then times:

- ``load``: reading the columns from SQLite and precomputing zone, schools, local time,
  period and fireworks flag (:func:`dashboard.loading.load_dataset`), at server start and in
  the background after the store changes;
- ``summary``: every aggregation the page shows (per zone, per school, hour x weekday,
  periods, monthly trend, previous period), unfiltered and with a zone + hours + weekdays +
  dates filter (what one page refresh asks);
- ``heatmap``: the KDE grid (50 m cells, 150 m bandwidth) of the filtered selection;
- ``points``: the newest 5,000 selected incidents;
- ``http``: one page refresh over a real socket (summary + points + heatmap, three requests);
- ``page``: in headless Chromium (when /usr/bin/chromium is there), the page's first load until
  it shows the data, and a zone filter change until the charts are redrawn;
- the baseline, ``sql``: the same per-zone / per-hour-and-weekday / per-month counts as
  ``GROUP BY`` queries on an indexed SQLite table holding the precomputed zone, local hour,
  weekday and month columns (so SQL is not charged for the time-zone work).

Each timing is the median of 5 runs. Usage::

    python benchmarks/bench_dashboard.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from dashboard import api
from dashboard.analytics import heatmap, select
from dashboard.config import DashboardConfig, ServeConfig
from dashboard.geo import Zone, load_schools, load_zones
from dashboard.loading import load_dataset
from dashboard.partners import Account, add_account
from dashboard.server import make_server
from dashboard.store import DashboardStore, School

SF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sf-alerts"


def _places(rng: np.random.Generator):
    """Zones, schools and seed positions: SF's when present, a synthetic grid otherwise."""
    if SF.is_dir():
        import csv

        zones = load_zones(SF / "sf-neighborhoods-analysis.geojson", "nhood")
        schools = load_schools(SF / "sfusd_schools_extracted.csv")
        with open(SF / "San_Francisco_ShotSpotter.csv", encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        seeds = np.array([[float(r["Latitude"]), float(r["Longitude"])] for r in rows])
        return zones, schools, seeds, "SF neighbourhoods (41), SF schools (127), SF alert positions"
    zones = []
    for i in range(6):
        for j in range(7):
            w, s = -122.51 + 0.03 * j, 37.70 + 0.015 * i
            ring = [[w, s], [w + 0.03, s], [w + 0.03, s + 0.015], [w, s + 0.015], [w, s]]
            zones.append(Zone(f"zone {i}-{j}", {"type": "Polygon", "coordinates": [ring]}))
    schools = [School(f"school {k}", 37.70 + 0.09 * rng.random(), -122.51 + 0.21 * rng.random()) for k in range(127)]
    seeds = np.column_stack([37.70 + 0.09 * rng.random(500), -122.51 + 0.21 * rng.random(500)])
    return zones, schools, seeds, "synthetic 42-zone grid, 127 random schools (SF data absent)"


def _synthetic(n: int, seeds: np.ndarray, rng: np.random.Generator):
    pick = seeds[rng.integers(0, len(seeds), n)]
    lat = pick[:, 0] + rng.normal(0, 150 / 111_000, n)
    lon = pick[:, 1] + rng.normal(0, 150 / 88_000, n)
    t0 = 1_356_998_400  # 2013-01-01
    t = (t0 + rng.integers(0, 3 * 365 * 86400, n)).astype(np.int64) * 1_000_000_000
    rounds = rng.geometric(0.4, n).astype(np.int64)
    return t, lat, lon, rounds


def _median(fn, reps: int = 5) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _sql_baseline(db: Path, ds) -> tuple[float, sqlite3.Connection]:
    """An indexed table with the precomputed columns, and the time of the same GROUP BYs."""
    con = sqlite3.connect(str(db))
    con.execute("DROP TABLE IF EXISTS agg")
    con.execute("CREATE TABLE agg (t_ns INTEGER, zone INTEGER, hour INTEGER, weekday INTEGER, month INTEGER, "
                "day INTEGER, rounds INTEGER)")
    con.executemany("INSERT INTO agg VALUES (?,?,?,?,?,?,?)",
                    zip(ds.cols.t_ns.tolist(), ds.zone.tolist(), ds.local.hour.tolist(), ds.local.weekday.tolist(),
                        ds.local.month.tolist(), ds.local.day.tolist(), ds.cols.rounds.tolist()))
    con.execute("CREATE INDEX agg_zone ON agg (zone, day, hour, weekday)")
    con.execute("CREATE INDEX agg_day ON agg (day)")
    con.commit()
    return 0.0, con


def _sql_queries(con: sqlite3.Connection, where: str, args: tuple) -> None:
    con.execute(f"SELECT zone, COUNT(*), SUM(rounds) FROM agg {where} GROUP BY zone", args).fetchall()
    con.execute(f"SELECT weekday, hour, COUNT(*) FROM agg {where} GROUP BY weekday, hour", args).fetchall()
    con.execute(f"SELECT month, COUNT(*), SUM(rounds) FROM agg {where} GROUP BY month", args).fetchall()


def _http_refresh(port: int, token: str, query: str) -> int:
    size = 0
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for path in (f"/api/summary?{query}", f"/api/points?limit=5000&{query}", f"/api/heatmap?{query}"):
        c.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"{path}: {r.status} {body[:200]!r}")
        size += len(body)
    c.close()
    return size


def _page_times(port: int, token: str, zone: str) -> tuple[float, float]:
    """Seconds from navigation to the page showing data, and from a zone filter change to redrawn charts."""
    if not Path("/usr/bin/chromium").exists():
        return float("nan"), float("nan")
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        t = time.perf_counter()
        page.goto(f"http://127.0.0.1:{port}/#token={token}")
        page.wait_for_selector("#status[data-state=ready]", timeout=120_000)
        t_load = time.perf_counter() - t
        before = page.inner_text("#total-incidents")
        t = time.perf_counter()
        page.select_option("#f-zone", zone)
        page.wait_for_function(
            "t => document.querySelector('#status').dataset.state === 'ready' && "
            "document.querySelector('#total-incidents').textContent !== t", arg=before, timeout=120_000)
        t_filter = time.perf_counter() - t
        browser.close()
    return t_load, t_filter


def run(sizes: list[int]) -> None:
    rng = np.random.default_rng(2026)
    zones, schools, seeds, where_from = _places(rng)
    cfg = DashboardConfig()
    print(f"places: {where_from}; times: uniform over 2013-2015, local zone {cfg.timezone}")
    print("median of 5 runs, seconds (ratio = SQL GROUP BY time / numpy time, same queries, same run)\n")
    head = (f"{'N':>9} | {'insert':>7} | {'load':>6} | {'summary all':>11} | {'summary filt':>12} | {'heatmap':>7} | "
            f"{'points':>6} | {'http refresh':>12} | {'page load':>9} | {'page filter':>11} | {'sql all':>7} | {'sql filt':>8} | {'ratio all':>9} | {'ratio filt':>10}")
    print(head)
    print("-" * len(head))
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            t, lat, lon, rounds = _synthetic(n, seeds, rng)
            t_ins = time.perf_counter()
            with DashboardStore(db) as st:
                st.add_incident_arrays("synthetic", t, lat, lon, rounds)
                st.set_zones("zones", [(z.name, json.dumps(z.geometry)) for z in zones])
                st.set_schools(schools)
                token = add_account(st, "bench", "admin")[1]
                t_ins = time.perf_counter() - t_ins
                t_load = time.perf_counter()
                ds = load_dataset(st, cfg)  # what the server does at start and on every reload
                t_load = time.perf_counter() - t_load
            account = Account(0, "bench", "admin", ())
            zone_name = ds.zone_names[int(np.bincount(ds.zone[ds.zone >= 0]).argmax())]
            params = {"zone": [zone_name], "hour": ["18-23,0-5"], "weekday": ["4,5,6"], "from": ["2014-01-01"],
                      "to": ["2014-12-31"], "fireworks": ["exclude"]}
            q_all = api.parse_query({}, ds, account, 64)
            q_f = api.parse_query(params, ds, account, 64)
            s_all = _median(lambda: api.summary(ds, q_all))
            s_f = _median(lambda: api.summary(ds, q_f))
            h_f = _median(lambda: heatmap(ds, select(ds, q_f.filter)))
            p_f = _median(lambda: api.points(ds, q_f, 5000))
            # The same counts in SQL over precomputed, indexed columns.
            _, con = _sql_baseline(db, ds)
            zi = ds.zone_names.index(zone_name)
            from dashboard.localtime import local_date_to_day

            d0, d1 = local_date_to_day("2014-01-01"), local_date_to_day("2014-12-31")
            w_f = ("WHERE zone = ? AND day BETWEEN ? AND ? AND (hour >= 18 OR hour <= 5) AND weekday >= 4")
            sql_all = _median(lambda: _sql_queries(con, "", ()))
            sql_f = _median(lambda: _sql_queries(con, w_f, (zi, d0, d1)))
            con.close()
            # One page refresh over a real socket.
            httpd, app = make_server(ServeConfig(db=str(db), port=0, reload_interval_s=3600))
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            from urllib.parse import urlencode

            query = urlencode([(k, v) for k, vs in params.items() for v in vs])
            nbytes = _http_refresh(httpd.server_address[1], token, query)
            t_http = _median(lambda: _http_refresh(httpd.server_address[1], token, query))
            page_load, page_filter = _page_times(httpd.server_address[1], token, zone_name)
            httpd.shutdown()
            httpd.server_close()
            app.stop()
            # Aggregations in the SQL baseline exclude schools, periods and heatmap; numpy "summary" includes them.
            print(f"{n:>9,} | {t_ins:7.2f} | {t_load:6.2f} | {s_all:11.4f} | {s_f:12.4f} | {h_f:7.4f} | {p_f:6.4f} | "
                  f"{t_http:12.4f} | {page_load:9.2f} | {page_filter:11.2f} | {sql_all:7.4f} | {sql_f:8.4f} | {sql_all / s_all:9.1f} | {sql_f / s_f:10.1f}",
                  flush=True)
    print(f"\nhttp refresh payload at the largest N: {nbytes / 1e3:.0f} kB (summary + 5,000 points + heatmap grid)")
    print("page load / page filter: one run each in headless Chromium (nan: /usr/bin/chromium absent).")
    print("numpy 'summary' also computes per-school counts, day periods and the previous period; "
          "the SQL baseline only per-zone, hour x weekday and per-month counts.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    run(ap.parse_args().sizes)


if __name__ == "__main__":
    main()

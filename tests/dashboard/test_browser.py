"""End to end in real headless Chromium: the SF data on the page, the map, filters, a partner's area.

One server and one browser serve every test of the module. The SF files are found where the
``sf_alerts`` fixture finds them (``../shared/data/sf-alerts``); every test also asks for that
fixture, so all of them skip cleanly without the data, as they do without ``/usr/bin/chromium``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from dashboard.config import ServeConfig
from dashboard.geo import load_schools, load_zones
from dashboard.importers import load_mapping
from dashboard.partners import add_account
from dashboard.server import make_server
from dashboard.sources import import_table
from dashboard.store import DashboardStore

pytestmark = [pytest.mark.browser, pytest.mark.realdata]

CHROMIUM = Path("/usr/bin/chromium")
SF = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sf-alerts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TILES = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"
SHOTS = Path(__file__).resolve().parent / "output"  # screenshots of the run (git-ignored: tests/dashboard/.gitignore)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    if not SF.is_dir():
        pytest.skip(f"real data not present at {SF}")
    sync_api = pytest.importorskip("playwright.sync_api")
    db = tmp_path_factory.mktemp("browser") / "sf.db"
    with DashboardStore(db) as st:
        import_table(st, SF / "San_Francisco_ShotSpotter.csv", load_mapping("sf-shotspotter"), "sf")
        st.set_zones("neighbourhoods", [(z.name, json.dumps(z.geometry))
                                        for z in load_zones(SF / "sf-neighborhoods-analysis.geojson", "nhood")])
        st.set_schools(load_schools(SF / "sfusd_schools_extracted.csv"))
        st.set_zones("wards", [(name, json.dumps({"type": "Polygon", "coordinates": [[
            [-122.53, lo], [-122.35, lo], [-122.35, hi], [-122.53, hi], [-122.53, lo]]]}))
            for name, lo, hi in (("North", 37.76, 37.84), ("South", 37.70, 37.76))])
        admin = add_account(st, "city", "admin")[1]
        bayview = add_account(st, "bayview-outreach", "partner", ("Bayview Hunters Point",))[1]
    # A tile server that is not there: the tiles option must stay off (and offline) by default.
    httpd, app = make_server(ServeConfig(db=str(db), port=0, tiles_url=TILES))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    pw = sync_api.sync_playwright().start()
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
    yield {"url": f"http://127.0.0.1:{httpd.server_address[1]}/", "admin": admin, "bayview": bayview,
           "browser": browser}
    browser.close()
    pw.stop()
    httpd.shutdown()
    httpd.server_close()
    app.stop()


def _open(site, token):
    page = site["browser"].new_page(viewport={"width": 1400, "height": 1400})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # The page's Content-Security-Policy must not have to block anything the page does itself.
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(site["url"] + "#token=" + token)
    page.wait_for_selector("#status[data-state=ready]", timeout=30_000)
    return page, errors


def _hours(page):
    return [int(x) for x in page.eval_on_selector_all("#hour-chart rect.bar", "rs => rs.map(r => r.dataset.count)")]


def _wait_ready(page, previous_total):
    page.wait_for_function(
        "t => document.querySelector('#status').dataset.state === 'ready' && "
        "document.querySelector('#total-incidents').textContent !== t", arg=previous_total, timeout=30_000)


def _raw_hours():
    with open(SF / "San_Francisco_ShotSpotter.csv", encoding="utf-8-sig", newline="") as fh:
        return np.bincount([int(r["Time"].split(":")[0]) for r in csv.DictReader(fh)], minlength=24).tolist()


def test_page_loads_sf_data_and_draws_the_neighbourhoods(site, sf_alerts, tmp_path_factory):
    page, errors = _open(site, site["admin"])
    assert page.inner_text("#total-incidents") == "4,385"
    names = page.eval_on_selector_all("path.zone", "ps => ps.map(p => p.dataset.name)")
    assert len(names) == 41 and "Mission" in names and "Bayview Hunters Point" in names
    assert page.locator("circle.school").count() == 127
    assert page.locator("#layer-points circle.incident").count() == 4385
    assert page.locator("#heat-image").count() == 1
    # Hovering the oldest point reads it out: the CSV's earliest alert, local time (PST) + 8 h.
    with open(SF / "San_Francisco_ShotSpotter.csv", encoding="utf-8-sig", newline="") as fh:
        first = min(csv.DictReader(fh), key=lambda r: dt.datetime.strptime(f"{r['Date']} {r['Time']}", "%d-%b-%y %H:%M:%S"))
    utc = dt.datetime.strptime(f"{first['Date']} {first['Time']}", "%d-%b-%y %H:%M:%S") + dt.timedelta(hours=8)
    page.dispatch_event("#layer-points circle.incident >> nth=0", "mouseover")
    legend = page.inner_text("#map-legend")
    assert legend.startswith(f"{utc.isoformat()}Z UTC - {first['Rnds']} round(s) - ") and "fireworks window" in legend
    page.dispatch_event("#layer-points", "mouseout")
    # The hour-of-day chart shows exactly the raw CSV's hours (times are local in the file and on the page).
    assert _hours(page) == _raw_hours()
    # Bayview's row in the zone table, and its shading on the map, carry its count.
    row = page.locator("#zone-table tbody tr[data-name='Bayview Hunters Point'] td").all_inner_texts()
    assert row[1] == "1,502"
    assert page.get_attribute("path.zone[data-name='Bayview Hunters Point']", "data-count") == "1502"
    SHOTS.mkdir(exist_ok=True)
    for out in (tmp_path_factory.mktemp("shots") / "dashboard.png", SHOTS / "dashboard.png"):
        page.screenshot(path=str(out), full_page=False)
        assert out.stat().st_size > 20_000
    assert errors == []
    page.close()


def test_a_filter_changes_the_charts(site, sf_alerts):
    page, errors = _open(site, site["admin"])
    before_hours = _hours(page)
    before_matrix = page.eval_on_selector_all("#matrix-chart rect.cell", "rs => rs.map(r => +r.dataset.count)")
    page.select_option("#f-zone", "Mission")
    _wait_ready(page, "4,385")
    after_hours = _hours(page)
    total = int(page.inner_text("#total-incidents").replace(",", ""))
    assert after_hours != before_hours and sum(after_hours) == total == 732
    after_matrix = page.eval_on_selector_all("#matrix-chart rect.cell", "rs => rs.map(r => +r.dataset.count)")
    assert after_matrix != before_matrix and sum(after_matrix) == total
    # Excluding the fireworks windows lowers the count; weekdays narrow it further.
    page.select_option("#f-fireworks", "exclude")
    _wait_ready(page, "732")
    no_fw = int(page.inner_text("#total-incidents").replace(",", ""))
    assert 0 < no_fw < 732
    page.uncheck("#f-weekday-3")
    _wait_ready(page, f"{no_fw:,}")
    thursday = page.eval_on_selector_all("#matrix-chart rect.cell", "rs => rs.slice(72, 96).map(r => +r.dataset.count)")
    assert sum(thursday) == 0
    assert page.get_attribute("#layer-heat", "data-kernel") == "gaussian"
    page.select_option("#l-kernel", "quartic")
    page.wait_for_function("() => document.querySelector('#layer-heat').dataset.kernel === 'quartic'", timeout=30_000)
    assert errors == []
    page.close()


def test_bayview_partner_cannot_see_the_mission(site, sf_alerts):
    page, errors = _open(site, site["bayview"])
    names = page.eval_on_selector_all("path.zone", "ps => ps.map(p => p.dataset.name)")
    assert names == ["Bayview Hunters Point"]
    options = page.eval_on_selector_all("#f-zone option", "os => os.map(o => o.value)")
    assert "Mission" not in options
    assert page.inner_text("#total-incidents") == "1,502"
    assert "Mission" not in page.inner_text("#zone-table")
    # Asking the API directly, with the partner's own token, is refused too.
    status = page.evaluate(
        "async t => (await fetch('/api/summary?zone=Mission', {headers: {Authorization: 'Bearer ' + t}})).status",
        site["bayview"])
    assert status == 403
    assert page.locator("#feed-panel").is_hidden()
    assert page.is_hidden("#f-zone-set")  # the wards hold none of its zones: no choice to offer
    with page.expect_download() as dl:
        page.click("button[data-export='zones']")
    zones = json.loads(dl.value.path().read_text())
    assert [(f["properties"]["name"], f["properties"]["incidents"]) for f in zones["features"]] == \
        [("Bayview Hunters Point", 1502)]
    assert errors == []
    page.close()


def test_base_map_tiles_are_optional_and_off_by_default(site, sf_alerts):
    page, errors = _open(site, site["admin"])
    assert not page.is_checked("#l-tiles") and page.locator("#layer-tiles image").count() == 0
    page.check("#l-tiles")
    hrefs = page.eval_on_selector_all("#layer-tiles image", "is => is.map(i => i.getAttribute('href'))")
    tiles = {tuple(int(v) for v in re.search(r"/tiles/(\d+)/(\d+)/(\d+)\.png$", h).groups()) for h in hrefs}
    z = next(iter(tiles))[0]
    # The slippy-map tile holding SF City Hall at that zoom, computed independently.
    lat, lon = math.radians(37.7793), -122.4193
    x = int((lon + 180) / 360 * 2 ** z)
    y = int((1 - math.asinh(math.tan(lat)) / math.pi) / 2 * 2 ** z)
    assert 10 <= z <= 15 and (z, x, y) in tiles and len(tiles) < 200
    page.uncheck("#l-tiles")
    assert page.locator("#layer-tiles image").count() == 0
    assert errors == []
    page.close()


def test_per_school_view_and_its_exports(site, sf_alerts, tmp_path):
    page, errors = _open(site, site["admin"])
    school = "Dr. George Washington Carver"
    want = page.locator(f"#school-table tbody tr[data-name='{school}'] td").all_inner_texts()[1]
    page.select_option("#f-school", school)
    _wait_ready(page, "4,385")
    assert page.inner_text("#total-incidents") == want == "287"
    assert page.locator("#layer-schools circle.radius").count() == 1
    with page.expect_download() as dl:
        page.click("button[data-export='export.csv']")
    rows = dl.value.path().read_text().strip().split("\n")
    assert len(rows) == 288 and rows[0].startswith("id,source,t_utc")
    with page.expect_download() as dl:  # (the PDF/PNG report itself is tested in test_server)
        page.click("button[data-export='export.geojson']")
    assert len(json.loads(dl.value.path().read_text())["features"]) == 287
    assert errors == []
    page.close()


def test_last_90_days_and_the_previous_period(site, sf_alerts):
    with open(SF / "San_Francisco_ShotSpotter.csv", encoding="utf-8-sig", newline="") as fh:
        days = [dt.datetime.strptime(r["Date"], "%d-%b-%y").date() for r in csv.DictReader(fh)]
    last = max(days)
    first = last - dt.timedelta(days=89)
    want = sum(first <= d <= last for d in days)
    before = sum(first - dt.timedelta(days=90) <= d < first for d in days)
    page, errors = _open(site, site["admin"])
    page.select_option("#f-preset", "90")
    _wait_ready(page, "4,385")
    assert page.input_value("#f-from") == first.isoformat() and page.input_value("#f-to") == last.isoformat()
    assert page.inner_text("#total-incidents") == f"{want:,}"
    assert page.inner_text("#prev-period") == f"{want - before:+,}"
    assert errors == []
    page.close()


def test_grouping_by_another_zone_set(site, sf_alerts):
    with open(SF / "San_Francisco_ShotSpotter.csv", encoding="utf-8-sig", newline="") as fh:
        lats = [float(r["Latitude"]) for r in csv.DictReader(fh)]
    north = sum(37.76 <= la < 37.84 for la in lats)
    page, errors = _open(site, site["admin"])
    assert page.is_visible("#f-zone-set") and page.input_value("#f-zone-set") == "neighbourhoods"
    page.select_option("#f-zone-set", "wards")
    page.wait_for_function("() => document.querySelectorAll('path.zone').length === 2", timeout=30_000)
    page.wait_for_selector("#zone-table tbody tr[data-name='North']", timeout=30_000)
    assert page.locator("#zone-table tbody tr[data-name='North'] td").all_inner_texts()[1] == f"{north:,}"
    page.select_option("#f-zone", "North")
    _wait_ready(page, "4,385")
    assert page.inner_text("#total-incidents") == f"{north:,}"
    assert errors == []
    page.close()

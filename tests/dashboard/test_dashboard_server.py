"""The API over a real socket: tokens, areas, injection and oversized requests, exports, the access log."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import zoneinfo
from urllib.parse import quote, urlencode

import numpy as np
import pytest

from dashboard.config import ServeConfig
from dashboard.partners import add_account, remove_account
from dashboard.server import make_server
from dashboard.store import DashboardStore, School

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
WEST = {"type": "Polygon", "coordinates": [[[-122.5, 37.7], [-122.4, 37.7], [-122.4, 37.8], [-122.5, 37.8],
                                             [-122.5, 37.7]]]}
EAST = {"type": "Polygon", "coordinates": [[[-122.4, 37.7], [-122.3, 37.7], [-122.3, 37.8], [-122.4, 37.8],
                                             [-122.4, 37.7]]]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    rng = np.random.default_rng(7)
    db = tmp_path_factory.mktemp("api") / "d.db"
    n = 3000
    t0 = int(dt.datetime(2014, 1, 1, tzinfo=LA).timestamp())
    t = (t0 + rng.integers(0, 365 * 86400, n)) * 1_000_000_000
    lat = rng.uniform(37.71, 37.79, n)
    lon = rng.uniform(-122.49, -122.31, n)
    tokens = {}
    with DashboardStore(db) as st:
        st.add_incident_arrays("synthetic", t, lat, lon, rng.integers(1, 6, n))
        st.set_zones("hoods", [("Mission", json.dumps(WEST)), ("Bayview Hunters Point", json.dumps(EAST))])
        st.set_schools([School("West School", 37.75, -122.45), School("East School", 37.75, -122.35)])
        for name, role, zones in (("admin", "admin", ()), ("bayview", "partner", ("Bayview Hunters Point",)),
                                  ("dispatch", "dispatch", ()), ("gone", "partner", ("Mission",))):
            tokens[name] = add_account(st, name, role, zones)[1]
    httpd, app = make_server(ServeConfig(db=str(db), port=0))
    th = threading.Thread(target=httpd.serve_forever, daemon=True)
    th.start()
    yield {"port": httpd.server_address[1], "tokens": tokens, "db": db, "west": int((lon < -122.4).sum()), "n": n}
    httpd.shutdown()
    httpd.server_close()
    app.stop()


def call(server, path, token=None, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data, dict(r.getheaders())


def test_every_api_call_needs_a_valid_token(server):
    assert call(server, "/api/summary")[0] == 401
    assert call(server, "/api/summary", token="nonsense")[0] == 401
    assert call(server, "/api/summary", token="1.wrong-secret")[0] == 401
    assert call(server, "/api/summary", headers={"Authorization": "Basic abc"})[0] == 401
    status, body, _ = call(server, "/api/summary", server["tokens"]["admin"])
    assert status == 200 and json.loads(body)["incidents"] == server["n"]
    assert call(server, "/")[0] == 200  # the page itself is public; its data is not


def test_partner_sees_only_its_area(server):
    tok = server["tokens"]["bayview"]
    s = json.loads(call(server, "/api/summary", tok)[1])
    assert [z["name"] for z in s["zones"]] == ["Bayview Hunters Point"]
    assert s["incidents"] == server["n"] - server["west"]
    assert [x["name"] for x in s["schools"]] == ["East School"]
    assert call(server, "/api/summary?zone=Mission", tok)[0] == 403
    assert call(server, "/api/summary?school=" + quote("West School"), tok)[0] == 403
    zones = json.loads(call(server, "/api/zones", tok)[1])
    assert [f["properties"]["name"] for f in zones["features"]] == ["Bayview Hunters Point"]
    pts = json.loads(call(server, "/api/points?limit=20000", tok)[1])
    assert pts["total"] == s["incidents"] and all(p[1] >= -122.4 for p in pts["points"])
    assert call(server, "/api/feed", tok)[0] == 403
    assert call(server, "/api/feed", server["tokens"]["dispatch"])[0] == 200


def test_removed_partner_token_is_refused(server):
    tok = server["tokens"]["gone"]
    assert call(server, "/api/summary", tok)[0] == 200
    with DashboardStore(server["db"]) as st:
        assert remove_account(st, "gone")
    assert call(server, "/api/summary", tok)[0] == 401


@pytest.mark.parametrize("query", [
    "zone=" + quote("Mission' OR '1'='1"),
    "zone=" + quote("Mission\"; DROP TABLE incidents; --"),
    "school=" + quote("x' UNION SELECT token_sha256 FROM accounts --"),
    "hour=" + quote("1; DELETE FROM accounts"),
    "from=" + quote("2014-01-01' OR 1=1 --"),
    "fireworks=" + quote("include' --"),
    "order=" + quote("t_ns; DROP TABLE incidents"),
])
def test_sql_injection_is_rejected_and_harmless(server, query):
    status, body, _ = call(server, "/api/summary?" + query, server["tokens"]["admin"])
    assert status == 400 and "error" in json.loads(body)
    with DashboardStore(server["db"]) as st:
        assert st.count() == server["n"]
        assert len(st.db.execute("SELECT * FROM accounts").fetchall()) >= 3


def test_oversized_requests_are_rejected(server):
    tok = server["tokens"]["admin"]
    assert call(server, "/api/summary?" + "zone=Mission&" * 400, tok)[0] == 414
    assert call(server, "/api/summary?" + urlencode([("zone", "Mission")] * 100), tok)[0] == 400
    assert call(server, "/api/points?limit=1000000000", tok)[0] == 400
    assert call(server, "/api/heatmap?cell_m=5", tok)[0] == 400  # too many grid cells
    assert call(server, "/api/summary?hour=0-99", tok)[0] == 400
    assert call(server, "/api/summary", tok, method="POST", body=b"x" * 100_000)[0] == 413
    assert call(server, "/api/summary", tok, method="POST", body=b"{}")[0] == 405
    assert call(server, "/api/summary", tok, method="POST", headers={"Content-Length": "lots"})[0] == 400
    assert call(server, "/api/summary", "\u00e9" * 10)[0] == 401  # non-ASCII token
    assert call(server, "/static/../server.py")[0] == 404
    assert call(server, "/static/%2e%2e/server.py")[0] == 404


def test_filters_and_exports_agree(server):
    tok = server["tokens"]["admin"]
    q = "zone=Mission&hour=18-23&weekday=4,5&from=2014-03-01&to=2014-08-31"
    s = json.loads(call(server, "/api/summary?" + q, tok)[1])
    assert 0 < s["incidents"] < server["west"]
    assert sum(s["hours"][:18]) == 0 and sum(s["weekdays"][:4]) == 0 and s["weekdays"][6] == 0
    assert (s["previous_period"]["from"], s["previous_period"]["to"]) == ("2013-08-29", "2014-02-28")  # 184 days
    status, csv_body, hdr = call(server, "/api/export.csv?" + q, tok)
    assert status == 200 and hdr["Content-Type"].startswith("text/csv")
    lines = csv_body.decode().strip().split("\n")
    assert len(lines) == s["incidents"] + 1 and lines[0].startswith("id,source,t_utc,local_time")
    assert all(",Mission," in ln for ln in lines[1:])
    counts = call(server, "/api/counts.csv?" + q, tok)[1].decode().strip().split("\n")
    assert counts[0] == "group,name,incidents,rounds"
    assert f"zone,Mission,{s['incidents']},{s['rounds']}" in counts
    assert sum(int(r.split(",")[2]) for r in counts if r.startswith("local hour")) == s["incidents"]
    pts = json.loads(call(server, "/api/points?limit=20000&" + q, tok)[1])
    assert sorted(p[3] for p in pts["points"]) == sorted(ln.split(",")[2] for ln in lines[1:])  # same UTC times
    gj = json.loads(call(server, "/api/export.geojson?" + q, tok)[1])
    assert len(gj["features"]) == s["incidents"]
    png = call(server, "/api/report.png?" + q, tok)
    assert png[0] == 200 and png[1][:8] == b"\x89PNG\r\n\x1a\n"
    pdf = call(server, "/api/report.pdf?school=" + quote("East School"), tok)
    assert pdf[0] == 200 and pdf[1][:5] == b"%PDF-"
    heat = json.loads(call(server, "/api/heatmap?" + q, tok)[1])
    assert heat["bandwidth_m"] == 150.0 and heat["nx"] * heat["ny"] > 100 and heat["kernel"] == "gaussian"
    assert json.loads(call(server, "/api/heatmap?kernel=quartic&" + q, tok)[1])["kernel"] == "quartic"
    assert call(server, "/api/heatmap?kernel=" + quote("x'; --"), tok)[0] == 400


def test_access_is_logged(server):
    call(server, "/api/summary?zone=Mission", server["tokens"]["bayview"])
    call(server, "/api/meta")
    status, body, _ = call(server, "/api/access-log", server["tokens"]["admin"])
    assert status == 200
    entries = json.loads(body)["entries"]
    assert any(e["account"] == "bayview" and e["status"] == 403 and "zone=Mission" in e["path"] for e in entries)
    assert any(e["account"] == "-" and e["status"] == 401 for e in entries)
    assert call(server, "/api/access-log", server["tokens"]["bayview"])[0] == 403


def test_new_incidents_reach_the_page_without_a_restart(server):
    tok = server["tokens"]["admin"]
    before = json.loads(call(server, "/api/summary", tok)[1])["incidents"]
    t = int(dt.datetime(2014, 6, 1, 12, tzinfo=LA).timestamp()) * 1_000_000_000
    with DashboardStore(server["db"]) as st:
        st.add_incidents("late", [("x1", t, 37.75, -122.35, 3, "gunfire", "")])
    deadline = 0
    while deadline < 40:  # the server checks the store every 2 s
        after = json.loads(call(server, "/api/summary", tok)[1])["incidents"]
        if after == before + 1:
            break
        threading.Event().wait(0.25)
        deadline += 1
    assert after == before + 1
    server["n"] += 1  # later tests in this module count the extra incident


def test_a_second_zone_set_can_be_chosen(server):
    tok, partner = server["tokens"]["admin"], server["tokens"]["bayview"]
    north = {"type": "Polygon", "coordinates": [[[-122.5, 37.75], [-122.3, 37.75], [-122.3, 37.8], [-122.5, 37.8],
                                                  [-122.5, 37.75]]]}
    south = {"type": "Polygon", "coordinates": [[[-122.5, 37.7], [-122.3, 37.7], [-122.3, 37.75], [-122.5, 37.75],
                                                  [-122.5, 37.7]]]}
    with DashboardStore(server["db"]) as st:
        st.set_zones("wards", [("North", json.dumps(north)), ("South", json.dumps(south))])
        lat = st.load_columns().lat
    for _ in range(40):  # the server reloads within 2 s
        meta = json.loads(call(server, "/api/meta", tok)[1])
        if "wards" in meta["zone_sets"]:
            break
        threading.Event().wait(0.25)
    assert meta["zone_sets"] == ["hoods", "wards"] and meta["zone_set"] == "hoods"  # the default stays
    s = json.loads(call(server, "/api/summary?zone_set=wards", tok)[1])
    assert {z["name"]: z["incidents"] for z in s["zones"]} == {"North": int((lat >= 37.75).sum()),
                                                                "South": int((lat < 37.75).sum())}
    assert call(server, "/api/summary?zone_set=wards&zone=North", tok)[0] == 200
    assert call(server, "/api/summary?zone_set=wards&zone=Mission", tok)[0] == 400  # not a ward
    assert call(server, "/api/summary?zone_set=nope", tok)[0] == 400
    assert call(server, "/api/summary?zone_set=wards", partner)[0] == 403  # its area is in another set
    assert json.loads(call(server, "/api/meta", partner)[1])["zone_sets"] == ["hoods"]

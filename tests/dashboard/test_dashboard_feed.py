"""The dispatch feed: the locator's /incidents proxied behind dashboard tokens, and the fallback."""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dashboard.config import ServeConfig
from dashboard.feed import feed_rows_from_results
from dashboard.partners import add_account
from dashboard.server import make_server
from dashboard.store import DashboardStore
from salvo.errors import InputError

RESULTS = {"frame": "wgs84", "incidents": [
    {"id": "a", "start_utc": "2026-07-04T21:15:03.000000Z", "end_utc": "2026-07-04T21:15:04.000000Z",
     "class": "gunfire", "n_shots": 2, "shots": [{"t_utc": "2026-07-04T21:15:03Z", "lat": 37.70, "lon": -122.40},
                                                 {"t_utc": "2026-07-04T21:15:04Z", "lat": 37.72, "lon": -122.42}]},
    {"id": "b", "start_utc": "2026-07-04T22:00:00.000000Z", "end_utc": "2026-07-04T22:00:00.000000Z",
     "class": "fireworks", "n_shots": 1, "shots": [{"t_utc": "2026-07-04T22:00:00Z", "x_m": 1.0, "y_m": 2.0}]},
]}


def test_rows_from_results():
    rows = feed_rows_from_results(RESULTS, 10)
    assert [r["id"] for r in rows] == ["b", "a"]  # newest first
    assert rows[1]["rounds"] == 2 and abs(rows[1]["lat"] - 37.71) < 1e-9 and rows[0]["lat"] is None
    assert len(feed_rows_from_results(RESULTS, 1)) == 1
    with pytest.raises(InputError):
        feed_rows_from_results({"incidents": [{"id": "x"}]}, 5)


class _FakeLocator(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = json.dumps(RESULTS).encode() if self.path == "/incidents" else b"{}"
        self.send_response(200 if self.path == "/incidents" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def _get(port, token):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/api/feed", headers={"Authorization": f"Bearer {token}"})
    r = c.getresponse()
    return r.status, json.loads(r.read())


def test_dispatch_feed_proxies_the_locator_and_falls_back(tmp_path):
    loc = ThreadingHTTPServer(("127.0.0.1", 0), _FakeLocator)
    threading.Thread(target=loc.serve_forever, daemon=True).start()
    db = tmp_path / "d.db"
    with DashboardStore(db) as st:
        token = add_account(st, "ops", "dispatch")[1]
        st.add_incidents("sf", [("s1", 1_400_000_000_000_000_000, 37.7, -122.4, 3, "Single_Gunshot", "")])
    servers = []
    try:
        for url in (f"http://127.0.0.1:{loc.server_address[1]}", "http://127.0.0.1:9"):
            httpd, app = make_server(ServeConfig(db=str(db), port=0, locator_url=url))
            servers.append((httpd, app))
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
        status, body = _get(servers[0][0].server_address[1], token)
        assert status == 200 and body["from"] == "locator" and [r["id"] for r in body["incidents"]] == ["b", "a"]
        assert body["sse"].endswith("/alerts")
        status, body = _get(servers[1][0].server_address[1], token)  # nothing listens on port 9
        assert status == 200 and body["from"] == "store" and body["error"]
        assert [r["id"] for r in body["incidents"]] == ["s1"]
    finally:
        for httpd, app in servers:
            httpd.shutdown()
            httpd.server_close()
            app.stop()
        loc.shutdown()
        loc.server_close()

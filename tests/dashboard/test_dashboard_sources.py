"""The live source: incidents written by the locator's store reach the dashboard store."""

from __future__ import annotations

import pytest

from dashboard.sources import sync_live_store
from dashboard.store import DashboardStore

store_mod = pytest.importorskip("locator.store")


def _incident(i, t_utc, lat, lon, n_shots=2, frame="wgs84"):
    shot = {"t_utc": t_utc, "lat": lat, "lon": lon, "alt_m": 10.0} if frame == "wgs84" else \
        {"t_utc": t_utc, "x_m": 1.0, "y_m": 2.0, "z_m": 0.0}
    return {"id": f"inc{i}", "start_utc": t_utc, "end_utc": t_utc, "class": "gunfire", "n_shots": n_shots,
            "n_shooters": 1, "frame": frame, "shots": [shot] * n_shots}


def test_sync_copies_new_and_revised_incidents(tmp_path):
    live = tmp_path / "locator.db"
    with store_mod.IncidentStore(live) as ls:
        ls.upsert_incident(_incident(1, "2026-07-04T21:15:03Z", 37.73, -122.39))
        ls.upsert_incident(_incident(2, "2026-07-04T21:20:00Z", 0, 0, frame="local"))
    with DashboardStore(tmp_path / "d.db") as ds:
        first = sync_live_store(ds, live)
        assert (first.n_read, first.n_added, first.n_skipped) == (2, 1, 1)
        with store_mod.IncidentStore(live) as ls:
            ls.upsert_incident(_incident(1, "2026-07-04T21:15:03Z", 37.74, -122.39, n_shots=5))  # revised
            ls.upsert_incident(_incident(3, "2026-07-04T22:00:00Z", 37.75, -122.41))
        second = sync_live_store(ds, live)
        assert (second.n_added, second.n_updated) == (1, 1)
        rows = {r["ext_id"]: r for r in ds.latest(10)}
        assert set(rows) == {"inc1", "inc3"}
        assert rows["inc1"]["rounds"] == 5 and abs(rows["inc1"]["lat"] - 37.74) < 1e-9
        assert rows["inc1"]["source"] == "live" and rows["inc1"]["kind"] == "gunfire"

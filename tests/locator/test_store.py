import math
import sqlite3

import pytest

from locator.store import IncidentStore, StoredIncident, StoredShot, incident_from_dict
from salvo.errors import InputError, StoreError
from sensor_node.protocol import Detection

T0 = 1_800_000_000 * 10**9


def _inc(i, n_shots=2, final=False):
    shots = tuple(
        StoredShot(T0 + i * 10**9 + k * 10**8, lat=40.44 + 1e-4 * k, lon=-79.99, alt_m=250.0, err_m=2.0 + k,
                   shooter=0, sensors=("S1", "S2", "S3"), detections=("S1:1", "S2:7", "S3:2"))
        for k in range(n_shots)
    )
    return StoredIncident(f"inc{i}", shots[0].t_ns, shots[-1].t_ns, "gunfire", 0.9, n_shots, 1, "wgs84", shots, final)


def test_roundtrip_update_and_range(tmp_path):
    with IncidentStore(tmp_path / "s.db") as st:
        for i in range(5):
            st.upsert_incident(_inc(i))
        again = st.upsert_incident(_inc(2, n_shots=3, final=True))
        assert again.version == 2
        assert st.count_incidents() == 5
        assert [i.id for i in st.open_incidents()] == ["inc0", "inc1", "inc3", "inc4"]
    # A second process (the dashboard) reads what the first wrote.
    with IncidentStore(tmp_path / "s.db", readonly=True) as ro:
        got = list(ro.iter_incidents(since_ns=T0 + 1 * 10**9, until_ns=T0 + 4 * 10**9))
        assert [g.id for g in got] == ["inc1", "inc2", "inc3"]
        two = got[1]
        assert two.n_shots == 3 and len(two.shots) == 3 and two.final and two.version == 2
        assert two.shots[2].sensors == ("S1", "S2", "S3") and two.shots[2].err_m == 4.0
        assert math.isnan(two.shots[0].x_m) and two.shots[1].detections == ("S1:1", "S2:7", "S3:2")
        lat, lon, alt = two.centroid()
        assert lat == pytest.approx(40.4401) and alt == 250.0
        assert ro.get_incident("nope") is None


def test_results_format_roundtrip(tmp_path):
    d = {"id": "a", "start_utc": "2026-07-04T21:15:03.123456Z", "end_utc": "2026-07-04T21:15:04.000000Z",
         "class": "fireworks", "confidence": 0.4, "n_shots": 1, "n_shooters": 1,
         "shots": [{"t_utc": "2026-07-04T21:15:03.123456Z", "x_m": 10.0, "y_m": -5.0, "z_m": 1.5, "err_m": 3.0,
                    "shooter": 0, "sensors": ["A", "B", "C", "D"]}]}
    with IncidentStore(tmp_path / "s.db") as st:
        st.upsert_incident(incident_from_dict(d, frame="local"))
        out = next(st.iter_incidents(cls="fireworks")).to_dict()
    assert out["shots"][0]["x_m"] == 10.0 and out["start_utc"] == d["start_utc"] and out["class"] == "fireworks"
    assert list(IncidentStore(tmp_path / "s.db").iter_incidents(cls="gunfire")) == []
    with pytest.raises(InputError, match="end_utc"):
        incident_from_dict({"id": "x", "start_utc": "2026-07-04T21:15:03Z"})


def test_detections_deduplicate_and_persist(tmp_path):
    dets = [Detection("S1", T0 + k, 1e-4, k, 20.0 + k, -3.0, 0.8, "blast") for k in range(3)]
    with IncidentStore(tmp_path / "s.db") as st:
        assert st.add_detections(dets, T0) == [True, True, True]
        assert st.add_detections(dets[1:] + [Detection("S2", T0, seq=0)], T0 + 1) == [False, False, True]
    with IncidentStore(tmp_path / "s.db") as st:
        assert st.max_seq() == {"S1": 2, "S2": 0}
        assert st.has_detection("S1", 1) and not st.has_detection("S1", 3)
        back = list(st.iter_detections(received_since_ns=T0))
        assert len(back) == 4 and math.isnan(back[1].snr_db)  # S2 sent no SNR: NULL in, NaN out
        assert [d for d in back if d.sensor_id == "S1"] == dets
        assert [d.sensor_id for d in st.iter_detections(received_since_ns=T0 + 1)] == ["S2"]


def test_bad_files_named(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="bad.db"):
        IncidentStore(bad)
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('schema_version','99');")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema_version is 99"):
        IncidentStore(other)

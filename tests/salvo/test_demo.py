"""salvo demo's own logic: dating results back to the scenario, shot-to-alert times, the command line.

The whole demo (simulation, a locator and sixteen node processes) takes a minute or more
on two cores, beyond this suite's budget; its parts are tested in tests/locator and
tests/sensor_node, and `salvo demo` itself is the README's main job.
"""

import argparse

from locator.store import IncidentStore, StoredIncident, StoredShot
from salvo import demo
from salvo.utc import format_utc_ns, parse_utc_ns

NS = 1_000_000_000
SHIFT = 123 * NS


def test_results_are_dated_back_and_unconfirmed_dropped(tmp_path):
    t = parse_utc_ns("2026-07-04T21:00:04Z") + SHIFT
    with IncidentStore(tmp_path / "s.db") as st:
        st.upsert_incident(StoredIncident("a", t, t, "gunfire", 0.9, 1, 1, "wgs84",
                                          (StoredShot(t, 40.44, -79.99, 250.0, err_m=2.0, sensors=("S1",)),), True))
        st.upsert_incident(StoredIncident("b", t, t, "retracted", float("nan"), 0, 0, "wgs84", (), True))
    res = demo._results(tmp_path / "s.db", SHIFT)
    assert res["frame"] == "wgs84" and [i["id"] for i in res["incidents"]] == ["a"]
    inc = res["incidents"][0]
    assert inc["start_utc"] == "2026-07-04T21:00:04.000000Z" and inc["shots"][0]["t_utc"] == inc["start_utc"]


def test_shot_to_alert_in_city_time():
    truth = {"shots": [{"t_utc": "2026-07-04T21:00:04Z"}, {"t_utc": "2026-07-04T21:00:30Z"}]}
    epoch = parse_utc_ns("2026-11-27T06:00:00Z")
    shift = epoch - parse_utc_ns("2026-07-04T21:00:00Z")
    speed = 4.0
    start = parse_utc_ns("2026-07-04T21:00:04.01Z") + shift  # the located first shot, stream time
    # Published 1.5 s of wall time after the shot's stream moment: 6 s of city time at 4x.
    wall = epoch + int((start - epoch) / speed) + int(1.5 * NS)
    alerts = [{"incident": {"id": "x", "class": "gunfire", "start_utc": format_utc_ns(start, 6)}, "_wall_ns": wall},
              {"incident": {"id": "x", "class": "gunfire", "start_utc": format_utc_ns(start, 6)}, "_wall_ns": wall + NS}]
    (lat,) = demo._latencies(alerts, truth, shift, epoch, speed)
    assert abs(lat - (6.0 + 0.01)) < 1e-3
    shown = demo._unshift_alert(alerts[0], shift)
    assert shown["incident"]["start_utc"] == "2026-07-04T21:00:04.010Z"


def test_command_line():
    p = argparse.ArgumentParser()
    demo.register(p.add_subparsers())
    args = p.parse_args(["demo", "--out", "x", "--speed", "3"])
    assert args.out == "x" and args.speed == 3.0 and args.seed == 1 and args.func is demo._run


def test_associator_warm_up_locates_its_made_up_shot(monkeypatch):
    import numpy as np

    import locator.associate as assoc

    found = []
    real = assoc.associate
    monkeypatch.setattr(assoc, "associate", lambda *a, **k: found.extend(real(*a, **k)) or found)
    ids = [f"S{i:02d}" for i in range(9)]
    pos = np.array([(300.0 * (i % 3), 300.0 * (i // 3), 5.0) for i in range(9)])
    demo._warm_up_associator(ids, pos)
    assert len(found) == 1  # the kernels ran end to end: one shot, as made up

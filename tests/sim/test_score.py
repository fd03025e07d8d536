"""salvo score on hand-made truth/results pairs: every figure checked against a count made here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from salvo.cli import main
from salvo.errors import InputError
from salvo.utc import format_utc_ns, parse_utc_ns
from sim.score import ScoreConfig, score

T0 = 1_783_198_800_000_000_000  # 2026-07-04T21:00:00Z


def utc(t_s: float) -> str:
    return format_utc_ns(T0 + int(round(t_s * 1e9)), 9)


def make_truth() -> dict:
    shots = [
        # incident 0: one shooter, three rounds
        {"t_utc": utc(0.0), "x_m": 0.0, "y_m": 0.0, "z_m": 1.5, "shooter": "A", "weapon": "9mm", "incident": 0},
        {"t_utc": utc(0.5), "x_m": 0.0, "y_m": 0.0, "z_m": 1.5, "shooter": "A", "weapon": "9mm", "incident": 0},
        {"t_utc": utc(1.0), "x_m": 0.0, "y_m": 0.0, "z_m": 1.5, "shooter": "A", "weapon": "9mm", "incident": 0},
        # incident 1: two shooters 30 m apart, interleaved
        {"t_utc": utc(30.0), "x_m": 100.0, "y_m": 0.0, "z_m": 1.5, "shooter": "A", "weapon": "9mm", "incident": 1},
        {"t_utc": utc(30.3), "x_m": 130.0, "y_m": 0.0, "z_m": 1.5, "shooter": "B", "weapon": ".45", "incident": 1},
        {"t_utc": utc(30.6), "x_m": 100.0, "y_m": 0.0, "z_m": 1.5, "shooter": "A", "weapon": "9mm", "incident": 1},
    ]
    confusers = [{"t_utc": utc(60.0), "x_m": 500.0, "y_m": 500.0, "z_m": 0.0, "kind": "firecracker", "incident": 2}]
    return {"frame": "local", "origin": {"lat": 40.44, "lon": -79.99, "alt_m": 250.0},
            "incidents": [{"id": 0, "name": "string"}, {"id": 1, "name": "two"}, {"id": 2, "name": "crackers"}],
            "shots": shots, "confusers": confusers}


def located(shots, dx=0.0, dy=0.0, dt=0.0, drop=()):
    out = []
    for k, s in enumerate(shots):
        if k in drop:
            continue
        t = (parse_utc_ns(s["t_utc"]) - T0) / 1e9
        out.append({"t_utc": utc(t + dt), "x_m": s["x_m"] + dx, "y_m": s["y_m"] + dy, "z_m": 1.5,
                    "shooter": 0 if s["shooter"] == "A" else 1})
    return out


def incident(shots, cls="gunfire"):
    return {"class": cls, "n_shots": len(shots), "n_shooters": len({s.get("shooter", 0) for s in shots}), "shots": shots}


def perfect_results(truth, **kw):
    return {"frame": "local", "incidents": [incident(located(truth["shots"][:3], **kw)),
                                            incident(located(truth["shots"][3:], **kw))]}


def test_exact_results_score_perfectly_with_known_error():
    truth = make_truth()
    r = score(truth, perfect_results(truth, dx=3.0, dy=4.0, dt=0.01))  # 5 m off each
    assert (r.true_shots, r.detected, r.missed, r.extra_shots) == (6, 6, 0, 0)
    assert r.err_median_m == pytest.approx(5.0) and r.err_max_m == pytest.approx(5.0)
    assert r.within_5m == 1.0 and r.within_25m == 1.0
    assert r.dt_median_s == pytest.approx(0.01, abs=1e-6)
    assert r.shot_count_exact == 1.0 and r.shooter_count_exact == 1.0
    assert r.confusers == 1 and r.confusers_reported_as_gunfire == 0 and r.false_alert_incidents == 0


def test_empty_results_miss_everything():
    r = score(make_truth(), {"frame": "local", "incidents": []})
    assert (r.detected, r.missed, r.reported_gunfire_shots) == (0, 6, 0)
    assert r.err_median_m is None and r.within_15m is None
    assert r.shot_count_exact == 0.0 and r.shot_count_mae == pytest.approx((3 + 3) / 2)
    assert all(i.reported_shots == 0 for i in r.incidents)


def test_missed_and_extra_shots_are_counted():
    truth = make_truth()
    res = {"frame": "local", "incidents": [
        incident(located(truth["shots"][:3], drop=(1,))),  # second round missed
        incident(located(truth["shots"][3:])),
        incident([{"t_utc": utc(80.0), "x_m": -900.0, "y_m": 40.0}]),  # nothing happened there
    ]}
    r = score(truth, res)
    assert (r.detected, r.missed, r.extra_shots) == (5, 1, 1)
    assert r.false_alert_incidents == 1
    by_id = {i.incident: i for i in r.incidents}
    assert (by_id[0].reported_shots, by_id[0].true_shots) == (2, 3)
    assert r.shot_count_exact == 0.5


def test_confuser_reported_as_gunfire_is_a_false_alert():
    truth = make_truth()
    res = perfect_results(truth)
    res["incidents"].append(incident([{"t_utc": utc(60.02), "x_m": 505.0, "y_m": 497.0}]))
    r = score(truth, res)
    assert r.confusers_reported_as_gunfire == 1 and r.false_alerts_by_kind == {"firecracker": 1}
    assert r.extra_shots == 0 and r.false_alert_incidents == 1


def test_non_gunfire_class_is_not_an_alert():
    truth = make_truth()
    res = perfect_results(truth)
    res["incidents"][0]["class"] = "fireworks"
    r = score(truth, res)
    assert (r.detected, r.missed, r.located_not_gunfire) == (3, 3, 3)


def test_matching_is_one_to_one_and_by_time_first():
    truth = make_truth()
    # Two located shots for the first true shot, and the 0.5 s round placed 20 m off but on time.
    shots = [{"t_utc": utc(0.0), "x_m": 1.0, "y_m": 0.0}, {"t_utc": utc(0.01), "x_m": 0.0, "y_m": 1.0},
             {"t_utc": utc(0.5), "x_m": 20.0, "y_m": 0.0}]
    r = score(truth, {"frame": "local", "incidents": [incident(shots)]})
    assert r.detected == 2 and r.extra_shots == 1
    errs = sorted(m.err_m for m in r.matches)
    assert errs == pytest.approx([1.0, 20.0])
    assert all(abs(m.dt_s) < 0.02 for m in r.matches)


def test_gates_reject_far_or_late_shots():
    truth = make_truth()
    far = perfect_results(truth, dx=200.0)  # on time, 200 m off
    assert score(truth, far).detected == 0
    assert score(truth, far, ScoreConfig(dist_tol_m=250.0)).detected == 6
    late = perfect_results(truth, dt=10.0)  # right place, 10 s late
    assert score(truth, late).detected == 0
    assert score(truth, late, ScoreConfig(time_tol_s=11.0)).detected == 6


def test_wgs84_results_are_compared_in_metres():
    from pyproj import Geod

    from sim.geo import EnuFrame

    truth = make_truth()
    frame = EnuFrame(40.44, -79.99, 250.0)
    geod = Geod(ellps="WGS84")
    wt = {**truth, "frame": "wgs84", "shots": [], "confusers": []}
    res_shots = []
    for s in truth["shots"]:
        lat, lon, alt = frame.to_wgs84(s["x_m"], s["y_m"], 251.5 - 250.0)
        wt["shots"].append({**{k: v for k, v in s.items() if k not in ("x_m", "y_m", "z_m")},
                            "lat": float(lat), "lon": float(lon), "alt_m": float(alt)})
        lon2, lat2, _ = geod.fwd(float(lon), float(lat), 45.0, 12.0)  # 12 m to the north-east
        res_shots.append({"t_utc": s["t_utc"], "lat": lat2, "lon": lon2, "alt_m": float(alt)})
    r = score(wt, {"frame": "wgs84", "incidents": [incident(res_shots)]})
    assert r.detected == 6
    assert np.allclose([m.err_m for m in r.matches], 12.0, atol=0.02)


def test_cli_prints_and_writes_json(tmp_path, capsys):
    truth = make_truth()
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    (tmp_path / "results.json").write_text(json.dumps(perfect_results(truth, dx=6.0)))
    assert main(["score", str(tmp_path / "truth.json"), str(tmp_path / "results.json"), "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "6 detected" in out and "false alerts" in out
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["detected"] == 6 and doc["within_5m"] == 0.0 and doc["within_15m"] == 1.0


def test_bad_results_file_names_file(tmp_path, capsys):
    (tmp_path / "truth.json").write_text(json.dumps(make_truth()))
    (tmp_path / "results.json").write_text('{"frame": "local", "incidents": [{"shots": [{"x_m": 1}]}]}')
    assert main(["score", str(tmp_path / "truth.json"), str(tmp_path / "results.json")]) == 2
    err = capsys.readouterr().err
    assert "results.json" in err and "incidents[0].shots[0].t_utc" in err
    with pytest.raises(InputError):
        score(make_truth(), {"frame": "ecef", "incidents": []})
    with pytest.raises(InputError, match="local frame"):
        score({**make_truth(), "frame": "wgs84"}, {"frame": "local", "incidents": []})

"""The offline commands through the ``salvo`` dispatcher: exit codes, files written, messages."""

from __future__ import annotations

import json

import numpy as np
import pytest

from salvo.cli import main
from salvo.utc import format_utc_ns

C = 343.2
T0 = 1_783_199_700 * 10**9
SENSORS = {f"S{i}": np.array(p, float) for i, p in
           enumerate([(0, 0, 6), (260, 10, 8), (10, 250, 5), (270, 260, 9), (130, -60, 7), (-60, 130, 6)])}


def _write_inputs(tmp_path, shots, broken=False, sigma_s=()):
    (tmp_path / "sensors.csv").write_text("sensor_id,x_m,y_m,z_m\n" + "".join(
        f"{k},{p[0]},{p[1]},{p[2]}\n" for k, p in SENSORS.items()))
    (tmp_path / "site.json").write_text(json.dumps({"temperature_c": 20.0, "ground_z_m": 0.0}))
    lines = []
    for j, (t0, src) in enumerate(shots):
        sig = {"sigma_s": sigma_s[j]} if j < len(sigma_s) else {}
        for k, p in SENSORS.items():
            t = T0 + int((t0 + np.linalg.norm(p - src) / 343.2) * 1e9)
            lines.append(json.dumps({"sensor_id": k, "t_utc": format_utc_ns(t, 9), "snr_db": 30.0, "kind": "blast",
                                     **sig}))
    if broken:
        lines.insert(2, '{"sensor_id": "S1", "t_utc": ')
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")


def test_locate_writes_results_geojson_and_plot(tmp_path, capsys):
    _write_inputs(tmp_path, [(0.5, np.array([120.0, 130.0, 1.5])), (1.5, np.array([120.0, 130.0, 1.5]))])
    rc = main(["locate", str(tmp_path / "d.jsonl"), "--sensors", str(tmp_path / "sensors.csv"), "--out",
               str(tmp_path / "r.json"), "--geojson", str(tmp_path / "r.geojson"), "--plot", str(tmp_path / "m.png"),
               "--min-evidence", "8", "--quiet"])
    assert rc == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["frame"] == "local" and doc["incidents"][0]["n_shots"] == 2
    assert abs(doc["incidents"][0]["shots"][0]["x_m"] - 120.0) < 1.0
    assert len(json.loads((tmp_path / "r.geojson").read_text())["features"]) == 2
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_max_sigma_leaves_out_the_sources_timed_too_loosely(tmp_path):
    # a sharp blast and, 1 s later, a slow-rising sound heard as well by every sensor; the sensors'
    # clocks are "unknown" (1 ms of sigma each): the limit is on the onset's own timing
    _write_inputs(tmp_path, [(0.5, np.array([120.0, 130.0, 1.5])), (1.5, np.array([40.0, 200.0, 1.5]))],
                  sigma_s=(0.0001, 0.003))
    args = ["locate", str(tmp_path / "d.jsonl"), "--sensors", str(tmp_path / "sensors.csv"), "--out",
            str(tmp_path / "r.json"), "--min-evidence", "8", "--quiet"]
    assert main(args) == 0
    both = [s for inc in json.loads((tmp_path / "r.json").read_text())["incidents"] for s in inc["shots"]]
    assert len(both) == 2
    assert main(args + ["--max-sigma-ms", "0.5"]) == 0
    kept = [s for inc in json.loads((tmp_path / "r.json").read_text())["incidents"] for s in inc["shots"]]
    assert len(kept) == 1 and abs(kept[0]["x_m"] - 120.0) < 1.0


def test_a_limit_that_is_not_positive_exits_2_naming_it(tmp_path, capsys):
    _write_inputs(tmp_path, [(0.5, np.array([120.0, 130.0, 1.5]))])
    assert main(["locate", str(tmp_path / "d.jsonl"), "--sensors", str(tmp_path / "sensors.csv"), "--out",
                 str(tmp_path / "r.json"), "--max-sigma-ms", "0", "--quiet"]) == 2
    assert "max_pick_sigma_s must be > 0" in capsys.readouterr().err


def test_broken_line_exits_2_naming_the_line_unless_keep_going(tmp_path, capsys):
    _write_inputs(tmp_path, [(0.5, np.array([120.0, 130.0, 1.5]))], broken=True)
    args = ["locate", str(tmp_path / "d.jsonl"), "--sensors", str(tmp_path / "sensors.csv"), "--out",
            str(tmp_path / "r.json"), "--min-evidence", "8", "--quiet"]
    assert main(args) == 2
    assert "d.jsonl:3: not valid JSON" in capsys.readouterr().err
    assert main(args + ["--keep-going"]) == 0
    assert "d.jsonl:3" in capsys.readouterr().err  # reported as a warning
    assert json.loads((tmp_path / "r.json").read_text())["problems"]


def test_analyze_without_sensors_csv_exits_2(tmp_path, capsys):
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "r.json")]) == 2
    assert "sensors.csv: file not found" in capsys.readouterr().err


def test_convert_shotspotter_then_locate(pittsburgh, tmp_path, capsys):
    out = tmp_path / "conv"
    assert main(["convert-shotspotter", str(pittsburgh / "FP1" / "test_004"), str(out)]) == 0
    test = out / "FP1" / "test_004"
    assert (test / "sensors.csv").read_text().startswith("sensor_id,file,start_utc,x_m,y_m,z_m")
    assert len(list(test.glob("*.wav"))) >= 4
    rc = main(["locate", str(test / "pulses" / "detections.jsonl"), "--sensors", str(test / "pulses" / "sensors.csv"),
               "--out", str(tmp_path / "r.json"), "--quiet"])
    assert rc == 0
    survey = json.loads((test / "survey.json").read_text())
    shots = [s for i in json.loads((tmp_path / "r.json").read_text())["incidents"] if i["class"] == "gunfire"
             for s in i["shots"]]
    assert len(shots) == survey["num_rounds"] == 1
    assert np.hypot(shots[0]["x_m"] - survey["x_m"], shots[0]["y_m"] - survey["y_m"]) < 10.0


def test_convert_shotspotter_pools_each_sensors_position_over_the_tests(pittsburgh, tmp_path, capsys):
    import csv
    import shutil

    src = tmp_path / "release" / "FP1"
    for name in ("test_004", "test_005", "test_006"):
        shutil.copytree(pittsburgh / "FP1" / name, src / name)

    def positions(out, name):
        with open(out / "FP1" / name / "sensors.csv", newline="") as fh:
            return {r["sensor_id"]: np.array([float(r[k]) for k in ("x_m", "y_m", "z_m")]) for r in csv.DictReader(fh)}

    assert main(["convert-shotspotter", str(tmp_path / "release"), str(tmp_path / "own")]) == 0
    assert main(["convert-shotspotter", str(tmp_path / "release"), str(tmp_path / "pooled"), "--pool-positions"]) == 0
    own = {n: positions(tmp_path / "own", n) for n in ("test_004", "test_005", "test_006")}
    pooled = {n: positions(tmp_path / "pooled", n) for n in ("test_004", "test_005", "test_006")}
    serial = "SCP-00-BNQ-1409"  # released in all three
    fixes = np.array([own[n][serial] for n in own])
    assert np.ptp(fixes, axis=0).max() > 1.0  # the fixes differ by metres
    for n in pooled:
        np.testing.assert_allclose(pooled[n][serial], np.median(fixes, axis=0), atol=1e-3)
    # one test alone has nothing to pool over; a firing position's folder holds no FPk/test_nnn
    rc = main(["convert-shotspotter", str(src / "test_004"), str(tmp_path / "one"), "--pool-positions"])
    assert rc == 2 and "--pool-positions needs the release folder" in capsys.readouterr().err
    rc = main(["convert-shotspotter", str(src), str(tmp_path / "fp"), "--pool-positions"])
    assert rc == 2 and "FP1: no test folders" in capsys.readouterr().err


def test_convert_with_positions_lacking_a_sensor_names_it(pittsburgh, tmp_path):
    from locator.pittsburgh import convert_test, load_test, pooled_positions
    from salvo.errors import InputError

    test = load_test(pittsburgh / "FP1" / "test_004")
    positions = pooled_positions([test])
    del positions[("FP1", "SCP-00-BNQ-1409")]
    with pytest.raises(InputError, match=r"test_004: no pooled position for sensor SCP-00-BNQ-1409"):
        convert_test(test, tmp_path / "t4", positions)

"""Recording sets on disk: exact audio, clocks and positions; same seed same bytes; nothing half-written."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from salvo.cli import main
from salvo.utc import parse_utc_ns
from simscenes import quiet_scene
from sim.geo import EnuFrame
from sim.recording import write_recording_set
from sim.render import simulate

SENSORS = [{"id": "A", "x_m": 100.0, "y_m": 0.0, "fs_hz": 16000}, {"id": "B", "x_m": 0.0, "y_m": 150.0, "fs_hz": 44100, "bits": 24},
           {"id": "C", "x_m": -80.0, "y_m": -60.0, "fs_hz": 8000, "bits": 12, "clock": "ntp"}]


@pytest.fixture(scope="module")
def result():
    return simulate(quiet_scene(SENSORS, sensor_defaults={"position_error_m": 2.0}, duration_s=2.0), seed=7)


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_local_set_reads_back_exactly(tmp_path, result):
    out = write_recording_set(result, tmp_path / "set", frame="local")
    rows = read_csv(out / "sensors.csv")
    assert [r["sensor_id"] for r in rows] == ["A", "B", "C"]
    for row, rec in zip(rows, result.sensors):
        audio, fs = sf.read(out / row["file"], dtype="float32")
        assert fs == rec.fs_hz
        assert np.array_equal(audio, rec.audio)
        assert parse_utc_ns(row["start_utc"]) == rec.start_ns
        reported = [float(row[k]) for k in ("x_m", "y_m", "z_m")]
        assert np.allclose(reported, rec.reported_pos_m, atol=1e-3)
        assert np.linalg.norm(np.array(reported) - rec.pos_m) > 0  # position error applied
    info = sf.info(out / "B.wav")
    assert info.subtype == "PCM_24"
    truth = json.loads((out / "truth.json").read_text())
    assert truth["frame"] == "local" and len(truth["shots"]) == 1
    assert json.loads((out / "site.json").read_text())["ground_z_m"] == 0.0
    # A 12-bit converter uses only 12 bits of its 16-bit file.
    c, _ = sf.read(out / "C.wav", dtype="int16")
    assert np.all(c % 16 == 0)


def test_wgs84_set_positions_project_back(tmp_path, result):
    out = write_recording_set(result, tmp_path / "set", frame="wgs84")
    frame = EnuFrame(*result.origin)
    for row, rec in zip(read_csv(out / "sensors.csv"), result.sensors):
        x, y, z = frame.to_local(float(row["lat"]), float(row["lon"]), float(row["alt_m"]))
        assert np.allclose([x, y, z], rec.reported_pos_m, atol=1e-3)
    shot = json.loads((out / "truth.json").read_text())["shots"][0]
    assert np.allclose(frame.to_local(shot["lat"], shot["lon"], shot["alt_m"]), result.truth.shots[0].pos_m, atol=1e-3)
    assert "ground_alt_m" in json.loads((out / "site.json").read_text())


def test_failure_leaves_nothing_behind(tmp_path, result, monkeypatch):
    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(sf, "write", boom)
    with pytest.raises(OSError):
        write_recording_set(result, tmp_path / "set")
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_other_things(tmp_path, result, capsys):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "thesis.tex").write_text("precious")
    from salvo.errors import InputError

    with pytest.raises(InputError, match="mine"):
        write_recording_set(result, target)
    assert (target / "thesis.tex").read_text() == "precious"


SCENARIO = """
[scenario]
name = "tiny"
duration_s = 3.0
[noise]
level_db_spl = 50.0
traffic_db_spl = 55.0
[environment]
wind_speed_mps = 6.0
[layout]
count = 4
area_m = [600.0, 600.0]
[buildings_random]
count = 6
area_m = [600.0, 600.0]
[[incident]]
t_s = 0.5
  [[incident.shooter]]
  x_m = 30.0
  y_m = -20.0
  weapon = "5.56"
  aim_deg = 45.0
  schedule = [{ kind = "auto", rounds = 4, rate_rpm = 800.0 }]
  [[incident.confuser]]
  kind = "firecracker_string"
  x_m = -100.0
  y_m = 50.0
  count = 5
"""


def test_cli_same_seed_same_bytes(tmp_path):
    scn = tmp_path / "tiny.toml"
    scn.write_text(SCENARIO)
    outs = []
    for k, seed in enumerate((3, 3, 4)):
        out = tmp_path / f"run{k}"
        assert main(["sim", str(scn), "--out", str(out), "--seed", str(seed), "--quiet"]) == 0
        outs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outs[0] == outs[1]
    assert outs[0]["scenario.toml"] == SCENARIO.encode()
    assert set(outs[0]) == set(outs[2]) and outs[0]["S01.wav"] != outs[2]["S01.wav"]


def test_cli_bad_scenario_exits_2_and_writes_nothing(tmp_path, capsys):
    scn = tmp_path / "bad.toml"
    scn.write_text(SCENARIO.replace("count = 4", "count = -4"))
    assert main(["sim", str(scn), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "layout.count" in err
    assert not (tmp_path / "out").exists()


def test_cli_lists_presets(capsys):
    assert main(["sim", "--list-presets"]) == 0
    assert "small-city" in capsys.readouterr().out


def test_cli_lists_scenario_fields(capsys):
    assert main(["sim", "--fields"]) == 0
    out = capsys.readouterr().out
    for key in ("clock_fault_s", "miss_probability", "reverb_rt60_s", "rate_rpm", "burst_height_m"):
        assert key in out


def test_plot_draws_the_scene(tmp_path, result):
    from sim.plot import plot_result

    out = plot_result(result, tmp_path / "scene.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000

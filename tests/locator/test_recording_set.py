"""Reading recording sets: sensors.csv in both frames, site.json, audio, and every kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from locator.recording_set import load_recording_set, load_sensors, load_site
from salvo.errors import InputError

HEADER = "sensor_id,file,start_utc,x_m,y_m,z_m\n"


def _wav(path, fs=16000, seconds=1.0, rng=None):
    rng = rng or np.random.default_rng(0)
    sf.write(str(path), (0.01 * rng.standard_normal(int(fs * seconds))).astype(np.float32), fs)


def _set(tmp_path, rows, header=HEADER, fs=(16000, 16000, 16000)):
    for i, f in enumerate(fs):
        _wav(tmp_path / f"s{i}.wav", fs=f)
    (tmp_path / "sensors.csv").write_text(header + "".join(rows))
    return tmp_path


ROWS = ["A,s0.wav,2026-07-04T21:15:00Z,0,0,5\n", "B,s1.wav,2026-07-04T21:15:00.5Z,100,0,5\n",
        "C,s2.wav,2026-07-04T21:15:00Z,0,100,8\n"]


def test_local_frame_and_mixed_sample_rates(tmp_path):
    rs = load_recording_set(_set(tmp_path, ROWS, fs=(16000, 8000, 48000)))
    assert rs.sensor_set.frame_name == "local"
    assert [r.fs_hz for r in rs.recordings] == [16000, 8000, 48000]
    np.testing.assert_allclose(rs.sensor_set.positions["B"], [100, 0, 5])
    assert rs.recordings[1].sensor.start_ns - rs.recordings[0].sensor.start_ns == 500_000_000
    assert rs.problems == ()


def test_wgs84_positions_become_local_metres(tmp_path):
    hdr = "sensor_id,file,start_utc,lat,lon,alt_m,clock,sigma_clock_s\n"
    rows = ["A,s0.wav,2026-07-04T21:15:00Z,41.8781,-87.6298,180,gps,\n",
            "B,s1.wav,2026-07-04T21:15:00Z,41.8781,-87.6286,180,ntp,0.004\n",
            "C,s2.wav,2026-07-04T21:15:00Z,41.8790,-87.6298,185,,\n"]
    sset = load_sensors(_set(tmp_path, rows, header=hdr) / "sensors.csv")
    assert sset.frame_name == "wgs84"
    a, b = sset.positions["A"], sset.positions["B"]
    assert np.linalg.norm(b - a) == pytest.approx(99.5, abs=1.0)  # 0.0012 deg of longitude at 41.9 N
    assert [s.clock for s in sset.sensors] == ["gps", "ntp", "unknown"]
    assert sset.sensors[1].sigma_clock_s == 0.004


def test_site_json(tmp_path):
    (tmp_path / "site.json").write_text('{"temperature_c": 0.0, "ground_z_m": -3}')
    site = load_site(tmp_path / "site.json")
    assert site.c_mps == pytest.approx(331.3) and site.ground_z_m == -3.0
    (tmp_path / "site.json").write_text('{"temperature_c": "warm"}')
    with pytest.raises(InputError, match="site.json: temperature_c"):
        load_site(tmp_path / "site.json")


def test_missing_and_malformed_csv(tmp_path):
    with pytest.raises(InputError, match="sensors.csv: file not found"):
        load_recording_set(tmp_path)
    (tmp_path / "sensors.csv").write_text("sensor_id,x_m,y_m\nA,1,2\n")
    with pytest.raises(InputError, match=r"sensors.csv:1: missing column\(s\) file, start_utc"):
        load_recording_set(tmp_path)
    bad = [ROWS[0], "B,s1.wav,2026-07-04T21:15:00Z,east,0,5\n", ROWS[2]]
    _set(tmp_path, bad)
    with pytest.raises(InputError, match=r"sensors.csv:3: x_m: 'east' is not a number"):
        load_recording_set(tmp_path)
    rs = load_recording_set(tmp_path, keep_going=True)
    assert [r.sensor.sensor_id for r in rs.recordings] == ["A", "C"]
    assert len(rs.problems) == 1 and "sensors.csv:3: x_m" in rs.problems[0]


def test_duplicate_ids_and_bad_times(tmp_path):
    _set(tmp_path, [ROWS[0], ROWS[1], "A,s2.wav,2026-07-04T21:15:00Z,0,100,8\n"])
    with pytest.raises(InputError, match=r"sensors.csv:4: sensor_id: duplicate id 'A' \(first on line 2\)"):
        load_recording_set(tmp_path)
    _set(tmp_path, [ROWS[0], "B,s1.wav,yesterday,100,0,5\n", ROWS[2]])
    with pytest.raises(InputError, match=r"sensors.csv:3: start_utc"):
        load_recording_set(tmp_path)


def test_missing_and_unreadable_audio(tmp_path):
    _set(tmp_path, ROWS)
    (tmp_path / "s1.wav").unlink()
    with pytest.raises(InputError, match=r"s1.wav \(sensor B, .*sensors.csv:3: file\): audio file not found"):
        load_recording_set(tmp_path)
    (tmp_path / "s1.wav").write_bytes(b"RIFF this is not a wav file")
    with pytest.raises(InputError, match=r"s1.wav .*cannot read audio"):
        load_recording_set(tmp_path)
    rs = load_recording_set(tmp_path, keep_going=True)
    assert [r.sensor.sensor_id for r in rs.recordings] == ["A", "C"]
    assert "s1.wav" in rs.problems[0]


def test_gapped_times_are_reported(tmp_path):
    rows = [ROWS[0], ROWS[1], "C,s2.wav,2026-07-04T22:00:00Z,0,100,8\n"]  # C recorded an hour later
    rs = load_recording_set(_set(tmp_path, rows))
    assert any("sensors.csv:4: start_utc: C's recording shares no time" in p for p in rs.problems)
    assert any("no time span in common" in p for p in rs.problems)


def test_locate_needs_only_ids_and_positions(tmp_path):
    (tmp_path / "sensors.csv").write_text("sensor_id,x_m,y_m,z_m\nA,0,0,0\nB,1,1,1\n")
    sset = load_sensors(tmp_path / "sensors.csv", need_audio=False)
    assert [s.file for s in sset.sensors] == [None, None]

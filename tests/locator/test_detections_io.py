"""Detection logs: round trip, and broken lines reported with their line numbers."""

from __future__ import annotations

import math

import pytest

from locator.detections_io import read_detections, write_detections
from salvo.errors import InputError
from sensor_node.protocol import Detection

T = 1_783_199_703_123_456_789


def test_round_trip_keeps_nanoseconds_and_fields(tmp_path):
    dets = [Detection("S07", T, sigma_s=0.0012, snr_db=23.1, peak_dbfs=-12.0, p_gunshot=0.97, kind="blast"),
            Detection("S01", T - 5, kind="secondary")]
    path = tmp_path / "d.jsonl"
    assert write_detections(path, dets) == 2
    back = read_detections(path).detections
    assert [d.sensor_id for d in back] == ["S01", "S07"]  # written in time order
    assert back[1].t_ns == T and back[1].p_gunshot == 0.97 and back[1].kind == "blast"
    assert math.isnan(back[0].snr_db)
    lines = path.read_text().splitlines()
    for key in ("sigma_s", "snr_db", "p_gunshot", "kind"):  # analyze --detections always carries these
        assert all(f'"{key}"' in line for line in lines)


def test_broken_lines_name_file_and_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"sensor_id": "S1", "t_utc": "2026-07-04T21:15:03.1Z"}\n'
        "\n"
        '{"sensor_id": "S2", "t_utc": "2026-07-04T21:15:03.2Z"\n'
        '{"sensor_id": "S3"}\n'
        '{"sensor_id": "S4", "t_utc": "2026-07-04T21:15:03.4Z", "kind": "bang"}\n'
        '{"sensor_id": "S5", "t_utc": "2026-07-04T21:15:03.5Z", "sigma_s": -1}\n'
        '{"sensor_id": "S6", "t_utc": "2026-07-04T21:15:03.6Z"}\n'
    )
    with pytest.raises(InputError, match=r"d.jsonl:3: not valid JSON"):
        read_detections(path)
    log = read_detections(path, keep_going=True)
    assert [d.sensor_id for d in log.detections] == ["S1", "S6"]
    assert [p.split(": ", 1)[0].rsplit(":", 1)[1] for p in log.problems] == ["3", "4", "5", "6"]
    assert "t_utc: missing" in log.problems[1] and "kind" in log.problems[2] and "sigma_s" in log.problems[3]


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="nope.jsonl: file not found"):
        read_detections(tmp_path / "nope.jsonl")

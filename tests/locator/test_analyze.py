"""``salvo analyze`` end to end from audio on small hand-built scenes: a burst with echoes and
misses, two interleaved shooters with one bad clock, an aerial firework; results and GeoJSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from locator.analyze import analyze
from locator.results_io import geojson_dict, read_results, write_results
from salvo.utc import format_utc_ns
from sim.sources import muzzle_blast

FS = 24000
C = 343.2
START_NS = 1_783_199_700 * 10**9
SENSORS = np.array([(0, 0, 6), (260, 10, 8), (10, 250, 5), (270, 260, 9), (130, -60, 7), (-60, 130, 6),
                    (330, 130, 10), (140, 320, 6)], dtype=float)
GROUND = np.array([130.0, 120.0, 1.5])


def _scene(tmp_path, shots, seconds=4.0, rng=None, missing=(), clock_fault=None, echo=True):
    """Write a recording set: ``shots`` are (t0_s, position) pairs; returns the folder."""
    rng = rng or np.random.default_rng(5)
    blast = muzzle_blast(FS, "9mm")
    n = int(seconds * FS)
    rows = []
    for i, s in enumerate(SENSORS):
        x = (2e-4 * rng.standard_normal(n)).astype(np.float64)
        for k, (t0, p) in enumerate(shots):
            if (i, k) in missing:
                continue
            d = float(np.linalg.norm(s - p))
            t = t0 + d / C + (0.05 if i == clock_fault else 0.0)
            amp = 2e-3 / max(d, 1.0)  # 1/r spreading, full scale per Pa
            arrivals = [(t, amp)] + ([(t + rng.uniform(0.03, 0.25), 0.3 * amp)] if echo else [])
            for ta, a in arrivals:
                j = int(round(ta * FS))
                m = min(blast.size, n - j)
                if 0 <= j < n:
                    x[j : j + m] += a * blast[:m]
        name = f"S{i}.wav"
        sf.write(str(tmp_path / name), x.astype(np.float32), FS, subtype="FLOAT")
        rows.append(f"S{i},{name},{format_utc_ns(START_NS)},{s[0]},{s[1]},{s[2]}\n")
    (tmp_path / "sensors.csv").write_text("sensor_id,file,start_utc,x_m,y_m,z_m,clock\n".replace(",clock", "") +
                                          "".join(rows))
    (tmp_path / "site.json").write_text(json.dumps({"temperature_c": 20.0, "ground_z_m": 0.0}))
    return tmp_path


def _ground(result):
    """Incidents on the ground: gunfire, or "impulse" when the node's classifier (dsp's business,
    not tested here) doubts these synthetic blasts."""
    return [i for i in result.incidents if i.klass in ("gunfire", "impulse")]


def _errors(result, truth_xy):
    return [float(np.min([np.linalg.norm(s.pos_m[:2] - t) for t in truth_xy])) for s in result.shots]


def test_burst_with_echoes_and_a_missed_detection(tmp_path):
    shots = [(0.5 + 0.075 * k, GROUND) for k in range(10)]
    res = analyze(_scene(tmp_path, shots, missing={(2, 3), (5, 7)}))
    gun = _ground(res)
    assert len(gun) == 1 and gun[0].n_shots == 10 and gun[0].n_shooters == 1
    assert max(_errors(res, [GROUND[:2]])) < 2.0


def test_two_interleaved_shooters_and_a_bad_clock(tmp_path):
    a, b = GROUND, GROUND + np.array([30.0, 0.0, 0.0])
    shots = sorted([(0.5 + 0.3 * k, a) for k in range(5)] + [(0.65 + 0.3 * k, b) for k in range(5)],
                   key=lambda s: s[0])
    res = analyze(_scene(tmp_path, shots, clock_fault=3))
    (inc,) = _ground(res)
    # every round found, at the right shooter, within 2 m and 5 ms
    for t0, p in shots:
        near = [s for s in res.shots if abs(s.t0_ns - START_NS - t0 * 1e9) < 5e6]
        assert near and min(np.linalg.norm(s.pos_m[:2] - p[:2]) for s in near) < 2.0
    # known limit (see the report): where the two shooters' wavefronts and echoes cross, one
    # coincidence of 8 sensors can pass as an extra shot; never more here
    assert inc.n_shots <= 11 and 2 <= inc.n_shooters <= 3
    # the 50 ms clock fault joins at most the odd coincidence, never the shots as a rule
    assert sum("S3" in s.sensor_ids for s in res.shots) <= 2


def test_aerial_firework_is_not_gunfire(tmp_path):
    res = analyze(_scene(tmp_path, [(0.5, np.array([150.0, 140.0, 90.0]))], echo=False))
    assert res.incidents and all(i.klass != "gunfire" for i in res.incidents)
    assert res.incidents[0].klass == "fireworks"


def test_results_and_geojson_follow_the_design(tmp_path):
    res = analyze(_scene(tmp_path, [(0.5, GROUND), (0.9, GROUND)]))
    out = write_results(tmp_path / "r.json", res.incidents, res.sensor_set.frame, res.sensor_set.frame_name)
    doc = read_results(out)
    assert doc["frame"] == "local"
    inc = doc["incidents"][0]
    for key in ("id", "start_utc", "end_utc", "class", "confidence", "n_shots", "n_shooters", "shots"):
        assert key in inc
    shot = inc["shots"][0]
    for key in ("t_utc", "x_m", "y_m", "z_m", "err_m", "shooter", "sensors"):
        assert key in shot
    assert abs(shot["x_m"] - GROUND[0]) < 2 and shot["t_utc"].startswith("2026-07-04T")
    gj = geojson_dict(res.incidents, res.sensor_set.frame, res.sensor_set.frame_name)
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 2
    assert gj["features"][0]["geometry"]["coordinates"][0] == pytest.approx(shot["x_m"])


def test_keep_going_processes_what_is_valid(tmp_path):
    root = _scene(tmp_path, [(0.5, GROUND)])
    (root / "S7.wav").unlink()
    from salvo.errors import InputError

    with pytest.raises(InputError, match="S7.wav"):
        analyze(root)
    res = analyze(root, keep_going=True)
    assert any("S7.wav" in p for p in res.problems)
    assert sum(i.n_shots for i in res.incidents) == 1

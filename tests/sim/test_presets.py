"""Presets: every one loads; the gunfight preset (issue 5's benchmark) has what it promises."""

from __future__ import annotations

import numpy as np
import pytest

from sim.presets import PRESETS, load_preset
from sim.render import simulate


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads(name):
    scn = load_preset(name)
    assert scn.name == name
    assert scn.incidents and scn.info.description


def test_small_city_fits_the_demo():
    scn = load_preset("small-city")
    n_sensors = scn.layout.count + len(scn.sensors)
    assert 14 <= n_sensors <= 18
    assert scn.layout.area_m[0] * scn.layout.area_m[1] == pytest.approx(2e6, rel=0.1)
    # 16-bit WAVs under 60 MB.
    assert n_sensors * scn.duration_s * scn.sensor_defaults.fs_hz * 2 < 60e6
    kinds = {c.kind for i in scn.incidents for c in i.confusers}
    assert {"firework", "door_slam"} <= kinds
    assert any(len(i.shooters) == 2 for i in scn.incidents)
    assert any(f.kind == "auto" for i in scn.incidents for s in i.shooters for f in s.schedule)


@pytest.fixture(scope="module")
def gunfight():
    return simulate(load_preset("gunfight"), seed=101)


@pytest.mark.slow
def test_gunfight_has_what_issue_5_needs(gunfight):
    res = gunfight
    assert len(res.sensors) == 16
    shots = res.truth.shots
    burst = sorted(s.t_ns for s in shots if s.incident == 0)
    assert len(burst) == 30
    assert np.median(np.diff(burst)) / 1e9 == pytest.approx(60.0 / 800.0, abs=0.004)
    pair = [s for s in shots if s.incident == 1]
    a = next(s.pos_m for s in pair if s.shooter == "A")
    b = next(s.pos_m for s in pair if s.shooter == "B")
    assert np.linalg.norm(a[:2] - b[:2]) == pytest.approx(30.0, abs=0.5)
    order = [s.shooter for s in sorted(pair, key=lambda s: s.t_ns)][:16]
    assert sum(x != y for x, y in zip(order, order[1:])) >= 12  # interleaved
    shot_events = {s.event for s in shots}
    for rec in res.sensors:
        echoes = {a.event for a in res.arrivals if a.sensor_id == rec.sensor_id and a.path == "echo" and a.event in shot_events}
        assert len(echoes) >= 0.5 * len(shot_events), rec.sensor_id
    share = len(res.missed) / (len(res.sensors) * len(res.events))
    assert 0.07 < share < 0.13  # 10 % missed, binomial over ~1,500 draws
    faults = [r for r in res.sensors if r.clock_fault_s]
    assert len(faults) == 1 and faults[0].clock_fault_s == 0.05 and abs(faults[0].clock_offset_s - 0.05) < 1e-4
    kinds = {c.kind for c in res.truth.confusers}
    assert {"firecracker", "firework_launch", "firework_burst"} <= kinds
    bursts = [c for c in res.truth.confusers if c.kind == "firework_burst"]
    assert all(c.pos_m[2] > 60.0 for c in bursts)

"""Association on hand-made streams: bursts, interleaved shooters, echoes, misses, a bad clock."""

from __future__ import annotations

import numpy as np
import pytest

from locator._associate_kernels import best_hypotheses, best_hypotheses_numpy, repeat_matches, repeat_matches_numpy
from locator.associate import (AssociationConfig, OnlineAssociator, SensorTable, _Search, _usable, associate,
                               strength_db)
from salvo.errors import ConfigError
from sensor_node.protocol import Detection

C = 343.2
T_BASE = 1_700_000_000 * 10**9


def _array(rng, n=16, spacing=150.0):
    g = int(np.ceil(np.sqrt(n)))
    xy = np.array([(i % g * spacing, i // g * spacing) for i in range(n)], float) + rng.normal(0, 20, (n, 2))
    pos = np.c_[xy, rng.uniform(4, 10, n)]
    return {f"S{i:02d}": p for i, p in enumerate(pos)}


def _stream(rng, sensors, shots, miss=0.1, echoes=1, sigma=0.0005, clock_fault=None, bias=None, image_s=None):
    """Detections of ``shots`` ((t0 s, position) pairs): ``bias`` {sensor: s} is added to every
    arrival at a sensor (a surveyed position a metre or two off, a path bent round a building);
    ``image_s`` adds a copy of every arrival that much later (the blast off a wall beside the
    shooter: an image source heard everywhere with nearly the same delays)."""
    dets = []
    for t0, p in shots:
        for sid, s in sensors.items():
            if rng.random() < miss:
                continue
            ta = t0 + np.linalg.norm(s - p) / C + rng.normal(0, sigma) + (bias or {}).get(sid, 0.0)
            if sid == clock_fault:
                ta += 0.050
            if image_s is not None:
                dets.append(Detection(sid, T_BASE + int((ta + image_s) * 1e9), sigma_s=0.001,
                                      snr_db=rng.normal(24, 2), kind="blast"))
            # direct blasts are louder than their echoes (SNR in dB)
            dets.append(Detection(sid, T_BASE + int(ta * 1e9), sigma_s=0.001, snr_db=rng.normal(30, 3), kind="blast"))
            for _ in range(echoes):
                t_echo = ta + rng.uniform(0.02, 0.4)
                dets.append(Detection(sid, T_BASE + int(t_echo * 1e9), sigma_s=0.001, snr_db=rng.normal(20, 3)))
    dets.sort(key=lambda d: d.t_ns)
    return dets


def _match(shots, truth, tol_m=2.0):
    """Per true shot, the error of the located shot nearest in time (None when none within 30 ms)."""
    out = []
    for t0, p in truth:
        near = [s for s in shots if abs(s.t0_ns - (T_BASE + t0 * 1e9)) < 30e6]
        out.append(min((np.linalg.norm(s.pos_m[:2] - p[:2]) for s in near), default=None))
    return out


@pytest.mark.parametrize("depth", [0, 2])
def test_kernel_matches_numpy_twin(rng, depth):
    sensors = _array(rng, n=9)
    truth = [(1.0 + 0.2 * k, np.array([120.0 + 10 * k, 150.0, 1.5])) for k in range(4)]
    dets = _stream(rng, sensors, truth, miss=0.1)
    table = SensorTable.from_any(sensors)
    cfg = AssociationConfig(tolerance_s=0.006)
    s = _Search(_usable(dets, table, cfg), table, cfg)
    s.active[::7] = False
    strong = s.strong.copy()
    strong[::5] = False
    anchors = np.arange(len(s.dets))
    m, n_sens = len(anchors), len(table.ids)
    sup, score, xyt, mem = np.zeros(m, np.int64), np.zeros(m), np.zeros((m, 3)), np.zeros((m, n_sens), np.int64)
    args = (s.t, s.sens, s.wgt, float(s.wgt.max()), s.active, strong, depth)
    geo = (s.nbr, s.dist, anchors, s.z0, C, 2.0, -1.5, cfg.tolerance_s, cfg.gate_margin_s, s.max_range, cfg.min_sensors)
    best_hypotheses(*args, s.st, s.order, s.ptr, table.pos_m, *geo, sup, score, xyt, mem)
    sup2, score2, xyt2, mem2 = best_hypotheses_numpy(*args, table.pos_m, *geo)
    np.testing.assert_array_equal(sup, sup2)
    np.testing.assert_allclose(score, score2, atol=1e-6)
    found = sup > 0
    assert found.sum() > len(dets) // 4
    np.testing.assert_allclose(xyt[found], xyt2[found], atol=1e-4)
    np.testing.assert_array_equal(mem, mem2)


def test_repeat_kernel_matches_numpy_twin(rng):
    sensors = _array(rng, n=9)
    truth = [(1.0 + 0.07 * k, np.array([120.0, 150.0, 1.5])) for k in range(6)]
    dets = _stream(rng, sensors, truth, miss=0.1)
    table = SensorTable.from_any(sensors)
    s = _Search(_usable(dets, table, AssociationConfig()), table, AssociationConfig())
    s.active[::6] = False
    sp = np.array([0, 2, 3, 5, 8], dtype=np.int64)
    delay = rng.uniform(0.0, 1.0, sp.size)
    anchors = np.flatnonzero(np.isin(s.sens, sp))
    slot = np.searchsorted(sp, s.sens[anchors]).astype(np.int64)
    t0s = s.t[anchors] - delay[slot]
    out = np.empty((anchors.size, sp.size), np.int64)
    repeat_matches(s.t, s.active, s.st, s.order, s.ptr, sp, delay, t0s, 0.05, out)
    twin = repeat_matches_numpy(s.t, s.active, s.sens, sp, delay, t0s, 0.05)
    np.testing.assert_array_equal(out, twin)
    assert (out >= 0).sum() > anchors.size  # the tolerance is wide: most slots match something


def test_burst_with_echoes_and_misses(rng):
    sensors = _array(rng)
    truth = [(1.0 + 0.075 * k, np.array([200.0, 250.0, 1.5])) for k in range(30)]
    dets = _stream(rng, sensors, truth)
    shots = associate(dets, sensors, AssociationConfig(tolerance_s=0.006))
    assert len(shots) == 30
    err = _match(shots, truth)
    assert all(e is not None and e < 1.0 for e in err)
    # one detection per sensor per shot, and no detection in two shots
    for s in shots:
        assert len(set(s.sensor_ids)) == len(s.sensor_ids) >= 4
    used = [id(d) for s in shots for d in s.detections]
    assert len(used) == len(set(used))


def test_burst_with_sensor_biases_is_found_round_by_round(rng):
    # per-sensor biases of several ms (positions off by metres) make each round's fit loose,
    # so that periodic aliases of the burst fit as well as the rounds; the rounds' common
    # pattern is what tells them apart
    sensors = _array(rng)
    bias = {sid: rng.uniform(-0.005, 0.005) for sid in sensors}
    truth = [(1.0 + 0.07 * k, np.array([200.0, 250.0, 1.5])) for k in range(25)]
    dets = _stream(rng, sensors, truth, echoes=2, bias=bias)
    shots = associate(dets, sensors, AssociationConfig(tolerance_s=0.010))
    assert len(shots) == 25
    assert all(e is not None and e < 5.0 for e in _match(shots, truth))


def test_a_wall_beside_the_shooter_adds_no_rounds(rng):
    # every round is heard again 17 ms later with the same pattern: no gun fires that fast
    sensors = _array(rng)
    truth = [(1.0 + 0.3 * k, np.array([200.0, 250.0, 1.5])) for k in range(5)]
    dets = _stream(rng, sensors, truth, image_s=0.017)
    shots = associate(dets, sensors, AssociationConfig(tolerance_s=0.006))
    assert len(shots) == 5
    assert all(e is not None and e < 1.0 for e in _match(shots, truth))


def test_strength_ranks_echoes_below_the_next_round():
    t = np.array([0.0, 0.030, 0.070, 0.100])  # blast, its echo, next round, its echo
    level = np.array([-10.0, -18.0, -10.5, -19.0])
    snr = np.array([40.0, 32.0, 39.5, 31.0])
    s = strength_db(t, level, snr, window_s=0.3, decay_db_per_s=50.0)
    assert s[0] == 40.0  # nothing before it: its SNR
    assert s[1] < 0 and s[3] < 0  # below the decaying level of the blast before
    assert 0 < s[2] < 10  # the next round stands out by what the last one decayed


def test_online_keeps_patterns_across_searches(rng):
    # a burst longer than a search step: later rounds repeat the patterns of rounds already
    # released, found the same way as offline
    sensors = _array(rng)
    bias = {sid: rng.uniform(-0.004, 0.004) for sid in sensors}
    truth = [(1.0 + 0.08 * k, np.array([200.0, 250.0, 1.5])) for k in range(20)]
    dets = _stream(rng, sensors, truth, bias=bias)
    cfg = AssociationConfig(tolerance_s=0.010, step_s=0.1)
    online = OnlineAssociator(sensors, cfg)
    got = [s for d in dets for s in online.push(d)] + online.flush()
    assert len(got) == 20
    assert all(e is not None and e < 5.0 for e in _match(got, truth))


def test_two_interleaved_shooters_and_a_bad_clock(rng):
    sensors = _array(rng)
    a, b = np.array([200.0, 250.0, 1.5]), np.array([230.0, 250.0, 1.5])
    truth = []
    for k in range(10):
        truth += [(1.0 + 0.15 * k, a), (1.0 + 0.15 * k + 0.06 + rng.uniform(-0.02, 0.02), b)]
    dets = _stream(rng, sensors, truth, clock_fault="S05")
    shots = associate(dets, sensors, AssociationConfig(tolerance_s=0.006))
    err = _match(shots, truth)
    assert sum(e is not None and e < 1.0 for e in err) >= 19
    assert len(shots) <= 20
    # S05's arrivals are 50 ms late: they only join a shot where they happen to fall on the
    # other shooter's wavefront, never as a matter of course
    assert sum("S05" in s.sensor_ids for s in shots) <= 4


def test_echoes_and_single_sensor_confusers_make_no_shot(rng):
    sensors = _array(rng)
    dets = _stream(rng, sensors, [(1.0, np.array([200.0, 250.0, 1.5]))], echoes=3)
    dets += [Detection("S03", T_BASE + int((1.0 + 0.01 * k) * 1e9)) for k in range(20)]  # a one-sensor rattle
    dets.sort(key=lambda d: d.t_ns)
    shots = associate(dets, sensors, AssociationConfig(tolerance_s=0.006))
    assert len(shots) == 1
    assert shots[0].t0_ns == pytest.approx(T_BASE + 1e9, abs=2e6)


def test_nwave_detections_are_never_located(rng):
    sensors = _array(rng, n=9)
    dets = _stream(rng, sensors, [(1.0, np.array([150.0, 150.0, 1.5]))], miss=0.0, echoes=0)
    nw = [Detection(d.sensor_id, d.t_ns, kind="nwave") for d in dets]
    assert associate(nw, sensors) == []
    assert len(associate(dets, sensors)) == 1


def test_online_equals_offline_and_waits_boundedly(rng):
    sensors = _array(rng)
    truth = [(1.0 + 0.5 * k, np.array([100.0 + 40 * k, 250.0, 1.5])) for k in range(6)]
    dets = _stream(rng, sensors, truth)
    cfg = AssociationConfig(tolerance_s=0.006)
    online = OnlineAssociator(sensors, cfg)
    got = []
    for d in dets:
        for s in online.push(d):
            # released no earlier than every sensor could have heard it, and not long after
            assert d.t_ns >= s.t0_ns
            assert d.t_ns - s.t0_ns <= (online.max_wait_s + cfg.step_s + 0.5) * 1e9
            got.append(s)
    got += online.flush()
    offline = associate(dets, sensors, cfg)
    assert len(got) == len(offline) == 6
    for s, o in zip(sorted(got, key=lambda s: s.t0_ns), offline):
        assert s.sensor_ids == o.sensor_ids
        np.testing.assert_allclose(s.pos_m, o.pos_m, atol=1e-6)
    assert online.pending == 0


def test_bad_config_is_a_config_error():
    with pytest.raises(ConfigError, match="min_sensors"):
        AssociationConfig(min_sensors=2)
    with pytest.raises(ConfigError, match="method"):
        AssociationConfig(method="nope")

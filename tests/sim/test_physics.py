"""The simulator's physics, each checked against a number computed here independently:
arrival times with clocks, spreading, absorption, wind, blocked paths, supersonic shock waves."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

from simscenes import band_energy_db, first_departure, half_peak_onset, quiet_scene
from sim.render import simulate
from sim.sources import WEAPONS

NS = 1e9


def c_of(temp_c: float) -> float:
    return 331.3 * np.sqrt(1.0 + temp_c / 273.15)  # REFERENCE.md


def clock_sample(rec, t_true_ns: float) -> float:
    """Sample index where a sound arriving at true time t lands, from the sensor's reported clock."""
    t = (t_true_ns - rec.start_ns) / NS  # true time relative to the clock's start reading, s
    t_first = -rec.clock_offset_s  # true time of the first sample on that scale
    reading = t + rec.clock_offset_s + rec.clock_drift_ppm * 1e-6 * (t - t_first)
    return reading * rec.fs_hz


@pytest.mark.parametrize("fs_hz", [8000, 16000, 44100, 48000, 96000])
def test_direct_blast_arrives_at_distance_over_c_plus_clock_offset(fs_hz):
    sensors = [
        {"id": "G", "x_m": 120.0, "y_m": 40.0, "z_m": 8.0},
        {"id": "F", "x_m": -300.0, "y_m": 210.0, "z_m": 12.0, "clock_fault_s": 0.0123},
        {"id": "N", "x_m": 60.0, "y_m": -420.0, "z_m": 5.0, "clock": "ntp", "clock_drift_ppm": 200.0},
        {"id": "U", "x_m": 500.0, "y_m": 500.0, "z_m": 10.0, "clock": "unknown", "clock_sigma_s": 0.02},
    ]
    temp = -5.0
    # Timing alone: without absorption the band-limited blast's front is where it is.
    scn = quiet_scene(sensors, fs_hz=fs_hz, temperature_c=temp, t_shot_s=1.5, duration_s=4.0, absorption=False,
                      sensor_defaults={"start_jitter_s": 0.3})
    res = simulate(scn, seed=11)
    shot = res.truth.shots[0]
    assert any(abs(r.clock_offset_s - 0.0123) < 1e-4 for r in res.sensors)
    for rec in res.sensors:
        r = np.linalg.norm(rec.pos_m - shot.pos_m)
        expected = clock_sample(rec, shot.t_ns + r / c_of(temp) * NS)
        assert half_peak_onset(rec.audio) == pytest.approx(expected, abs=1.0), rec.sensor_id
        (arr,) = [a for a in res.arrivals if a.sensor_id == rec.sensor_id and a.path == "direct"]
        assert arr.sample == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("fs_hz", [16000, 96000])
def test_absorption_is_causal_and_rounds_the_front(fs_hz):
    sensors = [{"id": f"R{d}", "x_m": float(d), "y_m": 0.0, "z_m": 1.5} for d in (100, 700)]
    res = simulate(quiet_scene(sensors, fs_hz=fs_hz, aim_deg=0.0), seed=12)
    shot = res.truth.shots[0]
    rises = []
    for rec in res.sensors:
        expected = clock_sample(rec, shot.t_ns + np.linalg.norm(rec.pos_m - shot.pos_m) / c_of(20.0) * NS)
        # Nothing before the travel time (a zero-phase filter would smear the front earlier) ...
        assert first_departure(rec.audio, 0.05) >= expected - 1.0
        # ... and the front is rounded: the half-peak comes later, the more air in between.
        rises.append((half_peak_onset(rec.audio) - expected) / fs_hz)
    assert 0.0 <= rises[0] < rises[1] < 0.5e-3


def _line_of_sensors(distances):
    # All due east of a north-aimed muzzle: same angle off the barrel, same height as the muzzle.
    return [{"id": f"D{int(d)}", "x_m": float(d), "y_m": 0.0, "z_m": 1.5} for d in distances]


def _levels(res, band):
    out = {}
    for rec in res.sensors:
        start = int(half_peak_onset(rec.audio)) - 200
        out[rec.sensor_id] = band_energy_db(rec.audio, start, rec.fs_hz, band)
    return out


def test_levels_fall_6_db_per_doubling_without_absorption():
    d = [25, 50, 100, 200, 400]
    res = simulate(quiet_scene(_line_of_sensors(d), absorption=False), seed=1)
    lv = _levels(res, (20.0, 20000.0))
    drops = [lv[f"D{a}"] - lv[f"D{b}"] for a, b in zip(d, d[1:])]
    assert np.allclose(drops, 20 * np.log10(2.0), atol=0.05)


def test_levels_fall_6_db_per_doubling_plus_absorption_and_highs_fall_faster():
    d = [50, 100, 200, 400]
    res = simulate(quiet_scene(_line_of_sensors(d), temperature_c=20.0), seed=1)  # 50 % RH
    low = _levels(res, (200.0, 1000.0))
    high = _levels(res, (4000.0, 8000.0))
    six = 20 * np.log10(2.0)
    for a, b in zip(d, d[1:]):
        # REFERENCE.md, ISO 9613-1 at 20 °C/50 %: at most 4.7 dB/km below 1 kHz.
        assert six - 0.05 <= low[f"D{a}"] - low[f"D{b}"] <= six + 4.7e-3 * (b - a) + 0.05
    extra_high = (high["D50"] - high["D400"]) - 3 * six
    extra_low = (low["D50"] - low["D400"]) - 3 * six
    # 4–8 kHz loses between 29.7 and 105 dB/km over the extra 350 m.
    assert 29.7e-3 * 350 - 0.5 <= extra_high <= 105e-3 * 350
    assert extra_high > extra_low + 8.0


def test_wind_shifts_arrivals_by_the_along_path_component():
    w, temp = 10.0, 20.0
    sensors = [{"id": "E", "x_m": 300.0, "y_m": 0.0, "z_m": 1.5}, {"id": "W", "x_m": -300.0, "y_m": 0.0, "z_m": 1.5},
               {"id": "N", "x_m": 0.0, "y_m": 300.0, "z_m": 1.5}]
    calm = simulate(quiet_scene(sensors, temperature_c=temp, absorption=False), seed=2)
    windy = simulate(quiet_scene(sensors, temperature_c=temp, absorption=False, wind_mps=w, wind_from_deg=270.0), seed=2)
    c = c_of(temp)
    wind = np.array([w, 0.0, 0.0])
    shot = windy.truth.shots[0]
    for rec_c, rec_w in zip(calm.sensors, windy.sensors):
        d = rec_w.pos_m - shot.pos_m
        # Sound carried by the air: arrival when |d - wind·t| = c·t.
        t_wind = brentq(lambda t: np.linalg.norm(d - wind * t) - c * t, 1e-6, 10.0)
        along = float(d @ wind) / np.linalg.norm(d)
        assert half_peak_onset(rec_w.audio) == pytest.approx(clock_sample(rec_w, shot.t_ns + t_wind * NS), abs=1.0)
        shift_s = (half_peak_onset(rec_w.audio) - half_peak_onset(rec_c.audio)) / rec_w.fs_hz
        first_order = np.linalg.norm(d) / (c + along) - np.linalg.norm(d) / c
        assert shift_s == pytest.approx(first_order, abs=max(1.5 / rec_w.fs_hz, 0.0005 * abs(first_order)) + 0.4e-3 * (along == 0))
    east, west = windy.sensors[0], windy.sensors[1]
    assert half_peak_onset(east.audio) < half_peak_onset(west.audio) - 0.03 * east.fs_hz


def test_blocked_path_diffracts_later_and_weaker():
    sensors = [{"id": "B", "x_m": 50.0, "y_m": 0.0, "z_m": 1.5}]
    box = [(-10.0, 10.0, -20.0, 20.0, 30.0)]
    open_ = simulate(quiet_scene(sensors, shooter_xy=(-50.0, 0.0), absorption=False), seed=3)
    blocked = simulate(quiet_scene(sensors, shooter_xy=(-50.0, 0.0), absorption=False, buildings=box), seed=3)
    paths = {a.path for a in blocked.arrivals}
    assert paths == {"diffracted"}
    rec = blocked.sensors[0]
    shot = blocked.truth.shots[0]
    around = 2 * np.hypot(40.0, 20.0) + 20.0  # round the two corners, shorter than over the 30 m roof
    expected = clock_sample(rec, shot.t_ns + around / c_of(20.0) * NS)
    assert half_peak_onset(rec.audio) == pytest.approx(expected, abs=1.0)
    assert half_peak_onset(rec.audio) > half_peak_onset(open_.sensors[0].audio) + 0.02 * rec.fs_hz
    loss_db = 20 * np.log10(np.max(np.abs(open_.sensors[0].audio)) / np.max(np.abs(rec.audio)))
    assert loss_db > 20 * np.log10(around / 100.0) + 4.7  # spreading over the longer path + barrier loss


def test_rifle_shock_wave_arrives_first_where_the_mach_cone_reaches():
    temp = 15.0
    sensors = [{"id": "AHEAD", "x_m": 250.0, "y_m": 30.0, "z_m": 1.5}, {"id": "BEHIND", "x_m": -250.0, "y_m": 30.0, "z_m": 1.5}]
    res = simulate(quiet_scene(sensors, weapon="5.56", aim_deg=90.0, elevation_deg=3.0, temperature_c=temp), seed=4)
    shot = res.truth.shots[0]
    assert shot.supersonic
    v, c = WEAPONS["5.56"].bullet_speed_mps, c_of(temp)
    ahead = res.sensors[0]
    aim = shot.aim  # east, with the round's few degrees of aim jitter
    assert aim[0] > 0.99
    # Fermat: the shock reaches x first from the trajectory point minimising emission time + travel time.
    best = minimize_scalar(lambda tau: tau + np.linalg.norm(ahead.pos_m - shot.pos_m - aim * v * tau) / c,
                           bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-10})
    nw = [a for a in res.arrivals if a.sensor_id == "AHEAD" and a.path == "nwave"]
    direct = [a for a in res.arrivals if a.sensor_id == "AHEAD" and a.path == "direct"]
    assert len(nw) == 1 and nw[0].sample < direct[0].sample
    assert (nw[0].t_ns - shot.t_ns) / NS == pytest.approx(best.fun, abs=2e-6)
    assert not [a for a in res.arrivals if a.sensor_id == "BEHIND" and a.path == "nwave"]
    # The N-wave is the first thing in the recording at the sensor ahead.
    first = np.argmax(np.abs(ahead.audio) > 0.1 * np.max(np.abs(ahead.audio)))
    assert abs(first - nw[0].sample) < 3


def test_same_seed_same_audio_other_seed_other_audio():
    sensors = [{"id": "A", "x_m": 100.0, "y_m": 0.0}, {"id": "B", "x_m": 0.0, "y_m": 150.0}]
    scn = quiet_scene(sensors, sensor_defaults={"position_error_m": 1.0, "clock": "ntp"})
    a, b, other = simulate(scn, seed=5), simulate(scn, seed=5), simulate(scn, seed=6)
    for ra, rb, ro in zip(a.sensors, b.sensors, other.sensors):
        assert ra.audio.tobytes() == rb.audio.tobytes()
        assert ra.audio.tobytes() != ro.audio.tobytes()
        assert np.array_equal(ra.reported_pos_m, rb.reported_pos_m)
    assert a.arrivals == b.arrivals


def test_muzzle_is_louder_in_front_than_behind_and_more_so_for_highs():
    sensors = [{"id": "FRONT", "x_m": 0.0, "y_m": 150.0, "z_m": 1.5}, {"id": "BACK", "x_m": 0.0, "y_m": -150.0, "z_m": 1.5}]
    res = simulate(quiet_scene(sensors, aim_deg=0.0, absorption=False), seed=8)
    front, back = res.sensors
    aim = res.truth.shots[0].aim  # within a few degrees of north
    at_1khz = WEAPONS["9mm"].directivity_db * aim[1]  # (D/2)·cos θ in front minus behind
    for f0, scale in ((1000.0, 1.0), (4000.0, 2.0)):  # the stated model: dB ∝ sqrt(f / 1 kHz)
        band = (f0 * 0.95, f0 * 1.05)
        start_f, start_b = int(half_peak_onset(front.audio)) - 200, int(half_peak_onset(back.audio)) - 200
        diff = band_energy_db(front.audio, start_f, 48000, band) - band_energy_db(back.audio, start_b, 48000, band)
        assert diff == pytest.approx(scale * at_1khz, abs=0.6), f0


def test_ground_reflection_lags_by_two_heights_over_distance():
    sensors = [{"id": "R", "x_m": 300.0, "y_m": 0.0, "z_m": 10.0}]
    res = simulate(quiet_scene(sensors, ground=0.9), seed=9)
    by_path = {a.path: a for a in res.arrivals}
    lag = (by_path["ground"].t_ns - by_path["direct"].t_ns) / NS
    # REFERENCE.md: extra path ≈ 2·h_source·h_sensor/d (0.3 ms at 300 m for 1.5 m and 10 m).
    assert lag == pytest.approx(2 * 1.5 * 10.0 / 300.0 / c_of(20.0), rel=0.02)
    assert by_path["ground"].peak_pa == pytest.approx(0.9 * by_path["direct"].peak_pa, rel=0.02)


def test_occluded_sensor_hears_nothing_and_says_so():
    sensors = [{"id": "DEAF", "x_m": 100.0, "y_m": 0.0, "miss_probability": 1.0}, {"id": "OK", "x_m": -100.0, "y_m": 0.0}]
    res = simulate(quiet_scene(sensors), seed=10)
    assert res.missed == (("DEAF", 0),)
    assert not [a for a in res.arrivals if a.sensor_id == "DEAF"]
    assert np.max(np.abs(res.sensors[0].audio)) == 0.0 and np.max(np.abs(res.sensors[1].audio)) > 0.0


def test_sensor_at_the_muzzle_does_not_break_the_simulation():
    res = simulate(quiet_scene([{"id": "ON", "x_m": 0.0, "y_m": 0.0, "z_m": 1.5}]), seed=13)
    assert np.all(np.isfinite(res.sensors[0].audio)) and np.max(np.abs(res.sensors[0].audio)) > 0.99  # clipped


@pytest.mark.parametrize("reverb_db", [-10.0, 0.0, 6.0])
def test_reverberant_tail_carries_its_energy_after_the_onset(reverb_db):
    sensors = [{"id": "R", "x_m": 200.0, "y_m": 0.0, "z_m": 1.5}]
    dry = simulate(quiet_scene(sensors, absorption=False, fs_hz=16000), seed=14).sensors[0].audio.astype(float)
    wet = simulate(quiet_scene(sensors, absorption=False, fs_hz=16000, reverb_db=reverb_db), seed=14).sensors[0].audio.astype(float)
    onset = int(half_peak_onset(dry))
    # Before the tail starts (5 ms after the first arrival) the two recordings are the same sound.
    assert np.allclose(wet[: onset + 60], dry[: onset + 60], atol=2e-6)
    tail = wet - dry
    ratio_db = 10 * np.log10(np.sum(tail**2) / np.sum(dry**2))
    assert ratio_db == pytest.approx(reverb_db, abs=1.5)


def test_shock_wave_reflects_off_the_ground_as_a_second_n_wave():
    sensors = [{"id": "AHEAD", "x_m": 250.0, "y_m": 30.0, "z_m": 8.0}]
    # Aimed 3 degrees up (the round's jitter is about 1 degree), so the bullet stays in the air.
    res = simulate(quiet_scene(sensors, weapon="5.56", aim_deg=90.0, elevation_deg=3.0, ground=0.9), seed=4)
    nw = sorted((a for a in res.arrivals if a.path == "nwave"), key=lambda a: a.t_ns)
    assert len(nw) == 2
    shot = res.truth.shots[0]
    v, c = WEAPONS["5.56"].bullet_speed_mps, c_of(20.0)
    mirror = res.sensors[0].pos_m * np.array([1, 1, -1])  # flat ground at z = 0
    best = minimize_scalar(lambda tau: tau + np.linalg.norm(mirror - shot.pos_m - shot.aim * v * tau) / c,
                           bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-10})
    assert (nw[1].t_ns - shot.t_ns) / NS == pytest.approx(best.fun, abs=2e-6)
    assert nw[1].peak_pa < nw[0].peak_pa


def test_no_shock_wave_past_where_a_low_round_hits_the_ground():
    sensors = [{"id": "FAR", "x_m": 300.0, "y_m": 20.0, "z_m": 1.5}]
    res = simulate(quiet_scene(sensors, weapon="5.56", aim_deg=90.0, elevation_deg=-3.0), seed=4)
    # 1.5 m up, 3 degrees down: the round meets the ground about 30 m out.
    assert not [a for a in res.arrivals if a.path == "nwave"]

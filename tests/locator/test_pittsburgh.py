"""The loader of the ShotSpotter release layout, on the real data and on broken copies; one test's audio analysed."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from locator.pittsburgh import iter_test_dirs, iter_tests, load_test, speed_of_sound_mps
from salvo.errors import InputError


def test_speed_of_sound_matches_reference():
    assert speed_of_sound_mps(20.0) == pytest.approx(343.2, abs=0.05)
    assert speed_of_sound_mps(0.0) == pytest.approx(331.3)


def test_loads_every_dev_test(pittsburgh):
    tests = list(iter_tests(pittsburgh))
    assert len(tests) == 54
    assert sum(t.survey.num_rounds for t in tests) == 108
    for t in tests:
        assert 4 <= len(t.sensors) <= 6
        assert len(t.tuples) == t.survey.num_rounds
        assert all(s.wav_path.is_file() for s in t.sensors)
        times = [p.t_ns for p in t.pulses]
        assert times == sorted(times)
        assert 320.0 < t.c_mps < 335.0


def test_first_test_fields(pittsburgh):
    t = load_test(pittsburgh / "FP1" / "test_001")
    assert t.firing_position == "FP1"
    assert t.survey.num_rounds == 3
    np.testing.assert_allclose(t.survey.pos_m, [-11450.2046110589, 3653.51602554694, -92.8580693662])
    s = {x.serial: x for x in t.sensors}["SCP-00-BNG-5567"]
    np.testing.assert_allclose(s.pos_m, [-11625.3960530303, 3373.84941826388, -125.092069366200])
    assert s.start_ns == 1545180566 * 10**9
    shots = t.tuple_pulses()
    assert len(shots) == 3 and len(shots[0]) == 20
    assert t.weather is not None and t.weather.temperature_c == 0.0


def test_firing_position_filter(pittsburgh):
    dirs = iter_test_dirs(pittsburgh, ("FP2",))
    assert len(dirs) == 18 and all(d.parent.name == "FP2" for d in dirs)


def test_broken_copy_names_file_and_field(pittsburgh, tmp_path):
    src = pittsburgh / "FP1" / "test_004"
    dst = tmp_path / "test_004"
    shutil.copytree(src, dst)
    survey = dst / "test_004.survey.json"
    d = json.loads(survey.read_text())
    del d["survey_location"]["y"]
    survey.write_text(json.dumps(d))
    with pytest.raises(InputError, match=r"test_004\.survey\.json: survey_location\.y"):
        load_test(dst)
    survey.write_text("{ not json")
    with pytest.raises(InputError, match=r"test_004\.survey\.json:1"):
        load_test(dst)
    survey.unlink()
    with pytest.raises(InputError, match="not found"):
        load_test(dst)


def test_street_audio_limited_to_sharp_onsets_gives_the_round_alone(pittsburgh, tmp_path):
    """FP1 test_005 (a single round, 6 released sensors; FP1 was tuned on): the street's slow-rising
    triggers line up into a repeating source ~100 m off, called gunfire a dozen times, unless
    detections timed worse than 0.5 ms are left out (``max_pick_sigma_s``)."""
    import dataclasses

    from locator.analyze import AnalyzeConfig, detect_recordings, locate_detections, site_configs
    from locator.pittsburgh import convert_test
    from locator.recording_set import load_recording_set

    test = load_test(pittsburgh / "FP1" / "test_005")
    rs = load_recording_set(convert_test(test, tmp_path / "t5"))
    dets = detect_recordings(rs.recordings)
    assoc, _ = site_configs(rs.sensor_set, AnalyzeConfig())
    assoc = dataclasses.replace(assoc, tolerance_s=0.025, min_evidence=7.0)

    def gunfire(limit):
        an = locate_detections(dets, rs.sensor_set, AnalyzeConfig(association=assoc, max_pick_sigma_s=limit))
        return [s for inc in an.incidents if inc.klass == "gunfire" for s in inc.shots]

    assert len(gunfire(None)) > 3
    (shot,) = gunfire(0.0005)
    assert np.linalg.norm(shot.pos_m[:2] - test.survey.pos_m[:2]) < 15.0


def test_pooled_sidecar_positions_bring_shotspotters_own_tuples_closer(pittsburgh):
    """Each test's sidecar carries its own GPS fix of a fixed sensor; the median of a sensor's
    fixes over a firing position's tests places it better, as ShotSpotter's own pulse times,
    solved on the released sensors, show (FP1 and FP3: per-test fixes 4.1 / 4.6 m median)."""
    from locator.pittsburgh import pooled_positions
    from locator.solve import default_source_z, solve

    for fp in ("FP1", "FP3"):
        tests = list(iter_tests(pittsburgh, (fp,)))
        pooled = pooled_positions(tests)
        one = tests[0].sensors[0].serial
        fixes = [s.pos_m for t in tests for s in t.sensors if s.serial == one]
        np.testing.assert_allclose(pooled[(fp, one)], np.median(fixes, axis=0))
        errs = {"own": [], "pooled": []}
        for t in tests:
            for shot in t.tuple_pulses():
                q = [x for x in shot if x.serial in {s.serial for s in t.sensors}]
                toas = np.array([(x.t_ns - q[0].t_ns) * 1e-9 for x in q])
                for kind in errs:
                    at = {s.serial: s.pos_m if kind == "own" else pooled[(fp, s.serial)] for s in t.sensors}
                    p = np.array([at[x.serial] for x in q])
                    sol = solve(p, toas, np.full(len(q), 1e-3), mode="2d", z_m=default_source_z(p), c_mps=t.c_mps)
                    errs[kind].append(np.linalg.norm(sol.pos_m[:2] - t.survey.pos_m[:2]))
        assert np.median(errs["pooled"]) < np.median(errs["own"]) - 0.5, fp


def test_a_string_is_placed_by_its_arrivals_not_by_an_echo_that_repeats_with_it(pittsburgh, tmp_path):
    """FP2 test_033 (tuned on; sensors at their pooled sidecar positions): BNQ-0681 hears a sharp
    echo 0.3 s after each of the three rounds.  The true arrivals clear ``min_evidence`` alone;
    the echo line-up falls short alone but repeats with the string.  Both must be scored with
    the string's support, or the echo wins the challenge and the string lands 90 m off."""
    import dataclasses

    from locator.analyze import AnalyzeConfig, detect_recordings, locate_detections, site_configs
    from locator.pittsburgh import convert_test, pooled_positions
    from locator.recording_set import load_recording_set

    test = load_test(pittsburgh / "FP2" / "test_033")
    positions = pooled_positions(iter_tests(pittsburgh, ("FP2",)))
    rs = load_recording_set(convert_test(test, tmp_path / "t33", positions))
    dets = detect_recordings(rs.recordings)
    assoc, _ = site_configs(rs.sensor_set, AnalyzeConfig())
    assoc = dataclasses.replace(assoc, tolerance_s=0.025, min_evidence=7.0, min_sensors=3)
    an = locate_detections(dets, rs.sensor_set, AnalyzeConfig(association=assoc, max_pick_sigma_s=0.0005))
    shots = [s for inc in an.incidents if inc.klass == "gunfire" for s in inc.shots]
    assert len(shots) == 3
    for s in shots:
        assert np.linalg.norm(s.pos_m[:2] - test.survey.pos_m[:2]) < 10.0


@pytest.mark.parametrize("fp, name, near", [("FP2", "test_026", 3), ("FP2", "test_019", 3), ("FP2", "test_020", 2),
                                            ("FP2", "test_031", 3), ("FP1", "test_016", 1), ("FP2", "test_025", 3)])
def test_a_sparse_arrays_string_is_found_where_echoes_line_up_tighter(pittsburgh, tmp_path, monkeypatch, fp, name,
                                                                      near):
    """FP1, FP2 (tuned on; pooled sidecar positions): the sensors sit 10-15 ms off the straight-line
    delays and hear sharp echoes 0.3-0.4 s after each round, which recur with the string.  In
    test_026 the kernel's best minimal sets are echo line-ups and the true rounds are never
    proposed: the string proposes them (``_Search._strings``).  In test_019 five true arrivals
    lose to an alias of four unless the string's support is gated on the strongest four
    (``_fix_strength``); in test_020 the true round's three arrivals fit a second root 2.7 km off
    (``solve(near_m=...)``); in test_031 the second round is heard sharp at two sensors only and
    is timed at the string's place (``SPARSE_REPEAT_SENSORS``); in FP1 test_016 (one round, four
    sensors) the kernel's best set holds an echo 42 ms after a blast, and the blasts' set is
    tried when it fails (``_blasts_before``); in FP2 test_025 the rounds are heard sharp at 3, 3
    and 2 sensors, only two of them recurring, and the first two rounds are fitted together
    (``_stacked``).  Without each of these, its test has fewer rounds within 15 m."""
    import dataclasses

    from locator import associate as A
    from locator import solve as S
    from locator.analyze import AnalyzeConfig, detect_recordings, locate_detections, site_configs
    from locator.pittsburgh import convert_test, pooled_positions
    from locator.recording_set import load_recording_set

    test = load_test(pittsburgh / fp / name)
    positions = pooled_positions(iter_tests(pittsburgh, (fp,)))
    rs = load_recording_set(convert_test(test, tmp_path / name, positions))
    dets = detect_recordings(rs.recordings)
    assoc, _ = site_configs(rs.sensor_set, AnalyzeConfig())
    cfg = AnalyzeConfig(association=dataclasses.replace(assoc, tolerance_s=0.025, min_evidence=7.0, min_sensors=3),
                        max_pick_sigma_s=0.0005)

    # each round's emission time, from ShotSpotter's pulses of it and the survey
    t_rounds = [min(q.t_ns - np.linalg.norm(np.asarray(q.pos_m) - test.survey.pos_m) / test.c_mps * 1e9 for q in shot)
                for shot in test.tuple_pulses()]

    def within_15m():
        """Rounds with a gunfire shot within 50 ms of their emission and 15 m of the survey."""
        an = locate_detections(dets, rs.sensor_set, cfg)
        shots = [s for inc in an.incidents if inc.klass == "gunfire" for s in inc.shots]
        return sum(any(abs(s.t0_ns - t) <= 50e6 and np.linalg.norm(s.pos_m[:2] - test.survey.pos_m[:2]) < 15.0
                       for s in shots) for t in t_rounds)

    assert within_15m() >= near
    if name == "test_026":
        monkeypatch.setattr(A._Search, "_string_rival", lambda self, got, *args: got)
    elif name == "test_019":
        monkeypatch.setattr(A._Search, "_fix_strength", lambda self, idx: self._median_strength(idx))
    elif name == "test_031":
        monkeypatch.setattr(A, "SPARSE_REPEAT_SENSORS", 3)
    elif name == "test_016":
        monkeypatch.setattr(A._Search, "_blasts_before", lambda self, mem: None)
    elif name == "test_025":
        monkeypatch.setattr(A._Search, "_stacked_rival", lambda self, anchors, done: None)
    else:
        plain = S.solve
        monkeypatch.setattr(S, "solve", lambda *args, near_m=None, **kw: plain(*args, **kw))
    assert within_15m() < near

"""ShotSpotter's own pulse times of real shots (Pittsburgh live fire) land near the surveyed position."""

from __future__ import annotations

import numpy as np
import pytest

from locator.pittsburgh import iter_tests
from locator.solve import solve

pytestmark = pytest.mark.realdata


def shots(root, fp):
    for test in iter_tests(root, firing_positions=(fp,)):
        for pulses in test.tuple_pulses():
            t_ns = np.array([p.t_ns for p in pulses], dtype=np.int64)
            yield np.array([p.pos_m for p in pulses]), (t_ns - t_ns.min()) * 1e-9, test.c_mps, test.survey.pos_m


def horizontal_errors(root, fp, **kwargs):
    errors = []
    for pos, toa, c, survey in shots(root, fp):
        sol = solve(pos, toa, 1e-3, c_mps=c, **kwargs)
        assert sol.ok, sol.reason
        errors.append(float(np.hypot(*(sol.pos_m[:2] - survey[:2]))))
        if kwargs.get("method") is None:
            # real timing errors are several ms: the reported error radius must have grown to match
            assert sol.sigma_scale > 1.0 and sol.err_m > 0.5
    return np.array(errors)


def test_every_shot_of_the_held_out_firing_position_is_solved_near_the_survey(pittsburgh):
    # FP3 was held out when the outlier rule was chosen (FP1 + FP2 only)
    salvo = horizontal_errors(pittsburgh, "FP3")
    plain = horizontal_errors(pittsburgh, "FP3", method="ls")
    assert len(salvo) == 36
    assert np.median(salvo) < 4.0 and salvo.max() < 10.0
    assert np.median(salvo) <= np.median(plain) + 1e-6 and np.percentile(salvo, 90) <= np.percentile(plain, 90) + 1e-6


def test_a_late_but_ordinary_arrival_is_not_left_out(pittsburgh):
    # Regression on tuning data (FP2): one sensor is ~19 ms late against others scattered by ~3.5 ms;
    # at the survey its bias is within the ~9 ms spread of every sensor's.  Leaving it out (normal
    # threshold on an estimated scale) moved FP2's median from 4.3 to 5.1 m.
    salvo = horizontal_errors(pittsburgh, "FP2")
    plain = horizontal_errors(pittsburgh, "FP2", method="ls")
    assert np.median(salvo) <= np.median(plain) + 1e-6

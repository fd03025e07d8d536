"""ShotSpotter's own pulse times of real shots (Pittsburgh live fire) land near the surveyed position."""

from __future__ import annotations

import numpy as np
import pytest

from locator.pittsburgh import iter_tests
from locator.solve import solve

pytestmark = pytest.mark.realdata


def test_every_shot_of_one_firing_position_is_solved_near_the_survey(pittsburgh):
    errors = []
    for test in iter_tests(pittsburgh, firing_positions=("FP3",)):
        for pulses in test.tuple_pulses():
            t_ns = np.array([p.t_ns for p in pulses], dtype=np.int64)
            toa = (t_ns - t_ns.min()) * 1e-9
            pos = np.array([p.pos_m for p in pulses])
            sol = solve(pos, toa, 1e-3, c_mps=test.c_mps)
            assert sol.ok, sol.reason
            errors.append(float(np.hypot(*(sol.pos_m[:2] - test.survey.pos_m[:2]))))
            # real timing errors are several ms: the reported error radius must have grown to match
            assert sol.sigma_scale > 1.0 and sol.err_m > 0.5
    assert len(errors) == 36
    assert np.median(errors) < 4.0 and max(errors) < 10.0

import numpy as np
import pytest

from salvo.errors import InputError
from sensor_node.clock import ClockModel, fit_clock

FS = 48000.0
T0 = 1_800_000_000 * 10**9


def _anchors(rng, n, drift_ppm, jitter_s, every=4800):
    samples = np.arange(n, dtype=np.int64) * every
    true_s = samples / FS * (1 + drift_ppm * 1e-6)
    utc = T0 + np.round((true_s + rng.normal(0, jitter_s, n)) * 1e9).astype(np.int64)
    return samples, utc


def test_fit_recovers_drift_and_jitter(rng):
    s, u = _anchors(rng, 200, drift_ppm=73.0, jitter_s=200e-6)
    fit = fit_clock(s, u, FS)
    assert fit.state == "locked"
    assert fit.drift_ppm == pytest.approx(73.0, abs=3.0)
    assert fit.jitter_s == pytest.approx(200e-6, rel=0.2)
    # A sample between anchors maps to its true time far better than the jitter.
    n = 123_456
    true_ns = T0 + n / FS * (1 + 73e-6) * 1e9
    assert abs(fit.to_utc_ns(n) - true_ns) < 60e3


def test_single_anchor_is_nominal():
    fit = fit_clock(np.array([10]), np.array([T0]), FS)
    assert fit.state == "nominal" and fit.to_utc_ns(10 + 48000) == T0 + 10**9


def test_model_reanchors_on_step_and_reports_holdover(rng):
    m = ClockModel(FS, window=16, step_threshold_s=0.01, holdover_s=5.0)
    s, u = _anchors(rng, 20, drift_ppm=-40.0, jitter_s=50e-6)
    for a, b in zip(s, u):
        fit = m.add_anchor(a, b)
    assert fit.state == "locked" and fit.n_anchors == 16
    # The system clock was stepped by half a second: a new window, not a bent line.
    fit = m.add_anchor(s[-1] + 4800, u[-1] + 100_000_000 + 500_000_000)
    assert fit.state == "reanchored" and m.reanchors == 1 and fit.n_anchors == 1
    assert m.fit(now_sample=s[-1] + 4800 + int(6 * FS)).state == "holdover"


def test_bad_anchors_rejected():
    with pytest.raises(InputError):
        fit_clock(np.array([1, 2]), np.array([3]), FS)
    with pytest.raises(InputError):
        ClockModel(FS).fit()

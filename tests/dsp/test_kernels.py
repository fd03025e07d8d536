"""Each numba kernel equals its plain-numpy twin."""

from __future__ import annotations

import numpy as np

from dsp import _kernels as K
from dsp._twins import trigger_twin
from dsp.config import DetectorConfig
from dsp.trigger import TriggerStream, design_trigger


def _signal(rng, fs):
    x = 1e-3 * rng.standard_normal(int(1.5 * fs))
    for t in (0.6, 0.66, 1.1):
        i = int(t * fs)
        x[i : i + 40] += 0.2 * np.exp(-np.arange(40) / 8.0)
    x += 0.05  # DC offset
    return x.astype(np.float32)


def test_trigger_kernel_equals_twin(rng):
    for fs in (12_000, 48_000):
        x = _signal(rng, fs)
        d = design_trigger(fs, DetectorConfig())
        y_ref, trig_ref, floor_ref, weak_ref = trigger_twin(x, d.sos, d.zi_unit * float(x[0]), d.params)
        stream = TriggerStream(d)
        parts = [stream.run_both(x[a:b]) for a, b in ((0, 1000), (1000, 1001), (1001, 7777), (7777, x.size))]
        y = np.concatenate([p[0] for p in parts])
        trig = np.concatenate([p[1] for p in parts])
        floors = np.concatenate([p[2] for p in parts])
        weak = np.concatenate([p[3] for p in parts])
        np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(trig, trig_ref)
        np.testing.assert_allclose(floors, floor_ref, rtol=1e-6)
        np.testing.assert_array_equal(weak, weak_ref)
        assert trig.size == 3  # the three impulses, none from the DC offset
        assert weak.size >= 3 and weak_ref.size == weak.size


def test_trigger_state_layout_is_complete():
    # the kernel reads exactly the parameters the design writes
    d = design_trigger(16_000, DetectorConfig())
    assert d.params.shape == (K.N_PARAMS,)
    assert np.all(np.isfinite(d.params)) and d.params[K.P_HOP] == 4
    assert d.params[K.P_WEAK_ON] > 0
    assert design_trigger(16_000, DetectorConfig(weak_snr_on_db=0.0)).params[K.P_WEAK_ON] == 0


def test_matched_z_kernel_equals_twin(rng):
    from dsp._twins import matched_z_twin
    from dsp.confirm import ORDER, blast_template

    for fs in (12_000, 48_000):
        tmpl = blast_template(float(fs), 200.0)
        n = int(0.03 * fs)
        noise = np.cumsum(rng.standard_normal(n)) * 0.01 + rng.standard_normal(n)  # coloured ambience
        for amp in (0.0, 8.0):
            seg = noise.copy()
            i = int(0.021 * fs)
            seg[i : i + tmpl.size] += amp * tmpl
            pre_end, lo, hi = int(0.019 * fs), int(0.0195 * fs), int(0.025 * fs)
            z = K.matched_z_kernel(seg, pre_end, lo, hi, tmpl, ORDER, np.empty(ORDER + 1))
            assert abs(z - matched_z_twin(seg, pre_end, lo, hi, tmpl, ORDER)) < 1e-9 * max(1.0, z)
        assert z > 5.0  # the last one, with the template in it
    assert K.matched_z_kernel(np.zeros(100), 50, 60, 70, tmpl, ORDER, np.empty(ORDER + 1)) == 0.0

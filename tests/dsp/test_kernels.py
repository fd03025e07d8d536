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
        y_ref, trig_ref, floor_ref = trigger_twin(x, d.sos, d.zi_unit * float(x[0]), d.params)
        stream = TriggerStream(d)
        parts = [stream.run(x[a:b]) for a, b in ((0, 1000), (1000, 1001), (1001, 7777), (7777, x.size))]
        y = np.concatenate([p[0] for p in parts])
        trig = np.concatenate([p[1] for p in parts])
        floors = np.concatenate([p[2] for p in parts])
        np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(trig, trig_ref)
        np.testing.assert_allclose(floors, floor_ref, rtol=1e-6)
        assert trig.size == 3  # the three impulses, none from the DC offset


def test_trigger_state_layout_is_complete():
    # the kernel reads exactly the parameters the design writes
    d = design_trigger(16_000, DetectorConfig())
    assert d.params.shape == (K.N_PARAMS,)
    assert np.all(np.isfinite(d.params)) and d.params[K.P_HOP] == 4

from collections import namedtuple

import numpy as np
import pytest

import dsp
from salvo.errors import InputError
from sensor_node.pipeline import detect_array, nominal_clock, pick_to_detection, NodePipeline

Pick = namedtuple("Pick", "onset_sample sigma_s snr_db peak_dbfs kind p_gunshot features")
FS = 48000
T0 = 1_800_000_000 * 10**9

needs_dsp = pytest.mark.skipif(not hasattr(dsp, "StreamingDetector"), reason="dsp detector not written yet")


def test_pick_time_stamp_and_sigma():
    clock = nominal_clock(T0, FS)
    d = pick_to_detection("S1", Pick(48000.5, 30e-6, 20.0, -6.0, "blast", 0.9, {}), clock, clock_sigma_s=40e-6)
    assert d.t_ns == T0 + 10**9 + 10_417  # 0.5 sample = 10416.7 ns, rounded
    assert d.sigma_s == pytest.approx(50e-6)
    assert d.kind == "blast" and d.sensor_id == "S1" and d.seq == 0
    assert pick_to_detection("S1", Pick(0.0, 1e-4, 1, 1, "weird", 0.1, {}), clock).kind == "impulse"


def test_bad_input_named():
    with pytest.raises(InputError, match="S9"):
        detect_array("S9", np.zeros((2, 2, 2)), FS, T0)
    with pytest.raises(InputError, match="fs_hz"):
        detect_array("S9", np.zeros(100), 100, T0)


def _shots(rng, n=4 * FS):
    x = rng.normal(0, 1e-3, n).astype(np.float32)
    for at in (FS // 2, 2 * FS + 123, 3 * FS + 4000):
        k = np.arange(2000)
        x[at : at + 2000] += (0.6 * np.exp(-k / 200.0) * np.sign(np.sin(k / 7.0))).astype(np.float32)
    return x


@needs_dsp
def test_streaming_equals_whole_array(rng):
    x = _shots(rng)
    whole = detect_array("S1", x, FS, T0)
    assert len(whole) >= 3
    pipe = NodePipeline("S1", FS)
    clock = nominal_clock(T0, FS)
    got = []
    i = 0
    while i < x.size:
        n = int(rng.integers(1, 5000))
        got += pipe.process(x[i : i + n], clock)
        i += n
    got += pipe.flush(clock)
    assert [repr(d) for d in got] == [repr(d) for d in whole]  # repr: NaN-safe, exact floats
    assert pipe.samples_seen == x.size
    assert pipe.noise_floor_dbfs() == pytest.approx(-60.0, abs=3.0)

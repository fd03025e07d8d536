"""Microphone, converter and clock."""

from __future__ import annotations

import numpy as np

from sim.microphone import Clock, codes_to_float, digitize


def test_digitize_scales_clips_and_quantizes():
    fs_pa = 20e-6 * 10 ** (120.0 / 20.0)  # 20 Pa peak at full scale
    p = np.array([0.0, fs_pa / 2, fs_pa * 3, -fs_pa * 3, fs_pa / 1000.0])
    codes = digitize(p, 120.0, 12)
    assert codes.tolist() == [0, 1024, 2047, -2048, 2]
    x = codes_to_float(codes, 12)
    assert x.dtype == np.float32 and x[1] == 0.5


def test_clock_reading_and_inverse():
    clk = Clock("ntp", offset_s=0.004, drift_ppm=20.0, sigma_s=0.003)
    t = np.array([0.0, 10.0, 100.0])
    assert np.allclose(clk.reading(t), t + 0.004 + 20e-6 * t)
    assert np.allclose(clk.true_time(clk.reading(t)), t, atol=1e-12)

"""Ambient noise: levels in dB SPL and spectral slopes as configured."""

from __future__ import annotations

import numpy as np
import pytest

from sim.noise import shaped_noise, wind_noise_level_db
from sim.scenario import Noise
from sim import noise


def octave_power_db(x, fs, f0):
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / fs)
    return 10 * np.log10(spec[(f >= f0) & (f < 2 * f0)].sum())


@pytest.mark.parametrize("slope", [0.0, -3.0, -6.0])
def test_shaped_noise_has_unit_rms_and_its_slope(rng, slope):
    fs = 16000
    x = shaped_noise(2**17, fs, rng, slope, (20.0, fs / 2))
    # Brown noise keeps half its power in the few bins of its lowest octave: a looser realisation.
    assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0, rel=0.06 if slope == -6.0 else 0.02)
    per_octave = [octave_power_db(x, fs, f0) - octave_power_db(x, fs, f0 / 2) for f0 in (500.0, 1000.0, 2000.0)]
    # Power per octave band grows by 3 dB for white (twice the bins), so slope + 3 dB.
    assert np.allclose(per_octave, slope + 10 * np.log10(2), atol=0.5)


def test_ambient_level_in_db_spl(rng):
    fs, n = 16000, 16000 * 8
    cfg = Noise(level_db_spl=60.0, color="pink", traffic_db_spl=0.0, wind_noise=False)
    x = noise.ambient(n, fs, rng, cfg, 0.0)
    level = 20 * np.log10(np.sqrt(np.mean(x**2)) / 20e-6)
    assert level == pytest.approx(60.0, abs=0.3)


def test_wind_noise_grows_with_wind_and_is_low_frequency(rng):
    fs, n = 16000, 16000 * 20
    cfg = Noise(level_db_spl=0.0, traffic_db_spl=0.0, wind_noise=True, gust_factor=0.0)
    calm = noise.ambient(n, fs, np.random.default_rng(1), cfg, 2.0)
    gale = noise.ambient(n, fs, np.random.default_rng(1), cfg, 10.0)
    lvl = lambda x: 20 * np.log10(np.sqrt(np.mean(x**2)) / 20e-6)  # noqa: E731
    assert lvl(gale) - lvl(calm) == pytest.approx(wind_noise_level_db(10.0) - wind_noise_level_db(2.0), abs=0.5)
    assert lvl(gale) == pytest.approx(float(wind_noise_level_db(10.0)), abs=0.5)  # 62 dB SPL at 10 m/s
    assert octave_power_db(gale, fs, 2000.0) < octave_power_db(gale, fs, 50.0) - 40

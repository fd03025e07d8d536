"""GCC-PHAT recovers a known fractional delay between two noisy copies of a blast."""

from __future__ import annotations

import pytest

from dsp import gcc_phat
from salvo.errors import InputError

from dsp_synth import blast_at


def test_gcc_phat_recovers_fractional_delay():
    fs = 16_000
    a = blast_at(fs, [0.2 + 3.3e-3], 0.5, noise_rms=1e-3, seed=1)
    b = blast_at(fs, [0.2], 0.5, noise_rms=1e-3, seed=2)
    lag, peak = gcc_phat(a, b, fs, max_lag_s=0.01)
    assert abs(lag - 3.3e-3) < 0.2 / fs
    assert peak > 0.2
    lag2, _ = gcc_phat(b, a, fs, max_lag_s=0.01)
    assert abs(lag2 + 3.3e-3) < 0.2 / fs


def test_gcc_phat_bad_input():
    with pytest.raises(InputError, match="max_lag_s"):
        gcc_phat([0.0, 1.0, 0.0], [0.0, 1.0, 0.0], 16_000, -1.0)
    with pytest.raises(InputError, match="a, b"):
        gcc_phat([1.0], [0.0, 1.0], 16_000, 0.01)

"""Heatmap kernels: mass kept, shape and support as stated."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.density import KDE_KERNELS


@pytest.mark.parametrize("name", sorted(KDE_KERNELS))
def test_kernels_keep_the_count_and_peak_at_the_point(name):
    counts = np.zeros((61, 61))
    counts[30, 30] = 5.0
    out = KDE_KERNELS[name](counts, 4.0)
    assert out.shape == counts.shape and abs(out.sum() - 5.0) < 1e-9
    assert np.unravel_index(np.argmax(out), out.shape) == (30, 30)
    assert np.allclose(out, out.T) and np.all(out >= 0)


def test_gaussian_bandwidth_is_the_standard_deviation():
    counts = np.zeros((81, 81))
    counts[40, 40] = 1.0
    out = KDE_KERNELS["gaussian"](counts, 5.0)
    x = np.arange(81) - 40
    var_x = (out.sum(axis=0) * x * x).sum()
    assert abs(np.sqrt(var_x) - 5.0) < 0.05


def test_quartic_bandwidth_is_the_radius():
    counts = np.zeros((41, 41))
    counts[20, 20] = 1.0
    out = KDE_KERNELS["quartic"](counts, 6.0)
    yy, xx = np.mgrid[-20:21, -20:21]
    assert out[np.hypot(xx, yy) >= 6.0].max() < 1e-12
    assert out[np.hypot(xx, yy) <= 5.0].min() > 0

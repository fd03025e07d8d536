"""Kernels of the heatmap's binned kernel density estimate, behind a small registry.

Each smoother takes a grid of counts per cell and the bandwidth in cells and returns the
smoothed grid with the same total (up to what spills over the grid's edge).

- ``gaussian`` (default): bandwidth = the Gaussian's standard deviation; truncated at 4 sigma.
- ``quartic``: the biweight kernel ``(1 - d^2/h^2)^2`` inside radius h = bandwidth, zero beyond
  it, the kernel of ArcGIS's and QGIS's crime-analysis heatmaps; hot spots keep sharp edges.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.signal import fftconvolve


def _gaussian(counts: np.ndarray, bw_cells: float) -> np.ndarray:
    return gaussian_filter(counts, sigma=bw_cells, mode="constant", truncate=4.0)


def _quartic(counts: np.ndarray, bw_cells: float) -> np.ndarray:
    r = max(1, int(np.ceil(bw_cells)))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    d2 = (xx * xx + yy * yy) / (bw_cells * bw_cells)
    k = np.where(d2 < 1.0, (1.0 - d2) ** 2, 0.0)
    k /= k.sum()
    # FFT round-off leaves tiny negatives where the density is zero.
    return np.maximum(fftconvolve(counts, k, mode="same"), 0.0)


#: name -> smoother(counts (ny, nx), bandwidth in cells) -> density per cell (ny, nx)
KDE_KERNELS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {"gaussian": _gaussian, "quartic": _quartic}

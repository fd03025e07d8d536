"""Numba kernels of the simulator (private).  They take preallocated outputs and validate
nothing; :mod:`sim.geometry` validates, allocates and calls them, and has a plain-numpy twin of
each that the tests compare against."""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def clip_segments(a, b, boxes, t0, t1, hit):  # pragma: no cover - compiled
    """Liang–Barsky clip of segments a[i]→b[i] (x, y) against footprints boxes[j] = (x0, x1, y0, y1, ...).

    Writes t0[i, j], t1[i, j] (entry and exit parameters, 0 at a, 1 at b) and hit[i, j] (the
    segment crosses the footprint's interior).
    """
    k = a.shape[0]
    n = boxes.shape[0]
    for i in range(k):
        ax = a[i, 0]
        ay = a[i, 1]
        dx = b[i, 0] - ax
        dy = b[i, 1] - ay
        for j in range(n):
            lo = 0.0
            hi = 1.0
            ok = True
            for axis in range(2):
                d = dx if axis == 0 else dy
                p = ax if axis == 0 else ay
                e0 = boxes[j, 2 * axis] - p
                e1 = boxes[j, 2 * axis + 1] - p
                if abs(d) < 1e-9:
                    if not (e0 < 0.0 and e1 > 0.0):
                        ok = False
                else:
                    ta = e0 / d
                    tb = e1 / d
                    if ta > tb:
                        ta, tb = tb, ta
                    if ta > lo:
                        lo = ta
                    if tb < hi:
                        hi = tb
            t0[i, j] = lo
            t1[i, j] = hi
            hit[i, j] = ok and (hi - lo > 1e-7)

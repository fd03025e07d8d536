"""Numba kernels of the dashboard (private). They take preallocated outputs and validate nothing;
:mod:`dashboard.geo` validates, allocates and calls them. Each has a plain-numpy twin here that
the tests compare it against.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def assign_zones_kernel(px, py, zbox, zone_ring0, ring_v0, vx, vy, out):
    """Index of the first zone containing each point (even-odd rule over the zone's rings), or -1.

    px, py : (n,) point lon, lat.  zbox : (m, 4) zone bounding boxes (xmin, ymin, xmax, ymax).
    zone_ring0 : (m+1,) first ring of each zone.  ring_v0 : (r+1,) first vertex of each ring
    (rings closed: last vertex == first).  vx, vy : vertex lon, lat.  out : (n,) int32.
    """
    n = px.shape[0]
    m = zbox.shape[0]
    for i in range(n):
        x = px[i]
        y = py[i]
        out[i] = -1
        for z in range(m):
            if x < zbox[z, 0] or x > zbox[z, 2] or y < zbox[z, 1] or y > zbox[z, 3]:
                continue
            inside = False
            for r in range(zone_ring0[z], zone_ring0[z + 1]):
                for k in range(ring_v0[r], ring_v0[r + 1] - 1):
                    x1 = vx[k]
                    y1 = vy[k]
                    x2 = vx[k + 1]
                    y2 = vy[k + 1]
                    # Count crossings of a ray towards +x; half-open in y so a vertex counts once.
                    if (y1 > y) != (y2 > y):
                        xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
                        if x < xc:
                            inside = not inside
            if inside:
                out[i] = z
                break


def assign_zones_numpy(px, py, zbox, zone_ring0, ring_v0, vx, vy):
    """Plain-numpy twin of :func:`assign_zones_kernel`; returns the (n,) int32 zone indices."""
    n = px.shape[0]
    out = np.full(n, -1, dtype=np.int32)
    for z in range(zbox.shape[0]):
        inside = np.zeros(n, dtype=bool)
        for r in range(zone_ring0[z], zone_ring0[z + 1]):
            x1 = vx[ring_v0[r] : ring_v0[r + 1] - 1]
            y1 = vy[ring_v0[r] : ring_v0[r + 1] - 1]
            x2 = vx[ring_v0[r] + 1 : ring_v0[r + 1]]
            y2 = vy[ring_v0[r] + 1 : ring_v0[r + 1]]
            straddle = (y1[None, :] > py[:, None]) != (y2[None, :] > py[:, None])
            with np.errstate(divide="ignore", invalid="ignore"):
                xc = x1[None, :] + (py[:, None] - y1[None, :]) * (x2 - x1)[None, :] / (y2 - y1)[None, :]
            crossings = np.sum(straddle & (px[:, None] < xc), axis=1)
            inside ^= (crossings % 2) == 1
        inbox = (px >= zbox[z, 0]) & (px <= zbox[z, 2]) & (py >= zbox[z, 1]) & (py <= zbox[z, 3])
        out[(out < 0) & inside & inbox] = z
    return out

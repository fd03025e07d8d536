"""Geometry of sound paths among box-shaped buildings on flat ground.

Boxes are rows ``(x0, x1, y0, y1, top_z)`` in the local frame (metres).  Everything here is
plain geometry: which segments a building blocks, the shortest way around or over it, and the
image sources of specular reflections from the ground and from vertical building faces.
"""

from __future__ import annotations

import numpy as np

from sim._kernels import clip_segments

_EPS = 1e-9


def box_array(buildings, ground_z_m: float) -> np.ndarray:
    """Stack building footprints and heights into an ``(n, 5)`` array ``(x0, x1, y0, y1, top_z)``."""
    rows = [(b.x_m[0], b.x_m[1], b.y_m[0], b.y_m[1], ground_z_m + b.height_m) for b in buildings]
    return np.array(rows, dtype=float).reshape(-1, 5)


def clip_to_boxes(a: np.ndarray, b: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Liang–Barsky clip of the horizontal projection of segments a→b against every footprint.

    Parameters
    ----------
    a, b : numpy.ndarray, shape (2 or 3,) or (k, 2 or 3)
        Segment ends (only x, y are used).
    boxes : numpy.ndarray, shape (n, 5)

    Returns
    -------
    (t_in, t_out, hit) : arrays of shape (n,) for one segment or (k, n) for k
        Parameters along each segment (0 at a, 1 at b) where it enters and leaves each footprint,
        and whether it crosses the footprint's interior at all.
    """
    single = np.ndim(a) == 1
    a2 = np.ascontiguousarray(np.atleast_2d(a), dtype=np.float64)
    b2 = np.ascontiguousarray(np.atleast_2d(b), dtype=np.float64)
    bx = np.ascontiguousarray(boxes, dtype=np.float64)
    if a2.shape[0] != b2.shape[0] or a2.shape[1] < 2 or b2.shape[1] < 2 or bx.ndim != 2 or bx.shape[1] < 4:
        raise ValueError("clip_to_boxes: a and b must be (k, >=2) alike and boxes (n, >=4)")
    t0 = np.empty((a2.shape[0], bx.shape[0]))
    t1 = np.empty_like(t0)
    hit = np.empty(t0.shape, dtype=np.bool_)
    clip_segments(a2, b2, bx, t0, t1, hit)
    if single:
        return t0[0], t1[0], hit[0]
    return t0, t1, hit


def clip_to_boxes_numpy(a: np.ndarray, b: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain-numpy twin of :func:`clip_to_boxes` (same arguments and results), for the tests."""
    single = np.ndim(a) == 1
    a2 = np.atleast_2d(a)[:, None, :2]  # (k, 1, 2)
    d = np.atleast_2d(b)[:, None, :2] - a2
    t0 = np.zeros((a2.shape[0], boxes.shape[0]))
    t1 = np.ones_like(t0)
    ok = np.ones(t0.shape, dtype=bool)
    for axis, (lo_col, hi_col) in enumerate(((0, 1), (2, 3))):
        da = d[:, :, axis]
        lo = boxes[None, :, lo_col] - a2[:, :, axis]
        hi = boxes[None, :, hi_col] - a2[:, :, axis]
        flat = np.abs(da) < _EPS
        ok &= ~flat | ((lo < 0.0) & (hi > 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            ta = np.where(flat, -np.inf, lo / np.where(flat, 1.0, da))
            tb = np.where(flat, np.inf, hi / np.where(flat, 1.0, da))
        t0 = np.maximum(t0, np.minimum(ta, tb))
        t1 = np.minimum(t1, np.maximum(ta, tb))
    hit = ok & (t1 - t0 > 1e-7)
    if single:
        return t0[0], t1[0], hit[0]
    return t0, t1, hit


def blocking(a: np.ndarray, b: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Which boxes block the straight segment(s) a→b (3D: the segment passes below the roof).

    Parameters
    ----------
    a, b : numpy.ndarray, shape (3,) or (k, 3)
    boxes : numpy.ndarray, shape (n, 5)

    Returns
    -------
    numpy.ndarray of bool, shape (n,) or (k, n)
    """
    if boxes.shape[0] == 0:
        return np.zeros((0,) if np.ndim(a) == 1 else (len(a), 0), dtype=bool)
    t0, t1, hit = clip_to_boxes(a, b, boxes)
    za = np.asarray(a, float)[..., 2:3]
    dz = np.asarray(b, float)[..., 2:3] - za
    z_in = za + t0 * dz
    z_out = za + t1 * dz
    return hit & (np.minimum(z_in, z_out) < boxes[:, 4])


def detour(a: np.ndarray, b: np.ndarray, box: np.ndarray) -> float:
    """Length of the shortest path from a to b around the sides of, or over, one box, m.

    Over the roof: up to the edge where the straight line enters the footprint, across the roof,
    down from the edge where it leaves.  Around: through one or two footprint corners (convex
    footprint), with the height change spread along the way.
    """
    t0, t1, _ = clip_to_boxes(a, b, box[None, :])
    t0, t1 = float(t0[0]), float(t1[0])
    top = box[4]
    p_in = a[:2] + t0 * (b[:2] - a[:2])
    p_out = a[:2] + t1 * (b[:2] - a[:2])
    over = (
        np.hypot(np.linalg.norm(p_in - a[:2]), max(top - a[2], 0.0))
        + np.linalg.norm(p_out - p_in)
        + np.hypot(np.linalg.norm(b[:2] - p_out), max(top - b[2], 0.0))
    )
    corners = np.array([[box[0], box[2]], [box[1], box[2]], [box[1], box[3]], [box[0], box[3]]])
    shrunk = box.copy()
    shrunk[:4] += np.array([1e-6, -1e-6, 1e-6, -1e-6])
    # Which corners a and b see past the footprint (legs that only graze it are clear).
    from_a = ~clip_to_boxes(np.broadcast_to(a[:2], (4, 2)), corners, shrunk[None, :])[2][:, 0]
    to_b = ~clip_to_boxes(corners, np.broadcast_to(b[:2], (4, 2)), shrunk[None, :])[2][:, 0]
    la = np.linalg.norm(corners - a[:2], axis=1)
    lb = np.linalg.norm(corners - b[:2], axis=1)
    best = np.min(np.where(from_a & to_b, la + lb, np.inf))
    for step in (1, 3):  # round two adjacent corners: i then i±1 along the footprint's edge
        j = (np.arange(4) + step) % 4
        edge = np.linalg.norm(corners[j] - corners, axis=1)
        best = min(best, np.min(np.where(from_a & to_b[j], la + edge + lb[j], np.inf)))
    around = np.hypot(best, b[2] - a[2]) if np.isfinite(best) else np.inf
    return float(min(over, around))


def faces(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vertical faces of every box.

    Returns
    -------
    (p0, p1, normal, top, owner)
        Face end points ``(m, 2)``, outward unit normals ``(m, 2)``, roof heights ``(m,)`` and the
        index of the box each face belongs to ``(m,)``.
    """
    p0, p1, nrm, top, owner = [], [], [], [], []
    for k, (x0, x1, y0, y1, z) in enumerate(boxes):
        for a, b, n in (
            ((x0, y0), (x1, y0), (0.0, -1.0)),
            ((x1, y0), (x1, y1), (1.0, 0.0)),
            ((x1, y1), (x0, y1), (0.0, 1.0)),
            ((x0, y1), (x0, y0), (-1.0, 0.0)),
        ):
            p0.append(a)
            p1.append(b)
            nrm.append(n)
            top.append(z)
            owner.append(k)
    return (np.array(p0, float).reshape(-1, 2), np.array(p1, float).reshape(-1, 2), np.array(nrm, float).reshape(-1, 2),
            np.array(top, float), np.array(owner, int))


def face_reflections(s: np.ndarray, x: np.ndarray, face_set) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Specular reflections s → face → x from vertical faces (image-source method).

    Parameters
    ----------
    s, x : numpy.ndarray, shape (3,)
        Source and receiver.
    face_set : tuple
        The output of :func:`faces`.

    Returns
    -------
    (index, point, length)
        Indices of the faces that reflect, the reflection points ``(k, 3)`` and the path lengths ``(k,)``.
    """
    p0, p1, nrm, top, _ = face_set
    if p0.shape[0] == 0:
        return np.zeros(0, int), np.zeros((0, 3)), np.zeros(0)
    ds = np.einsum("ij,ij->i", s[None, :2] - p0, nrm)
    dx = np.einsum("ij,ij->i", x[None, :2] - p0, nrm)
    front = (ds > 1e-6) & (dx > 1e-6)  # both on the outer side of the face
    img = s[None, :2] - 2.0 * ds[:, None] * nrm  # mirror image of the source
    # Where the image→receiver line crosses the face plane.
    frac = ds / np.maximum(ds + dx, 1e-12)  # fraction of the way from receiver... measured from the image side
    cross = img + (1.0 - dx / np.maximum(ds + dx, 1e-12))[:, None] * (x[None, :2] - img)
    seg = p1 - p0
    u = np.einsum("ij,ij->i", cross - p0, seg) / np.einsum("ij,ij->i", seg, seg)
    z_at = s[2] + frac * (x[2] - s[2])
    ok = front & (u > 0.0) & (u < 1.0) & (z_at < top)
    idx = np.nonzero(ok)[0]
    pts = np.column_stack([cross[idx], z_at[idx]])
    length = np.hypot(np.linalg.norm(x[None, :2] - img[idx], axis=1), x[2] - s[2])
    return idx, pts, length


def mach_emission(s: np.ndarray, u: np.ndarray, v_mps: float, c_mps: float, x: np.ndarray, range_m: float):
    """Where on a straight supersonic trajectory the shock heard at x was emitted.

    The shock leaves the trajectory at the Mach angle: the ray to the listener makes an angle β
    with the flight direction, cos β = c/V.  With ``a`` the listener's distance along the flight
    and ``b`` its miss distance, the emission point is ``l = a − b·cot β`` from the muzzle.

    Parameters
    ----------
    s : numpy.ndarray, shape (3,)
        Muzzle position.
    u : numpy.ndarray, shape (3,)
        Unit flight direction.
    v_mps, c_mps : float
        Bullet speed and speed of sound (V > c).
    x : numpy.ndarray, shape (3,)
        Listener.
    range_m : float
        Length of the flight (the bullet stops or drops subsonic after this).

    Returns
    -------
    (l_m, miss_m, emit_point) or None when the listener is outside the cone (behind the muzzle
    or past the end of the flight).
    """
    d = x - s
    a = float(d @ u)
    b = float(np.linalg.norm(d - a * u))
    cos_b = c_mps / v_mps
    cot_b = cos_b / np.sqrt(1.0 - cos_b * cos_b)
    ell = a - b * cot_b
    if ell <= 0.0 or ell > range_m:
        return None
    return ell, b, s + ell * u

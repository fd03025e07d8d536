"""Geometry of paths: the numba clip kernel against its numpy twin, detours, mirror images, Mach cone."""

from __future__ import annotations

import numpy as np
import pytest

from sim import geometry


def test_clip_kernel_matches_numpy_twin(rng):
    boxes = np.column_stack([rng.uniform(-50, 0, 30), rng.uniform(1, 50, 30), rng.uniform(-50, 0, 30),
                             rng.uniform(1, 50, 30), rng.uniform(5, 20, 30)])
    boxes[:, 1] += boxes[:, 0]
    boxes[:, 3] += boxes[:, 2]
    a = rng.uniform(-100, 100, (200, 3))
    b = rng.uniform(-100, 100, (200, 3))
    b[:10, 0] = a[:10, 0]  # segments parallel to an axis
    b[10:20, 1] = a[10:20, 1]
    fast = geometry.clip_to_boxes(a, b, boxes)
    slow = geometry.clip_to_boxes_numpy(a, b, boxes)
    assert np.array_equal(fast[2], slow[2])
    assert np.allclose(fast[0][fast[2]], slow[0][slow[2]]) and np.allclose(fast[1][fast[2]], slow[1][slow[2]])
    assert fast[2].any() and not fast[2].all()


def test_blocking_respects_roof_height():
    box = np.array([[-5.0, 5.0, -5.0, 5.0, 10.0]])
    assert geometry.blocking(np.array([-20.0, 0, 2]), np.array([20.0, 0, 2]), box)[0]
    assert not geometry.blocking(np.array([-20.0, 0, 12]), np.array([20.0, 0, 12]), box)[0]
    assert not geometry.blocking(np.array([-20.0, 8, 2]), np.array([20.0, 8, 2]), box)[0]


def test_detour_takes_the_shorter_of_over_and_around():
    tall = np.array([-10.0, 10.0, -20.0, 20.0, 100.0])
    low = np.array([-10.0, 10.0, -20.0, 20.0, 3.5])
    a, b = np.array([-50.0, 0.0, 1.5]), np.array([50.0, 0.0, 1.5])
    assert geometry.detour(a, b, tall) == pytest.approx(2 * np.hypot(40, 20) + 20)  # round two corners
    assert geometry.detour(a, b, low) == pytest.approx(2 * np.hypot(40, 2.0) + 20)  # over the 3.5 m roof


def test_face_reflection_is_the_mirror_image_path():
    boxes = np.array([[0.0, 20.0, 30.0, 50.0, 30.0]])  # south face at y = 30
    s, x = np.array([-10.0, 0.0, 1.5]), np.array([30.0, 10.0, 8.0])
    idx, pts, length = geometry.face_reflections(s, x, geometry.faces(boxes))
    assert len(idx) == 1
    image = np.array([-10.0, 60.0, 1.5])  # mirrored across y = 30
    assert length[0] == pytest.approx(np.linalg.norm(x - image))
    assert pts[0][1] == pytest.approx(30.0)
    assert np.linalg.norm(pts[0] - s) + np.linalg.norm(x - pts[0]) == pytest.approx(length[0])


def test_mach_cone_excludes_listeners_behind_the_muzzle():
    s, u = np.zeros(3), np.array([1.0, 0.0, 0.0])
    assert geometry.mach_emission(s, u, 900.0, 343.0, np.array([200.0, 20.0, 0.0]), 800.0) is not None
    assert geometry.mach_emission(s, u, 900.0, 343.0, np.array([-50.0, 20.0, 0.0]), 800.0) is None
    assert geometry.mach_emission(s, u, 900.0, 343.0, np.array([10.0, 200.0, 0.0]), 800.0) is None  # outside the cone

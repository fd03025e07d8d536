"""Local east-north-up frame <-> WGS84 through pyproj."""

from __future__ import annotations

import math

import numpy as np
import pytest

from locator.geodesy import CartesianFrame, LocalFrame, frame_around
from salvo.errors import InputError

PITTSBURGH = (40.4406, -79.9959, 250.0)


def test_origin_maps_to_zero():
    frame = LocalFrame(*PITTSBURGH)
    x, y, z = frame.to_local(*PITTSBURGH)
    assert abs(x) < 1e-6 and abs(y) < 1e-6 and abs(z) < 1e-6


def test_axes_point_east_north_up():
    frame = LocalFrame(*PITTSBURGH)
    x, y, _ = frame.to_local(PITTSBURGH[0], PITTSBURGH[1] + 0.01, PITTSBURGH[2])
    assert x > 800 and abs(y) < 1.0  # 0.01 deg of longitude at 40.4 N is ~848 m east
    x, y, _ = frame.to_local(PITTSBURGH[0] + 0.01, PITTSBURGH[1], PITTSBURGH[2])
    assert y > 1100 and abs(x) < 1e-6  # 0.01 deg of latitude is ~1110 m north
    _, _, z = frame.to_local(PITTSBURGH[0], PITTSBURGH[1], PITTSBURGH[2] + 12.5)
    assert z == pytest.approx(12.5, abs=1e-6)


def test_distance_matches_geodesic_within_millimetres():
    # A 10 km baseline due north, compared with pyproj.Geod's geodesic length.
    from pyproj import Geod

    # On the ellipsoid (height 0) the chord is shorter than the arc by ~d^3 / (24 R^2), 1 mm at 10 km.
    frame = LocalFrame(PITTSBURGH[0], PITTSBURGH[1], 0.0)
    lat1 = PITTSBURGH[0] + 0.09
    x, y, z = frame.to_local(lat1, PITTSBURGH[1], 0.0)
    _, _, arc = Geod(ellps="WGS84").inv(PITTSBURGH[1], PITTSBURGH[0], PITTSBURGH[1], lat1)
    chord = math.sqrt(x * x + y * y + z * z)
    assert 0.0 < arc - chord < 0.005
    assert z < -7.0  # the Earth curves away: ~ -d^2 / 2R


def test_round_trip_within_a_millimetre_over_20_km(rng):
    frame = LocalFrame(*PITTSBURGH)
    x = rng.uniform(-20_000, 20_000, 500)
    y = rng.uniform(-20_000, 20_000, 500)
    z = rng.uniform(-200, 300, 500)
    lat, lon, alt = frame.to_wgs84(x, y, z)
    x2, y2, z2 = frame.to_local(lat, lon, alt)
    err = np.sqrt((x2 - x) ** 2 + (y2 - y) ** 2 + (z2 - z) ** 2)
    assert err.max() < 1e-3
    assert x2.shape == (500,)


def test_scalar_in_scalar_out():
    frame = LocalFrame(*PITTSBURGH)
    out = frame.to_local(40.45, -79.99, 260.0)
    assert all(isinstance(v, float) for v in out)


def test_nan_input_names_the_argument():
    frame = LocalFrame(*PITTSBURGH)
    with pytest.raises(InputError, match="lon"):
        frame.to_local([40.4, 40.5], [float("nan"), -79.9], [0.0, 0.0])
    with pytest.raises(InputError, match="lat"):
        frame.to_local(95.0, -79.9, 0.0)
    with pytest.raises(InputError, match="lat0"):
        LocalFrame(float("nan"), 0.0, 0.0)


def test_cartesian_frame_passes_through():
    frame = CartesianFrame()
    x, y, z = frame.to_local(np.array([1.0, 2.0]), np.array([3.0, 4.0]), 5.0)
    assert np.array_equal(x, [1.0, 2.0]) and np.array_equal(y, [3.0, 4.0]) and np.array_equal(z, [5.0, 5.0])
    with pytest.raises(InputError):
        frame.to_wgs84(0.0, 0.0, 0.0)


def test_frame_around_centres_the_points():
    lat = np.array([40.43, 40.45])
    lon = np.array([-80.00, -79.98])
    frame = frame_around(lat, lon, [250.0, 270.0])
    x, y, z = frame.to_local(lat, lon, np.array([250.0, 270.0]))
    assert abs(x.sum()) < 1.0 and abs(y.sum()) < 1.0
    assert z.min() == pytest.approx(0.0, abs=0.5)

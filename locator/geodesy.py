"""WGS84 latitude/longitude/height <-> a local east-north-up frame in metres.

The locator works in a local Cartesian frame: x east, y north, z up, in metres,
around a site origin.  :class:`LocalFrame` converts between that frame and WGS84
through pyproj (geodetic -> Earth-centred Cartesian -> topocentric), which is exact
to well under a millimetre over a city-sized area, unlike a flat-earth
approximation that is off by ~30 m of height at 20 km (the Earth curves away by
d^2 / 2R).

When the sensors were given as ``x_m, y_m, z_m`` (a local Cartesian frame already),
:class:`CartesianFrame` passes coordinates through unchanged, so callers can
treat both cases alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pyproj import Transformer

from salvo.errors import InputError

__all__ = ["LocalFrame", "CartesianFrame", "frame_around"]


def _finite_array(value, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: contains NaN or infinite values")
    return arr


@dataclass(frozen=True)
class LocalFrame:
    """A local east-north-up (ENU) frame around a WGS84 origin.

    Parameters
    ----------
    lat0 : float
        Latitude of the origin, degrees north (WGS84).
    lon0 : float
        Longitude of the origin, degrees east (WGS84).
    alt0_m : float
        Ellipsoidal height of the origin, metres.

    Notes
    -----
    ``z`` is height above the tangent plane at the origin, not above the
    ellipsoid: a point on the ellipsoid 10 km away has z ~ -7.8 m.  Heights given
    as ``alt_m`` are taken as WGS84 ellipsoidal heights; if the caller has heights
    above a geoid they go in and come back unchanged, since only differences
    matter inside one site.
    """

    lat0: float
    lon0: float
    alt0_m: float = 0.0
    _fwd: Transformer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("lat0", "lon0", "alt0_m"):
            value = getattr(self, name)
            if not np.isfinite(value):
                raise InputError(f"LocalFrame: {name} is not a finite number: {value!r}")
        if not -90.0 <= self.lat0 <= 90.0:
            raise InputError(f"LocalFrame: lat0 = {self.lat0} is outside -90..90 degrees")
        pipeline = (
            "+proj=pipeline"
            " +step +proj=unitconvert +xy_in=deg +xy_out=rad"
            " +step +proj=cart +ellps=WGS84"
            f" +step +proj=topocentric +ellps=WGS84 +lat_0={self.lat0!r} +lon_0={self.lon0!r} +h_0={self.alt0_m!r}"
        )
        object.__setattr__(self, "_fwd", Transformer.from_pipeline(pipeline))

    def to_local(self, lat, lon, alt_m):
        """WGS84 -> local ENU.

        Parameters
        ----------
        lat, lon : float or array_like
            Degrees (WGS84), any broadcastable shapes.
        alt_m : float or array_like
            Ellipsoidal height, metres.

        Returns
        -------
        x, y, z : float or ndarray
            East, north, up in metres from the origin (arrays of the broadcast shape,
            or floats for scalar input).
        """
        lat_a = _finite_array(lat, "lat")
        lon_a = _finite_array(lon, "lon")
        alt_a = _finite_array(alt_m, "alt_m")
        if np.any(np.abs(lat_a) > 90.0):
            raise InputError("lat: values outside -90..90 degrees")
        lat_a, lon_a, alt_a = np.broadcast_arrays(lat_a, lon_a, alt_a)
        x, y, z = self._fwd.transform(lon_a, lat_a, alt_a)
        return _shape_like(x, y, z, lat_a)

    def to_wgs84(self, x, y, z):
        """Local ENU -> WGS84.

        Parameters
        ----------
        x, y, z : float or array_like
            East, north, up in metres from the origin, broadcastable shapes.

        Returns
        -------
        lat, lon, alt_m : float or ndarray
            Degrees and ellipsoidal metres, of the broadcast shape.
        """
        xa, ya, za = np.broadcast_arrays(_finite_array(x, "x"), _finite_array(y, "y"), _finite_array(z, "z"))
        lon, lat, alt = self._fwd.transform(xa, ya, za, direction="INVERSE")
        return _shape_like(lat, lon, alt, xa)


@dataclass(frozen=True)
class CartesianFrame:
    """A local x/y/z frame in metres that is already Cartesian: coordinates pass through.

    ``to_wgs84`` raises :class:`~salvo.errors.InputError`: a frame without a
    geographic anchor has no latitude or longitude.
    """

    def to_local(self, x, y, z):
        """Return the coordinates unchanged (as float arrays, or floats for scalars)."""
        xa, ya, za = np.broadcast_arrays(_finite_array(x, "x"), _finite_array(y, "y"), _finite_array(z, "z"))
        return _shape_like(xa, ya, za, xa)

    def to_wgs84(self, x, y, z):
        raise InputError("a local x/y/z frame has no WGS84 anchor; give sensors as lat/lon/alt_m to get lat/lon")


def frame_around(lat, lon, alt_m) -> LocalFrame:
    """A :class:`LocalFrame` whose origin is the centre of the given points.

    The origin is the mean latitude and longitude and the lowest height, so that
    local coordinates stay small (tens of metres to kilometres) for the numerics.

    Parameters
    ----------
    lat, lon, alt_m : array_like, shape (n,)
        Degrees and ellipsoidal metres.
    """
    lat_a = _finite_array(lat, "lat").ravel()
    lon_a = _finite_array(lon, "lon").ravel()
    alt_a = _finite_array(alt_m, "alt_m").ravel()
    if lat_a.size == 0:
        raise InputError("frame_around: no points given")
    # Mean of longitudes through unit vectors, so that a site on the antimeridian works.
    lon0 = float(np.degrees(np.arctan2(np.sin(np.radians(lon_a)).mean(), np.cos(np.radians(lon_a)).mean())))
    return LocalFrame(float(lat_a.mean()), lon0, float(alt_a.min()))


def _shape_like(a, b, c, like: np.ndarray):
    if like.ndim == 0:
        return float(a), float(b), float(c)
    return (np.asarray(a, dtype=np.float64).reshape(like.shape),
            np.asarray(b, dtype=np.float64).reshape(like.shape),
            np.asarray(c, dtype=np.float64).reshape(like.shape))

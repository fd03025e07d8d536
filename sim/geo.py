"""WGS84 <-> local east-north-up metres about an origin, through pyproj (cartesian + topocentric).

The simulator's own copy: sim is the independent ground truth and must not import the locator.
"""

from __future__ import annotations

import numpy as np


class EnuFrame:
    """Local east-north-up frame, metres, with its origin at (lat0, lon0, alt0_m) on WGS84.

    Parameters
    ----------
    lat0, lon0 : float
        Origin, degrees.
    alt0_m : float
        Origin's ellipsoidal height, m.
    """

    def __init__(self, lat0: float, lon0: float, alt0_m: float = 0.0) -> None:
        from pyproj import Transformer

        self.lat0, self.lon0, self.alt0_m = float(lat0), float(lon0), float(alt0_m)
        pipeline = (
            "+proj=pipeline +step +proj=cart +ellps=WGS84 "
            f"+step +proj=topocentric +ellps=WGS84 +lat_0={self.lat0!r} +lon_0={self.lon0!r} +h_0={self.alt0_m!r}"
        )
        self._t = Transformer.from_pipeline(pipeline)

    def to_local(self, lat, lon, alt_m):
        """Degrees and metres of height -> (x east, y north, z up) in metres (arrays or floats)."""
        x, y, z = self._t.transform(np.asarray(lon, float), np.asarray(lat, float), np.asarray(alt_m, float))
        return x, y, z

    def to_wgs84(self, x, y, z):
        """Local metres -> (lat, lon, alt_m)."""
        from pyproj.enums import TransformDirection

        lon, lat, alt = self._t.transform(
            np.asarray(x, float), np.asarray(y, float), np.asarray(z, float), direction=TransformDirection.INVERSE
        )
        return lat, lon, alt

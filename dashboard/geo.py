"""Zones (GeoJSON polygons) and schools (points with a radius): which incidents belong to each.

Distances are great-circle (haversine) on a sphere of the Earth's mean radius
(6,371,008.8 m); at city scale this differs from the WGS84 ellipsoid by < 0.5 %.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dashboard._kernels import assign_zones_kernel
from dashboard.store import School
from salvo.errors import InputError, where

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Zone:
    """One named zone.

    Attributes
    ----------
    name : str
        The zone's name (e.g. a neighbourhood).
    geometry : dict
        GeoJSON ``Polygon`` or ``MultiPolygon`` (lon, lat degrees).
    """

    name: str
    geometry: dict


@dataclass(frozen=True)
class ZoneIndex:
    """Zones flattened into arrays for the point-in-polygon kernel (see ``_kernels``)."""

    names: tuple[str, ...]
    zbox: np.ndarray
    zone_ring0: np.ndarray
    ring_v0: np.ndarray
    vx: np.ndarray
    vy: np.ndarray


def zones_from_geojson(data: dict | str, name_property: str, path: object = "<geojson>") -> list[Zone]:
    """Read named polygons from a GeoJSON FeatureCollection.

    Parameters
    ----------
    data : dict or str
        The parsed FeatureCollection or its text.
    name_property : str
        Feature property holding the zone name (``nhood`` for SF's neighbourhoods).

    Raises
    ------
    InputError
        When the text is not a FeatureCollection of (Multi)Polygons with the name property.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where(path)}: not JSON: {exc}") from exc
    feats = data.get("features") if isinstance(data, dict) else None
    if not isinstance(feats, list):
        raise InputError(f"{where(path, field='features')}: not a GeoJSON FeatureCollection")
    zones: dict[str, Zone] = {}
    for i, f in enumerate(feats):
        geom = (f or {}).get("geometry") or {}
        props = (f or {}).get("properties") or {}
        if geom.get("type") not in ("Polygon", "MultiPolygon"):
            raise InputError(f"{where(path, field=f'features[{i}].geometry')}: {geom.get('type')!r} is not a polygon")
        name = props.get(name_property)
        if not isinstance(name, str) or not name:
            raise InputError(f"{where(path, field=f'features[{i}].properties.{name_property}')}: missing zone name")
        if name in zones:  # one zone in several features: merge into a MultiPolygon
            old = zones[name].geometry
            polys = _polygons(old) + _polygons(geom)
            zones[name] = Zone(name, {"type": "MultiPolygon", "coordinates": polys})
        else:
            zones[name] = Zone(name, geom)
    return [zones[k] for k in sorted(zones)]


def load_zones(path: str | Path, name_property: str) -> list[Zone]:
    """Read a GeoJSON file of zones (see :func:`zones_from_geojson`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{where(p)}: cannot read: {exc.strerror}") from exc
    return zones_from_geojson(text, name_property, p)


def _polygons(geom: dict) -> list:
    return [geom["coordinates"]] if geom["type"] == "Polygon" else list(geom["coordinates"])


def build_zone_index(zones: list[Zone]) -> ZoneIndex:
    """Flatten zones into the kernel's arrays (rings closed, bounding boxes)."""
    zbox = np.zeros((len(zones), 4))
    zone_ring0 = [0]
    ring_v0 = [0]
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for zi, z in enumerate(zones):
        for poly in _polygons(z.geometry):
            for ring in poly:
                a = np.asarray(ring, dtype=np.float64)[:, :2]
                if a.shape[0] < 3:
                    continue
                if not np.array_equal(a[0], a[-1]):
                    a = np.vstack([a, a[:1]])
                xs.append(a[:, 0])
                ys.append(a[:, 1])
                ring_v0.append(ring_v0[-1] + a.shape[0])
        zone_ring0.append(len(ring_v0) - 1)
        first = zone_ring0[-2]
        if zone_ring0[-1] > first:
            zx = np.concatenate(xs[first:])
            zy = np.concatenate(ys[first:])
            zbox[zi] = (zx.min(), zy.min(), zx.max(), zy.max())
        else:
            zbox[zi] = (np.inf, np.inf, -np.inf, -np.inf)
    vx = np.concatenate(xs) if xs else np.zeros(0)
    vy = np.concatenate(ys) if ys else np.zeros(0)
    return ZoneIndex(tuple(z.name for z in zones), zbox, np.asarray(zone_ring0, np.int64),
                     np.asarray(ring_v0, np.int64), vx, vy)


def assign_zones(lat: np.ndarray, lon: np.ndarray, index: ZoneIndex) -> np.ndarray:
    """Zone of each point: index into ``index.names``, or -1 outside every zone.

    Parameters
    ----------
    lat, lon : ndarray, shape (n,)
        WGS84 degrees.
    index : ZoneIndex

    Returns
    -------
    ndarray of int32, shape (n,)
    """
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    if lat.shape != lon.shape or lat.ndim != 1:
        raise InputError(f"lat/lon: shapes {lat.shape} and {lon.shape} must be equal and 1-D")
    out = np.empty(lat.size, dtype=np.int32)
    if lat.size and len(index.names):
        assign_zones_kernel(lon, lat, index.zbox, index.zone_ring0, index.ring_v0, index.vx, index.vy, out)
    else:
        out[:] = -1
    return out


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in metres between WGS84 points (degrees), broadcasting."""
    p1 = np.radians(lat1)
    p2 = np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def school_members(lat: np.ndarray, lon: np.ndarray, schools: list[School], radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Incidents within ``radius_m`` of each school, as CSR arrays.

    A latitude band (the points sorted once by latitude, ``searchsorted`` per school) and a
    longitude box cut the candidates before the exact haversine test.

    Returns
    -------
    start : ndarray of int64, shape (n_schools + 1,)
        School ``s``'s incidents are ``members[start[s]:start[s+1]]``.
    members : ndarray of int64
        Incident indices, ascending within each school.
    """
    order = np.argsort(lat, kind="stable")
    slat = lat[order]
    slon = lon[order]
    dlat = np.degrees(radius_m / EARTH_RADIUS_M) * 1.001
    parts = []
    start = [0]
    for s in schools:
        lo, hi = np.searchsorted(slat, [s.lat - dlat, s.lat + dlat])
        # The band is a contiguous slice; a longitude box cuts it before the exact test.
        dlon = dlat / max(np.cos(np.radians(abs(s.lat) + dlat)), 1e-6)
        band = slon[lo:hi]
        k = np.flatnonzero((band >= s.lon - dlon) & (band <= s.lon + dlon)) + lo
        near = order[k[haversine_m(s.lat, s.lon, slat[k], slon[k]) <= radius_m]]
        near.sort()
        parts.append(near)
        start.append(start[-1] + near.size)
    members = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
    return np.asarray(start, np.int64), members


def load_schools(path: str | Path) -> list[School]:
    """Read schools from a CSV with ``name``, ``lat``, ``lon`` columns (optional ``prefix``,
    ``suffix``, ``campus``, ``types``, ``address``, as in SF's ``sfusd_schools_extracted.csv``).

    Names are made unique by joining prefix, name, suffix and campus. Bad rows are errors
    naming the line (a school list is small and hand-made; a silently missing school would
    under-report).
    """
    p = Path(path)
    try:
        fh = p.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{where(p)}: cannot read: {exc.strerror}") from exc
    out: dict[str, School] = {}
    with fh:
        reader = csv.DictReader(fh)
        for col in ("name", "lat", "lon"):
            if col not in (reader.fieldnames or []):
                raise InputError(f"{where(p, 1, col)}: column missing")
        for row in reader:
            parts = [row.get("prefix", ""), row["name"], row.get("suffix", "")]
            name = " ".join(x.strip() for x in parts if x and x.strip())
            if row.get("campus", "").strip():
                name += f" ({row['campus'].strip()})"
            try:
                lat, lon = float(row["lat"]), float(row["lon"])
            except (TypeError, ValueError):
                raise InputError(f"{where(p, reader.line_num, 'lat/lon')}: not a number") from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not name:
                raise InputError(f"{where(p, reader.line_num)}: bad name or position")
            base, k = name, 2
            while name in out:
                name = f"{base} #{k}"
                k += 1
            out[name] = School(name, lat, lon, row.get("types", "").strip(), row.get("address", "").strip())
    return list(out.values())


def project_m(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    """Equirectangular metres east/north of (lat0, lon0); fine for a heatmap at city scale."""
    x = np.radians(np.asarray(lon) - lon0) * EARTH_RADIUS_M * np.cos(np.radians(lat0))
    y = np.radians(np.asarray(lat) - lat0) * EARTH_RADIUS_M
    return x, y

"""Zones and schools: the kernel against its numpy twin, and the SF figures against shapely and haversine."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from dashboard._kernels import assign_zones_kernel, assign_zones_numpy
from dashboard.geo import assign_zones, build_zone_index, load_schools, load_zones, school_members, zones_from_geojson
from dashboard.store import School

SQUARE_WITH_HOLE = {
    "type": "Polygon",
    "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]], [[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]],
}
TWO_PARTS = {"type": "MultiPolygon", "coordinates": [[[[5, 0], [6, 0], [6, 1], [5, 1], [5, 0]]],
                                                     [[[7, 0], [8, 0], [7.5, 1], [7, 0]]]]}


def _fc(*named):
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {"n": n}, "geometry": g} for n, g in named]}


def test_holes_and_multipolygons():
    zones = zones_from_geojson(_fc(("ring", SQUARE_WITH_HOLE), ("parts", TWO_PARTS)), "n")
    idx = build_zone_index(zones)
    assert idx.names == ("parts", "ring")
    lon = np.array([0.5, 2.0, 5.5, 7.5, 7.05, 9.0])
    lat = np.array([0.5, 2.0, 0.5, 0.5, 0.9, 0.5])
    assert assign_zones(lat, lon, idx).tolist() == [1, -1, 0, 0, -1, -1]


def test_kernel_matches_numpy_twin(rng):
    zones = zones_from_geojson(_fc(("ring", SQUARE_WITH_HOLE), ("parts", TWO_PARTS)), "n")
    idx = build_zone_index(zones)
    px = rng.uniform(-1, 9, 5000)
    py = rng.uniform(-1, 5, 5000)
    out = np.empty(5000, np.int32)
    assign_zones_kernel(px, py, idx.zbox, idx.zone_ring0, idx.ring_v0, idx.vx, idx.vy, out)
    twin = assign_zones_numpy(px, py, idx.zbox, idx.zone_ring0, idx.ring_v0, idx.vx, idx.vy)
    assert np.array_equal(out, twin)
    assert 0 < (out == 1).sum() < 5000 and (out == 0).sum() > 0


def _haversine(lat1, lon1, lat2, lon2, r=6_371_008.8):
    # Independent of dashboard.geo: the textbook formula, one pair at a time.
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def test_school_members_are_exactly_the_points_within_the_radius(rng):
    schools = [School("a", 37.75, -122.42), School("b", 37.7505, -122.4195)]
    lat = 37.75 + rng.normal(0, 0.006, 3000)
    lon = -122.42 + rng.normal(0, 0.008, 3000)
    start, members = school_members(lat, lon, schools, 500.0)
    for s, sch in enumerate(schools):
        want = [i for i in range(3000) if _haversine(sch.lat, sch.lon, lat[i], lon[i]) <= 500.0]
        assert members[start[s]:start[s + 1]].tolist() == want
        assert len(want) > 100


def _raw_sf_points(sf_alerts):
    with open(sf_alerts / "San_Francisco_ShotSpotter.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return np.array([float(r["Latitude"]) for r in rows]), np.array([float(r["Longitude"]) for r in rows])


@pytest.mark.realdata
def test_sf_neighbourhood_counts_match_shapely(sf_alerts):
    shapely = pytest.importorskip("shapely")
    from shapely.geometry import Point, shape

    lat, lon = _raw_sf_points(sf_alerts)
    zones = load_zones(sf_alerts / "sf-neighborhoods-analysis.geojson", "nhood")
    assert len(zones) == 41
    got = assign_zones(lat, lon, build_zone_index(zones))
    with open(sf_alerts / "sf-neighborhoods-analysis.geojson", encoding="utf-8") as fh:
        feats = json.load(fh)["features"]
    shapes = [(f["properties"]["nhood"], shape(f["geometry"])) for f in feats]
    want = {}
    for la, lo in zip(lat, lon):
        p = Point(lo, la)
        for name, geom in shapes:
            if geom.contains(p):
                want[name] = want.get(name, 0) + 1
                break
    names = [z.name for z in zones]
    mine = {names[k]: int(c) for k, c in zip(*np.unique(got[got >= 0], return_counts=True))}
    assert mine == want
    assert want["Bayview Hunters Point"] > 1000  # the figure people know from SF's release
    assert shapely.__version__


@pytest.mark.realdata
def test_sf_school_counts_match_haversine(sf_alerts):
    lat, lon = _raw_sf_points(sf_alerts)
    schools = load_schools(sf_alerts / "sfusd_schools_extracted.csv")
    assert len(schools) == 127
    start, members = school_members(lat, lon, schools, 500.0)
    got = np.diff(start)
    # The same textbook formula as _haversine, written out over arrays (one school at a time).
    r = 6_371_008.8
    p2, l2 = np.radians(lat), np.radians(lon)
    want = []
    for s in schools:
        p1, l1 = math.radians(s.lat), math.radians(s.lon)
        a = np.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
        want.append(int((2 * r * np.arcsin(np.sqrt(a)) <= 500.0).sum()))
    assert got.tolist() == want
    assert want[:3] == [sum(_haversine(s.lat, s.lon, a, b) <= 500.0 for a, b in zip(lat, lon)) for s in schools[:3]]
    assert max(want) > 100

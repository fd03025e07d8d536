"""Results of ``salvo analyze`` / ``salvo locate``: results JSON and GeoJSON, exactly per DESIGN.md.

``{"frame": "wgs84", "incidents": [{"id", "start_utc", "end_utc", "class", "confidence",
"n_shots", "n_shooters", "shots": [{"t_utc", "lat", "lon", "alt_m", "err_m", "shooter",
"sensors"}]}]}`` -- ``x_m, y_m, z_m`` instead of ``lat, lon, alt_m`` in a ``"local"`` frame.
Extra fields (``reason``, ``p_gunshot``, per-shot ``ellipse`` and ``residual_ms``) are added.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from salvo.errors import InputError, where
from salvo.utc import format_utc_ns

FRAMES = ("wgs84", "local")


def _num(v: float, nd: int) -> float | None:
    return round(float(v), nd) if math.isfinite(v) else None


def _position(pos_m: np.ndarray, frame: Any, frame_name: str) -> dict:
    x, y, z = (float(v) for v in pos_m)
    if frame_name == "wgs84":
        lat, lon, alt = frame.to_wgs84(x, y, z)
        return {"lat": round(float(lat), 8), "lon": round(float(lon), 8), "alt_m": round(float(alt), 2)}
    return {"x_m": round(x, 3), "y_m": round(y, 3), "z_m": round(z, 3)}


def shot_dict(shot, shooter: int, frame: Any, frame_name: str) -> dict:
    """One shot of an incident as the results file holds it."""
    out = {"t_utc": format_utc_ns(shot.t0_ns, 6), **_position(shot.pos_m, frame, frame_name),
           "err_m": _num(shot.err_m, 2), "shooter": int(shooter), "sensors": list(shot.sensor_ids)}
    ell = getattr(shot.solution, "ellipse", None)
    if ell is not None:
        out["ellipse"] = {k: _num(getattr(ell, k), 3) for k in ("semi_major_m", "semi_minor_m", "azimuth_deg")
                          if hasattr(ell, k)}
    out["residual_ms"] = [round(float(r) * 1e3, 3) for r in shot.residual_s]
    return out


def incident_dict(inc, frame: Any, frame_name: str) -> dict:
    """One incident as the results file holds it."""
    return {
        "id": inc.id,
        "start_utc": format_utc_ns(inc.start_ns, 6),
        "end_utc": format_utc_ns(inc.end_ns, 6),
        "class": inc.klass,
        "confidence": _num(inc.confidence, 3),
        "n_shots": inc.n_shots,
        "n_shooters": inc.n_shooters,
        "reason": inc.reason,
        "p_gunshot": _num(inc.p_gunshot, 3),
        "shots": [shot_dict(s, k, frame, frame_name) for s, k in zip(inc.shots, inc.shooters)],
    }


def results_dict(incidents: Sequence, frame: Any, frame_name: str, extra: dict | None = None) -> dict:
    """The whole results document; ``extra`` top-level fields (inputs, problems) are added after."""
    if frame_name not in FRAMES:
        raise InputError(f"frame: {frame_name!r} is not one of {', '.join(FRAMES)}")
    doc = {"frame": frame_name, "incidents": [incident_dict(i, frame, frame_name) for i in incidents]}
    if extra:
        doc.update(extra)
    return doc


def _write_json(path: str | Path, doc: dict) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise InputError(f"{where(path)}: cannot write: {exc}") from exc
    return path


def write_results(path: str | Path, incidents: Sequence, frame: Any, frame_name: str,
                  extra: dict | None = None) -> Path:
    """Write ``results.json`` (atomically: a temporary file renamed into place)."""
    return _write_json(path, results_dict(incidents, frame, frame_name, extra))


def geojson_dict(incidents: Sequence, frame: Any, frame_name: str) -> dict:
    """The shots as a GeoJSON FeatureCollection of Points.

    WGS84: ``[lon, lat, alt_m]`` as RFC 7946 wants.  A local frame has no geographic anchor;
    its points are ``[x_m, y_m, z_m]`` and the collection says ``"frame": "local"``.
    """
    feats = []
    for inc in incidents:
        for s, k in zip(inc.shots, inc.shooters):
            d = shot_dict(s, k, frame, frame_name)
            coords = [d["lon"], d["lat"], d["alt_m"]] if frame_name == "wgs84" else [d["x_m"], d["y_m"], d["z_m"]]
            props = {"incident": inc.id, "class": inc.klass, "t_utc": d["t_utc"], "err_m": d["err_m"],
                     "shooter": k, "n_sensors": len(d["sensors"]), "sensors": d["sensors"]}
            feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": coords}, "properties": props})
    doc: dict = {"type": "FeatureCollection", "features": feats}
    if frame_name != "wgs84":
        doc["frame"] = frame_name
    return doc


def write_geojson(path: str | Path, incidents: Sequence, frame: Any, frame_name: str) -> Path:
    """Write the shots as GeoJSON."""
    return _write_json(path, geojson_dict(incidents, frame, frame_name))


def read_results(path: str | Path) -> dict:
    """Read a results file back (for tools and tests); checks the top-level shape."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{where(path)}: file not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where(path, exc.lineno)}: not valid JSON: {exc.msg}") from exc
    if not isinstance(doc, dict) or doc.get("frame") not in FRAMES or not isinstance(doc.get("incidents"), list):
        raise InputError(f"{where(path)}: not a results file (need frame and incidents)")
    return doc

"""Write a simulation as a recording set: WAVs, ``sensors.csv``, ``site.json``, ``truth.json``
and ``arrivals.csv`` (formats in ../shared/DESIGN.md).

Everything is written into a temporary folder beside ``out_dir`` and renamed into place at the
end, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from salvo.errors import ConfigError, InputError, where
from salvo.utc import format_utc_ns

FRAMES = ("wgs84", "local")


def _codes(audio: np.ndarray, bits: int) -> tuple[np.ndarray, str]:
    """Integer samples and soundfile subtype that reproduce ``audio`` exactly when read back."""
    q = float(2 ** (bits - 1))
    codes = np.rint(audio.astype(np.float64) * q).astype(np.int64)
    if bits <= 16:
        return (codes << (16 - bits)).astype(np.int16), "PCM_16"
    return (codes << (32 - bits)).astype(np.int32), "PCM_24"


class _Positions:
    """Writes positions in the requested frame (wgs84 through pyproj)."""

    def __init__(self, origin: tuple, frame: str) -> None:
        self.frame = frame
        self.enu = None
        if frame == "wgs84":
            from sim.geo import EnuFrame

            self.enu = EnuFrame(*origin)

    def fields(self, pos_m) -> dict:
        x, y, z = (float(v) for v in pos_m)
        if self.enu is None:
            return {"x_m": round(x, 4), "y_m": round(y, 4), "z_m": round(z, 4)}
        lat, lon, alt = self.enu.to_wgs84(x, y, z)
        return {"lat": round(float(lat), 9), "lon": round(float(lon), 9), "alt_m": round(float(alt), 4)}


def truth_dict(result, frame: str = "wgs84") -> dict:
    """The truth of a simulation as written to ``truth.json``."""
    if frame not in FRAMES:
        raise ConfigError(f"frame: {frame!r} is not one of {', '.join(FRAMES)}")
    pos = _Positions(result.origin, frame)
    t = result.truth
    return {
        "frame": frame,
        "scenario": result.name,
        "seed": result.seed,
        "origin": {"lat": result.origin[0], "lon": result.origin[1], "alt_m": result.origin[2]},
        "incidents": [
            {"id": i, "name": name,
             "n_shots": sum(1 for s in t.shots if s.incident == i),
             "n_shooters": len({s.shooter for s in t.shots if s.incident == i}),
             "confusers": sorted({c.kind for c in t.confusers if c.incident == i})}
            for i, name in enumerate(t.incidents)
        ],
        "shots": [
            {"t_utc": format_utc_ns(s.t_ns, 9), **pos.fields(s.pos_m), "shooter": s.shooter, "weapon": s.weapon,
             "incident": s.incident, "event": s.event, "supersonic": bool(s.supersonic),
             "aim_deg": round(float(np.degrees(np.arctan2(s.aim[0], s.aim[1]))) % 360.0, 3),
             "elevation_deg": round(float(np.degrees(np.arcsin(np.clip(s.aim[2], -1.0, 1.0)))), 3)}
            for s in t.shots
        ],
        "confusers": [
            {"t_utc": format_utc_ns(c.t_ns, 9), **pos.fields(c.pos_m), "kind": c.kind, "incident": c.incident, "event": c.event}
            for c in t.confusers
        ],
        "sensors": [
            {"sensor_id": s.sensor_id, **pos.fields(s.pos_m), "fs_hz": s.fs_hz, "clock": s.clock,
             "clock_offset_s": s.clock_offset_s, "clock_drift_ppm": s.clock_drift_ppm, "clock_fault_s": s.clock_fault_s,
             "full_scale_db_spl": round(s.full_scale_db_spl, 3), "bits": s.bits}
            for s in result.sensors
        ],
        "missed": [{"sensor_id": sid, "event": ev} for sid, ev in result.missed],
    }


def write_recording_set(result, out_dir: str | Path, frame: str = "wgs84", scenario_toml: str | None = None) -> Path:
    """Write a :class:`~sim.result.SimResult` as a recording set.

    Parameters
    ----------
    result : SimResult
    out_dir : str or Path
        Folder to create.  An existing empty folder or earlier recording set there is replaced;
        anything else is refused.
    frame : {"wgs84", "local"}
        Positions as lat/lon/alt_m or as the local x_m/y_m/z_m.
    scenario_toml : str, optional
        The scenario's text, kept as ``scenario.toml`` so the set can be made again
        (``salvo sim scenario.toml --seed <truth.json seed>``).

    Returns
    -------
    Path
        ``out_dir``.
    """
    import soundfile as sf

    if frame not in FRAMES:
        raise ConfigError(f"frame: {frame!r} is not one of {', '.join(FRAMES)}")
    out = Path(out_dir)
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or (out / "sensors.csv").is_file())):
        raise InputError(f"{where(out)}: exists and is not an empty folder or an earlier recording set; not overwriting")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise InputError(f"{where(out)}: cannot create: {exc}") from exc
    try:
        pos = _Positions(result.origin, frame)
        cols = ["sensor_id", "file", "start_utc", *(("lat", "lon", "alt_m") if frame == "wgs84" else ("x_m", "y_m", "z_m")),
                "clock", "sigma_clock_s"]
        with open(tmp / "sensors.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
            w.writeheader()
            for s in result.sensors:
                name = f"{s.sensor_id}.wav"
                data, subtype = _codes(s.audio, s.bits)
                sf.write(tmp / name, data, s.fs_hz, subtype=subtype, format="WAV")
                w.writerow({"sensor_id": s.sensor_id, "file": name, "start_utc": format_utc_ns(s.start_ns, 6),
                            **pos.fields(s.reported_pos_m), "clock": s.clock,
                            "sigma_clock_s": "" if s.clock == "unknown" else repr(float(s.sigma_clock_s))})
        site = dict(result.site)
        ground = site.pop("ground_z_m")
        if frame == "wgs84":
            site["ground_alt_m"] = round(float(pos.fields((0.0, 0.0, ground))["alt_m"]), 4)
        else:
            site["ground_z_m"] = ground
        (tmp / "site.json").write_text(json.dumps(site, indent=1) + "\n", encoding="utf-8")
        if scenario_toml is not None:
            (tmp / "scenario.toml").write_text(scenario_toml, encoding="utf-8")
        (tmp / "truth.json").write_text(json.dumps(truth_dict(result, frame), indent=1) + "\n", encoding="utf-8")
        with open(tmp / "arrivals.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["sensor_id", "event", "t_utc", "sample", "path", "peak_pa"])
            for a in result.arrivals:
                w.writerow([a.sensor_id, a.event, format_utc_ns(a.t_ns, 9), f"{a.sample:.4f}", a.path, f"{a.peak_pa:.6g}"])
        if out.exists():
            old = out.parent / f".{out.name}.old-{tmp.name}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out

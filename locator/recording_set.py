"""Reading a recording set: ``sensors.csv``, optional ``site.json``, and the audio files.

Format (../shared/DESIGN.md): ``sensors.csv`` has ``sensor_id``, ``file``, ``start_utc``
and either ``lat, lon, alt_m`` (WGS84) or ``x_m, y_m, z_m`` (local, metres, z up);
optionally ``clock`` and ``sigma_clock_s``.  ``salvo locate`` reads the same file with
only the id and position columns.

Every problem names the file and line.  With ``keep_going`` a bad row or an unreadable
audio file is reported in ``problems`` and the rest is used; without it the first one
raises :class:`~salvo.errors.InputError`.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from salvo.errors import InputError, where
from salvo.utc import parse_utc_ns

from salvo.utc import NS_PER_S as NS  # ns per s
CLOCKS = ("gps", "ntp", "unknown")
#: Clock sigma assumed per clock kind when ``sigma_clock_s`` is absent, s (REFERENCE.md, Time).
DEFAULT_SIGMA_CLOCK_S = {"gps": 1e-5, "ntp": 3e-3, "unknown": 1e-3}
WGS84_COLUMNS = ("lat", "lon", "alt_m")
LOCAL_COLUMNS = ("x_m", "y_m", "z_m")
#: Lowest sample rate a recording set may use, Hz.
MIN_FS_HZ = 8000.0


@dataclass(frozen=True, slots=True)
class SensorRecord:
    """One row of ``sensors.csv``.

    Attributes
    ----------
    sensor_id : str
    pos_m : numpy.ndarray, shape (3,)
        Position in the set's local frame, m (WGS84 rows converted through pyproj).
    file : pathlib.Path or None
        Audio file (absolute), None when the column is absent or empty.
    start_ns : int or None
        UTC time of the first sample, ns.
    clock : str
        One of :data:`CLOCKS`.
    sigma_clock_s : float
        1-sigma clock error, s.
    line : int
        Line of ``sensors.csv`` it came from.
    """

    sensor_id: str
    pos_m: np.ndarray
    file: Path | None
    start_ns: int | None
    clock: str
    sigma_clock_s: float
    line: int


@dataclass(frozen=True, slots=True)
class Site:
    """``site.json``: weather and ground height, every field optional.

    Attributes
    ----------
    temperature_c : float or None
    wind_speed_mps : float or None
    wind_from_deg : float or None
    ground_z_m : float or None
        Ground height in the local frame, m (from ``ground_z_m``, or ``ground_alt_m`` converted).
    """

    temperature_c: float | None = None
    wind_speed_mps: float | None = None
    wind_from_deg: float | None = None
    ground_z_m: float | None = None

    @property
    def c_mps(self) -> float:
        """Speed of sound, m/s: 331.3 sqrt(1 + T/273.15), 20 degC when the temperature is unknown."""
        t = 20.0 if self.temperature_c is None else self.temperature_c
        return 331.3 * math.sqrt(1.0 + t / 273.15)


@dataclass(frozen=True, slots=True)
class SensorSet:
    """The sensors of a recording set (or of ``salvo locate``).

    Attributes
    ----------
    csv_path : pathlib.Path
    frame_name : str
        ``"wgs84"`` or ``"local"``: how positions were given, and how results are written.
    frame : LocalFrame or CartesianFrame
        Converts between the given coordinates and the local frame.
    sensors : tuple of SensorRecord
    site : Site
    problems : tuple of str
        What was skipped (only with ``keep_going``).
    """

    csv_path: Path
    frame_name: str
    frame: Any
    sensors: tuple[SensorRecord, ...]
    site: Site
    problems: tuple[str, ...] = ()

    @property
    def positions(self) -> dict[str, np.ndarray]:
        """``{sensor_id: pos_m}``, what the associator takes."""
        return {s.sensor_id: s.pos_m for s in self.sensors}


@dataclass(frozen=True, slots=True)
class Recording:
    """One sensor's audio.

    Attributes
    ----------
    sensor : SensorRecord
    audio : numpy.ndarray, shape (n,), float32
        First channel, full scale +-1.
    fs_hz : float
    """

    sensor: SensorRecord
    audio: np.ndarray
    fs_hz: float

    @property
    def end_ns(self) -> int:
        """UTC time just after the last sample, ns."""
        return int(self.sensor.start_ns) + int(round(self.audio.size / self.fs_hz * NS))


@dataclass(frozen=True, slots=True)
class RecordingSet:
    """A recording set read from a folder: sensors, their audio, and what was wrong.

    Attributes
    ----------
    root : pathlib.Path
    sensor_set : SensorSet
    recordings : tuple of Recording
        Readable audio, one per sensor that has it.
    problems : tuple of str
        Every row, file or time span skipped or suspicious, each naming file and line.
    """

    root: Path
    sensor_set: SensorSet
    recordings: tuple[Recording, ...]
    problems: tuple[str, ...]


def _float(row: dict, key: str, path: Path, line: int) -> float:
    text = (row.get(key) or "").strip()
    if not text:
        raise InputError(f"{where(path, line, key)}: empty")
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where(path, line, key)}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{where(path, line, key)}: {text!r} is not finite")
    return value


def load_site(path: str | Path, frame: Any = None) -> Site:
    """Read ``site.json``; a missing file is an empty :class:`Site`.

    Parameters
    ----------
    path : str or Path
    frame : LocalFrame, optional
        Converts ``ground_alt_m`` to the local frame (WGS84 sets).
    """
    path = Path(path)
    if not path.exists():
        return Site()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{where(path, exc.lineno)}: not valid JSON: {exc.msg}") from exc
    except OSError as exc:
        raise InputError(f"{where(path)}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{where(path)}: expected a JSON object")
    vals: dict[str, float | None] = {}
    for key in ("temperature_c", "wind_speed_mps", "wind_from_deg", "ground_z_m", "ground_alt_m"):
        v = data.get(key)
        if v is None:
            vals[key] = None
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InputError(f"{where(path, field=key)}: {v!r} is not a number")
        vals[key] = float(v)
    ground = vals["ground_z_m"]
    if ground is None and vals["ground_alt_m"] is not None and frame is not None and hasattr(frame, "lat0"):
        ground = float(frame.to_local(frame.lat0, frame.lon0, vals["ground_alt_m"])[2])
    return Site(vals["temperature_c"], vals["wind_speed_mps"], vals["wind_from_deg"], ground)


def load_sensors(csv_path: str | Path, *, need_audio: bool = True, keep_going: bool = False) -> SensorSet:
    """Read ``sensors.csv`` (and ``site.json`` beside it).

    Parameters
    ----------
    csv_path : str or Path
    need_audio : bool
        Require the ``file`` and ``start_utc`` columns (``salvo analyze``); ``salvo locate``
        needs only ids and positions.
    keep_going : bool
        Report bad rows in ``problems`` instead of raising.

    Raises
    ------
    InputError
        Missing or unreadable file, missing columns, no usable row; and, unless
        ``keep_going``, any bad row or duplicate id (message ``file:line: column: ...``).
    """
    from locator.geodesy import CartesianFrame, frame_around

    path = Path(csv_path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            reader.fieldnames = header
            rows = [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise InputError(f"{where(path)}: file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{where(path)}: cannot read as CSV: {exc}") from exc
    if not header:
        raise InputError(f"{where(path, 1)}: empty file, expected a header with sensor_id and positions")
    need = ["sensor_id"] + (["file", "start_utc"] if need_audio else [])
    missing = [c for c in need if c not in header]
    if missing:
        raise InputError(f"{where(path, 1)}: missing column(s) {', '.join(missing)}")
    if all(c in header for c in WGS84_COLUMNS):
        frame_name, cols = "wgs84", WGS84_COLUMNS
    elif all(c in header for c in LOCAL_COLUMNS):
        frame_name, cols = "local", LOCAL_COLUMNS
    else:
        raise InputError(f"{where(path, 1)}: need position columns lat, lon, alt_m or x_m, y_m, z_m")

    problems: list[str] = []

    def bad(msg: str) -> None:
        if not keep_going:
            raise InputError(msg)
        problems.append(msg)

    parsed = []
    seen: dict[str, int] = {}
    for line, row in rows:
        if None in row:  # more fields than the header
            bad(f"{where(path, line)}: {len(header) + len(row[None])} fields, the header has {len(header)}")
            continue
        try:
            sid = (row.get("sensor_id") or "").strip()
            if not sid:
                raise InputError(f"{where(path, line, 'sensor_id')}: empty")
            if sid in seen:
                raise InputError(f"{where(path, line, 'sensor_id')}: duplicate id {sid!r} (first on line {seen[sid]})")
            coords = [_float(row, c, path, line) for c in cols]
            if frame_name == "wgs84" and not (-90 <= coords[0] <= 90 and -180 <= coords[1] <= 360):
                raise InputError(f"{where(path, line, 'lat')}: {coords[0]}, {coords[1]} is not a latitude/longitude")
            file_text = (row.get("file") or "").strip()
            start_text = (row.get("start_utc") or "").strip()
            if need_audio and not file_text:
                raise InputError(f"{where(path, line, 'file')}: empty")
            start_ns = parse_utc_ns(start_text, what=where(path, line, "start_utc")) if start_text else None
            if need_audio and start_ns is None:
                raise InputError(f"{where(path, line, 'start_utc')}: empty")
            clock = (row.get("clock") or "unknown").strip().lower() or "unknown"
            if clock not in CLOCKS:
                raise InputError(f"{where(path, line, 'clock')}: {clock!r} is not one of {', '.join(CLOCKS)}")
            sigma_text = (row.get("sigma_clock_s") or "").strip()
            sigma = _float(row, "sigma_clock_s", path, line) if sigma_text else DEFAULT_SIGMA_CLOCK_S[clock]
            if sigma < 0:
                raise InputError(f"{where(path, line, 'sigma_clock_s')}: {sigma} is negative")
        except InputError as exc:
            bad(str(exc))
            continue
        seen[sid] = line
        file = (path.parent / file_text) if file_text else None
        parsed.append((sid, coords, file, start_ns, clock, sigma, line))
    if not parsed:
        raise InputError(f"{where(path)}: no usable sensor rows" + (f" ({len(problems)} skipped)" if problems else ""))
    arr = np.array([p[1] for p in parsed], dtype=np.float64)
    if frame_name == "wgs84":
        frame = frame_around(arr[:, 0], arr[:, 1], arr[:, 2])
        x, y, z = frame.to_local(arr[:, 0], arr[:, 1], arr[:, 2])
        local = np.column_stack([x, y, z])
    else:
        frame = CartesianFrame()
        local = arr
    sensors = tuple(
        SensorRecord(sid, local[i].copy(), file, start, clock, sigma, line)
        for i, (sid, _, file, start, clock, sigma, line) in enumerate(parsed)
    )
    site = load_site(path.parent / "site.json", frame)
    return SensorSet(path, frame_name, frame, sensors, site, tuple(problems))


def read_audio(sensor: SensorRecord, csv_path: Path) -> Recording:
    """Read one sensor's audio (first channel, float32) through soundfile.

    Raises
    ------
    InputError
        Missing or unreadable file, empty audio, or a sample rate below 8 kHz; the message
        names the audio file and the ``sensors.csv`` line that refers to it.
    """
    import soundfile as sf

    tag = f"{where(sensor.file)} (sensor {sensor.sensor_id}, {where(csv_path, sensor.line, 'file')})"
    if sensor.file is None or not sensor.file.is_file():
        raise InputError(f"{tag}: audio file not found")
    try:
        data, fs = sf.read(str(sensor.file), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, OSError) as exc:  # type: ignore[attr-defined]
        raise InputError(f"{tag}: cannot read audio: {exc}") from exc
    if data.shape[0] == 0:
        raise InputError(f"{tag}: no samples")
    if fs < MIN_FS_HZ:
        raise InputError(f"{tag}: sample rate {fs} Hz is below {MIN_FS_HZ:.0f} Hz")
    return Recording(sensor, np.ascontiguousarray(data[:, 0]), float(fs))


def check_times(recordings: tuple[Recording, ...] | list[Recording], csv_path: Path) -> list[str]:
    """Warnings about the recordings' time spans: a sensor that shares no time with the
    others cannot take part in any shot; gaps between files are reported so the analyst
    knows which stretches only some sensors cover."""
    out = []
    if len(recordings) < 2:
        return out
    spans = [(r.sensor.start_ns, r.end_ns) for r in recordings]
    for i, r in enumerate(recordings):
        others = [s for j, s in enumerate(spans) if j != i]
        overlap = any(min(spans[i][1], e) > max(spans[i][0], s) for s, e in others)
        if not overlap:
            out.append(f"{where(csv_path, r.sensor.line, 'start_utc')}: {r.sensor.sensor_id}'s recording shares no "
                       "time with any other sensor; it cannot take part in a shot")
    common_start = max(s for s, _ in spans)
    common_end = min(e for _, e in spans)
    if common_end <= common_start:
        out.append(f"{where(csv_path)}: the recordings have no time span in common; shots are located where "
                   "enough sensors overlap")
    return out


def load_recording_set(root: str | Path, *, keep_going: bool = False) -> RecordingSet:
    """Read a recording set folder: ``sensors.csv``, ``site.json``, every audio file.

    Sample rates may differ between sensors (each is processed at its own rate).

    Raises
    ------
    InputError
        As :func:`load_sensors` and :func:`read_audio`; with ``keep_going`` only when
        nothing usable is left.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{where(root)}: not a folder")
    sset = load_sensors(root / "sensors.csv", need_audio=True, keep_going=keep_going)
    problems = list(sset.problems)
    recs = []
    for s in sset.sensors:
        try:
            recs.append(read_audio(s, sset.csv_path))
        except InputError as exc:
            if not keep_going:
                raise
            problems.append(str(exc))
    if not recs:
        raise InputError(f"{where(sset.csv_path)}: no readable audio" + (f"; {len(problems)} problem(s)" if problems else ""))
    problems += check_times(recs, sset.csv_path)
    return RecordingSet(root, sset, tuple(recs), tuple(problems))

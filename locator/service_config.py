"""Configuration of the locator service (``locator.toml``), its sensor list and its keys.

Every setting, its unit and its default is in :class:`ServiceConfig`.  Paths in
the TOML file are relative to the file.  Keys live in their own file (one
``sensor_id hexkey`` a line, readable by the service user only) so the main
configuration can be shared; no key is ever printed or logged.

Example ``locator.toml``::

    [locator]
    listen = "127.0.0.1"
    port = 7700
    http_port = 7701
    store = "salvo.db"
    sensors = "sensors.csv"
    keys = "keys.txt"

    [association]        # any field of locator.associate.AssociationConfig
    min_sensors = 4

    [incidents]
    gap_s = 10.0
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from salvo.errors import ConfigError, InputError, where
from sensor_node.protocol import MAX_SENSOR_ID_CHARS, parse_key


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Settings of ``salvo locator``.

    Attributes
    ----------
    listen : str
        Address of both servers; default ``127.0.0.1`` (set ``0.0.0.0`` to serve a network).
    port : int
        TCP port of the node ingest; default 7700 (0: any free port).
    http_port : int
        Port of the HTTP side (alerts feed, /health, /metrics, /incidents); default 7701 (0: any free port).
    store : Path
        SQLite incident store; default ``salvo.db``.
    sensors : Path
        Sensor list: ``sensor_id`` and ``lat, lon, alt_m`` or ``x_m, y_m, z_m`` columns.
    keys : Path
        Sensor keys, ``sensor_id hexkey`` per line.
    max_connections : int
        Node connections served at once; default 4096.
    idle_timeout_s : float
        A connection silent this long is closed, s; default 120.
    max_bad_frames : int
        Rejected frames after which a connection is closed; default 20.
    max_clock_skew_s : float
        Heartbeats or detections stamped further than this in the future (or
        heartbeats this far in the past) are rejected as stale, s; default 300.
    transport_allowance_s : float
        Wait for detections still on their way before a shot is final, s; default 0.5.
    heartbeat_timeout_s : float
        A node silent this long (wall clock) is offline: it no longer holds back the
        finalisation watermark and /health lists it as silent, s; default 30.
    step_s : float
        Period of the service's tick (finalising shots, closing incidents), s; default 0.1.
    batch_s : float
        Detections arriving within this long are associated together (one search
        serves a whole wavefront), s; default 0.03.
    prelim_radius_m : float
        Sensors within this distance of a reporting sensor join its preliminary
        association, m (a gunshot is rarely heard beyond 1-2 km); default 2000.
    finalizer : str
        How shots become final: ``local`` (each preliminary shot re-solved over its own
        neighbourhood once every sensor in range has had time to report; cost per shot)
        or ``online`` (``locator.associate.OnlineAssociator``; cost grows with the array).
        See ``locator.service_finalize``; default ``local``.
    locate_margin_m : float
        A search weighs the sensors that reported and those within this distance of them
        (a silent neighbour is evidence against a source; a silent sensor across the city
        is not), m; default 500.
    replay_window_s : float
        On start, association is re-run over detections received this recently, s; default 600.
    restart_grace_s : float
        For this long after a start, shots are finalised and incidents closed only as
        the data allow, never by the clock: nodes are still reconnecting and resending
        what they spooled while the locator was down, s; default 15.
    incident_gap_s : float
        A shot this long after an incident's last shot starts a new incident, s; default 10.
    incident_radius_m : float
        A shot farther than this from an incident's first shot starts a new incident, m;
        default 150 (as ``salvo analyze``).
    ground_z_m : float
        Ground height in the sensors' local frame, m, for the aerial-fireworks test of
        ``locator.incidents`` (NaN: no test; tried on shots of 8 arrivals or more,
        ``FREE_HEIGHT_MIN_SENSORS``); default NaN.
    clock_speed : float
        Replay speed-up of the whole system (``salvo demo``): the service's clock runs this
        many times faster than UTC from ``clock_epoch_utc`` on; 1 in the field; default 1.
    clock_epoch_utc : str
        Where the sped-up clock meets UTC (ISO-8601); required when ``clock_speed`` != 1.
    alert_buffer : int
        Alerts kept in memory for subscribers that reconnect (SSE ``Last-Event-ID``); default 500.
    association_processes : int
        Worker processes that run the association searches (``locator.service_search``),
        so they neither hold up nor wait on the ingest's event loop; 0 runs them in the
        service's own association thread; default 1.  With workers, final solutions get
        one more of their own.
    final_nice : int
        Nice value added to that final-solution worker: final solutions wait on purpose and
        yield the CPU to the first searches a dispatcher is waiting for; default 10.
    association : dict
        Fields of ``locator.associate.AssociationConfig``.
    """

    listen: str = "127.0.0.1"
    port: int = 7700
    http_port: int = 7701
    store: Path = Path("salvo.db")
    sensors: Path = Path("sensors.csv")
    keys: Path = Path("keys.txt")
    max_connections: int = 4096
    idle_timeout_s: float = 120.0
    max_bad_frames: int = 20
    max_clock_skew_s: float = 300.0
    transport_allowance_s: float = 0.5
    heartbeat_timeout_s: float = 30.0
    step_s: float = 0.1
    batch_s: float = 0.03
    prelim_radius_m: float = 2000.0
    finalizer: str = "local"
    locate_margin_m: float = 500.0
    replay_window_s: float = 600.0
    restart_grace_s: float = 15.0
    incident_gap_s: float = 10.0
    incident_radius_m: float = 150.0
    ground_z_m: float = float("nan")
    clock_speed: float = 1.0
    clock_epoch_utc: str = ""
    alert_buffer: int = 500
    association_processes: int = 1
    final_nice: int = 10
    association: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SensorArray:
    """The deployed sensors in the locator's local frame.

    Attributes
    ----------
    ids : tuple of str
    pos_m : ndarray, shape (S, 3)
        Local east-north-up positions, m.
    frame : LocalFrame or CartesianFrame
        Converts local positions to WGS84 (``wgs84`` frames only).
    frame_name : str
        ``"wgs84"`` or ``"local"``: what results carry.
    """

    ids: tuple[str, ...]
    pos_m: np.ndarray
    frame: Any = field(repr=False)
    frame_name: str = "wgs84"

    def as_mapping(self) -> dict[str, np.ndarray]:
        """``{sensor_id: (x, y, z)}`` as the associator takes it."""
        return {s: self.pos_m[i] for i, s in enumerate(self.ids)}


def load_service_config(path: str | Path) -> ServiceConfig:
    """Read ``locator.toml``; relative paths are taken from the file's folder.

    Raises
    ------
    ConfigError
        Naming the file and the field.
    """
    from sensor_node.config import read_toml

    path = Path(path)
    data = read_toml(path)
    section = dict(data.get("locator", {}))
    section["association"] = dict(data.get("association", {}))
    for k, v in dict(data.get("incidents", {})).items():
        section[f"incident_{k}"] = v
    return config_from_dict(section, path)


def config_from_dict(values: dict[str, Any], source: str | Path = "locator.toml") -> ServiceConfig:
    """Build a :class:`ServiceConfig` from a flat mapping, checking names and types."""
    base = Path(source).parent if str(source).endswith(".toml") else Path(".")
    known = {f.name: f for f in dataclasses.fields(ServiceConfig)}
    kwargs: dict[str, Any] = {}
    defaults = ServiceConfig()
    for name, value in values.items():
        if name not in known:
            raise ConfigError(f"{where(source, field=name)} is not a locator setting (known: {', '.join(sorted(known))})")
        default = getattr(defaults, name)
        if isinstance(default, Path):
            p = Path(value)
            value = p if p.is_absolute() else base / p
        elif isinstance(default, bool) or isinstance(default, dict):
            pass
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{where(source, field=name)} must be a number, got {value!r}")
            value = type(default)(value)
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{where(source, field=name)} must be text, got {value!r}")
        kwargs[name] = value
    cfg = ServiceConfig(**kwargs)
    from locator.service_finalize import FINALIZERS

    if cfg.finalizer not in FINALIZERS:
        raise ConfigError(f"{where(source, field='finalizer')} must be one of {', '.join(FINALIZERS)}, got {cfg.finalizer!r}")
    if cfg.clock_speed <= 0 or (cfg.clock_speed != 1.0 and not cfg.clock_epoch_utc):
        raise ConfigError(f"{where(source, field='clock_speed')} must be > 0, and needs clock_epoch_utc when not 1")
    for name in ("association_processes", "final_nice"):
        if getattr(cfg, name) < 0:
            raise ConfigError(f"{where(source, field=name)} must be 0 or more, got {getattr(cfg, name)}")
    for name in ("idle_timeout_s", "transport_allowance_s", "step_s", "incident_gap_s", "incident_radius_m"):
        if getattr(cfg, name) < 0 or (name == "step_s" and cfg.step_s == 0):
            raise ConfigError(f"{where(source, field=name)} must be positive, got {getattr(cfg, name)}")
    return cfg


def load_keys(path: str | Path) -> dict[str, bytes]:
    """Read sensor keys: ``sensor_id hexkey`` per line, ``#`` comments.

    Raises
    ------
    ConfigError
        Naming the file and line (never the key).
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sensor keys: {exc.strerror or exc}") from None
    keys: dict[str, bytes] = {}
    for i, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split()
        if len(parts) != 2:
            raise ConfigError(f"{where(path, i)}: expected 'sensor_id hexkey'")
        sid, hexkey = parts
        if sid in keys:
            raise ConfigError(f"{where(path, i)}: sensor {sid!r} has a second key")
        keys[sid] = parse_key(hexkey, what=where(path, i, "key"))
    return keys


def write_keys(path: str | Path, keys: dict[str, bytes]) -> None:
    """Write a keys file readable by its owner only."""
    path = Path(path)
    path.write_text("".join(f"{s} {k.hex()}\n" for s, k in keys.items()))
    path.chmod(0o600)


def load_sensor_array(path: str | Path) -> SensorArray:
    """Read the locator's sensor list (the ``sensors.csv`` of a recording set; ``file`` and ``start_utc`` optional).

    Raises
    ------
    InputError
        Naming the file, line and column.
    """
    from locator.geodesy import CartesianFrame, frame_around

    path = Path(path)
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
            cols = set(rows[0].keys()) if rows else set()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the sensor list: {exc.strerror or exc}") from None
    if not rows:
        raise InputError(f"{path}: no sensors")
    wgs = {"lat", "lon"} <= cols
    names = ("lat", "lon", "alt_m") if wgs else ("x_m", "y_m", "z_m")
    if "sensor_id" not in cols or not (wgs or {"x_m", "y_m"} <= cols):
        raise InputError(f"{path}: needs columns sensor_id and lat, lon[, alt_m] or x_m, y_m[, z_m]")
    ids: list[str] = []
    coords = np.zeros((len(rows), 3))
    for i, row in enumerate(rows):
        line = i + 2
        sid = (row.get("sensor_id") or "").strip()
        if not sid or len(sid) > MAX_SENSOR_ID_CHARS:
            raise InputError(f"{where(path, line, 'sensor_id')} must be 1..{MAX_SENSOR_ID_CHARS} characters")
        if sid in ids:
            raise InputError(f"{where(path, line, 'sensor_id')}: duplicate {sid!r}")
        ids.append(sid)
        for j, name in enumerate(names):
            text = (row.get(name) or "").strip()
            if not text and j == 2:
                continue
            try:
                coords[i, j] = float(text)
            except ValueError:
                raise InputError(f"{where(path, line, name)}: {text!r} is not a number") from None
    if wgs:
        frame = frame_around(coords[:, 0], coords[:, 1], coords[:, 2])
        x, y, z = frame.to_local(coords[:, 0], coords[:, 1], coords[:, 2])
        pos = np.column_stack([x, y, z])
    else:
        frame, pos = CartesianFrame(), coords
    return SensorArray(tuple(ids), pos, frame, "wgs84" if wgs else "local")

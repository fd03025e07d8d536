"""The incident store: SQLite in WAL mode, written by the locator service, read by the dashboard.

One file holds

* ``incidents`` and ``shots``: every incident in the results format of DESIGN.md
  (an incident is re-written, its ``version`` raised, each time more sensors
  report -- the preliminary alert and its updates are the same row);
* ``detections``: every detection the locator accepted, keyed by (sensor, seq).
  The primary key *is* the de-duplication of at-least-once delivery, and the
  table lets a restarted locator re-run association over the last minutes, so a
  crash loses neither detections nor incidents.

WAL lets the dashboard read while the service writes.  Times are integer ns
since the epoch; positions are WGS84 (``lat``, ``lon``, ``alt_m``) or a local
frame (``x_m``, ``y_m``, ``z_m``), the other set NaN.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salvo.errors import InputError, StoreError
from salvo.utc import format_utc_ns, parse_utc_ns
from sensor_node.protocol import Detection

SCHEMA_VERSION = 1
NAN = float("nan")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    class TEXT NOT NULL,
    confidence REAL,
    n_shots INTEGER NOT NULL,
    n_shooters INTEGER NOT NULL,
    frame TEXT NOT NULL,
    lat REAL, lon REAL, alt_m REAL,
    x_m REAL, y_m REAL, z_m REAL,
    err_m REAL,
    final INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    updated_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_start ON incidents (start_ns);
CREATE TABLE IF NOT EXISTS shots (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    t_ns INTEGER NOT NULL,
    lat REAL, lon REAL, alt_m REAL,
    x_m REAL, y_m REAL, z_m REAL,
    err_m REAL,
    shooter INTEGER NOT NULL,
    sensors TEXT NOT NULL,
    detections TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (incident_id, idx)
);
CREATE TABLE IF NOT EXISTS detections (
    sensor_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    t_ns INTEGER NOT NULL,
    sigma_s REAL, snr_db REAL, peak_dbfs REAL, p_gunshot REAL,
    kind TEXT NOT NULL,
    received_ns INTEGER NOT NULL,
    PRIMARY KEY (sensor_id, seq)
);
CREATE INDEX IF NOT EXISTS detections_received ON detections (received_ns);
"""


@dataclass(frozen=True, slots=True)
class StoredShot:
    """One located shot of an incident.

    Attributes
    ----------
    t_ns : int
        Estimated discharge time, UTC ns.
    lat, lon : float
        Degrees WGS84 (NaN in a local frame).
    alt_m : float
        Metres above the WGS84 ellipsoid (NaN in a local frame).
    x_m, y_m, z_m : float
        Local-frame position, m (NaN in WGS84).
    err_m : float
        1-sigma horizontal error radius, m.
    shooter : int
        Shooter number within the incident.
    sensors : tuple of str
        Sensors whose detections located the shot.
    detections : tuple of str
        The detections used, as ``"sensor_id:seq"`` (live service; empty offline).
    """

    t_ns: int
    lat: float = NAN
    lon: float = NAN
    alt_m: float = NAN
    x_m: float = NAN
    y_m: float = NAN
    z_m: float = NAN
    err_m: float = NAN
    shooter: int = 0
    sensors: tuple[str, ...] = ()
    detections: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredIncident:
    """An incident as kept in the store (the results-format incident plus bookkeeping).

    Attributes
    ----------
    id : str
    start_ns, end_ns : int
        First and last shot, UTC ns.
    cls : str
        ``"gunfire"``, ``"fireworks"``, ``"impulse"``, ... (``class`` in JSON).
    confidence : float
        0..1.
    n_shots, n_shooters : int
    frame : str
        ``"wgs84"`` or ``"local"``.
    shots : tuple of StoredShot
    final : bool
        False while more sensors may still report (a preliminary alert).
    version : int
        1 for the first write, raised on every update.
    updated_ns : int
        When the store last wrote it, UTC ns.
    """

    id: str
    start_ns: int
    end_ns: int
    cls: str = "gunfire"
    confidence: float = NAN
    n_shots: int = 0
    n_shooters: int = 0
    frame: str = "wgs84"
    shots: tuple[StoredShot, ...] = field(default=())
    final: bool = False
    version: int = 1
    updated_ns: int = 0

    def centroid(self) -> tuple[float, float, float]:
        """Mean shot position: (lat, lon, alt_m) in WGS84 or (x_m, y_m, z_m) in a local frame."""
        keys = ("lat", "lon", "alt_m") if self.frame == "wgs84" else ("x_m", "y_m", "z_m")
        if not self.shots:
            return (NAN, NAN, NAN)
        return tuple(_nanmean([getattr(s, k) for s in self.shots]) for k in keys)  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """The incident in the results format of DESIGN.md."""
        shots = []
        for s in self.shots:
            d: dict[str, Any] = {"t_utc": format_utc_ns(s.t_ns, 6)}
            keys = ("lat", "lon", "alt_m") if self.frame == "wgs84" else ("x_m", "y_m", "z_m")
            for k in keys:
                d[k] = _json_float(getattr(s, k))
            d.update(err_m=_json_float(s.err_m), shooter=s.shooter, sensors=list(s.sensors))
            shots.append(d)
        return {
            "id": self.id,
            "start_utc": format_utc_ns(self.start_ns, 6),
            "end_utc": format_utc_ns(self.end_ns, 6),
            "class": self.cls,
            "confidence": _json_float(self.confidence),
            "n_shots": self.n_shots,
            "n_shooters": self.n_shooters,
            "final": self.final,
            "version": self.version,
            "shots": shots,
        }


def incident_from_dict(d: Mapping[str, Any], frame: str = "wgs84", what: str = "incident") -> StoredIncident:
    """Read one results-format incident (``start_utc`` text or ``start_ns`` ints) into a :class:`StoredIncident`.

    Raises
    ------
    InputError
        Naming the field at fault.
    """
    try:
        shots = tuple(_shot_from_dict(s, f"{what}: shots[{i}]") for i, s in enumerate(d.get("shots", ())))
        start = _time(d, "start", what)
        end = _time(d, "end", what)
        return StoredIncident(
            id=str(d["id"]),
            start_ns=start,
            end_ns=end,
            cls=str(d.get("class", d.get("cls", "gunfire"))),
            confidence=float(d.get("confidence", NAN) if d.get("confidence") is not None else NAN),
            n_shots=int(d.get("n_shots", len(shots))),
            n_shooters=int(d.get("n_shooters", 1 if shots else 0)),
            frame=str(d.get("frame", frame)),
            shots=shots,
            final=bool(d.get("final", False)),
        )
    except KeyError as exc:
        raise InputError(f"{what}: missing field {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: {exc}") from exc


def _time(d: Mapping[str, Any], name: str, what: str) -> int:
    if f"{name}_ns" in d:
        return int(d[f"{name}_ns"])
    return parse_utc_ns(d[f"{name}_utc"], what=f"{what}: {name}_utc")


def _shot_from_dict(s: Mapping[str, Any], what: str) -> StoredShot:
    t = int(s["t_ns"]) if "t_ns" in s else parse_utc_ns(s["t_utc"], what=f"{what}: t_utc")

    def g(k: str) -> float:
        v = s.get(k)
        return NAN if v is None else float(v)

    return StoredShot(
        t_ns=t, lat=g("lat"), lon=g("lon"), alt_m=g("alt_m"), x_m=g("x_m"), y_m=g("y_m"), z_m=g("z_m"),
        err_m=g("err_m"), shooter=int(s.get("shooter", 0)), sensors=tuple(str(x) for x in s.get("sensors", ())),
    )


def _nanmean(values: list[float]) -> float:
    ok = [v for v in values if not math.isnan(v)]
    return sum(ok) / len(ok) if ok else NAN


def _json_float(v: float) -> float | None:
    return None if v is None or math.isnan(v) else float(v)


def _sql(v: float) -> float | None:
    """SQLite has no NaN: store NULL."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def _py(v: float | None) -> float:
    return NAN if v is None else float(v)


class IncidentStore:
    """The locator's SQLite (WAL) store of incidents and accepted detections.

    Parameters
    ----------
    path : str or Path
        Database file; created with its schema when absent.
    readonly : bool
        Open for reading only (the dashboard).

    Raises
    ------
    StoreError
        When the file cannot be opened or holds another schema version.
    """

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = Path(path)
        try:
            if readonly:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode: a power cut may lose the last commits but never corrupts.
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
                self._db.commit()
            self._db.execute("PRAGMA foreign_keys=ON")
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the incident store: {exc}") from exc
        if row is None or int(row[0]) != SCHEMA_VERSION:
            found = None if row is None else row[0]
            raise StoreError(f"{self.path}: schema_version is {found}, this Salvo reads {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> IncidentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- incidents ---------------------------------------------------------------------------

    def upsert_incident(self, incident: StoredIncident | Mapping[str, Any], now_ns: int | None = None) -> StoredIncident:
        """Insert an incident or replace the one with the same id (raising its version).

        Parameters
        ----------
        incident : StoredIncident or mapping in the results format
        now_ns : int, optional
            Write time, UTC ns (default: the system clock).

        Returns
        -------
        StoredIncident
            As stored, with its ``version`` and ``updated_ns``.
        """
        inc = incident if isinstance(incident, StoredIncident) else incident_from_dict(incident)
        now = time.time_ns() if now_ns is None else int(now_ns)
        c = inc.centroid()
        wgs = inc.frame == "wgs84"
        err = _nanmean([s.err_m for s in inc.shots])
        try:
            with self._db:
                row = self._db.execute("SELECT version FROM incidents WHERE id=?", (inc.id,)).fetchone()
                version = 1 if row is None else row[0] + 1
                self._db.execute(
                    "INSERT OR REPLACE INTO incidents (id, start_ns, end_ns, class, confidence, n_shots, n_shooters,"
                    " frame, lat, lon, alt_m, x_m, y_m, z_m, err_m, final, version, updated_ns)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        inc.id, inc.start_ns, inc.end_ns, inc.cls, _sql(inc.confidence), inc.n_shots, inc.n_shooters,
                        inc.frame, *(_sql(v) for v in (c if wgs else (NAN, NAN, NAN))),
                        *(_sql(v) for v in ((NAN, NAN, NAN) if wgs else c)), _sql(err), int(inc.final), version, now,
                    ),
                )
                self._db.execute("DELETE FROM shots WHERE incident_id=?", (inc.id,))
                self._db.executemany(
                    "INSERT INTO shots VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (inc.id, i, s.t_ns, _sql(s.lat), _sql(s.lon), _sql(s.alt_m), _sql(s.x_m), _sql(s.y_m),
                         _sql(s.z_m), _sql(s.err_m), s.shooter, json.dumps(list(s.sensors)),
                         json.dumps(list(s.detections)))
                        for i, s in enumerate(inc.shots)
                    ],
                )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot write incident {inc.id}: {exc}") from exc
        return StoredIncident(
            inc.id, inc.start_ns, inc.end_ns, inc.cls, inc.confidence, inc.n_shots, inc.n_shooters, inc.frame,
            inc.shots, inc.final, version, now,
        )

    def get_incident(self, incident_id: str) -> StoredIncident | None:
        """The incident with this id, or None."""
        found = list(self._iter("WHERE i.id = ?", (incident_id,)))
        return found[0] if found else None

    def iter_incidents(
        self, since_ns: int | None = None, until_ns: int | None = None, cls: str | None = None
    ) -> Iterator[StoredIncident]:
        """Incidents whose start lies in [since_ns, until_ns), oldest first, streamed from disk.

        Parameters
        ----------
        since_ns, until_ns : int, optional
            UTC ns bounds on ``start_ns`` (open when None).
        cls : str, optional
            Only incidents of this class (e.g. ``"gunfire"``).
        """
        where, args = [], []
        if since_ns is not None:
            where.append("i.start_ns >= ?")
            args.append(int(since_ns))
        if until_ns is not None:
            where.append("i.start_ns < ?")
            args.append(int(until_ns))
        if cls is not None:
            where.append("i.class = ?")
            args.append(cls)
        return self._iter(("WHERE " + " AND ".join(where)) if where else "", tuple(args))

    def open_incidents(self) -> list[StoredIncident]:
        """Incidents not yet final (what a restarted service resumes)."""
        return list(self._iter("WHERE i.final = 0", ()))

    def count_incidents(self) -> int:
        """Number of incidents stored."""
        return int(self._db.execute("SELECT count(*) FROM incidents").fetchone()[0])

    def _iter(self, where: str, args: tuple) -> Iterator[StoredIncident]:
        cur = self._db.execute(
            "SELECT i.id, i.start_ns, i.end_ns, i.class, i.confidence, i.n_shots, i.n_shooters, i.frame, i.final,"
            " i.version, i.updated_ns, s.t_ns, s.lat, s.lon, s.alt_m, s.x_m, s.y_m, s.z_m, s.err_m, s.shooter,"
            f" s.sensors, s.detections FROM incidents i LEFT JOIN shots s ON s.incident_id = i.id {where}"
            " ORDER BY i.start_ns, i.id, s.idx",
            args,
        )
        head = None
        shots: list[StoredShot] = []
        for row in cur:
            if head is not None and row[0] != head[0]:
                yield _incident(head, shots)
                shots = []
            head = row
            if row[11] is not None:
                shots.append(
                    StoredShot(row[11], *(_py(v) for v in row[12:19]), shooter=row[19],
                               sensors=tuple(json.loads(row[20])), detections=tuple(json.loads(row[21])))
                )
        if head is not None:
            yield _incident(head, shots)

    # -- detections --------------------------------------------------------------------------

    def add_detections(self, detections: list[Detection], received_ns: int) -> list[bool]:
        """Keep accepted detections; one flag per detection, False where (sensor, seq) was already kept.

        All of them are committed before this returns, so the service may acknowledge them.
        """
        new = []
        try:
            with self._db:
                for d in detections:
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO detections VALUES (?,?,?,?,?,?,?,?,?)",
                        (d.sensor_id, d.seq, d.t_ns, _sql(d.sigma_s), _sql(d.snr_db), _sql(d.peak_dbfs),
                         _sql(d.p_gunshot), d.kind, int(received_ns)),
                    )
                    new.append(cur.rowcount == 1)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot write detections: {exc}") from exc
        return new

    def max_seq(self) -> dict[str, int]:
        """Highest detection sequence number kept for each sensor."""
        return dict(self._db.execute("SELECT sensor_id, max(seq) FROM detections GROUP BY sensor_id").fetchall())

    def has_detection(self, sensor_id: str, seq: int) -> bool:
        """Whether (sensor, seq) was already kept."""
        q = "SELECT 1 FROM detections WHERE sensor_id=? AND seq=?"
        return self._db.execute(q, (sensor_id, int(seq))).fetchone() is not None

    def iter_detections(self, received_since_ns: int | None = None) -> Iterator[Detection]:
        """Kept detections (received at or after ``received_since_ns``), in arrival-time order."""
        q = "SELECT sensor_id, t_ns, sigma_s, seq, snr_db, peak_dbfs, p_gunshot, kind FROM detections"
        args: tuple = ()
        if received_since_ns is not None:
            q += " WHERE received_ns >= ?"
            args = (int(received_since_ns),)
        for r in self._db.execute(q + " ORDER BY t_ns, sensor_id, seq", args):
            yield Detection(r[0], r[1], _py(r[2]), r[3], _py(r[4]), _py(r[5]), _py(r[6]), r[7])

    def count_detections(self) -> int:
        """Number of detections kept."""
        return int(self._db.execute("SELECT count(*) FROM detections").fetchone()[0])


def _incident(h: tuple, shots: list[StoredShot]) -> StoredIncident:
    return StoredIncident(
        id=h[0], start_ns=h[1], end_ns=h[2], cls=h[3], confidence=_py(h[4]), n_shots=h[5], n_shooters=h[6],
        frame=h[7], shots=tuple(shots), final=bool(h[8]), version=h[9], updated_ns=h[10],
    )

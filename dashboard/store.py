"""The dashboard's own SQLite store: incidents (imported or from the locator), zones, schools,
partner accounts and the access log.

Aggregations are not done in SQL: the server loads the incident columns once (a
single table scan, sorted by time in numpy) into numpy arrays and
aggregates them vectorised, reloading when the ``revision`` counter (raised in the
same transaction as every write of incidents, zones or schools) moves.  The indexes serve
what SQL *does* do: time-window reads for exports and the live feed
(``incidents_t``), de-duplication on re-import (``UNIQUE(source, ext_id)``), token
look-up by account id and the access log by time.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from salvo.errors import StoreError, where

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id       INTEGER PRIMARY KEY,
    source   TEXT    NOT NULL,
    ext_id   TEXT    NOT NULL,
    t_ns     INTEGER NOT NULL,
    lat      REAL    NOT NULL,
    lon      REAL    NOT NULL,
    rounds   INTEGER NOT NULL,
    kind     TEXT    NOT NULL DEFAULT '',
    address  TEXT    NOT NULL DEFAULT '',
    UNIQUE (source, ext_id)
);
CREATE INDEX IF NOT EXISTS incidents_t ON incidents (t_ns);
-- A counter raised by every write to incidents, zones or schools, so a reader can tell cheaply whether to reload.
CREATE TABLE IF NOT EXISTS revision (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER NOT NULL);
INSERT OR IGNORE INTO revision (id, n) VALUES (0, 0);
CREATE TABLE IF NOT EXISTS zones (
    zone_set TEXT NOT NULL,
    name     TEXT NOT NULL,
    geojson  TEXT NOT NULL,
    PRIMARY KEY (zone_set, name)
);
CREATE TABLE IF NOT EXISTS schools (
    name    TEXT PRIMARY KEY,
    lat     REAL NOT NULL,
    lon     REAL NOT NULL,
    kind    TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS accounts (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    created_ns   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS account_zones (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    zone       TEXT    NOT NULL,
    PRIMARY KEY (account_id, zone)
);
CREATE TABLE IF NOT EXISTS access_log (
    t_ns    INTEGER NOT NULL,
    account TEXT    NOT NULL,
    method  TEXT    NOT NULL,
    path    TEXT    NOT NULL,
    status  INTEGER NOT NULL,
    remote  TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS access_log_t ON access_log (t_ns);
"""


@dataclass(frozen=True)
class IncidentColumns:
    """Every stored incident as columns, ordered by time.

    Attributes
    ----------
    row_id : ndarray of int64, shape (n,)
        Store row ids (for exports).
    t_ns : ndarray of int64, shape (n,)
        UTC nanoseconds since the epoch.
    lat, lon : ndarray of float64, shape (n,)
        WGS84 degrees.
    rounds : ndarray of int32, shape (n,)
        Rounds per incident.
    kind_code : ndarray of int16, shape (n,)
        Index into ``kinds``.
    kinds : tuple of str
        Distinct kind labels.
    """

    row_id: np.ndarray
    t_ns: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    rounds: np.ndarray
    kind_code: np.ndarray
    kinds: tuple[str, ...]

    @property
    def n(self) -> int:
        """Number of incidents."""
        return int(self.t_ns.size)


@dataclass(frozen=True)
class School:
    """A school: name, WGS84 position (degrees), type and address."""

    name: str
    lat: float
    lon: float
    kind: str = ""
    address: str = ""


class DashboardStore:
    """One connection to the dashboard database (SQLite, WAL). Open one per thread.

    Parameters
    ----------
    path : str or Path
        Database file; created with its schema when absent.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(str(self.path), timeout=30.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a power cut may lose the last commits but never corrupts the file.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            # The schema is created once; later connections (one per server thread) skip it.
            if self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'access_log_t'").fetchone() is None:
                self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"{where(self.path)}: cannot open the dashboard store: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> "DashboardStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- incidents -------------------------------------------------------------------------
    def add_incidents(self, source: str, rows: Iterable[tuple], update: bool = False) -> tuple[int, int]:
        """Insert incidents; rows already stored (same source and ext_id) are kept, or updated.

        Parameters
        ----------
        source : str
            Source label (a city table's name, ``"live"``).
        rows : iterable of (ext_id, t_ns, lat, lon, rounds, kind, address)
        update : bool
            Overwrite rows already stored (the locator revises incidents as sensors report).

        Returns
        -------
        (added, already_stored) : (int, int)
        """
        before = self.count()
        verb = (
            "ON CONFLICT (source, ext_id) DO UPDATE SET t_ns=excluded.t_ns, lat=excluded.lat, lon=excluded.lon, "
            "rounds=excluded.rounds, kind=excluded.kind, address=excluded.address"
            if update
            else "ON CONFLICT (source, ext_id) DO NOTHING"
        )
        counter = [0]

        def params():
            for r in rows:
                counter[0] += 1
                yield source, str(r[0]), int(r[1]), float(r[2]), float(r[3]), int(r[4]), str(r[5]), str(r[6])

        with self.db:
            self._bump()
            self.db.executemany(
                "INSERT INTO incidents (source, ext_id, t_ns, lat, lon, rounds, kind, address) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) " + verb,
                params(),
            )
        added = self.count() - before
        return added, counter[0] - added

    def add_incident_arrays(self, source: str, t_ns, lat, lon, rounds, kind: str = "") -> int:
        """Bulk insert from arrays (synthetic data, benchmarks); ext_id is the array index."""
        with self.db:
            self._bump()
            self.db.executemany(
                "INSERT OR IGNORE INTO incidents (source, ext_id, t_ns, lat, lon, rounds, kind) VALUES (?,?,?,?,?,?,?)",
                zip(
                    [source] * len(t_ns),
                    map(str, range(len(t_ns))),
                    map(int, t_ns),
                    map(float, lat),
                    map(float, lon),
                    map(int, rounds),
                    [kind] * len(t_ns),
                ),
            )
        return self.count()

    def count(self) -> int:
        """Number of stored incidents."""
        return int(self.db.execute("SELECT COUNT(*) FROM incidents").fetchone()[0])

    def _bump(self) -> None:
        # Inside the caller's transaction: readers see the new revision with the new rows.
        self.db.execute("UPDATE revision SET n = n + 1")

    def version(self) -> int:
        """A number raised by every write of incidents, zones or schools."""
        return int(self.db.execute("SELECT n FROM revision").fetchone()[0])

    def latest_t_ns(self, source: str) -> int | None:
        """Time of the newest incident of ``source`` (None when it has none)."""
        return self.db.execute("SELECT MAX(t_ns) FROM incidents WHERE source = ?", (source,)).fetchone()[0]

    def load_columns(self) -> IncidentColumns:
        """All incidents as numpy columns, ordered by time (then row id)."""
        kinds = tuple(r[0] for r in self.db.execute("SELECT DISTINCT kind FROM incidents ORDER BY kind"))
        # The kind's code is computed in SQL, so no Python string is made per row.
        case = "0" if len(kinds) <= 1 else "CASE kind " + " ".join("WHEN ? THEN %d" % i for i in range(len(kinds))) + " END"
        cur = self.db.execute(
            f"SELECT id, t_ns, lat, lon, rounds, {case} FROM incidents",
            kinds if len(kinds) > 1 else (),
        )
        rec = np.fromiter(cur, dtype=[("id", "i8"), ("t", "i8"), ("lat", "f8"), ("lon", "f8"), ("r", "i4"), ("k", "i2")])
        # A table scan in row order and a sort here is far faster than ORDER BY t_ns, which
        # would visit the table in index order (one random page read per row).
        rec = rec[np.lexsort((rec["id"], rec["t"]))]
        return IncidentColumns(
            row_id=np.ascontiguousarray(rec["id"]),
            t_ns=np.ascontiguousarray(rec["t"]),
            lat=np.ascontiguousarray(rec["lat"]),
            lon=np.ascontiguousarray(rec["lon"]),
            rounds=np.ascontiguousarray(rec["r"]),
            kind_code=np.ascontiguousarray(rec["k"]),
            kinds=kinds,
        )

    def incident_rows(self, row_ids: Iterable[int]) -> list[dict]:
        """Full records (source, ext_id, address, ...) of the given row ids, in time order."""
        ids = [int(i) for i in row_ids]
        out: list[dict] = []
        for k in range(0, len(ids), 500):
            chunk = ids[k : k + 500]
            marks = ",".join("?" * len(chunk))
            cur = self.db.execute(
                f"SELECT id, source, ext_id, t_ns, lat, lon, rounds, kind, address FROM incidents "
                f"WHERE id IN ({marks})",
                chunk,
            )
            cols = [d[0] for d in cur.description]
            out.extend(dict(zip(cols, r)) for r in cur.fetchall())
        out.sort(key=lambda r: (r["t_ns"], r["id"]))
        return out

    def latest(self, n: int, since_ns: int | None = None) -> list[dict]:
        """The ``n`` most recent incidents (newest first), optionally only after ``since_ns``."""
        q = "SELECT id, source, ext_id, t_ns, lat, lon, rounds, kind, address FROM incidents"
        args: list = []
        if since_ns is not None:
            q += " WHERE t_ns > ?"
            args.append(int(since_ns))
        q += " ORDER BY t_ns DESC LIMIT ?"
        args.append(int(n))
        cur = self.db.execute(q, args)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    # -- zones and schools -------------------------------------------------------------------
    def set_zones(self, zone_set: str, named_geometries: Iterable[tuple[str, str]]) -> int:
        """Replace the zone set ``zone_set`` with (name, GeoJSON geometry text) pairs."""
        with self.db:
            self._bump()
            self.db.execute("DELETE FROM zones WHERE zone_set = ?", (zone_set,))
            self.db.executemany(
                "INSERT INTO zones (zone_set, name, geojson) VALUES (?, ?, ?)",
                [(zone_set, n, g) for n, g in named_geometries],
            )
        return int(self.db.execute("SELECT COUNT(*) FROM zones WHERE zone_set = ?", (zone_set,)).fetchone()[0])

    def zone_sets(self) -> list[str]:
        """Names of the stored zone sets."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT zone_set FROM zones ORDER BY zone_set")]

    def zones(self, zone_set: str) -> list[tuple[str, str]]:
        """(name, GeoJSON geometry text) of every zone in ``zone_set``, by name."""
        return list(self.db.execute("SELECT name, geojson FROM zones WHERE zone_set = ? ORDER BY name", (zone_set,)))

    def set_schools(self, schools: Iterable[School]) -> int:
        """Replace the schools."""
        with self.db:
            self._bump()
            self.db.execute("DELETE FROM schools")
            self.db.executemany(
                "INSERT OR REPLACE INTO schools (name, lat, lon, kind, address) VALUES (?, ?, ?, ?, ?)",
                [(s.name, s.lat, s.lon, s.kind, s.address) for s in schools],
            )
        return int(self.db.execute("SELECT COUNT(*) FROM schools").fetchone()[0])

    def schools(self) -> list[School]:
        """Every school, by name."""
        return [School(*r) for r in self.db.execute("SELECT name, lat, lon, kind, address FROM schools ORDER BY name")]

    # -- access log ------------------------------------------------------------------------
    def log_access(self, account: str, method: str, path: str, status: int, remote: str) -> None:
        """Append one API call to the access log."""
        with self.db:
            self.db.execute(
                "INSERT INTO access_log (t_ns, account, method, path, status, remote) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time_ns(), account, method, path[:500], int(status), remote),
            )

    def access_log(self, limit: int = 100) -> list[tuple]:
        """The latest ``limit`` access-log entries, newest first: (t_ns, account, method, path, status, remote)."""
        return list(self.db.execute("SELECT * FROM access_log ORDER BY t_ns DESC LIMIT ?", (int(limit),)))

"""The node's disk spool: signed frames wait here until the locator acknowledges them.

At-least-once delivery: a detection is written (and committed) to the spool
before any attempt to send it and is deleted only when a valid, signed Ack for
its sequence number comes back.  The sequence counter lives in the same SQLite
file, so sequence numbers keep rising across restarts of the node and the
locator's (sensor, seq) de-duplication never confuses a new detection with an
old one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import threading
from pathlib import Path

from salvo.errors import StoreError
from sensor_node.protocol import Detection, Heartbeat, encode_frame

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY, frame BLOB NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('next_seq', 1);
INSERT OR IGNORE INTO meta VALUES ('dropped', 0);
"""


class Spool:
    """Durable, ordered queue of signed frames for one sensor.

    Parameters
    ----------
    path : str or Path
        SQLite file (created when absent).
    sensor_id : str
    key : bytes
        The sensor's secret key; frames are signed once, at spooling time, so a
        resend is byte-for-byte the original.
    max_frames : int
        Capacity; beyond it the oldest frames are dropped (and counted) so a node
        cut off for weeks keeps its newest detections.

    Notes
    -----
    Thread-safe: the audio loop appends while the uplink thread reads and acks.
    """

    def __init__(self, path: str | Path, sensor_id: str, key: bytes, max_frames: int = 100_000):
        self.path = Path(path)
        self.sensor_id = sensor_id
        self._key = key
        self._max = int(max_frames)
        self._lock = threading.Lock()
        self.changed = threading.Event()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the node's spool: {exc}") from exc

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def _take_seq(self) -> int:
        seq = self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0]
        self._db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (seq + 1,))
        return int(seq)

    def append(self, detection: Detection) -> Detection:
        """Give the detection the next sequence number, sign it and keep it; returns it with its ``seq``."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                det = dataclasses.replace(detection, sensor_id=self.sensor_id, seq=self._take_seq())
                self._db.execute("INSERT INTO spool VALUES (?, ?)", (det.seq, encode_frame(det, self._key)))
                excess = self._db.execute("SELECT count(*) FROM spool").fetchone()[0] - self._max
                if excess > 0:
                    self._db.execute(
                        "DELETE FROM spool WHERE seq IN (SELECT seq FROM spool ORDER BY seq LIMIT ?)", (excess,)
                    )
                    self._db.execute("UPDATE meta SET value = value + ? WHERE key='dropped'", (excess,))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise StoreError(f"{self.path}: cannot spool a detection: {exc}") from exc
        self.changed.set()
        return det

    def heartbeat_frame(self, hb: Heartbeat) -> bytes:
        """Sign a heartbeat with the next sequence number (heartbeats are not spooled: only the latest matters)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            seq = self._take_seq()
            self._db.execute("COMMIT")
        return encode_frame(dataclasses.replace(hb, sensor_id=self.sensor_id, seq=seq), self._key)

    def pending(self, after_seq: int = 0, limit: int = 64) -> list[tuple[int, bytes]]:
        """Up to ``limit`` spooled (seq, frame) with seq > ``after_seq``, oldest first."""
        with self._lock:
            q = "SELECT seq, frame FROM spool WHERE seq > ? ORDER BY seq LIMIT ?"
            return [(int(s), bytes(f)) for s, f in self._db.execute(q, (int(after_seq), int(limit)))]

    def ack(self, seq: int) -> bool:
        """Forget an acknowledged frame; False when it was not (or no longer) spooled."""
        with self._lock:
            return self._db.execute("DELETE FROM spool WHERE seq=?", (int(seq),)).rowcount == 1

    def depth(self) -> int:
        """Frames waiting for an acknowledgement."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])

    def dropped(self) -> int:
        """Frames dropped because the spool was full."""
        with self._lock:
            return int(self._db.execute("SELECT value FROM meta WHERE key='dropped'").fetchone()[0])

"""The locator's TCP ingest: authenticates node frames, de-duplicates, stores, acknowledges.

Each connection is read as length-prefixed frames (``sensor_node.protocol``).
A frame is accepted only when its sensor is known, its HMAC matches that
sensor's key and it is neither a replay nor stamped impossibly far in the
future.  Every rejection is counted under its reason and logged (rate-limited,
never with key material); a connection that sends an oversized length, or too
many bad frames, is closed.  Detections are committed to the store *before* they
are acknowledged, so an Ack means "kept": the node may forget the frame.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from locator.store import IncidentStore
from sensor_node.protocol import (
    LENGTH_PREFIX, MAX_FRAME_BYTES, Ack, Detection, Heartbeat, decode_frame, encode_frame, length_prefixed,
)

log = logging.getLogger("salvo.locator.ingest")
from salvo.utc import NS_PER_S as NS  # ns per s


@dataclass(frozen=True, slots=True)
class Received:
    """A detection accepted by the ingest.

    Attributes
    ----------
    detection : Detection
    received_ns : int
        When it reached the locator on the service's clock, ns.
    wall_ns : int
        The same moment on the system's UTC clock, ns (latency figures).
    """

    detection: Detection
    received_ns: int
    wall_ns: int


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Limits of the ingest (see :class:`locator.service_config.ServiceConfig` for units and defaults)."""

    idle_timeout_s: float = 120.0
    max_bad_frames: int = 20
    max_clock_skew_s: float = 300.0
    max_connections: int = 4096


class Ingest:
    """Connection handler of the node ingest (``asyncio.start_server(ingest.handle, ...)``).

    Parameters
    ----------
    keys : mapping of str to bytes
        Each known sensor's key.
    store : IncidentStore
        Where accepted detections are committed before they are acked.
    limits : IngestLimits
    on_detections : callable
        Called with the list of new :class:`Received` after each commit.
    on_heartbeat : callable
        Called with each accepted :class:`Heartbeat` and its arrival time (ns).
    clock : callable
        UTC now in ns (tests may pass a fake clock).
    """

    def __init__(
        self,
        keys: Mapping[str, bytes],
        store: IncidentStore,
        limits: IngestLimits,
        on_detections: Callable[[list[Received]], None],
        on_heartbeat: Callable[[Heartbeat, int], None],
        clock: Callable[[], int] = time.time_ns,
    ):
        self._keys = keys
        self._store = store
        self._limits = limits
        self._on_detections = on_detections
        self._on_heartbeat = on_heartbeat
        self._clock = clock
        self._last_hb_seq: dict[str, int] = {}
        self.counters: Counter[str] = Counter()
        self.connections = 0
        self._live: dict[asyncio.Task, asyncio.StreamWriter] = {}

    async def close_all(self, timeout_s: float = 2.0) -> None:
        """Close every node connection and wait for their handlers to end (service shutdown)."""
        for w in self._live.values():
            w.close()
        if self._live:
            await asyncio.wait(list(self._live), timeout=timeout_s)

    # -- a connection ------------------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one node connection until it closes, idles out or misbehaves; never raises."""
        peer = _peer(writer)
        if self.connections >= self._limits.max_connections:
            self.counters["connections_refused"] += 1
            writer.close()
            return
        self.connections += 1
        self.counters["connections"] += 1
        task = asyncio.current_task()
        if task is not None:
            self._live[task] = writer
        bad = 0
        buf = bytearray()
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), self._limits.idle_timeout_s)
                except asyncio.TimeoutError:
                    self.counters["idle_closed"] += 1
                    return
                if not chunk:
                    if buf:
                        self._reject("truncated", peer, f"connection closed inside a frame ({len(buf)} bytes)")
                    return
                buf += chunk
                frames, oversized = _split(buf)
                replies = bytearray()
                accepted: list[Detection] = []
                for frame in frames:
                    ok, reply = self._frame(frame, peer, accepted)
                    bad += not ok
                    replies += reply
                    if bad >= self._limits.max_bad_frames:
                        break
                if accepted:
                    replies += self._commit(accepted)
                if replies:
                    writer.write(bytes(replies))
                    await writer.drain()
                if oversized:
                    self._reject("oversized", peer, f"length prefix {oversized} > {MAX_FRAME_BYTES}; closing")
                    return
                if bad >= self._limits.max_bad_frames:
                    self.counters["bad_connections_closed"] += 1
                    log.warning("closing %s after %d rejected frames", peer, bad)
                    return
        except (ConnectionError, OSError):
            self.counters["connection_errors"] += 1
        except Exception:  # the service must outlive any one connection
            self.counters["internal_errors"] += 1
            log.exception("ingest: unexpected error on %s", peer)
        finally:
            self.connections -= 1
            self._live.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            writer.close()

    def _frame(self, frame: bytes, peer: str, accepted: list[Detection]) -> tuple[bool, bytes]:
        """Judge one frame: (accepted?, bytes to send back)."""
        self.counters["frames"] += 1
        out = decode_frame(frame, self._keys, allowed=("det", "hb"))
        if not out.ok:
            self._reject(out.reason, peer, out.detail)
            return False, b""
        msg = out.message
        now = self._clock()
        skew_ns = int(self._limits.max_clock_skew_s * NS)
        if isinstance(msg, Heartbeat):
            if msg.seq <= self._last_hb_seq.get(msg.sensor_id, 0):
                self._reject("replay", peer, f"heartbeat {msg.sensor_id}#{msg.seq} is not newer than the last")
                return False, b""
            if abs(msg.sent_ns - now) > skew_ns:
                self._reject("stale", peer, f"heartbeat {msg.sensor_id}#{msg.seq} stamped {(msg.sent_ns - now) / NS:+.0f} s off")
                return False, b""
            self._last_hb_seq[msg.sensor_id] = msg.seq
            self.counters["heartbeats"] += 1
            self._on_heartbeat(msg, now)
            return True, b""
        if msg.t_ns - now > skew_ns:
            self._reject("stale", peer, f"detection {msg.sensor_id}#{msg.seq} stamped {(msg.t_ns - now) / NS:+.0f} s ahead")
            return False, self._ack(Ack(msg.sensor_id, msg.seq, "rejected"))
        accepted.append(msg)
        return True, b""

    def _commit(self, dets: list[Detection]) -> bytes:
        """Keep the batch in one transaction, then ack each; report the new ones."""
        now = self._clock()
        wall = time.time_ns()
        new = self._store.add_detections(dets, now)
        replies = bytearray()
        fresh = []
        for d, is_new in zip(dets, new):
            if is_new:
                fresh.append(Received(d, now, wall))
                self.counters["detections"] += 1
            else:
                self.counters["duplicates"] += 1
            replies += self._ack(Ack(d.sensor_id, d.seq, "ok" if is_new else "dup"))
        if fresh:
            self._on_detections(fresh)
        return bytes(replies)

    def _ack(self, ack: Ack) -> bytes:
        return length_prefixed(encode_frame(ack, self._keys[ack.sensor_id]))

    def _reject(self, reason: str, peer: str, detail: str) -> None:
        self.counters[f"rejected_{reason}"] += 1
        n = self.counters[f"rejected_{reason}"]
        if n <= 10 or n % 1000 == 0:  # rate-limited: a flood must not fill the disk with logs
            log.warning("rejected frame from %s: %s: %s (%d so far)", peer, reason, detail, n)


def _split(buf: bytearray) -> tuple[list[bytes], int]:
    """Cut the complete frames off the front of ``buf``; second value: an oversized length seen (else 0)."""
    frames = []
    while len(buf) >= LENGTH_PREFIX.size:
        (n,) = LENGTH_PREFIX.unpack_from(buf)
        if n > MAX_FRAME_BYTES:
            return frames, n
        if len(buf) < LENGTH_PREFIX.size + n:
            break
        frames.append(bytes(buf[LENGTH_PREFIX.size : LENGTH_PREFIX.size + n]))
        del buf[: LENGTH_PREFIX.size + n]
    return frames, 0


def _peer(writer: asyncio.StreamWriter) -> str:
    info = writer.get_extra_info("peername")
    return f"{info[0]}:{info[1]}" if isinstance(info, tuple) else str(info)

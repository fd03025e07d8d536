"""The node's uplink: spooled frames to the locator over TCP, in order, until acknowledged.

A background thread connects, resends everything still in the spool from the
oldest frame on, keeps up to ``window`` frames in flight, deletes a frame from
the spool only on a valid Ack signed with this sensor's key, and sends the
latest heartbeat when one is due.  Any failure (refused, reset, silence beyond
``ack_timeout_s``) closes the socket and retries after an exponential backoff
with jitter, so 500 nodes do not reconnect in lock-step after a locator restart.
"""

from __future__ import annotations

import random
import select
import socket
import threading
import time
from dataclasses import dataclass

from sensor_node.protocol import LENGTH_PREFIX, MAX_FRAME_BYTES, Ack, decode_frame, length_prefixed
from sensor_node.spool import Spool


@dataclass(frozen=True, slots=True)
class UplinkConfig:
    """Where and how the node sends.

    Attributes
    ----------
    host : str
        Locator address; default ``127.0.0.1``.
    port : int
        Locator ingest port; default 7700.
    window : int
        Frames in flight before waiting for acks; default 64.
    backoff_min_s, backoff_max_s : float
        Reconnect delay, doubled after each failure between these bounds, s; 0.2 and 10.
    ack_timeout_s : float
        Frames in flight with no ack for this long: the link is presumed dead, s; default 5.
    connect_timeout_s : float
        TCP connect timeout, s; default 3.
    """

    host: str = "127.0.0.1"
    port: int = 7700
    window: int = 64
    backoff_min_s: float = 0.2
    backoff_max_s: float = 10.0
    ack_timeout_s: float = 5.0
    connect_timeout_s: float = 3.0


@dataclass(frozen=True, slots=True)
class UplinkStats:
    """A snapshot of the uplink's counters (``rejected``: frames the locator refused as unusable)."""

    connected: bool
    connects: int
    frames_sent: int
    acks: int
    bad_frames: int
    rejected: int
    last_error: str


class Uplink:
    """Background sender of one node's spool (and heartbeats) to the locator.

    Parameters
    ----------
    spool : Spool
    key : bytes
        This sensor's key, to check the locator's acks.
    config : UplinkConfig
    seed : int, optional
        Seed of the backoff jitter (tests).
    """

    def __init__(self, spool: Spool, key: bytes, config: UplinkConfig, seed: int | None = None):
        self.spool = spool
        self._keys = {spool.sensor_id: key}
        self.config = config
        self._stop = threading.Event()
        self._hb_lock = threading.Lock()
        self._heartbeat: bytes | None = None
        self._thread = threading.Thread(target=self._run, name=f"uplink-{spool.sensor_id}", daemon=True)
        self._rand = random.Random(seed)
        self._connected = False
        self._connects = self._sent = self._acks = self._bad = self._rejected = 0
        self._last_error = ""

    def start(self) -> Uplink:
        """Start the sending thread."""
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (frames not yet acknowledged stay in the spool)."""
        self._stop.set()
        self.spool.changed.set()
        self._thread.join(timeout_s)

    def send_heartbeat(self, frame: bytes) -> None:
        """Queue a signed heartbeat; a newer one replaces one not yet sent."""
        with self._hb_lock:
            self._heartbeat = frame
        self.spool.changed.set()

    def stats(self) -> UplinkStats:
        """Counters so far."""
        return UplinkStats(
            self._connected, self._connects, self._sent, self._acks, self._bad, self._rejected, self._last_error
        )

    def wait_drained(self, timeout_s: float) -> bool:
        """Block until the spool is empty (everything acknowledged) or the timeout passes."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.spool.depth() == 0:
                return True
            time.sleep(0.02)
        return self.spool.depth() == 0

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self.config.backoff_min_s
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.config.host, self.config.port), self.config.connect_timeout_s)
            except OSError as exc:
                self._last_error = f"connect: {exc.strerror or exc}"
                self._stop.wait(backoff * (0.5 + self._rand.random()))
                backoff = min(backoff * 2, self.config.backoff_max_s)
                continue
            self._connects += 1
            self._connected = True
            try:
                with sock:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    if self._session(sock):
                        backoff = self.config.backoff_min_s
            except OSError as exc:
                self._last_error = f"link: {exc.strerror or exc}"
            finally:
                self._connected = False
            if not self._stop.is_set():
                self._stop.wait(backoff * (0.5 + self._rand.random()))
                backoff = min(backoff * 2, self.config.backoff_max_s)

    def _session(self, sock: socket.socket) -> bool:
        """One connection's life; returns True when at least one ack came back (the link worked)."""
        in_flight: set[int] = set()
        last_sent = 0  # resend the whole spool, oldest first, on every new connection
        last_progress = time.monotonic()
        worked = False
        buf = bytearray()
        while not self._stop.is_set():
            room = self.config.window - len(in_flight)
            out = bytearray()
            if room > 0:
                for seq, frame in self.spool.pending(last_sent, room):
                    out += length_prefixed(frame)
                    in_flight.add(seq)
                    last_sent = seq
                    self._sent += 1
            with self._hb_lock:
                hb, self._heartbeat = self._heartbeat, None
            if hb is not None:
                out += length_prefixed(hb)
            if out:
                sock.sendall(out)
            self.spool.changed.clear()
            readable, _, _ = select.select([sock], [], [], 0.01 if in_flight else 0.05)
            if readable:
                chunk = sock.recv(65536)
                if not chunk:
                    self._last_error = "locator closed the connection"
                    return worked
                buf += chunk
                for ack in self._acks_in(buf):
                    in_flight.discard(ack.seq)
                    self.spool.ack(ack.seq)
                    self._acks += 1
                    if ack.status == "rejected":
                        self._rejected += 1
                    last_progress = time.monotonic()
                    worked = True
            elif not in_flight:
                last_progress = time.monotonic()
                self.spool.changed.wait(0.05)
            if in_flight and time.monotonic() - last_progress > self.config.ack_timeout_s:
                self._last_error = "no ack within ack_timeout_s"
                return worked
        return worked

    def _acks_in(self, buf: bytearray) -> list[Ack]:
        acks = []
        while len(buf) >= LENGTH_PREFIX.size:
            (n,) = LENGTH_PREFIX.unpack_from(buf)
            if n > MAX_FRAME_BYTES:
                raise OSError(f"locator sent an oversized frame ({n} bytes)")
            if len(buf) < LENGTH_PREFIX.size + n:
                break
            frame = bytes(buf[LENGTH_PREFIX.size : LENGTH_PREFIX.size + n])
            del buf[: LENGTH_PREFIX.size + n]
            out = decode_frame(frame, self._keys, allowed=("ack",))
            if out.ok:
                acks.append(out.message)
            else:
                self._bad += 1
        return acks

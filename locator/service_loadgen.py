"""Synthetic traffic for the locator service: sensor layouts, shots heard by them, simulated nodes.

Used by the service's tests and by ``benchmarks/bench_live.py`` to drive a real
locator over real loopback sockets without audio: a :class:`SimNode` signs and
sends detections and heartbeats like a node's uplink and records when each ack
comes back.  Arrival times are straight-line travel at ``c`` plus Gaussian
picker noise; this is a load and plumbing model, not an acoustic simulation
(``sim/`` is that).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from locator.service_config import write_keys
from sensor_node.protocol import (
    LENGTH_PREFIX, Ack, Detection, Heartbeat, decode_frame, encode_frame, length_prefixed,
)

from salvo.utc import NS_PER_S as NS  # ns per s


def grid_sensors(n: int, spacing_m: float, rng: np.random.Generator, jitter_m: float = 0.2) -> tuple[list[str], np.ndarray]:
    """``n`` sensors on a square grid ``spacing_m`` apart (positions jittered), ids ``N0001``...

    Returns
    -------
    ids : list of str
    pos_m : ndarray, shape (n, 3)
        Local positions, m (z 3-8 m: poles and roofs).
    """
    side = int(np.ceil(np.sqrt(n)))
    ij = np.array([(i % side, i // side) for i in range(n)], dtype=np.float64)
    xy = ij * spacing_m + rng.uniform(-spacing_m * jitter_m, spacing_m * jitter_m, (n, 2))
    z = rng.uniform(3.0, 8.0, (n, 1))
    return [f"N{i + 1:04d}" for i in range(n)], np.hstack([xy, z])


def write_site(folder: Path, ids: list[str], pos_m: np.ndarray, rng: np.random.Generator) -> dict[str, bytes]:
    """Write ``sensors.csv`` (local frame) and ``keys.txt`` (fresh random keys); returns the keys."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["sensor_id,x_m,y_m,z_m"] + [f"{s},{p[0]:.3f},{p[1]:.3f},{p[2]:.3f}" for s, p in zip(ids, pos_m)]
    (folder / "sensors.csv").write_text("\n".join(lines) + "\n")
    keys = {s: rng.bytes(32) for s in ids}
    write_keys(folder / "keys.txt", keys)
    return keys


def hear_shot(ids: list[str], pos_m: np.ndarray, src_m: np.ndarray, t0_ns: int, rng: np.random.Generator, *,
              c_mps: float = 343.2, range_m: float = 1200.0, sigma_s: float = 1e-4, p_gunshot: float = 0.95,
              miss: float = 0.0) -> list[Detection]:
    """Detections of one shot at every sensor within ``range_m`` (each missed with probability ``miss``)."""
    d = np.linalg.norm(pos_m - np.asarray(src_m, dtype=np.float64), axis=1)
    out = []
    for i in np.flatnonzero(d <= range_m):
        if rng.random() < miss:
            continue
        t = t0_ns + int(round((d[i] / c_mps + rng.normal(0.0, sigma_s)) * NS))
        out.append(Detection(ids[i], t, max(sigma_s, 1e-5), 0, 30.0, -10.0, p_gunshot, "blast"))
    return sorted(out, key=lambda x: x.t_ns)


@dataclass(frozen=True, slots=True)
class SentFrame:
    """A detection a :class:`SimNode` sent: its sequence number and when it left (monotonic ns)."""

    seq: int
    sent_mono_ns: int


class SimNode:
    """A node's uplink over asyncio: sequence numbers, signed frames, ack bookkeeping.

    Parameters
    ----------
    sensor_id : str
    key : bytes
    host, port : str, int
        The locator's ingest.
    """

    def __init__(self, sensor_id: str, key: bytes, host: str, port: int):
        self.sensor_id = sensor_id
        self._key = key
        self._addr = (host, port)
        self._seq = 0
        self.unacked: dict[int, Detection] = {}
        self.acks: dict[str, int] = {"ok": 0, "dup": 0, "rejected": 0}
        self.ack_rtt_ns: list[int] = []
        self._sent_at: dict[int, int] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None

    async def connect(self) -> None:
        """Open the TCP connection and start reading acks."""
        self._reader, self._writer = await asyncio.open_connection(*self._addr)
        self._task = asyncio.create_task(self._read_acks())

    async def close(self) -> None:
        """Close the connection (unacked detections stay in :attr:`unacked`)."""
        if self._writer:
            self._writer.close()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    async def send_detection(self, det: Detection) -> Detection:
        """Number, sign and send one detection; it stays unacked until its ack arrives."""
        det = Detection(self.sensor_id, det.t_ns, det.sigma_s, self._next(), det.snr_db, det.peak_dbfs,
                        det.p_gunshot, det.kind)
        self.unacked[det.seq] = det
        self._sent_at[det.seq] = time.monotonic_ns()
        await self.send_raw(length_prefixed(encode_frame(det, self._key)))
        return det

    async def resend_unacked(self) -> int:
        """Send again, in order, everything not yet acked (after a reconnect); returns how many."""
        for seq in sorted(self.unacked):
            await self.send_raw(length_prefixed(encode_frame(self.unacked[seq], self._key)))
        return len(self.unacked)

    async def send_heartbeat(self, spool_depth: int = 0) -> None:
        """Sign and send a heartbeat stamped now."""
        now = time.time_ns()
        hb = Heartbeat(self.sensor_id, self._next(), now, -62.0, "locked", 3.5, 2e-5, spool_depth, 0,
                       float(self._seq), now)
        await self.send_raw(length_prefixed(encode_frame(hb, self._key)))

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (tests use it for forged frames)."""
        assert self._writer is not None
        self._writer.write(data)
        await self._writer.drain()

    async def _read_acks(self) -> None:
        assert self._reader is not None
        keys = {self.sensor_id: self._key}
        try:
            while True:
                head = await self._reader.readexactly(LENGTH_PREFIX.size)
                (n,) = LENGTH_PREFIX.unpack(head)
                out = decode_frame(await self._reader.readexactly(n), keys, allowed=("ack",))
                if out.ok and isinstance(out.message, Ack):
                    ack = out.message
                    self.acks[ack.status] += 1
                    if self.unacked.pop(ack.seq, None) is not None and ack.seq in self._sent_at:
                        self.ack_rtt_ns.append(time.monotonic_ns() - self._sent_at.pop(ack.seq))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return


class ServiceThread:
    """A :class:`locator.service.LocatorService` running in its own thread and event loop.

    For tests and benchmarks that drive the service with blocking sockets or
    measure it from outside its loop.  Use as a context manager; ``ports`` is
    (ingest, http) once entered.
    """

    def __init__(self, service):
        import threading

        self.service = service
        self.ports: tuple[int, int] = (0, 0)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="locator", daemon=True)

    def _main(self) -> None:
        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self.ports = await self.service.start()
            self._ready.set()
            await self._stop.wait()
            await self.service.stop()

        asyncio.run(run())

    def call(self, fn, timeout_s: float = 10.0):
        """Run ``fn()`` in the service's loop thread and return its result."""
        import concurrent.futures

        assert self._loop is not None
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except Exception as exc:  # handed back to the caller
                fut.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return fut.result(timeout_s)

    def __enter__(self) -> ServiceThread:
        self._thread.start()
        if not self._ready.wait(120):
            raise RuntimeError("locator did not start within 120 s")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

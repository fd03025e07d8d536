"""Where the live service's association searches run: in its own thread, or in worker processes.

A search -- ``locator.associate.associate`` over a pool of detections and the sensors
around them -- is pure Python and numba work that holds the GIL.  In the service's
process it competes with the event loop (sockets, HMAC, SQLite): every system call the
loop makes hands the GIL over and must win it back, and under a city's load the loop's
acks and the searches slow each other down.  With ``processes >= 1`` the searches run in
worker processes (``spawn``: no lock of the service's threads is copied into them), the
service's association thread only waits for their answers, and with two or more workers
the independent searches of one batch (different parts of the city) run side by side.

Each worker gets the whole sensor table once, when it starts, and compiles the
associator's kernels before its first real search; a search then ships only the pool's
detections and the indices of the sensors to weigh.  A worker whose service died
(SIGKILL) notices that its parent changed and exits, so no orphan keeps running (the
kernel's ``PR_SET_PDEATHSIG`` would not do: it fires when the *thread* that started
the worker ends, and kills healthy workers of a live service).
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from sensor_node.protocol import Detection

log = logging.getLogger("salvo.locator")

# State of a worker process (set once by _start_worker).
_IDS: tuple[str, ...] = ()
_POS: np.ndarray | None = None
_CFG = None


class SearchJob(NamedTuple):
    """One search: the sensors it weighs (indices into the runner's ids), its detections, the
    shots already found around them (``locator.associate.Shot``), whose arrival patterns
    later rounds from the same places repeat (a burst cut into searches stays one burst),
    and the other detections those sensors made around the pool's time, which are not
    searched but count towards the chance rates and strengths (``associate``'s ``context``);
    and how far the sensors have been heard, UTC ns (``associate``'s ``horizon_ns``; None:
    the detections are complete)."""

    idx: np.ndarray
    pool: list[Detection]
    prior: tuple[Any, ...] = ()
    context: tuple[Detection, ...] = ()
    horizon_ns: int | None = None


class SearchRunner:
    """Runs association searches for the service.

    Parameters
    ----------
    ids : sequence of str
        Sensor ids, in the service's order.
    pos_m : ndarray, shape (S, 3)
        Local positions, m.
    config : locator.associate.AssociationConfig
    processes : int
        Worker processes; 0 runs every search in the calling thread.
    nice : int
        Added to the workers' nice value: searches that may wait (final solutions) yield
        the CPU to those a dispatcher is waiting for.
    """

    def __init__(self, ids: Sequence[str], pos_m: np.ndarray, config, processes: int = 0, nice: int = 0):
        self._ids = tuple(ids)
        self._nice = int(nice)
        self._pos = np.asarray(pos_m, dtype=np.float64)
        self._cfg = config
        self.processes = int(processes)
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.restarts = 0
        if self.processes > 0:
            self._pool = self._new_pool()
        self.warm_up_shots = self.search([warm_up_job(self._ids, self._pos, config)])[0]
        """The made-up shot the runner located on starting (callers may warm their own code with it)."""

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        pool = concurrent.futures.ProcessPoolExecutor(
            self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
            initargs=(self._ids, self._pos, self._cfg, os.getpid(), self._nice))
        # Start them now and wait until each has compiled: the first alert must not pay for it.
        list(pool.map(_ready, range(self.processes)))
        return pool

    def search(self, jobs: Sequence[SearchJob | tuple]) -> list[list]:
        """Run independent searches; one list of ``locator.associate.Shot`` per job, in order.

        Parameters
        ----------
        jobs : sequence of SearchJob, or of (sensor indices, pool[, prior[, context[, horizon_ns]]])
            tuples
        """
        out: list[list] = [[] for _ in jobs]
        for i, shots in self.search_each(jobs):
            out[i] = shots
        return out

    def search_each(self, jobs: Sequence[SearchJob | tuple]) -> Iterator[tuple[int, list]]:
        """Run independent searches; yields ``(job index, shots)`` as each one ends, so that a
        caller can announce one part of the city without waiting for another."""
        jobs = [SearchJob(*j) for j in jobs]
        if self._pool is None:
            for i, job in enumerate(jobs):
                yield i, _search(self._ids, self._pos, self._cfg, *job)
            return
        left = set(range(len(jobs)))
        try:
            futures = {self._pool.submit(_worker_search, *job): i for i, job in enumerate(jobs)}
            for fut in concurrent.futures.as_completed(futures):
                shots = fut.result()
                left.discard(futures[fut])
                yield futures[fut], shots
        except concurrent.futures.process.BrokenProcessPool:
            # A worker died (killed, out of memory): start new ones and try once more.
            self._restart()
            futures = {self._pool.submit(_worker_search, *jobs[i]): i for i in sorted(left)}
            for fut in concurrent.futures.as_completed(futures):
                yield futures[fut], fut.result()

    def _restart(self) -> None:
        assert self._pool is not None
        log.warning("an association worker process died; starting %d new one(s)", self.processes)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()
        self.restarts += 1

    def submit(self, job: SearchJob | tuple) -> concurrent.futures.Future:
        """Start one search; its future holds the list of shots (already done without workers)."""
        job = SearchJob(*job)
        if self._pool is None:
            fut: concurrent.futures.Future = concurrent.futures.Future()
            fut.set_result(_search(self._ids, self._pos, self._cfg, *job))
            return fut
        try:
            return self._pool.submit(_worker_search, *job)
        except concurrent.futures.process.BrokenProcessPool:
            self._restart()
            return self._pool.submit(_worker_search, *job)

    def close(self) -> None:
        """Stop the worker processes (queued searches are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _search(ids: tuple[str, ...], pos: np.ndarray, cfg, idx: np.ndarray, pool: list[Detection],
            prior: Sequence = (), context: Sequence[Detection] = (), horizon_ns: int | None = None) -> list:
    from locator.associate import SensorTable, associate

    if not pool:
        return []
    table = SensorTable.from_any({ids[i]: pos[i] for i in np.asarray(idx, dtype=np.int64)})
    return associate(pool, table, cfg, prior=prior, context=context, horizon_ns=horizon_ns)


def _start_worker(ids: tuple[str, ...], pos: np.ndarray, cfg, parent_pid: int, nice: int = 0) -> None:
    """Initializer of a worker process: die with the service, keep the table, compile the kernels."""
    global _IDS, _POS, _CFG
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the service's to handle
    threading.Thread(target=_exit_with, args=(parent_pid,), name="watch-parent", daemon=True).start()
    if nice:
        os.nice(nice)
    _IDS, _POS, _CFG = ids, pos, cfg
    _search(ids, pos, cfg, *warm_up_job(ids, pos, cfg))


def _exit_with(parent_pid: int, every_s: float = 0.5) -> None:
    """Exit as soon as the service that started this worker is gone (re-parented orphan)."""
    while os.getppid() == parent_pid:
        time.sleep(every_s)
    os._exit(0)


def _ready(_: int) -> bool:
    return True


def _worker_search(idx: np.ndarray, pool: list[Detection], prior: Sequence = (), context: Sequence = (),
                   horizon_ns: int | None = None) -> list:
    return _search(_IDS, _POS, _CFG, idx, pool, prior, context, horizon_ns)


def warm_up_job(ids: Sequence[str], pos_m: np.ndarray, cfg, radius_m: float = 2000.0
                ) -> tuple[np.ndarray, list[Detection]]:
    """A made-up shot heard by the sensors nearest the array's centre: (sensor indices, pool).

    Locating it once before listening compiles the associator's kernels (and, through a
    worker, imports what its answers need), so that no real alert pays for it.
    """
    pos = np.asarray(pos_m, dtype=np.float64)
    centre = pos.mean(axis=0)
    d = np.linalg.norm(pos - centre, axis=1)
    t0 = 10**18
    near = np.array([i for i in np.argsort(d, kind="stable") if d[i] <= radius_m][:12], dtype=np.int64)
    fake = [Detection(ids[i], t0 + int(d[i] / cfg.c_mps * 1e9), 1e-4, k + 1, kind="blast") for k, i in enumerate(near)]
    return near, fake

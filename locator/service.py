"""The locator service: node ingest, online association, incidents, alerts, store (asyncio).

Flow of one detection::

    TCP frame -> Ingest (auth, de-dup, commit to store, ack)            [event loop]
              -> preliminary search around it: the new detections of a   [association thread,
                 batch split into independent groups by place and time,   searches in a worker
                 each searched over the recent detections gated with it   process]
                 -> shot -> incident -> store -> alert                   [event loop]
              -> final solution: once every sensor in range has had time  [a second worker,
                 to hear the shot, one search over its neighbourhood      lower CPU priority]

A tick every ``step_s`` starts and collects final searches against the wall clock
and closes quiet incidents.  On start the service resumes the open incidents from
the store and re-runs association over the detections received in the last
``replay_window_s``: a locator killed in the middle of a burst loses nothing and
doubles nothing (shots are identified by their detections).  Where the time goes
under load is on /health: ``association_wait_s`` (a batch waiting for the thread),
``association_batch_s`` (its searches) and ``association_busy_s``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from locator.alerts import AlertHub, format_alert
from locator.associate import RATE_HALF_S, REPEAT_MEMORY_S
from locator.service_config import SensorArray, ServiceConfig
from locator.service_incidents import LiveIncidents, LiveShot, live_shot
from locator.service_search import SearchJob, SearchRunner
from locator.store import IncidentStore, StoredIncident
from locator.wire_server import Ingest, IngestLimits, Received
from salvo.errors import StoreError
from sensor_node.protocol import Detection, Heartbeat

log = logging.getLogger("salvo.locator")
#: Most earlier shots a search gets as patterns to repeat (a 30-round burst and a second gun).
MAX_PRIOR = 40
#: Best-connected vertices whose neighbourhoods ``has_triangle`` searches before its exact test.
TRIANGLE_TRIES = 16
from salvo.utc import NS_PER_S as NS  # ns per s


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """The last heartbeat of one node and when it arrived (UTC ns)."""

    heartbeat: Heartbeat
    received_ns: int


class LocatorService:
    """One running locator.

    Parameters
    ----------
    config : ServiceConfig
    sensors : SensorArray
    keys : dict of str to bytes
        Per-sensor keys (never logged).
    clock : callable
        UTC now, ns.
    print_alerts : bool
        Also print each alert line on stdout (``salvo locator`` in a terminal).
    """

    def __init__(self, config: ServiceConfig, sensors: SensorArray, keys: dict[str, bytes],
                 clock=None, print_alerts: bool = False):
        from locator.associate import AssociationConfig, SensorTable
        from locator.service_finalize import FINALIZERS

        self.config = config
        self.sensors = sensors
        self._clock = clock or stream_clock(config)
        self._print = print_alerts
        # One connection, used only in the event-loop thread: the ingest's commits and the
        # incidents' upserts never wait on each other's locks.  Association runs in one worker
        # thread (a heavy solve never delays an ack) and hands its incidents to the loop.
        self.store = IncidentStore(config.store)
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="association")
        self._loop: asyncio.AbstractEventLoop | None = None
        assoc = dict(config.association)
        # Live default: a shot is not heard beyond prelim_radius_m (a sensor farther away
        # that did not hear it is no evidence against it).
        assoc.setdefault("hear_range_m", config.prelim_radius_m)
        assoc.setdefault("max_range_m", config.prelim_radius_m)
        self._assoc_cfg = AssociationConfig(**assoc)
        self._table = SensorTable.from_any(sensors.as_mapping())
        # Where searches run: set by start(), or made on first use (in this thread).
        self._runner: SearchRunner | None = None
        self._final_runner: SearchRunner | None = None  # final solutions' searches
        self.hub = AlertHub(config.alert_buffer)
        from locator.incidents import IncidentConfig

        # One live incident is one group: grouping is done here, labelling by locator.incidents.
        labels = IncidentConfig(gap_s=1e6, radius_m=1e6, c_mps=self._assoc_cfg.c_mps,
                                ground_z_m=None if math.isnan(config.ground_z_m) else config.ground_z_m)
        self._labels = labels
        self.incidents = LiveIncidents(sensors.frame, sensors.frame_name, config.incident_gap_s,
                                       config.incident_radius_m, labels=labels)
        unknown = sorted(set(sensors.ids) - set(keys))
        if unknown:
            log.warning("%d sensors have no key and cannot report: %s", len(unknown), ", ".join(unknown[:10]))
        self.ingest = Ingest(
            keys, self.store,
            IngestLimits(config.idle_timeout_s, config.max_bad_frames, config.max_clock_skew_s, config.max_connections),
            self._on_detections, self._on_heartbeat, self._clock,
        )
        d = np.linalg.norm(sensors.pos_m[:, None, :2] - sensors.pos_m[None, :, :2], axis=-1)
        # Largest arrival-time difference between two sensors for one source: their distance
        # over c, plus the association's gate margin and tolerance (ns); beyond prelim_radius_m,
        # never (a shot is not heard that far).
        a = self._assoc_cfg
        gate_s = d / a.c_mps + a.gate_margin_s + a.tolerance_s
        gate_s[d > config.prelim_radius_m] = -1.0
        self._gate_ns = (gate_s * NS).astype(np.int64)
        self._index = {sid: i for i, sid in enumerate(sensors.ids)}
        self._near_mask = d <= config.locate_margin_m
        self._final_keys: set[str] = set()
        c = self._assoc_cfg.c_mps
        self._prelim_span_ns = int((config.prelim_radius_m / c + self._assoc_cfg.gate_margin_s
                                    + self._assoc_cfg.tolerance_s) * NS)
        # Recent detections of known sensors in arrival order: (key "sensor:seq", detection, t_ns, sensor index).
        self._recent: deque[tuple[str, Detection, int, int]] = deque()
        self._newest_ns = 0
        self._final = FINALIZERS[config.finalizer](self._table, self._assoc_cfg, config.prelim_radius_m,
                                                   self._pool_around, self._submit_final)
        self._received: dict[str, int] = {}
        self._pending: list[Received] = []
        self._wake = asyncio.Event()
        self.nodes: dict[str, NodeHealth] = {}
        self.latencies_s: deque[float] = deque(maxlen=10_000)
        self.final_latencies_s: deque[float] = deque(maxlen=10_000)
        # Shots no preliminary search found and a final search did (``Finalized.found``):
        # from the last detection they use to their alert, s.  They wait for the final
        # search, so they are reported apart from the preliminary alerts' latency.
        self.found_latencies_s: deque[float] = deque(maxlen=10_000)
        # Per batch: how long its first detection waited for the association thread (queue
        # and gathering), and how long the batch's searches took, s.
        self.queue_wait_s: deque[float] = deque(maxlen=10_000)
        self.batch_work_s: deque[float] = deque(maxlen=10_000)
        self.started_ns = self._clock()
        self._started_wall_ns = time.time_ns()
        self._ticks = 0
        self.busy_s: Counter[str] = Counter()  # worker-thread seconds by task (utilisation on /health)
        self._stopping = False
        self._last_cut_ns = 0
        self._progress: dict[str, tuple[int, int]] = {}  # sensor -> (audio time listened to, wall ns of report)
        self._shown: dict[str, tuple] = {}
        self._http = None
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: list[asyncio.Task] = []
        self.ports: tuple[int, int] = (0, 0)

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> tuple[int, int]:
        """Resume from the store, open both servers; returns (ingest port, http port)."""
        from locator.service_http import HttpApi

        self._loop = asyncio.get_running_loop()
        cfg = self.config
        n = cfg.association_processes
        args = (self.sensors.ids, self.sensors.pos_m, self._assoc_cfg)
        if n > 0:
            # First searches in their own workers; final solutions, which wait on purpose, in
            # one more at a lower CPU priority, so that they never hold up a first alert.
            self._runner, self._final_runner = await asyncio.gather(
                self._loop.run_in_executor(None, SearchRunner, *args, n),
                self._loop.run_in_executor(None, SearchRunner, *args, 1, cfg.final_nice))
        else:
            self._runner = self._final_runner = await self._loop.run_in_executor(self._executor, SearchRunner, *args, 0)
        if self._runner.warm_up_shots:  # and the incident labelling, before the first real alert
            from locator.incidents import build_incidents

            await self._loop.run_in_executor(self._executor, build_incidents, self._runner.warm_up_shots, self._labels)
        self._resume()
        ingest = await asyncio.start_server(self.ingest.handle, cfg.listen, cfg.port, limit=2**16)
        self._http = HttpApi(self)
        http = await asyncio.start_server(self._http.handle, cfg.listen, cfg.http_port)
        self._servers = [ingest, http]
        self.ports = (ingest.sockets[0].getsockname()[1], http.sockets[0].getsockname()[1])
        self._started_wall_ns = time.time_ns()  # the restart grace counts from when nodes can reconnect
        self._tasks = [asyncio.create_task(self._worker()), asyncio.create_task(self._ticker())]
        log.info("locator listening: nodes on %s:%d, alerts on http://%s:%d/alerts", cfg.listen, self.ports[0],
                 cfg.listen, self.ports[1])
        return self.ports

    async def stop(self) -> None:
        """Close the servers and stop the background tasks (state is already in the store)."""
        for s in self._servers:
            s.close()
        self.hub.close()
        await self.ingest.close_all()
        if self._http is not None:
            await self._http.close_all()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._stopping = True
        # Queued association work is dropped (detections are in the store; a restart replays them).
        await asyncio.get_running_loop().run_in_executor(None, lambda: self._executor.shutdown(True, cancel_futures=True))
        for runner in {self._runner, self._final_runner} - {None}:
            await asyncio.get_running_loop().run_in_executor(None, runner.close)
        for s in self._servers:
            try:
                await asyncio.wait_for(s.wait_closed(), 1.0)
            except (asyncio.TimeoutError, Exception):
                pass
        self.store.close()

    def _resume(self) -> None:
        now = self._clock()
        since = now - int(self.config.replay_window_s * NS)
        cut = since - int(self.config.incident_gap_s * NS)
        recent = list(self.store.iter_incidents(since_ns=cut))
        self.incidents.resume(recent + [i for i in self.store.open_incidents() if i.start_ns < cut])
        replay = sorted(self.store.iter_detections(received_since_ns=since), key=lambda d: d.t_ns)
        if not replay:
            return
        log.info("resuming: %d open incidents, %d detections to replay", len(self.incidents.open_ids), len(replay))
        # Re-run association over what was received, a few seconds of it at a time.
        for chunk in self._time_slices(replay):
            self._remember(chunk)
            self._final.add(chunk)
            for shots in self._preliminary(chunk):
                self._apply(shots, replayed=True)
        # Finalising waits for the tick after the restart grace: nodes are resending.

    def _allowance_ns(self) -> int:
        return int(self.config.transport_allowance_s * NS)

    # -- ingest callbacks -------------------------------------------------------------------

    def _on_detections(self, batch: list[Received]) -> None:
        self._pending.extend(batch)
        self._wake.set()

    def _on_heartbeat(self, hb: Heartbeat, received_ns: int) -> None:
        self.nodes[hb.sensor_id] = NodeHealth(hb, received_ns)
        if hb.audio_ns > 0:
            self._note_progress(hb.sensor_id, hb.audio_ns)

    def _note_progress(self, sensor_id: str, audio_ns: int) -> None:
        old = self._progress.get(sensor_id)
        if old is None or audio_ns >= old[0]:
            self._progress[sensor_id] = (audio_ns, time.time_ns())
        else:
            self._progress[sensor_id] = (old[0], time.time_ns())

    def cutoff_ns(self, now_ns: int) -> int:
        """Time up to which shots may be finalised: the clock less the transport allowance, and
        no later than the slowest live node has listened (nodes heard from within the heartbeat timeout)."""
        cut = now_ns - self._allowance_ns()
        alive_after = time.time_ns() - int(self.config.heartbeat_timeout_s * NS)
        live = [p for s, (p, wall) in self._progress.items() if wall >= alive_after and s in self.nodes]
        return min([cut] + live)

    # -- association ------------------------------------------------------------------------

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Detections of one shot reach the locator within milliseconds of each other:
            # gather for a moment, so one association serves them all.
            await asyncio.sleep(self.config.batch_s)
            # Everything that arrived meanwhile goes in one batch.
            batch, self._pending = self._pending, []
            await loop.run_in_executor(self._executor, self._guarded, self._process, batch)

    def _guarded(self, fn, *args) -> None:
        """Run association work in the worker thread; a bug in one batch must not stop the service."""
        if self._stopping:
            return
        t = time.perf_counter()
        try:
            fn(*args)
        except Exception:
            self.ingest.counters["internal_errors"] += 1
            log.exception("association failed in %s", getattr(fn, "__name__", fn))
        finally:
            self.busy_s[getattr(fn, "__name__", "?")] += time.perf_counter() - t

    def _process(self, batch: list[Received]) -> None:
        if batch:
            self.queue_wait_s.append((time.time_ns() - min(r.wall_ns for r in batch)) / NS)
        t = time.perf_counter()
        self._process_batch(batch)
        self.batch_work_s.append(time.perf_counter() - t)

    def _process_batch(self, batch: list[Received]) -> None:
        for r in batch:
            d = r.detection
            if d.sensor_id in self._progress and d.t_ns > self._progress[d.sensor_id][0]:
                self._note_progress(d.sensor_id, d.t_ns)
            self._received[f"{d.sensor_id}:{d.seq}"] = r.wall_ns
        dets = [r.detection for r in batch]
        self._remember(dets)
        self._final.add(dets)
        # A backlog (nodes resending a spool, a detector that fell behind) is searched a
        # few seconds of sound at a time, earliest first: each search stays the size of one
        # wavefront's neighbourhood, and the shots found first explain later arrivals.
        for chunk in self._time_slices(sorted(dets, key=lambda d: d.t_ns)):
            for shots in self._preliminary(chunk):
                self._apply(shots)

    def _time_slices(self, dets: list[Detection]) -> Iterator[list[Detection]]:
        """Time-sorted detections cut into slices no longer than the widest gate (``prelim_radius_m`` / c)."""
        i = 0
        while i < len(dets):
            j = i
            while j < len(dets) and dets[j].t_ns < dets[i].t_ns + self._prelim_span_ns:
                j += 1
            yield dets[i:j]
            i = j

    def _unexplained(self, new: list[Detection]) -> list[Detection]:
        """The new detections that no preliminary shot already predicts.

        A later arrival of a shot already located (within the association's tolerance of
        the time it predicts at that sensor) needs no new search: the shot's final solution
        will include it.  This keeps a wavefront crossing thirty sensors to one or two
        searches instead of one per arrival.
        """
        open_shots = self.incidents.unconfirmed()
        if not open_shots or not new:
            return new
        t0 = np.array([s.t0_ns for s in open_shots], dtype=np.int64)
        src = np.array([s.pos_m for s in open_shots])
        idx = np.array([self._index[d.sensor_id] for d in new])
        dist = np.linalg.norm(self.sensors.pos_m[idx][:, None, :] - src[None, :, :], axis=2)
        pred = t0[None, :] + (dist / self._assoc_cfg.c_mps * NS).astype(np.int64)
        t = np.array([d.t_ns for d in new], dtype=np.int64)
        near = (np.abs(t[:, None] - pred) <= int(self._assoc_cfg.tolerance_s * NS)) & (dist <= self.config.prelim_radius_m)
        return [d for d, hit in zip(new, near.any(axis=1)) if not hit]

    def _search(self, jobs: list[SearchJob]) -> list[list]:
        if self._runner is None:  # used without start() (tests, tools): search in this thread
            self._runner = self._final_runner = SearchRunner(self.sensors.ids, self.sensors.pos_m, self._assoc_cfg, 0)
        return self._runner.search(jobs)

    def _submit_final(self, pool: list[Detection], cut_ns: int) -> concurrent.futures.Future:
        """Start the search of a final solution (collected by the finaliser at a later tick);
        ``cut_ns``: the watermark, up to which every live node has been heard."""
        if self._final_runner is None:
            self._search([])
        assert self._final_runner is not None
        return self._final_runner.submit(self._jobs([pool], cut_ns)[0])

    def _jobs(self, pools: list[list[Detection]], horizon_ns: int | None) -> list[SearchJob]:
        """Each pool with the sensors its search weighs: those that reported in it and their
        neighbours within ``locate_margin_m`` (whose silence is evidence); a city-wide table
        would make every search weigh a thousand sensors that could not have heard the shot.
        And the final shots around it that use none of its detections, fired from
        ``REPEAT_MEMORY_S`` before its first detection to its last: a round from one of their
        places repeats its arrival pattern, so a burst cut into searches is still found round
        by round.  Preliminary shots are left out: a search over part of a wavefront can make
        up an alias, and as a pattern it would find copies of itself.  And the detections
        around the pool that it leaves out (:meth:`_context`).  ``horizon_ns``: how far the
        sensors have been heard (UTC ns): a rate window reaching past it counts only what
        came before (``locator.associate.associate``; None: whole windows)."""
        jobs = []
        for pool in pools:
            used = np.array(sorted({self._index[d.sensor_id] for d in pool}), dtype=np.int64)
            idx = np.flatnonzero(self._near_mask[used].any(axis=0))
            keys = {f"{d.sensor_id}:{d.seq}" for d in pool}
            last = max(d.t_ns for d in pool) if pool else 0
            mine = set(self.sensors.ids[i] for i in idx)
            prior = [s.source for s in self.incidents.recent(min(d.t_ns for d in pool) - int(REPEAT_MEMORY_S * NS))
                     if pool and s.final and s.source is not None and s.t0_ns <= last and not s.keys & keys
                     and mine.intersection(s.sensors)]
            prior.sort(key=lambda q: q.t0_ns)
            jobs.append(SearchJob(idx, pool, tuple(prior[-MAX_PRIOR:]), self._context(idx, pool, keys), horizon_ns))
        return jobs

    def _context(self, idx: np.ndarray, pool: list[Detection], keys: set[str]) -> tuple[Detection, ...]:
        """The other recent detections of the sensors ``idx`` within ``RATE_HALF_S`` of the pool:
        those of final shots, those preliminary shots claim, and those beyond the pool's gates.

        A search sees only its pool, but a sensor heard all of these: they set its chance rate,
        and a blast whose shot is already final still casts its shadow (``strength_db``) on
        the echoes after it.  Without them, the echoes of a burst's final rounds, left alone
        in a later search's pool, line up into shots tens of metres from the gun.
        """
        if not pool:
            return ()
        weigh = np.zeros(len(self.sensors.ids), dtype=bool)
        weigh[idx] = True
        half = int(RATE_HALF_S * NS)
        lo, hi = min(d.t_ns for d in pool) - half, max(d.t_ns for d in pool) + half
        return tuple(d for k, d, t, s in self._recent if lo <= t <= hi and weigh[s] and k not in keys)

    def _pool_around(self, dets: list[Detection]) -> list[Detection]:
        """Recent detections, not in a final shot, that could share a source with any of ``dets``.

        Every arrival of a shot heard at sensor ``s`` is at most ``d/c`` (plus the gate
        margin) away in time from ``s``'s, ``d`` being the distance between the sensors.
        """
        dets = [d for d in dets if d.sensor_id in self._index]
        if not dets:
            return []
        cand, ok = self._gated_candidates(dets, frozenset())
        if len(cand) < self._assoc_cfg.min_sensors:
            return []
        return [d for d, keep in zip(cand, ok.any(axis=1)) if keep]

    def _remember(self, dets: list[Detection]) -> None:
        for d in dets:
            if (s := self._index.get(d.sensor_id)) is not None:
                self._recent.append((f"{d.sensor_id}:{d.seq}", d, d.t_ns, s))
                self._newest_ns = max(self._newest_ns, d.t_ns)

    def _gated_candidates(self, dets: list[Detection], claimed: frozenset[str] | set[str]
                          ) -> tuple[list[Detection], np.ndarray]:
        """Recent detections, neither in a final shot nor ``claimed``, within the largest gate
        of ``dets`` in time; and (len(cand), len(dets)) bool: which could be arrivals of one
        source with which."""
        t_n = np.fromiter((d.t_ns for d in dets), np.int64, len(dets))
        s_n = np.fromiter((self._index[d.sensor_id] for d in dets), np.int64, len(dets))
        lo, hi = int(t_n.min()) - self._prelim_span_ns, int(t_n.max()) + self._prelim_span_ns
        final = self._final_keys
        near = [(d, t, s) for k, d, t, s in self._recent if lo <= t <= hi and k not in final and k not in claimed]
        t_c = np.fromiter((t for _, t, _ in near), np.int64, len(near))
        s_c = np.fromiter((s for _, _, s in near), np.int64, len(near))
        return [d for d, _, _ in near], self._gate(t_c, s_c, t_n, s_n)

    def _gate(self, t_a: np.ndarray, s_a: np.ndarray, t_b: np.ndarray, s_b: np.ndarray) -> np.ndarray:
        """(len(a), len(b)) bool: detections (times ns, sensor indices) that could be arrivals of one source."""
        return np.abs(t_a[:, None] - t_b[None, :]) <= self._gate_ns[np.ix_(s_a, s_b)]

    def _partition(self, new: list[Detection]) -> list[tuple[list[Detection], list[Detection]]]:
        """Searches for the new detections: ``(new detections, pool)`` per group.

        New detections that could be arrivals of one source (pairwise within the gate,
        chained) form a group, searched over the recent detections gated with any of them;
        a burst across the city is then many small searches, each over the few dozen
        detections and sensors around one place, instead of one search whose cost grows
        with everything in flight.
        The pool leaves out detections a preliminary shot already claims: a search for a
        later round must not find the earlier ones again (their final solutions will
        settle any wrong claim).  Groups that cannot hold a shot
        (:meth:`_could_hold_shot`) are dropped.
        """
        claimed = set().union(*(s.keys for s in self.incidents.unconfirmed()))
        cand, ok = self._gated_candidates(new, claimed)
        if len(cand) < self._assoc_cfg.min_sensors:
            return []
        # New detections that could be arrivals of one source search together.  (Linking those
        # whose pools merely overlap percolates in a busy city: the door slams and shots of a
        # backlog chain up into one search across town, slower than real time, and the backlog
        # grows.  Pools of different groups may share detections; a shot found twice is one.)
        t_n = np.fromiter((d.t_ns for d in new), np.int64, len(new))
        s_n = np.fromiter((self._index[d.sensor_id] for d in new), np.int64, len(new))
        share = self._gate(t_n, s_n, t_n, s_n)
        label = np.full(len(new), -1)
        for i in range(len(new)):
            if label[i] >= 0:
                continue
            label[i] = i
            todo = [i]
            while todo:
                for j in np.flatnonzero(share[todo.pop()] & (label < 0)):
                    label[j] = i
                    todo.append(j)
        out = []
        for g in np.unique(label):
            mine = np.flatnonzero(label == g)
            pool = [cand[i] for i in np.flatnonzero(ok[:, mine].any(axis=1))]
            group = [new[i] for i in mine]
            if self._could_hold_shot(group, pool):
                out.append((group, pool))
        return out

    def _could_hold_shot(self, new: list[Detection], pool: list[Detection]) -> bool:
        """Whether ``pool`` can hold a shot that uses one of ``new`` (a necessary condition).

        The arrivals of one shot at ``k`` sensors are pairwise within the gate (|t_i - t_j|
        <= d_ij/c + 2 tolerance, and the gate is wider), so a shot with ``min_sensors``
        arrivals, one of them new detection ``n``, needs ``min_sensors - 1`` detections at
        other, distinct sensors that are gated with ``n`` and with one another: a clique.
        The first arrivals of a wavefront and a lone door slam amid the city's other
        impulses rarely have one; their searches, which could only fail, are skipped.
        Tested without listing cliques: the neighbours must keep a (m-1)-core (each of m
        vertices needs m-1 neighbours) and, for m >= 3, a triangle in it.
        """
        k = self._assoc_cfg.min_sensors
        if len({d.sensor_id for d in pool}) < k:
            return False
        m = k - 1
        if m <= 0:
            return True
        s = np.fromiter((self._index[d.sensor_id] for d in pool), np.int64, len(pool))
        t = np.fromiter((d.t_ns for d in pool), np.int64, len(pool))
        where = {(d.sensor_id, d.seq): i for i, d in enumerate(pool)}
        for d in new:
            i = where.get((d.sensor_id, d.seq))
            if i is None:
                continue
            # Only the new detection's neighbours are gated with one another: a burst's pool
            # holds hundreds of detections, and the whole pool's gate would be its square.
            nb = np.flatnonzero(self._gate(t[i : i + 1], s[i : i + 1], t, s)[0] & (s != s[i]))
            if nb.size < m:
                continue
            sub = self._gate(t[nb], s[nb], t[nb], s[nb]) & (s[nb][:, None] != s[nb][None, :])
            deg = sub.sum(axis=1)
            alive = np.ones(nb.size, dtype=bool)
            while True:  # peel vertices with too few neighbours left
                drop = alive & (deg < m - 1)
                if not drop.any():
                    break
                alive &= ~drop
                deg -= sub[:, drop].sum(axis=1)
            if alive.sum() < m:
                continue
            if m < 3 or has_triangle(sub[np.ix_(alive, alive)]):
                return True
        return False

    def _preliminary(self, new: list[Detection]) -> Iterator[list[LiveShot]]:
        """Locate what the new detections can already tell: shots that use at least one of them.

        One search per independent group of new detections (:meth:`_partition`), each over
        the few dozen detections that could belong to the same shots, whatever is going on
        elsewhere in the city; yields each group's shots as its search ends.
        """
        new = [d for d in new if d.sensor_id in self._index and d.kind not in self._assoc_cfg.exclude_kinds]
        new = self._unexplained(new)
        if not new:
            return
        # Keep what a shot not yet final may still need: the watermark can lag behind, and
        # under load the final searches wait (new detections are searched first), so a
        # preliminary shot's final search may come long after its detections; without them
        # in its pool it would find nothing and the shot would be withdrawn.
        newest = min(self._newest_ns, self._last_cut_ns or 2**62)
        keep_from = newest - 2 * self._prelim_span_ns
        waiting = self.incidents.unconfirmed()
        if waiting:
            keep_from = min(keep_from, min(s.t0_ns for s in waiting) - self._prelim_span_ns)
        while self._recent and self._recent[0][2] < keep_from:
            self._recent.popleft()
        groups = self._partition(new)
        if not groups:
            return
        if self._runner is None:
            self._search([])
        assert self._runner is not None
        # First searches weigh whole rate windows, as offline (no horizon): they weigh the newest
        # arrivals, whose windows are half heard, and counted over that half a sensor's false
        # impulses of the last seconds would count double and some shots wait for their final search.
        for i, shots in self._runner.search_each(self._jobs([pool for _, pool in groups], None)):
            new_keys = {f"{d.sensor_id}:{d.seq}" for d in groups[i][0]}
            yield [s for s in map(lambda s: live_shot(s, False), shots) if s.keys & new_keys]

    def _apply(self, shots: list[LiveShot], replayed: bool = False, finalising: bool = False,
               found: bool = False) -> None:
        """Fold shots into incidents; store and announce every incident that changed.

        ``finalising``: the shots are final solutions; ``found``: preliminary shots that only a
        final search found.  Both waited for the final search, so their delays go to
        ``final_latencies_s`` and ``found_latencies_s``, not to the alert latency.
        """
        wall = time.time_ns()
        late = self.final_latencies_s if finalising else self.found_latencies_s if found else None
        changed: dict[str, float] = {}
        for shot in sorted(shots, key=lambda s: (not s.final, s.t0_ns)):
            if shot.final:
                self._final_keys.update(shot.keys)
            inc_id, new_solution, vacated, left = self.incidents.add(shot)
            if vacated is not None:
                self._emit(vacated, math.nan, closing=True)
                changed.pop(vacated.id, None)
            if left is not None:
                changed.setdefault(left, math.nan)  # it lost a shot: its alert is brought up to date
            if inc_id is None:
                continue
            got = [self._received[k] for k in shot.keys if k in self._received]
            # Latency is measured for alerts that carry a new solution, from the arrival of
            # the last detection that solution used (not for a mere "now final" confirmation).
            lat = (wall - max(got)) / NS if got and new_solution and not replayed else math.nan
            if late is not None:
                # A final search waits on purpose for every sensor in range: what it solves is
                # reported apart (final_latency_s, found_latency_s), not as the alert latency.
                if got and not replayed:
                    late.append((wall - max(got)) / NS)
                    if found:
                        self.ingest.counters["shots_found_late"] += 1
                lat = math.nan
            changed[inc_id] = lat if math.isnan(changed.get(inc_id, math.nan)) else max(lat, changed[inc_id])
        for inc_id, lat in changed.items():
            self._emit(self.incidents.snapshot(inc_id), lat, closing=False)

    def _emit(self, incident: StoredIncident, latency_s: float, closing: bool) -> None:
        """Hand an incident to the event loop to be stored and, if a dispatcher would see a change, announced."""
        loop = self._loop
        if loop is not None and loop.is_running() and not _in_loop(loop):
            loop.call_soon_threadsafe(self._commit, incident, latency_s, closing)
        else:
            self._commit(incident, latency_s, closing)

    def _commit(self, incident: StoredIncident, latency_s: float, closing: bool) -> None:
        try:
            stored = self.store.upsert_incident(incident, now_ns=self._clock())
        except StoreError:
            self.ingest.counters["store_errors"] += 1
            log.exception("cannot store incident %s", incident.id)
            return
        wall = time.time_ns()
        shown = stored.id in self._shown
        if closing:
            if shown or stored.cls != "retracted":
                self._publish("final", stored, math.nan, wall)
        elif not shown or self._visible(stored) != self._shown[stored.id]:
            # A dispatcher hears of what they can see change, not of every internal confirmation.
            self._publish("update" if shown else "preliminary", stored, latency_s, wall)

    @staticmethod
    def _visible(inc) -> tuple:  # noqa: D401
        """What an alert shows: counts, class, sensors, and positions to the metre."""
        where = tuple((round(s.lat, 5), round(s.lon, 5)) if inc.frame == "wgs84" else (round(s.x_m), round(s.y_m))
                      for s in inc.shots)
        return (inc.n_shots, inc.n_shooters, inc.cls, frozenset(x for s in inc.shots for x in s.sensors), where)

    def _publish(self, status: str, stored, latency_s: float, now: int) -> None:
        """Announce an alert (event-loop thread)."""
        if status == "final":
            self._shown.pop(stored.id, None)
        else:
            self._shown[stored.id] = self._visible(stored)
        alert = self.hub.publish(status, stored, latency_s, now)
        self.ingest.counters[f"alerts_{status}"] += 1
        if not math.isnan(latency_s):
            self.latencies_s.append(latency_s)
        if self._print:
            print(format_alert(alert.to_dict()), flush=True)

    async def _ticker(self) -> None:
        step = self.config.step_s
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(step)
            await loop.run_in_executor(self._executor, self._guarded, self.tick)

    def _finalize(self, now: int, replayed: bool = False) -> int:
        """Make due shots final (and withdraw what no final solution confirms); returns the cutoff used."""
        cut = self.cutoff_ns(now)
        self._last_cut_ns = cut
        finals, withdrawn, found = self._final.finalize(cut, self.incidents.unconfirmed(),
                                                        yield_to=lambda: bool(self._pending))
        for shot in withdrawn:
            inc_id, retracted = self.incidents.withdraw(shot)
            if inc_id is None:
                continue
            if retracted is not None:
                self._emit(retracted, math.nan, closing=True)
            else:
                self._emit(self.incidents.snapshot(inc_id), math.nan, closing=False)
        if finals:
            self._apply([live_shot(s, True) for s in finals], replayed=replayed, finalising=True)
        if found:  # preliminary, each to be confirmed by a final search of its own
            self._apply([live_shot(s, False) for s in found], replayed=replayed, found=True)
        return cut

    def tick(self, now_ns: int | None = None) -> None:
        """Finalise shots and close incidents as of ``now_ns`` (default: the clock)."""
        now = self._clock() if now_ns is None else now_ns
        if time.time_ns() - self._started_wall_ns < int(self.config.restart_grace_s * NS):
            return  # nodes may still be resending what they spooled while we were down
        cut = self._finalize(now)
        for inc_id in self.incidents.due(cut, hold=self._final.holding):
            self._emit(self.incidents.close(inc_id), math.nan, closing=True)
        # Arrival times are needed only while a shot can still change.
        horizon = time.time_ns() - int((self.config.incident_gap_s * 4 + 60) * NS)
        self._ticks += 1
        if len(self._received) > 100_000 or self._ticks % 100 == 0:
            self._received = {k: v for k, v in self._received.items() if v >= horizon}
            self._final_keys &= self._received.keys()
            self.incidents.forget_before(now - int((self.config.replay_window_s + 4 * self.config.incident_gap_s) * NS))

    # -- health -----------------------------------------------------------------------------

    def health(self) -> dict:
        """Counters and node states for /health (JSON-ready)."""
        wall = time.time_ns()
        online = sorted(s for s, (_, w) in self._progress.items()
                        if s in self.nodes and wall - w <= self.config.heartbeat_timeout_s * NS)

        return {
            "status": "ok",
            "uptime_s": round((time.time_ns() - self._started_wall_ns) / NS, 3),
            "sensors_configured": len(self.sensors.ids),
            "nodes_online": len(online),
            "nodes_silent": sorted(set(self.sensors.ids) - set(online)),
            "connections": self.ingest.connections,
            "open_incidents": len(self.incidents.open_ids),
            "queued_detections": len(self._pending),
            "pending_shots": self._final.pending if self._final.name == "local" else 0,
            "pending_detections": self._final.pending if self._final.name == "online" else 0,
            "alerts_published": self.hub.published,
            "subscribers": self.hub.subscribers,
            "alert_latency_s": _quantiles(self.latencies_s),
            "final_latency_s": _quantiles(self.final_latencies_s),
            "found_latency_s": _quantiles(self.found_latencies_s),
            "association_busy_s": {k: round(v, 3) for k, v in self.busy_s.items()},
            "association_wait_s": _quantiles(self.queue_wait_s),
            "association_batch_s": _quantiles(self.batch_work_s),
            "association_worker_restarts": sum(r.restarts for r in {self._runner, self._final_runner} - {None}),
            "counters": dict(sorted(self.ingest.counters.items())),
        }

    def node_table(self) -> list[dict]:
        """Per-node health from the last heartbeats (JSON-ready)."""
        now = self._clock()
        rows = []
        for sid in self.sensors.ids:
            h = self.nodes.get(sid)
            if h is None:
                rows.append({"sensor_id": sid, "seen": False})
                continue
            hb = h.heartbeat
            rows.append({
                "sensor_id": sid, "seen": True, "age_s": round((now - h.received_ns) / NS, 3),
                "noise_floor_dbfs": _r(hb.noise_floor_dbfs), "clock_state": hb.clock_state,
                "clock_drift_ppm": _r(hb.clock_drift_ppm), "clock_jitter_s": _r(hb.clock_jitter_s),
                "spool_depth": hb.spool_depth, "dropped_blocks": hb.dropped_blocks, "uptime_s": _r(hb.uptime_s),
            })
        return rows


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def stream_clock(config: ServiceConfig):
    """The service's clock: UTC, or UTC sped up ``clock_speed`` times from ``clock_epoch_utc`` (demo replay)."""
    if config.clock_speed == 1.0:
        return time.time_ns
    from salvo.utc import parse_utc_ns

    epoch = parse_utc_ns(config.clock_epoch_utc, "clock_epoch_utc")
    speed = config.clock_speed

    def now() -> int:
        return epoch + int((time.time_ns() - epoch) * speed)

    return now


def has_triangle(adj: np.ndarray) -> bool:
    """Whether the graph of the symmetric boolean adjacency ``adj`` (n, n) has a triangle.

    A busy pool's graph is dense and a triangle lies among the neighbours of almost any
    well-connected vertex: those of the best-connected few are tried first (each costs its
    degree squared); only then the exact test over every edge, ``(A @ A) * A`` in float32
    (BLAS; an integer product is not), whose cost is n cubed.
    """
    order = np.argsort(-adj.sum(axis=1), kind="stable")
    for v in order[:TRIANGLE_TRIES]:
        nb = np.flatnonzero(adj[v])
        if nb.size >= 2 and adj[np.ix_(nb, nb)].any():
            return True
    a = adj.astype(np.float32)
    return bool(((a @ a) * a).any())


def _quantiles(values) -> dict[str, float | None]:
    """p50/p95/p99 of recent values, s (None before there are any)."""
    a = np.array(values, dtype=np.float64)
    return {q: (round(float(np.percentile(a, p)), 6) if a.size else None) for q, p in (("p50", 50), ("p95", 95), ("p99", 99))}


def _r(v: float) -> float | None:
    v = float(v)
    return None if math.isnan(v) else round(v, 6)


async def serve(config: ServiceConfig, sensors: SensorArray, keys: dict[str, bytes],
                stop: asyncio.Event | None = None, ready=None, print_alerts: bool = False) -> None:
    """Run a locator until ``stop`` is set (or forever); ``ready(ports)`` is called once listening."""
    svc = LocatorService(config, sensors, keys, print_alerts=print_alerts)
    ports = await svc.start()
    if ready:
        ready(ports)
    try:
        await (stop.wait() if stop else asyncio.Event().wait())
    finally:
        await svc.stop()

"""When a live shot is final, and its final solution: two finalisers behind a small registry.

``local`` (default)
    A shot located preliminarily is final once every sensor within ``prelim_radius_m``
    of it has had time to hear it (its emission time, the longest such travel time,
    the association's tolerance and gate margin) *and* the watermark -- how far every
    live node has listened -- has passed that moment.  Its final solution is one
    association over the detections gated around it.  The cost is one small search per
    shot, whatever the size of the city: this is what lets one locator serve 1,000
    nodes.
``online``
    ``locator.associate.OnlineAssociator`` fed in time order up to the watermark: the
    same association as ``salvo analyze``, but each step searches everything the
    associator holds -- the whole array's last crossing time of detections -- so its
    cost grows with the city.  Good for a few dozen sensors.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import NamedTuple

import numpy as np

from sensor_node.protocol import Detection

from salvo.utc import NS_PER_S as NS  # ns per s

log = logging.getLogger("salvo.locator")


class Finalized(NamedTuple):
    """What one call of a finaliser's ``finalize`` settled.

    Attributes
    ----------
    final : list of locator.associate.Shot
        Final solutions, each overlapping a due preliminary shot.
    withdrawn : list of LiveShot
        Due preliminary shots that no final solution reproduces.
    found : list of locator.associate.Shot
        Shots a final search found beside the one it was for, using no detection of a
        preliminary shot that keeps its claim (one no final shot of the same call replaces):
        candidates no first search proposed (their arrivals went to aliases since replaced).  The service takes them as preliminary shots, so that
        each gets a final search of its own neighbourhood.
    """

    final: list
    withdrawn: list
    found: list


class LocalFinalizer:
    """Finalise preliminary shots one by one, each with a search of its own neighbourhood.

    Parameters
    ----------
    table : locator.associate.SensorTable
    config : locator.associate.AssociationConfig
    radius_m : float
        Farthest a shot is heard, m.
    pool_around : callable
        ``pool_around(detections) -> list[Detection]``: the recent detections that could
        share a source with any of these (the service's gated pool).
    submit : callable
        ``submit(pool, cut_ns) -> Future`` of ``list[Shot]``: association over the sensors
        around the pool, possibly in another process, with the detections known up to the
        watermark ``cut_ns``.  Final solutions wait on purpose, so their
        searches are started at one tick and collected at a later one, and the service's
        association thread is free meanwhile for the first searches of new shots.
    """

    name = "local"

    def __init__(self, table, config, radius_m: float, pool_around: Callable[[list[Detection]], list[Detection]],
                 submit: Callable[[list[Detection]], Future]):
        self._table = table
        self._submit = submit
        self._inflight: dict = {}  # preliminary LiveShot -> Future of its search
        self.holding: frozenset[str] = frozenset()
        self._cfg = config
        self._radius_m = float(radius_m)
        self._pool_around = pool_around
        self.waiting = 0

    @property
    def pending(self) -> int:
        """Preliminary shots waiting to be final (searches in flight included)."""
        return self.waiting

    def add(self, detections: list[Detection]) -> None:
        """Nothing to hold: the service's recent window is the pool."""

    def final_by_ns(self, shot) -> int:
        """When no sensor that could hear ``shot`` can still report it, UTC ns."""
        d = np.linalg.norm(self._table.pos_m - np.asarray(shot.pos_m), axis=1)
        reach = float(d[d <= self._radius_m].max(initial=0.0))
        return shot.t0_ns + int((reach / self._cfg.c_mps + self._cfg.tolerance_s + self._cfg.gate_margin_s) * NS)

    def finalize(self, cut_ns: int, unconfirmed: list, yield_to: Callable[[], bool] | None = None) -> Finalized:
        """Final solutions of the preliminary shots due by ``cut_ns``.

        Parameters
        ----------
        cut_ns : int
            Watermark, UTC ns.
        unconfirmed : list of LiveShot
            The preliminary shots.
        yield_to : callable, optional
            Asked after each search started: when it returns True, the shots not yet started
            are left for the next call (new detections are waiting for their first alert, which is
            more urgent than a final solution).

        Returns
        -------
        Finalized
        """
        due = [s for s in unconfirmed if s.source is not None and self.final_by_ns(s) <= cut_ns]
        covered: set[str] = set()  # detections of final shots already found (searches done at once)
        waiting = []
        started = False
        for prelim in sorted(due, key=lambda s: s.t0_ns):
            # (a shot found already holds this one's detections; sharing a few is two guns)
            if prelim in self._inflight or _mostly(prelim.keys, covered):
                continue
            if started and yield_to is not None and yield_to():
                waiting = [p for p in due if p not in self._inflight and not _mostly(p.keys, covered)]
                break
            started = True
            pool = self._pool_around(list(prelim.source.detections))
            fut = self._inflight[prelim] = self._submit(pool, cut_ns) if pool else _resolved([])
            if fut.done() and fut.exception() is None:
                for shot in fut.result():
                    if _keys(shot) & prelim.keys:
                        covered |= _keys(shot)
        out, withdrawn, done = [], [], set()
        found: dict[frozenset[str], object] = {}  # by detection keys (two searches may find one shot)
        for prelim in sorted(self._inflight, key=lambda s: s.t0_ns):
            fut = self._inflight[prelim]
            if not fut.done():
                continue
            del self._inflight[prelim]
            try:
                shots = fut.result()
            except Exception:  # a worker lost: the shot is still due and is searched again next time
                log.exception("final search for the shot at %d failed", prelim.t0_ns)
                continue
            if prelim.keys & done:
                continue
            mine = [s for s in shots if _keys(s) & prelim.keys]
            if not mine:
                withdrawn.append(prelim)
            for s in mine:
                keys = _keys(s)
                if not keys & done:
                    out.append(s)
                    done |= keys
            for s in shots:
                keys = frozenset(_keys(s))
                if not keys & prelim.keys:
                    found.setdefault(keys, s)
        # A round whose arrivals first went to an alias has no preliminary shot of its own once
        # the alias is replaced (by a final shot sharing some of its arrivals, or by a later
        # preliminary one): it would be found by every final search around it and taken by none.
        # The preliminary shots that keep their claim are those no final shot here replaces.
        claimed = set().union(*(p.keys for p in unconfirmed if not p.keys & done))
        new = []
        for keys, s in found.items():
            if not keys & done and not keys & claimed:
                new.append(s)
                done |= keys
        self.waiting = len(unconfirmed) - len(due) + len(self._inflight)
        # Due shots whose final search is running or not yet started: their incidents stay open.
        self.holding = frozenset(k for p in [*self._inflight, *waiting] for k in p.keys)
        return Finalized(out, withdrawn, new)


def _mostly(keys: frozenset[str], covered: set[str]) -> bool:
    """Whether most of ``keys`` are in ``covered``."""
    return 2 * len(keys & covered) > len(keys)


def _keys(shot) -> set[str]:
    return {f"{d.sensor_id}:{d.seq}" for d in shot.detections}


def _resolved(value) -> Future:
    fut: Future = Future()
    fut.set_result(value)
    return fut


class OnlineFinalizer:
    """``locator.associate.OnlineAssociator`` fed in time order up to the watermark.

    Parameters
    ----------
    table : locator.associate.SensorTable
    config : locator.associate.AssociationConfig
    """

    name = "online"
    holding: frozenset[str] = frozenset()  # finalize() answers at once

    def __init__(self, table, config, radius_m: float = 0.0, pool_around=None, submit=None):
        from locator.associate import OnlineAssociator

        self._cfg = config
        self._online = OnlineAssociator(table, config)
        self._heap: list[tuple[int, str, int, Detection]] = []
        self._last_flush = 0

    @property
    def pending(self) -> int:
        """Detections held (waiting for the watermark, or for their shot)."""
        return self._online.pending + len(self._heap)

    def add(self, detections: list[Detection]) -> None:
        """Hold new detections until the watermark passes them."""
        for d in detections:
            heapq.heappush(self._heap, (d.t_ns, d.sensor_id, d.seq, d))

    def finalize(self, cut_ns: int, unconfirmed: list, yield_to: Callable[[], bool] | None = None) -> Finalized:
        """Release detections up to ``cut_ns`` in time order; final shots (nothing is withdrawn here)."""
        out = []
        while self._heap and self._heap[0][0] <= cut_ns:
            out += self._online.push(heapq.heappop(self._heap)[3])
        # A flush searches the whole buffer: once per association step of stream time.
        if self._online.pending and cut_ns - self._last_flush >= int(self._cfg.step_s * NS):
            self._last_flush = cut_ns
            out += self._online.flush(cut_ns)
        return Finalized(out, [], [])


#: Finalisers by name (``finalizer`` in locator.toml).
FINALIZERS = {"local": LocalFinalizer, "online": OnlineFinalizer}

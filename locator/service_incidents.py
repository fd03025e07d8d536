"""Incidents built online, shot by shot, as the live service locates them.

Each located shot (preliminary or final) either refines a shot already known --
it shares a detection ``(sensor, seq)`` with it -- or joins the open incident of
its own kind whose last shot is at most ``gap_s`` earlier and whose first shot is
within ``radius_m`` (as ``salvo analyze`` groups them: an incident does not creep
across town shot by shot), or opens a new incident.  The kinds told apart here are
those of ``locator.incidents`` (gunfire, fireworks aloft, other impulses), judged on
final solutions as ``salvo analyze`` groups them (``LiveIncidents._fits``); an echo
place of an incident's gun stays in its incident but not among its shots.  Shot identity by detection keys is what
makes a restarted locator rebuild the *same* incidents from the detections it
replays, instead of doubling them.

An incident closes (``final``) once its last shot is ``gap_s`` old and all its
shots are final; preliminary shots that never became final are dropped then.
Incident-level labels (class, confidence, shooters) come from
``locator.incidents.build_incidents`` when that module is present, otherwise
from the detections' gunshot probabilities and a distance rule for shooters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from locator.incidents import gunfire_vote
from locator.store import StoredIncident, StoredShot
from salvo.utc import format_utc_ns

from salvo.utc import NS_PER_S as NS  # ns per s


@dataclass(frozen=True, slots=True)
class LiveShot:
    """A located shot as the service tracks it.

    Attributes
    ----------
    t0_ns : int
        Emission time, UTC ns.
    pos_m : tuple of float
        Local (x, y, z), m.
    err_m : float
        1-sigma horizontal error, m.
    keys : frozenset of str
        Its detections as ``"sensor:seq"``.
    sensors : tuple of str
    p_gunshot : float
        The classifier's vote over its detections, :func:`locator.incidents.gunfire_vote` (NaN when none is known).
    final : bool
        Released by the online associator (no more sensors can add to it).
    source : locator.associate.Shot or None
        The associator's shot (None for shots resumed from the store).
    """

    t0_ns: int
    pos_m: tuple[float, float, float]
    err_m: float
    keys: frozenset[str]
    sensors: tuple[str, ...]
    p_gunshot: float
    final: bool
    source: Any = field(default=None, compare=False, repr=False)


class Added(NamedTuple):
    """What :meth:`LiveIncidents.add` did with a shot.

    Attributes
    ----------
    incident_id : str or None
        The incident the shot is in; None when the shot changed nothing.
    new_solution : bool
        True when the shot brings detections no known shot had (a new or refined
        position); False when it only confirms a known one as final.
    vacated : StoredIncident or None
        An incident the shot's preliminary solution had opened and its final one left
        empty, closed as ``retracted`` (the final solution joined another incident).
    left : str or None
        An incident the final solution left that still has other shots: it changed too,
        and its alert is to be brought up to date.
    """

    incident_id: str | None
    new_solution: bool
    vacated: StoredIncident | None = None
    left: str | None = None


def live_shot(shot, final: bool) -> LiveShot:
    """Convert a ``locator.associate.Shot`` into a :class:`LiveShot`."""
    dets = shot.detections
    return LiveShot(
        int(shot.t0_ns), tuple(float(v) for v in np.asarray(shot.pos_m).reshape(3)), float(shot.err_m),
        frozenset(f"{d.sensor_id}:{d.seq}" for d in dets), tuple(d.sensor_id for d in dets),
        gunfire_vote(dets), final, shot,
    )


class LiveIncidents:
    """The open incidents of the live service (mutable service state, not a result).

    Parameters
    ----------
    frame : LocalFrame or CartesianFrame
        Converts shot positions for the store.
    frame_name : str
        ``"wgs84"`` or ``"local"``.
    gap_s : float
        Largest time between consecutive shots of one incident, s.
    radius_m : float
        Largest distance of a new shot from the incident's first shot, m.
    labels : locator.incidents.IncidentConfig, optional
        When given, class, confidence and shooters come from
        ``locator.incidents.build_incidents`` over the incident's shots (the same rules as
        ``salvo analyze``); shots resumed from the store fall back to simple rules.
    same_shot_s : float
        Two solutions from disjoint sets of sensors whose emission times differ by less
        than this (and whose positions agree) are one shot heard by two groups of
        sensors -- e.g. when nodes resend their spools out of order after an outage --
        and are merged, s.  Well below automatic fire's ~70 ms between rounds.
    """

    def __init__(self, frame, frame_name: str, gap_s: float, radius_m: float, same_shot_s: float = 0.025,
                 labels=None):
        self._frame = frame
        self._labels = labels
        self._same_ns = int(same_shot_s * NS)
        self._frame_name = frame_name
        self._gap_ns = int(gap_s * NS)
        self._radius_m = float(radius_m)
        self._open: dict[str, list[LiveShot]] = {}
        self._by_key: dict[str, str] = {}
        self._closed_keys: dict[str, int] = {}  # detection key -> its shot's t0_ns

    @property
    def open_ids(self) -> list[str]:
        """Ids of the incidents still open."""
        return list(self._open)

    def resume(self, incidents: list[StoredIncident]) -> None:
        """Take back the incidents a previous run left in the store.

        Open ones are resumed; the detections of final ones are remembered so that
        shots re-associated from replayed detections do not open them again.
        """
        for inc in incidents:
            if inc.final:
                self._closed_keys.update((k, s.t_ns) for s in inc.shots for k in s.detections)
                continue
            shots = []
            for s in inc.shots:
                pos = (s.x_m, s.y_m, s.z_m)
                if self._frame_name == "wgs84":
                    pos = tuple(float(v) for v in self._frame.to_local(s.lat, s.lon, s.alt_m))
                # The incident's confidence stands in for its shots' gunshot probability.
                shots.append(LiveShot(s.t_ns, pos, s.err_m, frozenset(s.detections), s.sensors, inc.confidence, True))
            self._open[inc.id] = shots
            for s in shots:
                for k in s.keys:
                    self._by_key[k] = inc.id

    def add(self, shot: LiveShot) -> Added:
        """Put a shot in its incident; :class:`Added` says what changed."""
        if not self._closed_keys.keys().isdisjoint(shot.keys):
            return Added(None, False)
        inc_id = next((self._by_key[k] for k in shot.keys if k in self._by_key), None)
        new_solution = True
        vacated, left = None, None
        moved, home = False, None  # a final solution leaving its incident, and where it goes (None: a new one)
        if inc_id is not None and inc_id in self._open:
            shots = self._open[inc_id]
            same = [i for i, s in enumerate(shots) if one_shot(s.keys, shot.keys)]
            if any(shots[i].final and not shot.final for i in same):
                return Added(None, False)  # a final solution is not replaced by a preliminary one
            if same and all(shots[i].keys == shot.keys for i in same):
                if all(shots[i].final == shot.final for i in same):
                    return Added(None, False)
                new_solution = False
            gone = [shots[i] for i in same]
            for i in reversed(same):
                for k in shots[i].keys:
                    if self._by_key.get(k) == inc_id:
                        del self._by_key[k]
                del shots[i]
            if shot.final:
                # The preliminary solution may have been an alias elsewhere, or of another kind:
                # the final one goes where it would have gone first.
                home = self._match(shot)
                if home != inc_id and (home is not None or shots):
                    if shots:
                        left = inc_id
                    else:
                        del self._open[inc_id]
                        t = min(s.t0_ns for s in gone)
                        vacated = StoredIncident(inc_id, t, t, "retracted", math.nan, 0, 0, self._frame_name, (), True)
                    inc_id, moved = None, True
        if inc_id is None or inc_id not in self._open:
            inc_id = (home if moved else self._match(shot)) or _new_id(shot)
            shots = self._open.setdefault(inc_id, [])
            twin = next((i for i, s in enumerate(shots) if self._same_event(s, shot)), None)
            if twin is not None:
                shot = _merge(shots.pop(twin), shot)
        shots.append(shot)
        shots.sort(key=lambda s: s.t0_ns)
        for k in shot.keys:
            self._by_key[k] = inc_id
        return Added(inc_id, new_solution, vacated, left)

    def _fits(self, shots: list[LiveShot], shot: LiveShot) -> bool:
        """Whether ``shot`` is of the kind of the incident of ``shots`` once it is among them, by
        ``salvo analyze``'s rules (``locator.incidents.build_incidents`` over their final
        solutions and it, the largest group not an echo place's setting the incident's kind):
        fireworks bursting over a gunfight, or a firecracker string beside it, are an
        incident of their own; an echo place of the incident's gun belongs to it.  Only a
        final solution is judged; preliminary ones join by time and place."""
        if self._labels is None or not shot.final or shot.source is None:
            return True
        known = [s.source for s in shots if s.final and s.source is not None]
        if not known:
            return True
        from locator.incidents import build_incidents

        groups = build_incidents(known + [shot.source], self._labels)
        mine = next(g for g in groups if any(x is shot.source for x in g.shots))
        # An echo of the incident's gun stays with it (``_stored`` leaves it out of the shots):
        # alone, a run of its rounds would have no gun to follow and be called gunfire.
        if mine.klass == "echo":
            return True
        # Its kind is judged with the incident's shots, as ``salvo analyze`` would group them:
        # with them its place's vote may change their kind too (a firecracker string's first
        # pops may pass for gunfire, the string as a whole does not).
        main = max((g for g in groups if g.klass != "echo"), key=lambda g: g.n_shots)
        return mine.klass == main.klass

    def _same_event(self, a: LiveShot, b: LiveShot) -> bool:
        if abs(a.t0_ns - b.t0_ns) > self._same_ns or set(a.sensors) & set(b.sensors):
            return False
        err = math.hypot(*(0.0 if math.isnan(e) else e for e in (a.err_m, b.err_m)))
        return math.dist(a.pos_m[:2], b.pos_m[:2]) <= max(5.0, 3.0 * err)

    def _match(self, shot: LiveShot) -> str | None:
        """The open incident ``shot`` joins: of its kind, its last shot at most ``gap_s`` before,
        its first within ``radius_m``.  Of several, the one with the most final shots (a gun's
        incident, not one an alias opened beside it), then the nearest in time."""
        best, best_rank = None, None
        for inc_id, shots in self._open.items():
            if not shots:
                continue
            dt = shot.t0_ns - shots[-1].t0_ns
            if dt > self._gap_ns or shot.t0_ns < shots[0].t0_ns - self._gap_ns:
                continue
            rank = (-sum(s.final for s in shots), abs(dt))
            near = math.dist(shot.pos_m[:2], shots[0].pos_m[:2])
            if near <= self._radius_m and (best_rank is None or rank < best_rank) and self._fits(shots, shot):
                best, best_rank = inc_id, rank
        return best

    def recent(self, since_ns: int) -> list[LiveShot]:
        """Shots of the open incidents fired since ``since_ns``, preliminary and final."""
        return [s for shots in self._open.values() for s in shots if s.t0_ns >= since_ns]

    def unconfirmed(self) -> list[LiveShot]:
        """Preliminary shots of the open incidents, not yet final."""
        return [s for shots in self._open.values() for s in shots if not s.final]

    def withdraw(self, shot: LiveShot) -> tuple[str | None, StoredIncident | None]:
        """Take back a preliminary shot no final solution confirmed.

        Returns
        -------
        incident_id : str or None
            The incident it was in (None when unknown).
        retracted : StoredIncident or None
            When that left the incident empty: the incident, closed as ``retracted``.
        """
        for inc_id, shots in self._open.items():
            if shot in shots:
                shots.remove(shot)
                for k in shot.keys:
                    if self._by_key.get(k) == inc_id:
                        del self._by_key[k]
                if shots:
                    return inc_id, None
                del self._open[inc_id]
                return inc_id, StoredIncident(inc_id, shot.t0_ns, shot.t0_ns, "retracted", math.nan, 0, 0,
                                              self._frame_name, (), True)
        return None, None

    def forget_before(self, t_ns: int) -> None:
        """Drop the memory of closed shots older than ``t_ns`` (their detections can no longer come back)."""
        self._closed_keys = {k: t for k, t in self._closed_keys.items() if t >= t_ns}

    def due(self, now_ns: int, hold: frozenset[str] = frozenset()) -> list[str]:
        """Incidents whose last shot is ``gap_s`` old and whose shots are all final.

        ``hold``: detection keys of shots whose final solution is still being searched for;
        their incidents stay open whatever their age.
        """
        ready = {i: shots for i, shots in self._open.items() if not any(s.keys & hold for s in shots)}
        return [
            i for i, shots in ready.items()
            if now_ns - shots[-1].t0_ns > self._gap_ns and all(s.final for s in shots)
        ] + [
            # Preliminary shots the associator never confirmed, long gone: give up on them.
            i for i, shots in ready.items()
            if now_ns - shots[-1].t0_ns > 3 * self._gap_ns and not all(s.final for s in shots)
        ]

    def close(self, inc_id: str) -> StoredIncident:
        """Finish an incident: keep its final shots and forget it."""
        every = self._open.pop(inc_id)
        shots = [s for s in every if s.final]
        end = max((s.t0_ns for s in shots), default=0)
        for k in [k for k, v in self._by_key.items() if v == inc_id]:
            del self._by_key[k]
            self._closed_keys[k] = end
        if not shots:  # never confirmed: keep when it was, say it is withdrawn
            gone = self._stored(inc_id, every, final=True)
            return StoredIncident(inc_id, gone.start_ns, gone.end_ns, "retracted", math.nan, 0, 0, gone.frame, (),
                                  True)
        return self._stored(inc_id, shots, final=True)

    def snapshot(self, inc_id: str) -> StoredIncident:
        """The open incident as it stands."""
        return self._stored(inc_id, self._open[inc_id], final=False)

    def _stored(self, inc_id: str, shots: list[LiveShot], final: bool) -> StoredIncident:
        if shots and self._labels is not None and all(s.source is not None for s in shots):
            from locator.incidents import build_incidents

            groups = build_incidents([s.source for s in shots], self._labels)
            # locator.incidents may split one place and time by kind (an aerial burst over a
            # gunfight); the live incident keeps them together, labelled by its largest part ...
            real = [g for g in groups if g.klass != "echo"]
            if real:
                # ... but not the rounds of a place that follows its gun's by one steady lag:
                # the gun's echoes lined up, which ``_fits`` keeps with it and ``salvo analyze``
                # reports apart, not as shots (nor as the incident's kind, when the gun lost
                # more rounds than its echoes did)
                echo = {id(q) for g in groups if g.klass == "echo" for q in g.shots}
                shots = [s for s in shots if id(s.source) not in echo]
                groups = real
            main = max(groups, key=lambda g: g.n_shots)
            cls, conf = main.klass, float(main.confidence)
            who: dict[int, int] = {}
            base = 0
            for g in groups:
                for shot, k in zip(g.shots, g.shooters):
                    who[id(shot)] = base + k
                base += g.n_shooters
            shooters = [who[id(s.source)] for s in shots]
        else:
            shooters = _shooters(shots)
            ps = [s.p_gunshot for s in shots if not math.isnan(s.p_gunshot)]
            conf = float(np.mean(ps)) if ps else math.nan
            cls = "impulse" if ps and conf < 0.5 else "gunfire"
        out = []
        for s, who in zip(shots, shooters):
            x, y, z = s.pos_m
            if self._frame_name == "wgs84":
                lat, lon, alt = (float(v) for v in self._frame.to_wgs84(x, y, z))
                out.append(StoredShot(s.t0_ns, lat, lon, alt, err_m=s.err_m, shooter=who, sensors=s.sensors,
                                      detections=tuple(sorted(s.keys))))
            else:
                out.append(StoredShot(s.t0_ns, x_m=x, y_m=y, z_m=z, err_m=s.err_m, shooter=who, sensors=s.sensors,
                                      detections=tuple(sorted(s.keys))))
        start = shots[0].t0_ns if shots else 0
        end = shots[-1].t0_ns if shots else 0
        return StoredIncident(
            inc_id, start, end, cls if shots else "retracted", conf, len(shots), (max(shooters) + 1) if shots else 0,
            self._frame_name, tuple(out), final,
        )


def one_shot(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> bool:
    """Whether two solutions with detection keys ``a`` and ``b`` are one shot: they share most
    of the detections of the smaller.  Two guns firing together share the few arrivals that
    coincide at a sensor (``locator.associate.SHARED_MAX``): a round that shares one detection
    with the other gun's is not that round, and its solution must not replace it."""
    return 2 * len(a & b) > min(len(a), len(b))


def _merge(a: LiveShot, b: LiveShot) -> LiveShot:
    """One shot from two solutions of the same event: the better-determined position, every detection."""
    best = a if (len(a.sensors), -a.err_m) >= (len(b.sensors), -b.err_m) else b
    ps = [p for p in (a.p_gunshot, b.p_gunshot) if not math.isnan(p)]
    return LiveShot(best.t0_ns, best.pos_m, best.err_m, a.keys | b.keys, a.sensors + b.sensors,
                    float(np.mean(ps)) if ps else math.nan, a.final and b.final, best.source)


def _shooters(shots: list[LiveShot]) -> list[int]:
    """Shooter numbers: shots whose positions differ by more than 3 combined sigma (and 5 m) are different guns.

    A greedy single-link grouping in time order; good enough for a dispatcher's
    "1 or 2 shooters" while the incident is live.
    """
    centres: list[tuple[tuple[float, float], float]] = []
    labels = []
    for s in shots:
        err = 0.0 if math.isnan(s.err_m) else s.err_m
        for k, (c, e) in enumerate(centres):
            if math.dist(s.pos_m[:2], c) <= max(5.0, 3.0 * math.hypot(err, e)):
                labels.append(k)
                break
        else:
            centres.append((s.pos_m[:2], err))
            labels.append(len(centres) - 1)
    return labels


def _new_id(shot: LiveShot) -> str:
    """A readable, deterministic id: the first shot's time and its first detection."""
    t = format_utc_ns(shot.t0_ns, 3).replace("-", "").replace(":", "").replace(".", "")
    return f"{t}-{min(shot.keys)}"

"""Incidents: shots close in time and space, with shot and shooter counts, a class and a confidence.

* Grouping: a shot joins the incident of its own kind (below) whose last shot is at most
  ``gap_s`` earlier and whose first shot lies within ``radius_m``; otherwise it opens a new one.
* Shooters: within an incident, a shot joins the shooter whose running mean position is
  within ``max(min_sep_m, sep_sigma * sqrt(err_shot^2 + err_shooter^2))`` and whose acoustic
  signature matches (the median, over the sensors both heard, of the peak-level difference is
  under ``signature_db``: the same gun at the same spot sounds alike at each sensor; another
  calibre or another spot does not); otherwise it is a new shooter.  Shooters of a single
  stray shot whose position is uncertain enough to be any existing shooter are merged into
  the nearest (a bad solve is not a second gun).
* Kind and class: a shot whose free 3D solution (``FREE_HEIGHT_MIN_SENSORS`` arrivals or more)
  is ``aerial_m`` above the ground (with its vertical sigma taken off), and whose arrivals
  that 3D solution fits at least twice as well (residual scatter per degree of freedom) as
  the solution on the ground, is an aerial burst
  (``"fireworks"``), unless it lies amid a gun's rounds (``_amid_a_guns_rounds``); one whose
  detections the node's classifier mostly judges non-gunfire, the loud ones counting most
  (:func:`gunfire_vote` below ``min_p_gunshot``), is ``"impulse"``; the rest is ``"gunfire"``.
  An incident has the kind of its shots.  Nothing is dropped: tools filter on ``class``.
* Echo places: a reflector a few tens of metres from a gun makes the sensors hear every round
  twice, and the second arrivals can line up into a "source" of their own, a place that fires
  each time the gun does, a fixed lag later (the extra path over c).  A second shooter's rounds
  follow the first's at lags that wander by tens of ms; an echo's by a few (its solution's
  jitter).  A place whose rounds, three or more, mostly (``ECHO_SHARE``) follow rounds of
  another, earlier gunfire place one to one by one lag within ``ECHO_JITTER_S`` (within
  ``ECHO_STEADY_S`` when the lag is longer than the places' distance over c), better than
  chance would pair them (``ECHO_CHANCE``), is kind ``"echo"``: class ``"echo"``, not a
  shot or a shooter of the gunfire incident.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from salvo.errors import ConfigError
from salvo.utc import format_utc_ns

from salvo.utc import NS_PER_S as NS  # ns per s

#: Shots this close are taken as fired from one spot (one gun) for the classifier vote, m:
#: several times the 1-sigma error of a shot located by four or more sensors.
SAME_PLACE_M = 10.0
#: An echo place's rounds follow its gun's at one lag to within this, s (the jitter of two
#: solutions' emission times, a few ms each for ghosts made of reflections).
ECHO_JITTER_S = 0.012
#: Longest lag of an echo behind its gun, s (a reflector 85 m off adds 170 m of path).
ECHO_MAX_LAG_S = 0.5
#: Beyond the places' distance over c, an echo place's lag must hold to within this, s: a
#: ghost's lag holds to its solutions' timing (1-2 ms), no second shooter's trigger to that ...
ECHO_STEADY_S = 0.003
#: ... and be at most this many times that distance over c (1.35 seen; see ``echo_lag_s``).
ECHO_FAR = 2.0
#: Share of an echo place's rounds that must follow a round of its gun at the lag.
ECHO_SHARE = 0.75
#: Fewest rounds that tell an echo place from a second gun (each place).
ECHO_MIN_ROUNDS = 3
#: Largest chance (binomial tail times lags tried) of a second gun's rounds pairing as well.
ECHO_CHANCE = 0.01
#: Fewest arrivals whose free 3D solution may call a ground shot aerial (``_height_above_ground``).
#: The test asks the 3D fit to halve the residual scatter per degree of freedom of the fit on
#: the ground; for a shot truly on the ground with Gaussian errors that part of the test passes
#: by chance (F-test with 1 and n - 4 degrees of freedom) for ~23% of 5-arrival shots, ~9% of 6
#: and ~2% of 8.  The Pittsburgh audio's 5-6 sensor rounds, with sensor positions metres off,
#: lost rounds 1.7 and 4.3 m from the survey to it (FP2 test_021; FP3 test_041, not tuned on); the
#: association tries a source aloft from the same count (``locator.associate.AERIAL_MIN_SENSORS``).
#: The gunfight's tuning and held-out seeds gave the same with 5 or 8.
FREE_HEIGHT_MIN_SENSORS = 8


@dataclass(frozen=True, slots=True)
class IncidentConfig:
    """Settings of incident building.

    Attributes
    ----------
    gap_s : float
        Longest silence inside one incident, s (default 20).
    radius_m : float
        Largest distance of a shot from its incident's first shot, m (default 150: a block or two; shooters of one gunfight are tens of metres apart).
    min_sep_m : float
        Shots closer than this may be one shooter whatever their errors, m (default 4).
    sep_sigma : float
        Shots farther apart than this many combined 1-sigma errors are different shooters (default 3).
    signature_db : float
        Median per-sensor peak-level difference above which two shots are different guns, dB (default 8).
    ground_z_m : float or None
        Ground height in the local frame, m; None: no aerial test.
    aerial_m : float
        Height above ground from which a source is an aerial burst, m (default 15).  Its free
        3D height is only tried with ``FREE_HEIGHT_MIN_SENSORS`` (8) arrivals or more: a burst
        heard by fewer is aerial only if the association placed it aloft, else gunfire.
    min_p_gunshot : float
        Classifier vote (:func:`gunfire_vote`) below which an incident is ``"impulse"`` (default 0.5).
    c_mps : float
        Speed of sound for the 3D height check, m/s (default 343.2).
    timing_sigma_s : float
        Smallest arrival-time sigma in the 3D height check, s (default 0.002; the association's
        model error).
    """

    gap_s: float = 20.0
    radius_m: float = 150.0
    min_sep_m: float = 4.0
    sep_sigma: float = 3.0
    signature_db: float = 8.0
    ground_z_m: float | None = None
    aerial_m: float = 15.0
    min_p_gunshot: float = 0.5
    c_mps: float = 343.2
    timing_sigma_s: float = 0.002

    def __post_init__(self) -> None:
        for name in ("gap_s", "radius_m", "min_sep_m", "sep_sigma", "signature_db", "aerial_m", "c_mps"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"incidents: {name} must be > 0, got {getattr(self, name)!r}")


@dataclass(frozen=True, slots=True)
class Incident:
    """A group of shots.

    Attributes
    ----------
    id : str
    start_ns, end_ns : int
        Emission times of the first and last shot, UTC ns.
    klass : str
        ``"gunfire"``, ``"fireworks"``, ``"impulse"`` or ``"echo"`` (``class`` in the results file).
    confidence : float
        0..1, how sure the class is.
    shots : tuple of Shot
        In time order.
    shooters : tuple of int
        Shooter number of each shot, 0-based, numbered in order of first shot.
    height_m : tuple of float
        Per shot, free 3D height above ground, m (NaN when not computed).
    p_gunshot : float
        The classifier's vote over the shots' detections, :func:`gunfire_vote` (NaN when unknown).
    reason : str
        Why the class was chosen.
    """

    id: str
    start_ns: int
    end_ns: int
    klass: str
    confidence: float
    shots: tuple
    shooters: tuple[int, ...]
    height_m: tuple[float, ...]
    p_gunshot: float
    reason: str

    @property
    def n_shots(self) -> int:
        return len(self.shots)

    @property
    def n_shooters(self) -> int:
        return len(set(self.shooters))


def _height_above_ground(shot, cfg: IncidentConfig) -> float:
    """Free 3D height of a shot above ground minus its 1-sigma, m; 0 when the ground fits as
    well, NaN when it cannot be told (fewer than ``FREE_HEIGHT_MIN_SENSORS`` sensors, no ground
    height)."""
    from locator.solve import solve

    if cfg.ground_z_m is not None and float(shot.pos_m[2]) - cfg.ground_z_m > cfg.aerial_m:
        return float(shot.pos_m[2]) - cfg.ground_z_m  # the association placed it aloft
    if cfg.ground_z_m is None or len(shot.detections) < FREE_HEIGHT_MIN_SENSORS:
        return math.nan
    t_ref = shot.detections[0].t_ns
    toas = np.array([(d.t_ns - t_ref) * 1e-9 for d in shot.detections])
    floor = cfg.timing_sigma_s
    sig = np.array([max(d.sigma_s, floor) if math.isfinite(d.sigma_s) else floor for d in shot.detections])
    sol = solve(shot.sensor_pos_m, toas, sig, mode="3d", c_mps=cfg.c_mps)
    if not sol.ok or np.count_nonzero(sol.used) < FREE_HEIGHT_MIN_SENSORS:  # the robust fit may drop some
        return math.nan
    sz = math.sqrt(max(float(sol.cov_m2[2, 2]), 0.0))
    # Height is only believed when freeing it explains the arrivals much better than the
    # source on the ground does: vertical error is tens of times the horizontal one, and
    # sensor-position or propagation errors alone can push a free z far off.
    # residual scatter per degree of freedom: the free height costs one
    r2 = np.asarray(shot.residual_s)
    r3 = np.asarray(sol.residual_s)[np.asarray(sol.used, bool)]
    s_2d = float(np.sqrt(np.sum(r2**2) / max(r2.size - 3, 1)))
    s_3d = float(np.sqrt(np.sum(r3**2) / max(r3.size - 4, 1)))
    if not s_2d > max(2.0 * s_3d, floor):
        return 0.0
    return float(sol.pos_m[2]) - cfg.ground_z_m - sz


def _levels(shot) -> dict[str, float]:
    return {d.sensor_id: d.peak_dbfs for d in shot.detections if math.isfinite(d.peak_dbfs)}


def _signature_differs(a: dict[str, float], b: dict[str, float], limit_db: float) -> bool:
    common = sorted(set(a) & set(b))
    if len(common) < 3:
        return False
    return float(np.median([abs(a[k] - b[k]) for k in common])) > limit_db


def assign_shooters(shots: Sequence, cfg: IncidentConfig) -> tuple[int, ...]:
    """Shooter number of each shot (time order), from positions with their errors and signatures."""
    centres: list[np.ndarray] = []
    errs: list[float] = []
    counts: list[int] = []
    levels: list[dict[str, float]] = []
    out: list[int] = []
    for shot in shots:
        p = np.asarray(shot.pos_m[:2], dtype=np.float64)
        e = float(shot.err_m) if math.isfinite(shot.err_m) else 10.0
        lv = _levels(shot)
        best, best_d = -1, math.inf
        for k, c in enumerate(centres):
            d = float(np.linalg.norm(p - c))
            limit = max(cfg.min_sep_m, cfg.sep_sigma * math.hypot(e, errs[k]))
            if d <= limit and d < best_d and not _signature_differs(lv, levels[k], cfg.signature_db):
                best, best_d = k, d
        if best < 0:
            centres.append(p.copy())
            errs.append(e)
            counts.append(1)
            levels.append(dict(lv))
            out.append(len(centres) - 1)
            continue
        n = counts[best]
        centres[best] = (centres[best] * n + p) / (n + 1)
        # error of the shooter's position: the typical shot error (not shrinking with n, so
        # a tight cluster does not refuse a shot that is as good as its members)
        errs[best] = (errs[best] * n + e) / (n + 1)
        counts[best] = n + 1
        for key, v in lv.items():
            levels[best].setdefault(key, v)
        out.append(best)
    # a lone shot as uncertain as its distance to another shooter is a bad solve, not a gun
    for k in range(len(centres)):
        if counts[k] != 1 or len(centres) < 2:
            continue
        others = [j for j in range(len(centres)) if j != k and counts[j] > 1]
        if not others:
            continue
        j = min(others, key=lambda j: float(np.linalg.norm(centres[j] - centres[k])))
        if float(np.linalg.norm(centres[j] - centres[k])) <= cfg.sep_sigma * errs[k]:
            out = [j if s == k else s for s in out]
    # renumber in order of first shot
    remap: dict[int, int] = {}
    return tuple(remap.setdefault(s, len(remap)) for s in out)


def gunfire_vote(detections: Sequence) -> float:
    """The node classifier's vote on one source: ``p_gunshot`` of its detections, each weighted
    by its signal-to-noise ratio as an amplitude ratio, ``10**(snr_db / 20)``.

    The classifier's features (rise, width, spectrum) are measured cleanly on a loud impulse;
    on a faint one they are mostly noise, reverberation and the coda of earlier sounds, and
    there its output says more about those than about the source.  Faint detections are also
    the ones an association most often takes from another source (an echo of a firecracker
    string lines up into a ghost source that an equal vote calls gunfire).  Where any SNR is
    unknown (NaN) every detection weighs the same.

    Parameters
    ----------
    detections : sequence of Detection

    Returns
    -------
    float
        0..1, or NaN when no detection has a classifier output.
    """
    p = np.array([d.p_gunshot for d in detections], dtype=np.float64)
    snr = np.array([d.snr_db for d in detections], dtype=np.float64)
    ok = np.isfinite(p)
    if not ok.any():
        return math.nan
    p, snr = p[ok], snr[ok]
    w = 10.0 ** (np.maximum(snr, 0.0) / 20.0) if np.isfinite(snr).all() else np.ones_like(p)
    return float(np.sum(w * p) / np.sum(w))


def _mean_p(shots: Sequence) -> float:
    return gunfire_vote([d for s in shots for d in s.detections])


def _shot_kind(shot, height_m: float, cfg: IncidentConfig, place: Sequence = ()) -> str:
    """What one shot looks like: aerial, non-gunfire, or gunfire.  The classifier's vote is
    taken over ``place``, the ground shots fired from the same spot around the same time (one
    gun: a round the classifier doubts does not split a burst into two incidents)."""
    if math.isfinite(height_m) and height_m > cfg.aerial_m:
        return "fireworks"
    p = _mean_p(list(place) or [shot])
    if math.isfinite(p) and p < cfg.min_p_gunshot:
        return "impulse"
    return "gunfire"


def _amid_a_guns_rounds(ordered: Sequence, heights: list[float], cfg: IncidentConfig) -> list[float]:
    """``heights``, with 0 for a shot the association put on the ground whose free 3D height
    alone says aerial, when it lies amid a gun's rounds: ground shots at its spot
    (``SAME_PLACE_M``) within ``gap_s`` before and after it, which the classifier calls gunfire.
    A round of a burst whose arrivals bent round buildings fits a free height better now
    and then; a firework bursting straight over a gun between two of its rounds does not."""
    out = list(heights)
    gz = cfg.ground_z_m
    for k, shot in enumerate(ordered):
        h = heights[k]
        if not (math.isfinite(h) and h > cfg.aerial_m) or gz is None or float(shot.pos_m[2]) - gz > cfg.aerial_m:
            continue
        xy, t = shot.pos_m[:2], shot.t0_ns
        near = [q for j, q in enumerate(ordered)
                if j != k and not (math.isfinite(heights[j]) and heights[j] > cfg.aerial_m)
                and abs(q.t0_ns - t) <= cfg.gap_s * NS and float(np.linalg.norm(q.pos_m[:2] - xy)) <= SAME_PLACE_M]
        before = any(q.t0_ns < t for q in near)
        after = any(q.t0_ns > t for q in near)
        if before and after and not _mean_p(near) < cfg.min_p_gunshot:
            out[k] = 0.0
    return out


def _same_place(ordered: Sequence, heights: list[float], cfg: IncidentConfig) -> list[list]:
    """Per shot, the ground shots within ``SAME_PLACE_M`` and ``gap_s`` of it (itself included)."""
    ground = [not (math.isfinite(h) and h > cfg.aerial_m) for h in heights]
    xy = np.array([s.pos_m[:2] for s in ordered]).reshape(-1, 2)
    t = np.array([s.t0_ns for s in ordered], dtype=np.int64)
    out = []
    for k in range(len(ordered)):
        near = (np.linalg.norm(xy - xy[k], axis=1) <= SAME_PLACE_M) & (np.abs(t - t[k]) <= cfg.gap_s * NS)
        out.append([ordered[j] for j in np.flatnonzero(near) if ground[j]])
    return out


def _places(ordered: Sequence) -> np.ndarray:
    """Per shot (time order) a place number: shots within ``SAME_PLACE_M`` of a place's first
    shot share it."""
    first: list[np.ndarray] = []
    out = np.empty(len(ordered), dtype=np.int64)
    for k, shot in enumerate(ordered):
        p = np.asarray(shot.pos_m[:2], dtype=np.float64)
        near = [j for j, c in enumerate(first) if float(np.linalg.norm(p - c)) <= SAME_PLACE_M]
        if near:
            out[k] = near[0]
        else:
            out[k] = len(first)
            first.append(p)
    return out


def _matched(f: np.ndarray, a: np.ndarray, lag_s: float, jitter_s: float = ECHO_JITTER_S) -> list[tuple[int, int]]:
    """Follower and leader rounds paired one to one (each leader round explains at most one
    follower round) where a follower round lies ``lag_s`` after a leader round within
    ``jitter_s``, nearest first."""
    err = np.abs(f[:, None] - a[None, :] - lag_s)
    pairs, used_f, used_a = [], set(), set()
    for i, j in zip(*np.unravel_index(np.argsort(err, axis=None, kind="stable"), err.shape)):
        if err[i, j] > jitter_s:
            break
        if i not in used_f and j not in used_a:
            pairs.append((int(i), int(j)))
            used_f.add(i)
            used_a.add(j)
    return pairs


def echo_lag_s(follower_s: np.ndarray, leader_s: np.ndarray, apart_s: float = math.inf) -> float | None:
    """The lag, s, at which the rounds of one place follow those of another, or None.

    ``follower_s``, ``leader_s``: emission times of each place's rounds, s; ``apart_s``: the
    places' distance over the speed of sound, s.  Every lag from a leader round to a later
    follower round, up to ``ECHO_MAX_LAG_S`` and ``ECHO_FAR`` times ``apart_s``, is tried; the
    follower and leader rounds are paired one to one at that lag within ``ECHO_JITTER_S`` (up
    to ``apart_s`` plus that jitter) or ``ECHO_STEADY_S`` (beyond).  A lag qualifies when at least ``ECHO_SHARE`` of the
    follower's rounds pair (and ``ECHO_MIN_ROUNDS``, with as many leader rounds) and chance
    would not do as well: a round at a random time pairs with probability ``2 jitter x`` the
    leader's rate, and the binomial tail of the pairs found, times the lags tried, must stay
    under ``ECHO_CHANCE`` (a second automatic gun at a similar cycle, or a few rounds against
    a dense burst, line up at some lag now and then; a reflection does at every round).

    Why two jitters: a ghost made of a reflector's arrivals lies near the reflector's image,
    and its lag behind the gun is mostly under their distance over c (0.7-0.85 of it), where
    its solutions' timing may wander by a few ms each.  A ghost of mixed arrivals (a few
    direct ones of the gun's next sensors, echoes at the rest) has lagged by up to 1.35 times
    the distance, and held its lag to 1-2 ms.  A second gun 30 m away firing 250 ms after
    the first is no echo of it, however regular: that is almost three times their distance,
    and a shooter's lag wanders by tens of ms anyway.
    """
    f = np.asarray(follower_s, dtype=np.float64)
    a = np.asarray(leader_s, dtype=np.float64)
    if f.size < ECHO_MIN_ROUNDS or a.size < ECHO_MIN_ROUNDS:
        return None
    lag = f[:, None] - a[None, :]  # (follower, leader)
    near = apart_s + ECHO_JITTER_S
    cand = np.unique(lag[(lag > 0.0) & (lag <= min(ECHO_MAX_LAG_S, max(near, ECHO_FAR * apart_s)))])
    need = max(ECHO_MIN_ROUNDS, math.ceil(ECHO_SHARE * f.size))
    best, best_pairs, best_jitter = None, [], ECHO_JITTER_S
    for L in cand:
        jitter = ECHO_JITTER_S if L <= near else ECHO_STEADY_S
        pairs = _matched(f, a, float(L), jitter)
        if len(pairs) > len(best_pairs):
            best, best_pairs, best_jitter = float(L), pairs, jitter
    if len(best_pairs) < need:
        return None
    # chance: the leader's rate over its span (plus the longest lag), one window per follower round
    rate = a.size / (float(a.max() - a.min()) + min(ECHO_MAX_LAG_S, max(near, best)))
    p = min(1.0, 2.0 * best_jitter * rate)
    k, n = len(best_pairs), f.size
    tail = sum(math.comb(n, i) * p**i * (1.0 - p) ** (n - i) for i in range(k, n + 1))
    if tail * cand.size >= ECHO_CHANCE:
        return None
    return float(np.median([f[i] - a[j] for i, j in best_pairs]))


def _echo_shots(ordered: Sequence, kinds: list[str], cfg: IncidentConfig) -> dict[int, str]:
    """Shots (index in ``ordered``) of echo places, each with the reason.  Only a gunfire place
    (by the classifier's vote) leads, and only places within ``radius_m`` of each other."""
    ground = [k for k in range(len(ordered)) if kinds[k] != "fireworks"]
    if len(ground) < 2 * ECHO_MIN_ROUNDS:
        return {}
    sub = [ordered[k] for k in ground]
    place = _places(sub)
    t = np.array([s.t0_ns for s in sub], dtype=np.int64)
    members = {q: np.flatnonzero(place == q) for q in np.unique(place)}
    centre = {q: np.mean([sub[j].pos_m[:2] for j in ix], axis=0) for q, ix in members.items()}
    gun = {q: sum(kinds[ground[j]] == "gunfire" for j in ix) * 2 > ix.size for q, ix in members.items()}
    echo: dict[int, str] = {}
    echoes: set[int] = set()
    # earliest place first: the first to fire is a gun, and an echo is no echo's leader
    for q in sorted(members, key=lambda q: t[members[q][0]]):
        for lead in sorted(members, key=lambda q: t[members[q][0]]):
            if lead == q or lead in echoes or not gun[lead] or t[members[lead][0]] >= t[members[q][0]]:
                continue
            d = float(np.linalg.norm(centre[q] - centre[lead]))
            if not d <= cfg.radius_m:  # NaN: no position, no echo
                continue
            lag = echo_lag_s((t[members[q]] - t[0]) / NS, (t[members[lead]] - t[0]) / NS, d / cfg.c_mps)
            if lag is not None:
                echoes.add(q)
                x, y = centre[lead]
                for j in members[q]:
                    echo[ground[j]] = f"follows the rounds fired at ({x:.0f}, {y:.0f}) m by {1e3 * lag:.0f} ms"
                break
    return echo


def _classify(kind: str, shots: Sequence, heights: list[float], cfg: IncidentConfig) -> tuple[float, str]:
    """Confidence and reason of a group of shots of one kind."""
    p = _mean_p(shots)
    if kind == "fireworks":
        known = [h for h in heights if math.isfinite(h)]
        return 0.9, f"{len(shots)} shot(s) solve {np.median(known):.0f} m above ground"
    if kind == "impulse":
        return round(1.0 - p, 3), f"p_gunshot {p:.2f} (SNR-weighted)"
    # a shot of fewer than 3 sensors was timed at an earlier round's place (a sparse array's
    # string, ``associate.SPARSE_REPEAT_SENSORS``) and located nothing itself
    located = [len(s.detections) for s in shots if len(s.detections) >= 3]
    n_sens = float(np.mean(located)) if located else 2.0
    # location quality: many sensors agreeing is itself evidence of one impulsive source
    q_loc = 1.0 - math.exp(-(n_sens - 2.0) / 3.0)
    conf = q_loc * (p if math.isfinite(p) else 0.7)
    reason = f"p_gunshot {p:.2f} (SNR-weighted)" if math.isfinite(p) else "no classifier output; located only"
    return round(conf, 3), reason


def build_incidents(shots: Sequence, config: IncidentConfig | None = None) -> list[Incident]:
    """Group located shots into incidents with shot and shooter counts and a class.

    Parameters
    ----------
    shots : sequence of Shot
        From :func:`locator.associate.associate` (any order).
    config : IncidentConfig, optional

    Returns
    -------
    list of Incident
        In time order.
    """
    cfg = config or IncidentConfig()
    ordered = sorted(shots, key=lambda s: s.t0_ns)
    heights = _amid_a_guns_rounds(ordered, [_height_above_ground(s, cfg) for s in ordered], cfg)
    places = _same_place(ordered, heights, cfg)
    kinds = [_shot_kind(s, h, cfg, pl) for s, h, pl in zip(ordered, heights, places)]
    echo = _echo_shots(ordered, kinds, cfg)
    for k in echo:
        kinds[k] = "echo"
    # group shots of one kind that are close in time and space (an aerial burst over a
    # gunfight is its own incident, not a vote inside it)
    groups: list[list[int]] = []
    for k, shot in enumerate(ordered):
        for g in reversed(groups):
            if kinds[g[0]] != kinds[k] or shot.t0_ns - ordered[g[-1]].t0_ns > cfg.gap_s * NS:
                continue
            if float(np.linalg.norm(shot.pos_m[:2] - ordered[g[0]].pos_m[:2])) <= cfg.radius_m:
                g.append(k)
                break
        else:
            groups.append([k])
    out = []
    ids: set[str] = set()
    for g in groups:
        gs = [ordered[k] for k in g]
        gh = [heights[k] for k in g]
        klass = kinds[g[0]]
        if klass == "echo":
            conf, reason = 0.9, echo[g[0]]
        else:
            conf, reason = _classify(klass, gs, gh, cfg)
        # an "impulse" incident is still counted by source: the classifier may doubt a real gun
        shooters = assign_shooters(gs, cfg) if klass in ("gunfire", "impulse") else (0,) * len(gs)
        start = gs[0].t0_ns
        inc_id = base = "I" + format_utc_ns(start, 3).replace("-", "").replace(":", "").rstrip("Z")
        n = 1
        while inc_id in ids:
            n += 1
            inc_id = f"{base}-{n}"
        ids.add(inc_id)
        out.append(Incident(inc_id, start, gs[-1].t0_ns, klass, conf, tuple(gs), shooters, tuple(gh), _mean_p(gs),
                            reason))
    return out

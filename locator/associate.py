"""Association: which detections, at most one per sensor, belong to one shot.

The method ("triples", the one entry of :data:`ASSOCIATORS`)
-------------------------------------------------------------
Shots are taken from the front of the stream, earliest first, each retiring its arrivals
(and the few ms after them: ground reflection, the sensor's own wall) before later ones are
looked for.  Each step tries two kinds of hypothesis:

1. *Repeats* (``_Search.repeat``).  A round fired from where an accepted shot was reaches
   every sensor with the same delays, sensor-position errors, diffraction and wind included,
   so it matches that shot's arrival pattern shifted in time to a fraction of a ms
   (``repeat_tolerance_s``) where a new source can only be checked against the model's
   ``tolerance_s``.  The earliest repeat within ``REPEAT_AHEAD_S`` of the front is taken
   first: in automatic fire each round claims its arrivals before the periodic aliases of
   the burst (sources made of different rounds' arrivals) can.  A place (``_Place``) learns
   which sensors hear it: a repeat expects each sensor as often as it heard the place's
   rounds so far (``_p_hear``; sensors behind a building hear only a gun's loud first round),
   and, when a round is short of sensors, not at all one still deaf from another shot's
   arrival (``_blind``) or in the coda of a sound as loud as the round (``_masked``: the
   other gun of an interleaved pair).  A repeat takes in the sensors that fit it but did not
   match its pattern (``_widen``; not those it was let off as deaf), and a delay two rounds confirmed
   is kept against a round that took another gun's arrival (``_remember``).  A source within
   ``GHOST_M`` and ``MIN_ROUND_S`` of a round is that round's image in a wall, never a round
   of its own.  A gun's rounds reach a sensor within a few dB of each other, so a repeat far
   weaker than its place's rounds (``LEVEL_DROP_DB``) is street noise or coda that lined up
   at its delays (``_too_weak``), and does not count as a repeat, nor as support below.
2. *New sources* (the numba kernel ``best_hypotheses``).  Every strong detection near the
   front anchors minimal sets: one gated partner (from ``tolerance_s`` before the anchor to
   ``d/c + margin`` after it, mlat-server's gate made one-sided) at each of two of its ``K``
   nearest sensors fixes ``(x, y, t0)`` in closed form at the source height, in the frame of
   the moving air.  Partners are the first ``depth`` strong detections of a gate and its
   ``depth`` rarest: front first, the earliest unresolved shot's arrivals are among them.
   Each minimal set that a loose check keeps is refined on the arrivals it gathers (robust
   Gauss-Newton at a tightening tolerance, as in LO-RANSAC) and scored by Ledeczi's
   consistency function weighted by how surprising each detection is (``surprise_weights``).

With 4-6 sensors (``support_max_sensors``) a new source may also count the rounds that repeat
its arrival pattern (``_Search.pattern_support``): one round has too few redundant arrivals to
stand out of a noisy street, a string of them does.  In a search over that few sensors the
strings also propose hypotheses (``_Search._strings``): every sensor hears a gun's next round
after the same interval, so detections that recur after one interval at several sensors
within a wavefront's reach of the anchor are a round, whatever the model error of the
sensors' positions; they compete with the kernel's best by evidence.  There a later round
may repeat its place's pattern at two sensors (``SPARSE_REPEAT_SENSORS``), too few to solve:
it is timed at the place (``_Search._pinned``).  And a kernel set that fails there is tried
again with the stronger arrivals just before its members (``_Search._blasts_before``): one
echo that fits tighter than its blast sinks a fit with no redundant arrival to spare.  When
nothing passes, a string of three rounds or more whose rounds recur together at two sensors
only is fitted two rounds at a time, the later round's arrivals moved back by the interval
(``_Search._stacked``): one place, one fit, however few sensors hear each round sharp (its
levels must be known, ``_same_gun``).

The best hypothesis is solved by ``locator.solve.solve`` (robust; it may leave out a sensor
with a bad clock), challenged by the hypotheses anchored beside its arrivals and by the
stronger arrivals just before them (``_Search._challenge``: an alias of two rounds, a fit to
echoes), and accepted when its evidence against chance (``_Search.evidence``: a
log-likelihood ratio from each sensor's own rate of detections at least as strong) clears
``min_evidence``.  "Strong" is ``strength_db``: the SNR, capped by how far a detection
rises above the decaying level of the sensor's previous detections, so echoes and coda
rank low.  A new source is refused when its residuals are several times looser than the
shots accepted so far (``ALIAS_RATIO``) or when most of its arrivals ride below an earlier
blast (median strength < 0): both mark ghosts built from other shots' arrivals.

Why this and not the alternatives: a (x, y, t) grid (REAL) or a consistency-function grid
needs cells of ~2 m to separate wavefronts 20-45 m apart (automatic fire), i.e. ~10^5-10^6
cells for a 1-2 km site times every detection, redone after each shot; GaMMA's mixture
needs the number of events and breaks on 3-round strings (SOURCES.md).  Here the cost per
anchor is bounded: ``C(K,2) (2 depth)^2`` minimal sets, each checked on ``S`` sensors by
binary search, plus one vectorised pattern match per remembered place.  Measured figures:
benchmarks/bench_associate.py.

The online form (:class:`OnlineAssociator`) runs the same search over a buffer and
releases a shot once every sensor that could have heard it has had time to (its emission
time plus the longest travel time to any sensor, plus the tolerance and margin); released
shots stay patterns for later rounds (``REPEAT_MEMORY_S``).  A live search knows the stream
only up to its present (``horizon_ns``): each sensor's rate is counted over the part of its
window heard so far (``_associate_kernels.covered_s``).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from locator.incidents import ECHO_FAR, ECHO_MAX_LAG_S, ECHO_STEADY_S
from salvo.errors import ConfigError, InputError
from sensor_node.protocol import Detection

from salvo.utc import NS_PER_S as NS  # ns per s
#: Half-width of the window over which a sensor's detection rates are counted, s.
RATE_HALF_S = 5.0
#: Shots closer than this are one place, with one repeat pattern, m.
REPEAT_SAME_M = 5.0
#: Shortest time between two rounds of one gun, s (1,000 rounds/min is 60 ms).
MIN_ROUND_S = 0.05
#: How far past the anchor window repeats are looked for, s.
REPEAT_AHEAD_S = 2.0
#: A new source whose residuals are this many times looser than the median accepted shot's is
#: taken for an alias (``_Search.refine``).
ALIAS_RATIO = 3.0
#: How long a pattern is remembered after its latest shot, s (a shooter's string or a gunfight).
REPEAT_MEMORY_S = 60.0
#: A source this close to a round of an accepted shot, and within ``MIN_ROUND_S`` of it, is that
#: shot's image in a wall beside the shooter (mirrored twice the wall's distance away, heard
#: directly at some sensors and via the wall at others), not a second gun, m.
GHOST_M = 20.0
#: Narrowest window a repeat's evidence counts chance detections in, s: a few samples of
#: picker error (rounds differ a little in waveform).
REPEAT_FLOOR_S = 0.0003
#: How far before a new source's arrival at a sensor a stronger one may be its blast, in
#: tolerances (``_Search._earlier``: diffraction and a wrong fit put the echo it took 10-30 ms
#: after the blast).
EARLIER_TOLERANCES = 4.0
#: Heights above the gun's at which a new source is also tried, m (``_Search._aloft``) ...
AERIAL_HEIGHTS_M = (60.0, 90.0, 120.0, 150.0)
#: ... and how much more evidence one of them needs to be taken, nats.  Gunfight seeds 101-106:
#: the aerial bursts gained 7-23 (most 13-15), the first rounds of two bursts on the ground 6.4
#: and 9.8 (aloft, a ground reflection or two more fit); 12 took every burst called gunfire before.
AERIAL_NATS = 12.0
#: ... and only a source with this many arrivals is tried aloft (the Pittsburgh audio's 4-6
#: sensor fits lost a round to it; the gunfight's aerial bursts had 10-13).
AERIAL_MIN_SENSORS = 8
#: A hypothesis whose evidence at the kernel's own source is this far below ``min_evidence`` is
#: not refined, nats (``_Search._hopeless``).  Refining lifted accepted shots by at most 11.9 on
#: gunfight seeds 101-106 and 7.7 on the Pittsburgh FP1+FP2 audio; 20 skips 37% of the failing
#: refines of the gunfight.
HOPELESS_NATS = 20.0
#: How many times a new source's arrivals may be claimed by a better one (``_Search._challenge``).
CHALLENGES = 2
#: ... anchored at the strong detections this close to one of its arrivals, s (the round
#: before or after in the fastest automatic fire, plus the wall echo it took instead).
RIVAL_S = 0.1
#: ... and fired at most this long before or after it, s.  The aliases of a burst sit where its
#: rounds' arrivals, echoes and diffracted paths line up: a round period off (near sensors one
#: round, far sensors the next) or a few hundred metres away (the simulator's small-city seed
#: 3: 240 m from the gun, 0.4 s before its first round; 0.1 s let it keep the arrivals and seven
#: more ghosts repeat it).  Unbounded, gunfight seed 121 called one firecracker gunfire; 0.5 and
#: 1.0 s gave the same on the 18 tuning seeds as 0.1.
RIVAL_T0_S = 1.0
#: A sensor outside a repeat's pattern joins it when its detection fits within this share of
#: ``tolerance_s`` (``_Search._widen``): all of it, as for a new source (gunfight seeds 101-106:
#: 0.5 left out sensors whose position errors cost 6-7 ms; 0.75 and 1.0 did as well otherwise).
WIDEN_FRACTION = 1.0
#: A repeat whose arrivals are, in median over its sensors, this much weaker than the place's
#: rounds at the same sensors is refused (``_Search._too_weak``), dB.  One gun's rounds reach a sensor
#: within a few dB of each other (charge, turbulence); a chance line-up of street noise or coda
#: at the pattern's delays is 15-35 dB below a blast (Pittsburgh FP1 audio: the false repeats
#: of a single round were 25-35 dB below it).
LEVEL_DROP_DB = 12.0
#: How many rounds' worth of ``detection_probability`` a place's record of which sensors heard
#: its rounds starts from (``_Search._p_hear``).
PRIOR_ROUNDS = 2
#: After a detection a node's detector is deaf this long to all but a much louder sound, s (the
#: refractory time of ``dsp.DetectorConfig``): a round arriving then is not missed by chance.
BLIND_S = 0.008
#: ... and deaf this long after any sound at least as loud as the round would be there, s: the
#: sound's coda (its echoes and reverberation, still near its level for tens of ms) keeps the
#: trigger's recent-energy reference up, and a round no louder than it does not step out of
#: it.  Two guns firing interleaved put each one's rounds in the other's coda at the sensors
#: nearer the other.  Only a round short of ``repeat_fraction`` is let off these sensors
#: (``_best_repeat``); one with enough is still expected at all of them.  Gunfight tuning seeds
#: (before ``_widen`` kept out deaf sensors): 15, 20 and 30 ms gave 1,086, 1,087 and 1,088 of
#: 1,098 rounds with 3, 3 and 8 extra shots, against 1,082 and 3 without; the fireworks called
#: gunfire went from 2 to 0 (with ``_widen`` as it is, 20 ms: 1,086 and 3, exact shot counts 49 ->
#: 50 of 54).  Counting it for every round, not only the short ones, lost rounds.
MASK_S = 0.02
#: A place's pattern is, per sensor, the median of the delays that agree among its last this
#: many rounds (``_pattern_delays``): a weak diffracted arrival's pick wanders by 1-3 ms from
#: round to round (15% of them by more than 1 ms on gunfight seeds 101-106, against 2% of
#: direct ones), and one round may have taken an echo.
PATTERN_ROUNDS = 15
#: Automatic fire: a place whose last ``CADENCE_ROUNDS`` intervals are each within
#: ``CADENCE_JITTER`` of their median, itself at most ``CADENCE_MAX_S`` (s), is expected to fire
#: again one or two intervals after its last round (``_on_cadence``).  One interval: two rounds
#: this close set the beat (aimed fire is rarely that fast; 800 rounds/min is 75 ms).
CADENCE_ROUNDS = 1
CADENCE_JITTER = 0.2
CADENCE_MAX_S = 0.2
CADENCE_FRACTION = 0.35
#: Rounds after a candidate that ``_Search._train`` looks for on its beat.
TRAIN_BEATS = 4
#: ... each within this much of its beat, s (a gun's cycle varies by a few ms).
TRAIN_SLACK_S = 0.006
#: Most candidate repeats scored by ``_Search.pattern_support`` (a 3-round string has 2).
SUPPORT_TRIES = 4
#: At most this share of a repeat's matching detections may be ones an accepted shot took.
#: Two guns a few metres apart firing a few ms apart: where their arrivals at a sensor
#: coincide to a fraction of a ms, the node makes one detection (its refractory time), and
#: that detection repeats both places' patterns.  A candidate made mostly of other shots'
#: arrivals is a ghost of them.  Tuning seeds: 1,073 -> 1,076 rounds, the same from 1/3 to 5/6.
SHARED_MAX = 0.5
#: Fewest sensors at which a round must repeat its place's pattern in a search over at most
#: ``support_max_sensors`` sensors (``_Search._pinned``).  Two arrivals that recur with the
#: pattern's delay between them to ``repeat_tolerance_s`` time a round at a place already
#: located; with 4-6 sensors a string's later rounds are often heard sharp at no more
#: (Pittsburgh FP2 test_031: round 2 at 2 of 4).  The evidence still decides, as for any repeat.
SPARSE_REPEAT_SENSORS = 2


@dataclass(frozen=True, slots=True)
class AssociationConfig:
    """Settings of the associator.

    Attributes
    ----------
    c_mps : float
        Speed of sound, m/s (default 343.2, 20 degC).
    tolerance_s : float
        Largest |measured - predicted| arrival time, s, for a detection to count as
        consistent with a source (default 0.008: picker, clock, a metre or two of sensor
        position error; data with worse positions need more, e.g. 0.025 for the
        Pittsburgh audio sidecars).
    gate_margin_s : float
        Slack of the pair gate |dt| <= d/c + margin, s (default 0.030).
    min_sensors : int
        Sensors a shot needs (default 4; 3 fix a 2D source exactly and check nothing).  In a
        search over at most ``support_max_sensors`` sensors a later round of an accepted
        shot's place may have fewer (``SPARSE_REPEAT_SENSORS``): it is timed at that place.
    neighbours : int
        Nearest sensors of the anchor sensor tried as partners, K (default 4).
    source_z_m : float or None
        Height of the source in the local frame, m; None: the solver's estimate from the
        sensor heights (``locator.solve.default_source_z``).
    max_range_m : float or None
        Farthest a source may be from the anchor sensor, m; None: the array's diameter
        plus 300 m.
    min_sigma_s : float
        Floor of a detection's timing sigma given to the solver, s (default 0.002).
    exclude_kinds : tuple of str
        Detection kinds never located (default none).
    repeat_only_kinds : tuple of str
        Detection kinds that only take part in repeats of a place's pattern (default
        ``nwave``).  A supersonic bullet's shock wave reaches a sensor before the blast and
        fits no source, but the node's N-wave test (a short first pulse, swinging to the other
        polarity, then another arrival) also passes a loud pistol blast followed by its echo:
        in the simulated gunfight's 18 tuning seeds, 3.9% of the 9 mm's detections within 1 ms
        of a first arrival, often a sensor's strongest.  A detection that repeats a place's
        arrival delay to a fraction of a ms is that place's blast whatever its label, while a
        real N-wave, ms early, does not match.  Such detections stay out of the chance rates,
        strengths and new sources.
    detection_probability : float
        Probability that a sensor in hearing range detects a shot (default 0.8).  It depends on
        the site: on ShotSpotter's Pittsburgh audio the node's detector finds 97% of the pulses
        ShotSpotter grouped into rounds, while in the simulated gunfight the sensors that
        detected a burst's first round detected each later one 65-73% of the time (the rest
        lost in the coda of the round before).  0.7 gave 6 fewer extra shots on gunfight tuning
        seeds (101-106, 110-121) and 2 fewer rounds on the Pittsburgh FP1 audio.
    hear_range_m : float or None
        Sensors farther than this from a source are not expected to hear it, m (None: all).
    min_evidence : float or None
        Smallest log-likelihood ratio, source against chance, for a shot to be accepted (see
        ``_Search.evidence``).  None: ``8 + 0.75 * min(S, 16)`` for ``S`` sensors (20 from 16
        sensors up, 14 for 8): the ways chance detections can line up grow with the sensors
        there are to line up on, until the sensors out of earshot of one another no longer
        add to them.  Chosen on the hand-made streams of the tests, gunfight seed 1 and the
        Pittsburgh FP1+FP2 pulses.
    wind_mps : tuple of float or None
        Known horizontal wind (towards east, north), m/s, e.g. from ``site.json``; None: calm.
    fit_wind_min_sensors : int
        Shots with at least this many sensors also fit the wind (two more unknowns; default 0,
        never: the known wind is used, and fitting two more unknowns costs precision).
    shadow_s : float or None
        After a shot is accepted, the detections at each of its sensors up to ``shadow_s`` after
        the one it used are retired too: the ground reflection and the echoes off the sensor's
        own building would otherwise build a copy of the shot a few ms later (default None:
        ``tolerance_s``).
    anchor_window_s : float
        Anchors within this much of the earliest unresolved detection compete for the next
        shot, s (default 0.5; see ``_Search.run``).
    order : str
        ``"front"`` (default: shots taken from the front of the stream, see ``_Search.run``;
        what the depth-limited partners and the repeats assume) or ``"best"`` (the
        best-scoring hypothesis anywhere first; use with ``depth=0``, at many times the cost).
    step_s : float
        Online: stream time between two searches of the buffer, s (default 0.25).
    method : str
        Key in :data:`ASSOCIATORS` (default ``"triples"``).
    strength : str
        What makes a detection count as strong in the chance rates: ``"prominence"`` (default,
        ``strength_db``: SNR, capped by how far it rises above the decaying level of the
        sensor's previous detections, so echoes and coda count as weak) or ``"snr"``.
    min_strength_db : float
        Only detections at least this strong (``strength``; unknown counts as strong) anchor
        or partner a minimal set, dB (default 0); any detection can join a shot found.
    burst_window_s, burst_extra_evidence : float
        A new source within ``burst_window_s`` (s) of a remembered place's round needs
        ``burst_extra_evidence`` (nats) more than ``min_evidence`` (defaults 1 s, 10: chosen on
        gunfight tuning seeds 101-106 and 110-121 between lost rounds and aliases; rounds found
        and extra shots were 1027 / 18 at 6, 1023 / 15 at 8, 1025 / 7 at 9, 1025 / 5 at 10,
        1016 / 5 at 11, of 1098 rounds).
    max_strong_rate_hz : float
        ... and only detections whose sensor makes fewer this strong per second (within
        +-``RATE_HALF_S``; default 5: a burst of automatic fire is ~13 rounds/s for 2 s).
    repeat_tolerance_s : float
        Largest |measured - predicted| arrival time, s, for a detection to match an earlier
        shot's pattern (``_Search.repeat``; default 0.002; 0 turns repeats off).
    repeat_fraction : float
        Share of the sensors expected to hear a place's next round that a repeat must match
        (default 0.5; see ``_Search._expected``).
    repeat_bonus : float
        How much less evidence a repeat needs than a new source, nats (default 4, about
        ``log(C(K,2) depth^2)``: a repeat is one hypothesis per pattern and anchor, a new
        source one of the minimal sets an anchor tries).  Chosen on gunfight seed 101.
    cadence_bonus : float
        How much less evidence still a repeat needs where a place firing automatically puts its
        next round (``_on_cadence``: its last ``CADENCE_ROUNDS`` intervals steady, at most
        ``CADENCE_MAX_S``), nats (default 10); there it also needs to match only
        ``CADENCE_FRACTION`` of the expected sensors.  The prior odds of a round at the
        burst's next beat are near even, not those of a source at any place and time: a
        round heard by 6 of 16 sensors (the rest deaf in the coda of the round before) is
        found.  Chosen on gunfight tuning seeds 101-106 and 110-121: rounds found / extra
        shots / exact shot counts of 54 incidents were 1033 / 7 / 30 at 0, 1042 / 7 / 33 at 4
        (fraction 0.5), 1052 / 5 / 36 at 8, 1054 / 5 / 38 at 10, 1055 / 5 / 38 at 12, 1053 / 8
        / 37 at 16 (steady: 3 intervals within 15%), 1059 / 5 / 40 with 2 within 20%, and
        1063 / 5 / 42 with one (two rounds within ``CADENCE_MAX_S`` set the beat).  The
        Pittsburgh audio (aimed strings) was unchanged.
    depth : int
        Partners per neighbour sensor of a minimal set: the first ``depth`` active strong
        detections of its gate (default 2; 0: all, cost quadratic in the gate's detections).
    support_max_sensors : int
        Where at most this many sensors are in hearing range of a new source, it also counts
        the evidence of rounds within ``REPEAT_AHEAD_S`` that repeat its arrival pattern
        (``_Search.pattern_support``; default 6, 0: never).  With
        4-6 sensors a round has one to three redundant arrivals and cannot stand out of a noisy
        street on its own (chosen on the Pittsburgh FP1+FP2 audio); with more, a real shot
        has the evidence alone, while the aliases of a regular burst (built from neighbouring
        rounds' arrivals) repeat as faithfully as its rounds do and would gain from it.
    support_min_strength_db : float
        ... and only when the median ``strength_db`` of its four strongest arrivals is at least this, dB
        (default 20).  Street noise repeats too (a rattle, footsteps): strings of weak impulses
        vouched for one another and turned 19 gunfire shots into 263 on the Pittsburgh audio.
        Chosen on FP1+FP2 for the best balance (F1) of rounds within 15 m against gunfire
        shots reported: 10 dB 24 / 77, 15 dB 24 / 56, 20 dB 21 / 35, 25 dB 19 / 31.  Arrivals of
        unknown strength count as strong.
    strength_window_s : float
        How far back ``strength_db`` looks, s (default ``incidents.ECHO_MAX_LAG_S``, 0.5: the
        longest lag of an echo behind its blast).  At 0.3 s (before session 15) an echo 0.3-0.4 s
        late, as the Pittsburgh sensors' walls return them, stood out at its full SNR, and at a
        sparse array the echoes that recur with a string made strings of their own.
    strength_decay_db_per_s : float
        How fast an earlier detection's level is taken to fade, dB/s (default 50).
    """

    c_mps: float = 343.2
    tolerance_s: float = 0.008
    gate_margin_s: float = 0.030
    min_sensors: int = 4
    neighbours: int = 4
    source_z_m: float | None = None
    max_range_m: float | None = None
    min_sigma_s: float = 0.002
    exclude_kinds: tuple[str, ...] = ()
    repeat_only_kinds: tuple[str, ...] = ("nwave",)
    detection_probability: float = 0.8
    hear_range_m: float | None = None
    min_evidence: float | None = None
    wind_mps: tuple[float, float] | None = None
    fit_wind_min_sensors: int = 0
    shadow_s: float | None = None
    anchor_window_s: float = 0.5
    order: str = "front"
    step_s: float = 0.25
    method: str = "triples"
    strength: str = "prominence"
    min_strength_db: float = 0.0
    max_strong_rate_hz: float = 5.0
    repeat_tolerance_s: float = 0.002
    repeat_fraction: float = 0.5
    repeat_bonus: float = 4.0
    cadence_bonus: float = 10.0
    burst_window_s: float = 1.0
    burst_extra_evidence: float = 10.0
    depth: int = 2
    support_max_sensors: int = 6
    support_min_strength_db: float = 20.0
    strength_window_s: float = ECHO_MAX_LAG_S
    strength_decay_db_per_s: float = 50.0

    def __post_init__(self) -> None:
        for name in ("c_mps", "tolerance_s", "step_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"association: {name} must be > 0, got {getattr(self, name)!r}")
        if self.min_sensors < 3:
            raise ConfigError(f"association: min_sensors must be >= 3, got {self.min_sensors}")
        if self.neighbours < 2:
            raise ConfigError(f"association: neighbours must be >= 2, got {self.neighbours}")
        if self.order not in ("front", "best"):
            raise ConfigError(f"association: order {self.order!r} is not 'front' or 'best'")
        if self.strength not in ("prominence", "snr"):
            raise ConfigError(f"association: strength {self.strength!r} is not 'prominence' or 'snr'")
        if self.method not in ASSOCIATORS:
            raise ConfigError(f"association: method {self.method!r} is not one of {sorted(ASSOCIATORS)}")
        for name in ("depth", "support_max_sensors", "repeat_tolerance_s"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"association: {name} must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 < self.detection_probability < 1.0:
            raise ConfigError(f"association: detection_probability must be in (0, 1), got {self.detection_probability!r}")


@dataclass(frozen=True, slots=True)
class SensorTable:
    """Sensor ids and local positions, the associator's view of the array.

    Attributes
    ----------
    ids : tuple of str
    pos_m : numpy.ndarray, shape (S, 3)
        Local east-north-up positions, m.
    """

    ids: tuple[str, ...]
    pos_m: np.ndarray
    index: Mapping[str, int] = field(repr=False)

    @classmethod
    def from_any(cls, sensors: Any) -> SensorTable:
        """Build from a mapping ``{sensor_id: (x, y, z)}``, a SensorTable, or objects with
        ``sensor_id`` and ``pos_m`` attributes."""
        if isinstance(sensors, SensorTable):
            return sensors
        if isinstance(sensors, Mapping):
            items = [(str(k), v) for k, v in sensors.items()]
        else:
            items = [(str(s.sensor_id), s.pos_m) for s in sensors]
        ids = tuple(k for k, _ in items)
        if len(set(ids)) != len(ids):
            raise InputError("sensors: duplicate sensor_id")
        pos = np.array([np.asarray(v, dtype=np.float64).reshape(3) for _, v in items]).reshape(-1, 3)
        if not np.all(np.isfinite(pos)):
            raise InputError("sensors: a position is not finite")
        return cls(ids, pos, {k: i for i, k in enumerate(ids)})

    @property
    def diameter_m(self) -> float:
        if len(self.ids) < 2:
            return 0.0
        d = np.linalg.norm(self.pos_m[:, None, :] - self.pos_m[None, :, :], axis=-1)
        return float(d.max())


@dataclass(frozen=True, slots=True)
class Shot:
    """One located shot: a source consistent with detections at several sensors.

    Attributes
    ----------
    t0_ns : int
        Estimated emission time, UTC ns.
    pos_m : numpy.ndarray, shape (3,)
        Local position, m.
    err_m : float
        1-sigma horizontal error radius the solver believes, m.
    cov_m2 : numpy.ndarray, shape (3, 3)
    detections : tuple of Detection
        The detections the solution used, one per sensor, in time order.
    sensor_pos_m : numpy.ndarray, shape (n, 3)
        Positions of those detections' sensors, m.
    residual_s : numpy.ndarray, shape (n,)
        Measured minus predicted arrival time of each used detection, s.
    n_candidates : int
        Sensors whose detection matched before the solver's outlier rejection.
    solution : object
        The solver's ``Solution``.
    """

    t0_ns: int
    pos_m: np.ndarray
    err_m: float
    cov_m2: np.ndarray
    detections: tuple[Detection, ...]
    sensor_pos_m: np.ndarray
    residual_s: np.ndarray
    n_candidates: int
    solution: Any = field(repr=False)

    @property
    def sensor_ids(self) -> tuple[str, ...]:
        return tuple(d.sensor_id for d in self.detections)

    @property
    def first_ns(self) -> int:
        return min(d.t_ns for d in self.detections)


@functools.lru_cache(maxsize=64)
def _windows(floor_s: float, tol_s: float) -> np.ndarray:
    """The windows a repeat's evidence scans, s: 4, geometrically spaced from ``floor_s`` to ``tol_s``."""
    ws = np.geomspace(floor_s, tol_s, 4) if tol_s > floor_s else np.array([tol_s])
    ws.setflags(write=False)
    return ws


def _on_cadence(rounds: Sequence[float], t0: float) -> bool:
    """Whether emission time ``t0`` (s) is where a place firing automatically, its earlier
    rounds at ``rounds`` (s), fires next (or after one round missed)."""
    # plain Python: a few rounds, called for every short candidate of a burst
    before = sorted(r for r in rounds if r < t0 - 0.5 * MIN_ROUND_S)[-CADENCE_ROUNDS - 1 :]
    if len(before) < CADENCE_ROUNDS + 1:
        return False
    gaps = [b - a for a, b in zip(before, before[1:])]
    d = float(statistics.median(gaps))
    if d > CADENCE_MAX_S or max(abs(g - d) for g in gaps) > CADENCE_JITTER * d:
        return False
    k = round((t0 - before[-1]) / d)
    return k in (1, 2) and abs(t0 - before[-1] - k * d) <= CADENCE_JITTER * d


def _pattern_delays(vals: np.ndarray, tol_s: float) -> np.ndarray:
    """Each sensor's delay in a place's pattern from its recent rounds' delays ``vals`` (r, k),
    oldest first, s (NaN: not heard; each column heard at least once): the median of the
    largest group within ``tol_s`` of one of them (the newest such on a tie).  A round may
    have given the sensor an echo or another gun's arrival; the rounds that agree outvote it,
    and their median evens out the pick.  Returns (k,), s."""
    ok = np.isfinite(vals)
    near = (np.abs(vals[:, None, :] - vals[None, :, :]) <= tol_s) & ok[:, None, :] & ok[None, :, :]  # (r, r, k)
    n = near.sum(axis=1)  # (r, k): rounds within tol_s of each
    r = vals.shape[0]
    best = r - 1 - np.argmax(n[::-1], axis=0)  # the newest of the largest groups
    cols = np.arange(vals.shape[1])
    group = np.where(near[best, :, cols], vals.T, np.nan)  # (k, r)
    return _row_medians(group)


class _Place(NamedTuple):
    """Where accepted shots were fired, for repeats: the arrival pattern of its rounds.

    Attributes
    ----------
    pos : (3,) position, m.  sp : (k,) the sensors that heard it.  delay : (k,) their
    arrival - emission times, s.  rounds : emission times of its rounds, s.  hits : (k,) how
    many rounds each sensor heard.  recent : (r, S) the arrival - emission times of its last
    r <= ``PATTERN_ROUNDS`` rounds at every sensor, s (NaN: not heard), in the place's time frame.
    levels : (r, S) the peak levels of those rounds' arrivals, dB (NaN: not heard or unknown).
    sol : the solver's ``Solution`` of the round that placed it at ``pos`` (None: unknown), which a
    round matched at too few sensors to solve keeps (``_pinned``).  frame_s : how much later
    that round's arrivals fell, less its emission time, than ``delay`` (its own fit's offset
    from the place's time frame), s.
    """

    pos: np.ndarray
    sp: np.ndarray
    delay: np.ndarray
    rounds: list[float]
    hits: np.ndarray
    recent: np.ndarray
    levels: np.ndarray
    sol: Any = None
    frame_s: float = 0.0


class _Found(NamedTuple):
    """A hypothesis that cleared ``min_evidence``: the shot, its detections (indices) and its
    evidence, nats (a sparse array's new source: with its string's ``pattern_support``)."""

    shot: Shot
    used: np.ndarray
    evidence: float


def _median(a) -> float:
    """Median of a short, non-empty array without NaN (``np.median``'s overhead is 20x the
    sort of 16 numbers)."""
    a = np.sort(np.asarray(a, dtype=np.float64), axis=None)
    n = a.size
    return float(a[n // 2]) if n % 2 else float(0.5 * (a[n // 2 - 1] + a[n // 2]))


def _row_medians(a: np.ndarray) -> np.ndarray:
    """(m,) the median of each row of ``a`` (m, k) over its finite entries (NaN where none).
    ``np.nanmedian`` along an axis loops in Python over small arrays."""
    srt = np.sort(np.where(np.isfinite(a), a, np.inf), axis=1)  # the unknown sort last
    n = np.isfinite(srt).sum(axis=1)
    lo = np.take_along_axis(srt, np.maximum((n - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(srt, np.maximum(n // 2, 0)[:, None], axis=1)[:, 0]
    with np.errstate(invalid="ignore"):
        return np.where(n > 0, 0.5 * (lo + hi), np.nan)


def _robust_scale(res: np.ndarray) -> float:
    """Robust standard deviation of a shot's residuals, s (MAD, inflated for the 3 fitted unknowns)."""
    n = res.size
    return 1.4826 * _median(np.abs(res)) * math.sqrt(n / max(n - 3, 1))


def _usable(detections: Iterable[Detection], table: SensorTable, cfg: AssociationConfig) -> list[Detection]:
    out = [d for d in detections if d.sensor_id in table.index and d.kind not in cfg.exclude_kinds]
    out.sort(key=lambda d: (d.t_ns, d.sensor_id))
    return out


def travel_s(src: np.ndarray, sensors: np.ndarray, c: float, wind: np.ndarray) -> np.ndarray:
    """Travel time, s, from ``src`` (3,) to each of ``sensors`` (n, 3) through air moving with
    horizontal ``wind`` (2,), m/s: the sound front is carried along, so |d - w t| = c t."""
    d = sensors - src
    w = np.array([wind[0], wind[1], 0.0])
    a = c * c - float(w @ w)
    b = d @ w
    return (np.sqrt(b * b + a * np.einsum("ij,ij->i", d, d)) - b) / a


def strength_db(t_s: np.ndarray, level_db: np.ndarray, snr_db: np.ndarray, window_s: float,
                decay_db_per_s: float) -> np.ndarray:
    """How much each detection of one sensor stands out, dB: its SNR, but never more than its
    level above the strongest detection of the previous ``window_s`` seconds, that one's level
    lowered by ``decay_db_per_s`` for the time since.

    The direct path of a shot is the first and, as a rule, the loudest thing a sensor hears
    of it; its ground reflection, the echoes off walls and the reverberant coda follow within
    a few hundred ms and are quieter.  A shot after quiet therefore keeps its SNR, while an
    echo rides below the decaying level of the blast that caused it and comes out negative;
    the decay lets the next round of automatic fire (60-100 ms later, as loud as the last)
    stand out again.  Causal (uses only earlier detections), so online and offline agree.

    Parameters
    ----------
    t_s : numpy.ndarray, shape (n,)
        Detection times of one sensor, s, sorted.
    level_db : numpy.ndarray, shape (n,)
        Peak level, dB (any fixed reference; NaN: unknown, then ``snr_db`` is used).
    snr_db : numpy.ndarray, shape (n,)
        Detector SNR, dB (NaN: unknown).
    window_s, decay_db_per_s : float

    Returns
    -------
    numpy.ndarray, shape (n,)
        NaN where neither level nor SNR is known.
    """
    from locator._associate_kernels import strength_windows

    t_s = np.ascontiguousarray(t_s, dtype=np.float64)
    snr = np.asarray(snr_db, dtype=np.float64)
    lev = np.ascontiguousarray(np.where(np.isfinite(level_db), level_db, snr), dtype=np.float64)
    out = np.empty(t_s.size)
    strength_windows(t_s, lev, np.ascontiguousarray(snr), float(window_s), float(decay_db_per_s), out)
    return out


def as_strong_rate_hz(t: np.ndarray, snr_db: np.ndarray, sens: np.ndarray, n_sens: int,
                      half_s: float = RATE_HALF_S, t_end: np.ndarray | None = None) -> np.ndarray:
    """Per detection, how often its sensor makes a detection at least as strong, per s: the
    count of such other detections within +-``half_s`` over ``2 half_s``, or over the part of
    it before ``t_end[s]`` (s), the time up to which sensor ``s``'s detections are known
    (``_associate_kernels.covered_s``; None: all are); at least one per ``2 half_s``.  Unknown
    strengths (NaN) count as equal to every other."""
    rate = np.empty(t.size)
    for s in range(n_sens):
        ix = np.flatnonzero(sens == s)
        if ix.size == 0:
            continue
        tt, ss = t[ix], snr_db[ix]
        near = np.abs(tt[:, None] - tt[None, :]) <= half_s
        known = np.isfinite(ss)
        stronger = np.where(known[:, None] & known[None, :], ss[None, :] >= ss[:, None], True)
        n_as = (near & stronger).sum(axis=1) - 1
        span = 2.0 * half_s if t_end is None else _covered_s(tt, half_s, float(t_end[s]))
        rate[ix] = np.maximum(n_as / span, 0.5 / half_s)  # the floor: one a whole window
    return rate


def _covered_s(x: np.ndarray, half: float, t_end) -> np.ndarray:
    """``_associate_kernels.covered_s`` over arrays (``t_end`` scalar or per element), s."""
    return np.minimum(2.0 * half, np.maximum(half, t_end - (x - half)))


def surprise_weights(rate_hz: np.ndarray, window_s: float) -> np.ndarray:
    """Weight of each detection in the hypothesis score: ``-log P``, where ``P`` is the chance
    that the sensor makes a detection at least as strong inside a ``window_s`` window, from
    its rate of such detections (:func:`as_strong_rate_hz`).

    A muzzle blast is among the loudest things a sensor hears, so a strong detection on a
    sensor that hears few such is worth more than a weak one in a stream of reverberation
    and street noise; the same number, with the window a shot's residuals fill, is what
    ``_Search.evidence`` adds up.
    """
    return -np.log1p(-np.exp(-rate_hz * window_s))


class _Search:
    """One association search over a fixed list of detections (sorted by time)."""

    def __init__(self, dets: Sequence[Detection], table: SensorTable, cfg: AssociationConfig,
                 context_ns: Sequence[Sequence[tuple[int, float, float]]] | None = None,
                 prior: Sequence[Shot] = (), horizon_ns: int | None = None):
        self.dets = dets
        self.table = table
        self.cfg = cfg
        n_sens = len(table.ids)
        self.ref_ns = dets[0].t_ns
        self.t = np.array([(d.t_ns - self.ref_ns) * 1e-9 for d in dets])
        self.sens = np.array([table.index[d.sensor_id] for d in dets], dtype=np.int64)
        # The solver's sigma: the picker's and clock's, but never below what the tolerance says
        # the model can do (a third of it: sensor positions, propagation), so that the robust
        # fit does not throw out good arrivals for model error it was not told about.
        floor = max(cfg.min_sigma_s, cfg.tolerance_s / 3.0)
        self.sigma = np.array([max(d.sigma_s, floor) if math.isfinite(d.sigma_s) else floor for d in dets])
        self.level = np.array([d.peak_dbfs if math.isfinite(d.peak_dbfs) else np.nan for d in dets])  # dB
        self.active = np.ones(len(dets), dtype=np.bool_)
        self.taken = np.zeros(len(dets), dtype=np.bool_)  # used by an accepted shot
        order = np.lexsort((self.t, self.sens))
        self.order = order.astype(np.int64)
        self.st = self.t[order]
        self.slev = self.level[order]  # peak levels in the same order, dB
        self.ptr = np.zeros(n_sens + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.sens, minlength=n_sens), out=self.ptr[1:])
        pos = table.pos_m
        self.dist = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
        k = min(cfg.neighbours, n_sens - 1)
        nbr = np.argsort(self.dist, axis=1, kind="stable")[:, 1 : k + 1]
        self.nbr = np.ascontiguousarray(nbr, dtype=np.int64)
        if cfg.source_z_m is not None:
            self.z0 = float(cfg.source_z_m)
        else:
            from locator.solve import default_source_z

            self.z0 = default_source_z(pos)
        self.wind = np.array(cfg.wind_mps if cfg.wind_mps is not None else (0.0, 0.0), dtype=np.float64)
        self.max_range = cfg.max_range_m if cfg.max_range_m is not None else table.diameter_m + 300.0
        # accepted shots' places and their arrival patterns, for ``repeat``
        self.patterns: list[_Place] = []
        self.rep_dead = np.zeros(len(dets), dtype=np.bool_)
        self.scales: list[float] = []  # robust residual scale of each accepted shot, s
        for shot in sorted(prior, key=lambda q: q.t0_ns):  # shots released earlier (online)
            mine = [d for d in shot.detections if d.sensor_id in table.index]  # a pool may hold fewer sensors
            sens = np.array([table.index[d.sensor_id] for d in mine], dtype=np.int64)
            t_det = np.array([(d.t_ns - shot.t0_ns) * 1e-9 for d in mine])
            lev = np.array([d.peak_dbfs for d in mine], dtype=np.float64)
            self._remember(shot.pos_m, sens, t_det, (shot.t0_ns - self.ref_ns) * 1e-9, lev, shot.solution)
            self.scales.append(_robust_scale(shot.residual_s))
        m = len(dets)
        self.support = np.zeros(m, dtype=np.int64)
        self.score_ = np.zeros(m)
        self.xyt = np.zeros((m, 3))
        self.members = np.full((m, n_sens), -1, dtype=np.int64)
        # Detection times per sensor (s, relative to ref) that set the chance rates: these
        # detections, plus any the caller already used (online, shots released earlier), and
        # each one's strength (``strength_db``, over the merged stream so that the context's
        # blasts still cast their shadow on the echoes after them).
        self.strength = np.full(m, np.nan)
        # Detections that may only repeat a place's pattern (``repeat_only_kinds``) stay out of
        # everything else: the chance rates, the strengths, new sources.
        self.new_ok = np.array([d.kind not in cfg.repeat_only_kinds for d in dets], dtype=np.bool_)
        self.rate_t, self.rate_strength = [], []
        for s in range(n_sens):
            own = self.order[self.ptr[s] : self.ptr[s + 1]]
            own = own[self.new_ok[own]]
            rows = [(self.t[i], dets[i].peak_dbfs, dets[i].snr_db, i) for i in own]
            if context_ns is not None:
                rows += [((c[0] - self.ref_ns) * 1e-9, c[2], c[1], -1) for c in context_ns[s]]
            rows.sort(key=lambda r: r[0])
            arr = np.array([r[:3] for r in rows], dtype=np.float64).reshape(-1, 3)
            idx = np.array([r[3] for r in rows], dtype=np.int64)
            if cfg.strength == "prominence":
                st = strength_db(arr[:, 0], arr[:, 1], arr[:, 2], cfg.strength_window_s, cfg.strength_decay_db_per_s)
            else:
                st = arr[:, 2].copy()
            self.strength[idx[idx >= 0]] = st[idx >= 0]
            self.rate_t.append(arr[:, 0])
            self.rate_strength.append(st)
        # The same, concatenated with sensor s's times offset by s * span, so that one
        # searchsorted finds every sensor's window (``_evidence_terms``).
        # (1e4 s of margin: no predicted arrival falls that far outside the data)
        known = [r for r in self.rate_t if r.size]
        t_lo = min((float(r[0]) for r in known), default=0.0)
        t_hi = max((float(r[-1]) for r in known), default=0.0)
        span = t_hi - t_lo + 2.0 * RATE_HALF_S + 1e4
        self._rate_base = np.arange(n_sens) * span - t_lo
        self._rate_key = np.concatenate([r + b for r, b in zip(self.rate_t, self._rate_base)] or [np.zeros(0)])
        self._rate_str = np.concatenate(self.rate_strength or [np.zeros(0)])
        # How far each sensor's detections are known, s: offline all of them; live, up to the
        # horizon (when every sensor had been heard), or its own latest detection if later (of
        # those that set the rates: a repeat-only one, later still, leaves it a little early).
        self.t_end = np.full(n_sens, np.inf)
        if horizon_ns is not None:
            h = (horizon_ns - self.ref_ns) * 1e-9
            self.t_end[:] = [max(h, float(r[-1])) if r.size else h for r in self.rate_t]
        self._gate_s = 2.0 * table.diameter_m / cfg.c_mps  # widest span of one wavefront's arrivals, s
        rate = np.full(m, np.inf)  # a repeat-only detection weighs nothing in a hypothesis
        ok = self.new_ok
        rate[ok] = as_strong_rate_hz(self.t[ok], self.strength[ok], self.sens[ok], n_sens, RATE_HALF_S, self.t_end)
        self.wgt = surprise_weights(rate, 2.0 * cfg.tolerance_s)
        # anchors and partners: detections that stand out (NaN, unknown, counts as standing out)
        # and are among the few strongest of their sensor's recent ones
        self.strong = ~(self.strength < cfg.min_strength_db) & (rate <= cfg.max_strong_rate_hz) & self.new_ok
        # few sensors: strings of rounds also propose hypotheses (``_strings``)
        self.sparse = 0 < n_sens <= cfg.support_max_sensors and cfg.repeat_tolerance_s > 0
        # fewest pattern sensors a repeat must match (``_enough``)
        self._repeat_min = min(SPARSE_REPEAT_SENSORS, cfg.min_sensors) if self.sparse else cfg.min_sensors
        # (mask, per sensor its indices, their times) of the detections that may join a string
        self._string_per: tuple[np.ndarray, list[np.ndarray], list[np.ndarray]] | None = None
        self._recur: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # ``_recurring``'s, per anchor

    def for_new(self) -> np.ndarray:
        """(n,) bool: the active detections that may start or join a new source."""
        return self.active & self.new_ok

    def score(self, anchors: np.ndarray) -> None:
        from locator._associate_kernels import best_hypotheses

        anchors = np.ascontiguousarray(anchors, dtype=np.int64)
        if anchors.size == 0:
            return
        m = anchors.size
        n_sens = len(self.table.ids)
        sup = np.zeros(m, np.int64)
        score = np.zeros(m)
        xyt = np.zeros((m, 3))
        mem = np.zeros((m, n_sens), np.int64)
        cfg = self.cfg
        best_hypotheses(self.t, self.sens, self.wgt, float(self.wgt.max()), self.for_new(), self.strong, cfg.depth,
                        self.st, self.order, self.ptr, self.table.pos_m,
                        self.nbr, self.dist, anchors, self.z0, cfg.c_mps, float(self.wind[0]), float(self.wind[1]),
                        cfg.tolerance_s, cfg.gate_margin_s,
                        self.max_range, cfg.min_sensors, sup, score, xyt, mem)
        self.support[anchors] = sup
        self.score_[anchors] = score
        self.xyt[anchors] = xyt
        self.members[anchors] = mem

    def _gather(self, pos: np.ndarray, t0: float, wind: np.ndarray, tol_s: float | None = None) -> np.ndarray:
        """Per sensor the active detection nearest the arrival predicted from (pos, t0), within
        ``tol_s`` (None: the tolerance); indices, at most one per sensor."""
        from locator._associate_kernels import gather

        out = np.empty(len(self.table.ids), dtype=np.int64)
        gather(self.t, self.st, self.order, self.for_new(), self.ptr, self.table.pos_m, float(pos[0]), float(pos[1]),
               float(pos[2]), float(t0), self.cfg.c_mps, float(wind[0]), float(wind[1]),
               self.cfg.tolerance_s if tol_s is None else tol_s, out, 0)
        return out[out >= 0]

    def evidence(self, pos: np.ndarray, t0: float, res: np.ndarray, members: np.ndarray,
                 wind: np.ndarray, tol_s: float | None = None, floor_s: float | None = None,
                 p_hear: np.ndarray | None = None) -> float:
        """Log-likelihood ratio of "a source here" against "detections falling at random".

        ``members``: the shot's detections (indices, at most one per sensor), ``res`` their
        residuals, s.  The window a chance detection would have to fall in is what the
        residuals fill (3 robust sigmas, inflated by sqrt(n/dof) for what the fit absorbed;
        a third of the tolerance to the tolerance).  For a sensor that fits, ``P_s`` is the
        chance of a detection *at least as strong* (``strength_db``) as the one it has
        falling in that window, from that sensor's own rate within +-``RATE_HALF_S``; it adds
        ``log(p / P_s)``, with ``p`` the probability that a sensor hears a real shot
        (``detection_probability``).  A sensor that does not fit adds ``log((1 - p) / (1 -
        P_s))`` with the rate of all its detections.  Three arrivals fix a 2D source exactly,
        whatever they are: of the three largest gains the largest is taken off and the other
        two count with the span of a wavefront across the array as window.
        Strong wavefronts across many sensors win; weak echo coincidences in a dense
        stream, and "sources" that most sensors in hearing range contradict, lose.

        A repeat (``floor_s`` given) is placed by the earlier shot's pattern, so only the
        anchor's gain goes, and each sensor is expected to hear it as often as it heard that
        place's rounds before (``p_hear``, (S,), 0 for the sensors that never did; see
        ``_p_hear``): a sensor the place's rounds never reached (too far, behind a building)
        tells nothing by missing one more, and one that hears only the loudest tells little.
        Its residuals are a few hundredths of a ms where the picker took
        the same feature and up to a few samples or a cycle where it did not: the window is
        scanned from ``floor_s`` to ``tol_s`` (4 windows, geometrically spaced) and the best
        kept, less log 4 for the choice.
        """
        from locator._associate_kernels import evidence_windows

        cfg = self.cfg
        res = np.abs(np.asarray(res, dtype=np.float64))
        if floor_s is None:
            tol = cfg.tolerance_s
            # A fit tighter than the model can be (a third of the tolerance, which encodes picker,
            # clock and sensor-position error) is luck with few redundant sensors, not evidence.
            ws = np.array([min(max(3.0 * _robust_scale(res), tol / 3.0), tol)])
            free = 3
        else:
            ws = _windows(floor_s, cfg.tolerance_s if tol_s is None else tol_s)
            free = 1
        members = np.asarray(members, dtype=np.int64)
        out = np.empty(ws.size)
        evidence_windows(self.table.pos_m, np.asarray(pos, dtype=np.float64), float(t0), cfg.c_mps,
                         np.asarray(wind, dtype=np.float64), self._hearing(pos, p_hear), self._rate_key,
                         self._rate_base, self._rate_str, self.sens[members], self.strength[members], res, ws,
                         RATE_HALF_S, self._gate_s, free, self.t_end, out)
        return float(out[0]) if floor_s is None else float(out.max()) - math.log(ws.size)

    def _hearing(self, pos: np.ndarray, p_hear: np.ndarray | None) -> np.ndarray:
        """(S,) float: the probability that each sensor detects a source at ``pos``: ``p_hear``
        (None: ``detection_probability``), 0 beyond ``hear_range_m``."""
        p = np.full(len(self.table.ids), self.cfg.detection_probability) if p_hear is None else p_hear
        if self.cfg.hear_range_m is None:
            return p
        return np.where(np.linalg.norm(self.table.pos_m - pos, axis=1) <= self.cfg.hear_range_m, p, 0.0)

    def _median_strength(self, idx: np.ndarray) -> float:
        """Median ``strength_db`` of detections (those of unknown strength left out; none: inf)."""
        st = self.strength[idx]
        st = st[np.isfinite(st)]
        return _median(st) if st.size else math.inf

    def _fix_strength(self, idx: np.ndarray) -> float:
        """Median ``strength_db`` of the four strongest of detections ``idx`` (all, if fewer;
        unknown strength counts as strong): how strong the arrivals that fix a 2D source and
        first check it are.  A rival that adds weak far sensors to the same strong arrivals
        keeps it (Pittsburgh FP2 test_019: the median of all five true arrivals fell below
        ``support_min_strength_db`` while an alias with one weak arrival in four stayed above)."""
        st = np.sort(np.where(np.isnan(self.strength[idx]), np.inf, self.strength[idx]))
        return _median(st[-4:]) if st.size else math.inf

    def _evidence_terms(self, pos: np.ndarray, t0: float, members: np.ndarray, wind: np.ndarray,
                        p_hear: np.ndarray | None = None):
        """What ``evidence`` needs whatever the window: per sensor in hearing range the count of
        its detections within +-``RATE_HALF_S`` of the predicted arrival and how much of that
        window is known (s, ``covered_s``), and per member the count of those at least as strong
        as it (unknown strength: all).  With
        ``_evidence_at``, the plain-numpy twin of the kernel ``evidence_windows``."""
        pred = t0 + travel_s(pos, self.table.pos_m, self.cfg.c_mps, wind)
        span = _covered_s(pred, RATE_HALF_S, self.t_end)
        key = self._rate_base + pred  # into the sensors' concatenated, offset times
        lo = np.searchsorted(self._rate_key, key - RATE_HALF_S)
        hi = np.searchsorted(self._rate_key, key + RATE_HALF_S)
        p_s = self._hearing(pos, p_hear)
        ms = self.sens[members]
        n_as = np.empty(members.size)
        for k, (q, s) in enumerate(zip(members.tolist(), ms.tolist())):
            f = self.strength[q]
            seg = self._rate_str[lo[s] : hi[s]]
            n_as[k] = np.count_nonzero(seg >= f) if math.isfinite(f) else seg.size
        return p_s, (hi - lo).astype(np.float64), span, ms, n_as

    def _evidence_at(self, terms, res: np.ndarray, w, free: int) -> np.ndarray:
        """``evidence`` for each window of ``w`` (W,), s; ``free``: the best gains that fit by
        construction.  Returns (W,)."""
        p_s, n_all, span, ms, n_as = terms
        w = np.atleast_1d(np.asarray(w, dtype=np.float64))[:, None]  # (W, 1)
        hear = p_s > 0.0
        ok = (res[None, :] <= w) & hear[ms][None, :]  # (W, m); one member per sensor
        # a sensor that does not fit: log((1 - p) / (1 - P_s)), P_s from all its detections
        floor = 0.5 / RATE_HALF_S  # one a whole window, a prior (``covered_s``)
        r_all = np.maximum(n_all / span, floor)  # (S,), Hz
        p_all = -np.expm1(-r_all[hear][None, :] * 2.0 * w)
        miss_all = np.log((1.0 - p_s[hear])[None, :] / np.maximum(1.0 - p_all, 1e-9))
        p_mem = -np.expm1(-r_all[ms][None, :] * 2.0 * w)
        p = p_s[ms][None, :]
        with np.errstate(divide="ignore"):  # members out of hearing (p 0) never count
            miss_mem = np.log((1.0 - p) / np.maximum(1.0 - p_mem, 1e-9))
        total = miss_all.sum(axis=1) - np.where(ok, miss_mem, 0.0).sum(axis=1)
        # a sensor that fits: log(p / P_s), P_s from those at least as strong as its member
        # (at least one a window: silence is no proof that nothing else happened)
        rate = np.maximum((n_as - 1.0) / span[ms], floor)[None, :]
        with np.errstate(divide="ignore"):
            g_w = np.where(ok, np.log(p / -np.expm1(-rate * 2.0 * w)), np.inf)
            g_gate = np.log(p / -np.expm1(-rate * self._gate_s))  # (1, m)
        # Three arrivals fix a 2D source whatever they are, so the three that fit best prove
        # nothing by fitting: the best (the anchor) adds nothing, the next two only that
        # detections so strong fell within one wavefront's span of it ("best" by the
        # window's gain, for both gains).
        order = np.argsort(g_w, axis=1, kind="stable")  # those that fit first, ascending
        g_w = np.take_along_axis(g_w, order, axis=1)
        g_gate = np.take_along_axis(np.broadcast_to(g_gate, g_w.shape), order, axis=1)
        k = ok.sum(axis=1)[:, None]
        col = np.arange(g_w.shape[1])[None, :]
        start = np.maximum(k - free, 0)
        return (total + np.where(col < start, g_w, 0.0).sum(axis=1)
                + np.where((col >= start) & (col < k - 1), g_gate, 0.0).sum(axis=1))

    def _solve(self, idx: np.ndarray, z_m: float | None = None, t: np.ndarray | None = None):
        """Robust 2D solve of detections ``idx`` (at times ``t``, s; None: their own) with the
        source at height ``z_m`` (None: the gun's), within ``max_range`` of the sensor that heard
        it first where the fit leaves a choice."""
        from locator.solve import solve

        t = self.t[idx] if t is None else t
        pos = self.table.pos_m[self.sens[idx]]
        fit_wind = 0 < self.cfg.fit_wind_min_sensors <= idx.size
        # Three arrivals fit two sources exactly (the roots of the hyperbolas' intersection); the
        # search places sources within max_range of their anchor (``best_hypotheses``), so the
        # solver is told to keep the root within that of the sensor that heard it first, the
        # nearest if its arrival is right (Pittsburgh FP2 test_020: the other root lies 2.7 km off).
        first = pos[int(np.argmin(t)), :2]
        return solve(pos, t, self.sigma[idx], mode="2d", z_m=self.z0 if z_m is None else z_m,
                     c_mps=self.cfg.c_mps, fit_wind=fit_wind, wind_mps=self.wind, near_m=(first, self.max_range))

    def refine(self, idx: np.ndarray, pattern_res: np.ndarray | None = None,
               p_hear: np.ndarray | None = None, z_m: float | None = None, bonus: float = 0.0,
               deaf: np.ndarray | None = None, place: _Place | None = None) -> _Found | None:
        """The shot the detections ``idx`` make, if it clears ``min_evidence``: a new source
        (re-gathered at its solution) or, given ``pattern_res`` (their residuals against the
        pattern of ``place``, s) and ``p_hear``, a repeat, widened to no sensor of ``deaf``
        (sensor indices: deaf to this round, ``_blind`` or ``_masked``); the source at height
        ``z_m`` (None: the gun's).  A repeat at fewer than ``min_sensors`` is pinned to its
        place (``_pinned``)."""
        cfg = self.cfg
        pinned = pattern_res is not None and idx.size < cfg.min_sensors
        sol = self._pinned(idx, place) if pinned else self._solve(idx, z_m)
        if sol is None or not sol.ok:
            return None
        for _ in range(2 if pattern_res is None else 0):
            again = self._gather(np.asarray(sol.pos_m, dtype=np.float64), float(sol.t0_s), sol.wind_mps)
            if again.size < cfg.min_sensors or set(again.tolist()) == set(idx.tolist()):
                break
            sol2 = self._solve(again, z_m)
            if not sol2.ok:
                break
            idx, sol = again, sol2
        keep = np.asarray(sol.used, dtype=bool)
        used = idx[keep]
        if used.size < (self._repeat_min if pinned else cfg.min_sensors):
            return None
        res = np.asarray(sol.residual_s, dtype=np.float64)[keep]
        pos = np.asarray(sol.pos_m, dtype=np.float64)
        need = self._need()
        if pattern_res is None:
            # The search looks for sources within max_range of their anchor (``best_hypotheses``);
            # one that a re-gather or the solver's other root put farther than that from every
            # sensor it used is not one it would have proposed.
            if np.hypot(*(self.table.pos_m[self.sens[used], :2] - pos[:2]).T).min() > self.max_range:
                return None
            # The model error (sensor positions, propagation) is a property of the site, shared by
            # every true shot; a fit several times looser than the shots accepted so far is a
            # periodic alias of a burst, made of arrivals of different rounds and their echoes.
            scale = _robust_scale(res)
            if len(self.scales) >= 3 and scale > ALIAS_RATIO * _median(self.scales):
                return None
            if self._near_round(pos, float(sol.t0_s)):
                return None
            # Echoes ride below the decaying level of the blast before them at each sensor
            # (``strength_db`` < 0); a new source made mostly of such is a ghost of a shot.
            strength = self._median_strength(used)
            if strength < cfg.min_strength_db:
                return None
            # While a gun is firing (a remembered place fired within ``burst_window_s``), its
            # rounds are taken as repeats and what is left of its wavefronts lines up into
            # aliases easily: a new source there must be that much stronger.
            t0 = float(sol.t0_s)
            need += self._burst_extra(t0, float(self.t[used].min()))
            ev = self.evidence(pos, float(sol.t0_s), res, used, sol.wind_mps)
            if (self._fix_strength(used) >= cfg.support_min_strength_db
                    and np.count_nonzero(self._hearing(pos, None)) <= cfg.support_max_sensors):
                # a sparse array's fit has few redundant arrivals: let the other rounds of a
                # string from this place speak for it.  Counted whether or not the fit clears
                # ``need`` alone (the support is never negative, so whether a hypothesis clears
                # it is unchanged), so that rival sources (``_challenge``) that pass these gates
                # are compared on the same terms: an echo line-up that repeats with the string
                # would otherwise outscore the true arrivals that cleared the bar without asking
                # (Pittsburgh FP2 test_033: 7.0 alone against 6.1 + 32.6; the string 90 m off).
                ev += self.pattern_support(pos, used, t0, sol.wind_mps)
        else:
            need -= cfg.repeat_bonus + bonus
            ev = self.evidence(pos, float(sol.t0_s), pattern_res[keep], used, sol.wind_mps,
                               tol_s=cfg.repeat_tolerance_s, floor_s=REPEAT_FLOOR_S, p_hear=p_hear)
        if ev < need:
            return None
        if pattern_res is not None:
            used, sol, keep_res = self._widen(used, sol, deaf, place if pinned else None)
        else:
            keep_res = np.asarray(sol.residual_s, dtype=np.float64)[keep]
        return self._found(used, sol, keep_res, int(max(idx.size, used.size)), ev)

    def _found(self, used: np.ndarray, sol, res: np.ndarray, n_candidates: int, ev: float) -> _Found:
        """The shot of detections ``used`` (indices) with their residuals ``res`` (s) at the
        solver's ``sol``, in time order, and its evidence ``ev``."""
        order = np.argsort(self.t[used], kind="stable")
        used = used[order]
        return _Found(Shot(
            t0_ns=self.ref_ns + int(round(float(sol.t0_s) * 1e9)),
            pos_m=np.asarray(sol.pos_m, dtype=np.float64).copy(),
            err_m=float(sol.err_m),
            cov_m2=np.asarray(sol.cov_m2, dtype=np.float64).copy(),
            detections=tuple(self.dets[i] for i in used),
            sensor_pos_m=self.table.pos_m[self.sens[used]].copy(),
            residual_s=np.asarray(res, dtype=np.float64)[order].copy(),
            n_candidates=n_candidates,
            solution=sol,
        ), used, ev)

    def _widen(self, used: np.ndarray, sol, deaf: np.ndarray | None = None,
               pinned: _Place | None = None) -> tuple[np.ndarray, Any, np.ndarray]:
        """A repeat's detections plus those of the other sensors (``deaf`` (sensor indices)
        excepted) that fit its solution within ``WIDEN_FRACTION`` of the tolerance, re-solved
        (or, for a round ``pinned`` to its place, timed again there); and the residuals, s.

        A pattern holds the sensors that heard the place's first rounds; a sensor that missed
        them (10% of detections are missed) would otherwise stay out of it for the whole
        string, and the rounds that sensors behind a building miss (a weak diffracted arrival
        in the last round's coda) leave too few pattern sensors to match.
        """
        near = self._gather(np.asarray(sol.pos_m, dtype=np.float64), float(sol.t0_s), sol.wind_mps,
                            WIDEN_FRACTION * self.cfg.tolerance_s)
        # not at a sensor deaf to the round: what it has there is the sound that deafened it
        skip = self.sens[used] if deaf is None else np.concatenate([self.sens[used], deaf])
        extra = near[~np.isin(self.sens[near], skip)]
        res = np.asarray(sol.residual_s, dtype=np.float64)[np.asarray(sol.used, dtype=bool)]
        if extra.size == 0:
            return used, sol, res
        if pinned is not None:
            # A pattern sensor's arrival either matched the pattern or is not this round's.  The
            # others are taken in at the place, and time nothing: the pair did.
            extra = extra[~np.isin(self.sens[extra], pinned.sp)]
            if extra.size == 0:
                return used, sol, res
            wide = np.concatenate([used, extra])
            sol2 = self._pinned(wide, pinned, float(sol.t0_s))
            return wide, sol2, np.asarray(sol2.residual_s, dtype=np.float64)
        wide = np.concatenate([used, extra])
        sol2 = self._solve(wide, float(sol.pos_m[2]))
        if not sol2.ok:
            return used, sol, res
        keep = np.asarray(sol2.used, dtype=bool)
        if keep.sum() < used.size:
            return used, sol, res
        return wide[keep], sol2, np.asarray(sol2.residual_s, dtype=np.float64)[keep]

    def _pinned(self, idx: np.ndarray, place: _Place | None, t0: float | None = None):
        """The solution of a round at ``place`` timed by its detections ``idx``: the place's
        (position, covariance, sound speed, wind), at the emission time ``t0`` (s; None: the
        one its detections at the place's pattern sensors give, the median of arrival less the
        pattern's delay, in the time frame of the fit that placed it), with every detection's
        residual against the model there, s.  None when the place's solution is unknown or no
        detection is at a pattern sensor.

        The position is not re-fitted: two or three arrivals fix nothing the place's own fix
        did not, and the pattern has matched them to it within ``repeat_tolerance_s``.
        """
        if place is None or place.sol is None or not place.sol.ok:
            return None
        if t0 is None:
            slot = np.full(len(self.table.ids), -1)
            slot[place.sp] = np.arange(place.sp.size)
            k = slot[self.sens[idx]]
            if not (k >= 0).any():
                return None
            t0 = _median(self.t[idx[k >= 0]] - place.delay[k[k >= 0]]) - place.frame_s
        sol = place.sol
        wind = np.asarray(sol.wind_mps, dtype=np.float64)
        res = self.t[idx] - t0 - travel_s(np.asarray(sol.pos_m, dtype=np.float64),
                                          self.table.pos_m[self.sens[idx]], float(sol.c_mps), wind)
        n = int(idx.size)
        return replace(
            sol, reason="timed at the place of an earlier round (too few arrivals to solve)", t0_s=float(t0),
            residual_s=res, used=np.ones(n, dtype=bool), flags=("",) * n, alternatives=(),
            chi2=float(np.sum((res / self.sigma[idx]) ** 2)), dof=n - 1)

    def _rounds_near(self, pos: np.ndarray) -> list[float]:
        """Emission times, s, of the accepted rounds fired within ``GHOST_M`` of ``pos``."""
        return [r for q in self.patterns if np.hypot(*(q.pos[:2] - pos[:2])) <= GHOST_M for r in q.rounds]

    def _near_round(self, pos: np.ndarray, t0: float) -> bool:
        """Whether a source at ``pos`` emitting at ``t0`` is within ``MIN_ROUND_S`` and ``GHOST_M``
        of an accepted round (no gun cycles that fast: it is that round's image in a wall)."""
        return any(abs(t0 - r) < MIN_ROUND_S for r in self._rounds_near(pos))

    def _remember(self, pos: np.ndarray, sens: np.ndarray, delay_s: np.ndarray, t0: float,
                  level_db: np.ndarray | None = None, sol: Any = None) -> None:
        """Add a shot's arrival pattern (its sensors, their arrival - emission times, s, and
        peak levels, dB; None: unknown; and its ``Solution``) to the repeat patterns.  One
        pattern per place: a shot within a few metres of an earlier one updates it, keeping the
        delays of the sensors that missed this round from the rounds they heard, and how many
        of the place's rounds each sensor heard."""
        n_s = len(self.table.ids)
        delay = np.full(n_s, np.nan)
        hits = np.zeros(n_s, dtype=np.int64)
        recent = np.empty((0, n_s))
        levels = np.empty((0, n_s))
        rounds = [t0]
        for q in self.patterns:
            if np.hypot(*(q.pos[:2] - pos[:2])) <= REPEAT_SAME_M:
                delay[q.sp] = q.delay
                hits[q.sp] += q.hits
                recent = np.vstack([recent, q.recent])
                levels = np.vstack([levels, q.levels])
                rounds += q.rounds
        self.patterns = [q for q in self.patterns if np.hypot(*(q.pos[:2] - pos[:2])) > REPEAT_SAME_M]
        new = np.full(n_s, np.nan)
        new[sens] = delay_s
        both = np.isfinite(delay) & np.isfinite(new)
        if both.any():
            # Each round's emission time is off by its own fit error, common to all its sensors:
            # keep the place's time frame.
            new -= _median(new[both] - delay[both])
        recent = np.vstack([recent, new[None, :]])[-PATTERN_ROUNDS:]
        lev = np.full(n_s, np.nan)
        if level_db is not None:
            lev[sens] = level_db
        levels = np.vstack([levels, lev[None, :]])[-PATTERN_ROUNDS:]
        # every sensor this round heard is in ``recent``; the others keep their delays
        heard = np.flatnonzero(np.isfinite(recent).any(axis=0))
        delay[heard] = _pattern_delays(recent[:, heard], self.cfg.repeat_tolerance_s)
        # a sensor heard this round if it has an arrival at the pattern's delay (not an echo)
        hits[np.abs(new - delay) <= self.cfg.repeat_tolerance_s] += 1
        sp = np.flatnonzero(np.isfinite(delay))
        own = np.full(n_s, np.nan)
        own[sens] = delay_s
        on = np.isfinite(own) & np.isfinite(delay)
        frame = _median(own[on] - delay[on]) if on.any() else 0.0
        self.patterns.append(_Place(np.asarray(pos, dtype=np.float64).copy(), sp, delay[sp], rounds, hits[sp],
                                    recent, levels, sol, frame))

    def _accept(self, got: _Found, shots: list[Shot]) -> None:
        """Keep a shot: retire its detections and their shadows, remember its pattern."""
        shot, used = got.shot, got.used
        shots.append(shot)
        self.scales.append(_robust_scale(shot.residual_s))
        self.active[used] = False
        self._string_per = None
        self._recur.clear()
        self.taken[used] = True
        self._retire_shadow(used)
        # A repeat that failed among these arrivals may not now: the new shot deafens sensors
        # it was expected at (``_blind``), or holds the detections it may share.
        lo, hi = np.searchsorted(self.t, [self.t[used].min() - BLIND_S, self.t[used].max() + BLIND_S])
        self.rep_dead[lo:hi] = False
        self._remember(shot.pos_m, self.sens[used], self.t[used] - (shot.t0_ns - self.ref_ns) * 1e-9,
                       (shot.t0_ns - self.ref_ns) * 1e-9, self.level[used], shot.solution)

    def repeat(self, cand: np.ndarray) -> _Found | None:
        """The earliest shot among the anchors ``cand`` that repeats an accepted shot's pattern.

        A second round from the same place reaches every sensor with the same delays as the
        first, sensor-position errors, diffraction around buildings and wind included, so
        its arrivals match the first's pattern, shifted in time, to a fraction of a
        millisecond (``repeat_tolerance_s``) where a new source has to be found within the
        model's ``tolerance_s``.  Automatic fire and a shooter's string are found this way
        one round after the other, each taking its arrivals before the periodic aliases of
        the burst (sources made of different rounds' arrivals) can.
        """
        front = float(self.t[cand].min()) if cand.size else 0.0
        self.patterns = [q for q in self.patterns if max(q.rounds) >= front - REPEAT_MEMORY_S]
        while True:
            best = self._best_repeat(cand)
            if best is None:
                return None
            got = self.refine(best[1], pattern_res=best[2], p_hear=best[4], z_m=best[5], bonus=best[6], deaf=best[7],
                              place=best[8])
            if got is not None:
                return got
            # these detections repeat no pattern well enough (every anchor among them would
            # propose the same set again)
            self.rep_dead[best[3]] = True
            self.rep_dead[best[1]] = True

    def _match_pattern(self, sp: np.ndarray, off: np.ndarray, rounds: Sequence[float], anc: np.ndarray,
                       own_min: int | None = None):
        """Where the pattern (sensors ``sp``, arrival - emission ``off``, s) repeats, one
        candidate per anchor of ``anc`` (detections at pattern sensors), with ``min_sensors``
        matches no other shot took (a candidate of fewer matches: ``own_min``, None:
        ``min_sensors``).

        Returns ``(shift, mem, res, n_fit)``: the candidate emission times (m,), s, the matching
        detection per pattern sensor (m, k) (-1: none), the residuals (m, k), s (inf: none) and
        the matches per candidate (m,), 0 within ``MIN_ROUND_S`` of a round in ``rounds``.
        """
        from locator._associate_kernels import repeat_matches

        tol = self.cfg.repeat_tolerance_s
        slot = np.full(len(self.table.ids), -1)
        slot[sp] = np.arange(sp.size)
        shift = self.t[anc] - off[slot[self.sens[anc]]]  # candidate emission times, s
        mem = np.empty((anc.size, sp.size), dtype=np.int64)
        # The anchor's own pick error shifts the whole pattern: match loosely, centre the
        # shift on the median of the matches, then match at the tolerance.
        for tl in (2.0 * tol, tol):
            repeat_matches(self.t, self.active | self.taken, self.st, self.order, self.ptr, sp, off, shift, tl, mem)
            res = np.where(mem >= 0, self.t[np.maximum(mem, 0)] - (shift[:, None] + off[None, :]), np.inf)
            if tl > tol:
                n_ok = (mem >= 0).sum(axis=1)
                srt = np.sort(res, axis=1)  # the misses (inf) sort last
                mid = np.take_along_axis(srt, np.maximum(n_ok - 1, 0)[:, None] // 2, axis=1)[:, 0]
                shift = shift + np.where(n_ok > 0, mid, 0.0)
        n_fit = (mem >= 0).sum(axis=1)
        # A detection another shot took may stand for this round too (``SHARED_MAX``), but a
        # round must have ``min_sensors`` of its own (a pair, ``own_min``: both).
        k_min = self.cfg.min_sensors
        need = np.where(n_fit >= k_min, k_min, k_min if own_min is None else own_min)
        shared = ((mem >= 0) & self.taken[np.maximum(mem, 0)]).sum(axis=1)
        n_fit[(n_fit - shared < need) | (shared > SHARED_MAX * n_fit)] = 0
        # no gun cycles faster than MIN_ROUND_S: a copy of the pattern closer than that to its
        # shot is the blast reflected off a wall beside the shooter (an image source a few
        # metres away, heard everywhere with nearly the same delays)
        if len(rounds):
            n_fit[np.min(np.abs(shift[:, None] - np.asarray(rounds)[None, :]), axis=1) < MIN_ROUND_S] = 0
        return shift, mem, res, n_fit

    def _blind(self, sp: np.ndarray, off: np.ndarray, t0: np.ndarray) -> np.ndarray:
        """(m, k) bool: per emission time of ``t0`` (m,), s, the pattern sensors ``sp`` whose
        arrival (delays ``off``, s) falls within ``BLIND_S`` after a detection an accepted shot
        used: a node's detector does not trigger again within its refractory time."""
        out = np.zeros((t0.size, sp.size), dtype=np.bool_)
        for j, s in enumerate(sp.tolist()):
            ix = self.order[self.ptr[s] : self.ptr[s + 1]]
            taken = self.t[ix[self.taken[ix]]]
            if taken.size:
                pred = t0 + off[j]
                out[:, j] = (np.searchsorted(taken, pred + self.cfg.repeat_tolerance_s, side="right")
                             > np.searchsorted(taken, pred - BLIND_S))
        return out

    def _masked(self, sp: np.ndarray, off: np.ndarray, t0: np.ndarray, mem: np.ndarray,
                usual_db: np.ndarray) -> np.ndarray:
        """(m, k) bool: per emission time of ``t0`` (m,), s, the pattern sensors ``sp`` that
        matched nothing (``mem`` (m, k), -1) and whose predicted arrival (delays ``off``, s)
        falls ``repeat_tolerance_s`` to ``MASK_S`` after a detection at least as loud (peak, dB)
        as the place's rounds usually arrive there (``usual_db`` (k,); NaN: unknown, never
        masked).  A detection closer before the prediction than ``repeat_tolerance_s`` would
        have been matched as the arrival itself, had it been one."""
        out = np.zeros((t0.size, sp.size), dtype=np.bool_)
        missed = (mem < 0).any(axis=0)
        for j, s in enumerate(sp.tolist()):
            if not (missed[j] and np.isfinite(usual_db[j])):
                continue
            a, b = self.ptr[s], self.ptr[s + 1]
            loud = self.st[a:b][self.slev[a:b] >= usual_db[j]]  # NaN levels compare False
            if loud.size == 0:
                continue
            pred = t0 + off[j]
            n = (np.searchsorted(loud, pred - self.cfg.repeat_tolerance_s)
                 - np.searchsorted(loud, pred - MASK_S))
            out[:, j] = (n > 0) & (mem[:, j] < 0)
        return out

    def _too_weak(self, ref_db: np.ndarray, mem: np.ndarray, each: bool = False, louder: bool = False) -> np.ndarray:
        """(m,) bool: the candidates whose matched detections ``mem`` (m, k) (-1: none) are,
        in median over the sensors where both are known, more than ``LEVEL_DROP_DB`` weaker
        than ``ref_db`` (k,), dB, the levels they are compared with at the pattern's sensors
        (a place's rounds, for a repeat; the candidate source's own arrivals, for pattern
        support): a chance line-up of noise or coda at a gun's delays, not its next round.
        A second gun at the same spot over 12 dB quieter than the first can only be found as
        a new source.  ``each``: any matched detection that much weaker (``louder``: or
        louder), or not comparable (a pair has no median to outvote an arrival that is not
        the gun's, and none to vouch for one of unknown level)."""
        lev = np.where(mem >= 0, self.level[np.maximum(mem, 0)], np.nan)
        drop = ref_db[None, :] - lev
        if each:
            return ((mem >= 0) & ~((np.abs(drop) if louder else drop) <= LEVEL_DROP_DB)).any(axis=1)
        with np.errstate(invalid="ignore"):
            return _row_medians(drop) > LEVEL_DROP_DB  # NaN: nothing to compare

    def _p_hear(self, sp: np.ndarray, hits: np.ndarray | None = None, rounds: int = 0) -> np.ndarray:
        """(S,) the probability that each sensor hears the next round from a place: 0 off its
        pattern ``sp``; on it, the share of the place's ``rounds`` the sensor heard (``hits``),
        drawn towards ``detection_probability`` as if by ``PRIOR_ROUNDS`` more rounds.  One
        round is left out of both counts, the one that made the sensor a member of the pattern:
        the sensors are chosen by having heard it (a string's first round, out of quiet, is
        heard best; a burst's later rounds fall in the coda of the one before).

        Sensors behind a building hear a gun's first round (loud, after quiet) and miss the
        rest (a weak diffracted arrival in the last round's coda): each miss is no surprise.
        """
        p0 = self.cfg.detection_probability
        out = np.zeros(len(self.table.ids))
        out[sp] = p0 if hits is None else (hits - 1 + PRIOR_ROUNDS * p0) / (rounds - 1 + PRIOR_ROUNDS)
        return out

    def _enough(self, n_fit: np.ndarray, expected: float) -> np.ndarray:
        """Candidates matching enough of a pattern to be a repeat: ``repeat_fraction`` of the
        ``expected`` sensors (see ``_expected``), and at least ``_repeat_min``."""
        return n_fit >= max(self._repeat_min, int(math.ceil(self.cfg.repeat_fraction * expected - 1e-9)))

    def _expected(self, p_hear: np.ndarray) -> float:
        """How many sensors ``p_hear`` expects to hear a round, counted in sensors as reliable
        as ``detection_probability`` (a more reliable one counts as one)."""
        return float(np.minimum(p_hear / self.cfg.detection_probability, 1.0).sum())

    def _best_repeat(self, cand: np.ndarray):
        best = None
        for place in self.patterns:
            pos, sp, off, rounds, hits = place.pos, place.sp, place.delay, place.rounds, place.hits
            if sp.size < self.cfg.min_sensors:
                continue
            slot = np.full(len(self.table.ids), -1)
            slot[sp] = np.arange(sp.size)
            anc = cand[(slot[self.sens[cand]] >= 0) & ~self.rep_dead[cand]]
            if anc.size == 0:
                continue
            shift, mem, res, n_fit = self._match_pattern(sp, off, self._rounds_near(pos), anc, self._repeat_min)
            usual_db = _row_medians(place.levels[:, sp].T)  # each sensor's usual level of its rounds
            n_fit[self._too_weak(usual_db, mem)] = 0
            if self._repeat_min < self.cfg.min_sensors:
                few = n_fit < self.cfg.min_sensors
                n_fit[few & self._too_weak(usual_db, mem, each=True)] = 0
            p_hear = self._p_hear(sp, hits, len(rounds))
            ok = self._enough(n_fit, self._expected(p_hear))
            own_beat = not self._follows(place)  # a ghost keeps its gun's beat, not one of its own
            p_k, deaf_k = {}, {}
            # Short of sensors: those still deaf from another shot's arrival (a gun beside this
            # one firing a few ms apart) could not have told this round apart.
            short = np.flatnonzero(~ok & (n_fit >= self.cfg.min_sensors)
                                   & (shift < (best[0] if best is not None else np.inf)))
            if short.size:
                # ... nor those whose arrival fell in the coda of a louder sound (``_masked``)
                blind = self._blind(sp, off, shift[short]) | self._masked(
                    sp, off, shift[short], mem[short], usual_db)
                for k, b in zip(short.tolist(), blind):
                    if b.any():
                        p_b = p_hear.copy()
                        p_b[sp[b]] = 0.0
                        if self._enough(n_fit[k : k + 1], self._expected(p_b))[0]:
                            ok[k] = True
                            p_k[k] = p_b
                            deaf_k[k] = sp[b]
                on_beat = CADENCE_FRACTION * self._expected(p_hear)
                for k in short.tolist():
                    if not ok[k] and own_beat and n_fit[k] >= on_beat and _on_cadence(rounds, float(shift[k])):
                        ok[k] = True
            train = self._train(place, shift, mem, res, n_fit, p_hear) if own_beat else set()
            ok[list(train)] = True
            good = np.flatnonzero(ok)
            if good.size == 0:
                continue
            k = good[np.argmin(shift[good])]
            if best is None or shift[k] < best[0]:
                sel = mem[k] >= 0
                beat_known = own_beat and (_on_cadence(rounds, float(shift[k])) or int(k) in train)
                bonus = self.cfg.cadence_bonus if beat_known else 0.0
                best = (shift[k], mem[k][sel], res[k][sel], anc[k], p_k.get(int(k), p_hear), float(pos[2]), bonus,
                        deaf_k.get(int(k)), place)
        return best

    def _train(self, place: _Place, shift: np.ndarray, mem: np.ndarray, res: np.ndarray, n_fit: np.ndarray,
               p_hear: np.ndarray) -> set[int]:
        """The candidates (indices into ``shift``) that open automatic fire from ``place``: each
        is then taken as a round on a known beat (``cadence_bonus``).

        A gun that fired and then opens up automatically puts its rounds on one beat,
        ``MIN_ROUND_S``-``CADENCE_MAX_S`` apart.  A second gun firing between them deafens many
        sensors to some rounds and fills the streams with arrivals: the first rounds after the
        place's last may be lost, and each later one may fall short of ``min_evidence`` as a
        lone repeat, while the train of them would not (chance line-ups keep no beat).  A
        candidate with the evidence a round on a known beat needs, taken as the ``m``-th round
        after the place's last (``m <= TRAIN_BEATS``), is followed beat by beat (each within
        ``TRAIN_SLACK_S``, none sharing a detection) while the best candidate there adds
        evidence (its repeat evidence less the log of the candidates there).  The train must
        hold three rounds in a row (the candidate, those after it, and the place's last round
        when ``m`` is 1), and what the rounds after the candidate add, less the log of the
        trains tried, must be worth ``cadence_bonus``.  Once two rounds are in on a beat,
        ``_on_cadence`` takes over.
        """
        if TRAIN_BEATS <= 0 or not self.cfg.cadence_bonus:
            return set()
        cfg = self.cfg
        mine = sorted(place.rounds)
        last = mine[-1]
        if len(mine) >= 2 and last - mine[-2] <= CADENCE_MAX_S:  # already firing on a beat: _on_cadence
            return set()
        c = np.flatnonzero((n_fit >= cfg.min_sensors) & (shift > last + 0.5 * MIN_ROUND_S)
                           & (shift <= last + TRAIN_BEATS * CADENCE_MAX_S))
        c_all = np.flatnonzero((n_fit >= cfg.min_sensors) & (shift > last + 0.5 * MIN_ROUND_S)
                               & (shift <= last + (TRAIN_BEATS + 2) * CADENCE_MAX_S))
        if c.size == 0 or c_all.size < 2:
            return set()
        ev = {}
        for k in c_all.tolist():
            sel = mem[k] >= 0
            ev[k] = self.evidence(place.pos, float(shift[k]), res[k][sel], mem[k][sel], self.wind,
                                  tol_s=cfg.repeat_tolerance_s, floor_s=REPEAT_FLOOR_S, p_hear=p_hear)
        t_all = shift[c_all]
        # as much as a round on a known beat needs, and a train worth as much as knowing it
        need = self._need() - cfg.repeat_bonus - cfg.cadence_bonus
        cost = math.log(TRAIN_BEATS * c.size)
        out: set[int] = set()
        for a in c.tolist():
            if ev[a] < need:
                continue
            best_sup = -math.inf
            for m in range(1, TRAIN_BEATS + 1):
                beat = (float(shift[a]) - last) / m
                if not MIN_ROUND_S <= beat <= CADENCE_MAX_S:
                    continue
                taken = set(mem[a][mem[a] >= 0].tolist())
                t_prev, sup, hits = float(shift[a]), -cost, 0
                for _ in range(TRAIN_BEATS):
                    want = t_prev + beat
                    near = c_all[np.abs(t_all - want) <= min(CADENCE_JITTER * beat, TRAIN_SLACK_S)]
                    near = [k for k in near.tolist() if not taken & set(mem[k][mem[k] >= 0].tolist())]
                    gain = [ev[k] for k in near]
                    if not near or max(gain) - math.log(len(near)) <= 0:
                        break
                    k = near[int(np.argmax(gain))]
                    sup += ev[k] - math.log(len(near))
                    taken |= set(mem[k][mem[k] >= 0].tolist())
                    t_prev = float(shift[k])
                    hits += 1
                # three rounds in a row on the beat: the candidate, the rounds after it and the
                # place's last round when it is the one just before
                if hits + 1 + (m == 1) < 3:
                    continue
                best_sup = max(best_sup, sup)
            if best_sup >= cfg.cadence_bonus:
                out.add(a)
        return out

    def _follows(self, place: _Place) -> bool:
        """Whether the last two rounds of ``place`` each follow a round of a place that started
        firing before it by one lag (to ``ECHO_STEADY_S``), at most ``ECHO_FAR`` times their
        distance over c: a ghost of a gun's reflections, which keeps the gun's beat.  It gets
        no cadence of its own (``_on_cadence``), or the beat would carry it on after the
        reflections that made it."""
        mine = sorted(place.rounds)
        if len(mine) < 2:
            return False
        for q in self.patterns:
            if q is place or min(q.rounds) >= mine[0]:
                continue
            far = ECHO_FAR * float(np.hypot(*(q.pos[:2] - place.pos[:2]))) / self.cfg.c_mps
            lead = np.sort(np.asarray(q.rounds))
            lags = []
            for r in mine[-2:]:
                before = lead[lead < r]
                lags.append(r - before[-1] if before.size else math.inf)
            if max(lags) <= far and abs(lags[0] - lags[1]) <= ECHO_STEADY_S:
                return True
        return False

    def pattern_support(self, pos: np.ndarray, used: np.ndarray, t0: float, wind: np.ndarray) -> float:
        """Evidence, nats, that a candidate source's arrival pattern recurs nearby in time.

        A gun fires more than once from one place, and each round reaches every sensor with
        the first's delays to a fraction of a ms, sensor-position errors included
        (``repeat``); an alias made of different rounds' arrivals, or a chance line-up of
        noise, recurs only by chance.  Other rounds within ``REPEAT_AHEAD_S`` either side are
        matched to the pattern of ``used`` at ``repeat_tolerance_s`` (at most one per
        ``MIN_ROUND_S``, none sharing a detection, none far weaker than ``used``: ``_too_weak``)
        and each adds its repeat evidence less the log of the emission times tried (the
        look-elsewhere cost of the shift search).
        """
        cfg = self.cfg
        if cfg.repeat_tolerance_s <= 0:  # repeats off
            return 0.0
        sp = self.sens[used]
        off = self.t[used] - t0
        lo = int(np.searchsorted(self.t, t0 - REPEAT_AHEAD_S))
        hi = int(np.searchsorted(self.t, t0 + REPEAT_AHEAD_S + float(off.max()), side="right"))
        anc = np.arange(lo, hi)
        anc = anc[self.active[anc] & self.strong[anc] & np.isin(self.sens[anc], sp)]
        anc = anc[~np.isin(anc, used)]
        if anc.size == 0:
            return 0.0
        shift, mem, res, n_fit = self._match_pattern(sp, off, [t0], anc)
        n_fit[self._too_weak(self.level[used], mem)] = 0
        good = np.flatnonzero(self._enough(n_fit, sp.size))
        if good.size == 0:
            return 0.0
        # Each round is proposed once per arrival of it (every one an anchor), and centring
        # makes the copies identical: the emission times tried are the distinct shifts.
        cost = math.log(np.unique(np.round(shift / REPEAT_FLOOR_S)).size)
        # the candidates that match most sensors, most tightly, are the only ones that can add
        # much: at most SUPPORT_TRIES rounds (one candidate per MIN_ROUND_S) are scored
        tight = np.sum(np.where(np.isfinite(res), np.abs(res), 0.0), axis=1)
        picked: list[int] = []
        for k in good[np.lexsort((tight[good], -n_fit[good]))]:
            if all(abs(shift[k] - shift[j]) >= MIN_ROUND_S for j in picked):
                picked.append(int(k))
                if len(picked) == SUPPORT_TRIES:
                    break
        good = np.array(picked, dtype=np.int64)
        scored = []
        p_hear = self._p_hear(sp)
        for k in good:
            sel = mem[k] >= 0
            ev = self.evidence(pos, float(shift[k]), res[k][sel], mem[k][sel], wind,
                               tol_s=cfg.repeat_tolerance_s, floor_s=REPEAT_FLOOR_S, p_hear=p_hear) - cost
            if ev > 0:
                scored.append((ev, float(shift[k]), set(mem[k][sel].tolist())))
        total, taken, seen = 0.0, [t0], set(used.tolist())
        for ev, t_r, members in sorted(scored, key=lambda r: -r[0]):
            if min(abs(t_r - x) for x in taken) < MIN_ROUND_S or members & seen:
                continue
            total += ev
            taken.append(t_r)
            seen |= members
        return total

    def _strings(self, anchors: np.ndarray) -> list[np.ndarray]:
        """Hypotheses (detection indices, time order) that a string of rounds makes, one per
        anchor and later detection of its sensor.

        A gun firing again from the same place repeats every arrival after the same interval
        ``T`` at every sensor (to ~1 ms on the Pittsburgh audio, whose sensors sit 10-15 ms off
        the straight-line delays: model error cancels between rounds).  For an anchor and each
        strong detection of its sensor ``MIN_ROUND_S`` to ``REPEAT_AHEAD_S`` later, ``T`` is
        their interval; each other sensor contributes its earliest strong detection within one
        wavefront's reach of the anchor (``d/c + gate_margin_s``) that is itself followed
        ``T`` later (``repeat_tolerance_s``) by another.  Earliest, because a sensor's echoes
        follow its direct arrival and repeat with the string too.  Cost per anchor: for each of
        its ``B`` later detections and ``S`` sensors, binary searches over that sensor's
        detections (``F x B`` of them, ``F`` the sensor's detections within reach).
        """
        out = []
        for a in anchors[self._string_sets()[0][anchors]].tolist():
            _, _, groups = self._recurring(a)
            for row in groups:
                mem = row[row >= 0]
                if mem.size >= self.cfg.min_sensors:
                    out.append(np.sort(mem))
        return out

    def _string_sets(self) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """(mask, per sensor its indices, their times, s) of the strong detections that may
        start or join a new source: the same until a shot is accepted."""
        if self._string_per is None:
            ok = self.for_new() & self.strong
            per = [self.order[self.ptr[s] : self.ptr[s + 1]] for s in range(len(self.table.ids))]
            per = [o[ok[o]] for o in per]  # each sensor's, in time order
            self._string_per = (ok, per, [self.t[o] for o in per])
        return self._string_per

    def _recurring(self, a: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For anchor ``a`` and each strong detection of its sensor ``MIN_ROUND_S`` to
        ``REPEAT_AHEAD_S`` later: the interval ``T`` (B,), s, that later detection (B,), and per
        sensor the earliest strong detection within a wavefront's reach of ``a`` followed ``T``
        later by another (B, S) (-1: none; the anchor at its own sensor).  The same until a shot
        is accepted: kept (``_strings`` and ``_stacked`` both ask)."""
        if a in self._recur:
            return self._recur[a]
        self._recur[a] = out = self._recurring_now(a)
        return out

    def _recurring_now(self, a: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``_recurring``, computed."""
        cfg = self.cfg
        n_sens = len(self.table.ids)
        _, per, times = self._string_sets()
        s, ta = int(self.sens[a]), float(self.t[a])
        t_own = times[s]
        lo, hi = np.searchsorted(t_own, [ta + MIN_ROUND_S, ta + REPEAT_AHEAD_S + 1e-12])
        period = t_own[lo:hi] - ta  # (B,), s
        groups = np.full((period.size, n_sens), -1, dtype=np.int64)
        if period.size == 0:
            return period, per[s][lo:hi], groups
        groups[:, s] = a
        for s2 in range(n_sens):
            t2 = times[s2]
            if s2 == s or t2.size == 0:
                continue
            reach = self.dist[s, s2] / cfg.c_mps + cfg.gate_margin_s
            f_lo, f_hi = np.searchsorted(t2, [ta - reach, ta + reach + 1e-12])
            if f_hi <= f_lo:
                continue
            want = t2[f_lo:f_hi, None] + period[None, :]  # (F, B): where each one's repeat falls
            j = np.minimum(np.searchsorted(t2, want - cfg.repeat_tolerance_s), t2.size - 1)
            hit = np.abs(t2[j] - want) <= cfg.repeat_tolerance_s
            heard = hit.any(axis=0)
            groups[heard, s2] = per[s2][f_lo + np.argmax(hit[:, heard], axis=0)]
        return period, per[s][lo:hi], groups

    def _stacked(self, anchors: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray, list, list]], int]:
        """Hypotheses of a string whose rounds are heard sharp at different sensors, one place
        and two rounds at a time: the arrivals of both fit one source once the later round's
        are moved back by their interval ``T``.

        A *core* is the anchor and a detection of another sensor, both at least
        ``support_min_strength_db``, that both recur at about their level (``_same_gun``)
        after ``T`` and after at least one other interval (``_recurring``, to
        ``repeat_tolerance_s``): a string of three rounds or more (two arrivals recurring
        twice by chance are rare where once is not).  With a core, each strong detection at a
        third sensor within a wavefront's reach of both core arrivals, in the anchor's round
        or in the round ``T`` later moved back by ``T``, fixes a source (the root within
        reach, ``_solve``); each sensor left takes the detection of either round nearest the
        arrival it predicts, within twice ``tolerance_s`` (a fit of three with 10 ms of model
        error predicts the fourth that far off; the joint fit is held to ``tolerance_s`` in
        ``_stacked_rival``).  Returns the sets ``(members, shift, cores, intervals)``
        (detection indices, the core first; how far each was moved back, s, 0 or ``T``; the
        core's two detections in each later round that repeats it and those rounds'
        intervals, s, ``T`` first) of four sensors or more, at least ``min_sensors`` (and
        three) of them in the anchor's round and one or more in the later round; and the
        search's look-elsewhere count: the minimal sets solved times the cores and intervals
        they were solved for.  Cost per core and
        interval: one minimal solve per candidate and a scan of each sensor's candidates.
        """
        cfg = self.cfg
        ok, per, times = self._string_sets()
        # a core fixes half a source and its interval every round: only arrivals as strong as a
        # string's support needs (``support_min_strength_db``) make one
        loud = ok & ~(self.strength < cfg.support_min_strength_db)
        out, seen, n_solved, n_cores = [], set(), 0, 0
        for a in anchors[loud[anchors]].tolist():
            s = int(self.sens[a])
            period, later, groups = self._recurring(a)
            reps: dict[int, list[tuple[float, np.ndarray]]] = {}  # partner: (interval, its core there)
            for j, s_r in zip(*np.nonzero(groups >= 0)):
                r = int(groups[j, s_r])
                if s_r == s or not loud[r]:
                    continue
                T = float(period[j])
                k = int(np.argmin(np.abs(times[s_r] - (self.t[r] + T))))
                if abs(times[s_r][k] - self.t[r] - T) > cfg.repeat_tolerance_s:
                    continue
                core_b = np.array([int(later[j]), int(per[s_r][k])], dtype=np.int64)
                if self._same_gun(np.array([a, r]), core_b):
                    reps.setdefault(r, []).append((T, core_b))
            for r, mine in reps.items():
                if len(mine) < 2:  # a string of three rounds or more
                    continue
                s_r = int(self.sens[r])
                for n, (T, core_b) in enumerate(mine):
                    pool = self._stacked_pool(a, int(core_b[0]), T)
                    # within reach of the partner too, as the anchor's partners are in ``best_hypotheses``
                    near = {}
                    for q, (ix, sh, tt) in pool.items():
                        if q == s_r:
                            continue
                        keep = np.abs(tt - self.t[r]) <= self.dist[s_r, q] / cfg.c_mps + cfg.gate_margin_s
                        if keep.any():
                            near[q] = (ix[keep], sh[keep], tt[keep])
                    n_solved += sum(v[0].size for v in near.values())
                    n_cores += 1
                    rest = mine[:n] + mine[n + 1:]
                    for mem, shift in self._stacked_sets(a, r, near):
                        o = np.argsort(mem)
                        key = (mem[o].tobytes(), shift[o].tobytes())
                        if key not in seen:
                            seen.add(key)
                            out.append((mem, shift, [core_b] + [c for _, c in rest], [T] + [t for t, _ in rest]))
        return out, n_solved * n_cores

    def _stacked_pool(self, a: int, b: int, T: float) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per sensor but the anchor's: its strong detections within a wavefront's reach of the
        anchor ``a`` or of ``b``, ``T`` s later: (indices, their shift back, s, their times
        moved back, s)."""
        cfg = self.cfg
        _, per, times = self._string_sets()
        s = int(self.sens[a])
        pool = {}
        for s3 in range(len(self.table.ids)):
            if s3 == s or times[s3].size == 0:
                continue
            reach = self.dist[s, s3] / cfg.c_mps + cfg.gate_margin_s
            ix, sh = [], []
            for t_c, shift in ((float(self.t[a]), 0.0), (float(self.t[b]), T)):
                lo, hi = np.searchsorted(times[s3], [t_c - reach, t_c + reach + 1e-12])
                ix.append(per[s3][lo:hi])
                sh.append(np.full(hi - lo, shift))
            ix, sh = np.concatenate(ix), np.concatenate(sh)
            if ix.size:
                pool[s3] = (ix, sh, self.t[ix] - sh)
        return pool

    def _stacked_sets(self, a: int, r: int, pool: dict):
        """The sets (indices, shifts, s) that the core ``a``, ``r`` and one candidate of ``pool``
        (per sensor, the core's left out: indices, shifts, times moved back) fix and gather
        (see ``_stacked``)."""
        cfg = self.cfg
        own_min = max(3, cfg.min_sensors)
        for s3, (ix3, sh3, _) in pool.items():
            for c, shift in zip(ix3.tolist(), sh3.tolist()):
                idx = np.array([a, r, c], dtype=np.int64)
                sol = self._solve(idx, t=self.t[idx] - np.array([0.0, 0.0, shift]))
                if not sol.ok:
                    continue
                pos = np.asarray(sol.pos_m, dtype=np.float64)
                pred = float(sol.t0_s) + travel_s(pos, self.table.pos_m, cfg.c_mps, sol.wind_mps)
                mem, shs = [a, r, c], [0.0, 0.0, shift]
                for s4, (ix4, sh4, tt4) in pool.items():
                    if s4 == s3:
                        continue
                    j = int(np.argmin(np.abs(tt4 - pred[s4])))
                    if abs(tt4[j] - pred[s4]) <= 2.0 * cfg.tolerance_s:
                        mem.append(int(ix4[j]))
                        shs.append(float(sh4[j]))
                shift_a = np.array(shs)
                n_own = np.count_nonzero(shift_a == 0.0)  # T >= MIN_ROUND_S: 0 is exact
                if len(mem) >= 4 and n_own >= own_min and n_own < len(mem):
                    yield np.array(mem, dtype=np.int64), shift_a

    def _same_gun(self, first: np.ndarray, then: np.ndarray) -> bool:
        """Whether detections ``then`` can be the next round of ``first`` (indices, the same
        sensors in order) by their levels: a gun's rounds reach a sensor within
        ``LEVEL_DROP_DB`` of each other, whichever came first.  (A pair of weak sounds spaced
        by chance like a round's two loudest arrivals, a second before it, is no round of
        that gun: Pittsburgh FP1 test_011.)  Unknown levels (NaN) cannot vouch: False."""
        return not self._too_weak(self.level[first], then[None, :], each=True, louder=True)[0]

    def _stacked_rival(self, anchors: np.ndarray, done: set[int]) -> _Found | None:
        """The hypothesis of ``_stacked`` with the most evidence, if it clears what a new source
        needs; ``done``: anchors already expanded since the last accepted shot, updated here.

        Its evidence is that of the fit of both rounds' arrivals as one round's (``evidence``)
        plus that of each later round's core as a repeat of the anchor round's pattern, less
        the log of where else the search looked (``_stacked``).  It passes the gates of
        any new source (strengths, residual scale, range, no accepted round there) and its
        core those of a repeat (``_same_gun``).  The shot is the anchor's round, at the joint
        fit; the later rounds are then found as repeats of it (``_pinned`` when two sensors
        match)."""
        cfg = self.cfg
        new = np.array([a for a in anchors.tolist() if a not in done], dtype=np.int64)
        if new.size == 0:
            return None
        done.update(new.tolist())
        hyps, n_tried = self._stacked(new)
        if not hyps:
            return None
        cost = math.log(n_tried)
        best = None
        for mem, shift, cores, intervals in hyps:
            if (self._fix_strength(mem) < cfg.support_min_strength_db
                    or self._median_strength(mem) < cfg.min_strength_db):
                continue
            sol = self._solve(mem, t=self.t[mem] - shift)
            if not sol.ok or not np.all(sol.used):
                continue
            pos, t0 = np.asarray(sol.pos_m, dtype=np.float64), float(sol.t0_s)
            res = np.asarray(sol.residual_s, dtype=np.float64)
            if np.abs(res).max() > cfg.tolerance_s or self._near_round(pos, t0):
                continue
            if np.hypot(*(self.table.pos_m[self.sens[mem], :2] - pos[:2]).T).min() > self.max_range:
                continue
            # as for any new source (``refine``): a fit far looser than the shots so far is an alias
            if len(self.scales) >= 3 and _robust_scale(res) > ALIAS_RATIO * _median(self.scales):
                continue
            own = shift == 0.0
            core_a = mem[:2]  # the anchor and its partner, in the anchor's round
            p_hear = self._p_hear(self.sens[mem[own]])
            ev = self.evidence(pos, t0, res, mem, sol.wind_mps) - cost
            for core_b, T in zip(cores, intervals):  # each later round's core, as a repeat of this one
                res_b = self.t[core_b] - self.t[core_a] - T
                ev += self.evidence(pos, t0 + T, res_b - res_b[0], core_b, sol.wind_mps,
                                    tol_s=cfg.repeat_tolerance_s, floor_s=REPEAT_FLOOR_S, p_hear=p_hear)
            need = self._need() + self._burst_extra(t0, float(self.t[mem[own]].min()))
            if ev < need or (best is not None and ev <= best[0]):
                continue
            best = (ev, mem[own], sol, res[own], intervals[0])
        if best is None:
            return None
        ev, used, sol, res, T = best
        order = np.argsort(self.t[used], kind="stable")
        used, res = used[order], res[order]
        n = int(used.size)
        # the joint fit, told as the shot's own round's (its arrivals, their residuals there)
        sol = replace(sol, residual_s=res, used=np.ones(n, dtype=bool), flags=("",) * n,
                      reason=f"fitted with the next round's arrivals, moved back {1e3 * T:.0f} ms")
        return self._found(used, sol, res, n, ev)

    def _string_rival(self, got: _Found | None, anchors: np.ndarray, expanded: set[int],
                      tried: set[bytes]) -> _Found | None:
        """``got``, or the string hypothesis (``_strings``) of ``anchors`` with more evidence.
        ``expanded`` and ``tried``: anchors and groups already done since the last accepted
        shot, updated here."""
        new = np.array([a for a in anchors.tolist() if a not in expanded], dtype=np.int64)
        if new.size == 0:
            return got
        expanded.update(new.tolist())
        for idx in self._strings(new):
            key = idx.tobytes()
            if key in tried:
                continue
            tried.add(key)
            other = self.refine(idx)
            if other is not None and (got is None or other.evidence > got.evidence):
                got = other
        return got

    def _retire_shadow(self, used: np.ndarray) -> None:
        """Retire, at each sensor of a new shot, the detections just after the one it used: the
        ground reflection and the echoes off the sensor's own building, which would otherwise
        build a copy of the shot a few ms later."""
        shadow = self.cfg.shadow_s if self.cfg.shadow_s is not None else self.cfg.tolerance_s
        for q in used:
            s = self.sens[q]
            seg = self.st[self.ptr[s] : self.ptr[s + 1]]
            lo = self.ptr[s] + np.searchsorted(seg, self.t[q], side="right")
            hi = self.ptr[s] + np.searchsorted(seg, self.t[q] + shadow, side="right")
            self.active[self.order[lo:hi]] = False

    def _earlier(self, used: np.ndarray) -> np.ndarray:
        """Per detection of ``used``, the strongest active detection of its sensor from
        ``EARLIER_TOLERANCES`` tolerances before it, if stronger (``strength_db``); sorted indices."""
        out = used.copy()
        back = EARLIER_TOLERANCES * self.cfg.tolerance_s
        strength = np.nan_to_num(self.strength, nan=np.inf)
        for k, q in enumerate(used.tolist()):
            s = self.sens[q]
            a, b = self.ptr[s], self.ptr[s + 1]
            lo = a + int(np.searchsorted(self.st[a:b], self.t[q] - back))
            hi = a + int(np.searchsorted(self.st[a:b], self.t[q]))
            ix = self.order[lo:hi]
            ix = ix[self.active[ix] & self.new_ok[ix]]
            if ix.size and strength[ix].max() > strength[q]:
                out[k] = ix[np.argmax(strength[ix])]
        return np.sort(out)

    def _blasts_before(self, mem: np.ndarray) -> _Found | None:
        """The source that the stronger arrivals shortly before the detections ``mem`` make
        (``_earlier``), if any differ and it clears ``min_evidence``.

        In a search over a few sensors one echo in the kernel's best set (an echo can fit
        tighter than the blast before it when the sensors sit 10 ms off their straight-line
        delays) sinks a true source that has no redundant arrival to spare, and the kernel
        offers no other set for that anchor (Pittsburgh FP1 test_016: BNQ-0979's echo 42 ms
        after its blast).  ``_challenge`` asks the same of a source that passed.
        """
        early = self._earlier(mem)
        return None if np.array_equal(early, np.sort(mem)) else self.refine(early)

    def _need(self) -> float:
        """``min_evidence``, or its default for this many sensors, nats."""
        cfg = self.cfg
        return cfg.min_evidence if cfg.min_evidence is not None else 8.0 + 0.75 * min(len(self.table.ids), 16)

    def _burst_extra(self, t0: float, heard: float | None = None) -> float:
        """The evidence a new source emitting at ``t0`` (s) needs beyond ``min_evidence``:
        ``burst_extra_evidence`` while a remembered place is firing, else 0.

        Firing: a round within ``burst_window_s`` of ``t0``, or, given ``heard`` (the
        source's first arrival, s), the round's first arrival within ``burst_window_s`` of
        it.  What makes aliases easy is the burst's arrivals and echoes filling the sensors'
        streams; a source far off (1 km: 3 s of travel) that would emit a second before the
        first round is heard among them all the same.
        """
        cfg, w = self.cfg, self.cfg.burst_window_s
        for q in self.patterns:
            if min(abs(t0 - r) for r in q.rounds) <= w:
                return cfg.burst_extra_evidence
            if heard is not None:
                lead = float(q.delay.min()) if q.delay.size else 0.0
                if min(abs(heard - r - lead) for r in q.rounds) <= w:
                    return cfg.burst_extra_evidence
        return 0.0

    def _hopeless(self, anchor: int, mem: np.ndarray) -> bool:
        """Whether the hypothesis of ``anchor`` (its members ``mem``) is so far below the
        evidence a new source there needs (``min_evidence``, and ``_burst_extra`` during a
        burst) at the kernel's own source that refining it (a robust solve or three,
        re-gathering) cannot lift it there: by more than ``HOPELESS_NATS``.  Its evidence is
        ``evidence`` at that source, computed in one compiled call (``source_evidence``)."""
        from locator._associate_kernels import source_evidence

        x, y, t0 = self.xyt[anchor]
        rng = math.inf if self.cfg.hear_range_m is None else float(self.cfg.hear_range_m)
        ev = source_evidence(self.table.pos_m, float(x), float(y), float(self.z0), float(t0), self.cfg.c_mps,
                             self.wind, np.ascontiguousarray(mem, dtype=np.int64), self.t, self.sens, self.strength,
                             self.cfg.detection_probability, rng, self._rate_key, self._rate_base, self._rate_str,
                             self.cfg.tolerance_s, RATE_HALF_S, self._gate_s, self.t_end)
        return ev < self._need() + self._burst_extra(float(t0), float(self.t[mem].min())) - HOPELESS_NATS

    def _aloft(self, got: _Found) -> _Found:
        """``got``, or the same arrivals' source high above it when that explains them much better
        (by ``AERIAL_NATS``): an aerial firework bursts 50-150 m up, and a search on the
        ground fits its direct arrivals and their ground reflections 30-40 ms late.  Only with
        ``AERIAL_MIN_SENSORS`` arrivals: with fewer, a free height fits the noise of a few."""
        best = got
        if got.used.size < AERIAL_MIN_SENSORS:
            return got
        for h in AERIAL_HEIGHTS_M:
            other = self.refine(got.used, z_m=self.z0 + h)
            if other is not None and other.evidence >= max(best.evidence, got.evidence + AERIAL_NATS):
                best = other
        return best

    def _challenge(self, got: _Found, window: np.ndarray, dead: np.ndarray) -> _Found:
        """``got``, the best new source of the anchors in ``window``, or a better one that
        wants its arrivals.

        When the sensors nearest a gun miss a round, the next round reaches them before this
        one reaches the far sensors, and the front of the stream offers a mix of the two: an
        alias of the burst (near sensors one round, far sensors the other), the best hypothesis
        its anchors can make.  The round whose arrivals it took starts beyond the window; it is
        found by anchoring at the alias's own arrivals, and the one with more evidence wins.
        Once accepted, an alias would have been the pattern every later round repeats.
        """
        # The blast reaches each sensor before its echoes and is louder: a fit to echoes a few
        # ms after the blasts (a source a few metres off, later) is challenged by the stronger
        # arrivals shortly before its own.
        early = self._earlier(got.used)
        if not np.array_equal(early, np.sort(got.used)):
            other = self.refine(early)
            if (other is not None and other.evidence > got.evidence
                    and abs(other.shot.t0_ns - got.shot.t0_ns) <= RIVAL_S * NS):
                got = other
        for _ in range(CHALLENGES):
            # the strong detections around each of its arrivals, at its sensors
            t, near = self.t[got.used], np.zeros(self.t.size, dtype=np.bool_)
            for s, lo, hi in zip(self.sens[got.used].tolist(), np.searchsorted(self.t, t - RIVAL_S).tolist(),
                                 np.searchsorted(self.t, t + RIVAL_S, side="right").tolist()):
                near[lo:hi] |= self.sens[lo:hi] == s
            near[window] = False
            rivals = np.flatnonzero(near & self.for_new() & ~dead)
            if rivals.size == 0:
                break
            window = np.union1d(window, rivals)
            self.score(rivals)
            mem = self.members[rivals]
            # hypotheses of their own: enough sensors, not a subset of this one's arrivals
            own = ((mem >= 0) & ~np.isin(mem, got.used)).any(axis=1)
            ok = np.flatnonzero((self.support[rivals] >= self.cfg.min_sensors) & own)
            if ok.size == 0:
                break
            mem = mem[ok[np.argmax(self.score_[rivals[ok]])]]
            other = self.refine(mem[mem >= 0])
            if (other is None or other.evidence <= got.evidence or not np.isin(other.used, got.used).any()
                    or abs(other.shot.t0_ns - got.shot.t0_ns) > RIVAL_T0_S * NS):
                break
            got = other
        return got

    def run(self) -> list[Shot]:
        cfg = self.cfg
        n = len(self.dets)
        shots: list[Shot] = []
        dead = ~self.strong  # anchors whose best hypothesis failed (weak ones never anchor)
        fresh = np.zeros(n, dtype=np.bool_)  # scored against the current active set
        rep_failed = (-1, -1)  # (shots accepted, end of range) of the last repeat search that failed
        # string hypotheses (sparse arrays): anchors expanded and groups refined in vain, since the
        # last accepted shot (nothing else changes what they give)
        expanded: set[int] = set()
        tried: set[bytes] = set()
        stacked: set[int] = set()  # anchors expanded by ``_stacked_rival``
        # "best" order: one window over everything, i.e. the globally best hypothesis first
        window = cfg.anchor_window_s if cfg.order == "front" else np.inf
        i0 = 0
        # Front of the stream first: the anchors within ``anchor_window_s`` of the earliest
        # active, not-yet-failed detection compete and the best hypothesis among them is
        # tried.  Taking shots in time order retires each shot's arrivals (and their
        # shadows) before later shots are looked at, so the periodic "aliases" of automatic
        # fire (a wrong position where the comb of arrivals lines up one shot later at some
        # sensors) lack the earlier arrivals they would need; letting a few anchors compete
        # keeps one bad anchor (a sensor with a wrong clock) from deciding the shot.
        while True:
            while i0 < n and (not self.active[i0] or dead[i0]):
                i0 += 1
            if i0 >= n:
                break
            hi = int(np.searchsorted(self.t, self.t[i0] + window, side="right"))
            cand = np.arange(i0, hi)
            cand = cand[self.active[cand] & ~dead[cand]]
            got = None
            if cfg.repeat_tolerance_s > 0 and self.patterns:
                # repeats may come from further ahead than the window: the next round of a burst
                # is found before the leftovers at the front (echoes, noise) are given up on
                hi_r = int(np.searchsorted(self.t, self.t[i0] + window + REPEAT_AHEAD_S, side="right"))
                # a search that failed fails again until a shot changes the patterns or the
                # detections, or the range reaches detections it has not seen
                if not (rep_failed[0] == len(shots) and hi_r <= rep_failed[1]):
                    rc = np.arange(i0, hi_r)
                    got = self.repeat(rc[self.active[rc]])
                    if got is None:
                        rep_failed = (len(shots), hi_r)
            if got is not None:
                self._accept(got, shots)
                fresh[:] = False
                expanded.clear()
                tried.clear()
                stacked.clear()
                continue
            stale = cand[~fresh[cand]]
            if stale.size:
                self.score(stale)
                fresh[stale] = True
            ok = cand[self.support[cand] >= cfg.min_sensors]
            best, got = -1, None
            if ok.size:
                best = int(ok[np.argmax(self.score_[ok])])
                mem = self.members[best]
                mem = mem[mem >= 0]
                if not self.active[mem].all():
                    fresh[best] = False
                    continue
                hopeless = self._hopeless(best, mem)
                got = None if hopeless else self.refine(mem)
                if got is None and self.sparse and not hopeless:
                    got = self._blasts_before(mem)
            if self.sparse:
                # a string's rounds propose themselves (``_strings``): the kernel's best minimal
                # set may be an echo line-up that fits tighter than rounds with 10 ms of model error
                got = self._string_rival(got, cand, expanded, tried)
                if got is None:
                    got = self._stacked_rival(cand, stacked)
            if got is None:
                dead[cand if best < 0 else best] = True
                continue
            self._accept(self._aloft(self._challenge(got, cand, dead)), shots)
            expanded.clear()
            tried.clear()
            stacked.clear()
            if cfg.depth > 0:
                # a gate's first strong detections changed: every hypothesis may have
                fresh[:] = False
                continue
            # hypotheses that used a retired detection must be scored again
            gone = ~self.active
            touched = np.flatnonzero(fresh)
            if touched.size:
                m = self.members[touched]
                fresh[touched[(gone[np.where(m >= 0, m, 0)] & (m >= 0)).any(axis=1)]] = False
        shots.sort(key=lambda s: s.t0_ns)
        return shots


def associate_triples(detections: Sequence[Detection], table: SensorTable, cfg: AssociationConfig,
                      context_ns: Sequence[Sequence[tuple[int, float, float]]] | None = None,
                      prior: Sequence[Shot] = (), horizon_ns: int | None = None) -> list[Shot]:
    """The "triples" associator over a time-sorted list of usable detections (see module).

    ``context_ns``: per sensor (table order), ``(t_ns, snr_db, peak_dbfs)`` of detections
    already used elsewhere, which still count towards the chance rates; ``prior``: shots found
    earlier (online: released), whose arrival patterns later rounds may repeat;
    ``horizon_ns``: how far the detections are known (UTC ns; None: all of them).
    """
    if len(detections) < cfg.min_sensors or len(table.ids) < cfg.min_sensors:
        return []
    return _Search(detections, table, cfg, context_ns, prior, horizon_ns).run()


#: Associators by name: ``f(detections sorted by time, SensorTable, AssociationConfig, context_ns=None,
#: prior=(), horizon_ns=None) -> list[Shot]``.
ASSOCIATORS = {"triples": associate_triples}


def associate(detections: Iterable[Detection], sensors: Any, config: AssociationConfig | None = None,
              prior: Sequence[Shot] = (), context: Iterable[Detection] = (),
              horizon_ns: int | None = None) -> list[Shot]:
    """Group detections into shots, offline over a whole set.

    Parameters
    ----------
    detections : iterable of Detection
        Any order; detections of sensors not in ``sensors`` and of kinds in
        ``config.exclude_kinds`` are ignored.
    sensors : mapping or sequence
        ``{sensor_id: (x, y, z)}`` in local metres, or objects with ``sensor_id`` and ``pos_m``.
    config : AssociationConfig, optional
    prior : sequence of Shot
        Shots already found (earlier windows of a stream): later rounds from their places are
        found as repeats of their arrival patterns (see module).
    context : iterable of Detection
        Detections around these that are not to be grouped (already in shots found
        elsewhere, or outside a search's pool) but were heard: they still count towards
        each sensor's chance rate and strengths, so that a blast left out still casts its
        shadow on the echoes after it.  Those of sensors not in ``sensors``, or of kinds in
        ``config.exclude_kinds`` or ``config.repeat_only_kinds``, are ignored.
    horizon_ns : int, optional
        UTC ns up to which the detections are known: a live stream's present.  A sensor's
        chance rate near it is counted over what has been heard so far (see
        ``_associate_kernels.covered_s``).  None (offline): the set is complete.

    Returns
    -------
    list of Shot
        In order of emission time.  Detections in no shot (echoes, confusers heard by too
        few sensors) are simply not in any.
    """
    cfg = config or AssociationConfig()
    table = SensorTable.from_any(sensors)
    return ASSOCIATORS[cfg.method](_usable(detections, table, cfg), table, cfg, _context(context, table, cfg), prior,
                                   horizon_ns)


def _context(detections: Iterable[Detection], table: SensorTable, cfg: AssociationConfig
             ) -> list[list[tuple[int, float, float]]] | None:
    """Per sensor (table order), ``(t_ns, snr_db, peak_dbfs)`` of the context detections; None if none."""
    out: list[list[tuple[int, float, float]]] = [[] for _ in table.ids]
    skip = set(cfg.exclude_kinds) | set(cfg.repeat_only_kinds)  # out of the chance rates (see _Search)
    n = 0
    for d in detections:
        s = table.index.get(d.sensor_id)
        if s is not None and d.kind not in skip:
            out[s].append((d.t_ns, d.snr_db, d.peak_dbfs))
            n += 1
    return out if n else None


class OnlineAssociator:
    """Association over a time-ordered stream with a bounded wait.

    ``push`` takes detections in (roughly) time order and returns the shots that became
    final; ``flush(now_ns)`` finalises what the clock ``now_ns`` allows (call it when the
    stream is quiet) and ``flush()`` everything.  A shot is final once its emission time
    plus the longest travel time to any sensor, plus tolerance and gate margin, is past.

    Parameters
    ----------
    sensors : mapping or sequence
        As for :func:`associate`.
    config : AssociationConfig, optional
    """

    def __init__(self, sensors: Any, config: AssociationConfig | None = None):
        self._cfg = config or AssociationConfig()
        self._table = SensorTable.from_any(sensors)
        self._buf: list[Detection] = []
        self._released: list[Detection] = []  # in released shots: still count towards chance rates
        self._recent: list[Shot] = []  # released shots whose patterns later rounds may repeat
        self._now_ns: int | None = None
        self._last_run_ns: int | None = None
        c = self._cfg.c_mps
        # A detection older than this cannot share a shot with one arriving now.
        self._span_ns = int((self._table.diameter_m / c + self._cfg.gate_margin_s + self._cfg.tolerance_s) * NS)

    @property
    def max_wait_s(self) -> float:
        """Longest a shot can wait after its first arrival before it is final, s."""
        return self._span_ns / NS

    @property
    def pending(self) -> int:
        """Detections held, waiting for their shot to be final."""
        return len(self._buf)

    def push(self, detection: Detection) -> list[Shot]:
        """Add one detection; return shots that are now final (usually none)."""
        if detection.sensor_id not in self._table.index or detection.kind in self._cfg.exclude_kinds:
            return []
        self._buf.append(detection)
        if self._now_ns is None or detection.t_ns > self._now_ns:
            self._now_ns = detection.t_ns
        if self._last_run_ns is None:
            self._last_run_ns = self._now_ns
        if self._now_ns - self._last_run_ns >= int(self._cfg.step_s * NS):
            return self._run(self._now_ns)
        return []

    def flush(self, now_ns: int | None = None) -> list[Shot]:
        """Finalise the shots complete by ``now_ns`` (UTC ns); None finalises everything."""
        if now_ns is not None and self._now_ns is not None:
            now_ns = max(now_ns, self._now_ns)
        return self._run(now_ns)

    def _final_by(self, shot: Shot) -> int:
        far = float(np.max(np.linalg.norm(self._table.pos_m - shot.pos_m, axis=1)))
        return shot.t0_ns + int((far / self._cfg.c_mps + self._cfg.tolerance_s + self._cfg.gate_margin_s) * NS)

    def _run(self, now_ns: int | None) -> list[Shot]:
        self._last_run_ns = self._now_ns
        if not self._buf:
            return []
        dets = _usable(self._buf, self._table, self._cfg)
        context = _context(self._released, self._table, self._cfg)
        shots = ASSOCIATORS[self._cfg.method](dets, self._table, self._cfg, context, self._recent, now_ns)
        final = [s for s in shots if now_ns is None or self._final_by(s) <= now_ns]
        used = {id(d) for s in final for d in s.detections}
        keep = [d for d in self._buf if id(d) not in used]
        if now_ns is None:
            keep = []
        else:
            # Unused detections older than one array crossing before the oldest pending shot
            # can no longer join one: echoes and confusers leave the buffer here.
            final_ids = {id(s) for s in final}
            pending = [s.first_ns for s in shots if id(s) not in final_ids]
            horizon = min(pending + [now_ns]) - 2 * self._span_ns
            keep = [d for d in keep if d.t_ns >= horizon]
            self._released = [d for d in self._released if d.t_ns >= horizon - self._span_ns]
            self._released += list({id(d): d for s in final for d in s.detections}.values())  # shared once
            # released shots stay as patterns for the rounds after them (REPEAT_MEMORY_S)
            keep_ns = now_ns - int(REPEAT_MEMORY_S * NS)
            self._recent = [s for s in self._recent if s.t0_ns >= keep_ns] + final
        self._buf = keep
        return final

"""Offline analysis: a recording set (``salvo analyze``) or a detection log (``salvo locate``)
to shots and incidents.

analyze: every audio file -> the node's detector (``sensor_node.pipeline.detect_array``)
-> detections -> association -> solving -> incidents.  locate: the same from detections.
The speed of sound comes from ``site.json``'s temperature (20 degC without one) and the
shooter's height from its ground height (1.5 m above it), else the solver's own estimate.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from locator.associate import AssociationConfig, Shot, associate
from locator.incidents import Incident, IncidentConfig, build_incidents
from locator.recording_set import SensorSet
from salvo.errors import ConfigError, InputError, where
from sensor_node.protocol import Detection

#: Muzzle height above the ground, m.
MUZZLE_M = 1.5


@dataclass(frozen=True, slots=True)
class AnalyzeConfig:
    """Settings of an offline analysis; None fields are derived from the site.

    Attributes
    ----------
    association : AssociationConfig or None
        None: defaults with ``c_mps`` and ``source_z_m`` from the site.
    incidents : IncidentConfig or None
        None: defaults with ``ground_z_m`` and ``c_mps`` from the site.
    pipeline : object or None
        ``sensor_node.pipeline.PipelineConfig`` for the detector (None: its defaults).
    max_pick_sigma_s : float or None
        Detections whose onset was timed worse than this are left out before association, s
        (their ``sigma_s`` as detected or logged, before the sensor's clock sigma is added;
        an unknown one, NaN, is kept; default None: none are left out).  A setting for a noisy street: there the detector also
        triggers on slow-rising sounds (traffic, voices, rattles) whose onset it can time only
        to ms, while a muzzle blast rises in a few samples.  On the Pittsburgh FP1+FP2 audio
        0.0005 keeps 92% of the detections within 3 ms of ShotSpotter's own pulses and 3.6%
        of the others (1,559 of 42,900), and the chance line-ups of the rest no longer
        outscore the rounds.  In the simulated gunfight (seed 101) 12% of the detections in
        its shots are timed worse than that, mostly far sensors': leave it off where street
        noise does not dominate the stream.
    """

    association: AssociationConfig | None = None
    incidents: IncidentConfig | None = None
    pipeline: object | None = None
    max_pick_sigma_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_pick_sigma_s is not None and not self.max_pick_sigma_s > 0:
            raise ConfigError(f"analyze: max_pick_sigma_s must be > 0 or None, got {self.max_pick_sigma_s!r}")


@dataclass(frozen=True, slots=True)
class Analysis:
    """What an analysis found.

    Attributes
    ----------
    sensor_set : SensorSet
    detections : tuple of Detection
        Every detection the detector made (analyze) or the log held (locate).
    shots : tuple of Shot
    incidents : tuple of Incident
    problems : tuple of str
        Inputs skipped or suspicious, each naming file and line.
    seconds : dict
        Wall time of each stage, s.
    """

    sensor_set: SensorSet
    detections: tuple[Detection, ...]
    shots: tuple[Shot, ...]
    incidents: tuple[Incident, ...]
    problems: tuple[str, ...]
    seconds: dict = field(default_factory=dict)


def site_configs(sensor_set: SensorSet, config: AnalyzeConfig) -> tuple[AssociationConfig, IncidentConfig]:
    """Association and incident settings with the site's speed of sound and ground filled in."""
    from locator.solve import default_source_z

    site = sensor_set.site
    c = site.c_mps
    pos = [s.pos_m for s in sensor_set.sensors]
    if site.ground_z_m is not None:
        src_z = site.ground_z_m + MUZZLE_M
    else:
        src_z = default_source_z(pos)
    wind = None
    if site.wind_speed_mps is not None and site.wind_from_deg is not None:
        # "from" azimuth (clockwise from north) -> vector the air moves towards (east, north)
        az = math.radians(site.wind_from_deg + 180.0)
        wind = (site.wind_speed_mps * math.sin(az), site.wind_speed_mps * math.cos(az))
    assoc = config.association or AssociationConfig(c_mps=c, source_z_m=src_z, wind_mps=wind)
    inc = config.incidents or IncidentConfig(ground_z_m=src_z - MUZZLE_M, c_mps=c,
                                             timing_sigma_s=max(assoc.min_sigma_s, assoc.tolerance_s / 3.0))
    return assoc, inc


def with_clock_sigma(detections: Sequence[Detection], sensor_set: SensorSet) -> list[Detection]:
    """Detections with each sensor's clock sigma added (in quadrature) to the picker's."""
    sig = {s.sensor_id: s.sigma_clock_s for s in sensor_set.sensors}
    out = []
    for d in detections:
        sc = sig.get(d.sensor_id, 0.0)
        base = d.sigma_s if math.isfinite(d.sigma_s) else 1e-3
        out.append(dataclasses.replace(d, sigma_s=math.hypot(base, sc)) if sc > 0 else d)
    return out


def locate_detections(detections: Sequence[Detection], sensor_set: SensorSet, config: AnalyzeConfig | None = None,
                      problems: Sequence[str] = (), seconds: dict | None = None) -> Analysis:
    """Associate, solve and build incidents from detections.

    Detections from sensors that are not in ``sensor_set`` are reported once per sensor in
    ``problems`` and left out.
    """
    config = config or AnalyzeConfig()
    seconds = dict(seconds or {})
    problems = list(problems)
    known = {s.sensor_id for s in sensor_set.sensors}
    unknown = sorted({d.sensor_id for d in detections} - known)
    for sid in unknown:
        n = sum(d.sensor_id == sid for d in detections)
        problems.append(f"{where(sensor_set.csv_path)}: no sensor {sid!r}; its {n} detection(s) were left out")
    assoc_cfg, inc_cfg = site_configs(sensor_set, config)
    t = time.perf_counter()
    limit = config.max_pick_sigma_s
    usable = with_clock_sigma([d for d in detections if d.sensor_id in known
                               and not (limit is not None and d.sigma_s > limit)], sensor_set)
    shots = associate(usable, sensor_set.positions, assoc_cfg)
    seconds["associate"] = time.perf_counter() - t
    t = time.perf_counter()
    incidents = build_incidents(shots, inc_cfg)
    seconds["incidents"] = time.perf_counter() - t
    return Analysis(sensor_set, tuple(detections), tuple(shots), tuple(incidents), tuple(problems), seconds)


def detect_recordings(recordings: Sequence, pipeline_config: object | None = None,
                      progress: Callable[[str], None] | None = None) -> list[Detection]:
    """Run the node's detector over each recording (at its own sample rate)."""
    from sensor_node.pipeline import detect_array

    out: list[Detection] = []
    for k, rec in enumerate(recordings):
        if progress:
            progress(f"detecting {k + 1}/{len(recordings)}: {rec.sensor.sensor_id} ({rec.audio.size / rec.fs_hz:.1f} s)")
        out += detect_array(rec.sensor.sensor_id, rec.audio, rec.fs_hz, int(rec.sensor.start_ns), pipeline_config)
    out.sort(key=lambda d: (d.t_ns, d.sensor_id))
    return out


def analyze(root: str | Path, config: AnalyzeConfig | None = None, *, keep_going: bool = False,
            progress: Callable[[str], None] | None = None) -> Analysis:
    """``salvo analyze``: a recording set folder to shots and incidents.

    Parameters
    ----------
    root : str or Path
        Folder with ``sensors.csv``, audio files and optionally ``site.json``.
    config : AnalyzeConfig, optional
    keep_going : bool
        Skip bad rows and unreadable audio (reported in ``problems``) instead of stopping.
    progress : callable, optional
        Called with a line of text per stage.
    """
    from locator.recording_set import load_recording_set

    config = config or AnalyzeConfig()
    t = time.perf_counter()
    rs = load_recording_set(root, keep_going=keep_going)
    seconds = {"read": time.perf_counter() - t}
    t = time.perf_counter()
    dets = detect_recordings(rs.recordings, config.pipeline, progress)
    seconds["detect"] = time.perf_counter() - t
    if progress:
        progress(f"{len(dets)} detections from {len(rs.recordings)} sensors; associating")
    # only sensors with audio take part
    with_audio = {r.sensor.sensor_id for r in rs.recordings}
    sset = dataclasses.replace(rs.sensor_set, sensors=tuple(s for s in rs.sensor_set.sensors if s.sensor_id in with_audio))
    return locate_detections(dets, sset, config, rs.problems, seconds)


def locate(detections_path: str | Path, sensors_csv: str | Path, config: AnalyzeConfig | None = None, *,
           keep_going: bool = False) -> Analysis:
    """``salvo locate``: a detection log and a sensors file to shots and incidents."""
    from locator.detections_io import read_detections
    from locator.recording_set import load_sensors

    sset = load_sensors(sensors_csv, need_audio=False, keep_going=keep_going)
    log = read_detections(detections_path, keep_going=keep_going)
    if not log.detections:
        raise InputError(f"{where(detections_path)}: no detections" +
                         (f" ({len(log.problems)} broken line(s))" if log.problems else ""))
    return locate_detections(log.detections, sset, config, tuple(sset.problems) + log.problems)

"""What a simulation produces: per-sensor recordings, the truth, and every true arrival."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SensorRecording:
    """One sensor's recording and the facts about it.

    Attributes
    ----------
    sensor_id : str
    pos_m : numpy.ndarray, shape (3,)
        True position, local east-north-up metres.
    reported_pos_m : numpy.ndarray, shape (3,)
        Position as surveyed (with position error): what sensors.csv says.
    fs_hz : int
        Sample rate, Hz.
    audio : numpy.ndarray of float32, shape (n,)
        Samples, full scale ±1 (exactly what the WAV reads back as).
    bits : int
        ADC resolution.
    start_ns : int
        What the sensor's clock read at the first sample, UTC ns.
    clock : str
        ``gps``, ``ntp`` or ``unknown``.
    clock_offset_s : float
        Sensor clock − true UTC at the first sample, s (fault included).
    clock_drift_ppm : float
        Clock rate error, ppm (the offset grows by this × elapsed time).
    sigma_clock_s : float
        1-sigma clock uncertainty a user would assume for this clock kind, s.
    clock_fault_s : float
        The explicit fault included in the offset, s.
    full_scale_db_spl : float
        Peak pressure that reaches digital full scale on this unit (its sensitivity), dB SPL.
    """

    sensor_id: str
    pos_m: np.ndarray
    reported_pos_m: np.ndarray
    fs_hz: int
    audio: np.ndarray
    bits: int
    start_ns: int
    clock: str
    clock_offset_s: float
    clock_drift_ppm: float
    sigma_clock_s: float
    clock_fault_s: float
    full_scale_db_spl: float


@dataclass(frozen=True)
class TrueShot:
    """A discharge: ``event`` indexes :attr:`SimResult.events`; ``incident`` groups shots;
    ``aim`` is the unit vector of the barrel (east, north, up) for this round."""

    event: int
    t_ns: int
    pos_m: np.ndarray
    shooter: str
    weapon: str
    incident: int
    supersonic: bool
    aim: np.ndarray


@dataclass(frozen=True)
class TrueConfuser:
    """A non-gunfire impulse (firecracker, firework launch or burst, door slam, backfire, nail gun)."""

    event: int
    t_ns: int
    pos_m: np.ndarray
    kind: str
    incident: int


@dataclass(frozen=True)
class Truth:
    """Shots, confusers and incident names (index = ``incident`` of shots and confusers)."""

    shots: tuple[TrueShot, ...]
    confusers: tuple[TrueConfuser, ...]
    incidents: tuple[str, ...]


@dataclass(frozen=True)
class Arrival:
    """One true arrival of one event's sound at one sensor.

    Attributes
    ----------
    sensor_id : str
    event : int
        Index into :attr:`SimResult.events`.
    t_ns : int
        True UTC of the arrival (of the onset), ns.
    sample : float
        Fractional sample index of the onset in that sensor's recording (its clock included).
    path : str
        ``direct``, ``diffracted``, ``nwave``, ``echo`` or ``ground``.
    peak_pa : float
        Broadband peak pressure of this path at the sensor before losses that depend on
        frequency, Pa (a guide to loudness).
    """

    sensor_id: str
    event: int
    t_ns: int
    sample: float
    path: str
    peak_pa: float


@dataclass(frozen=True)
class Event:
    """Something that made a sound: a shot or a confuser, in the order they were generated."""

    index: int
    category: str  # "shot" | "confuser"
    kind: str  # weapon name or confuser kind
    t_ns: int
    pos_m: np.ndarray


@dataclass(frozen=True)
class SimResult:
    """Everything one simulation made (in memory; :func:`sim.recording.write_recording_set` writes it).

    Attributes
    ----------
    name : str
        Scenario name.
    seed : int
    origin : tuple of float
        (lat, lon, alt_m) of the local frame's origin.
    site : dict
        Weather and ground as written to site.json (local-frame ``ground_z_m``).
    sensors : tuple of SensorRecording
    truth : Truth
    events : tuple of Event
    arrivals : tuple of Arrival
        Sorted by sensor then time.
    missed : tuple of (sensor_id, event)
        Events occluded at a sensor by its ``miss_probability`` (nothing rendered there).
    buildings : numpy.ndarray, shape (n, 5)
        Boxes ``(x0, x1, y0, y1, top_z)`` that shaped the sound.
    """

    name: str
    seed: int
    origin: tuple
    site: dict
    sensors: tuple
    truth: Truth
    events: tuple
    arrivals: tuple
    missed: tuple
    buildings: np.ndarray

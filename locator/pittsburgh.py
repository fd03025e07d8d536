"""Loader of the ShotSpotter research release layout (Pittsburgh live-fire tests, TN 098).

One folder per test, ``FPk/test_nnn/``, holding::

    test_nnn.survey.json            truth: surveyed firing position, firearm, num_rounds
    test_nnn.audio.<SERIAL>.json    one released sensor: x/y/z (m) and the UTC time of its first sample
    test_nnn.audio.<SERIAL>.wav     that sensor's audio (12 kHz, 16-bit mono)
    test_nnn.allpulses.json         every pulse ShotSpotter's sensors reported, echoes included
    test_nnn.nlos-tuples.json       which of those pulses ShotSpotter grouped into each shot
    test_nnn.weather.json           METAR temperature and wind (optional)

Positions are in the release's anonymised local frame (metres, z up, its own origin per
firing position).  Two position sources exist for the same sensor and they disagree by
metres: the audio sidecars (:attr:`ReleaseTest.sensors`, all a user with only the audio
has) and the pulse records (:attr:`Pulse.pos_m`).  ``salvo analyze`` must only ever see
the former; the converter and the benchmarks keep them apart.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from salvo.errors import InputError, where
from salvo.utc import parse_utc_ns

#: Speed of sound at 0 degC in m/s; c = C0 * sqrt(1 + T/273.15) (REFERENCE.md, Propagation).
C0_MPS = 331.3
#: Speed of sound used when a test has no weather file: Pittsburgh in December, about -1 degC.
DEFAULT_TEMPERATURE_C = 0.0


def speed_of_sound_mps(temperature_c: float) -> float:
    """Speed of sound in dry air, m/s, at ``temperature_c`` degrees Celsius."""
    return C0_MPS * math.sqrt(1.0 + temperature_c / 273.15)


@dataclass(frozen=True, slots=True)
class Survey:
    """The truth of one test.

    Attributes
    ----------
    test_id : int
    firing_position : str
        ``"FP1"`` ...
    num_rounds : int
        Rounds fired.
    firearm : str
    pos_m : numpy.ndarray, shape (3,)
        Surveyed firing position in the release frame, metres (about 2.5 m accuracy).
    approx_ns : int
        The programme manager's rough UTC time of the test (not a discharge time).
    """

    test_id: int
    firing_position: str
    num_rounds: int
    firearm: str
    pos_m: np.ndarray
    approx_ns: int


@dataclass(frozen=True, slots=True)
class AudioSensor:
    """One sensor whose audio is released, as described by its audio sidecar.

    Attributes
    ----------
    serial : str
        Sensor serial number, e.g. ``"SCP-00-BNG-5567"``.
    wav_path : pathlib.Path
        The audio file.
    start_ns : int
        UTC time of the first sample, ns since the epoch.
    pos_m : numpy.ndarray, shape (3,)
        Sidecar position in the release frame, metres.
    """

    serial: str
    wav_path: Path
    start_ns: int
    pos_m: np.ndarray


@dataclass(frozen=True, slots=True)
class Pulse:
    """One pulse from ``allpulses.json``.

    Attributes
    ----------
    uuid : str
    serial : str
        Reporting sensor (audio not necessarily released).
    t_ns : int
        Arrival time (zero crossing at the start of the pulse), UTC ns; millisecond resolution.
    pos_m : numpy.ndarray, shape (3,)
        The sensor position as recorded with the pulse, metres.  Not the sidecar position.
    pos_error_m : float
        The sensor's self-described position error, metres.
    snr_db : float
    power_db_spl : float
    """

    uuid: str
    serial: str
    t_ns: int
    pos_m: np.ndarray
    pos_error_m: float
    snr_db: float
    power_db_spl: float


@dataclass(frozen=True, slots=True)
class Weather:
    """METAR weather of one test.

    Attributes
    ----------
    temperature_c : float
    wind_speed_mps : float
    wind_from_deg : float
        Azimuth the wind blows from, degrees.
    """

    temperature_c: float
    wind_speed_mps: float
    wind_from_deg: float

    @property
    def c_mps(self) -> float:
        """Speed of sound at this temperature, m/s."""
        return speed_of_sound_mps(self.temperature_c)


@dataclass(frozen=True, slots=True)
class ReleaseTest:
    """Everything released for one live-fire test.

    Attributes
    ----------
    name : str
        ``"test_001"``.
    path : pathlib.Path
        The test folder.
    survey : Survey
    sensors : tuple of AudioSensor
        Released audio, sorted by serial.
    pulses : tuple of Pulse
        Every reported pulse, sorted by arrival time.
    tuples : tuple of tuple of str
        Per shot (in ``shot_index`` order) the uuids ShotSpotter grouped into it.
    weather : Weather or None
    """

    name: str
    path: Path
    survey: Survey
    sensors: tuple[AudioSensor, ...]
    pulses: tuple[Pulse, ...]
    tuples: tuple[tuple[str, ...], ...]
    weather: Weather | None

    @property
    def firing_position(self) -> str:
        return self.survey.firing_position

    @property
    def c_mps(self) -> float:
        """Speed of sound from the weather file, or at :data:`DEFAULT_TEMPERATURE_C` without one."""
        if self.weather is None:
            return speed_of_sound_mps(DEFAULT_TEMPERATURE_C)
        return self.weather.c_mps

    def tuple_pulses(self) -> list[list[Pulse]]:
        """ShotSpotter's own grouping: per shot, its pulses (uuids not in allpulses are skipped)."""
        by_uuid = {p.uuid: p for p in self.pulses}
        return [[by_uuid[u] for u in shot if u in by_uuid] for shot in self.tuples]


def _read_json(path: Path) -> object:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError as exc:
        raise InputError(f"{where(path)}: file not found") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{where(path, exc.lineno)}: not valid JSON: {exc.msg}") from exc
    except OSError as exc:
        raise InputError(f"{where(path)}: cannot read: {exc}") from exc


def _field(obj: object, key: str, path: Path, parent: str = "") -> object:
    name = f"{parent}.{key}" if parent else key
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(f"{where(path, field=name)}: missing")
    return obj[key]


def _number(obj: object, key: str, path: Path, parent: str = "") -> float:
    value = _field(obj, key, path, parent)
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where(path, field=f'{parent}.{key}' if parent else key)}: {value!r} is not a number") from exc
    if not math.isfinite(out):
        raise InputError(f"{where(path, field=f'{parent}.{key}' if parent else key)}: {value!r} is not finite")
    return out


def _xyz(obj: object, key: str, path: Path, parent: str = "") -> np.ndarray:
    loc = _field(obj, key, path, parent)
    name = f"{parent}.{key}" if parent else key
    return np.array([_number(loc, k, path, name) for k in ("x", "y", "z")], dtype=np.float64)


def _utc(obj: object, key: str, path: Path, parent: str = "") -> int:
    name = f"{parent}.{key}" if parent else key
    return parse_utc_ns(str(_field(obj, key, path, parent)), what=where(path, field=name))


def load_survey(path: Path) -> Survey:
    """Read ``test_nnn.survey.json``."""
    d = _read_json(path)
    return Survey(
        test_id=int(_number(d, "test_id", path)),
        firing_position=str(_field(d, "firing_position", path)),
        num_rounds=int(_number(d, "num_rounds", path)),
        firearm=str(_field(d, "firearm", path)),
        pos_m=_xyz(d, "survey_location", path),
        approx_ns=_utc(d, "approximate_time_utc", path),
    )


def load_audio_sidecar(path: Path) -> AudioSensor:
    """Read ``test_nnn.audio.<SERIAL>.json``; the wav is the same name with ``.wav``."""
    d = _read_json(path)
    wav = path.with_suffix(".wav")
    if not wav.is_file():
        raise InputError(f"{where(wav)}: audio file named by {path.name} not found")
    return AudioSensor(
        serial=str(_field(d, "serial_number", path)),
        wav_path=wav,
        start_ns=_utc(d, "timestamp", path),
        pos_m=_xyz(d, "location", path),
    )


def load_pulses(path: Path) -> tuple[Pulse, ...]:
    """Read ``test_nnn.allpulses.json``, sorted by arrival time."""
    d = _read_json(path)
    if not isinstance(d, list):
        raise InputError(f"{where(path)}: expected a JSON list of pulses")
    out = []
    for i, p in enumerate(d):
        tag = f"[{i}]"
        out.append(
            Pulse(
                uuid=str(_field(p, "pulse_uuid", path, tag)),
                serial=str(_field(p, "serial_number", path, tag)),
                t_ns=_utc(p, "arrival_time_utc", path, tag),
                pos_m=_xyz(p, "location", path, tag),
                pos_error_m=_number(p, "location_error", path, tag) if "location_error" in p else float("nan"),
                snr_db=_number(p, "signal_to_noise_dB", path, tag) if "signal_to_noise_dB" in p else float("nan"),
                power_db_spl=_number(p, "power_dB_SPL", path, tag) if "power_dB_SPL" in p else float("nan"),
            )
        )
    out.sort(key=lambda p: (p.t_ns, p.serial))
    return tuple(out)


def load_tuples(path: Path) -> tuple[tuple[str, ...], ...]:
    """Read ``test_nnn.nlos-tuples.json``: per shot, in shot_index order, the pulse uuids."""
    d = _read_json(path)
    if not isinstance(d, list):
        raise InputError(f"{where(path)}: expected a JSON list of shots")
    rows = []
    for i, s in enumerate(d):
        idx = int(_number(s, "shot_index", path, f"[{i}]"))
        uuids = _field(s, "pulse_uuids", path, f"[{i}]")
        if not isinstance(uuids, list):
            raise InputError(f"{where(path, field=f'[{i}].pulse_uuids')}: expected a list")
        rows.append((idx, tuple(str(u) for u in uuids)))
    rows.sort()
    return tuple(u for _, u in rows)


def load_weather(path: Path) -> Weather:
    """Read ``test_nnn.weather.json``."""
    d = _read_json(path)
    return Weather(
        temperature_c=_number(d, "temperature", path),
        wind_speed_mps=_number(d, "speed", path) if isinstance(d, dict) and "speed" in d else 0.0,
        wind_from_deg=_number(d, "direction", path) if isinstance(d, dict) and "direction" in d else 0.0,
    )


def load_test(test_dir: str | Path) -> ReleaseTest:
    """Load one test folder of the release.

    Parameters
    ----------
    test_dir : str or Path
        A ``test_nnn`` folder.

    Raises
    ------
    InputError
        When the folder or a required file is missing or malformed (the message names the file and field).
    """
    test_dir = Path(test_dir)
    if not test_dir.is_dir():
        raise InputError(f"{where(test_dir)}: not a folder")
    name = test_dir.name
    survey = load_survey(test_dir / f"{name}.survey.json")
    sensors = tuple(
        sorted((load_audio_sidecar(p) for p in test_dir.glob(f"{name}.audio.*.json")), key=lambda s: s.serial)
    )
    pulses_path = test_dir / f"{name}.allpulses.json"
    pulses = load_pulses(pulses_path) if pulses_path.exists() else ()
    tuples_path = test_dir / f"{name}.nlos-tuples.json"
    tuples = load_tuples(tuples_path) if tuples_path.exists() else ()
    weather_path = test_dir / f"{name}.weather.json"
    weather = load_weather(weather_path) if weather_path.exists() else None
    return ReleaseTest(name, test_dir, survey, sensors, pulses, tuples, weather)


def iter_test_dirs(root: str | Path, firing_positions: tuple[str, ...] | None = None) -> list[Path]:
    """The test folders under ``root`` (``root/FPk/test_nnn``), sorted; optionally only some firing positions."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{where(root)}: not a folder")
    out = []
    for d in sorted(root.glob("*/test_*")):
        if not d.is_dir() or not (d / f"{d.name}.survey.json").exists():
            continue
        if firing_positions is not None and d.parent.name not in firing_positions:
            continue
        out.append(d)
    return out


def iter_tests(root: str | Path, firing_positions: tuple[str, ...] | None = None) -> Iterator[ReleaseTest]:
    """Load every test under ``root`` (``root/FPk/test_nnn``) in order.

    Parameters
    ----------
    root : str or Path
        e.g. ``../shared/data/pittsburgh-livefire-dev``.
    firing_positions : tuple of str, optional
        Only these folders, e.g. ``("FP1", "FP2")``.
    """
    for d in iter_test_dirs(root, firing_positions):
        yield load_test(d)


# ----------------------------------------------------------------------------------------------
# converter: release layout -> recording set + detection log
# ----------------------------------------------------------------------------------------------


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def pooled_positions(tests: Iterable[ReleaseTest]) -> dict[tuple[str, str], np.ndarray]:
    """Each released sensor's position as the median of its audio sidecars' fixes over ``tests``.

    The sensors are fixed installations, but each test's sidecar carries its own fix of the
    sensor's position, and on FP1-FP3 one sensor's fixes lie a median 1.6-4.8 m in x/y from
    their median (up to 25 m) and scatter 2.6-10.4 m (standard deviation) in z
    (``benchmarks/bench_pittsburgh.py --pool-positions``).  An arrival-time misfit of that size
    is 5-30 ms, the whole error budget of a 4-sensor fit.  The per-coordinate
    median of a sensor's fixes over the tests of one firing position (one local frame) is the
    usual survey of a fixed installation; it uses the sidecars alone, never the pulse records'
    positions or the truth.

    Parameters
    ----------
    tests : iterable of ReleaseTest
        Any tests; each firing position's are pooled separately.

    Returns
    -------
    dict
        ``(firing_position, serial) -> (3,)`` position, metres, in that firing position's frame.
    """
    fixes: dict[tuple[str, str], list[np.ndarray]] = {}
    for test in tests:
        for s in test.sensors:
            fixes.setdefault((test.firing_position, s.serial), []).append(np.asarray(s.pos_m, dtype=np.float64))
    return {k: np.median(np.array(v), axis=0) for k, v in fixes.items()}


def convert_test(test: ReleaseTest, out_dir: str | Path,
                 positions: dict[tuple[str, str], np.ndarray] | None = None) -> Path:
    """Write one release test as a recording set and a detection log.

    Layout::

        out_dir/sensors.csv, <serial>.wav, site.json, survey.json    recording set (``salvo analyze``):
                                                                      sidecar positions only
        out_dir/pulses/detections.jsonl, sensors.csv, site.json      every pulse of allpulses.json
                                                                      (``salvo locate``), positions
                                                                      as recorded with the pulses

    The two ``sensors.csv`` files are kept apart on purpose: the sidecar and the pulse
    positions of one sensor differ by metres, and an analysis of the audio must not see the
    latter.  Positions are the release's local frame (``x_m, y_m, z_m``).

    Parameters
    ----------
    test : ReleaseTest
    out_dir : str or Path
    positions : dict, optional
        ``(firing_position, serial) -> (3,)`` sensor positions, metres, in the firing position's
        frame (:func:`pooled_positions`), used instead of this test's sidecar fixes; it must hold
        every released sensor of the test.  None: the sidecar fixes.

    Raises
    ------
    InputError
        When ``positions`` lacks one of the test's sensors, or a file cannot be written.
    """
    import json as _json
    import shutil

    from salvo.utc import format_utc_ns

    out = Path(out_dir)
    pulses_dir = out / "pulses"
    try:
        pulses_dir.mkdir(parents=True, exist_ok=True)
        site = {"temperature_c": test.weather.temperature_c if test.weather else DEFAULT_TEMPERATURE_C}
        if test.weather:
            site.update(wind_speed_mps=test.weather.wind_speed_mps, wind_from_deg=test.weather.wind_from_deg)
        for d in (out, pulses_dir):
            (d / "site.json").write_text(_json.dumps(site, indent=1) + "\n", encoding="utf-8")
        rows = []
        for s in test.sensors:
            if positions is not None and (test.firing_position, s.serial) not in positions:
                raise InputError(f"{where(test.path)}: no pooled position for sensor {s.serial} "
                                 f"({test.firing_position}); pool over the tests being converted")
            name = f"{s.serial}.wav"
            shutil.copyfile(s.wav_path, out / name)
            at = s.pos_m if positions is None else positions[(test.firing_position, s.serial)]
            rows.append([s.serial, name, format_utc_ns(s.start_ns, 6), *(round(float(v), 4) for v in at), "gps"])
        _write_csv(out / "sensors.csv", ["sensor_id", "file", "start_utc", "x_m", "y_m", "z_m", "clock"], rows)
        survey = {"test": test.name, "firing_position": test.firing_position, "num_rounds": test.survey.num_rounds,
                  "firearm": test.survey.firearm, "x_m": float(test.survey.pos_m[0]),
                  "y_m": float(test.survey.pos_m[1]), "z_m": float(test.survey.pos_m[2])}
        (out / "survey.json").write_text(_json.dumps(survey, indent=1) + "\n", encoding="utf-8")
        # the pulse log: one sensor position per serial (the first pulse's; they agree within a test)
        pos: dict[str, np.ndarray] = {}
        with open(pulses_dir / "detections.jsonl", "w", encoding="utf-8") as fh:
            for p in test.pulses:
                pos.setdefault(p.serial, p.pos_m)
                rec = {"sensor_id": p.serial, "t_utc": format_utc_ns(p.t_ns, 6), "sigma_s": 1e-3, "kind": "blast"}
                if math.isfinite(p.snr_db):
                    rec["snr_db"] = round(p.snr_db, 3)
                fh.write(_json.dumps(rec) + "\n")
        _write_csv(pulses_dir / "sensors.csv", ["sensor_id", "x_m", "y_m", "z_m", "clock"],
                   [[k, *(round(float(v), 4) for v in p), "gps"] for k, p in sorted(pos.items())])
    except OSError as exc:
        raise InputError(f"{where(out)}: cannot write: {exc}") from exc
    return out


def convert_release(root: str | Path, out: str | Path, firing_positions: tuple[str, ...] | None = None,
                    pool_positions: bool = False) -> list[Path]:
    """Convert every test under ``root`` to ``out/FPk/test_nnn`` (see :func:`convert_test`);
    ``pool_positions``: each sensor at the median of its sidecar fixes over the converted tests
    of its firing position (:func:`pooled_positions`) instead of each test's own fix."""
    if not iter_test_dirs(root, firing_positions):
        raise InputError(f"{where(Path(root))}: no test folders (FPk/test_nnn with test_nnn.survey.json) under it")
    positions = pooled_positions(iter_tests(root, firing_positions)) if pool_positions else None
    return [convert_test(t, Path(out) / t.firing_position / t.name, positions)
            for t in iter_tests(root, firing_positions)]

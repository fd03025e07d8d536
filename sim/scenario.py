"""Scenarios: the site, its sensors, buildings, weather, noise and the incidents to simulate.

A scenario is a TOML file (see ``sim/presets/*.toml``); :func:`load_scenario` reads it strictly:
unknown keys, wrong types, values out of range and sensors without a position fail with a
:class:`~salvo.errors.ConfigError` that names the file and the field.  Every field's unit and
default is declared once, in the dataclasses below.  Positions may be given in the local frame
(``x_m``, ``y_m``, metres east/north of the origin) or as ``lat``/``lon``; the loader converts
everything to the local east-north-up frame.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from salvo.errors import ConfigError, InputError, where
from salvo.utc import parse_utc_ns
from sim.config import F, build
from sim.sources import WEAPONS

CLOCKS = ("gps", "ntp", "unknown")
FIRE_KINDS = ("single", "semi", "auto")
CONFUSER_KINDS = ("firecracker_string", "firework", "door_slam", "backfire", "nail_gun")


@dataclass(frozen=True)
class ScenarioInfo:
    """The ``[scenario]`` table."""

    name: str = F("scenario", doc="name written into truth.json")
    description: str = F("", doc="free text")
    start_utc: str = F("2026-07-04T21:00:00Z", doc="true UTC time at which the recordings start")
    duration_s: float = F(60.0, "s", 1.0, 3600.0, doc="length of every recording")
    source_fs_hz: int = F(192000, "Hz", 192000, 1536000, doc="rate sources are synthesized at before decimation")


@dataclass(frozen=True)
class Site:
    """The ``[site]`` table: the origin of the local frame and the ground."""

    origin_lat: float = F(40.4406, "deg", -90.0, 90.0)
    origin_lon: float = F(-79.9959, "deg", -180.0, 180.0)
    origin_alt_m: float = F(250.0, "m", -500.0, 9000.0, doc="ellipsoidal height of the origin")
    ground_z_m: float = F(0.0, "m", -1000.0, 1000.0, doc="ground height in the local frame (flat ground)")


@dataclass(frozen=True)
class Environment:
    """The ``[environment]`` table: uniform weather over the site."""

    temperature_c: float = F(20.0, "°C", -40.0, 50.0)
    humidity_pct: float = F(50.0, "%", 0.0, 100.0)
    pressure_kpa: float = F(101.325, "kPa", 50.0, 110.0)
    wind_speed_mps: float = F(0.0, "m/s", 0.0, 40.0, doc="uniform wind, no vertical gradient")
    wind_from_deg: float = F(270.0, "deg", 0.0, 360.0, doc="direction the wind blows from, clockwise from north")


@dataclass(frozen=True)
class Noise:
    """The ``[noise]`` table: ambient sound at every sensor (independent between sensors)."""

    level_db_spl: float = F(45.0, "dB SPL", 0.0, 110.0, doc="broadband ambient level, 20 Hz up")
    color: str = F("pink", choices=("white", "pink", "brown"), doc="spectral slope 0, -3, -6 dB/octave")
    traffic_db_spl: float = F(0.0, "dB SPL", 0.0, 110.0, doc="peak level of passing-traffic rumble (0 = none)")
    traffic_per_min: float = F(6.0, "1/min", 0.0, 120.0, doc="vehicles passing each sensor per minute")
    wind_noise: bool = F(True, doc="microphone wind noise driven by the environment's wind speed")
    gust_factor: float = F(0.4, "", 0.0, 2.0, doc="standard deviation of gusts relative to the mean wind speed")
    gust_period_s: float = F(6.0, "s", 0.5, 120.0, doc="correlation time of gusts")


@dataclass(frozen=True)
class Propagation:
    """The ``[propagation]`` table: which paths and losses are simulated."""

    absorption: bool = F(True, doc="ISO 9613-1 air absorption")
    ground_reflection: float = F(0.9, "", 0.0, 1.0, doc="amplitude reflection coefficient of the ground (0 = none)")
    echoes: bool = F(True, doc="specular echoes from building faces")
    max_echoes: int = F(4, "", 0, 32, doc="strongest echoes kept per event and sensor")
    wall_reflection: float = F(0.7, "", 0.0, 1.0, doc="amplitude reflection coefficient of building faces")
    diffraction: bool = F(True, doc="blocked direct paths diffract around or over the building")
    reverb: bool = F(False, doc="add a diffuse reverberant tail after each arrival")
    # `python benchmarks/bench_sim.py --coda`: in ShotSpotter's Pittsburgh audio (104 unclipped rounds) the
    # energy 5-300 ms after a round's peak is +4.9 dB over the 4 ms around it (median; p10 +0.2, p90 +10.1);
    # on the same measure small-city's isolated rounds give +0.7 dB at reverb_db = 0 and +5.1 dB at +6.
    reverb_db: float = F(6.0, "dB", -80.0, 20.0, doc="tail energy relative to the first arrival's")
    reverb_rt60_s: float = F(0.8, "s", 0.05, 5.0, doc="tail decay time to -60 dB")


@dataclass(frozen=True)
class SensorParams:
    """Per-sensor parameters (``[sensor_defaults]``, overridable in each ``[[sensor]]``)."""

    fs_hz: int = F(16000, "Hz", 8000, 96000)
    bits: int = F(16, "bit", 8, 24, doc="ADC resolution; WAVs are PCM_16 up to 16 bits, PCM_24 above")
    full_scale_db_spl: float = F(130.0, "dB SPL", 80.0, 194.0, doc="peak pressure at digital full scale; louder clips")
    sensitivity_sigma_db: float = F(1.0, "dB", 0.0, 20.0, doc="unit-to-unit spread of microphone sensitivity (1-sigma)")
    self_noise_db_spl: float = F(30.0, "dB SPL", 0.0, 100.0, doc="microphone and preamp self-noise, white")
    height_m: tuple = F((5.0, 15.0), "m", 0.0, 300.0, doc="mounting height above ground, drawn uniformly in [lo, hi]")
    position_error_m: float = F(1.0, "m", 0.0, 1000.0, doc="1-sigma error of each reported coordinate")
    clock: str = F("gps", choices=CLOCKS)
    clock_sigma_s: float = F(None, "s", 0.0, 100.0, doc="1-sigma clock offset; default gps 1e-6, ntp 3e-3, unknown 0.5")
    clock_drift_ppm: float = F(None, "ppm", 0.0, 1000.0, doc="1-sigma clock drift; default gps 0, ntp 5, unknown 50")
    clock_fault_s: float = F(0.0, "s", -3600.0, 3600.0, doc="explicit extra clock offset (a fault), s")
    miss_probability: float = F(0.0, "", 0.0, 1.0, doc="chance that an event is occluded at this sensor (not heard)")
    start_jitter_s: float = F(0.0, "s", 0.0, 60.0, doc="recording starts up to this much after the scenario start")


#: Default clock offset sigma (s) and drift sigma (ppm) by clock kind.
CLOCK_DEFAULTS = {"gps": (1e-6, 0.0), "ntp": (3e-3, 5.0), "unknown": (0.5, 50.0)}


@dataclass(frozen=True)
class Layout:
    """The ``[layout]`` table: sensors generated over an area around the origin."""

    count: int = F(0, "", 0, 5000, doc="number of sensors (0: use density_per_km2)")
    density_per_km2: float = F(8.0, "1/km²", 0.0, 10000.0)
    area_m: tuple = F((1400.0, 1400.0), "m", 1.0, 1e6, doc="east and north extent, centred on center_m")
    center_m: tuple = F((0.0, 0.0), "m", -1e6, 1e6)
    pattern: str = F("jittered-grid", choices=("jittered-grid", "random"))
    jitter_m: float = F(50.0, "m", 0.0, 1e5, doc="grid jitter, uniform ± this")
    id_prefix: str = F("S")


@dataclass(frozen=True)
class SensorSpec:
    """One listed or generated sensor (local frame; ``z_m`` None: on its mounting height)."""

    sensor_id: str
    x_m: float
    y_m: float
    z_m: float | None
    params: SensorParams


@dataclass(frozen=True)
class Building:
    """A box: footprint [x0, x1] × [y0, y1] in metres, ``height_m`` above the ground."""

    x_m: tuple = F((0.0, 10.0), "m", -1e6, 1e6)
    y_m: tuple = F((0.0, 10.0), "m", -1e6, 1e6)
    height_m: float = F(12.0, "m", 0.1, 500.0)


@dataclass(frozen=True)
class RandomBuildings:
    """The ``[buildings_random]`` table: boxes scattered over an area (seeded), clear of sensors and sources."""

    count: int = F(0, "", 0, 2000)
    area_m: tuple = F((1400.0, 1400.0), "m", 1.0, 1e6)
    center_m: tuple = F((0.0, 0.0), "m", -1e6, 1e6)
    size_m: tuple = F((15.0, 50.0), "m", 1.0, 1000.0, doc="side lengths drawn uniformly")
    height_m: tuple = F((6.0, 25.0), "m", 0.5, 500.0)
    clearance_m: float = F(8.0, "m", 0.0, 1000.0, doc="keep this far from every sensor and source")
    beside_sensors: bool = F(False, doc="also put a building beside each sensor (its mounting wall: an early echo)")
    beside_distance_m: tuple = F((3.0, 12.0), "m", 0.5, 200.0, doc="distance from a sensor to the face beside it")


@dataclass(frozen=True)
class Fire:
    """One entry of a shooter's ``schedule``."""

    kind: str = F("single", choices=FIRE_KINDS)
    t_s: float = F(0.0, "s", 0.0, 3600.0, doc="start, relative to the incident")
    rounds: int = F(1, "", 1, 1000)
    interval_s: float = F(0.5, "s", 0.01, 60.0, doc="time between semi-automatic rounds")
    rate_rpm: float = F(700.0, "rounds/min", 60.0, 2000.0, doc="automatic rate of fire")
    jitter_s: float = F(0.0, "s", 0.0, 10.0, doc="uniform ± timing variation of each round")


@dataclass(frozen=True)
class Shooter:
    """A shooter within an incident (local frame)."""

    shooter_id: str
    x_m: float
    y_m: float
    height_m: float
    weapon: str
    aim_deg: float
    elevation_deg: float
    schedule: tuple[Fire, ...]


@dataclass(frozen=True)
class ShooterFields:
    """Scalar keys of an ``[[incident.shooter]]`` table."""

    id: str = F("A")
    height_m: float = F(1.5, "m", 0.0, 300.0, doc="muzzle height above ground")
    weapon: str = F("9mm", choices=tuple(WEAPONS))
    aim_deg: float = F(0.0, "deg", -360.0, 360.0, doc="muzzle azimuth, clockwise from north")
    elevation_deg: float = F(0.0, "deg", -90.0, 90.0)


@dataclass(frozen=True)
class Confuser:
    """A non-gunfire impulsive source in an incident (local frame)."""

    kind: str = F("door_slam", choices=CONFUSER_KINDS)
    x_m: float = F(0.0, "m")
    y_m: float = F(0.0, "m")
    height_m: float = F(1.0, "m", 0.0, 300.0)
    t_s: float = F(0.0, "s", 0.0, 3600.0, doc="start, relative to the incident")
    count: int = F(1, "", 1, 1000, doc="number of bangs (strings, nail guns, several fireworks)")
    interval_s: float = F(0.15, "s", 0.005, 60.0, doc="mean time between bangs")
    jitter_s: float = F(0.0, "s", 0.0, 10.0, doc="uniform ± variation of each bang's time")
    burst_height_m: float = F(120.0, "m", 5.0, 1000.0, doc="firework: height of the burst above ground")
    burst_delay_s: float = F(3.0, "s", 0.5, 10.0, doc="firework: time from launch to burst")
    drift_m: float = F(15.0, "m", 0.0, 500.0, doc="firework: horizontal drift of the burst from the mortar")


@dataclass(frozen=True)
class Incident:
    """An ``[[incident]]``: shooters and confusers grouped as one truth incident."""

    name: str
    t_s: float
    shooters: tuple[Shooter, ...]
    confusers: tuple[Confuser, ...]


@dataclass(frozen=True)
class Scenario:
    """A whole scenario, in the local east-north-up frame about ``site``'s origin."""

    info: ScenarioInfo
    start_ns: int
    site: Site
    environment: Environment
    noise: Noise
    propagation: Propagation
    sensor_defaults: SensorParams
    sensors: tuple[SensorSpec, ...]
    layout: Layout | None
    buildings: tuple[Building, ...]
    random_buildings: RandomBuildings | None
    incidents: tuple[Incident, ...]
    source: str = ""

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def duration_s(self) -> float:
        return self.info.duration_s


_TOP = ("scenario", "site", "environment", "noise", "propagation", "sensor_defaults", "sensor", "layout",
        "building", "buildings_random", "incident")
_POS_KEYS = ("x_m", "y_m", "z_m", "lat", "lon", "alt_m")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file.

    Parameters
    ----------
    path : str or Path
        The scenario file.

    Returns
    -------
    Scenario

    Raises
    ------
    ConfigError
        When the file cannot be read or parsed, or a field is unknown, mistyped or out of range
        (the message names the file and the field).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where(p)}: cannot read scenario: {exc}") from exc
    return parse_scenario(text, str(p))


def parse_scenario(text: str, path: str = "<scenario>") -> Scenario:
    """Parse scenario TOML text; ``path`` names it in messages.  See :func:`load_scenario`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where(path)}: not valid TOML: {exc}") from exc
    for key in doc:
        if key not in _TOP:
            raise ConfigError(f"{where(path, field=key)}: unknown table (known: {', '.join(_TOP)})")
    info = build(ScenarioInfo, doc.get("scenario", {}), path, "scenario")
    try:
        start_ns = parse_utc_ns(info.start_utc, what=f"{where(path, field='scenario.start_utc')}")
    except InputError as exc:
        raise ConfigError(str(exc)) from exc
    site = build(Site, doc.get("site", {}), path, "site")
    frame = _Frame(site)
    env = build(Environment, doc.get("environment", {}), path, "environment")
    noise = build(Noise, doc.get("noise", {}), path, "noise")
    prop = build(Propagation, doc.get("propagation", {}), path, "propagation")
    defaults_table = doc.get("sensor_defaults", {})
    defaults = build(SensorParams, defaults_table, path, "sensor_defaults")
    _check_range(defaults.height_m, path, "sensor_defaults.height_m")

    sensors = []
    for i, tab in enumerate(_array(doc, "sensor", path)):
        pre = f"sensor[{i}]"
        params_tab = {k: v for k, v in tab.items() if k not in _POS_KEYS and k != "id"}
        build(SensorParams, params_tab, path, pre)  # names this sensor's own bad fields
        params = build(SensorParams, {**defaults_table, **params_tab}, path, pre)
        _check_range(params.height_m, path, f"{pre}.height_m")
        sid = tab.get("id", f"S{i + 1:02d}")
        if not isinstance(sid, str) or not sid.strip() or "," in sid or "/" in sid:
            raise ConfigError(f"{where(path, field=pre + '.id')}: a sensor id must be non-empty text without ',' or '/'")
        x, y, z = frame.position(tab, path, pre, need_z=False)
        sensors.append(SensorSpec(sid, x, y, z, params))
    ids = [s.sensor_id for s in sensors]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{where(path, field='sensor.id')}: sensor ids must be unique")

    layout = build(Layout, doc["layout"], path, "layout") if "layout" in doc else None
    n_layout = 0
    if layout is not None:
        n_layout = layout.count or int(round(layout.density_per_km2 * layout.area_m[0] * layout.area_m[1] / 1e6))
    if not sensors and n_layout == 0:
        raise ConfigError(f"{where(path, field='sensor')}: no sensors (list [[sensor]] tables or give a [layout] with a count)")

    buildings = []
    for i, tab in enumerate(_array(doc, "building", path)):
        b = build(Building, tab, path, f"building[{i}]")
        for name in ("x_m", "y_m"):
            lo, hi = getattr(b, name)
            if not hi > lo:
                raise ConfigError(f"{where(path, field=f'building[{i}].{name}')}: needs [low, high] with high > low")
        buildings.append(b)
    rb = build(RandomBuildings, doc["buildings_random"], path, "buildings_random") if "buildings_random" in doc else None
    if rb is not None:
        _check_range(rb.size_m, path, "buildings_random.size_m")
        _check_range(rb.height_m, path, "buildings_random.height_m")
        _check_range(rb.beside_distance_m, path, "buildings_random.beside_distance_m")

    incidents = []
    for i, tab in enumerate(_array(doc, "incident", path)):
        incidents.append(_incident(tab, path, f"incident[{i}]", frame, info.duration_s))
    return Scenario(info, start_ns, site, env, noise, prop, defaults, tuple(sensors), layout, tuple(buildings), rb,
                    tuple(incidents), path)


def _array(doc: dict, key: str, path: str) -> list:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{where(path, field=key)}: expected an array of tables ([[{key}]])")
    return value


def _check_range(pair: tuple, path: str, name: str) -> None:
    if pair[1] < pair[0]:
        raise ConfigError(f"{where(path, field=name)}: needs [low, high] with high >= low, got {list(pair)}")


class _Frame:
    """Turns a table's position keys into local metres (lat/lon through pyproj, loaded lazily)."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self._enu = None

    def position(self, tab: dict, path: str, pre: str, need_z: bool) -> tuple[float, float, float | None]:
        has_xy = "x_m" in tab or "y_m" in tab
        has_ll = "lat" in tab or "lon" in tab
        if has_xy and has_ll:
            raise ConfigError(f"{where(path, field=pre)}: give either x_m/y_m or lat/lon, not both")
        for keys in (("x_m", "y_m", "z_m"), ("lat", "lon", "alt_m")):
            for k in keys:
                if k in tab and (isinstance(tab[k], bool) or not isinstance(tab[k], (int, float))):
                    raise ConfigError(f"{where(path, field=f'{pre}.{k}')}: expected a number, got {tab[k]!r}")
        if has_xy:
            if "x_m" not in tab or "y_m" not in tab:
                raise ConfigError(f"{where(path, field=pre)}: position needs both x_m and y_m")
            z = float(tab["z_m"]) if "z_m" in tab else None
            return float(tab["x_m"]), float(tab["y_m"]), z
        if has_ll:
            if "lat" not in tab or "lon" not in tab:
                raise ConfigError(f"{where(path, field=pre)}: position needs both lat and lon")
            lat, lon = float(tab["lat"]), float(tab["lon"])
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ConfigError(f"{where(path, field=pre + '.lat')}: lat/lon out of range")
            if self._enu is None:
                from sim.geo import EnuFrame

                self._enu = EnuFrame(self.site.origin_lat, self.site.origin_lon, self.site.origin_alt_m)
            alt = float(tab["alt_m"]) if "alt_m" in tab else self.site.origin_alt_m
            x, y, z = self._enu.to_local(lat, lon, alt)
            return float(x), float(y), (float(z) if "alt_m" in tab else None)
        raise ConfigError(f"{where(path, field=pre)}: no position (give x_m and y_m, or lat and lon)")


def _incident(tab: dict, path: str, pre: str, frame: _Frame, duration_s: float) -> Incident:
    known = ("name", "t_s", "shooter", "confuser")
    for k in tab:
        if k not in known:
            raise ConfigError(f"{where(path, field=f'{pre}.{k}')}: unknown key (known: {', '.join(known)})")
    name = tab.get("name", pre)
    if not isinstance(name, str):
        raise ConfigError(f"{where(path, field=pre + '.name')}: expected text")
    t_s = tab.get("t_s", 0.0)
    if isinstance(t_s, bool) or not isinstance(t_s, (int, float)) or not 0 <= t_s < duration_s:
        raise ConfigError(f"{where(path, field=pre + '.t_s')}: must be a time in [0, duration_s={duration_s}) s, got {t_s!r}")
    shooters = []
    for j, st in enumerate(_array(tab, "shooter", path)):
        sp = f"{pre}.shooter[{j}]"
        fields = build(ShooterFields, {k: v for k, v in st.items() if k not in _POS_KEYS and k != "schedule"}, path, sp)
        x, y, _ = frame.position(st, path, sp, need_z=False)
        sched = st.get("schedule", [{"kind": "single"}])
        if not isinstance(sched, list) or not sched:
            raise ConfigError(f"{where(path, field=sp + '.schedule')}: expected a non-empty list of tables")
        fires = tuple(build(Fire, f, path, f"{sp}.schedule[{k}]") for k, f in enumerate(sched))
        for k, f in enumerate(fires):
            end = float(t_s) + f.t_s + _fire_span(f)
            if end >= duration_s:
                raise ConfigError(f"{where(path, field=f'{sp}.schedule[{k}]')}: ends at {end:.2f} s, past duration_s {duration_s} s")
        if "z_m" in st or "alt_m" in st:
            raise ConfigError(f"{where(path, field=sp)}: give a shooter's height_m above ground, not z_m/alt_m")
        shooters.append(Shooter(fields.id, x, y, fields.height_m, fields.weapon, fields.aim_deg, fields.elevation_deg, fires))
    confusers = []
    for j, ct in enumerate(_array(tab, "confuser", path)):
        cp = f"{pre}.confuser[{j}]"
        base = build(Confuser, {k: v for k, v in ct.items() if k not in ("lat", "lon")}, path, cp)
        if "lat" in ct or "lon" in ct:
            x, y, _ = frame.position({k: ct[k] for k in ("lat", "lon") if k in ct}, path, cp, need_z=False)
            base = Confuser(**{**base.__dict__, "x_m": x, "y_m": y})
        elif "x_m" not in ct or "y_m" not in ct:
            raise ConfigError(f"{where(path, field=cp)}: no position (give x_m and y_m, or lat and lon)")
        end = float(t_s) + base.t_s + base.interval_s * (base.count - 1) + base.jitter_s
        if base.kind == "firework":
            end += base.burst_delay_s
        if end >= duration_s:
            raise ConfigError(f"{where(path, field=cp)}: ends at {end:.2f} s, past duration_s {duration_s} s")
        confusers.append(base)
    if not shooters and not confusers:
        raise ConfigError(f"{where(path, field=pre)}: an incident needs a [[{pre}.shooter]] or a confuser")
    return Incident(name, float(t_s), tuple(shooters), tuple(confusers))


def _fire_span(f: Fire) -> float:
    """Time from a schedule entry's start to its last round, s (jitter included)."""
    if f.kind == "single":
        return f.jitter_s
    step = f.interval_s if f.kind == "semi" else 60.0 / f.rate_rpm
    return step * (f.rounds - 1) + f.jitter_s


#: Tables of a scenario file and the dataclass that declares each one's keys.
TABLES = (
    ("scenario", ScenarioInfo), ("site", Site), ("environment", Environment), ("noise", Noise),
    ("propagation", Propagation), ("sensor_defaults / [[sensor]]", SensorParams), ("layout", Layout),
    ("[[building]]", Building), ("buildings_random", RandomBuildings), ("[[incident.shooter]]", ShooterFields),
    ("[[incident.shooter]].schedule[]", Fire), ("[[incident.confuser]]", Confuser),
)


def describe_fields() -> str:
    """Every key of a scenario file with its default, unit and meaning (``salvo sim --fields``)."""
    from sim.config import describe

    lines = []
    for name, cls in TABLES:
        lines.append(f"[{name}]" if not name.startswith("[") else name)
        for key, default, unit, doc in describe(cls):
            value = "(by clock)" if default is None else repr(default)
            lines.append(f"  {key:20s} = {value:26s} {unit:10s} {doc}".rstrip())
    lines.append("[[sensor]] also takes: id, and x_m/y_m[/z_m] or lat/lon[/alt_m]; shooters and confusers take x_m/y_m or lat/lon;")
    lines.append("[[incident]] takes: name, t_s (s from the start), [[incident.shooter]] and [[incident.confuser]] tables.")
    return "\n".join(lines)

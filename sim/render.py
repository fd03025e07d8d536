"""Turn a scenario into recordings: place sensors and buildings, generate events, render every
path of every event into every sensor's recording, then the microphone, converter and clock.

Rendering is windowed and spectral: each source is synthesized at ``source_fs_hz`` (>= 192 kHz)
once per event and sensor rate, transformed once, and each path is a product in the frequency
domain (gain, anti-alias low-pass, ISO 9613-1 absorption, barrier loss, fractional delay) on the
bins below the sensor's Nyquist frequency — band-limiting and decimation in one step — followed
by one short inverse FFT added into the recording at the arrival's sample.  No full-length
convolutions.  Same seed, same output: every random draw comes from a generator seeded by
``(seed, stream, index)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import noise as ambient_noise
from sim.atmosphere import absorption_db_per_m, speed_of_sound, travel_time, wind_vector
from sim.geometry import box_array, mach_emission, blocking
from sim.microphone import Clock, codes_to_float, digitize
from sim.propagation import World, maekawa_loss_db, paths
from sim.result import Arrival, Event, SensorRecording, SimResult, TrueConfuser, TrueShot, Truth
from sim.scenario import CLOCK_DEFAULTS, Building, Scenario
from sim.sources import CONFUSER_SOUNDS, WEAPONS, Weapon, directivity_weight, muzzle_blast, n_wave, whitham_nwave

from salvo.utc import NS_PER_S as NS  # ns per s
_PRE = 64  # samples of a render window before the onset (room for fractional delay and filter pre-ringing)
_FLIGHT_M = 800.0  # how far a supersonic bullet's shock is simulated, m (speed taken constant; less if it hits the ground)

# Random streams: (seed, stream, ...) keeps each draw independent of how many others there are.
_S_SENSORS, _S_EVENTS, _S_BUILDINGS, _S_NOISE, _S_WAVES, _S_MISS = range(6)


@dataclass(frozen=True)
class _Sensor:
    sensor_id: str
    pos: np.ndarray
    reported: np.ndarray
    params: object
    clock: Clock
    start_clock_s: float  # clock reading at the first sample, s from the scenario start (whole µs)
    full_scale_db_spl: float  # this unit's full scale (nominal plus its sensitivity spread)


@dataclass(frozen=True)
class _Event:
    index: int
    t_s: float
    pos: np.ndarray
    category: str
    kind: str
    incident: int
    shooter: str = ""
    weapon: Weapon | None = None
    aim: np.ndarray | None = None
    level_db: float = 0.0
    dur_scale: float = 1.0


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, *stream])


def _place_sensors(scn: Scenario, seed: int) -> list[_Sensor]:
    g = scn.site.ground_z_m
    specs = list(scn.sensors)
    lay = scn.layout
    if lay is not None:
        rng = _rng(seed, _S_SENSORS, 0)
        w, h = lay.area_m
        count = lay.count or int(round(lay.density_per_km2 * w * h / 1e6))
        if lay.pattern == "jittered-grid":
            cols = max(int(round(np.sqrt(count * w / h))), 1)
            rows = int(np.ceil(count / cols))
            cells = np.sort(rng.choice(rows * cols, size=count, replace=False))
            cx = (cells % cols + 0.5) * w / cols - w / 2
            cy = (cells // cols + 0.5) * h / rows - h / 2
            xy = np.column_stack([cx, cy]) + rng.uniform(-lay.jitter_m, lay.jitter_m, (count, 2))
        else:
            xy = rng.uniform([-w / 2, -h / 2], [w / 2, h / 2], (count, 2))
        xy += np.asarray(lay.center_m)
        taken = {s.sensor_id for s in specs}
        k = 0
        from sim.scenario import SensorSpec

        for x, y in xy:
            k += 1
            while f"{lay.id_prefix}{k:02d}" in taken:
                k += 1
            specs.append(SensorSpec(f"{lay.id_prefix}{k:02d}", float(x), float(y), None, scn.sensor_defaults))
    out = []
    for i, s in enumerate(specs):
        p = s.params
        rng = _rng(seed, _S_SENSORS, 1, i)
        z = s.z_m if s.z_m is not None else g + rng.uniform(*p.height_m)
        pos = np.array([s.x_m, s.y_m, z])
        reported = pos + rng.normal(0.0, 1.0, 3) * p.position_error_m
        sig_default, drift_default = CLOCK_DEFAULTS[p.clock]
        sigma = p.clock_sigma_s if p.clock_sigma_s is not None else sig_default
        drift_sigma = p.clock_drift_ppm if p.clock_drift_ppm is not None else drift_default
        clock = Clock(p.clock, float(rng.normal(0.0, sigma) + p.clock_fault_s), float(rng.normal(0.0, 1.0) * drift_sigma), sigma)
        start = round(rng.uniform(0.0, p.start_jitter_s) * 1e6) / 1e6
        # A more sensitive microphone reaches full scale at a lower level.
        full_scale = p.full_scale_db_spl - rng.normal(0.0, 1.0) * p.sensitivity_sigma_db
        out.append(_Sensor(s.sensor_id, pos, reported, p, clock, start, float(full_scale)))
    return out


def _aim_vector(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    az, el = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    return np.array([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)])


def _events(scn: Scenario, seed: int) -> list[_Event]:
    g = scn.site.ground_z_m
    raw: list[dict] = []
    for ii, inc in enumerate(scn.incidents):
        for si, sh in enumerate(inc.shooters):
            rng = _rng(seed, _S_EVENTS, ii, 0, si)
            weapon = WEAPONS[sh.weapon]
            pos = np.array([sh.x_m, sh.y_m, g + sh.height_m])
            for f in sh.schedule:
                if f.kind == "single":
                    offsets = np.zeros(1)
                elif f.kind == "semi":
                    offsets = np.arange(f.rounds) * f.interval_s
                else:
                    offsets = np.arange(f.rounds) * (60.0 / f.rate_rpm)
                offsets = offsets + rng.uniform(-f.jitter_s, f.jitter_s, offsets.size)
                for off in offsets:
                    aim = _aim_vector(sh.aim_deg + rng.normal(0, 2.0), sh.elevation_deg + rng.normal(0, 1.0))
                    raw.append(dict(t_s=max(inc.t_s + f.t_s + off, 0.0), pos=pos, category="shot", kind=weapon.name,
                                    incident=ii, shooter=sh.shooter_id, weapon=weapon, aim=aim,
                                    level_db=rng.normal(0.0, 0.5), dur_scale=float(np.clip(rng.normal(1.0, 0.03), 0.8, 1.2))))
        for ci, cf in enumerate(inc.confusers):
            rng = _rng(seed, _S_EVENTS, ii, 1, ci)
            base = np.array([cf.x_m, cf.y_m, g + cf.height_m])
            t0 = inc.t_s + cf.t_s
            if cf.kind == "firecracker_string":
                gaps = cf.interval_s * rng.uniform(0.3, 1.7, cf.count)
                gaps[0] = 0.0
                for t in t0 + np.cumsum(gaps):
                    p = base + np.r_[rng.normal(0, 1.0, 2), 0.0]
                    raw.append(dict(t_s=float(t), pos=p, category="confuser", kind="firecracker", incident=ii))
            elif cf.kind == "firework":
                for k in range(cf.count):
                    tl = t0 + k * cf.interval_s + rng.uniform(-cf.jitter_s, cf.jitter_s)
                    launch = np.array([cf.x_m, cf.y_m, g + 0.3])
                    ang = rng.uniform(0, 2 * np.pi)
                    drift = cf.drift_m * rng.uniform(0, 1)
                    burst = np.array([cf.x_m + drift * np.cos(ang), cf.y_m + drift * np.sin(ang),
                                      g + cf.burst_height_m * rng.uniform(0.85, 1.15)])
                    raw.append(dict(t_s=float(tl), pos=launch, category="confuser", kind="firework_launch", incident=ii))
                    raw.append(dict(t_s=float(tl + cf.burst_delay_s * rng.uniform(0.9, 1.1)), pos=burst, category="confuser",
                                    kind="firework_burst", incident=ii))
            else:
                spread = 0.3 if cf.kind == "nail_gun" else 0.0
                for k in range(cf.count):
                    t = t0 + k * cf.interval_s * (1.0 + rng.uniform(-spread, spread)) + rng.uniform(-cf.jitter_s, cf.jitter_s)
                    raw.append(dict(t_s=float(max(t, 0.0)), pos=base, category="confuser", kind=cf.kind, incident=ii))
    raw.sort(key=lambda e: (e["t_s"], e["category"], e["kind"]))
    return [_Event(index=i, **e) for i, e in enumerate(raw)]


def _buildings(scn: Scenario, sensors: list[_Sensor], events: list[_Event], seed: int) -> np.ndarray:
    g = scn.site.ground_z_m
    listed = list(scn.buildings)
    rb = scn.random_buildings
    if rb is None:
        return box_array(listed, g)
    keep = np.array([s.pos[:2] for s in sensors] + [e.pos[:2] for e in events]).reshape(-1, 2)
    boxes = [(b.x_m[0], b.x_m[1], b.y_m[0], b.y_m[1]) for b in listed]

    def fits(x0: float, x1: float, y0: float, y1: float, clearance: float, sibling: int = -1) -> bool:
        # Clear of every sensor and source, and 3 m from every other building (a sibling may
        # overlap: the two boxes are one L-shaped building).
        dx = np.maximum(np.maximum(x0 - keep[:, 0], keep[:, 0] - x1), 0.0)
        dy = np.maximum(np.maximum(y0 - keep[:, 1], keep[:, 1] - y1), 0.0)
        if len(keep) and np.min(np.hypot(dx, dy)) < clearance - 1e-9:
            return False
        return not any(x0 < b[1] + 3 and b[0] < x1 + 3 and y0 < b[3] + 3 and b[2] < y1 + 3
                       for k, b in enumerate(boxes) if k != sibling)

    def add(x0: float, x1: float, y0: float, y1: float, height: float) -> None:
        boxes.append((x0, x1, y0, y1))
        listed.append(Building((x0, x1), (y0, y1), float(height)))

    if rb.beside_sensors:
        # Each sensor is mounted at the corner of a building that stands behind it as seen from the
        # middle of the area: two faces a few metres away, one across each axis, that reflect sound
        # from most of the area back to it (an early echo at every sensor).
        for i, s in enumerate(sensors):
            rng = _rng(seed, _S_BUILDINGS, 1, i)
            x, y = s.pos[0], s.pos[1]
            away = np.sign(np.array([x, y]) - np.asarray(rb.center_m))
            away[away == 0] = 1.0
            height = max(rng.uniform(*rb.height_m), s.pos[2] - g + 2.0)
            first = -1
            for axis in (0, 1):
                d = rng.uniform(*rb.beside_distance_m)
                depth, width = rng.uniform(*rb.size_m, 2)
                width = max(width, 30.0)  # long enough to catch reflections from most of the area
                offset = rng.uniform(-0.15, 0.15) * width
                near = (x, y)[axis] + away[axis] * d
                far = near + away[axis] * depth
                lo, hi = min(near, far), max(near, far)
                c = (y, x)[axis] + offset
                cand = (lo, hi, c - width / 2, c + width / 2) if axis == 0 else (c - width / 2, c + width / 2, lo, hi)
                if fits(*cand, min(d, rb.clearance_m), first):
                    add(*cand, height)
                    first = len(boxes) - 1
    rng = _rng(seed, _S_BUILDINGS)
    w, h = rb.area_m
    tries = made = 0
    while made < rb.count and tries < 50 * rb.count:
        tries += 1
        cx, cy = rng.uniform([-w / 2, -h / 2], [w / 2, h / 2]) + np.asarray(rb.center_m)
        sx, sy = rng.uniform(*rb.size_m, 2)
        height = rng.uniform(*rb.height_m)
        cand = (cx - sx / 2, cx + sx / 2, cy - sy / 2, cy + sy / 2)
        if fits(*cand, rb.clearance_m):
            add(*cand, height)
            made += 1
    return box_array(listed, g)


def minimum_phase_log(loss_db: np.ndarray, m: int) -> np.ndarray:
    """Complex log of the minimum-phase response whose magnitude is ``10^(−loss_db/20)``.

    The real cepstrum of the log magnitude, folded onto positive quefrencies, is the log of the
    minimum-phase response (Oppenheim & Schafer, homomorphic filtering): a causal filter whose
    impulse response starts at 0, as a lossy medium's must.  The map is linear in ``loss_db``,
    so the response over L metres of air is ``exp(L · minimum_phase_log(α))``.

    Parameters
    ----------
    loss_db : numpy.ndarray, shape (m//2 + 1,)
        Loss on the rfft bins of an m-point window, dB.
    m : int
        Window length, samples.
    """
    cep = np.fft.irfft(-loss_db * (np.log(10.0) / 20.0), m)
    fold = np.zeros(m)
    fold[0] = cep[0]
    fold[1 : m // 2] = 2.0 * cep[1 : m // 2]
    fold[m // 2] = cep[m // 2]
    return np.fft.rfft(fold, m)


class _Renderer:
    """Adds band-limited, filtered, delayed copies of source waveforms into one sensor's recording."""

    def __init__(self, fs_hz: int, source_fs_hz: int, env, absorption: bool, c_mps: float, seed: int) -> None:
        self.fs = fs_hz
        self.k = int(np.ceil(source_fs_hz / fs_hz))  # synthesize at k·fs >= source_fs_hz
        self.fs_hi = self.k * fs_hz
        self.env = env
        self.absorption = absorption
        self.c = c_mps
        self.seed = seed
        self._grids: dict[int, tuple] = {}
        self._spectra: dict = {}
        self._tails: dict = {}
        self._air: dict = {}

    def grid(self, m: int):
        """Bin frequencies, anti-alias response and absorption (dB/m) of an m-sample window."""
        if m not in self._grids:
            f = np.arange(m // 2 + 1) * self.fs / m
            # Zero-phase anti-alias low-pass: flat to 0.42·fs, raised-cosine to zero at Nyquist.
            lo, hi = 0.42 * self.fs, 0.5 * self.fs
            aa = np.where(f <= lo, 1.0, 0.5 + 0.5 * np.cos(np.pi * np.clip((f - lo) / (hi - lo), 0.0, 1.0)))
            alpha = absorption_db_per_m(f, self.env.temperature_c, self.env.humidity_pct, self.env.pressure_kpa)
            self._grids[m] = (f, aa, alpha, np.arange(m // 2 + 1))
        return self._grids[m]

    def air(self, m: int, length_m: float) -> np.ndarray:
        """Complex log response of ``length_m`` of air on an m-point window (minimum phase).

        The loss is capped at 100 dB (below that nothing is left to hear; an unbounded log
        magnitude at the highest frequencies would add a delay that depends on the sample rate).
        Lengths are binned in 0.5 % steps so paths of nearly equal length share one response.
        """
        k = int(round(np.log(max(length_m, 0.1)) / np.log(1.005)))
        key = (m, k)
        if key not in self._air:
            alpha = self.grid(m)[2]
            self._air[key] = minimum_phase_log(np.minimum(alpha * 1.005**k, 100.0), m)
        return self._air[key]

    def spectrum(self, wave_hi: np.ndarray) -> tuple[int, np.ndarray]:
        """Window length m at the sensor rate and the band-limited spectrum of a high-rate waveform."""
        n_lo = int(np.ceil(wave_hi.size / self.k))
        m = 1 << int(np.ceil(np.log2(_PRE + n_lo + 64)))
        spec = np.fft.rfft(wave_hi, self.k * m)[: m // 2 + 1] / self.k
        return m, spec

    def _wave(self, ev: _Event) -> np.ndarray:
        """An event's sound at 1 m, Pa, at the synthesis rate."""
        if ev.category == "shot":
            return muzzle_blast(self.fs_hi, ev.weapon, ev.level_db, ev.dur_scale)
        return CONFUSER_SOUNDS[ev.kind](self.fs_hi, _rng(self.seed, _S_WAVES, ev.index))

    def event_spectrum(self, ev: _Event) -> tuple[int, np.ndarray, float]:
        """Window length, band-limited spectrum and peak pressure at 1 m (Pa) of an event's sound."""
        if ev.index not in self._spectra:
            wave = self._wave(ev)
            self._spectra[ev.index] = (*self.spectrum(wave), float(np.max(np.abs(wave))))
        return self._spectra[ev.index]

    def aspect(self, m: int) -> np.ndarray:
        """Complex log response of +1 dB of muzzle directivity at 1 kHz (minimum phase, scaled by frequency)."""
        key = (m, "aspect")
        if key not in self._air:
            self._air[key] = minimum_phase_log(-directivity_weight(self.grid(m)[0]), m)
        return self._air[key]

    def add(self, out: np.ndarray, m: int, spec: np.ndarray, onset: float, gain: float, length_m: float, detour_m: float,
            aspect_db: float = 0.0) -> None:
        """Add one path: ``spec`` scaled by ``gain``, filtered over ``length_m``, onset at sample ``onset``."""
        f, aa, alpha, bins = self.grid(m)
        base = int(np.floor(onset))
        shift = _PRE + (onset - base)
        # Absorption and diffraction are causal (minimum phase): nothing arrives before the
        # path's travel time.  One complex exponent carries the air, the delay and the barrier.
        expo = (-2j * np.pi * shift / m) * bins
        if self.absorption:
            expo += self.air(m, length_m)
        if detour_m > 0.0:
            expo += minimum_phase_log(maekawa_loss_db(f, detour_m, self.c), m)
        if aspect_db != 0.0:
            expo += aspect_db * self.aspect(m)
        y = np.fft.irfft(spec * (gain * aa) * np.exp(expo), m)
        n0 = base - _PRE
        a, b = max(n0, 0), min(n0 + m, out.size)
        if b > a:
            out[a:b] += y[a - n0 : b - n0]


    def add_tail(self, out: np.ndarray, ev: _Event, onset: float, gain: float, length_m: float, prop, sensor: int) -> None:
        """Add a diffuse reverberant tail after an event's first arrival.

        Exponentially decaying Gaussian noise (−60 dB after ``reverb_rt60_s``, cut at −40 dB) starting 5 ms after
        the first arrival and building up over 20 ms, with total energy ``reverb_db`` relative to
        that arrival's, convolved with the event's sound and the first path's air absorption.
        The tail belongs to the place: sounds from the same spot (within 2 m) reverberate alike
        at a sensor, so repeated rounds share one impulse response.
        """
        fs = self.fs
        delay = int(0.005 * fs)
        n_tail = int(prop.reverb_rt60_s * fs * 2.0 / 3.0)  # cut at −40 dB: below the ambient noise
        key = (ev.index, "tail")
        if key not in self._spectra:
            wave = self._wave(ev)
            n_lo = int(np.ceil(wave.size / self.k))
            m = 1 << int(np.ceil(np.log2(_PRE + delay + n_tail + n_lo + 64)))
            self._spectra[key] = (m, np.fft.rfft(wave, self.k * m)[: m // 2 + 1] / self.k, 0.0)
        m, spec, _ = self._spectra[key]
        spot = (sensor, *(int(round(v / 2.0)) + (1 << 20) for v in ev.pos), m)
        if spot not in self._tails:
            rng = _rng(self.seed, _S_WAVES, 1, *spot)
            t = np.arange(n_tail) / fs
            # Reflections from the buildings around build up over the first 20 ms, then decay.
            tail = rng.standard_normal(n_tail) * np.exp(-6.907755 * t / prop.reverb_rt60_s) * np.minimum(t / 0.02, 1.0)
            ir = np.zeros(m)
            ir[_PRE + delay : _PRE + delay + n_tail] = tail * np.sqrt(10.0 ** (prop.reverb_db / 10.0) / np.sum(tail * tail))
            self._tails[spot] = np.fft.rfft(ir)
        f, aa, alpha = self.grid(m)[:3]
        h = self._tails[spot] * (gain * aa)
        if self.absorption:
            h *= 10.0 ** (-np.minimum(alpha * length_m, 100.0) / 20.0)
        y = np.fft.irfft(spec * h, m)
        n0 = int(np.floor(onset)) - _PRE
        a, b = max(n0, 0), min(n0 + m, out.size)
        if b > a:
            out[a:b] += y[a - n0 : b - n0]


@dataclass(frozen=True)
class _Context:
    """What every sensor's recording is made from."""

    scenario: Scenario
    seed: int
    c_mps: float
    wind: np.ndarray
    world: World
    boxes: np.ndarray
    events: list


def _record(ctx: _Context, i: int, s: _Sensor, rend: _Renderer) -> tuple[SensorRecording, list, list]:
    """One sensor's recording, the arrivals in it and the events occluded at it."""
    scn, seed, c, wind = ctx.scenario, ctx.seed, ctx.c_mps, ctx.wind
    p, prop, env = s.params, scn.propagation, scn.environment
    fs = p.fs_hz
    n = int(round(scn.duration_s * fs))
    start_ns = scn.start_ns
    pressure = ambient_noise.ambient(n, fs, _rng(seed, _S_NOISE, i), scn.noise, env.wind_speed_mps, p.self_noise_db_spl)
    miss = _rng(seed, _S_MISS, i).random(len(ctx.events))
    arrivals, missed = [], []

    def place(t_true: float) -> float:
        """Fractional sample of true time t (s from the scenario start) in this sensor's file."""
        return float((s.clock.reading(t_true) - s.start_clock_s) * fs)

    def arrival(ev: _Event, t_arr: float, onset: float, kind: str, peak: float) -> Arrival:
        return Arrival(s.sensor_id, ev.index, start_ns + int(round(t_arr * NS)), onset, kind, peak)

    for ev in ctx.events:
        if miss[ev.index] < p.miss_probability:
            missed.append((s.sensor_id, ev.index))
            continue
        directivity = ev.weapon.directivity_db if ev.weapon is not None else 0.0
        m, spec, peak_1m = rend.event_spectrum(ev)
        ev_paths = paths(ev.pos, s.pos, ctx.world, prop, c, wind, ev.aim, directivity)
        if prop.reverb and ev_paths:
            first = min(ev_paths, key=lambda q: q.delay_s)
            onset = place(ev.t_s + first.delay_s)
            if onset < n:
                rend.add_tail(pressure, ev, onset, first.gain * 10 ** (first.aspect_db / 20), first.length_m, prop, i)
        for path in ev_paths:
            t_arr = ev.t_s + path.delay_s
            onset = place(t_arr)
            if 0.0 <= onset < n:
                rend.add(pressure, m, spec, onset, path.gain, path.length_m, path.detour_m, path.aspect_db)
                arrivals.append(arrival(ev, t_arr, onset, path.kind, peak_1m * path.gain * 10 ** (path.aspect_db / 20)))
        if ev.weapon is None or ev.weapon.bullet_speed_mps <= c:
            continue
        g = scn.site.ground_z_m
        flight = _FLIGHT_M
        if ev.aim[2] < 0.0:  # aimed down: the bullet stops where it meets the ground
            flight = min(flight, (ev.pos[2] - g) / -ev.aim[2])
        # The shock straight to the sensor, and (when the ground reflects) the same shock off the
        # ground, heard as from the sensor's mirror image: a second, later N-wave.
        images = [(s.pos, 1.0)]
        if prop.ground_reflection > 0.0 and s.pos[2] > g:
            images.append((s.pos * np.array([1.0, 1.0, -1.0]) + np.array([0.0, 0.0, 2.0 * g]), prop.ground_reflection))
        for listener, coeff in images:
            hit = mach_emission(ev.pos, ev.aim, ev.weapon.bullet_speed_mps, c, listener, flight)
            if hit is None:
                continue  # outside the Mach cone
            ell, miss_m, emit = hit
            legs = [emit, s.pos]
            if coeff < 1.0:
                if emit[2] <= g:
                    continue
                frac = (emit[2] - g) / (emit[2] - listener[2])
                legs = [emit, emit + frac * (listener - emit), s.pos]
            if ctx.boxes.shape[0] and any(blocking(a, b, ctx.boxes).any() for a, b in zip(legs, legs[1:])):
                continue  # the ray is shadowed by a building
            peak, width = whitham_nwave(ev.weapon, miss_m, c, env.pressure_kpa)
            ray = listener - emit
            t_arr = ev.t_s + ell / ev.weapon.bullet_speed_mps + float(travel_time(ray, c, wind))
            onset = place(t_arr)
            if 0.0 <= onset < n:
                m_nw, spec_nw = rend.spectrum(n_wave(rend.fs_hi, peak, width))
                rend.add(pressure, m_nw, spec_nw, onset, coeff, float(np.linalg.norm(ray)), 0.0)
                arrivals.append(arrival(ev, t_arr, onset, "nwave", coeff * peak))
    codes = digitize(pressure, s.full_scale_db_spl, p.bits)
    del pressure
    t_first = float(s.clock.true_time(s.start_clock_s))
    rec = SensorRecording(
        s.sensor_id, s.pos, s.reported, fs, codes_to_float(codes, p.bits), p.bits,
        start_ns + int(round(s.start_clock_s * 1e6)) * 1000, s.clock.kind,
        float(s.start_clock_s - t_first), s.clock.drift_ppm, s.clock.sigma_s, p.clock_fault_s, s.full_scale_db_spl,
    )
    return rec, arrivals, missed


def simulate(scenario: Scenario, seed: int = 0, progress=None) -> SimResult:
    """Simulate a scenario in memory.

    Parameters
    ----------
    scenario : Scenario
    seed : int
        Seed of every random draw (layout, buildings, timing, noise, clocks, misses).
    progress : callable, optional
        ``progress(fraction, message)``, called as each sensor is finished.

    Returns
    -------
    SimResult
    """
    seed = int(seed)
    env = scenario.environment
    prop = scenario.propagation
    c = speed_of_sound(env.temperature_c)
    wind = wind_vector(env.wind_speed_mps, env.wind_from_deg)
    sensors = _place_sensors(scenario, seed)
    events = _events(scenario, seed)
    boxes = _buildings(scenario, sensors, events, seed)
    world = World.build(boxes, scenario.site.ground_z_m)
    start_ns = scenario.start_ns

    ctx = _Context(scenario, seed, c, wind, world, boxes, events)
    recordings, arrivals, missed = [], [], []
    renderers: dict[int, _Renderer] = {}
    for i, s in enumerate(sensors):
        fs = s.params.fs_hz
        rend = renderers.setdefault(fs, _Renderer(fs, scenario.info.source_fs_hz, env, prop.absorption, c, seed))
        rec, heard, occluded = _record(ctx, i, s, rend)
        recordings.append(rec)
        arrivals += heard
        missed += occluded
        if progress is not None:
            progress((i + 1) / len(sensors), f"sensor {s.sensor_id} ({i + 1}/{len(sensors)})")

    shots, confusers = [], []
    out_events = []
    for ev in events:
        t_ns = start_ns + int(round(ev.t_s * NS))
        out_events.append(Event(ev.index, ev.category, ev.kind, t_ns, ev.pos))
        if ev.category == "shot":
            shots.append(TrueShot(ev.index, t_ns, ev.pos, ev.shooter, ev.kind, ev.incident, ev.weapon.bullet_speed_mps > c,
                                   ev.aim))
        else:
            confusers.append(TrueConfuser(ev.index, t_ns, ev.pos, ev.kind, ev.incident))
    arrivals.sort(key=lambda a: (a.sensor_id, a.t_ns, a.event))
    site = {
        "temperature_c": env.temperature_c, "humidity_pct": env.humidity_pct, "pressure_kpa": env.pressure_kpa,
        "wind_speed_mps": env.wind_speed_mps, "wind_from_deg": env.wind_from_deg, "ground_z_m": scenario.site.ground_z_m,
    }
    return SimResult(
        name=scenario.name, seed=seed,
        origin=(scenario.site.origin_lat, scenario.site.origin_lon, scenario.site.origin_alt_m), site=site,
        sensors=tuple(recordings), truth=Truth(tuple(shots), tuple(confusers), tuple(i.name for i in scenario.incidents)),
        events=tuple(out_events), arrivals=tuple(arrivals), missed=tuple(missed), buildings=boxes,
    )


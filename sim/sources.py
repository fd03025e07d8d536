"""Source waveforms: muzzle blasts, supersonic N-waves and the impulsive sounds mistaken for gunfire.

Every waveform is sound pressure in pascals at 1 m from the source, sampled at ``fs_hz``
(synthesize at >= 192 kHz; the renderer band-limits and decimates), with the event's onset at
sample 0.  Shapes and levels follow ../shared/REFERENCE.md ("Gunshot sound").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

P_REF_PA = 20e-6  # reference pressure of dB SPL


def db_spl_to_pa(level_db: float) -> float:
    """Pressure, Pa, of a level in dB SPL (re 20 µPa)."""
    return P_REF_PA * 10.0 ** (float(level_db) / 20.0)


@dataclass(frozen=True)
class Weapon:
    """Acoustic figures of one firearm class.

    Attributes
    ----------
    name : str
        Registry name (``"9mm"``, ``"5.56"``, ...).
    kind : str
        ``handgun`` or ``rifle``.
    peak_db_spl : float
        Muzzle-blast peak 1 m to the side of the muzzle, dB SPL.
    duration_s : float
        Friedlander positive-phase duration of the blast, s.
    bullet_speed_mps : float
        Bullet speed, m/s, taken as constant along the flight (an N-wave exists when it exceeds c).
    caliber_m : float
        Bullet diameter, m (Whitham's N-wave amplitude).
    bullet_length_m : float
        Bullet length, m.
    directivity_db : float
        Blast level in front of the muzzle minus behind it, dB.
    """

    name: str
    kind: str
    peak_db_spl: float
    duration_s: float
    bullet_speed_mps: float
    caliber_m: float
    bullet_length_m: float
    directivity_db: float = 10.0


#: Firearm classes a scenario may name.  Blast levels from the 149–167 dB SPL range at 1 m;
#: handgun loads subsonic (no N-wave at ordinary temperatures), rifles supersonic.
WEAPONS: dict[str, Weapon] = {
    "9mm": Weapon("9mm", "handgun", 160.0, 0.40e-3, 300.0, 0.00902, 0.0155),
    ".40": Weapon(".40", "handgun", 161.0, 0.45e-3, 300.0, 0.0102, 0.0160),
    ".45": Weapon(".45", "handgun", 158.0, 0.50e-3, 260.0, 0.0114, 0.0170),
    "5.56": Weapon("5.56", "rifle", 163.0, 0.35e-3, 940.0, 0.0057, 0.0230),
    "7.62x39": Weapon("7.62x39", "rifle", 165.0, 0.45e-3, 715.0, 0.0078, 0.0265),
}


def friedlander(fs_hz: float, peak_pa: float, duration_s: float, rise_s: float = 10e-6, decay: float = 1.0) -> np.ndarray:
    """Friedlander blast wave p(t) = P·(1 − t/T)·exp(−b·t/T) after a short linear rise.

    With ``decay`` b = 1 the positive and negative phases carry equal impulse, as a radiated
    far-field wave must (no net displacement of air).

    Parameters
    ----------
    fs_hz : float
        Sample rate, Hz.
    peak_pa : float
        Peak overpressure, Pa.
    duration_s : float
        Positive-phase duration T, s.
    rise_s : float
        Rise time from 0 to the peak, s (the onset is sample 0).
    decay : float
        Friedlander decay constant b.

    Returns
    -------
    numpy.ndarray, shape (n,)
        Pressure, Pa; n covers the rise and 8·T/b of decay.
    """
    n_rise = max(int(round(rise_s * fs_hz)), 0)
    n_body = int(np.ceil(8.0 * duration_s / decay * fs_hz)) + 1
    t = np.arange(n_body) / fs_hz
    body = peak_pa * (1.0 - t / duration_s) * np.exp(-decay * t / duration_s)
    rise = peak_pa * np.arange(n_rise) / max(n_rise, 1)
    return np.concatenate([rise, body])


def muzzle_blast(fs_hz: float, weapon: str | Weapon = "9mm", level_offset_db: float = 0.0, duration_scale: float = 1.0) -> np.ndarray:
    """Muzzle blast of ``weapon`` heard 1 m to the side of the muzzle, Pa.

    Parameters
    ----------
    fs_hz : float
        Sample rate, Hz (>= 192 kHz for rendering).
    weapon : str or Weapon
        A name in :data:`WEAPONS` or a :class:`Weapon`.
    level_offset_db : float
        Shot-to-shot level variation, dB.
    duration_scale : float
        Shot-to-shot variation of the positive-phase duration (1 = nominal).

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    w = WEAPONS[weapon] if isinstance(weapon, str) else weapon
    return friedlander(fs_hz, db_spl_to_pa(w.peak_db_spl + level_offset_db), w.duration_s * duration_scale)


def directivity_weight(f_hz: np.ndarray | float) -> np.ndarray:
    """How a muzzle's directivity in dB scales with frequency: ``sqrt(f / 1 kHz)`` within [0.3, 2.5].

    The level toward angle θ off the barrel is ``(D/2)·cos θ·weight(f)`` dB re the side, D being the
    weapon's front-to-back figure (+D/2 ahead, −D/2 behind, 0 to the side where levels are quoted).

    A weapon's front-to-back figure holds near 1 kHz, where the blast carries most energy; the
    muzzle is small against long wavelengths, so lows spread round it more evenly and highs beam
    forward (behind the shooter the blast sounds duller).
    """
    return np.clip(np.sqrt(np.asarray(f_hz, dtype=float) / 1000.0), 0.3, 2.5)


def whitham_nwave(weapon: str | Weapon, miss_distance_m: float, c_mps: float, pressure_kpa: float = 101.325) -> tuple[float, float]:
    """Peak overpressure and duration of a bullet's N-wave by Whitham's far-field formulas.

    ``P = 0.53·p0·(M²−1)^(1/8)·d / (b^(3/4)·l^(1/4))`` and
    ``T = 1.82·M·b^(1/4)·d / (c·(M²−1)^(3/8)·l^(1/4))`` with Mach number M, caliber d, bullet
    length l and miss distance b (5.56 mm at 10 m: about 170 Pa and 190 µs).

    Parameters
    ----------
    weapon : str or Weapon
    miss_distance_m : float
        Perpendicular distance from the trajectory, m (clamped to >= 0.5 m).
    c_mps : float
        Speed of sound, m/s.
    pressure_kpa : float
        Ambient pressure, kPa.

    Returns
    -------
    (peak_pa, duration_s) : tuple of float
        Both 0 when the bullet is subsonic.
    """
    w = WEAPONS[weapon] if isinstance(weapon, str) else weapon
    mach = w.bullet_speed_mps / c_mps
    if mach <= 1.0:
        return 0.0, 0.0
    b = max(float(miss_distance_m), 0.5)
    m2 = mach * mach - 1.0
    peak = 0.53 * pressure_kpa * 1e3 * m2**0.125 * w.caliber_m / (b**0.75 * w.bullet_length_m**0.25)
    dur = 1.82 * mach * b**0.25 * w.caliber_m / (c_mps * m2**0.375 * w.bullet_length_m**0.25)
    return float(peak), float(dur)


def n_wave(fs_hz: float, peak_pa: float, duration_s: float, rise_s: float = 2e-6) -> np.ndarray:
    """Supersonic shock wave: jump to +P, linear fall to −P over ``duration_s``, jump back to 0.

    Parameters
    ----------
    fs_hz : float
        Sample rate, Hz (>= 192 kHz: at 48 kHz an N-wave spans a handful of samples).
    peak_pa : float
        Peak overpressure, Pa.
    duration_s : float
        Time from the front shock to the rear shock, s.
    rise_s : float
        Shock rise time, s.

    Returns
    -------
    numpy.ndarray, shape (n,)
        Pressure as heard at the sensor (Whitham's levels are already at the sensor's distance).
    """
    n_rise = max(int(round(rise_s * fs_hz)), 1)
    n_body = max(int(round(duration_s * fs_hz)), 2)
    rise = peak_pa * np.arange(n_rise) / n_rise
    body = peak_pa * (1.0 - 2.0 * np.arange(n_body) / (n_body - 1))
    tail = -peak_pa * (1.0 - np.arange(1, n_rise + 1) / n_rise)
    return np.concatenate([rise, body, tail])


def _damped_tones(fs_hz: float, n: int, freqs_hz: tuple[float, ...], decay_s: float, phases: np.ndarray) -> np.ndarray:
    t = np.arange(n) / fs_hz
    out = np.zeros(n)
    for f, ph in zip(freqs_hz, phases):
        out += np.sin(2 * np.pi * f * t + ph)
    return out * np.exp(-t / decay_s) / len(freqs_hz)


def _decaying_noise(fs_hz: float, n: int, decay_s: float, rng: np.random.Generator, band_hz: tuple[float, float]) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / fs_hz)
    spec[(f < band_hz[0]) | (f > band_hz[1])] = 0.0
    x = np.fft.irfft(spec, n)
    x /= max(np.max(np.abs(x)), 1e-12)
    return x * np.exp(-np.arange(n) / fs_hz / decay_s)


def _blast_with_tail(fs_hz: float, blast: np.ndarray, tail_s: float, tail: np.ndarray | None = None) -> np.ndarray:
    """A blast followed by ``tail_s`` of room for its tail; ``tail`` (full length) is added on top."""
    out = np.zeros(blast.size + int(tail_s * fs_hz))
    out[: blast.size] = blast
    if tail is not None:
        out += tail[: out.size]
    return out


def firecracker(fs_hz: float, rng: np.random.Generator) -> np.ndarray:
    """One firecracker: a short, sharp blast (~145 dB SPL at 1 m, T ≈ 0.15–0.3 ms) with crackle."""
    blast = friedlander(fs_hz, db_spl_to_pa(rng.uniform(140.0, 148.0)), rng.uniform(0.15e-3, 0.3e-3), rise_s=5e-6)
    n = blast.size + int(0.01 * fs_hz)
    return _blast_with_tail(fs_hz, blast, 0.01, 0.05 * blast.max() * _decaying_noise(fs_hz, n, 2e-3, rng, (2000.0, 12000.0)))


def firework_launch(fs_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Aerial firework leaving its mortar: a low thump (~125 dB SPL) and a short whoosh."""
    thump = friedlander(fs_hz, db_spl_to_pa(rng.uniform(122.0, 128.0)), rng.uniform(2e-3, 4e-3), rise_s=200e-6)
    n = thump.size + int(0.25 * fs_hz)
    return _blast_with_tail(fs_hz, thump, 0.25, 0.15 * thump.max() * _decaying_noise(fs_hz, n, 0.08, rng, (300.0, 3000.0)))


def firework_burst(fs_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Aerial shell bursting at height: a loud, long blast (~155 dB SPL, T ≈ 1–2 ms) and crackle."""
    blast = friedlander(fs_hz, db_spl_to_pa(rng.uniform(150.0, 158.0)), rng.uniform(1e-3, 2e-3), rise_s=20e-6)
    n = blast.size + int(0.3 * fs_hz)
    return _blast_with_tail(fs_hz, blast, 0.3, 0.03 * blast.max() * _decaying_noise(fs_hz, n, 0.12, rng, (1500.0, 10000.0)))


def door_slam(fs_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Door or dumpster slam: a slower rise (~1–3 ms), ~115 dB SPL at 1 m, and a ringing body."""
    peak = db_spl_to_pa(rng.uniform(110.0, 120.0))
    n_rise = int(rng.uniform(1e-3, 3e-3) * fs_hz)
    n = n_rise + int(0.15 * fs_hz)
    rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_rise) / n_rise)
    ring = _damped_tones(fs_hz, n - n_rise, (rng.uniform(80, 160), rng.uniform(250, 450)), rng.uniform(0.02, 0.05), rng.uniform(0, 2 * np.pi, 2))
    body = np.cos(2 * np.pi * 60.0 * np.arange(n - n_rise) / fs_hz) * np.exp(-np.arange(n - n_rise) / fs_hz / 0.01)
    return peak * np.concatenate([rise, 0.6 * body + 0.4 * ring / max(np.max(np.abs(ring)), 1e-12)])


def backfire(fs_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Car backfire: a blast of lower level (~140 dB SPL) and lower frequency (T ≈ 2–4 ms) with pipe resonance."""
    blast = friedlander(fs_hz, db_spl_to_pa(rng.uniform(135.0, 143.0)), rng.uniform(2e-3, 4e-3), rise_s=100e-6)
    n = blast.size + int(0.08 * fs_hz)
    ring = _damped_tones(fs_hz, n, (rng.uniform(60, 120),), 0.02, rng.uniform(0, 2 * np.pi, 1))
    return _blast_with_tail(fs_hz, blast, 0.08, 0.3 * blast.max() * ring)


def nail_gun(fs_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Nail gun shot: a sharp click (~125 dB SPL) with a metallic ring at a few kHz."""
    click = friedlander(fs_hz, db_spl_to_pa(rng.uniform(120.0, 130.0)), rng.uniform(0.08e-3, 0.15e-3), rise_s=5e-6)
    n = click.size + int(0.05 * fs_hz)
    ring = _damped_tones(fs_hz, n, (rng.uniform(2000, 3000), rng.uniform(3500, 5000)), 0.012, rng.uniform(0, 2 * np.pi, 2))
    return _blast_with_tail(fs_hz, click, 0.05, 0.2 * click.max() * ring)


#: Confuser sounds by the ``kind`` written in truth.json; each ``f(fs_hz, rng) -> Pa at 1 m``.
CONFUSER_SOUNDS = {
    "firecracker": firecracker,
    "firework_launch": firework_launch,
    "firework_burst": firework_burst,
    "door_slam": door_slam,
    "backfire": backfire,
    "nail_gun": nail_gun,
}

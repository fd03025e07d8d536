"""Ambient sound at a sensor: coloured background, passing-traffic rumble, wind on the microphone,
and the microphone's own noise.

Whole-recording arrays made in the frequency domain: independent stationary Gaussian noises
add in one power spectrum (one inverse FFT), and the slowly modulated low-frequency sounds
(traffic, wind) share one carrier whose envelope is computed at a 20 Hz control rate.  Pascals.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from sim.sources import db_spl_to_pa

SLOPE_DB_PER_OCT = {"white": 0.0, "pink": -3.0, "brown": -6.0}
_CONTROL_HZ = 20.0  # rate of slow envelopes (gusts, passing vehicles)


@lru_cache(maxsize=32)
def spectral_profile(n: int, fs_hz: float, slope_db_per_oct: float, lo_hz: float, hi_hz: float) -> np.ndarray:
    """Amplitude profile over the ``n//2 + 1`` rfft bins of a noise whose power falls
    ``slope_db_per_oct`` per octave inside [lo_hz, hi_hz], normalised to unit RMS in time.

    Returns
    -------
    numpy.ndarray, shape (n//2 + 1,)
        Read-only; mean of its square is 1 (see :func:`noise_from_profile`).
    """
    f = np.arange(n // 2 + 1) * (fs_hz / n)
    mag = np.zeros(f.size)
    ok = (f >= lo_hz) & (f <= hi_hz) & (f > 0)
    mag[ok] = (f[ok] / lo_hz) ** (slope_db_per_oct / (20.0 * np.log10(2.0)))
    mag /= np.sqrt(np.mean(mag * mag)) if mag.any() else 1.0
    mag.flags.writeable = False
    return mag


def noise_from_profile(n: int, rng: np.random.Generator, mag: np.ndarray) -> np.ndarray:
    """Gaussian noise with amplitude spectrum ``mag``; its RMS is ``sqrt(mean(mag²))``.

    A complex Gaussian spectrum with unit-variance real and imaginary parts on the n/2 bins,
    through ``irfft``, has time-domain variance ``(2/n)·mean(mag²)``; the factor sqrt(n/2) makes
    a flat unit profile unit-variance white noise.  Made in single precision (three times
    faster; noise needs no more), returned as float64.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
    """
    import scipy.fft

    z = rng.standard_normal(2 * mag.size, dtype=np.float32).view(np.complex64)
    z *= mag.astype(np.float32)
    x = scipy.fft.irfft(z, n)
    x *= np.float32(np.sqrt(n / 2.0))
    return x.astype(np.float64)


def shaped_noise(n: int, fs_hz: float, rng: np.random.Generator, slope_db_per_oct: float,
                 band_hz: tuple[float, float] = (20.0, np.inf)) -> np.ndarray:
    """Gaussian noise of (expected) unit RMS with power slope ``slope_db_per_oct`` inside ``band_hz``.

    Parameters
    ----------
    n : int
        Length, samples.
    fs_hz : float
        Sample rate, Hz.
    rng : numpy.random.Generator
    slope_db_per_oct : float
        Power slope, dB/octave (−3: pink).
    band_hz : (float, float)
        Pass band, Hz.
    """
    if n == 0:
        return np.zeros(0)
    return noise_from_profile(n, rng, spectral_profile(n, float(fs_hz), float(slope_db_per_oct), *map(float, band_hz)))


def _ou(m: int, rng: np.random.Generator, tau_s: float) -> np.ndarray:
    """Unit-variance Ornstein–Uhlenbeck process at the control rate, ``m`` points."""
    a = np.exp(-1.0 / (_CONTROL_HZ * tau_s))
    w = rng.standard_normal(m) * np.sqrt(1 - a * a)
    z = np.empty(m)
    z[0] = rng.standard_normal()
    for i in range(1, m):  # 20 points a second
        z[i] = a * z[i - 1] + w[i]
    return z


def traffic_power(t_s: np.ndarray, rng: np.random.Generator, level_db_spl: float, per_min: float) -> np.ndarray:
    """Mean-square pressure (Pa²) of passing traffic over time.

    Each vehicle's intensity follows ``1/(1 + ((t − t_c)/τ)²)`` about its closest approach t_c
    (τ of 2–6 s), peaking at ``level_db_spl`` ± 6 dB; arrivals are Poisson at ``per_min``.
    """
    if level_db_spl <= 0.0 or per_min <= 0.0:
        return np.zeros(t_s.size)
    dur = float(t_s[-1]) if t_s.size else 0.0
    k = rng.poisson(per_min * dur / 60.0)
    power = np.zeros(t_s.size)
    for tc, tau, db in zip(rng.uniform(-5, dur + 5, k), rng.uniform(2.0, 6.0, k), rng.uniform(-6.0, 6.0, k)):
        power += 10 ** (db / 10.0) / (1.0 + ((t_s - tc) / tau) ** 2)
    return db_spl_to_pa(level_db_spl) ** 2 * power


def wind_noise_level_db(speed_mps: np.ndarray | float) -> np.ndarray:
    """Wind noise on a windscreened microphone, dB SPL: 22 + 40·log10(U) (50 dB at 5 m/s)."""
    return 22.0 + 40.0 * np.log10(np.maximum(np.asarray(speed_mps, float), 0.1))


def wind_power(t_s: np.ndarray, rng: np.random.Generator, speed_mps: float, gust_factor: float, gust_period_s: float) -> np.ndarray:
    """Mean-square pressure (Pa²) of wind noise under a gusting wind (OU-modulated speed)."""
    if speed_mps <= 0.0:
        return np.zeros(t_s.size)
    u = np.maximum(speed_mps * (1.0 + gust_factor * _ou(t_s.size, rng, gust_period_s)), 0.0)
    return (db_spl_to_pa(0.0) * 10 ** (wind_noise_level_db(u) / 20.0)) ** 2


def ambient(n: int, fs_hz: float, rng: np.random.Generator, noise_cfg, wind_speed_mps: float,
            self_noise_db_spl: float = 0.0) -> np.ndarray:
    """All noise at one sensor, Pa, shape (n,).

    Parameters
    ----------
    n : int
        Samples.
    fs_hz : float
        Sample rate, Hz.
    rng : numpy.random.Generator
        This sensor's own stream.
    noise_cfg : sim.scenario.Noise
    wind_speed_mps : float
        Mean wind speed, m/s.
    self_noise_db_spl : float
        The microphone's white self-noise, dB SPL (0: none).  Added here because independent
        stationary noises share one spectrum.
    """
    import scipy.fft

    if n == 0:
        return np.zeros(0)
    fs = float(fs_hz)
    colour = spectral_profile(n, fs, SLOPE_DB_PER_OCT[noise_cfg.color], 20.0, fs / 2)
    white = spectral_profile(n, fs, 0.0, 20.0, fs / 2)
    p_amb = db_spl_to_pa(noise_cfg.level_db_spl) if noise_cfg.level_db_spl > 0 else 0.0
    p_self = db_spl_to_pa(self_noise_db_spl) if self_noise_db_spl > 0 else 0.0
    spec = None
    if p_amb > 0 or p_self > 0:
        # The spectrum of noise_from_profile, kept in the frequency domain to add the rumble below.
        spec = rng.standard_normal(2 * colour.size, dtype=np.float32).view(np.complex64)
        spec *= (np.sqrt((p_amb * colour) ** 2 + (p_self * white) ** 2) * np.sqrt(n / 2.0)).astype(np.float32)
    m = int(np.ceil(n / fs * _CONTROL_HZ)) + 2
    tc = np.arange(m) / _CONTROL_HZ
    power = traffic_power(tc, rng, noise_cfg.traffic_db_spl, noise_cfg.traffic_per_min)
    if noise_cfg.wind_noise:
        power = power + wind_power(tc, rng, wind_speed_mps, noise_cfg.gust_factor, noise_cfg.gust_period_s)
    if power.any():
        # Traffic (30–300 Hz) and microphone wind noise (< ~300 Hz) share one low-frequency carrier,
        # made at a low rate (>= 1 kHz) where it is cheap, modulated there, and added to the full
        # spectrum: a band-limited signal's rfft over n samples is k times that of its every k-th sample.
        k = _decimation(n, fs)
        n_lo, fs_lo = n // k, fs / k
        carrier = noise_from_profile(n_lo, rng, spectral_profile(n_lo, fs_lo, -5.0, 10.0, min(350.0, fs_lo / 2)))
        carrier *= np.sqrt(np.interp(np.arange(n_lo) / (fs_lo / _CONTROL_HZ), np.arange(m), power))
        low = np.fft.rfft(carrier) * k
        low[-1] = 0.0  # nothing at the low rate's Nyquist frequency
        if spec is None:
            spec = np.zeros(n // 2 + 1, dtype=np.complex64)
        spec[: low.size] += low.astype(np.complex64)
    if spec is None:
        return np.zeros(n)
    return scipy.fft.irfft(spec, n).astype(np.float64)


def _decimation(n: int, fs: float) -> int:
    """Largest k with fs/k >= 1 kHz that divides n (so both rates share their frequency grid)."""
    for k in range(max(int(fs // 1000.0), 1), 0, -1):
        if n % k == 0:
            return k
    return 1

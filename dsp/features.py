"""Features of one detected impulse, in physical units, for the gunshot classifier and for people.

Spectral features use only 100 Hz - 5.5 kHz, so that they mean the same at every sample rate from 12 kHz up
(at 8 kHz the band is cut at 3.9 kHz).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np

SPEC_LO_HZ = 100.0
SPEC_HI_HZ = 5500.0
LOW_SPLIT_HZ = 500.0
#: Share of the pulse's band energy above this (Hz) is ``hf_frac``.
HIGH_SPLIT_HZ = 2000.0
#: Band of the coda's spectral flatness (Hz): where struck metal and pneumatic tools ring.
CODA_LO_HZ = 500.0
#: Longest gap to a previous primary impulse that counts as context (s); ``gap_s`` is capped at it.
GAP_MAX_S = 1.0


@dataclass(frozen=True, slots=True)
class Features:
    """Named features of one impulse.

    Attributes
    ----------
    rise_s : float
        Onset to first strong peak (s).
    pulse_s : float
        Width of the first pulse: onset to the first zero crossing after the first peak (s).
    width_s : float
        Effective width of the first pulse: its area (onset to the zero crossing) over its peak (s).
    neg_ratio : float
        Largest opposite-polarity amplitude within one pulse width after the first pulse, over the first peak:
        near 1 for a supersonic N-wave (+P falling straight to -P), about 0.1-0.4 for a Friedlander blast.
    duration_s : float
        Time after the onset within which 90% of the first 100 ms of energy arrived (s).
    coda_db : float
        Mean energy 2-10 ms after the onset over that of the first 2 ms (dB): crackle, ringing and close echoes.
    decay_db : float
        Energy of the first 5 ms over that of 20-50 ms after the onset (dB); reverberant or ringing sounds decay less.
    centroid_hz : float
        Spectral centroid of the raw signal from 1 ms before to 10 ms after the onset, 100 Hz-5.5 kHz (Hz).
    bandwidth_hz : float
        Spectral spread (standard deviation around the centroid) over the same band (Hz).
    low_frac : float
        Share of that band's energy below 500 Hz (0..1).
    hf_frac : float
        Share of that band's energy above 2 kHz (0..1): short, sharp bangs (firecrackers, nail guns) keep more.
    coda_flatness : float
        Spectral flatness (geometric over arithmetic mean power, 0..1) of the high-passed signal 2-20 ms after
        the onset, 500 Hz-5.5 kHz: near 0 for a ringing body (a few tones), higher for crackle, echoes and noise.
    crest_db : float
        Peak over RMS of the high-passed signal in the 20 ms after the onset (dB).
    kurtosis : float
        Kurtosis of the high-passed signal from 5 ms before to 20 ms after the onset (3 for Gaussian noise).
    later_db : float
        Largest peak from 2 to 20 ms after the first peak, relative to the first peak (dB); > 0 when a louder
        arrival follows (an N-wave before its blast).
    snr_db : float
        First peak over the noise RMS before the onset (dB).
    peak_dbfs : float
        Peak of the raw signal in the 10 ms after the onset (dB re full scale).
    clipped_frac : float
        Share of raw samples at or above 0.999 full scale in the 10 ms after the onset.
    gap_s : float
        Time since the previous primary impulse at this sensor (s), capped at ``GAP_MAX_S`` (also when none).
    gap_irregularity : float
        |ln(gap / previous gap)| when the two impulses before this one are within ``GAP_MAX_S``, else 0:
        automatic and semi-automatic fire repeats at a steady rate, a string of firecrackers does not.
    """

    rise_s: float
    pulse_s: float
    width_s: float
    neg_ratio: float
    duration_s: float
    coda_db: float
    decay_db: float
    centroid_hz: float
    bandwidth_hz: float
    low_frac: float
    crest_db: float
    kurtosis: float
    later_db: float
    snr_db: float
    peak_dbfs: float
    clipped_frac: float
    hf_frac: float = 0.0
    coda_flatness: float = 0.0
    gap_s: float = GAP_MAX_S
    gap_irregularity: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """The features by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def as_array(self) -> np.ndarray:
        """The features in the order of :data:`FEATURE_NAMES`, float64."""
        return np.array([getattr(self, n) for n in FEATURE_NAMES], dtype=np.float64)


#: Feature names in the order of :meth:`Features.as_array`.
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Features))


@lru_cache(maxsize=64)
def _hann(n: int) -> np.ndarray:
    """Hann window of ``n`` samples (cached: windows repeat for every pick at a rate)."""
    return np.hanning(n)


@lru_cache(maxsize=64)
def _freqs(nfft: int, fs_hz: float) -> np.ndarray:
    """Bin frequencies of an ``nfft``-point real FFT at ``fs_hz`` (Hz), cached."""
    return np.fft.rfftfreq(nfft, 1.0 / fs_hz)


def _db(ratio: float) -> float:
    return 10.0 * math.log10(max(ratio, 1e-30))


def _energy(y: np.ndarray, a: int, b: int) -> float:
    a, b = max(a, 0), min(b, y.shape[0])
    if b <= a:
        return 0.0
    seg = y[a:b].astype(np.float64)
    return float(np.dot(seg, seg))


def _flatness(seg: np.ndarray, fs_hz: float, lo_hz: float, hi_hz: float) -> float:
    """Spectral flatness (0..1) of ``seg`` (Hann window) between ``lo_hz`` and ``hi_hz``; 0 when empty."""
    if seg.size < 16:
        return 0.0
    seg = (seg - seg.mean()) * _hann(seg.size)
    nfft = 1 << int(math.ceil(math.log2(max(seg.size, 64))))
    spec = np.abs(np.fft.rfft(seg, nfft)) ** 2
    f = _freqs(nfft, float(fs_hz))
    p = spec[(f >= lo_hz) & (f <= min(hi_hz, 0.49 * fs_hz))]
    mean = float(p.mean()) if p.size else 0.0
    if mean <= 0.0:
        return 0.0
    return float(math.exp(float(np.mean(np.log(p + 1e-12 * mean)))) / mean)


def context(previous_s: tuple[float, ...], onset_s: float) -> tuple[float, float]:
    """(gap_s, gap_irregularity) of an impulse at ``onset_s`` after primary impulses at ``previous_s`` (s, any order).

    Pure: the detector passes the onsets of its recent primary picks.
    """
    prev = sorted((t for t in previous_s if onset_s - GAP_MAX_S <= t < onset_s), reverse=True)
    if not prev:
        return GAP_MAX_S, 0.0
    gap = onset_s - prev[0]
    if len(prev) < 2 or gap <= 0.0 or prev[0] - prev[1] <= 0.0:
        return gap, 0.0
    return gap, abs(math.log(gap / (prev[0] - prev[1])))


def compute_features(raw: np.ndarray, y: np.ndarray, onset: float, peak_index: int, peak_amp: float,
                     noise_rms: float, fs_hz: float, gap: tuple[float, float] = (GAP_MAX_S, 0.0)) -> Features:
    """Measure :class:`Features` of the impulse whose onset is at ``onset`` in the window.

    Parameters
    ----------
    raw : ndarray, shape (n,)
        Raw input window (full scale 1.0).
    y : ndarray, shape (n,)
        The same window high-passed.
    onset : float
        Sub-sample onset index within the window.
    peak_index : int
        Index of the first strong peak.
    peak_amp : float
        Its |amplitude| in ``y``.
    noise_rms : float
        RMS of ``y`` before the onset.
    fs_hz : float
        Sample rate (Hz).
    gap : (float, float)
        ``gap_s`` and ``gap_irregularity`` from :func:`context` (the default: no impulse before).
    """
    n = y.shape[0]
    ms = fs_hz * 1e-3
    i0 = int(math.floor(onset))
    rise_s = max(peak_index - onset, 0.0) / fs_hz

    # first pulse: from the onset to the zero crossing after the first peak
    sgn = 1.0 if y[peak_index] >= 0 else -1.0
    after = sgn * y[peak_index:].astype(np.float64)
    neg = np.flatnonzero(after <= 0.0)
    end = peak_index + (int(neg[0]) if neg.size else after.size)
    pulse_s = max(end - onset, 0.0) / fs_hz
    first = sgn * y[max(i0, 0) : end].astype(np.float64)
    width_s = float(np.clip(first, 0.0, None).sum()) / peak_amp / fs_hz if peak_amp > 0 else 0.0
    width = max(int(math.ceil(end - onset)), 1)
    opp = -sgn * y[end : min(n, end + width + 1)].astype(np.float64)
    neg_ratio = float(max(opp.max(), 0.0) / peak_amp) if opp.size and peak_amp > 0 else 0.0

    e100 = y[max(i0, 0) : min(n, i0 + int(round(100 * ms)))].astype(np.float64) ** 2
    if e100.size and e100.sum() > 0:
        c = np.cumsum(e100)
        duration_s = (int(np.searchsorted(c, 0.9 * c[-1])) + 1) / fs_hz
    else:
        duration_s = 0.0
    e_head = _energy(y, i0, i0 + int(round(5 * ms))) / max(round(5 * ms), 1)
    e_tail = _energy(y, i0 + int(round(20 * ms)), i0 + int(round(50 * ms))) / max(round(30 * ms), 1)
    noise_e = noise_rms * noise_rms
    e_2 = _energy(y, i0, i0 + int(round(2 * ms))) / max(round(2 * ms), 1)
    e_2_10 = _energy(y, i0 + int(round(2 * ms)), i0 + int(round(10 * ms))) / max(round(8 * ms), 1)
    coda_db = _db((e_2_10 + noise_e * 1e-3) / (e_2 + noise_e * 1e-3 + 1e-30))
    decay_db = _db((e_head + noise_e * 1e-3) / (e_tail + noise_e * 1e-3 + 1e-30))

    # spectrum of the raw pulse
    a, b = max(i0 - int(round(ms)), 0), min(n, i0 + int(round(10 * ms)))
    seg = raw[a:b].astype(np.float64)
    centroid_hz = bandwidth_hz = 0.0
    low_frac = hf_frac = 0.0
    if seg.size >= 8:
        seg = (seg - seg.mean()) * _hann(seg.size)
        nfft = 1 << int(math.ceil(math.log2(max(seg.size, 64))))
        spec = np.abs(np.fft.rfft(seg, nfft)) ** 2
        f = _freqs(nfft, float(fs_hz))
        band = (f >= SPEC_LO_HZ) & (f <= min(SPEC_HI_HZ, 0.49 * fs_hz))
        p, fb = spec[band], f[band]
        tot = float(p.sum())
        if tot > 0:
            centroid_hz = float((p * fb).sum() / tot)
            bandwidth_hz = float(math.sqrt(max(((fb - centroid_hz) ** 2 * p).sum() / tot, 0.0)))
            low_frac = float(p[fb < LOW_SPLIT_HZ].sum() / tot)
            hf_frac = float(p[fb > HIGH_SPLIT_HZ].sum() / tot)
    coda = y[min(n, max(i0, 0) + int(round(2 * ms))) : min(n, max(i0, 0) + int(round(20 * ms)))].astype(np.float64)
    coda_flatness = _flatness(coda, fs_hz, CODA_LO_HZ, SPEC_HI_HZ)

    post = y[max(i0, 0) : min(n, i0 + int(round(20 * ms)))].astype(np.float64)
    rms = math.sqrt(float(np.mean(post * post))) if post.size else 0.0
    crest_db = _db((peak_amp / rms) ** 2) if rms > 0 else 0.0
    k = y[max(i0 - int(round(5 * ms)), 0) : min(n, i0 + int(round(20 * ms)))].astype(np.float64)
    kurt = 0.0
    if k.size >= 4:
        k = k - k.mean()
        v = float(np.mean(k * k))
        kurt = float(np.mean(k**4) / (v * v)) if v > 0 else 0.0
    lat = np.abs(y[min(n, peak_index + int(round(2 * ms))) : min(n, peak_index + int(round(20 * ms)))])
    later_db = _db((float(lat.max()) / peak_amp) ** 2) if lat.size and peak_amp > 0 else -60.0
    later_db = max(later_db, -60.0)
    snr_db = _db((peak_amp / noise_rms) ** 2) if noise_rms > 0 else 120.0
    snr_db = min(snr_db, 120.0)
    head = np.abs(raw[max(i0, 0) : min(n, i0 + int(round(10 * ms)) + 1)].astype(np.float64))
    peak_raw = float(head.max()) if head.size else 0.0
    peak_dbfs = max(_db(peak_raw**2), -120.0)
    clipped_frac = float(np.mean(head >= 0.999)) if head.size else 0.0
    return Features(rise_s, pulse_s, width_s, neg_ratio, duration_s, coda_db, decay_db, centroid_hz, bandwidth_hz,
                    low_frac, crest_db, kurt, later_db, snr_db, peak_dbfs, clipped_frac, hf_frac, coda_flatness,
                    float(gap[0]), float(gap[1]))

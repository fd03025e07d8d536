"""Onset pickers: the sub-sample time of the earliest arrival near a trigger, and its uncertainty.

The pickers work on the high-passed signal around one trigger.  They look for the *first* strong pulse near the
trigger rather than the loudest one (echoes in a street can be louder than the direct sound), then time its
rising edge.  Two pickers sit behind :data:`PICKERS`:

- ``edge``: the foot of the first strong peak's rising edge, from its 20% and 50% crossings (interpolated
  between samples) and a calibrated extrapolation.  Its jitter is the noise RMS over the edge slope (the
  classic timing-jitter law) times the extrapolation's gain.
  Below :data:`EDGE_LOW_SNR_DB` the 20% crossing drowns in noise and the strongest peak is often the blast's
  negative phase; there the picker times the 50% crossing of the first peak of the zero-phase low-passed window
  (:func:`pick_smoothed`): smoothing to the blast's band halves the noise on the edge, a
  zero-phase filter keeps the edge where it is, and a calibrated offset moves the crossing to the foot.
- ``aic``: Akaike's information criterion picker from seismology (Maeda 1985): the split of the segment before
  the first peak into a noise part and a signal part that best explains their variances.  Sample resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy import signal

#: Levels (fractions of the first peak) whose crossings define the edge the foot is extrapolated from.
EDGE_LO = 0.2
EDGE_HI = 0.5
#: Onset = 20% crossing - EDGE_FOOT_GAIN * (50% crossing - 20% crossing) - EDGE_FOOT_SAMPLES - EDGE_FOOT_S * fs
#: (samples): the foot lies a little before the 20% crossing, partly a time (the rise air absorption gives a
#: blast) and partly a number of samples (the converter's band-limiting).
#: Fitted on simulator training seeds by ``python training/calibrate_onset.py`` (never on benchmark seeds).
EDGE_FOOT_GAIN = 2.169
EDGE_FOOT_SAMPLES = -1.774
EDGE_FOOT_S = 3.1817e-05
#: Noise jitter of the foot relative to noise / slope: the two crossings weighted as in the foot formula.
#: EDGE_JITTER_SCALE (calibrated with the foot) corrects the ideal gain for the noise being correlated.
EDGE_JITTER_SCALE = 0.683
EDGE_JITTER_GAIN = EDGE_JITTER_SCALE * math.hypot(1.0 + EDGE_FOOT_GAIN, EDGE_FOOT_GAIN)
#: Sample rates (Hz) at which the pickers' model errors are calibrated; between them the error is interpolated
#: in log(fs), outside them the nearest value holds.
MODEL_RATES_HZ = (8000, 12000, 16000, 24000, 48000, 96000)
#: Model error of the edge picker at MODEL_RATES_HZ (s), added in quadrature to the noise jitter: how far the
#: foot extrapolation misses on clean shots, which depends on how the converter's band meets the blast's.
#: Calibrated on simulator training seeds by ``training/calibrate_onset.py`` (never on benchmark seeds).
EDGE_MODEL_S = (46.0e-6, 22.0e-6, 12.0e-6, 10.0e-6, 16.0e-6, 10.0e-6)
#: Largest sigma a pick reports (s): the pickers search a few ms around the trigger, so an error beyond that is
#: another arrival, not a wider one (and the wire protocol refuses sigmas of seconds).
MAX_SIGMA_S = 5e-3
#: Reference of the jitter power law of :func:`pick_smoothed`'s sigma (s).
JITTER_REF_S = 1e-4
#: Below this peak SNR (first peak over the noise RMS, dB) the edge picker hands over to :func:`pick_smoothed`.
EDGE_LOW_SNR_DB = 18.0
#: Corner of the smoothing low-pass of :func:`pick_smoothed` (Hz; at most SMOOTH_MAX_FRAC of the sample rate).
#: The propagated blast's leading edge carries little energy above it, pink ambience a lot.
SMOOTH_HZ = 4000.0
SMOOTH_MAX_FRAC = 0.3
#: The smoothed picker searches from this long before the trigger (s): the noise ahead of a faint shot must not
#: provide its "first" peak.
SMOOTH_PRE_S = 1e-3
#: Share of the largest smoothed amplitude near the trigger that makes a peak the first strong one.
SMOOTH_STRONG = 0.5
#: Onset = 50% crossing of the smoothed edge - SMOOTH_FOOT_S * fs - SMOOTH_FOOT_SAMPLES (samples).  Its sigma:
#: sqrt((SMOOTH_JITTER_SCALE * J0 * (jitter / J0) ** SMOOTH_JITTER_POWER) ** 2 + model(fs) ** 2), J0 =
#: JITTER_REF_S, jitter = smoothed noise RMS / smoothed slope at the crossing (s): faster than linear in the
#: jitter because at low SNR a noise peak can pass for the first one.  Model errors at MODEL_RATES_HZ (s).
#: Fitted on simulator training seeds by ``training/calibrate_onset.py``.
SMOOTH_FOOT_S = 1.1404e-04
SMOOTH_FOOT_SAMPLES = -1.625
SMOOTH_JITTER_SCALE = 14.713
SMOOTH_JITTER_POWER = 3.0
SMOOTH_MODEL_S = (44.0e-6, 14.0e-6, 20.0e-6, 38.0e-6, 46.0e-6, 36.0e-6)


@dataclass(frozen=True, slots=True)
class Onset:
    """Result of an onset picker on one window.

    Attributes
    ----------
    onset : float
        Sub-sample onset index within the window.
    sigma_s : float
        1-sigma uncertainty of ``onset`` (s).
    peak_index : int
        Index of the first strong peak within the window.
    peak_amp : float
        Its absolute amplitude (full scale 1.0, high-passed).
    noise_rms : float
        RMS of the high-passed signal before the onset.
    """

    onset: float
    sigma_s: float
    peak_index: int
    peak_amp: float
    noise_rms: float


def _noise_rms(y: np.ndarray, end: int, fs_hz: float) -> float:
    """RMS of ``y`` over the 20 ms that end 1 ms before ``end`` (what is available of it)."""
    stop = max(0, end - int(round(1e-3 * fs_hz)))
    start = max(0, stop - int(round(20e-3 * fs_hz)))
    if stop - start < 4:
        return float(np.sqrt(np.mean(y[: max(end, 1)].astype(np.float64) ** 2))) if end > 0 else 0.0
    seg = y[start:stop].astype(np.float64)
    return math.sqrt(float(np.dot(seg, seg)) / seg.size)


def first_strong_peak(y: np.ndarray, trig: int, fs_hz: float) -> tuple[int, float]:
    """Index and |amplitude| of the first strong peak near a trigger.

    The search covers 2 ms before to 4 ms after the trigger frame; a peak is strong when it reaches a quarter of the
    largest amplitude there (and 5 noise RMS).  Returns the local maximum of |y| that the first strong sample
    climbs to.
    """
    n = y.shape[0]
    lo = max(0, trig - int(round(2e-3 * fs_hz)))
    hi = min(n, trig + int(round(4e-3 * fs_hz)) + 1)
    a = np.abs(y[lo:hi].astype(np.float64))
    if a.size == 0:
        return min(max(trig, 0), n - 1), 0.0
    big = float(a.max())
    noise = _noise_rms(y, lo, fs_hz)
    thr = max(0.25 * big, 5.0 * noise)
    if thr > big:
        thr = big
    i = int(np.argmax(a >= thr))
    sgn = 1.0 if y[lo + i] >= 0 else -1.0
    # climb to the local maximum of this polarity
    while i + 1 < a.size and sgn * y[lo + i + 1] >= sgn * y[lo + i]:
        i += 1
    return lo + i, float(a[i])


def _crossing(y: np.ndarray, p: int, sgn: float, level: float) -> tuple[float, float]:
    """Walking back from peak ``p``: sub-sample index where ``sgn * y`` last rose through ``level``, and the
    slope there (amplitude per sample)."""
    j = p
    while j > 0 and sgn * y[j - 1] >= level:
        j -= 1
    if j == 0:
        return 0.0, 0.0
    lo, hi = sgn * float(y[j - 1]), sgn * float(y[j])
    step = hi - lo
    return ((j - 1) + (level - lo) / step if step > 0 else float(j)), step


def edge_crossings(y: np.ndarray, trig: int, fs_hz: float) -> tuple[int, float, float, float, float]:
    """First strong peak near ``trig`` and its rising edge: (peak index, |amplitude|, 20% crossing,
    50% crossing, slope at the 50% crossing in amplitude per sample)."""
    p, amp = first_strong_peak(y, trig, fs_hz)
    sgn = 1.0 if y[p] >= 0 else -1.0
    t_lo, _ = _crossing(y, p, sgn, EDGE_LO * amp)
    t_hi, step = _crossing(y, p, sgn, EDGE_HI * amp)
    return p, amp, t_lo, t_hi, step


def pick_edge(y: np.ndarray, trig: int, fs_hz: float) -> Onset:
    """Foot of the first strong peak's rising edge (see the module docstring).

    The onset is the 20% crossing moved back by a calibrated multiple of the 20%-50% rise and a calibrated
    offset (:data:`EDGE_FOOT_GAIN`, :data:`EDGE_FOOT_SAMPLES`, :data:`EDGE_FOOT_S`).  Real arrivals start at their onset
    and then rise over a time that air absorption lengthens with distance (a causal, smoothing path), so a level
    crossing alone would be late by part of the rise.

    Parameters
    ----------
    y : ndarray, shape (n,)
        High-passed window containing the trigger.
    trig : int
        Trigger index within ``y``.
    fs_hz : float
        Sample rate (Hz).
    """
    p, amp, t_lo, t_hi, step = edge_crossings(y, trig, fs_hz)
    rise = max(t_hi - t_lo, 0.0)
    onset = max(t_lo - EDGE_FOOT_GAIN * rise - EDGE_FOOT_SAMPLES - EDGE_FOOT_S * fs_hz, 0.0)
    noise = _noise_rms(y, int(onset), fs_hz)
    if amp < 10.0 ** (EDGE_LOW_SNR_DB / 20.0) * noise:
        return pick_smoothed(y, trig, fs_hz)
    slope = (EDGE_HI - EDGE_LO) * amp / rise * fs_hz if rise > 1e-3 else step * fs_hz
    # the foot comes from two crossings, each jittered by noise / slope
    jitter_s = EDGE_JITTER_GAIN * noise / slope if slope > 0 else 1.0 / fs_hz
    sigma = min(math.hypot(jitter_s, model_error_s(fs_hz, EDGE_MODEL_S)), MAX_SIGMA_S)
    return Onset(float(onset), float(sigma), int(p), float(amp), float(noise))


def model_error_s(fs_hz: float, per_rate: tuple[float, ...]) -> float:
    """A picker's model error (s) at ``fs_hz``: ``per_rate`` (at :data:`MODEL_RATES_HZ`) interpolated in log(fs)."""
    return float(np.interp(math.log(fs_hz), np.log(MODEL_RATES_HZ), per_rate))


@lru_cache(maxsize=16)
def _smoothing(fs_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second-order Butterworth low-pass (b, a) of :func:`pick_smoothed` for ``fs_hz`` and its unit-step state."""
    b, a = signal.butter(2, min(SMOOTH_HZ, SMOOTH_MAX_FRAC * fs_hz), fs=fs_hz)
    return b, a, signal.lfilter_zi(b, a)


def _zero_phase(seg: np.ndarray, fs_hz: float) -> np.ndarray:
    """``seg`` low-passed forward and backward (zero phase), each pass started at rest on its first sample."""
    b, a, zi = _smoothing(float(fs_hz))
    z, _ = signal.lfilter(b, a, seg, zi=zi * seg[0])
    z = z[::-1]
    z, _ = signal.lfilter(b, a, z, zi=zi * z[0])
    return z[::-1]


def smoothed_crossing(y: np.ndarray, trig: int, fs_hz: float) -> tuple[int, float, float, float, float, float]:
    """First strong peak of the zero-phase low-passed window near ``trig`` and its 50% crossing.

    Returns (peak index in ``y``, its |amplitude| in ``y``, 50% crossing of the smoothed edge (samples),
    slope there (smoothed amplitude per sample), smoothed noise RMS before the search, smoothed peak |amplitude|).
    Only the part of ``y`` from 22 ms before to 6 ms after the trigger is filtered.
    """
    n = y.shape[0]
    a0 = max(0, trig - int(round((SMOOTH_PRE_S + 21e-3) * fs_hz)))
    b0 = min(n, trig + int(round(6e-3 * fs_hz)) + 1)
    seg = y[a0:b0].astype(np.float64)
    z = _zero_phase(seg, fs_hz) if seg.size > 9 else seg  # zero phase, so that the edge does not move
    lo = max(0, trig - a0 - int(round(SMOOTH_PRE_S * fs_hz)))
    hi = min(z.size, trig - a0 + int(round(4e-3 * fs_hz)) + 1)
    if hi <= lo:
        p = min(max(trig, 0), n - 1)
        return p, float(abs(y[p])), float(p), 0.0, 0.0, 0.0
    a = np.abs(z[lo:hi])
    big = float(a.max())
    i = int(np.argmax(a >= SMOOTH_STRONG * big))
    sgn = 1.0 if z[lo + i] >= 0 else -1.0
    while i + 1 < a.size and sgn * z[lo + i + 1] >= sgn * z[lo + i]:
        i += 1
    pz = lo + i
    t50, step = _crossing(z, pz, sgn, 0.5 * float(a[i]))
    noise_z = _noise_rms(z, lo, fs_hz)
    return a0 + pz, float(abs(y[a0 + pz])), a0 + t50, step, noise_z, float(a[i])


def pick_smoothed(y: np.ndarray, trig: int, fs_hz: float) -> Onset:
    """Low-SNR onset: the calibrated foot below the 50% crossing of the first strong smoothed peak.

    Parameters and result as :func:`pick_edge`; ``peak_amp`` and ``noise_rms`` refer to the unsmoothed ``y``
    (the features are measured on it).
    """
    p, amp, t50, step, noise_z, amp_z = smoothed_crossing(y, trig, fs_hz)
    onset = max(t50 - SMOOTH_FOOT_S * fs_hz - SMOOTH_FOOT_SAMPLES, 0.0)
    jitter_s = noise_z / (step * fs_hz) if step > 0 else 1e-3
    jitter_s = SMOOTH_JITTER_SCALE * JITTER_REF_S * (jitter_s / JITTER_REF_S) ** SMOOTH_JITTER_POWER
    sigma = min(math.hypot(jitter_s, model_error_s(fs_hz, SMOOTH_MODEL_S)), MAX_SIGMA_S)
    return Onset(float(onset), float(sigma), int(p), float(amp), float(_noise_rms(y, int(onset), fs_hz)))


def pick_aic(y: np.ndarray, trig: int, fs_hz: float) -> Onset:
    """AIC picker on the 20 ms before the first strong peak (see the module docstring)."""
    p, amp = first_strong_peak(y, trig, fs_hz)
    start = max(0, p - int(round(20e-3 * fs_hz)))
    seg = y[start : p + 1].astype(np.float64)
    m = seg.size
    if m < 6:
        noise = _noise_rms(y, p, fs_hz)
        return Onset(float(p), 1.0 / fs_hz, int(p), float(amp), noise)
    k = np.arange(1, m - 1)
    c1 = np.cumsum(seg * seg)
    c0 = np.cumsum(seg)
    # variance of seg[:k] and seg[k:], from running sums
    n1 = k.astype(np.float64)
    n2 = (m - k).astype(np.float64)
    var1 = c1[k - 1] / n1 - (c0[k - 1] / n1) ** 2
    var2 = (c1[-1] - c1[k - 1]) / n2 - ((c0[-1] - c0[k - 1]) / n2) ** 2
    tiny = 1e-30
    aic = n1 * np.log(np.maximum(var1, tiny)) + (n2 - 1) * np.log(np.maximum(var2, tiny))
    onset = start + int(k[int(np.argmin(aic))])
    noise = _noise_rms(y, onset, fs_hz)
    slope = amp / max(p - onset + 1, 1) * fs_hz
    sigma = math.sqrt((noise / slope) ** 2 + (0.5 / fs_hz) ** 2) if slope > 0 else 1.0 / fs_hz
    return Onset(float(onset), float(min(sigma, MAX_SIGMA_S)), int(p), float(amp), float(noise))


#: Registry of onset pickers: name -> function(y, trig, fs_hz) -> Onset.
PICKERS: dict[str, Callable[[np.ndarray, int, float], Onset]] = {"edge": pick_edge, "aic": pick_aic}

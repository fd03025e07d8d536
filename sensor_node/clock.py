"""The node's sample clock mapped to UTC: a fitted, re-anchored linear clock model.

A sound card counts samples with its own crystal, which runs up to +-100 ppm off
nominal (100 us of error each second) and drifts with temperature.  The node
therefore never converts a sample index to time as ``index / fs``; it collects
*anchors* -- pairs (sample index, UTC) from the audio driver's ADC time stamps
disciplined by chrony/GPS, or from a PPS edge -- and fits

    t_utc(n) = t0 + (n - n0) * period_s

by least squares over a sliding window of recent anchors.  The residual scatter
is the anchor jitter; the fitted period against the nominal one is the drift.
A new anchor far from the prediction (the system clock was stepped, the card
restarted) starts a fresh window: the model re-anchors instead of bending.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from salvo.errors import InputError

from salvo.utc import NS_PER_S

#: Values of :attr:`ClockFit.state`.  ``nominal``: one anchor only, the nominal
#: rate is assumed; ``locked``: rate fitted from a window of anchors;
#: ``reanchored``: the last anchor disagreed and a new window was started;
#: ``holdover``: anchors stopped arriving, the last fit is extrapolated.
CLOCK_STATES = ("nominal", "locked", "reanchored", "holdover")


@dataclass(frozen=True, slots=True)
class ClockFit:
    """A fitted sample-clock model.

    Attributes
    ----------
    n0 : int
        Reference sample index.
    t0_ns : int
        UTC of sample ``n0``, ns since the epoch.
    period_s : float
        Fitted duration of one sample, s.
    drift_ppm : float
        Rate error against the nominal rate, parts per million (positive: the card
        runs slow, each sample lasts longer than ``1/fs``).
    jitter_s : float
        RMS residual of the anchors about the fit, s (0 with fewer than 3 anchors).
    n_anchors : int
        Anchors in the fitting window.
    state : str
        One of :data:`CLOCK_STATES`.
    """

    n0: int
    t0_ns: int
    period_s: float
    drift_ppm: float
    jitter_s: float
    n_anchors: int
    state: str

    def to_utc_ns(self, sample: float) -> int:
        """UTC (ns since the epoch) of a (fractional) sample index."""
        return self.t0_ns + int(round((float(sample) - self.n0) * self.period_s * NS_PER_S))

    def sigma_s(self) -> float:
        """1-sigma timing uncertainty this model adds to a time stamp, s."""
        if self.n_anchors < 3:
            return max(self.jitter_s, 1e-3)
        return self.jitter_s / np.sqrt(self.n_anchors)


def fit_clock(samples: np.ndarray, utc_ns: np.ndarray, fs_hz: float) -> ClockFit:
    """Least-squares line through anchors (sample index, UTC).

    Parameters
    ----------
    samples : ndarray of int, shape (n,)
        Sample indices of the anchors, increasing.
    utc_ns : ndarray of int, shape (n,)
        UTC of each anchor, ns since the epoch.
    fs_hz : float
        Nominal sample rate, Hz.

    Returns
    -------
    ClockFit
        State ``nominal`` with one anchor, ``locked`` with more.
    """
    samples = np.asarray(samples, dtype=np.int64)
    utc_ns = np.asarray(utc_ns, dtype=np.int64)
    if samples.ndim != 1 or samples.shape != utc_ns.shape or samples.size == 0:
        raise InputError("clock anchors: samples and utc_ns must be equal-length, non-empty 1-D arrays")
    if not fs_hz > 0:
        raise InputError(f"clock: fs_hz must be positive, got {fs_hz}")
    nominal = 1.0 / fs_hz
    n0, t0 = int(samples[-1]), int(utc_ns[-1])
    if samples.size == 1:
        return ClockFit(n0, t0, nominal, 0.0, 0.0, 1, "nominal")
    # Relative float64 values: integers of 1e18 ns would lose the nanoseconds.
    x = (samples - n0).astype(np.float64)
    y = (utc_ns - t0).astype(np.float64) / NS_PER_S
    if np.ptp(x) == 0:
        return ClockFit(n0, t0, nominal, 0.0, 0.0, int(samples.size), "nominal")
    xm, ym = x.mean(), y.mean()
    period = float(np.sum((x - xm) * (y - ym)) / np.sum((x - xm) ** 2))
    intercept = ym - period * xm
    resid = y - (intercept + period * x)
    dof = max(samples.size - 2, 1)
    jitter = float(np.sqrt(np.sum(resid**2) / dof)) if samples.size > 2 else 0.0
    t_ref = t0 + int(round(intercept * NS_PER_S))
    drift_ppm = (period / nominal - 1.0) * 1e6
    return ClockFit(n0, t_ref, period, drift_ppm, jitter, int(samples.size), "locked")


class ClockModel:
    """Sliding-window clock fit, fed anchors as they arrive (the node's clock state).

    Parameters
    ----------
    fs_hz : float
        Nominal sample rate, Hz.
    window : int
        Anchors kept for the fit.
    step_threshold_s : float
        An anchor further than this from the prediction starts a new window, s.
    holdover_s : float
        With no anchor for this long (in audio time), the state reads ``holdover``, s.
    """

    def __init__(self, fs_hz: float, window: int = 64, step_threshold_s: float = 0.02, holdover_s: float = 30.0):
        if not fs_hz > 0:
            raise InputError(f"clock: fs_hz must be positive, got {fs_hz}")
        self.fs_hz = float(fs_hz)
        self._window = int(window)
        self._step_s = float(step_threshold_s)
        self._holdover_n = int(holdover_s * fs_hz)
        self._anchors: deque[tuple[int, int]] = deque(maxlen=self._window)
        self._fit: ClockFit | None = None
        self._reanchors = 0

    @property
    def reanchors(self) -> int:
        """How many times the window was restarted after a clock step."""
        return self._reanchors

    def add_anchor(self, sample: int, utc_ns: int) -> ClockFit:
        """Add one (sample index, UTC) anchor and refit; returns the new fit."""
        sample, utc_ns = int(sample), int(utc_ns)
        stepped = False
        if self._fit is not None:
            err_s = (utc_ns - self._fit.to_utc_ns(sample)) / NS_PER_S
            if abs(err_s) > self._step_s:
                self._anchors.clear()
                self._reanchors += 1
                stepped = True
        if self._anchors and sample <= self._anchors[-1][0]:
            return self.fit(sample)
        self._anchors.append((sample, utc_ns))
        arr = np.array(self._anchors, dtype=np.int64)
        fit = fit_clock(arr[:, 0], arr[:, 1], self.fs_hz)
        if stepped:
            fit = _with_state(fit, "reanchored")
        self._fit = fit
        return fit

    def fit(self, now_sample: int | None = None) -> ClockFit:
        """The current fit; ``holdover`` when anchors stopped before ``now_sample``."""
        if self._fit is None:
            raise InputError("clock: no anchor yet; the node cannot time-stamp audio")
        if now_sample is not None and self._anchors and now_sample - self._anchors[-1][0] > self._holdover_n:
            return _with_state(self._fit, "holdover")
        return self._fit


def _with_state(fit: ClockFit, state: str) -> ClockFit:
    return ClockFit(fit.n0, fit.t0_ns, fit.period_s, fit.drift_ppm, fit.jitter_s, fit.n_anchors, state)

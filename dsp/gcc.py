"""Generalized cross-correlation with phase transform (GCC-PHAT) for time differences between nearby sensors."""

from __future__ import annotations

import math

import numpy as np

from dsp.detector import as_block, check_fs
from salvo.errors import InputError


def gcc_phat(a: object, b: object, fs_hz: float, max_lag_s: float) -> tuple[float, float]:
    """Delay of ``a`` relative to ``b`` by GCC-PHAT, with a parabolic sub-sample peak.

    Parameters
    ----------
    a, b : array_like, shape (n,) and (m,)
        The two signals, same sample rate, sample 0 of both at the same time.
    fs_hz : float
        Sample rate (Hz).
    max_lag_s : float
        Largest |lag| searched (s), e.g. sensor distance / speed of sound.

    Returns
    -------
    lag_s : float
        Time by which ``a`` lags ``b`` (s): positive when the sound reached ``b`` first.
    peak : float
        Height of the normalised correlation peak (0..1; near 1 for one clean common arrival).
    """
    fs = check_fs(fs_hz)
    x = as_block(a, "a").astype(np.float64)
    y = as_block(b, "b").astype(np.float64)
    if x.size < 2 or y.size < 2:
        raise InputError(f"a, b: need at least 2 samples each, got {x.size} and {y.size}")
    if not (max_lag_s > 0 and math.isfinite(max_lag_s)):
        raise InputError(f"max_lag_s: must be a positive number of seconds, got {max_lag_s!r}")
    n = x.size + y.size
    nfft = 1 << int(math.ceil(math.log2(n)))
    cross = np.fft.rfft(x, nfft) * np.conj(np.fft.rfft(y, nfft))
    mag = np.abs(cross)
    cross = np.where(mag > 1e-30 * max(mag.max(), 1e-300), cross / np.maximum(mag, 1e-300), 0.0)
    cc = np.fft.irfft(cross, nfft)
    max_lag = min(int(math.floor(max_lag_s * fs)), nfft // 2 - 1)
    cc = np.concatenate([cc[-max_lag:], cc[: max_lag + 1]]) if max_lag > 0 else cc[:1]
    k = int(np.argmax(cc))
    shift = 0.0
    if 0 < k < cc.size - 1:
        ym, y0, yp = cc[k - 1], cc[k], cc[k + 1]
        den = ym - 2.0 * y0 + yp
        if den < 0:
            shift = 0.5 * (ym - yp) / den
    lag = (k - max_lag + shift) / fs
    return float(lag), float(cc[k])

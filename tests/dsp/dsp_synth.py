"""Synthetic test signals for the dsp tests (imported by them as ``dsp_synth``): band-limited blasts at exact, fractional times in noise."""

from __future__ import annotations

import numpy as np
from scipy import signal

from sim.sources import muzzle_blast

FS_HI = 192_000


def blast_at(fs_hz: int, onset_s: list[float], duration_s: float, amp: float = 0.3, noise_rms: float = 1e-3,
             seed: int = 0, weapon: str = "9mm") -> np.ndarray:
    """Noise plus muzzle blasts whose onsets are at the given times (s), rendered at 192 kHz and decimated."""
    rng = np.random.default_rng(seed)
    hi = np.zeros(int(duration_s * FS_HI) + 1)
    b = muzzle_blast(FS_HI, weapon)
    b = amp * b / np.abs(b).max()
    for t in onset_s:
        i = int(round(t * FS_HI))
        n = min(b.size, hi.size - i)
        hi[i : i + n] += b[:n]
    up, down = fs_hz // 1000, FS_HI // 1000
    g = np.gcd(up, down)
    x = signal.resample_poly(hi, up // g, down // g)[: int(duration_s * fs_hz)]
    return (x + noise_rms * rng.standard_normal(x.size)).astype(np.float32)

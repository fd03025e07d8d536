"""Calibrate the edge picker's foot extrapolation and its model error on simulator TRAINING seeds.

    python training/calibrate_onset.py

Fits ``truth = t20 - GAIN * (t50 - t20) - SAMPLES - FOOT_S * fs`` (crossings in samples; a part of the
offset is a time, the rest a number of samples) over single shots of every weapon at
30-400 m, at 8-96 kHz and SNR 15-30 dB (training/simdata.onset_cases with TRAIN_SEEDS), then the sigma model's terms that puts 68% of the errors within the pick's 1-sigma.  Prints the constants for dsp/onset.py;
the benchmark (benchmarks/bench_onset.py) scores them on EVAL_SEEDS.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import simdata  # noqa: E402

from dsp import DetectorConfig  # noqa: E402
from dsp import onset as O  # noqa: E402
from dsp.trigger import TriggerStream, design_trigger  # noqa: E402

RATES = (8000, 12000, 16000, 24000, 48000, 96000)
SNRS = (30.0, 20.0, 15.0)


def edges(seeds=simdata.TRAIN_SEEDS[:2]):
    """Rows (fs, t20, t50, truth, noise / slope in s, snr) for the trigger nearest each true onset."""
    rows = []
    for fs in RATES:
        cases = [c for s in seeds for c in simdata.onset_cases(s, fs)]
        for snr in SNRS:
            for c in cases:
                x, _ = simdata.noisy(c, snr, seeds[0])
                y, trig, _ = TriggerStream(design_trigger(fs, DetectorConfig())).run(x)
                if trig.size == 0 or np.min(np.abs(trig - c.truth_sample)) > 3e-3 * fs:
                    continue
                t = int(trig[np.argmin(np.abs(trig - c.truth_sample))])
                p, amp, t_lo, t_hi, step = O.edge_crossings(y, t, fs)
                rise = max(t_hi - t_lo, 1e-3)
                noise = O._noise_rms(y, int(t_lo), fs)
                rows.append((fs, t_lo, t_hi, c.truth_sample, noise / ((O.EDGE_HI - O.EDGE_LO) * amp / rise * fs), snr))
    return np.array(rows)


def main() -> int:
    r = edges()
    fs, t_lo, t_hi, truth, jit, snr = r.T
    rise = t_hi - t_lo
    # robust least squares: truth - t_lo = -GAIN * rise - SAMPLES - FOOT_S * fs, refit without the worst 10%
    a = np.column_stack([-rise, -np.ones_like(rise), -fs])
    b = truth - t_lo
    keep = snr >= 20.0  # the edge's shape from clean shots; the noise then sets sigma
    for _ in range(3):
        coef, *_ = np.linalg.lstsq(a[keep], b[keep], rcond=None)
        res = b - a @ coef
        keep = (snr >= 20.0) & (np.abs(res) <= np.percentile(np.abs(res[snr >= 20.0]), 90))
    gain, samples, foot_s = coef
    err_s = (t_lo - gain * rise - samples - foot_s * fs - truth) / fs
    jitter = np.hypot(1.0 + gain, gain) * jit  # before the scale fitted below
    # sigma = sqrt((k * jitter)^2 + (m / fs)^2 + m_s^2): choose k, m and m_s so that, at every sample rate and SNR,
    # 68% of errors fall within 1 sigma and 95% within 2 sigma
    best = (np.inf,)
    groups = [(fs == f) & (snr == q) for f in RATES for q in SNRS]
    for k in np.linspace(0.2, 2.0, 19):
        for m in np.linspace(0.0, 1.0, 21):
            for m_s in np.linspace(0.0, 40e-6, 21):
                sig = np.sqrt((k * jitter) ** 2 + (m / fs) ** 2 + m_s**2)
                inside1, inside2 = np.abs(err_s) <= sig, np.abs(err_s) <= 2 * sig
                loss = sum((np.mean(inside1[g]) - 0.68) ** 2 + (np.mean(inside2[g]) - 0.95) ** 2
                           for g in groups)
                if loss < best[0]:
                    best = (loss, k, m, m_s, np.mean(inside1), np.mean(inside2))
    _, jitter_scale, model_samples, model_s, c1, c2 = best
    print(f"sigma coverage on training seeds: {c1:.0%} within 1 sigma, {c2:.0%} within 2 sigma")
    print(f"{r.shape[0]} shots (training seeds); median |err| {np.median(np.abs(err_s)) * 1e3:.4f} ms")
    for f in RATES:
        sel = fs == f
        print(f"  {f / 1000:.0f} kHz: median err {np.median(err_s[sel]) * 1e3:+.4f} ms, "
              f"median |err| {np.median(np.abs(err_s[sel])) * 1e3:.4f} ms")
    print(f"EDGE_FOOT_GAIN = {gain:.3f}\nEDGE_FOOT_SAMPLES = {samples:.3f}\nEDGE_FOOT_S = {foot_s:.4e}\nEDGE_MODEL_SAMPLES = {model_samples:.3f}\nEDGE_JITTER_SCALE = {jitter_scale:.3f}\n"
          f"EDGE_MODEL_S = {model_s:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Calibrate the onset pickers' foot models and their sigma on simulator TRAINING seeds.

    python training/calibrate_onset.py

Cases: single shots of every weapon at 30-400 m (training/simdata.onset_cases with TRAIN_SEEDS[:4]), at 8-96 kHz,
in pink ambience at SNR 10-40 dB, each with its own noise.  The trigger nearest each true onset is taken from a
more sensitive trigger than the default (6 dB on, 4 dB jump) so that faint shots are represented; the pickers
do not depend on how the trigger was set.

Fits, each on the rows where :func:`dsp.onset.pick_edge` uses that method (peak SNR at or above / below
``EDGE_LOW_SNR_DB``):

- edge: ``truth = t20 - GAIN * (t50 - t20) - SAMPLES - FOOT_S * fs`` (crossings in samples; part of the offset is
  a time, the rise air absorption gives, part a number of samples, the converter's band-limiting);
- smoothed: ``truth = t50_smoothed - FOOT_S * fs - SAMPLES``;

then each method's sigma model, ``sqrt((k * jitter)^2 + model(fs)^2)`` (jitter = noise over the edge's slope, the
edge's sharpness; for the smoothed picker a power law of it; the model error one value per rate), choosing k, m, m_s so that in every
(sample rate, SNR) group about 68% of the errors fall within 1 sigma and 95% within 2 sigma.  Prints the constants
for dsp/onset.py and the coverage per group; benchmarks/bench_onset.py scores them on EVAL_SEEDS.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import simdata  # noqa: E402

from dsp import DetectorConfig  # noqa: E402
from dsp import onset as O  # noqa: E402
from dsp.trigger import TriggerStream, design_trigger  # noqa: E402

RATES = O.MODEL_RATES_HZ
SNRS = (40.0, 30.0, 20.0, 15.0, 12.0, 10.0)
#: A trigger more sensitive than the default, so that the faint shots the smoothed picker handles are represented.
SENSITIVE = DetectorConfig(snr_on_db=6.0, jump_db=4.0)

# columns of the rows
FS, SNR, TRUTH, SMOOTH, T_LO, T_HI, JIT_E, T50_S, JIT_S = range(9)


def rows(seeds=simdata.TRAIN_SEEDS[:4]) -> np.ndarray:
    """One row per shot found: the quantities both pickers use (columns named above); jitters in seconds."""
    out = []
    for fs in RATES:
        cases = [c for s in seeds for c in simdata.onset_cases(s, fs)]
        for snr in SNRS:
            for c in cases:
                x, _ = simdata.noisy(c, snr, seeds[0])
                y, trig, _ = TriggerStream(design_trigger(fs, SENSITIVE)).run(x)
                if trig.size == 0 or np.min(np.abs(trig - c.truth_sample)) > 3e-3 * fs:
                    continue
                t = int(trig[np.argmin(np.abs(trig - c.truth_sample))])
                p, amp, t_lo, t_hi, step = O.edge_crossings(y, t, fs)
                rise = max(t_hi - t_lo, 1e-3)
                foot = t_lo - O.EDGE_FOOT_GAIN * rise - O.EDGE_FOOT_SAMPLES - O.EDGE_FOOT_S * fs
                noise = O._noise_rms(y, int(max(foot, 0)), fs)
                smooth = amp < 10.0 ** (O.EDGE_LOW_SNR_DB / 20.0) * noise
                jit_e = noise / ((O.EDGE_HI - O.EDGE_LO) * amp / rise * fs)
                _, _, t50, step_s, noise_z, _ = O.smoothed_crossing(y, t, fs)
                jit_s = noise_z / (step_s * fs) if step_s > 0 else 1e-3
                out.append((fs, snr, c.truth_sample, smooth, t_lo, t_hi, jit_e, t50, jit_s))
    return np.array(out, dtype=np.float64)


def robust_lstsq(a: np.ndarray, b: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Least squares refitted three times without the worst 10% of ``keep``'s residuals."""
    sel = keep.copy()
    for _ in range(3):
        coef, *_ = np.linalg.lstsq(a[sel], b[sel], rcond=None)
        res = np.abs(b - a @ coef)
        sel = keep & (res <= np.percentile(res[keep], 90))
    return coef


def fit_sigma(err_s, jitter_s, fs, snr, sel, rise_s=None, powers=(1.0,)):
    """Sigma model ``sqrt((k J0 (jitter / J0)^p)^2 + (g rise)^2 + model(fs)^2)`` (J0 = ``JITTER_REF_S``) that
    best covers 68% / 95% in every (rate, SNR) group of ``sel``: k and g shared, the model error one value per rate of :data:`RATES` (the
    picker's shape error depends on how the converter's band meets the blast's spectrum, not simply on 1/fs).

    Returns (k, p, g, model_s per rate, loss); g = 0 when ``rise_s`` is None.  A power p > 1 lets sigma grow
    faster than the noise jitter at low SNR, where picks on the wrong peak make the errors' tails.
    """
    err = np.abs(err_s)
    rise2 = np.zeros_like(err) if rise_s is None else rise_s**2
    models = np.linspace(0.0, 80e-6, 41)
    best = (np.inf, 1.0, 1.0, 0.0, None)
    for k, pw, gr in itertools.product(np.geomspace(0.2, 20.0, 31), powers,
                                       np.linspace(0.0, 1.0, 11) if rise_s is not None else (0.0,)):
        base2 = (k * O.JITTER_REF_S * (jitter_s / O.JITTER_REF_S) ** pw) ** 2 + gr * gr * rise2
        total, per_rate = 0.0, []
        for f in RATES:
            groups = [sel & (fs == f) & (snr == q) for q in SNRS]
            groups = [g for g in groups if g.sum() >= 8]
            losses = []
            for m in models:
                sig = np.sqrt(base2 + m * m)
                losses.append(sum((np.mean(err[g] <= sig[g]) - 0.68) ** 2
                                  + (np.mean(err[g] <= 2 * sig[g]) - 0.95) ** 2 for g in groups))
            per_rate.append(float(models[int(np.argmin(losses))]))
            total += min(losses)
        if total < best[0]:
            best = (total, k, pw, gr, tuple(per_rate))
    return best[1], best[2], best[3], best[4], best[0]


def model_at(fs, per_rate):
    """Per-rate model error interpolated in log(fs) (as :func:`dsp.onset.model_error_s` does)."""
    return np.interp(np.log(fs), np.log(RATES), per_rate)


def main() -> int:
    r = rows()
    fs, snr, truth, smooth = r[:, FS], r[:, SNR], r[:, TRUTH], r[:, SMOOTH] > 0
    rise = r[:, T_HI] - r[:, T_LO]
    # edge foot: the edge's shape from the rows the edge picker handles
    a = np.column_stack([-rise, -np.ones_like(rise), -fs])
    gain, samples, foot_s = robust_lstsq(a, truth - r[:, T_LO], ~smooth)
    err_e = (r[:, T_LO] - gain * rise - samples - foot_s * fs - truth) / fs
    # smoothed foot: a time and a number of samples below the smoothed 50% crossing
    a = np.column_stack([-fs, -np.ones_like(fs)])
    s_foot_s, s_samples = robust_lstsq(a, truth - r[:, T50_S], smooth)
    err_s = (r[:, T50_S] - s_foot_s * fs - s_samples - truth) / fs
    jit_e = np.hypot(1.0 + gain, gain) * r[:, JIT_E]
    k_e, _, _, mod_e, _ = fit_sigma(err_e, jit_e, fs, snr, ~smooth)
    k_s, p_s, _, mod_s, _ = fit_sigma(err_s, r[:, JIT_S], fs, snr, smooth, powers=(1.0, 1.5, 2.0, 2.5, 3.0))
    err = np.where(smooth, err_s, err_e)
    jit_s = O.JITTER_REF_S * (r[:, JIT_S] / O.JITTER_REF_S) ** p_s
    sig = np.where(smooth, np.sqrt((k_s * jit_s) ** 2 + model_at(fs, mod_s) ** 2),
                   np.sqrt((k_e * jit_e) ** 2 + model_at(fs, mod_e) ** 2))
    print(f"{r.shape[0]} shots found (training seeds), {int(smooth.sum())} picked smoothed")
    print(f"{'fs kHz':>7}{'SNR dB':>8}{'n':>5}{'smoothed':>10}{'median |err| ms':>17}{'in 1 sigma':>12}{'in 2 sigma':>12}")
    for f in RATES:
        for q in SNRS:
            g = (fs == f) & (snr == q)
            if g.any():
                print(f"{f / 1000:>7.0f}{q:>8.0f}{int(g.sum()):>5}{np.mean(smooth[g]):>10.0%}"
                      f"{np.median(np.abs(err[g])) * 1e3:>17.3f}{np.mean(np.abs(err[g]) <= sig[g]):>12.0%}"
                      f"{np.mean(np.abs(err[g]) <= 2 * sig[g]):>12.0%}")
    print("constants for dsp/onset.py:")
    print(f"EDGE_FOOT_GAIN = {gain:.3f}\nEDGE_FOOT_SAMPLES = {samples:.3f}\nEDGE_FOOT_S = {foot_s:.4e}")
    print(f"EDGE_JITTER_SCALE = {k_e:.3f}\n"
          f"EDGE_MODEL_S = {tuple(round(v * 1e6, 1) for v in mod_e)}  # us, at MODEL_RATES_HZ")
    print(f"SMOOTH_FOOT_S = {s_foot_s:.4e}\nSMOOTH_FOOT_SAMPLES = {s_samples:.3f}")
    print(f"SMOOTH_JITTER_SCALE = {k_s:.3f}\nSMOOTH_JITTER_POWER = {p_s:.2f}\nSMOOTH_MODEL_S = {tuple(round(v * 1e6, 1) for v in mod_s)}  # us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

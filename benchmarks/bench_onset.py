"""Onset accuracy: our picks against the true direct-path arrival of simulated shots, by SNR and sample rate.

Shots of every weapon at 30-400 m from one sensor (echoes and ground reflection included, no ambience) are
rendered by the simulator for evaluation seeds never used in calibration (training/simdata.EVAL_SEEDS); pink
ambience is then added at a chosen SNR = peak of the high-passed shot / RMS of the high-passed ambience.  For each
shot, the pick nearest to the truth (within 5 ms) is scored; a shot with no pick there is a miss.  Columns: median
and p90 |error|, the share of errors within the pick's own 1-sigma (calibrated if near 68%), and recall.

    python benchmarks/bench_onset.py [--picker edge|aic] [--seeds 2] [--bound]

``--bound`` adds what any detector could do at each SNR: the share of shots that a matched filter *knowing each
shot's exact waveform* (after whitening the ambience with an 8th-order LPC filter fitted on it) lifts above the
largest value its output reaches on one minute of the same ambience alone (one false alarm per minute).  A
practical detector, which does not know the waveform, can only do worse.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "training"))
import simdata  # noqa: E402

import dsp  # noqa: E402

SNRS = (40.0, 30.0, 20.0, 15.0, 10.0)
RATES = (12000, 16000, 48000)


def score(cases, snr_db: float, config, seed: int):
    """(errors s, sigmas s, misses) of the picks nearest to the truth."""
    errs, sigmas, miss = [], [], 0
    for c in cases:
        x, _ = simdata.noisy(c, snr_db, seed)
        picks = dsp.detect(x, c.fs_hz, config)
        d = [p.onset_sample - c.truth_sample for p in picks]
        if not d or min(abs(v) for v in d) > 5e-3 * c.fs_hz:
            miss += 1
            continue
        k = int(np.argmin(np.abs(d)))
        errs.append(d[k] / c.fs_hz)
        sigmas.append(picks[k].sigma_s)
    return np.array(errs), np.array(sigmas), miss


def ideal_recall(cases, snr_db: float, seed: int) -> float:
    """Share of ``cases`` an ideal whitened matched filter detects at one false alarm per minute (see --bound)."""
    from scipy import signal as sps
    from scipy.linalg import solve_toeplitz

    from dsp.trigger import design_trigger
    from sim.noise import shaped_noise

    fs = cases[0].fs_hz
    sos = design_trigger(fs, dsp.DetectorConfig()).sos
    m = 2 * (fs // 10)  # each shot's own 0.2 s of ambience, after the minute that sets the threshold
    noise = sps.sosfilt(sos, shaped_noise(60 * fs + m * len(cases), fs, np.random.default_rng([seed, 7]), -3.0))
    noise /= noise[fs:].std()
    r = np.correlate(noise[fs : 2 * fs], noise[fs : 2 * fs], "full")[fs - 1 : fs + 9]
    lpc = np.concatenate([[1.0], -solve_toeplitz(r[:8], r[1:9])])
    white = sps.lfilter(lpc, [1.0], noise)
    white_noise = white[: 60 * fs]
    hits = 0
    for k, c in enumerate(cases):
        y = sps.sosfilt(sos, c.clean)
        y *= 10 ** (snr_db / 20) / np.abs(y).max()  # peak over the noise RMS (1) = snr_db
        i = int(c.truth_sample)
        w = sps.lfilter(lpc, [1.0], y)
        tmpl = w[i : i + int(3e-3 * fs)][::-1]
        thr = np.abs(sps.oaconvolve(white_noise, tmpl, mode="valid")).max()
        part = w[i - fs // 10 : i - fs // 10 + m] + white[60 * fs + k * m : 60 * fs + (k + 1) * m]
        hits += np.abs(sps.oaconvolve(part, tmpl, mode="valid")).max() > thr
    return hits / len(cases)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--picker", default="edge")
    ap.add_argument("--seeds", type=int, default=2, help="how many evaluation seeds (24 shots each)")
    ap.add_argument("--bound", action="store_true", help="add the ideal matched filter's recall (see above)")
    args = ap.parse_args(argv)
    config = dsp.DetectorConfig(picker=args.picker, classifier="none")
    seeds = simdata.EVAL_SEEDS[: args.seeds]
    print(f"onset error vs true direct-path arrival, picker {args.picker!r}, eval seeds {list(seeds)}")
    bound = f"{'ideal MF':>10}" if args.bound else ""
    print(f"{'fs kHz':>7}{'SNR dB':>8}{'shots':>7}{'median ms':>11}{'p90 ms':>9}{'bias ms':>9}{'in 1 sigma':>12}{'recall':>8}"
          + bound)
    for fs in RATES:
        cases = [c for s in seeds for c in simdata.onset_cases(s, fs)]
        for snr in SNRS:
            e, sg, miss = score(cases, snr, config, seeds[0])
            n = len(cases)
            extra = f"{ideal_recall(cases, snr, seeds[0]):>10.0%}" if args.bound else ""
            if e.size:
                print(f"{fs / 1000:>7.0f}{snr:>8.0f}{n:>7}{np.median(np.abs(e)) * 1e3:>11.3f}"
                      f"{np.percentile(np.abs(e), 90) * 1e3:>9.3f}{np.median(e) * 1e3:>9.3f}"
                      f"{np.mean(np.abs(e) <= sg):>12.0%}{(n - miss) / n:>8.0%}" + extra)
    print("goals: median |error| <= 0.05 ms at SNR >= 20 dB, <= 0.3 ms at 10 dB; 'in 1 sigma' near 68%")
    print("median, p90, bias and 'in 1 sigma' are over the shots found (recall)")
    if args.bound:
        print("ideal MF: recall of a matched filter that knows each shot's waveform, at 1 false alarm/min of ambience")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

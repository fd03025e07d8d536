"""Onset accuracy: our picks against the true direct-path arrival of simulated shots, by SNR and sample rate.

Shots of every weapon at 30-400 m from one sensor (echoes and ground reflection included, no ambience) are
rendered by the simulator for evaluation seeds never used in calibration (training/simdata.EVAL_SEEDS); pink
ambience is then added at a chosen SNR = peak of the high-passed shot / RMS of the high-passed ambience.  For each
shot, the pick nearest to the truth (within 5 ms) is scored; a shot with no pick there is a miss.  Columns: median
and p90 |error|, the share of errors within the pick's own 1-sigma (calibrated if near 68%), and recall.

    python benchmarks/bench_onset.py [--picker edge|aic] [--seeds 2]
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--picker", default="edge")
    ap.add_argument("--seeds", type=int, default=2, help="how many evaluation seeds (24 shots each)")
    args = ap.parse_args(argv)
    config = dsp.DetectorConfig(picker=args.picker, classifier="none")
    seeds = simdata.EVAL_SEEDS[: args.seeds]
    print(f"onset error vs true direct-path arrival, picker {args.picker!r}, eval seeds {list(seeds)}")
    print(f"{'fs kHz':>7}{'SNR dB':>8}{'shots':>7}{'median ms':>11}{'p90 ms':>9}{'bias ms':>9}{'in 1 sigma':>12}{'recall':>8}")
    for fs in RATES:
        cases = [c for s in seeds for c in simdata.onset_cases(s, fs)]
        for snr in SNRS:
            e, sg, miss = score(cases, snr, config, seeds[0])
            n = len(cases)
            if e.size:
                print(f"{fs / 1000:>7.0f}{snr:>8.0f}{n:>7}{np.median(np.abs(e)) * 1e3:>11.3f}"
                      f"{np.percentile(np.abs(e), 90) * 1e3:>9.3f}{np.median(e) * 1e3:>9.3f}"
                      f"{np.mean(np.abs(e) <= sg):>12.0%}{(n - miss) / n:>8.0%}")
    print("goals: median |error| <= 0.05 ms at SNR >= 20 dB, <= 0.3 ms at 10 dB; 'in 1 sigma' near 68%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Gunshot classification on simulator cases from seeds never used in training (training/simdata.EVAL_SEEDS).

Each case has a few sensors over a few hundred metres of city and shots (every weapon; single, semi, automatic)
and confusers of every kind.  Scored per sensor on the pick nearest each event's first arrival (the detection
a locator would use): shots are positives, confusers negatives; picks on plain ambience are reported
separately.  The shipped model's threshold is 0.5; the ROC point at 2% false alarms is reported for reference.
Also: how the detector labels N-waves (``kind``).

    python benchmarks/bench_classifier.py [--seeds 20] [--cache /tmp/salvo-sim] [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "training"))
import simdata  # noqa: E402


def case(seed_cache):
    seed, cache = seed_cache
    return [(lp.category, lp.kind, lp.path, lp.first, lp.pick.p_gunshot, lp.pick.kind)
            for lp in simdata.labelled_picks(simdata.simulate_case(seed, cache=cache))]


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    allv = np.concatenate([pos, neg])
    ranks = np.argsort(np.argsort(allv, kind="mergesort"), kind="mergesort") + 1.0
    # average ranks of ties
    for v in np.unique(allv):
        m = allv == v
        if m.sum() > 1:
            ranks[m] = ranks[m].mean()
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=len(simdata.EVAL_SEEDS))
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    seeds = simdata.EVAL_SEEDS[: args.seeds]
    assert not set(seeds) & set(simdata.TRAIN_SEEDS)
    rows = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for r in pool.map(case, [(s, args.cache) for s in seeds]):
            rows += r
    first = [r for r in rows if r[3]]
    pos = np.array([r[4] for r in first if r[0] == "shot"])
    neg = np.array([r[4] for r in first if r[0] == "confuser"])
    amb = np.array([r[4] for r in rows if r[0] == "none"])
    print(f"classification on {len(seeds)} held-out simulator cases (seeds {seeds[0]}-{seeds[-1]})")
    print(f"  shots (first pick per sensor): {pos.size}, recall at p >= 0.5: {np.mean(pos >= 0.5):.1%}")
    print(f"  confusers (first pick per sensor): {neg.size}, false alarms at p >= 0.5: {np.mean(neg >= 0.5):.1%}")
    print(f"  ROC AUC shots vs confusers: {roc_auc(pos, neg):.4f}")
    thr = np.quantile(neg, 0.98) if neg.size else 0.5
    print(f"  ROC point at 2% confuser false alarms (threshold {thr:.3f}): recall {np.mean(pos > thr):.1%}")
    print(f"  picks on plain ambience: {amb.size}, called gunfire at p >= 0.5: "
          f"{np.mean(amb >= 0.5) if amb.size else float('nan'):.1%}")
    print()
    print(f"{'true class':<22}{'picks':>7}{'called gunfire':>16}")
    by = defaultdict(list)
    for r in first:
        by[(r[0], r[1])].append(r[4])
    for (cat, kind), p in sorted(by.items()):
        print(f"{cat + ' ' + kind:<22}{len(p):>7}{np.mean(np.array(p) >= 0.5):>16.1%}")
    print()
    print("detector kind labels by true path (all picks of shots):")
    lab = defaultdict(Counter)
    for r in rows:
        if r[0] == "shot":
            lab["first arrival" if r[3] else r[2]][r[5]] += 1
    print(f"{'true path':<16}" + "".join(f"{k:>11}" for k in ("blast", "nwave", "secondary", "impulse")))
    for path, c in sorted(lab.items()):
        print(f"{path:<16}" + "".join(f"{c[k]:>11}" for k in ("blast", "nwave", "secondary", "impulse")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

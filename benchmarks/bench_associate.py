"""Association on the simulator's ``gunfight`` preset, end to end from audio, and its speed.

For each seed (tuning used seeds 101-106 and 110-121 and the hand-made streams of
tests/locator/test_associate.py; the held-out figure is seeds 107-109): simulate the preset,
run ``salvo analyze``'s pipeline (node detector -> association -> solving -> incidents) and
score against the truth with ``sim.score``.  Then time the association of a 600-detection window (the densest stretch, in
the 30-round burst) with the default search, against two baselines computed in the same run:
the search with every gated partner and no repeats (the session-1 search, front first) and the kernel's
plain-numpy twin for the hypothesis search.

Acceptance (issue 5): shot count exact >= 95% of incidents, shooter count exact >= 90%, no
fireworks incident reported as gunfire, median error <= 2 m, 600-detection window <= 100 ms.

Usage:  python benchmarks/bench_associate.py [--seeds 101,102,103] [--work DIR]
        (a last line sums the seeds: rounds found, extra shots, incidents with exact counts)
The simulated audio and the detections are kept in --work and made again when the simulator's or
the detector's code changes (``benchmarks/_cache.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from locator._associate_kernels import best_hypotheses_numpy  # noqa: E402
from locator.analyze import AnalyzeConfig, locate_detections, site_configs  # noqa: E402
from locator.associate import SensorTable, _Search, _usable, associate  # noqa: E402
from locator.recording_set import load_sensors  # noqa: E402
from locator.results_io import results_dict  # noqa: E402

from _recordings import detections, simulated  # noqa: E402


def densest_window(dets, n=600):
    t = np.array([d.t_ns for d in dets])
    k = int(np.argmin(t[n - 1 :] - t[: len(t) - n + 1]))
    return dets[k : k + n], (t[k + n - 1] - t[k]) * 1e-9


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="107,108,109")
    ap.add_argument("--work", default="/tmp/salvo-bench-associate")
    args = ap.parse_args()
    from sim.score import score

    rows = []
    timing_dets = None
    for seed in (int(s) for s in args.seeds.split(",")):
        root = simulated("gunfight", seed, Path(args.work) / f"gunfight-{seed}")
        sset = load_sensors(root / "sensors.csv")
        t = time.perf_counter()
        an = locate_detections(detections(root)[0], sset)
        wall = time.perf_counter() - t
        truth = json.loads((root / "truth.json").read_text())
        rep = score(truth, results_dict(an.incidents, sset.frame, sset.frame_name))
        # confuser sounds of the fireworks kinds (firecracker, firework_burst, firework_launch)
        # that were located and reported as gunfire
        fireworks_as_gunfire = sum(v for k, v in rep.false_alerts_by_kind.items() if k.startswith("fire"))
        # the onset sigma the detector gave the detections the shots took (before any clock sigma):
        # what ``salvo analyze --max-sigma-ms 0.5`` would leave out of them
        raw = {(d.sensor_id, d.t_ns): d.sigma_s for d in an.detections}
        in_shots = [raw[(d.sensor_id, d.t_ns)] for q in an.shots for d in q.detections]
        loose = sum(sg > 0.0005 for sg in in_shots)
        rows.append((seed, rep, fireworks_as_gunfire, wall, len(an.detections), loose, len(in_shots)))
        if timing_dets is None:
            timing_dets, sset_t = an.detections, sset

    print(f"\ngunfight preset, end to end from audio, seeds {args.seeds} (tuning used 101-106, 110-121)")
    head = (f"{'seed':>5s} {'dets':>5s} {'found':>7s} {'extra':>5s} {'median':>6s} {'p90':>6s} {'<=5m':>5s} "
            f"{'shots ok':>8s} {'shooters ok':>11s} {'fireworks->gun':>14s} {'false inc':>9s} {'wall s':>6s}")
    print(head)
    print("-" * len(head))
    for seed, r, fw, wall, nd, _, _ in rows:
        med = "-" if r.err_median_m is None else f"{r.err_median_m:6.2f}"
        p90 = "-" if r.err_p90_m is None else f"{r.err_p90_m:6.1f}"
        w5 = "-" if r.within_5m is None else f"{100 * r.within_5m:4.0f}%"
        sc = "-" if r.shot_count_exact is None else f"{100 * r.shot_count_exact:7.0f}%"
        sh = "-" if r.shooter_count_exact is None else f"{100 * r.shooter_count_exact:10.0f}%"
        print(f"{seed:5d} {nd:5d} {r.detected:3d}/{r.true_shots:<3d} {r.extra_shots:5d} {med:>6s} {p90:>6s} {w5:>5s} "
              f"{sc:>8s} {sh:>11s} {fw:14d} {r.false_alert_incidents:9d} {wall:6.1f}")
        for inc in r.incidents:
            print(f"      {inc.name:30s} shots {inc.reported_shots:3d} / {inc.true_shots:<3d} "
                  f"shooters {inc.reported_shooters:2d} / {inc.true_shooters}")
    incs = [i for _, r, *_ in rows for i in r.incidents]
    print(f"all seeds: {sum(r.detected for _, r, *_ in rows)} / {sum(r.true_shots for _, r, *_ in rows)} found, "
          f"{sum(r.extra_shots for _, r, *_ in rows)} extra; exact shot count in "
          f"{sum(i.reported_shots == i.true_shots for i in incs)} / {len(incs)} incidents, shooter count in "
          f"{sum(i.reported_shooters == i.true_shooters for i in incs)} / {len(incs)}; "
          f"{sum(fw for _, _, fw, *_ in rows)} fireworks sounds called gunfire, "
          f"{sum(r.false_alert_incidents for _, r, *_ in rows)} gunfire incidents with no true shot")
    loose, n_in = sum(row[5] for row in rows), sum(row[6] for row in rows)
    print(f"detections in located shots timed worse than 0.5 ms (what --max-sigma-ms 0.5 would leave out): "
          f"{loose} / {n_in} ({100 * loose / max(n_in, 1):.1f}%)")

    # speed: one 600-detection window, one core
    window, span = densest_window(list(timing_dets))
    cfg, _ = site_configs(sset_t, AnalyzeConfig())
    table = SensorTable.from_any(sset_t.positions)

    def best_of(f, n=15):
        # process CPU time: this machine is a VM whose wall time swings 1.5x with its neighbours
        # (steal); the wall-clock best is printed beside it
        cpu, wall = [], []
        for _ in range(n):
            t, c = time.perf_counter(), time.process_time()
            f()
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        return min(cpu), min(wall)

    associate(window[:50], table, cfg)  # compile / load the cached kernels
    t_best = best_of(lambda: associate(window, table, cfg))
    t_front = best_of(lambda: associate(window, table, dataclasses.replace(cfg, depth=0, repeat_tolerance_s=0.0)))
    s = _Search(_usable(window, table, cfg), table, cfg)
    anchors = np.arange(len(s.dets))
    t_kernel = best_of(lambda: s.score(anchors))
    sub = anchors[:60]
    t_twin = best_of(lambda: best_hypotheses_numpy(
        s.t, s.sens, s.wgt, float(s.wgt.max()), s.for_new(), s.strong, cfg.depth, table.pos_m, s.nbr, s.dist, sub, s.z0, cfg.c_mps,
        float(s.wind[0]), float(s.wind[1]), cfg.tolerance_s, cfg.gate_margin_s, s.max_range, cfg.min_sensors), 1)
    t_twin_all = (t_twin[0] * len(anchors) / len(sub), t_twin[1] * len(anchors) / len(sub))
    print(f"\n600-detection window ({span:.2f} s of the 30-round burst), one core, best of 15 (twin: 1)")
    print(f"{'what':44s} {'CPU ms':>9s} {'wall ms':>9s} {'x kernel':>9s}")
    for name, v in (("associate(), default", t_best), ("associate(), every partner, no repeats", t_front),
                    ("hypothesis kernel, all anchors (numba)", t_kernel),
                    ("numpy twin of the kernel (extrapolated)", t_twin_all)):
        print(f"{name:44s} {1e3 * v[0]:9.1f} {1e3 * v[1]:9.1f} {v[0] / t_kernel[0]:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

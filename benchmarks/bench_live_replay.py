"""The live locator against ``salvo analyze``, on the same detections.

For each preset and seed: simulate the recording set and run the node's detector over it
(both kept between runs, ``_recordings``), then locate its detections twice and score both
against the truth (``sim.score``):

offline
    ``salvo analyze``'s association over the whole set (``locate_detections``).
live
    A ``LocatorService`` in this process (no sockets; its searches in this thread), fed as the
    network would: each detection reaches it ``lag`` after it was heard -- per node a lag
    drawn from 0.05-0.5 s, per detection up to 50 ms more, so that nodes' reports interleave
    out of time order -- gathered in batches of 30 ms of arrivals (``batch_s``); the finaliser
    ticks every 100 ms (``step_s``) with its cut at the clock less the transport allowance
    (1 s, as in ``salvo demo``; the nodes' heartbeats are taken to run ahead of it).  Each
    seed is replayed in ``--orders`` arrival orders (the lags' seeds 0, 1, ...).

The live path sees each shot first through a search of the detections that have arrived
(a preliminary shot), then through a search of its neighbourhood once every sensor in range
could have reported it (its final solution); a burst is cut into such searches.  The figure
is what that costs against the offline search, in rounds found, extra shots and exact counts.

small-city seed 1 (the demo's) was used while developing the live path's context and
found-beside rules (session 9); its other seeds and the gunfight's were not.

Usage:  python benchmarks/bench_live_replay.py [--sets "small-city:1,2,3;gunfight:107"] [--orders 2]
                                               [--work DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from locator.analyze import AnalyzeConfig, locate_detections, site_configs  # noqa: E402
from locator.recording_set import load_sensors  # noqa: E402
from locator.results_io import results_dict  # noqa: E402
from locator.service import LocatorService  # noqa: E402
from locator.service_config import config_from_dict, load_sensor_array  # noqa: E402
from locator.wire_server import Received  # noqa: E402
from salvo.demo import _results  # noqa: E402
from sim.score import score  # noqa: E402

from _recordings import detections, simulated  # noqa: E402

NS = 1_000_000_000
LAG_S = (0.05, 0.5)  # per node, s
JITTER_S = 0.05  # per detection, s
BATCH_S = 0.03  # gathering of arrivals into one association batch, s
STEP_S = 0.1  # finaliser tick, s
ALLOWANCE_S = 1.0  # transport allowance, s


def arrivals(dets, ids, seed: int) -> list[tuple[int, object]]:
    """(arrival ns, detection) in arrival order: per node lag plus per detection jitter; each
    detection numbered as its node would send it (``seq`` 1, 2, ... per node, in time order)."""
    seq: dict[str, int] = {}
    numbered = []
    for d in sorted(dets, key=lambda d: d.t_ns):
        seq[d.sensor_id] = seq.get(d.sensor_id, 0) + 1
        numbered.append(dataclasses.replace(d, seq=seq[d.sensor_id]))
    dets = numbered
    rng = np.random.default_rng(seed)
    lag = dict(zip(ids, rng.uniform(*LAG_S, len(ids))))
    jit = rng.uniform(0.0, JITTER_S, len(dets))
    out = [(d.t_ns + int((lag[d.sensor_id] + j) * NS), d) for d, j in zip(dets, jit)]
    out.sort(key=lambda a: a[0])
    return out


def live(root: Path, dets, order_seed: int, work: Path) -> tuple[dict, float]:
    """Results of the live locator fed ``dets`` in one arrival order, and the CPU seconds it took."""
    sensors = load_sensor_array(root / "sensors.csv")
    assoc, _ = site_configs(load_sensors(root / "sensors.csv"), AnalyzeConfig())
    site = json.loads((root / "site.json").read_text()) if (root / "site.json").exists() else {}
    values = dict(port=0, http_port=0, store=str(work / "salvo.db"), sensors=str(root / "sensors.csv"),
                  keys="", transport_allowance_s=ALLOWANCE_S, restart_grace_s=0.0, step_s=STEP_S, batch_s=BATCH_S,
                  association={"c_mps": assoc.c_mps, "source_z_m": assoc.source_z_m,
                               **({"wind_mps": list(assoc.wind_mps)} if assoc.wind_mps is not None else {})})
    if site.get("ground_alt_m") is not None:
        values["ground_z_m"] = float(site["ground_alt_m"]) - sensors.frame.alt0_m
    cfg = config_from_dict(values)
    now = [0]
    svc = LocatorService(cfg, sensors, {s: bytes(32) for s in sensors.ids}, clock=lambda: now[0])
    feed = arrivals(dets, sensors.ids, order_seed)
    t_cpu = time.process_time()
    step, batch = int(STEP_S * NS), int(BATCH_S * NS)
    tick = feed[0][0] + step
    i = 0
    while i < len(feed):
        while tick <= feed[i][0]:
            now[0] = tick
            svc.tick(tick)
            tick += step
        j = i
        while j < len(feed) and feed[j][0] < feed[i][0] + batch:
            j += 1
        now[0] = feed[j - 1][0]
        wall = time.time_ns()  # the service prunes what it keeps by the system clock
        svc._process_batch([Received(d, r, wall) for r, d in feed[i:j]])
        i = j
    end = tick + 60 * NS  # every shot final, every incident closed
    while tick <= end:
        now[0] = tick
        svc.tick(tick)
        tick += step
    cpu = time.process_time() - t_cpu
    svc.store.close()
    return _results(cfg.store, 0), cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="small-city:1,2,3,4,5,6;gunfight:107,108,109",
                    help="preset:seed,seed;preset:seed,... (default %(default)s)")
    ap.add_argument("--orders", type=int, default=2, help="arrival orders per seed (default %(default)s)")
    ap.add_argument("--work", default="/tmp/salvo-bench-live-replay")
    args = ap.parse_args()

    head = (f"{'preset':>10s} {'seed':>4s} {'path':>12s} {'found':>7s} {'extra':>5s} {'median':>6s} "
            f"{'shots ok':>8s} {'shooters ok':>11s} {'fw->gun':>7s} {'false inc':>9s} {'cpu s':>6s}")
    print(head)
    print("-" * len(head))
    sums: dict[str, list] = {}
    for part in args.sets.split(";"):
        preset, seeds = part.split(":")
        for seed in (int(s) for s in seeds.split(",")):
            root = simulated(preset, seed, Path(args.work) / f"{preset}-{seed}")
            dets, _ = detections(root)
            truth = json.loads((root / "truth.json").read_text())
            sset = load_sensors(root / "sensors.csv")
            t = time.process_time()
            an = locate_detections(dets, sset)
            runs = [("offline", results_dict(an.incidents, sset.frame, sset.frame_name), time.process_time() - t)]
            for k in range(args.orders):
                with tempfile.TemporaryDirectory(dir=args.work) as tmp:
                    runs.append((f"live order {k}", *live(root, dets, k, Path(tmp))))
            for path, results, cpu in runs:
                r = score(truth, results)
                fw = sum(v for kind, v in r.false_alerts_by_kind.items() if kind.startswith("fire"))
                incs = r.incidents
                row = (r.detected, r.true_shots, r.extra_shots, sum(i.reported_shots == i.true_shots for i in incs),
                       sum(i.reported_shooters == i.true_shooters for i in incs), len(incs), fw, r.false_alert_incidents)
                key = "offline" if path == "offline" else "live"
                sums.setdefault(key, []).append(row)
                med = "-" if r.err_median_m is None or math.isnan(r.err_median_m) else f"{r.err_median_m:6.2f}"
                print(f"{preset:>10s} {seed:4d} {path:>12s} {r.detected:3d}/{r.true_shots:<3d} {r.extra_shots:5d} {med:>6s} "
                      f"{row[3]:4d}/{row[5]:<3d} {row[4]:7d}/{row[5]:<3d} {fw:7d} {r.false_alert_incidents:9d} {cpu:6.1f}",
                      flush=True)
    for key, rows in sums.items():
        a = np.array(rows).sum(axis=0)
        print(f"{key:>8s} ({len(rows)} runs): {a[0]} / {a[1]} rounds found, {a[2]} extra; exact shot count in "
              f"{a[3]} / {a[5]} incidents, shooter count in {a[4]} / {a[5]}; {a[6]} fireworks sounds called gunfire, "
              f"{a[7]} gunfire incidents with no true shot")
    return 0


if __name__ == "__main__":
    sys.exit(main())

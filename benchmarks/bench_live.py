"""Live-system benchmark: alert latency, sustained ingest rate, CPU and memory of one locator.

A real ``salvo locator`` process on 127.0.0.1 is fed by simulated nodes (``SimNode``:
signed msgpack frames over TCP, one connection per node) from this process:

* **baseline** - 16 nodes, a small city, 20 incidents a minute;
* **city-1000** - 1,000 nodes on a 400 m grid (12 km x 12 km), every node sending a
  heartbeat every 2 s and a false impulse every 30 s (a door, a car), and a New Year's
  Eve burst of 100 incidents a minute (3 rounds each, heard by every node within 1.2 km).

Each detection is sent at the moment its sound reaches its node.  Figures:

* alert latency as the locator measures it (from the arrival of the last detection a
  solution used to the alert's publication), p50/p95/p99; and apart, the delay of the
  final solutions, which wait on purpose until every node in range has reported;
* shot to first alert, end to end as a subscriber sees it on the SSE feed (includes the
  sound's travel to the nodes);
* sustained frames/s accepted, frames not acknowledged at the end, incidents found;
* the locator's CPU (user+sys over the run, in cores) and peak memory (VmHWM), its
  association worker processes included (peaks summed);
* shots no preliminary search found and a final search did: how many, and their delay
  (reported apart, like the final solutions');
* where the latency goes, from the locator's /health: how long a batch of new detections
  waited for the association thread and how long its searches took (p50/p95/p99).

Ratios are against the baseline measured in the same run.

Run:  python benchmarks/bench_live.py [--seconds 60] [--nodes 1000] [--rate 100] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from locator.alerts import follow  # noqa: E402
from locator.service_loadgen import SimNode, grid_sensors, hear_shot, write_site  # noqa: E402
from sensor_node.protocol import Detection  # noqa: E402

NS = 1_000_000_000


def _proc_stats(pid: int) -> tuple[float, int]:
    """(user+sys CPU seconds, peak resident KiB) of a process and its child processes (the
    locator's association workers), from /proc; peaks are summed (an upper bound)."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu, hwm = 0.0, 0
    for p in [pid] + _children(pid):
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
            with open(f"/proc/{p}/status") as fh:
                hwm += next((int(line.split()[1]) for line in fh if line.startswith("VmHWM:")), 0)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return cpu, hwm


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ValueError):
            continue
    return out


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def run_case(name: str, n_nodes: int, spacing_m: float, seconds: float, incidents_per_min: float,
             false_every_s: float, seed: int, profile: Path | None = None, workers: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-live-{name}-"))
    ids, pos = grid_sensors(n_nodes, spacing_m, rng)
    keys = write_site(tmp, ids, pos, rng)
    (tmp / "locator.toml").write_text(
        '[locator]\nport = 0\nhttp_port = 0\nstore = "salvo.db"\nsensors = "sensors.csv"\nkeys = "keys.txt"\n'
        "restart_grace_s = 0.0\nprelim_radius_m = 1500.0\nheartbeat_timeout_s = 10.0\n"
        f"association_processes = {workers}\n"
        # The simulated nodes hear a shot within 1.2 km: the locator is told so, as a city would tell it.
        "[association]\nhear_range_m = 1200.0\n"
        "[incidents]\ngap_s = 5.0\n"
    )
    log = open(tmp / "locator.log", "w")
    loc = subprocess.Popen([sys.executable, "-m", "salvo.cli", "locator", "--config", str(tmp / "locator.toml"),
                            "--quiet", "--log-level", "WARNING"], stdout=subprocess.PIPE, stderr=log, text=True,
                           cwd=REPO)
    line = loc.stdout.readline()
    assert "ready" in line, (tmp / "locator.log").read_text()[-2000:]
    fields = dict(kv.split("=") for kv in line.split() if "=" in kv)
    ingest, http = int(fields["ingest"]), int(fields["http"])
    url = f"http://127.0.0.1:{http}"

    # The script of the run: when (wall ns) which node sends what.
    start = time.time_ns() + 3 * NS
    events: list[tuple[int, str, Detection]] = []
    truth = []
    extent = pos[:, :2].max(axis=0)
    n_inc = int(seconds * incidents_per_min / 60.0)
    for k in range(n_inc):
        t0 = start + int((k + rng.random()) * 60.0 / incidents_per_min * NS)
        src = np.array([*rng.uniform([0, 0], extent), 1.5])
        truth.append((t0, src))
        for r in range(3):
            for d in hear_shot(ids, pos, src, t0 + r * NS // 2, rng, range_m=1200.0):
                events.append((d.t_ns, d.sensor_id, d))
    for i, sid in enumerate(ids):
        for t in np.arange(rng.uniform(0, false_every_s), seconds, false_every_s):
            d = Detection(sid, start + int(t * NS), 1e-4, 0, 20.0, -20.0, 0.3, "impulse")
            events.append((d.t_ns, sid, d))
    events.sort(key=lambda e: e[0])
    alerts: list[tuple[int, dict]] = []
    stop = threading.Event()
    follower = threading.Thread(target=follow, args=(url,), daemon=True,
                                kwargs=dict(out=open(os.devnull, "w"), stop=stop,
                                            on_alert=lambda a: alerts.append((time.time_ns(), a))))
    follower.start()
    cpu0, _ = _proc_stats(loc.pid)
    spy = None
    if profile is not None:
        # py-spy samples every thread of the locator (cProfile would see only the loop thread).
        spy = subprocess.Popen(["py-spy", "record", "--pid", str(loc.pid), "--threads", "--idle", "--format", "raw",
                                "--rate", "200", "-o", str(profile / f"{name}.txt")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def drive() -> dict:
        nodes = {s: SimNode(s, keys[s], "127.0.0.1", ingest) for s in ids}
        for n in nodes.values():
            await n.connect()
        late = []

        async def heartbeats() -> None:
            k = 0
            while True:
                # Spread the fleet's heartbeats over each 2 s period.
                for n in list(nodes.values())[k % 20 :: 20]:
                    await n.send_heartbeat()
                k += 1
                await asyncio.sleep(0.1)

        beat = asyncio.create_task(heartbeats())
        t_begin = time.time_ns()
        for t, sid, det in events:
            wait = (t - time.time_ns()) / NS
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                late.append(-wait)
            await nodes[sid].send_detection(det)
        t_end = time.time_ns()
        await asyncio.sleep(3.0)  # acks, finals
        beat.cancel()
        unacked = sum(len(n.unacked) for n in nodes.values())
        rtt = np.concatenate([np.array(n.ack_rtt_ns) for n in nodes.values() if n.ack_rtt_ns] or [np.zeros(1)])
        for n in nodes.values():
            await n.close()
        return {"sent": len(events), "unacked": unacked, "send_s": (t_end - t_begin) / NS,
                "sender_late_p99_s": float(np.percentile(late, 99)) if late else 0.0,
                "ack_rtt_p99_s": float(np.percentile(rtt, 99)) / NS}

    result = asyncio.run(drive())
    time.sleep(2.0)
    health = _get(url + "/health")
    cpu1, hwm = _proc_stats(loc.pid)
    stop.set()
    if spy is not None:
        spy.send_signal(2)
        spy.wait(60)
    loc.terminate()
    try:
        loc.wait(30)
    except subprocess.TimeoutExpired:
        loc.kill()
    log.close()
    c = health["counters"]
    frames = c.get("detections", 0) + c.get("heartbeats", 0)
    duration = result["send_s"]
    # Shot to first alert: for each true incident, the first alert within 50 m and 1 s of it.
    firsts = []
    for t0, src in truth:
        for t_alert, a in alerts:
            shots = a["incident"]["shots"]
            if any(abs(s["x_m"] - src[0]) < 50 and abs(s["y_m"] - src[1]) < 50 for s in shots):
                firsts.append((t_alert - t0) / NS)
                break
    return {
        "case": name, "nodes": n_nodes, "incidents": n_inc, "found": len(firsts),
        "frames_per_s": frames / duration, "detections": c.get("detections", 0), "sent": result["sent"],
        "unacked": result["unacked"], "rejected": sum(v for k, v in c.items() if k.startswith("rejected_")),
        "lat": health["alert_latency_s"], "final": health.get("final_latency_s", {}),
        "found_lat": health.get("found_latency_s", {}), "found_late": c.get("shots_found_late", 0), "shot_to_alert_p50_s": float(np.median(firsts)) if firsts else float("nan"),
        "shot_to_alert_p95_s": float(np.percentile(firsts, 95)) if firsts else float("nan"),
        "cpu_cores": (cpu1 - cpu0) / duration, "peak_mib": hwm / 1024, "ack_rtt_p99_s": result["ack_rtt_p99_s"],
        "sender_late_p99_s": result["sender_late_p99_s"], "internal_errors": c.get("internal_errors", 0),
        "busy_s": health.get("association_busy_s", {}), "wait_s": health.get("association_wait_s", {}),
        "batch_s": health.get("association_batch_s", {}), "restarts": health.get("association_worker_restarts", 0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=100.0, help="incidents per minute in the big case")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--false-every", type=float, default=30.0,
                    help="seconds between false impulses at each node of the big case (default 30)")
    ap.add_argument("--workers", type=int, default=1,
                    help="the locator's association_processes (0: searches in its own thread; default 1)")
    ap.add_argument("--profile", type=Path, default=None,
                    help="folder for py-spy profiles of the locator (raw collapsed stacks, one file per case)")
    args = ap.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    base = run_case("baseline", 16, 350.0, args.seconds, 20.0, 30.0, args.seed, args.profile, args.workers)
    print("baseline:", base, flush=True)
    big = run_case(f"city-{args.nodes}", args.nodes, 400.0, args.seconds, args.rate, args.false_every, args.seed + 1,
                   args.profile, args.workers)
    print(f"city-{args.nodes}:", big, flush=True)
    rows = [base, big]
    print(f"\nbench_live: {args.seconds:.0f} s per case, one locator (association_processes = {args.workers}), loopback; "
          f"load average before: {' '.join(f'{x:.2f}' for x in load0)} on {os.cpu_count()} CPUs\n")
    head = ("case", "nodes", "inc", "found", "frames/s", "unacked", "lat p50", "lat p95", "lat p99", "final p95",
            "shot->alert p50", "p95", "CPU cores", "peak MiB", "ack p99")
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for r in rows:
        q = r["lat"]
        print(f"{r['case']} | {r['nodes']} | {r['incidents']} | {r['found']} | {r['frames_per_s']:.0f} | {r['unacked']} | "
              f"{q['p50']} | {q['p95']} | {q['p99']} | {r['final'].get('p95')} | {r['shot_to_alert_p50_s']:.2f} | {r['shot_to_alert_p95_s']:.2f} | "
              f"{r['cpu_cores']:.2f} | {r['peak_mib']:.0f} | {r['ack_rtt_p99_s']:.3f}")
    ratio = lambda k: big[k] / base[k] if base[k] else float("nan")  # noqa: E731
    print(f"\nratios city/baseline: frames/s x{ratio('frames_per_s'):.1f}, CPU x{ratio('cpu_cores'):.1f}, "
          f"memory x{ratio('peak_mib'):.1f}, latency p95 x"
          f"{(big['lat']['p95'] or float('nan')) / (base['lat']['p95'] or float('nan')):.1f}")
    for r in rows:
        w, b = r["wait_s"], r["batch_s"]
        print(f"{r['case']}: association wait p50/p95/p99 {w.get('p50')} / {w.get('p95')} / {w.get('p99')} s, "
              f"batch searches {b.get('p50')} / {b.get('p95')} / {b.get('p99')} s, busy {r['busy_s']}, "
              f"worker restarts {r['restarts']}")
        f = r["found_lat"]
        print(f"{r['case']}: {r['found_late']} shots found only by a final search, alerted "
              f"p50/p95/p99 {f.get('p50')} / {f.get('p95')} / {f.get('p99')} s after their last detection")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"rejected frames: {base['rejected']} / {big['rejected']}; internal errors: {base['internal_errors']} / "
          f"{big['internal_errors']}; sender lateness p99: {base['sender_late_p99_s']:.3f} / "
          f"{big['sender_late_p99_s']:.3f} s")


if __name__ == "__main__":
    main()

"""``salvo demo [--out DIR]``: the whole live system on one machine, in about a minute.

1. simulate the small city (``sim``): 16 sensors, 90 s of audio, gunfire and confusers;
2. start the locator service and one ``salvo node`` process per sensor, all on 127.0.0.1,
   each node replaying its sensor's audio at ``--speed`` times real time, in step;
3. print each alert as the dispatcher's terminal would (``salvo alerts --follow``);
4. score the incidents the locator kept against the simulation's truth (``sim.score``) and
   draw a map.

``--out DIR`` keeps ``truth.json``, ``results.json`` (for ``salvo score``), ``map.png`` and the
locator's store.  The whole system runs sped up: audio time, the nodes' clocks and the
locator's clock all run ``--speed`` times faster than UTC from a shared epoch, and the
recording is re-dated to start at that epoch; results are dated back to the scenario's time.

Only the standard library is imported at module level (see ``salvo.cli``).
"""

from __future__ import annotations

import argparse
import sys

NS = 1_000_000_000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo", help="simulate a small city and run the live system on it (locator + one node per sensor)",
        description="Simulate the small city, start the locator and one node process per sensor on 127.0.0.1, "
                    "replay the audio sped up, print each alert as it arrives, then a scorecard and a map.",
    )
    p.add_argument("--out", default=None, help="keep truth.json, results.json, map.png and the store here")
    p.add_argument("--speed", type=float, default=2.0,
                   help="replay speed-up (default %(default)s; sixteen nodes and the locator share two cores)")
    p.add_argument("--seed", type=int, default=1, help="simulation seed (default %(default)s)")
    p.add_argument("--preset", default="small-city", help="simulation preset (default %(default)s)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    if args.out:
        return run_demo(Path(args.out), args.speed, args.seed, args.preset)
    with tempfile.TemporaryDirectory(prefix="salvo-demo-") as tmp:
        return run_demo(Path(tmp), args.speed, args.seed, args.preset)


def _say(text: str) -> None:
    print(text, flush=True)


def run_demo(out, speed: float = 2.0, seed: int = 1, preset: str = "small-city", say=_say) -> int:
    """Run the demo in folder ``out``; returns 0 when every part ran (the scorecard is the judgement)."""
    import json
    import math
    import multiprocessing
    import os
    import queue
    import subprocess
    import threading
    import time

    import numpy as np

    from locator.alerts import follow, format_alert
    from locator.analyze import AnalyzeConfig, site_configs
    from locator.recording_set import load_sensors
    from locator.service_config import load_sensor_array, write_keys
    from salvo.errors import ConfigError
    from salvo.utc import format_utc_ns
    from sim.presets import load_preset
    from sim.recording import write_recording_set
    from sim.render import simulate
    from sim.score import format_report, score

    if not speed > 0:
        raise ConfigError(f"--speed must be positive, got {speed}")
    t_begin = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    rec = out / "recording"
    say(f"salvo demo: simulating {preset!r} (seed {seed}) ...")
    result = simulate(load_preset(preset), seed=seed,
                      progress=lambda f, msg: say(f"  {100 * f:3.0f}% {msg}") if f >= 1 else None)
    write_recording_set(result, rec, frame="wgs84")
    truth = json.loads((rec / "truth.json").read_text())
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    site = json.loads((rec / "site.json").read_text()) if (rec / "site.json").exists() else {}
    sensors = load_sensor_array(rec / "sensors.csv")
    ids = list(sensors.ids)
    rng = np.random.default_rng(seed)
    keys = {s: rng.bytes(32) for s in ids}
    write_keys(out / "keys.txt", keys)
    starts = {r.sensor_id: r.start_ns for r in result.sensors}
    files = {r.sensor_id: f"{r.sensor_id}.wav" for r in result.sensors}
    files.update(_files_from_csv(rec / "sensors.csv"))

    # Compile the detector and the associator here, once, before anything is timed: the nodes
    # are forked from this process, and the locator and its search workers load the kernels
    # from numba's on-disk cache instead of compiling them side by side on a fresh install.
    say("salvo demo: compiling the detector and the associator ...")
    _warm_up_detector(result.sensors[0].fs_hz)
    _warm_up_associator(sensors.ids, sensors.pos_m)

    # The replay epoch: far enough ahead that the locator is ready and every node has started.
    lead_s = 4.0
    epoch = time.time_ns() + int(lead_s * NS)
    shift = epoch - min(starts.values())
    epoch_utc = format_utc_ns(epoch, 9)
    # The locator gets the weather the analysis would: speed of sound, wind, the shooter's height.
    assoc, _ = site_configs(load_sensors(rec / "sensors.csv"), AnalyzeConfig())
    ground = site.get("ground_alt_m")
    ground_z = float(ground) - sensors.frame.alt0_m if ground is not None else float("nan")
    store = out / "salvo.db"
    for stale in (store, out / "salvo.db-wal", out / "salvo.db-shm"):
        stale.unlink(missing_ok=True)
    (out / "locator.toml").write_text(
        "[locator]\nport = 0\nhttp_port = 0\n"
        f'store = "salvo.db"\nsensors = "recording/sensors.csv"\nkeys = "keys.txt"\n'
        # Stream-time allowances scale with the speed-up: 0.5 s of real transport is 0.5*speed of audio time.
        f"transport_allowance_s = {0.5 * speed}\nrestart_grace_s = 0.0\n"
        f"clock_speed = {speed}\nclock_epoch_utc = \"{epoch_utc}\"\n"
        + (f"ground_z_m = {ground_z}\n" if not math.isnan(ground_z) else "")
        + f"[association]\nc_mps = {assoc.c_mps:.3f}\nsource_z_m = {assoc.source_z_m!r}\n"
        + (f"wind_mps = [{assoc.wind_mps[0]!r}, {assoc.wind_mps[1]!r}]\n" if assoc.wind_mps is not None else "")
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    log = open(out / "locator.log", "w")
    say(f"salvo demo: starting the locator and {len(ids)} nodes on 127.0.0.1, replay at {speed:g}x ...")
    loc = subprocess.Popen([sys.executable, "-m", "salvo.cli", "locator", "--config", str(out / "locator.toml"),
                            "--quiet"], stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    nodes: list = []
    alerts: list[dict] = []
    try:
        line = loc.stdout.readline()
        if "ready" not in line:
            raise ConfigError(f"the locator did not start; see {out / 'locator.log'}")
        fields = dict(kv.split("=") for kv in line.split() if "=" in kv)
        ingest, http = int(fields["ingest"]), int(fields["http"])
        url = f"http://127.0.0.1:{http}"
        follower_stop = threading.Event()

        def on_alert(a: dict) -> None:
            a["_wall_ns"] = time.time_ns()
            alerts.append(a)

        def print_alert_line(a: dict) -> str:
            return format_alert(_unshift_alert(a, shift))

        class _Printer:
            def write(self, text: str) -> None:
                pass

            def flush(self) -> None:
                pass

        def run_follower() -> None:
            def show(a: dict) -> None:
                on_alert(a)
                say("  ALERT " + print_alert_line(a))
            follow(url, out=_Printer(), on_alert=show, stop=follower_stop)

        node_dir = out / "nodes"
        node_dir.mkdir(exist_ok=True)
        configs = []
        for sid in ids:
            (node_dir / f"{sid}.key").write_text(keys[sid].hex())
            os.chmod(node_dir / f"{sid}.key", 0o600)
            (node_dir / f"{sid}.spool").unlink(missing_ok=True)
            (node_dir / f"{sid}.toml").write_text(
                f'[node]\nsensor_id = "{sid}"\nkey_file = "{sid}.key"\nspool = "{sid}.spool"\nheartbeat_s = 1.0\n'
                f'[audio]\nsource = "file"\nfile = "{(rec / files[sid]).resolve()}"\nspeed = {speed}\nblock = 2048\n'
                f'start_utc = "{format_utc_ns(starts[sid] + shift, 9)}"\nspeed_epoch_utc = "{epoch_utc}"\n'
                f"[uplink]\nport = {ingest}\nbackoff_min_s = 0.05\nbackoff_max_s = 1.0\n"
            )
            configs.append(node_dir / f"{sid}.toml")
        # One process per node, forked from this one after the detector was compiled, so that
        # sixteen nodes do not each spend seconds importing and compiling on a two-core machine.
        ctx = multiprocessing.get_context("fork")
        results_q = ctx.Queue()
        nodes = [ctx.Process(target=_node_main, args=(str(p), results_q), name=f"node-{p.stem}") for p in configs]
        for n in nodes:
            n.start()
        follower = threading.Thread(target=run_follower, daemon=True)
        follower.start()
        duration_s = max(len(r.audio) / r.fs_hz for r in result.sensors)
        say(f"salvo demo: {duration_s:.0f} s of city audio will play in {duration_s / speed:.0f} s; alerts:")
        node_lines = []
        for _ in nodes:
            try:
                node_lines.append(results_q.get(timeout=lead_s + duration_s / speed + 120))
            except queue.Empty:
                node_lines.append("(a node did not finish in time)")
                break
        for n in nodes:
            n.join(5)
        # Let the last shots become final and the incidents close (the gap, in audio time).
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            health = _get_json(url + "/health")
            if health and not any(health.get(k) for k in ("open_incidents", "pending_detections", "pending_shots",
                                                              "queued_detections")):
                break
            time.sleep(0.25)
        health = _get_json(url + "/health") or {}
        time.sleep(0.3)
        follower_stop.set()
    finally:
        for n in nodes:
            if n.is_alive():
                n.terminate()
        loc.terminate()
        try:
            loc.wait(10)
        except subprocess.TimeoutExpired:
            loc.kill()
        log.close()

    results = _results(store, shift)
    (out / "results.json").write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")
    report = score(truth, results, truth_path=str(out / "truth.json"), results_path=str(out / "results.json"))
    _draw_map(out / "map.png", truth, results, sensors, rec)
    lat = _latencies(alerts, truth, shift, epoch, speed)
    say("")
    say("salvo demo: nodes")
    for line in node_lines:
        say("  " + line)
    c = health.get("counters", {})
    say(f"salvo demo: locator accepted {c.get('detections', 0)} detections, {c.get('heartbeats', 0)} heartbeats, "
        f"rejected {sum(v for k, v in c.items() if k.startswith('rejected_'))} frames; "
        f"{len(alerts)} alerts published")
    q = health.get("alert_latency_s", {})
    say(f"salvo demo: alert latency after the last detection a solution needed: p50 {q.get('p50')} s, "
        f"p95 {q.get('p95')} s, p99 {q.get('p99')} s (wall clock)")
    if lat:
        say(f"salvo demo: shot to first alert (city time at {speed:g}x; processing delays count {speed:g}x): "
            f"median {np.median(lat):.2f} s, max {np.max(lat):.2f} s over {len(lat)} incidents")
    say("")
    say(format_report(report))
    say("")
    say(f"salvo demo: map {out / 'map.png'}; truth.json and results.json in {out} "
        f"(salvo score {out / 'truth.json'} {out / 'results.json'}); took {time.monotonic() - t_begin:.0f} s")
    return 0


def _warm_up_detector(fs_hz: float) -> None:
    """Compile the detector's kernels in this process before the nodes are forked from it."""
    import numpy as np

    from sensor_node.pipeline import NodePipeline, nominal_clock

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1e-3, int(fs_hz)).astype(np.float32)
    x[int(fs_hz) // 2 :: 997] += 0.5
    pipe = NodePipeline("warm-up", fs_hz)
    pipe.process(x, nominal_clock(0, fs_hz))
    pipe.flush(nominal_clock(0, fs_hz))
    # the weak channel's confirmation kernel runs only on a faint candidate, which the signal
    # above need not have: sixteen nodes compiling it at their first one starve the cores
    from dsp import DetectorConfig
    from dsp.confirm import matched_z

    y = rng.normal(0, 1e-3, int(0.3 * fs_hz))
    matched_z(y, y.size // 2, fs_hz, DetectorConfig().highpass_hz)


def _warm_up_associator(ids, pos_m) -> None:
    """Locate a made-up shot once, so that the associator's and solver's kernels are compiled
    and in numba's cache before the locator and its workers start."""
    import numpy as np

    from locator.associate import AssociationConfig, SensorTable, associate
    from locator.service_search import warm_up_job

    cfg = AssociationConfig()
    idx, pool = warm_up_job(tuple(ids), np.asarray(pos_m), cfg)
    associate(pool, SensorTable.from_any({ids[i]: pos_m[i] for i in idx}), cfg)


def _node_main(config_path: str, results) -> None:
    """A node process: what ``salvo node --config`` does, reporting one line back to the demo."""
    import logging

    from sensor_node.config import load_node_config
    from sensor_node.node import run_node

    logging.basicConfig(level=logging.WARNING)
    cfg = load_node_config(config_path)
    try:
        r = run_node(cfg, drain_s=30.0)
        results.put(f"{cfg.sensor_id}: {r.samples} samples, {r.detections} detections, {r.spool_depth} unacknowledged, "
                    f"{r.dropped_blocks} audio blocks dropped, clock {r.clock_state}, {r.heartbeats} heartbeats")
    except Exception as exc:  # reported by the demo, not a traceback from a child
        results.put(f"{cfg.sensor_id}: failed: {exc}")


def _files_from_csv(path) -> dict[str, str]:
    import csv

    with open(path, newline="") as fh:
        return {r["sensor_id"]: r["file"] for r in csv.DictReader(fh) if r.get("file")}


def _get_json(url: str):
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def _unshift_alert(a: dict, shift: int) -> dict:
    """The alert dated back to the scenario's time (for display)."""
    from salvo.utc import format_utc_ns, parse_utc_ns

    inc = dict(a.get("incident", {}))
    for k in ("start_utc", "end_utc"):
        if k in inc:
            inc[k] = format_utc_ns(parse_utc_ns(inc[k]) - shift, 3)
    return dict(a, incident=inc)


def _results(store_path, shift: int) -> dict:
    """The store's incidents in the results format, dated back by ``shift`` ns."""
    import dataclasses

    from locator.store import IncidentStore

    incidents = []
    frame = "wgs84"
    with IncidentStore(store_path, readonly=True) as st:
        for inc in st.iter_incidents():
            if not inc.shots:
                continue  # preliminary solutions that were never confirmed
            frame = inc.frame
            shots = tuple(dataclasses.replace(s, t_ns=s.t_ns - shift) for s in inc.shots)
            moved = dataclasses.replace(inc, start_ns=inc.start_ns - shift, end_ns=inc.end_ns - shift, shots=shots)
            incidents.append(moved.to_dict())
    return {"frame": frame, "incidents": incidents}


def _latencies(alerts: list[dict], truth: dict, shift: int, epoch: int, speed: float) -> list[float]:
    """Per incident, city time from its first true shot to its first alert, s."""
    from salvo.utc import parse_utc_ns

    shots = sorted(parse_utc_ns(s["t_utc"]) for s in truth.get("shots", []))
    seen: dict[str, float] = {}
    for a in alerts:
        inc = a["incident"]
        if inc["id"] in seen or inc.get("class") != "gunfire":
            continue
        t_first = parse_utc_ns(inc["start_utc"]) - shift
        near = [t for t in shots if abs(t - t_first) < 0.5 * NS]
        if not near:
            continue
        published_city = epoch + (a["_wall_ns"] - epoch) * speed - shift
        seen[inc["id"]] = (published_city - near[0]) / NS
    return list(seen.values())


def _draw_map(path, truth: dict, results: dict, sensors, rec) -> None:
    """Sensors, true shots and confusers, located shots by class, on one picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    frame = sensors.frame

    def xy(items, keys=("lat", "lon", "alt_m")):
        pts = [(p[keys[0]], p[keys[1]], p.get(keys[2], 0.0) or 0.0) for p in items if p.get(keys[0]) is not None]
        if not pts:
            return np.zeros((0, 2))
        a = np.array(pts, dtype=float)
        x, y, _ = frame.to_local(a[:, 0], a[:, 1], a[:, 2])
        return np.column_stack([x, y])

    fig, ax = plt.subplots(figsize=(8, 8))
    ax.scatter(sensors.pos_m[:, 0], sensors.pos_m[:, 1], marker="^", c="k", s=40, label="sensors")
    for sid, p in zip(sensors.ids, sensors.pos_m):
        ax.annotate(sid, p[:2], fontsize=6, xytext=(3, 3), textcoords="offset points")
    t = xy(truth.get("shots", []))
    ax.scatter(t[:, 0], t[:, 1], marker="x", c="tab:red", s=70, label="true shots")
    cf = xy(truth.get("confusers", []))
    if len(cf):
        ax.scatter(cf[:, 0], cf[:, 1], marker="*", c="tab:orange", s=80, label="true confusers")
    colours = {"gunfire": "tab:blue", "fireworks": "tab:green", "impulse": "tab:gray", "echo": "tab:purple"}
    for cls, colour in colours.items():
        pts = xy([s for i in results["incidents"] if i["class"] == cls for s in i["shots"]])
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], facecolors="none", edgecolors=colour, s=120, label=f"located: {cls}")
    ax.set_aspect("equal")
    ax.set_xlabel("east (m)")
    ax.set_ylabel("north (m)")
    ax.set_title("salvo demo: live system vs truth")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""At-least-once delivery end to end: real node uplinks with disk spools, a locator killed with SIGKILL
in the middle of a burst and started again, and a node that was offline for minutes catching up."""

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from locator.service import LocatorService
from locator.service_config import config_from_dict, load_keys, load_sensor_array
from locator.service_loadgen import ServiceThread, grid_sensors, hear_shot, write_site
from locator.store import IncidentStore
from salvo.utc import format_utc_ns
from sensor_node.config import AudioConfig, NodeConfig
from sensor_node.node import run_node
from sensor_node.spool import Spool
from sensor_node.uplink import Uplink, UplinkConfig

NS = 1_000_000_000
REPO = Path(__file__).resolve().parents[2]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_locator(toml, log):
    p = subprocess.Popen([sys.executable, "-m", "salvo.cli", "locator", "--config", str(toml), "--quiet"],
                         stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO)
    line = p.stdout.readline()
    assert "ready" in line, line
    return p


def _final_incidents(db):
    with IncidentStore(db, readonly=True) as st:
        return [i for i in st.iter_incidents() if i.final]


def test_kill_locator_mid_burst_loses_and_doubles_nothing(tmp_path, rng):
    ids, pos = grid_sensors(9, 250.0, rng)
    keys = write_site(tmp_path, ids, pos, rng)
    port, http = _free_port(), _free_port()
    toml = tmp_path / "locator.toml"
    toml.write_text(
        f'[locator]\nport = {port}\nhttp_port = {http}\nstore = "salvo.db"\nsensors = "sensors.csv"\n'
        'keys = "keys.txt"\ntransport_allowance_s = 0.3\nstep_s = 0.05\nrestart_grace_s = 3.0\n'
        "[incidents]\ngap_s = 2.0\n"
    )
    log = open(tmp_path / "locator.log", "w")
    loc = _start_locator(toml, log)
    spools = {s: Spool(tmp_path / f"{s}.spool", s, keys[s]) for s in ids}
    ucfg = UplinkConfig(port=port, backoff_min_s=0.05, backoff_max_s=0.4, ack_timeout_s=2.0)
    ups = [Uplink(spools[s], keys[s], ucfg, seed=i).start() for i, s in enumerate(ids)]
    try:
        # A 12-round burst, 0.25 s apart; each node spools a detection when the sound reaches it.
        t0 = time.time_ns() + int(0.5 * NS)
        src = np.array([300.0, 220.0, 1.5])
        shots = [hear_shot(ids, pos, src, t0 + k * NS // 4, rng) for k in range(12)]
        stream = sorted((d for s in shots for d in s), key=lambda d: d.t_ns)
        produced = []
        killed = False
        for d in stream:
            wait = (d.t_ns - time.time_ns()) / NS
            if wait > 0:
                time.sleep(wait)
            produced.append(spools[d.sensor_id].append(d))
            if not killed and len(produced) >= len(stream) // 2:
                loc.send_signal(signal.SIGKILL)  # no chance to flush anything
                loc.wait()
                killed = True
        time.sleep(0.5)
        loc = _start_locator(toml, log)
        assert all(u.wait_drained(20) for u in ups), [s.depth() for s in spools.values()]
        # After the grace, the burst's shots become final and the incident closes.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not _final_incidents(tmp_path / "salvo.db"):
            time.sleep(0.2)
    finally:
        for u in ups:
            u.stop()
        loc.send_signal(signal.SIGTERM)
        loc.wait(10)
        log.close()
    with IncidentStore(tmp_path / "salvo.db") as st:
        kept = {(d.sensor_id, d.seq) for d in st.iter_detections()}
        incidents = list(st.iter_incidents())
    # Every detection the nodes produced is in the store exactly once (the key is unique).
    assert kept == {(d.sensor_id, d.seq) for d in produced}
    assert len(incidents) == 1, [(i.id, i.n_shots) for i in incidents]
    (inc,) = incidents
    assert inc.final and inc.n_shots == 12 and inc.n_shooters == 1
    assert len({k for s in inc.shots for k in s.detections}) == sum(len(s.detections) for s in inc.shots)


def _impulse_file(path, rng, fs, seconds, every_s):
    x = rng.normal(0, 2e-3, fs * seconds).astype(np.float32)
    k = np.arange(600)
    pulse = (0.5 * np.exp(-k / 60.0) * np.sign(np.sin(k / 3.0 + 0.3))).astype(np.float32)
    at = np.arange(every_s, seconds - 1, every_s) * fs
    for a in at:
        x[a : a + 600] += pulse
    sf.write(path, x, fs, subtype="PCM_16")
    return len(at)


def test_node_offline_for_minutes_catches_up(tmp_path, rng):
    ids, pos = grid_sensors(4, 200.0, rng)
    keys = write_site(tmp_path, ids, pos, rng)
    n_pulses = _impulse_file(tmp_path / "n1.wav", rng, 8000, 240, every_s=7)  # four minutes of audio
    port = _free_port()
    start = time.time_ns() - 300 * NS  # the recording began five minutes ago
    cfg = NodeConfig(
        sensor_id=ids[0], key=keys[ids[0]], spool=tmp_path / "n1.spool", heartbeat_s=0.2,
        audio=AudioConfig(source="file", file=tmp_path / "n1.wav", speed=0.0, block=4000,
                          start_utc=format_utc_ns(start, 9)),
        uplink=UplinkConfig(port=port, backoff_min_s=0.05, backoff_max_s=0.5),
    )
    spooled = []
    result = {}
    node = threading.Thread(target=lambda: result.update(r=run_node(cfg, drain_s=30.0, on_detection=spooled.append)))
    node.start()
    # The locator is down while the node works through its four minutes of audio.
    deadline = time.monotonic() + 60
    while len(spooled) < n_pulses and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(spooled) >= n_pulses
    time.sleep(1.0)
    svc = LocatorService(config_from_dict(dict(
        port=port, http_port=0, store=str(tmp_path / "s.db"), sensors=str(tmp_path / "sensors.csv"),
        keys=str(tmp_path / "keys.txt"), association_processes=0)), load_sensor_array(tmp_path / "sensors.csv"), load_keys(tmp_path / "keys.txt"))
    with ServiceThread(svc) as srv:
        node.join(60)
        counters = srv.call(lambda: dict(svc.ingest.counters))
        nodes = srv.call(lambda: svc.node_table())
    report = result["r"]
    with IncidentStore(tmp_path / "s.db") as st:
        kept = sorted((d.seq, d.t_ns) for d in st.iter_detections())
    # Everything spooled while the locator was away arrived, once, with its original time stamp.
    assert kept == sorted((d.seq, d.t_ns) for d in spooled)
    assert report.spool_depth == 0 and report.uplink.connects >= 1 and report.detections == len(spooled)
    assert kept[0][1] < time.time_ns() - 60 * NS  # minutes old when delivered
    assert counters.get("duplicates", 0) == 0 and counters["heartbeats"] >= 1
    assert nodes[0]["sensor_id"] == ids[0] and nodes[0]["seen"]

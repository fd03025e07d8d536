"""Association searches in worker processes: same answers as in the service's thread, a dead worker
replaced, and no worker outliving a service killed with SIGKILL."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from locator.associate import AssociationConfig
from locator.service_loadgen import grid_sensors, hear_shot
from locator.service_search import SearchRunner
from sensor_node.protocol import Detection

NS = 1_000_000_000
REPO = Path(__file__).resolve().parents[2]


def _numbered(dets):
    return [Detection(d.sensor_id, d.t_ns, d.sigma_s, i + 1, d.snr_db, d.peak_dbfs, d.p_gunshot, d.kind)
            for i, d in enumerate(dets)]


@pytest.fixture(scope="module")
def site():
    rng = np.random.default_rng(11)
    ids, pos = grid_sensors(36, 300.0, rng)
    # Two places far apart (two independent searches) and a third pool of noise only.
    west = _numbered(sorted(hear_shot(ids, pos, np.array([350.0, 400.0, 1.5]), 10**18, rng)
                            + hear_shot(ids, pos, np.array([360.0, 420.0, 1.5]), 10**18 + NS // 3, rng),
                            key=lambda d: d.t_ns))
    east = _numbered(hear_shot(ids, pos, np.array([1400.0, 1300.0, 1.5]), 10**18 + NS // 10, rng))
    noise = _numbered(sorted((Detection(ids[i], 10**18 + int(rng.uniform(0, 2) * NS), 1e-4, 0, 20.0, -20.0, 0.3,
                                        "impulse") for i in rng.choice(len(ids), 6, replace=False)),
                             key=lambda d: d.t_ns))
    jobs = [(np.arange(len(ids)), pool) for pool in (west, east, noise)]
    return ids, pos, jobs


@pytest.fixture(scope="module")
def workers(site):
    ids, pos, _ = site
    # Started from a thread that then ends, as the service starts its workers from a thread
    # pool: the workers must outlive it (they must die with the process, not the thread).
    box = {}
    t = threading.Thread(target=lambda: box.update(r=SearchRunner(ids, pos, AssociationConfig(), processes=1)))
    t.start()
    t.join()
    yield box["r"]
    box["r"].close()


def _summary(shots):
    return [(s.t0_ns, tuple(np.round(s.pos_m, 6)), tuple((d.sensor_id, d.seq) for d in s.detections)) for s in shots]


def test_workers_find_what_the_thread_finds(site, workers):
    ids, pos, jobs = site
    here = SearchRunner(ids, pos, AssociationConfig(), processes=0)
    got = workers.search(jobs)
    assert workers.restarts == 0
    want = here.search(jobs)
    assert [len(g) for g in want] == [2, 1, 0]  # the case is not trivial
    assert [_summary(g) for g in got] == [_summary(w) for w in want]


def test_a_dead_worker_is_replaced(site, workers):
    _, _, jobs = site
    before = workers.restarts
    for pid in list(workers._pool._processes):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    got = workers.search(jobs[:2])
    assert [len(g) for g in got] == [2, 1] and workers.restarts == before + 1


def test_workers_die_with_a_killed_service(tmp_path):
    script = tmp_path / "service.py"
    script.write_text(
        "import sys, time\n"
        "import numpy as np\n"
        "from locator.associate import AssociationConfig\n"
        "from locator.service_search import SearchRunner\n"
        "if __name__ == '__main__':\n"
        "    pos = np.array([[x * 300.0, y * 300.0, 5.0] for x in range(3) for y in range(3)])\n"
        "    r = SearchRunner([f'S{i}' for i in range(9)], pos, AssociationConfig(), processes=1)\n"
        "    print(*r._pool._processes, flush=True)\n"
        "    time.sleep(60)\n"
    )
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        (pid,) = (int(x) for x in p.stdout.readline().split())
        assert _alive(pid)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False

"""The live locator end to end on loopback: nodes -> ingest -> association -> incidents -> SSE alerts."""

import asyncio
import io
import json
import time

import numpy as np

from locator.alerts import follow
from locator.service import LocatorService
from locator.service_config import config_from_dict, load_keys, load_sensor_array
from locator.service_loadgen import SimNode, grid_sensors, hear_shot, write_site
from locator.store import IncidentStore

NS = 1_000_000_000


def make_site(tmp_path, rng, n=9, spacing=250.0):
    ids, pos = grid_sensors(n, spacing, rng)
    write_site(tmp_path, ids, pos, rng)
    return ids, pos


def make_service(tmp_path, **over):
    values = dict(port=0, http_port=0, store=str(tmp_path / "salvo.db"), sensors=str(tmp_path / "sensors.csv"),
                  keys=str(tmp_path / "keys.txt"), transport_allowance_s=0.3, step_s=0.05, incident_gap_s=1.5, restart_grace_s=0.0)
    values.update(over)
    cfg = config_from_dict(values)
    return LocatorService(cfg, load_sensor_array(cfg.sensors), load_keys(cfg.keys))


async def sse_collect(port, alerts, headers=""):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /alerts HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    await writer.drain()
    try:
        data = []
        while True:
            line = (await reader.readline()).decode()
            if not line:
                return
            line = line.rstrip("\n")
            if line.startswith("data:"):
                data.append(line[5:])
            elif not line and data:
                alerts.append(json.loads("".join(data)))
                data = []
    finally:
        writer.close()


async def http_get(port, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def send_shots(nodes, shots):
    """Send every detection of the shots to its node, in arrival order across the network."""
    dets = sorted((d for shot in shots for d in shot), key=lambda d: d.t_ns)
    for d in dets:
        await nodes[d.sensor_id].send_detection(d)


async def wait_for(cond, timeout_s):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.02)
    return cond()


def test_shots_become_alerts_and_a_stored_incident(tmp_path, rng):
    ids, pos = make_site(tmp_path, rng)
    keys = load_keys(tmp_path / "keys.txt")
    src = np.array([260.0, 180.0, 1.5])

    async def main():
        svc = make_service(tmp_path)
        ing, http = await svc.start()
        alerts = []
        sse = asyncio.create_task(sse_collect(http, alerts))
        nodes = {s: SimNode(s, keys[s], "127.0.0.1", ing) for s in ids}
        for n in nodes.values():
            await n.connect()
            await n.send_heartbeat()
        t0 = time.time_ns() - int(1.5 * NS)
        shots = [hear_shot(ids, pos, src, t0 + k * int(0.4 * NS), rng) for k in range(3)]
        await send_shots(nodes, shots)

        async def heartbeats():  # nodes report how far they have listened; finals wait for that
            while True:
                await asyncio.sleep(0.3)
                for n in nodes.values():
                    await n.send_heartbeat()

        beat = asyncio.create_task(heartbeats())
        assert await wait_for(lambda: any(a["status"] == "final" for a in alerts), 12.0), alerts
        beat.cancel()
        # A dispatcher's terminal that connects late gets what it missed, one line per alert.
        out = io.StringIO()
        got = await asyncio.get_running_loop().run_in_executor(
            None, lambda: follow(f"http://127.0.0.1:{http}", out=out, max_alerts=2, timeout_s=10))
        status, body = await http_get(http, "/health")
        health = json.loads(body)
        status_m, metrics = await http_get(http, "/metrics")
        status_n, nodes_body = await http_get(http, "/nodes")
        missing, _ = await http_get(http, "/nope")
        sse.cancel()
        for n in nodes.values():
            await n.close()
        await svc.stop()
        return alerts, health, metrics.decode(), json.loads(nodes_body), missing, nodes, got, out.getvalue()

    alerts, health, metrics, node_rows, missing, nodes, got, lines = asyncio.run(main())
    assert got == 2 and lines.count("\n") == 2 and "PRELIMINARY" in lines.splitlines()[0]
    assert alerts[0]["status"] == "preliminary"
    final = [a for a in alerts if a["status"] == "final"]
    assert len(final) == 1
    inc = final[0]["incident"]
    assert inc["n_shots"] == 3 and inc["n_shooters"] == 1 and inc["class"] == "gunfire" and inc["final"]
    for shot in inc["shots"]:
        assert np.hypot(shot["x_m"] - src[0], shot["y_m"] - src[1]) < 3.0
        assert len(shot["sensors"]) >= 6
    # Every alert is one incident, its versions rising.
    assert {a["incident"]["id"] for a in alerts} == {inc["id"]}
    assert [a["incident"]["version"] for a in alerts] == sorted(a["incident"]["version"] for a in alerts)
    assert all(n.unacked == {} for n in nodes.values())
    c = health["counters"]
    assert c["detections"] == sum(n._seq for n in nodes.values()) - c["heartbeats"]  # every detection sent
    assert c["heartbeats"] >= 18 and health["nodes_online"] == 9 and "rejected_bad_mac" not in c
    assert health["alert_latency_s"]["p95"] < 0.5
    assert 'salvo_events_total{event="detections"}' in metrics and "salvo_nodes_online 9" in metrics
    assert node_rows[0]["clock_state"] == "locked" and missing == 404
    with IncidentStore(tmp_path / "salvo.db") as st:
        (stored,) = list(st.iter_incidents())
        assert stored.final and stored.n_shots == 3 and stored.version >= len(alerts)


def test_a_search_gets_the_earlier_shots_around_it_as_patterns(tmp_path, rng):
    # a burst cut into searches stays one burst: each search is given the final shots already
    # located around it to repeat, but not those it could find again, nor preliminary ones (a
    # search over part of a wavefront may have made them up)
    import dataclasses

    from locator.associate import associate
    from locator.service_incidents import live_shot

    ids, pos = make_site(tmp_path, rng)
    svc = make_service(tmp_path)
    src = np.array([260.0, 180.0, 1.5])
    t0 = 1_800_000_000 * NS
    seq = iter(range(1, 10**6))
    rounds = [[dataclasses.replace(d, seq=next(seq)) for d in hear_shot(ids, pos, src, t0 + k * NS // 10, rng)]
              for k in range(4)]
    table = dict(zip(ids, pos))
    shots = [associate(r, table)[0] for r in rounds]
    for k, s in enumerate(shots):
        svc.incidents.add(live_shot(s, final=k != 1))
    (job,) = svc._jobs([rounds[2]], t0)  # a search over round 2's detections
    assert [s.t0_ns for s in job.prior] == [shots[0].t0_ns, shots[3].t0_ns]
    late = [dataclasses.replace(d, seq=next(seq)) for d in hear_shot(ids, pos, src, t0 + 5 * NS, rng)]
    svc.incidents.add(live_shot(associate(late, table)[0], final=True))  # fired after the pool's last arrival
    (again,) = svc._jobs([rounds[2]], t0)
    assert again.prior == job.prior
    assert len(job.idx) == len(ids) and job.pool == rounds[2] and job.horizon_ns == t0


def test_shots_waiting_long_for_their_final_search_keep_their_detections(tmp_path, rng):
    # Under load the final searches wait (new detections are searched first): here eight
    # shots 3 s apart are all located before any final search runs.  Each final search
    # needs its shot's detections, long past the recent window a search of new ones needs.
    import dataclasses

    from locator.wire_server import Received

    ids, pos = make_site(tmp_path, rng)
    svc = make_service(tmp_path)
    now = time.time_ns()
    seq: dict[str, int] = {}
    for k in range(8):
        src = np.array([150.0 + 60.0 * k, 200.0 + 30.0 * (k % 3), 1.5])
        dets = []
        for d in hear_shot(ids, pos, src, now - 60 * NS + k * 3 * NS, rng):
            seq[d.sensor_id] = seq.get(d.sensor_id, 0) + 1
            dets.append(dataclasses.replace(d, seq=seq[d.sensor_id]))
        svc._process_batch([Received(d, now, now) for d in dets])
    assert len(svc.incidents.unconfirmed()) == 8
    for _ in range(3):
        svc._finalize(now)
    final = [s for s in svc.incidents.recent(0) if s.final]
    assert len(final) == 8 and not svc.incidents.unconfirmed()  # none withdrawn


def test_echoes_after_a_final_shot_are_searched_in_its_shadow(tmp_path, rng):
    # Once a shot is final its detections leave the pools of later searches, but they were
    # heard: a wall's echo arriving after (a clean wavefront from the mirror-image source) is
    # searched with the blasts as context, lies below their decaying level, and is no shot.
    import dataclasses

    from locator.wire_server import Received

    ids, pos = make_site(tmp_path, rng, n=16, spacing=150.0)
    svc = make_service(tmp_path)
    now = time.time_ns()
    src, wall_x = np.array([380.0, 250.0, 1.5]), 420.0
    image = src + np.array([2.0 * (wall_x - src[0]), 0.0, 0.0])
    west = {sid for sid, p in zip(ids, pos) if p[0] < wall_x}
    blasts = [dataclasses.replace(d, seq=1, peak_dbfs=-6.0, snr_db=40.0) for d in hear_shot(ids, pos, src, now - 60 * NS, rng)]
    echoes = [dataclasses.replace(d, seq=2, peak_dbfs=-24.0, snr_db=22.0)
              for d in hear_shot(ids, pos, image, now - 60 * NS, rng) if d.sensor_id in west]
    assert len(echoes) >= svc._assoc_cfg.min_sensors + 1
    svc._process_batch([Received(d, now, now) for d in blasts])
    svc._finalize(now)
    assert [len(s.keys) for s in svc.incidents.recent(0) if s.final] == [len(blasts)]
    svc._process_batch([Received(d, now, now) for d in echoes])
    for _ in range(2):
        svc._finalize(now)
    assert [len(s.keys) for s in svc.incidents.recent(0)] == [len(blasts)]
    # without the context the same search takes the echoes for a shot from the image source
    (job,) = svc._jobs([echoes], now)
    assert {f"{d.sensor_id}:{d.seq}" for d in job.context} >= {f"{d.sensor_id}:1" for d in blasts if d.sensor_id in west}
    (alone,) = svc._search([job._replace(context=())])
    assert len(alone) == 1 and np.linalg.norm(alone[0].pos_m[:2] - image[:2]) < 5.0


def test_a_shot_only_a_final_search_found_is_announced_and_its_delay_reported_apart(tmp_path, rng):
    # A round whose arrivals first went to aliases is found by a final search, seconds after
    # its last detection: it is announced, and its delay is not the preliminary alerts' latency.
    from locator.service_incidents import live_shot

    ids, pos = make_site(tmp_path, rng)
    svc = make_service(tmp_path)
    now = time.time_ns()
    dets = hear_shot(ids, pos, np.array([300.0, 200.0, 1.5]), now - 60 * NS, rng)
    for d in dets:
        svc._received[f"{d.sensor_id}:{d.seq}"] = now - 2 * NS
    (shots,) = svc._search(svc._jobs([dets], now))
    svc._apply([live_shot(shots[0], False)], found=True)
    assert svc.hub.published == 1 and len(svc.latencies_s) == 0
    assert len(svc.found_latencies_s) == 1 and 2.0 <= svc.found_latencies_s[0] < 10.0
    health = svc.health()
    assert health["counters"]["shots_found_late"] == 1 and health["found_latency_s"]["p50"] >= 2.0


def test_the_incident_a_final_solution_leaves_is_announced_again(tmp_path, rng):
    # An alias's preliminary solution joined an incident 400 m from its gun; its final solution
    # moves to the gun's incident.  The incident it left is announced again with one shot fewer.
    from locator.service_incidents import LiveShot

    make_site(tmp_path, rng)
    svc = make_service(tmp_path, incident_gap_s=10.0)
    t = time.time_ns() - 60 * NS

    def at(dt_s, x, tag, final):
        keys = frozenset(f"S{j}:{tag}" for j in range(8))
        return LiveShot(t + int(dt_s * NS), (x, 0.0, 1.5), 1.0, keys, tuple(f"S{j}" for j in range(8)), 0.9, final)

    svc._apply([at(1.0, 0.0, 1, True)], finalising=True)
    svc._apply([at(1.5, 400.0, 3, True)], finalising=True)
    svc._apply([at(0.9, 405.0, 2, False)])  # the alias, beside the other gun
    _, before = svc.hub.subscribe(0)
    svc._apply([at(1.07, 0.0, 2, True)], finalising=True)
    _, alerts = svc.hub.subscribe(before[-1].seq)
    counts = {a.incident.id: a.incident.n_shots for a in alerts}
    assert sorted(counts.values()) == [1, 2] and len(counts) == 2


def test_final_searches_know_how_far_the_sensors_were_heard_first_searches_weigh_whole_windows(tmp_path, rng):
    # A final search counts rates over what was heard up to the watermark (a burst still
    # arriving is not yet in its windows); a first search weighs whole windows, as offline.
    from locator.wire_server import Received

    ids, pos = make_site(tmp_path, rng)
    svc = make_service(tmp_path)
    jobs = []
    real = svc._jobs

    def spy(pools, horizon_ns):
        out = real(pools, horizon_ns)
        jobs.extend(out)
        return out

    svc._jobs = spy
    t0 = 1_800_000_000 * NS
    dets = hear_shot(ids, pos, np.array([300.0, 200.0, 1.5]), t0, rng)
    svc._process_batch([Received(d, t0 + 2 * NS, time.time_ns()) for d in dets])
    assert jobs and all(j.horizon_ns is None for j in jobs)
    jobs.clear()
    svc._submit_final(list(dets), t0 + 3 * NS).result()
    assert [j.horizon_ns for j in jobs] == [t0 + 3 * NS]

"""Hostile input to the live locator: every bad frame is rejected and counted, none makes an alert,
the service keeps serving, and no key is ever logged."""

import hashlib
import hmac
import logging
import socket
import time

import msgpack
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from locator.service import LocatorService
from locator.service_config import config_from_dict, load_keys, load_sensor_array
from locator.service_loadgen import ServiceThread, grid_sensors, hear_shot, write_site
from sensor_node.protocol import (
    LENGTH_PREFIX, MAX_FRAME_BYTES, Detection, Heartbeat, decode_frame, encode_frame, length_prefixed,
)

NS = 1_000_000_000


def _service(tmp_path, rng):
    ids, pos = grid_sensors(9, 250.0, rng)
    write_site(tmp_path, ids, pos, rng)
    cfg = config_from_dict(dict(port=0, http_port=0, store=str(tmp_path / "s.db"), sensors=str(tmp_path / "sensors.csv"),
                                keys=str(tmp_path / "keys.txt"), transport_allowance_s=0.3, step_s=0.05,
                                incident_gap_s=1.0, max_bad_frames=5, restart_grace_s=0.0,
                                association_processes=0))  # searches in the thread: no worker to start
    keys = load_keys(cfg.keys)
    return LocatorService(cfg, load_sensor_array(cfg.sensors), keys), ids, pos, keys


def _exchange(port, data, wait_s=0.3, close_write=True):
    """Send bytes on a fresh connection; return the acks' statuses the locator sent back."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(data)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        s.settimeout(wait_s)
        got = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (socket.timeout, ConnectionError):
            pass
    out = []
    while len(got) >= 4:
        (n,) = LENGTH_PREFIX.unpack_from(got)
        out.append(got[4 : 4 + n])
        got = got[4 + n :]
    return out


def _statuses(frames, keys):
    return [decode_frame(f, keys, allowed=("ack",)).message.status for f in frames]


def _forge(envelope, key):
    body = msgpack.packb(envelope, use_bin_type=True)
    return body + hmac.new(key, body, hashlib.sha256).digest()


def test_attacks_are_rejected_counted_and_harmless(tmp_path, rng, caplog):
    caplog.set_level(logging.DEBUG)
    svc, ids, pos, keys = _service(tmp_path, rng)
    a, b = ids[0], ids[1]
    now = time.time_ns()
    with ServiceThread(svc) as srv:
        port = srv.ports[0]
        det = Detection(a, now - NS, 1e-4, 1, 30.0, -10.0, 0.95, "blast")
        good = encode_frame(det, keys[a])
        # Unknown sensor, wrong key, tampered byte, truncated frame, oversized length, random junk.
        _exchange(port, length_prefixed(encode_frame(Detection("EVE", now, 1e-4, 1), keys[a])))
        _exchange(port, length_prefixed(encode_frame(det, keys[b])))
        _exchange(port, length_prefixed(good[:20] + bytes([good[20] ^ 4]) + good[21:]))
        _exchange(port, length_prefixed(good)[:-10])
        _exchange(port, LENGTH_PREFIX.pack(MAX_FRAME_BYTES + 1) + b"x" * 100)
        _exchange(port, length_prefixed(b"\x93\x01\x02"))
        # A frame from a sensor signed with its own key but with a future time stamp: refused, not resent.
        future = Detection(a, now + 3600 * NS, 1e-4, 2, kind="blast")
        assert _statuses(_exchange(port, length_prefixed(encode_frame(future, keys[a]))), keys) == ["rejected"]
        # The genuine frame, then the same frame replayed twice and out of order: kept once, acked each time.
        assert _statuses(_exchange(port, length_prefixed(good)), keys) == ["ok"]
        assert _statuses(_exchange(port, length_prefixed(good) * 2), keys) == ["dup", "dup"]
        # Heartbeats: a replay and an older one sent after a newer one are refused.
        hb5 = encode_frame(Heartbeat(a, 5, now), keys[a])
        hb4 = encode_frame(Heartbeat(a, 4, now), keys[a])
        _exchange(port, length_prefixed(hb5) + length_prefixed(hb5) + length_prefixed(hb4))
        # A connection that keeps sending junk is closed after max_bad_frames.
        _exchange(port, length_prefixed(b"\xc1" * 50) * 50)
        time.sleep(0.3)
        c = srv.call(lambda: dict(svc.ingest.counters))
        published = srv.call(lambda: svc.hub.published)
        # Still serving: a real shot is located after all that.
        shot = hear_shot(ids, pos, np.array([200.0, 200.0, 1.5]), time.time_ns() - NS, rng)
        for d in shot:
            _exchange(port, length_prefixed(encode_frame(Detection(
                d.sensor_id, d.t_ns, d.sigma_s, 100, d.snr_db, d.peak_dbfs, d.p_gunshot, d.kind), keys[d.sensor_id])),
                wait_s=0.05)
        deadline = time.monotonic() + 10
        while srv.call(lambda: svc.hub.published) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        after = srv.call(lambda: svc.hub.published)
    assert c["rejected_unknown_sensor"] == 1
    assert c["rejected_bad_mac"] == 2
    assert c["rejected_truncated"] == 2  # cut inside a frame, and a 3-byte frame with no room for a MAC
    assert c["rejected_oversized"] == 1
    assert c["rejected_malformed"] == 5  # the junk connection, closed after max_bad_frames
    assert c["rejected_stale"] == 1
    assert c["rejected_replay"] == 2
    assert c["duplicates"] == 2 and c["detections"] == 1
    assert c["bad_connections_closed"] == 1
    assert published == 0, "no attack may create an alert"
    assert after >= 1
    logged = caplog.text
    assert "rejected frame" in logged
    for k in keys.values():
        assert k.hex() not in logged and k.hex().upper() not in logged


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.lists(st.binary(max_size=300), min_size=1, max_size=4),
       forged=st.lists(st.tuples(st.sampled_from(["det", "hb", "ack", "zz"]), st.integers(0, 2**40),
                                 st.lists(st.integers(-5, 5) | st.floats() | st.text(max_size=4), max_size=9)),
                       max_size=3))
def test_fuzz_server_survives_and_never_alerts(tmp_path_factory, junk, forged):
    # One service for all examples (started lazily), so the fuzz stays fast.
    global _FUZZ
    if "_FUZZ" not in globals():
        tmp = tmp_path_factory.mktemp("fuzz")
        svc, ids, pos, keys = _service(tmp, np.random.default_rng(7))
        _FUZZ = (ServiceThread(svc).__enter__(), svc, ids, keys)
    srv, svc, ids, keys = _FUZZ
    data = b"".join(length_prefixed(j) for j in junk)
    # Frames correctly signed by a sensor key but with arbitrary kinds and payloads.
    data += b"".join(length_prefixed(_forge([1, kind, ids[2], seq, payload], keys[ids[2]])) for kind, seq, payload in forged)
    _exchange(srv.ports[0], data, wait_s=0.02)
    assert srv.call(lambda: svc.hub.published) == 0
    assert srv.call(lambda: svc.ingest.counters["internal_errors"]) == 0


def teardown_module(module):
    if "_FUZZ" in globals():
        _FUZZ[0].__exit__(None, None, None)

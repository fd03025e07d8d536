import math

import msgpack
import pytest
from hypothesis import given, settings, strategies as st

from salvo.errors import ConfigError
from sensor_node.protocol import (
    MAC_BYTES, MAX_FRAME_BYTES, REJECT_REASONS, Ack, Detection, Heartbeat, decode_frame, encode_frame, parse_key,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
KEYS = {"A": KEY_A, "B": KEY_B}
DET = Detection("A", 1_800_000_000_123_456_789, 2e-5, 17, 23.5, -4.0, 0.93, "blast")


def test_roundtrip_every_kind():
    hb = Heartbeat("B", 5, 1_800_000_000 * 10**9, -61.5, "locked", 12.5, 3e-5, 4, 1, 3600.0, 1_799_999_999 * 10**9)
    for msg, key in ((DET, KEY_A), (hb, KEY_B), (Ack("A", 17, "dup"), KEY_A)):
        out = decode_frame(encode_frame(msg, key), KEYS)
        assert out.ok and out.message == msg and out.reason == ""
    nan_det = Detection("A", 10, 1e-3, 1)
    back = decode_frame(encode_frame(nan_det, KEY_A), KEYS).message
    assert math.isnan(back.snr_db) and back.t_ns == 10


def test_rejections_have_reasons():
    good = encode_frame(DET, KEY_A)
    cases = {
        "bad_mac": good[:-1] + bytes([good[-1] ^ 1]),
        "unknown_sensor": encode_frame(Detection("Z", 1, seq=1), KEY_A),
        "truncated": good[:MAC_BYTES],
        "oversized": b"\0" * (MAX_FRAME_BYTES + 1),
        "malformed": b"\xc1" * 40,
        "bad_version": _forge([99, "det", "A", 1, []], KEY_A),
        "unknown_kind": _forge([1, "boom", "A", 1, []], KEY_A),
        "wrong_direction": encode_frame(Ack("A", 1), KEY_A),
    }
    for reason, frame in cases.items():
        out = decode_frame(frame, KEYS, allowed=("det", "hb"))
        assert not out.ok and out.reason == reason, (reason, out)
        assert out.reason in REJECT_REASONS
    # Signed by B's key but claiming to be A: a forgery, not A's message.
    assert decode_frame(_forge(msgpack.unpackb(good[:-MAC_BYTES]), KEY_B), KEYS).reason == "bad_mac"
    # A correctly signed frame with nonsense fields is malformed, not a crash.
    for payload in ([1, 2], [-5, 1e-3, 0.0, 0.0, 0.5, "blast"], [1, 0.0, 0, 0, 0.5, "blast"],
                    [1, 1e-3, 0, 0, 7.0, "blast"], [1, 1e-3, 0, 0, 0.5, "laser"], [1, "x", 0, 0, 0.5, "blast"]):
        assert decode_frame(_forge([1, "det", "A", 3, payload], KEY_A), KEYS).reason == "malformed", payload


def _forge(envelope, key):
    import hashlib
    import hmac

    body = msgpack.packb(envelope, use_bin_type=True)
    return body + hmac.new(key, body, hashlib.sha256).digest()


def test_key_parsing_never_echoes_the_key():
    assert parse_key("00" * 16) == bytes(16)
    with pytest.raises(ConfigError) as e:
        parse_key("zz" + "ab" * 20, what="node.toml: key")
    assert "abab" not in str(e.value) and "node.toml" in str(e.value)
    with pytest.raises(ConfigError, match="16 bytes"):
        parse_key("abcd")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=MAX_FRAME_BYTES + 64))
def test_fuzz_random_bytes_never_accepted(data):
    out = decode_frame(data, KEYS)
    assert not out.ok and out.reason in REJECT_REASONS


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 200), st.integers(0, 255), st.integers(1, 8))
def test_fuzz_mutated_frames_never_accepted(pos, xor, cut):
    good = encode_frame(DET, KEY_A)
    i = pos % len(good)
    flipped = good[:i] + bytes([good[i] ^ (xor or 1)]) + good[i + 1 :]
    assert not decode_frame(flipped, KEYS).ok
    assert not decode_frame(good[:-cut], KEYS).ok


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=6), max_leaves=20))
def test_fuzz_signed_junk_payloads_are_results_not_crashes(payload):
    # Even a holder of the key cannot crash the decoder with odd field types.
    out = decode_frame(_forge([1, "det", "A", 1, payload], KEY_A), KEYS)
    assert out.ok or out.reason == "malformed"

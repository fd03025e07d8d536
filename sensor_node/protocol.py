"""What crosses the wire from a sensor node to the locator.

One frozen dataclass per message kind.  :class:`Detection` is also the in-memory
type the locator's association works on, whether the detection came over the
wire, from a detection log (JSON Lines) or from ``salvo analyze``'s own detector.
Encoders, the schema version and the HMAC live beside the types: a frame is a
msgpack body signed with HMAC-SHA256 under the sending sensor's own key, sent over
TCP behind a 4-byte length prefix (:func:`encode_frame`, :func:`decode_frame`).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import struct
from dataclasses import dataclass

import msgpack

SCHEMA_VERSION = 1

#: Values of :attr:`Detection.kind`.  ``blast``: a muzzle blast or blast-like
#: impulse (the arrival that locates); ``nwave``: a supersonic bullet's shock
#: wave, which arrives before the blast and must not be located as one;
#: ``secondary``: a later arrival of the same event (echo); ``impulse``: any other
#: impulsive sound the node could not label.
DETECTION_KINDS = ("blast", "nwave", "secondary", "impulse")


@dataclass(frozen=True, slots=True)
class Detection:
    """One impulse heard by one sensor.

    Attributes
    ----------
    sensor_id : str
        The sensor that heard it.
    t_ns : int
        UTC arrival time of the onset, nanoseconds since the Unix epoch.
    sigma_s : float
        1-sigma uncertainty of ``t_ns`` in seconds (picker and clock together).
    seq : int
        Per-sensor sequence number (0 where the detection did not come over the wire).
    snr_db : float
        Peak signal-to-noise ratio of the impulse in dB (NaN when unknown).
    peak_dbfs : float
        Peak level in dB relative to full scale (NaN when unknown).
    p_gunshot : float
        Classifier probability that the impulse is gunfire, 0..1 (NaN when unknown).
    kind : str
        One of :data:`DETECTION_KINDS`.
    """

    sensor_id: str
    t_ns: int
    sigma_s: float = 1e-3
    seq: int = 0
    snr_db: float = float("nan")
    peak_dbfs: float = float("nan")
    p_gunshot: float = float("nan")
    kind: str = "impulse"


# ---------------------------------------------------------------------------------------------
# The other message kinds
# ---------------------------------------------------------------------------------------------

#: Values of :attr:`Heartbeat.clock_state` (see :data:`sensor_node.clock.CLOCK_STATES`).
CLOCK_STATES = ("nominal", "locked", "reanchored", "holdover", "none")


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A node's periodic health report.

    Attributes
    ----------
    sensor_id : str
    seq : int
        The node's message sequence number (shared with its detections).
    sent_ns : int
        When the node sent it, UTC ns.
    noise_floor_dbfs : float
        Background level, dBFS (NaN before any audio).
    clock_state : str
        One of :data:`CLOCK_STATES`.
    clock_drift_ppm : float
        Fitted sound-card rate error, ppm.
    clock_jitter_s : float
        RMS scatter of the clock anchors, s.
    spool_depth : int
        Detections waiting in the node's spool for an acknowledgement.
    dropped_blocks : int
        Audio blocks lost since the node started (input overflow, full queue).
    uptime_s : float
        Seconds since the node started.
    audio_ns : int
        UTC of the newest audio sample the node has processed, ns (0: none yet).  Every
        detection up to this time has been spooled; the locator finalises shots no later
        than the slowest live node's ``audio_ns`` (a watermark), so a node that lags
        behind (busy CPU, replay) is waited for instead of cut off.
    """

    sensor_id: str
    seq: int
    sent_ns: int
    noise_floor_dbfs: float = float("nan")
    clock_state: str = "none"
    clock_drift_ppm: float = 0.0
    clock_jitter_s: float = 0.0
    spool_depth: int = 0
    dropped_blocks: int = 0
    uptime_s: float = 0.0
    audio_ns: int = 0


ACK_STATUSES = ("ok", "dup", "rejected")


@dataclass(frozen=True, slots=True)
class Ack:
    """The locator's acknowledgement of one frame, signed with that sensor's key.

    Attributes
    ----------
    sensor_id : str
    seq : int
        Sequence number acknowledged.
    status : str
        One of :data:`ACK_STATUSES`: ``"ok"`` (new, kept), ``"dup"`` (already kept: a
        resend) or ``"rejected"`` (authentic but unusable, e.g. stamped in the future;
        the node drops it and counts it rather than resend it forever).
    """

    sensor_id: str
    seq: int
    status: str = "ok"


# ---------------------------------------------------------------------------------------------
# Frames: msgpack body + HMAC-SHA256 trailer, 4-byte big-endian length prefix on the stream
# ---------------------------------------------------------------------------------------------
#
# body = msgpack([SCHEMA_VERSION, kind, sensor_id, seq, payload])
# frame = body || HMAC-SHA256(key[sensor_id], body)
#
# The MAC covers the version, the kind, the sensor id and the sequence number, so a
# frame cannot be re-labelled as another sensor's, another kind, or a later message.

MAC_BYTES = 32
#: Largest frame (body + MAC) accepted, bytes; a detection frame is about 100.
MAX_FRAME_BYTES = 4096
MAX_SENSOR_ID_CHARS = 64
LENGTH_PREFIX = struct.Struct(">I")
_KINDS = {"det": Detection, "hb": Heartbeat, "ack": Ack}
_INT64 = 2**63

#: Reasons a frame is rejected (counter names on the locator).
REJECT_REASONS = (
    "oversized", "truncated", "malformed", "bad_version", "unknown_kind", "unknown_sensor", "bad_mac", "replay",
    "stale", "wrong_direction",
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """Outcome of decoding one frame: the message, or the reason it was rejected.

    Attributes
    ----------
    message : Detection, Heartbeat, Ack or None
    reason : str
        ``""`` when accepted, else one of :data:`REJECT_REASONS`.
    detail : str
        Human-readable detail for the log (never key material).
    sensor_id : str
        The claimed sensor id where it could be read (``""`` otherwise).
    """

    message: Detection | Heartbeat | Ack | None
    reason: str = ""
    detail: str = ""
    sensor_id: str = ""

    @property
    def ok(self) -> bool:
        """True when the frame was accepted."""
        return self.message is not None


def _payload(msg: Detection | Heartbeat | Ack) -> tuple[str, list]:
    if isinstance(msg, Detection):
        return "det", [msg.t_ns, msg.sigma_s, msg.snr_db, msg.peak_dbfs, msg.p_gunshot, msg.kind]
    if isinstance(msg, Heartbeat):
        return "hb", [
            msg.sent_ns, msg.noise_floor_dbfs, msg.clock_state, msg.clock_drift_ppm, msg.clock_jitter_s,
            msg.spool_depth, msg.dropped_blocks, msg.uptime_s, msg.audio_ns,
        ]
    if isinstance(msg, Ack):
        return "ack", [msg.status]
    raise TypeError(f"not a wire message: {type(msg).__name__}")


def encode_frame(msg: Detection | Heartbeat | Ack, key: bytes) -> bytes:
    """Serialise and sign one message (body + MAC, without the length prefix).

    Parameters
    ----------
    msg : Detection, Heartbeat or Ack
        Its ``sensor_id`` selects whose key signs it; ``seq`` is carried as is.
    key : bytes
        That sensor's secret key (at least 16 bytes).
    """
    kind, payload = _payload(msg)
    body = msgpack.packb([SCHEMA_VERSION, kind, msg.sensor_id, msg.seq, payload], use_bin_type=True)
    return body + hmac.new(key, body, hashlib.sha256).digest()


def length_prefixed(frame: bytes) -> bytes:
    """The frame as it goes on a TCP stream: 4-byte big-endian length, then the frame."""
    return LENGTH_PREFIX.pack(len(frame)) + frame


def decode_frame(frame: bytes, keys, allowed: tuple[str, ...] = ("det", "hb", "ack")) -> Decoded:
    """Check and decode one frame; never raises on bad input.

    Parameters
    ----------
    frame : bytes
        Body + MAC, as produced by :func:`encode_frame`.
    keys : mapping of str to bytes
        Secret key of every known sensor (``keys.get(sensor_id)``).
    allowed : tuple of str
        Message kinds this side accepts (the locator: ``det`` and ``hb``; the node: ``ack``).

    Returns
    -------
    Decoded
        The message, or the reason (``oversized``, ``truncated``, ``malformed``,
        ``bad_version``, ``unknown_kind``, ``wrong_direction``, ``unknown_sensor``,
        ``bad_mac``).  Replays are judged by the receiver, which knows the sequence.
    """
    if len(frame) > MAX_FRAME_BYTES:
        return Decoded(None, "oversized", f"{len(frame)} bytes > {MAX_FRAME_BYTES}")
    if len(frame) <= MAC_BYTES:
        return Decoded(None, "truncated", f"{len(frame)} bytes, no room for the MAC")
    body, mac = frame[:-MAC_BYTES], frame[-MAC_BYTES:]
    try:
        obj = msgpack.unpackb(body, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several types (ExtraData, ValueError, ...) on junk
        return Decoded(None, "malformed", f"not msgpack: {type(exc).__name__}")
    if not (isinstance(obj, list) and len(obj) == 5):
        return Decoded(None, "malformed", "envelope is not [version, kind, sensor, seq, payload]")
    version, kind, sensor_id, seq, payload = obj
    if not isinstance(version, int) or isinstance(version, bool) or version != SCHEMA_VERSION:
        return Decoded(None, "bad_version", f"schema version {version!r}, expected {SCHEMA_VERSION}")
    if not isinstance(sensor_id, str) or not 0 < len(sensor_id) <= MAX_SENSOR_ID_CHARS:
        return Decoded(None, "malformed", "sensor id is not short text")
    if not isinstance(kind, str) or kind not in _KINDS:  # a list or map here is not hashable
        return Decoded(None, "unknown_kind", f"kind {str(kind)[:16]!r}", sensor_id)
    if kind not in allowed:
        return Decoded(None, "wrong_direction", f"kind {kind!r} not accepted here", sensor_id)
    key = keys.get(sensor_id)
    if key is None:
        return Decoded(None, "unknown_sensor", f"sensor {sensor_id!r} has no key", sensor_id)
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
        return Decoded(None, "bad_mac", f"MAC does not match sensor {sensor_id!r}'s key", sensor_id)
    if not (_is_int(seq) and 0 <= seq < _INT64 and isinstance(payload, list)):
        return Decoded(None, "malformed", "seq or payload of the wrong type", sensor_id)
    try:
        msg = _build(kind, sensor_id, seq, payload)
    except (TypeError, ValueError) as exc:
        return Decoded(None, "malformed", f"{kind} payload: {exc}", sensor_id)
    return Decoded(msg, sensor_id=sensor_id)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int(v: object, name: str, lo: int = -_INT64, hi: int = _INT64) -> int:
    if not _is_int(v) or not lo <= v < hi:
        raise ValueError(f"{name} is not an integer in range")
    return v  # type: ignore[return-value]


def _float(v: object, name: str, finite: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{name} is not a number")
    f = float(v)
    if finite and not math.isfinite(f):
        raise ValueError(f"{name} is not finite")
    return f


def _build(kind: str, sensor_id: str, seq: int, p: list) -> Detection | Heartbeat | Ack:
    if kind == "det":
        if len(p) != 6:
            raise ValueError("expected 6 fields")
        sigma = _float(p[1], "sigma_s", finite=True)
        if not 0 < sigma < 10:
            raise ValueError("sigma_s out of range")
        if p[5] not in DETECTION_KINDS:
            raise ValueError("kind not one of DETECTION_KINDS")
        p_gun = _float(p[4], "p_gunshot")
        if not (math.isnan(p_gun) or 0.0 <= p_gun <= 1.0):
            raise ValueError("p_gunshot outside 0..1")
        return Detection(
            sensor_id, _int(p[0], "t_ns", 0), sigma, seq, _float(p[2], "snr_db"), _float(p[3], "peak_dbfs"), p_gun,
            p[5],
        )
    if kind == "hb":
        if len(p) != 9:
            raise ValueError("expected 9 fields")
        if p[2] not in CLOCK_STATES:
            raise ValueError("clock_state unknown")
        return Heartbeat(
            sensor_id, seq, _int(p[0], "sent_ns", 0), _float(p[1], "noise_floor_dbfs"), p[2],
            _float(p[3], "clock_drift_ppm"), _float(p[4], "clock_jitter_s"), _int(p[5], "spool_depth", 0),
            _int(p[6], "dropped_blocks", 0), _float(p[7], "uptime_s"), _int(p[8], "audio_ns", 0),
        )
    if len(p) != 1 or p[0] not in ACK_STATUSES:
        raise ValueError(f"ack status must be one of {ACK_STATUSES}")
    return Ack(sensor_id, seq, p[0])


def parse_key(text: str, what: str = "key") -> bytes:
    """A sensor key from its hex text (at least 16 bytes = 32 hex digits).

    Raises
    ------
    salvo.errors.ConfigError
        Naming ``what`` (never echoing the key).
    """
    from salvo.errors import ConfigError

    try:
        key = bytes.fromhex(str(text).strip())
    except ValueError:
        raise ConfigError(f"{what}: not hexadecimal text") from None
    if len(key) < 16:
        raise ConfigError(f"{what}: a key needs at least 16 bytes (32 hex digits), got {len(key)}")
    return key

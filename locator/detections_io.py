"""Detection logs: JSON Lines, one :class:`~sensor_node.protocol.Detection` a line.

``{"sensor_id": "S07", "t_utc": "2026-07-04T21:15:03.123456Z", "sigma_s": 0.001, "snr_db": 23.1,
"peak_dbfs": -12.0, "p_gunshot": 0.97, "kind": "blast"}`` -- only ``sensor_id`` and ``t_utc``
are required (../shared/DESIGN.md).  Blank lines and lines starting with ``#`` are skipped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from salvo.errors import InputError, where
from salvo.utc import format_utc_ns, parse_utc_ns
from sensor_node.protocol import DETECTION_KINDS, Detection

_OPTIONAL_FLOATS = ("sigma_s", "snr_db", "peak_dbfs", "p_gunshot")
#: Fields every log ``salvo analyze`` writes carries (DESIGN.md).
_ALWAYS = ("sigma_s", "snr_db", "p_gunshot")


@dataclass(frozen=True, slots=True)
class DetectionLog:
    """What a detection log held.

    Attributes
    ----------
    detections : tuple of Detection
        In file order.
    problems : tuple of str
        Broken lines skipped (only with ``keep_going``), each ``file:line: reason``.
    """

    detections: tuple[Detection, ...]
    problems: tuple[str, ...] = ()


def parse_detection(obj: object, path: Path | str, line: int) -> Detection:
    """One decoded JSON line to a Detection; raises InputError naming file and line."""
    if not isinstance(obj, dict):
        raise InputError(f"{where(path, line)}: expected a JSON object")
    for key in ("sensor_id", "t_utc"):
        if key not in obj:
            raise InputError(f"{where(path, line, key)}: missing")
    sid = obj["sensor_id"]
    if not isinstance(sid, (str, int)) or not str(sid).strip():
        raise InputError(f"{where(path, line, 'sensor_id')}: {sid!r} is not an id")
    t_ns = parse_utc_ns(str(obj["t_utc"]), what=where(path, line, "t_utc"))
    kw = {}
    for key in _OPTIONAL_FLOATS:
        if key in obj and obj[key] is not None:
            v = obj[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InputError(f"{where(path, line, key)}: {v!r} is not a number")
            kw[key] = float(v)
    if "sigma_s" in kw and not (kw["sigma_s"] > 0 and math.isfinite(kw["sigma_s"])):
        raise InputError(f"{where(path, line, 'sigma_s')}: {kw['sigma_s']!r} must be a positive number")
    kind = obj.get("kind", "impulse")
    if kind not in DETECTION_KINDS:
        raise InputError(f"{where(path, line, 'kind')}: {kind!r} is not one of {', '.join(DETECTION_KINDS)}")
    seq = obj.get("seq", 0)
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise InputError(f"{where(path, line, 'seq')}: {seq!r} is not an integer")
    return Detection(str(sid).strip(), t_ns, seq=seq, kind=kind, **kw)


def read_detections(path: str | Path, *, keep_going: bool = False) -> DetectionLog:
    """Read a detection log.

    Parameters
    ----------
    path : str or Path
    keep_going : bool
        Skip broken lines and report them in ``problems`` instead of raising on the first.

    Raises
    ------
    InputError
        Missing or unreadable file; a broken line (``file:line: reason``) unless ``keep_going``.
    """
    path = Path(path)
    dets: list[Detection] = []
    problems: list[str] = []
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{where(path)}: file not found") from None
    except OSError as exc:
        raise InputError(f"{where(path)}: cannot read: {exc}") from exc
    with fh:
        try:
            for line_no, text in enumerate(fh, start=1):
                text = text.strip()
                if not text or text.startswith("#"):
                    continue
                try:
                    try:
                        obj = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise InputError(f"{where(path, line_no)}: not valid JSON: {exc.msg} (column {exc.colno})") from None
                    dets.append(parse_detection(obj, path, line_no))
                except InputError as exc:
                    if not keep_going:
                        raise
                    problems.append(str(exc))
        except UnicodeDecodeError as exc:
            raise InputError(f"{where(path)}: not UTF-8 text: {exc}") from exc
    return DetectionLog(tuple(dets), tuple(problems))


def detection_dict(d: Detection) -> dict:
    """A Detection as one log line's object (``sigma_s``, ``snr_db``, ``p_gunshot`` and ``kind``
    always, null when unknown; ``peak_dbfs`` when known)."""
    out: dict = {"sensor_id": d.sensor_id, "t_utc": format_utc_ns(d.t_ns, 9)}
    for key in _OPTIONAL_FLOATS:
        v = getattr(d, key)
        if math.isfinite(v):
            out[key] = round(v, 9) if key == "sigma_s" else round(v, 4)
        elif key in _ALWAYS:
            out[key] = None
    out["kind"] = d.kind
    if d.seq:
        out["seq"] = d.seq
    return out


def write_detections(path: str | Path, detections: Iterable[Detection]) -> int:
    """Write a detection log, in time order; returns the number of lines written."""
    path = Path(path)
    rows = sorted(detections, key=lambda d: (d.t_ns, d.sensor_id))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            for d in rows:
                fh.write(json.dumps(detection_dict(d), separators=(", ", ": ")) + "\n")
    except OSError as exc:
        raise InputError(f"{where(path)}: cannot write: {exc}") from exc
    return len(rows)

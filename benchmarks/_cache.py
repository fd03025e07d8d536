"""Keep a benchmark's cached outputs (simulated audio, detections) tied to the code that made them.

A benchmark that reuses a cache made by older code quotes figures nobody can reproduce: session 8
found the gunfight's and the Pittsburgh audio's cached detections made before the detector's 5 ms
sigma cap.  Each cache folder carries a stamp, a hash of the source files its contents depend on;
a missing or different stamp makes the benchmark build the contents again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAMP = "MADE_BY"

#: What simulated recording sets depend on (the code and its preset scenarios).
SIM = ("sim",)
#: What the node's detections of a recording set depend on: the detector, the node's pipeline,
#: how ``salvo analyze`` reads the audio and runs them, and the detection log format.
DETECTOR = ("dsp", "sensor_node/pipeline.py", "locator/analyze.py", "locator/recording_set.py",
            "locator/detections_io.py")
#: Files whose contents count: code, and the data it reads (scenarios, classifier weights).
SUFFIXES = (".py", ".json", ".toml")


def fingerprint(parts: tuple[str, ...]) -> str:
    """sha256 of the ``SUFFIXES`` files of ``parts`` (folders or files, relative to the repository)."""
    h = hashlib.sha256()
    for part in parts:
        p = REPO / part
        files = sorted(q for q in p.rglob("*") if q.suffix in SUFFIXES) if p.is_dir() else [p]
        for q in files:
            h.update(str(q.relative_to(REPO)).encode())
            h.update(q.read_bytes())
    return h.hexdigest()


def current(folder: Path, name: str, parts: tuple[str, ...]) -> bool:
    """Whether ``folder``'s ``name`` outputs were made by the present code of ``parts``."""
    stamp = folder / f"{STAMP}.{name}"
    return stamp.exists() and stamp.read_text().strip() == fingerprint(parts)


def mark(folder: Path, name: str, parts: tuple[str, ...]) -> None:
    """Record that ``folder``'s ``name`` outputs were made by the present code of ``parts``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{STAMP}.{name}").write_text(fingerprint(parts) + "\n")

"""Simulated recording sets and their detections, kept between benchmark runs (``_cache``).

``simulated(preset, seed, root)`` writes the preset's recording set once; ``detections(root)``
runs the node's detector over it as ``salvo analyze`` does, once.  Both are made again when
the code they depend on changes.
"""

from __future__ import annotations

from pathlib import Path

from _cache import DETECTOR, SIM, current, mark


def simulated(preset: str, seed: int, root: Path) -> Path:
    """The recording set (wgs84 frame) of ``preset`` at ``seed`` in ``root``, simulated if needed."""
    from sim.presets import load_preset
    from sim.recording import write_recording_set
    from sim.render import simulate

    if not ((root / "truth.json").exists() and current(root, "sim", SIM)):
        write_recording_set(simulate(load_preset(preset), seed), root, frame="wgs84")
        mark(root, "sim", SIM)
    return root


def detections(root: Path) -> tuple[list, bool]:
    """The node detector's detections of the recording set in ``root``, and whether they were cached.

    Kept in ``root/detections.jsonl`` (the ``--detections`` log of ``salvo analyze``).
    """
    from locator.analyze import detect_recordings
    from locator.detections_io import read_detections, write_detections
    from locator.recording_set import load_recording_set

    cache = root / "detections.jsonl"
    if cache.exists() and current(root, "detections", SIM + DETECTOR):
        return list(read_detections(cache).detections), True
    dets = detect_recordings(load_recording_set(root).recordings)
    write_detections(cache, dets)
    mark(root, "detections", SIM + DETECTOR)
    return dets, False

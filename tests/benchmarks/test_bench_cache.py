"""The benchmarks' cache stamps: a cache made by other code is not reused."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("bench_cache", REPO / "benchmarks" / "_cache.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_cache_is_current_only_for_the_code_that_made_it(tmp_path, monkeypatch):
    cache = _load()
    code = tmp_path / "repo"
    (code / "pkg").mkdir(parents=True)
    (code / "pkg" / "a.py").write_text("x = 1\n")
    (code / "pkg" / "notes.txt").write_text("not code\n")
    monkeypatch.setattr(cache, "REPO", code)
    out = tmp_path / "out"
    assert not cache.current(out, "detections", ("pkg",))  # never made
    cache.mark(out, "detections", ("pkg",))
    assert cache.current(out, "detections", ("pkg",))
    assert not cache.current(out, "sim", ("pkg",))  # each kind of output has its own stamp
    (code / "pkg" / "notes.txt").write_text("edited\n")
    assert cache.current(out, "detections", ("pkg",))  # only code and the data it reads count
    (code / "pkg" / "scene.toml").write_text("[incident]\n")
    assert not cache.current(out, "detections", ("pkg",))  # a preset scenario is such data
    (code / "pkg" / "scene.toml").unlink()
    (code / "pkg" / "a.py").write_text("x = 2\n")
    assert not cache.current(out, "detections", ("pkg",))
    (code / "pkg" / "a.py").write_text("x = 1\n")
    (code / "pkg" / "b.json").write_text("{}\n")
    assert not cache.current(out, "detections", ("pkg",))  # a new file changes it too


def test_the_stamped_parts_exist():
    cache = _load()
    for part in cache.SIM + cache.DETECTOR:
        assert (REPO / part).exists(), part

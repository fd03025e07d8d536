"""``salvo dashboard serve`` as a real process: it starts, serves the page, guards the API, stops."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys

import pytest


def _ignore_sigint() -> None:  # what a shell does to a command it starts in the background
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("how", ["ctrl-c", "background, sigint", "sigterm"])
def test_serve_starts_and_guards_the_api(tmp_path, how):
    db = tmp_path / "d.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "salvo.cli", "dashboard", "serve", "--db", str(db), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_ignore_sigint if how.startswith("background") else None,
    )
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, line + proc.stderr.read() if proc.poll() is not None else line
        c = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=30)
        c.request("GET", "/")
        r = c.getresponse()
        assert r.status == 200 and b"<title>Salvo" in r.read()
        c.request("GET", "/api/summary")
        r = c.getresponse()
        r.read()
        assert r.status == 401
        c.close()
    finally:
        proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # never leave a server behind, whatever failed
            proc.kill()
            proc.wait()
            raise
    assert proc.returncode == 0

"""The live-audio path without a microphone: an ALSA ``file`` PCM is a real capture device to PortAudio.

The recipe is in DESIGN.md ("Live audio without a microphone").  PortAudio reads
ALSA's configuration when sounddevice is imported, so the capture runs in a child
process whose HOME holds the ``.asoundrc``.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

from sensor_node.audio import FileSource
from sensor_node.pipeline import detect_array

FS = 16000
T0 = 1_800_000_000 * 10**9

CHILD = textwrap.dedent("""
    import json, sys, threading
    try:
        import sounddevice
    except OSError as exc:
        print(json.dumps({"skip": str(exc)})); sys.exit(0)
    from sensor_node.audio import LiveSource
    from sensor_node.clock import ClockModel
    from sensor_node.pipeline import NodePipeline, nominal_clock
    n_want, fs, t0 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    # The "null" slave has no clock (ADC times are not paced), so detections are stamped
    # with the stream's sample index on a nominal clock and compared sample for sample;
    # the ADC times still go through the clock model to exercise it.
    nominal = nominal_clock(t0, fs)
    adc = []
    import numpy as np
    NodePipeline("WARM", fs).process(np.zeros(4096, np.float32), ClockModel(fs).add_anchor(0, 0))  # compile first
    stop = threading.Event()
    # ALSA's "null" slave has no clock: the file is read as fast as the callback runs, so queue generously.
    src = LiveSource("salvofile", fs, 1024, queue_blocks=8192, stop=stop)
    clock = ClockModel(fs)
    pipe = NodePipeline("LIVE", fs)
    dets, adc_seen, first = [], 0, None
    for block in src.blocks():
        if block.adc_utc_ns is not None:
            adc_seen += 1
            adc.append(block.adc_utc_ns)
            clock.add_anchor(block.index, block.adc_utc_ns)
        fit = clock.fit(block.index)
        dets += pipe.process(block.samples[: max(n_want - pipe.samples_seen, 0)], nominal)
        if pipe.samples_seen >= n_want and not stop.is_set():
            stop.set()
            dropped_at_end = src.dropped_blocks
    dets += pipe.flush(nominal)
    print(json.dumps({"dets": [repr(d) for d in dets], "samples": pipe.samples_seen, "adc_blocks": adc_seen,
                      "adc_monotonic": all(b >= a for a, b in zip(adc, adc[1:])), "dropped": dropped_at_end,
                      "state": fit.state}))
""")


def _impulses(rng, n):
    x = rng.normal(0, 2e-3, n)
    for at in (FS // 2, 3 * FS // 2 + 321, 2 * FS + 4000):
        if at + 1500 > n:
            continue
        k = np.arange(1500)
        x[at : at + 1500] += 0.5 * np.exp(-k / 150.0) * np.sign(np.sin(k / 5.0 + 0.3))
    return np.clip(x, -1, 1)


def test_live_capture_from_alsa_file_device(tmp_path, rng):
    n = 3 * FS
    codes = np.round(_impulses(rng, n) * 32767).astype("<i2")
    raw = tmp_path / "in.raw"
    codes.tofile(raw)
    (tmp_path / ".asoundrc").write_text(
        f'pcm.salvofile {{ type file  slave.pcm "null"  file "/dev/null"  infile "{raw}"  format "raw"\n'
        '  hint { show on  description "file-backed capture" } }\n'
    )
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(__import__("pathlib").Path(__file__).parents[2])}
    r = subprocess.run([sys.executable, "-c", CHILD, str(n), str(FS), str(T0)], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if "skip" in out:
        pytest.skip(f"PortAudio is not installed here: {out['skip']}")
    offline = detect_array("LIVE", codes.astype(np.float32) / 32768.0, FS, T0)
    assert out["samples"] >= n and out["dropped"] == 0
    # Every sample arrived, in order: the live path finds exactly what the offline detector finds.
    assert len(offline) >= 3 and out["dets"] == [repr(d) for d in offline]
    assert out["adc_blocks"] >= n // 1024 and out["adc_monotonic"] and out["state"] in ("locked", "reanchored")


def test_file_source_paces_and_stamps(tmp_path, rng):
    x = _impulses(rng, FS)
    sf.write(tmp_path / "a.wav", x, FS, subtype="PCM_16")
    import time

    t = time.monotonic()
    blocks = list(FileSource(tmp_path / "a.wav", 4000, speed=4.0, start_ns=T0).blocks())
    took = time.monotonic() - t
    assert 0.2 <= took < 1.0  # 1 s of audio at 4x
    assert [b.index for b in blocks] == [0, 4000, 8000, 12000]
    assert blocks[2].adc_utc_ns == T0 + 500_000_000
    assert np.allclose(np.concatenate([b.samples for b in blocks]), x, atol=1 / 32768)

"""How fast the simulator makes recordings: seconds of 48 kHz audio written per second.

Scene: the small-city preset (16 sensors, buildings, echoes, reverberant tails, traffic and
wind noise) with every sensor at 48 kHz and the incidents of its first ``--duration`` seconds (default 90: all of it).
Baselines in the same run: generating only the ambient noise of the same recordings, and
writing the same WAVs with soundfile (the cost of the output alone).

    python benchmarks/bench_sim.py [--duration 90] [--seed 1]

Wall time on a shared machine varies with load; CPU time (process) is printed beside it.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim import noise  # noqa: E402
from sim.presets import load_preset  # noqa: E402
from sim.recording import write_recording_set  # noqa: E402
from sim.render import simulate  # noqa: E402


def scene(duration_s: float):
    scn = load_preset("small-city")
    incidents = tuple(i for i in scn.incidents if i.t_s < duration_s - 8.0) if duration_s < scn.duration_s else scn.incidents
    info = dataclasses.replace(scn.info, duration_s=duration_s)
    defaults = dataclasses.replace(scn.sensor_defaults, fs_hz=48000)
    return dataclasses.replace(scn, info=info, sensor_defaults=defaults, incidents=incidents)


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=90.0, help="seconds of audio per sensor (90: all of small-city)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    scn = scene(args.duration)
    n_sensors = scn.layout.count + len(scn.sensors)
    audio_s = n_sensors * args.duration
    fs = 48000
    n = int(args.duration * fs)
    tmp = Path(tempfile.mkdtemp(prefix="bench_sim."))
    try:
        # Warm-up: numba kernels and FFT plans are not what this measures.
        simulate(dataclasses.replace(scn, info=dataclasses.replace(scn.info, duration_s=2.0), incidents=()), seed=0)

        _, w_noise, c_noise = timed(lambda: [noise.ambient(n, fs, np.random.default_rng([args.seed, i]), scn.noise,
                                                            scn.environment.wind_speed_mps, 30.0) for i in range(n_sensors)])
        result, w_sim, c_sim = timed(lambda: simulate(scn, seed=args.seed))
        _, w_write, c_write = timed(lambda: write_recording_set(result, tmp / "set", frame="wgs84"))

        import soundfile as sf

        def plain_write():
            for rec in result.sensors:
                sf.write(tmp / f"plain_{rec.sensor_id}.wav", rec.audio, rec.fs_hz, subtype="PCM_16")

        _, w_plain, c_plain = timed(plain_write)
        size_mb = sum(p.stat().st_size for p in (tmp / "set").iterdir()) / 1e6
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    n_shots = len(result.truth.shots)
    n_conf = len(result.truth.confusers)
    print(f"scene: {n_sensors} sensors x {args.duration:g} s at 48 kHz = {audio_s:g} s of audio; "
          f"{n_shots} shots, {n_conf} confuser sounds, {len(result.arrivals)} arrivals, {result.buildings.shape[0]} buildings; "
          f"{size_mb:.0f} MB written")
    rows = [
        ("soundfile: write the WAVs only (baseline)", w_plain, c_plain),
        ("ambient noise only (baseline)", w_noise, c_noise),
        ("simulate (in memory)", w_sim, c_sim),
        ("write_recording_set", w_write, c_write),
        ("simulate + write (salvo sim)", w_sim + w_write, c_sim + c_write),
    ]
    print(f"{'stage':44s} {'wall s':>8s} {'cpu s':>8s} {'audio s / wall s':>17s} {'audio s / cpu s':>16s} {'cpu x write-only':>17s}")
    for name, w, c in rows:
        print(f"{name:44s} {w:8.2f} {c:8.2f} {audio_s / w:17.1f} {audio_s / c:16.1f} {c / c_plain:17.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How fast the simulator makes recordings: seconds of 48 kHz audio written per second.

Scene: the small-city preset (16 sensors, buildings, echoes, reverberant tails, traffic and
wind noise) with every sensor at 48 kHz and the incidents of its first ``--duration`` seconds (default 90: all of it).
Baselines in the same run: generating only the ambient noise of the same recordings, and
writing the same WAVs with soundfile (the cost of the output alone).

    python benchmarks/bench_sim.py [--duration 90] [--seed 1]
    python benchmarks/bench_sim.py --coda     # realism: reverberant codas, real (Pittsburgh) vs simulated

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


def coda_db(x: np.ndarray, i: int, fs: int) -> float | None:
    """Energy 5–300 ms after sample ``i`` over the 4 ms around it, dB, less the noise before it (None if unusable)."""
    if abs(x[i]) > 0.9 or i < fs // 2 or i + int(0.6 * fs) > x.size:
        return None  # clipped, or too near an end
    noise = np.mean(x[i - fs // 2 : i - fs // 4] ** 2)
    blast = np.sum(x[i - int(0.001 * fs) : i + int(0.003 * fs)] ** 2)
    coda = np.sum(x[i + int(0.005 * fs) : i + int(0.3 * fs)] ** 2) - noise * int(0.295 * fs)
    return float(10 * np.log10(coda / blast)) if blast > 0 and coda > 0 else None


def coda_table(seed: int) -> int:
    """Reverberant coda of real gunshots (Pittsburgh) against the simulator's at several reverb_db settings."""
    import glob

    import soundfile as sf

    from sim.scenario import parse_scenario

    def row(name, values):
        v = np.array([x for x in values if x is not None])
        if v.size == 0:
            print(f"{name:52s} {'-':>5s}")
            return
        p10, p50, p90 = np.percentile(v, [10, 50, 90])
        print(f"{name:52s} {v.size:5d} {p50:8.1f} {p10:8.1f} {p90:8.1f}")

    print("coda (5-300 ms) over blast (4 ms) energy of unclipped gunshot recordings, dB")
    print(f"{'source':52s} {'n':>5s} {'median':>8s} {'p10':>8s} {'p90':>8s}")
    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "pittsburgh-livefire-dev"
    real = []
    for wav in sorted(glob.glob(str(data / "FP*" / "test_*" / "*.wav"))):
        x, fs = sf.read(wav)
        real.append(coda_db(x, int(np.argmax(np.abs(x))), fs))  # the loudest pulse of a 10 s file: a round
    row("ShotSpotter Pittsburgh FP1-FP3 (12 kHz), real", real)
    base = (Path(__file__).resolve().parents[1] / "sim" / "scenarios" / "small-city.toml").read_text()
    if "\nreverb_db = -12.0\n" not in base:
        raise SystemExit("bench_sim --coda: small-city.toml no longer sets reverb_db = -12.0; update this script")
    for db in (-20.0, -12.0, 0.0, 6.0):
        text = base.replace("\nreverb_db = -12.0\n", f"\nreverb_db = {db}\n")
        res = simulate(parse_scenario(text, "small-city"), seed=seed)
        firsts = {}
        isolated = {s.event for s in res.truth.shots if s.incident in (0, 1)}  # rounds >= 0.45 s apart
        for a in res.arrivals:
            if a.event in isolated and a.path in ("direct", "diffracted"):
                firsts[(a.sensor_id, a.event)] = a.sample
        recs = {r.sensor_id: r for r in res.sensors}
        values = []
        for (sid, _), sample in firsts.items():
            x = recs[sid].audio.astype(float)
            i0 = int(sample)
            i = i0 - 32 + int(np.argmax(np.abs(x[max(i0 - 32, 0) : i0 + int(0.05 * recs[sid].fs_hz)])))
            values.append(coda_db(x, i, recs[sid].fs_hz))
        row(f"simulated small-city, isolated rounds, reverb_db {db:+.0f}", values)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=90.0, help="seconds of audio per sensor (90: all of small-city)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--coda", action="store_true", help="instead: compare reverberant codas with the real Pittsburgh audio")
    args = ap.parse_args()
    if args.coda:
        return coda_table(args.seed)
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

"""False shots of a sparse array's association in pure noise, and what each sparse-only step adds.

No source at all: 4 or 6 sensors (the Pittsburgh releases' 4-6) each hear loud sharp impulses
(30 dB SNR, -10 dBFS, 0.5 ms onsets) at random, 1, 2 or 4 a second, and in one setting also
weaker street noise (12 dB SNR), for 20 s per seed.  Every shot reported is false.  The search
runs at the settings ``bench_pittsburgh.py`` uses for the released audio (tolerance 25 ms,
``min_evidence`` 7, ``min_sensors`` 3), which are permissive, with everything on and, as
baselines in the same run, with each of session 16's sparse-only steps switched off:
two-sensor (pinned) repeats (``SPARSE_REPEAT_SENSORS`` 3), ``_Search._blasts_before`` and
``_Search._stacked_rival``, and all three.

Usage:  python benchmarks/bench_sparse_noise.py [--seeds 6] [--seconds 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from locator import associate as A  # noqa: E402
from sensor_node.protocol import Detection  # noqa: E402

T_BASE = 1_700_000_000 * 10**9
POSITIONS = [(0, 0, 5), (450, 30, 6), (60, 480, 4), (420, 460, 7), (900, 100, 5), (850, 520, 6)]  # m
SETTINGS = ((1.0, 0.0), (2.0, 0.0), (4.0, 0.0), (1.0, 4.0))  # (loud, quiet) impulses a second per sensor


def stream(seed: int, seconds: float, loud_hz: float, quiet_hz: float, n_sensors: int):
    rng = np.random.default_rng(seed)
    sensors = {f"S{i}": np.array(p, float) for i, p in enumerate(POSITIONS[:n_sensors])}
    dets = []
    for sid in sensors:
        for t in rng.uniform(0, seconds, rng.poisson(loud_hz * seconds)):
            dets.append(Detection(sid, T_BASE + int(t * 1e9), sigma_s=0.0005, snr_db=rng.normal(30, 4),
                                  peak_dbfs=rng.normal(-10, 4)))
        for t in rng.uniform(0, seconds, rng.poisson(quiet_hz * seconds)):
            dets.append(Detection(sid, T_BASE + int(t * 1e9), sigma_s=0.0005, snr_db=rng.normal(12, 3),
                                  peak_dbfs=rng.normal(-30, 3)))
    dets.sort(key=lambda d: d.t_ns)
    return dets, sensors


def variants():
    """(name, setup) pairs; each setup switches steps off and returns an undo."""
    def off(pinned=False, blasts=False, stacked=False):
        def setup():
            saved = (A.SPARSE_REPEAT_SENSORS, A._Search._blasts_before, A._Search._stacked_rival)
            if pinned:
                A.SPARSE_REPEAT_SENSORS = 3
            if blasts:
                A._Search._blasts_before = lambda self, mem: None
            if stacked:
                A._Search._stacked_rival = lambda self, anchors, done: None

            def undo():
                A.SPARSE_REPEAT_SENSORS, A._Search._blasts_before, A._Search._stacked_rival = saved
            return undo
        return setup
    return (("all on", off()), ("no pinned repeats", off(pinned=True)), ("no _blasts_before", off(blasts=True)),
            ("no stacked strings", off(stacked=True)), ("none of the three", off(True, True, True)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    cfg = A.AssociationConfig(tolerance_s=0.025, min_sensors=3, min_evidence=7.0)
    names = [name for name, _ in variants()]
    A.associate(*stream(0, 2.0, 1.0, 0.0, 4), cfg)  # compile / load the cached kernels outside the timing
    print(f"false shots in pure noise, {args.seeds} seeds x {args.seconds:g} s each "
          f"(two-sensor shots in brackets; CPU s)")
    print(f"{'sensors':>7s} {'loud/s':>6s} {'quiet/s':>7s} " + " ".join(f"{n:>20s}" for n in names))
    for n_sensors in (4, 6):
        for loud, quiet in SETTINGS:
            streams = [stream(seed, args.seconds, loud, quiet, n_sensors) for seed in range(args.seeds)]
            cells = []
            for _, setup in variants():
                undo = setup()
                try:
                    t = time.process_time()
                    shots = [q for dets, sensors in streams for q in A.associate(dets, sensors, cfg)]
                    cpu = time.process_time() - t
                finally:
                    undo()
                two = sum(len(q.detections) == 2 for q in shots)
                cells.append(f"{len(shots):4d} ({two}) {cpu:5.1f} s")
            print(f"{n_sensors:7d} {loud:6g} {quiet:7g} " + " ".join(f"{c:>20s}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())

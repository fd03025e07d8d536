"""Real audio: do our picks find the pulses ShotSpotter's own sensors reported for each shot, and when?

For every test of the Pittsburgh live-fire dev set and every sensor whose audio is released, the pulses of that
sensor named in ``nlos-tuples.json`` (ShotSpotter's grouping of pulses into shots) are the targets.  A target is
found when one of our picks (any kind but ``secondary``) lies within ``--tol-ms`` of it; we report recall, the
median and p90 |time difference| (their times have 1 ms resolution), and the share of found pulses that the
classifier calls gunfire (p_gunshot >= 0.5), per firing position.  The classifier is trained on FP1+FP2 only
(training/train_classifier.py), so FP3 is the held-out row for classification.

    python benchmarks/bench_pittsburgh_picks.py [--root ../shared/data/pittsburgh-livefire-dev] [--tol-ms 10]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dsp  # noqa: E402
from locator.pittsburgh import iter_tests  # noqa: E402


def match_test(test, tol_s: float, config=None):
    """Per target pulse of one test: (firing position, found, dt_s, p_gunshot, kind)."""
    in_tuples = {u for tup in test.tuples for u in tup}
    rows = []
    for sensor in test.sensors:
        audio, fs = sf.read(str(sensor.wav_path), dtype="float32", always_2d=True)
        picks = [p for p in dsp.detect(audio[:, 0], fs, config) if p.kind != "secondary"]
        times = np.array([p.onset_sample / fs for p in picks])
        for pulse in test.pulses:
            if pulse.serial != sensor.serial or pulse.uuid not in in_tuples:
                continue
            t = (pulse.t_ns - sensor.start_ns) / 1e9
            i = int(round(t * fs))
            if not np.any(audio[max(i - fs // 50, 0) : i + fs // 50, 0]):
                # the released file is digital silence there (some recordings stop early): not in the audio
                rows.append((test.survey.firing_position, None, np.nan, np.nan, ""))
                continue
            if times.size == 0:
                rows.append((test.survey.firing_position, False, np.nan, np.nan, ""))
                continue
            k = int(np.argmin(np.abs(times - t)))
            dt = times[k] - t
            ok = abs(dt) <= tol_s
            rows.append((test.survey.firing_position, ok, dt if ok else np.nan,
                         picks[k].p_gunshot if ok else np.nan, picks[k].kind if ok else ""))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(REPO.parent / "shared" / "data" / "pittsburgh-livefire-dev"))
    ap.add_argument("--tol-ms", type=float, default=10.0)
    args = ap.parse_args(argv)
    if not Path(args.root).is_dir():
        print(f"no data at {args.root}")
        return 1
    by_fp = defaultdict(list)
    for test in iter_tests(args.root):
        for row in match_test(test, args.tol_ms / 1e3):
            by_fp[row[0]].append(row)
    print(f"Pittsburgh dev set: ShotSpotter tuple pulses of the released sensors, matched within {args.tol_ms:g} ms")
    print(f"{'set':<8}{'no audio':>9}{'pulses':>8}{'found':>8}{'recall':>9}{'med|dt| ms':>12}{'p90|dt| ms':>12}{'gunfire':>9}")
    for name in sorted(by_fp) + ["all"]:
        rows = [r for fp in sorted(by_fp) for r in by_fp[fp]] if name == "all" else by_fp[name]
        silent = sum(r[1] is None for r in rows)
        rows = [r for r in rows if r[1] is not None]
        found = [r for r in rows if r[1]]
        dt = np.abs([r[2] for r in found]) * 1e3
        p = np.array([r[3] for r in found])
        gun = f"{np.mean(p >= 0.5):.1%}" if p.size and np.isfinite(p).all() else "n/a"
        med = f"{np.median(dt):.2f}" if dt.size else "n/a"
        p90 = f"{np.percentile(dt, 90):.2f}" if dt.size else "n/a"
        print(f"{name:<8}{silent:>9}{len(rows):>8}{len(found):>8}{len(found) / max(len(rows), 1):>9.1%}{med:>12}{p90:>12}{gun:>9}")
    print("no audio = tuple pulses where the released file is digital silence (left out of the recall)")
    print("gunfire = share of found pulses with p_gunshot >= 0.5; classifier trained on FP1+FP2 (FP3 held out)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train the gunshot classifier shipped in dsp/classifier_weights.json.  One command, seeded, reproducible:

    python training/train_classifier.py [--cache /tmp/salvo-train] [--jobs 2]

Data: the detector's picks on simulator cases of TRAIN_SEEDS (training/simdata.py; every weapon and confuser kind,
12-48 kHz, random noise, echoes and buildings) and on the real Pittsburgh audio of FP1 and FP2 only (picks within
10 ms of a pulse ShotSpotter grouped into a shot are gunfire).  FP3 and EVAL_SEEDS are never read here: they are
the held-out sets of benchmarks/bench_classifier.py and benchmarks/bench_pittsburgh_picks.py.

Labels: gunfire = the first pick of a shot at a sensor (direct or diffracted path; N-waves too: they are gunfire)
and Pittsburgh tuple pulses; not gunfire = the first pick of every confuser and picks on plain ambience.

Model: a one-hidden-layer MLP (tanh) on standardised features (dsp.classifier.model_inputs), trained full-batch
with Adam on class-balanced cross-entropy plus L2, fixed seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import simdata  # noqa: E402

from dsp.classifier import WEIGHTS_PATH, NeuralModel, model_inputs  # noqa: E402
from dsp.config import DetectorConfig  # noqa: E402
from dsp.features import FEATURE_NAMES  # noqa: E402

HIDDEN = 24
L2 = 1e-3
STEPS = 3000
LR = 0.01
TRAIN_FPS = ("FP1", "FP2")
#: Features do not depend on the classifier; training runs the detector without one (any old weights unread).
UNCLASSIFIED = DetectorConfig(classifier="none")


def case_rows(seed: int, cache: Path | None = None) -> list[tuple]:
    """(features, label, group, kind) rows of one simulated case; label 1 gunfire, 0 not, -1 unused."""
    rows = []
    for lp in simdata.labelled_picks(simdata.simulate_case(seed, cache=cache), UNCLASSIFIED):
        if lp.category == "shot" and (lp.first or lp.path == "nwave"):
            label = 1
        elif lp.category == "confuser" and lp.first:
            label = 0
        elif lp.category == "none":
            label = 0
        else:
            label = -1  # echoes and tails: neither taught as gunfire nor as not
        rows.append((lp.pick.features.as_array(), label, lp.category, lp.kind or "ambience"))
    return rows


def pittsburgh_rows(root: Path, fps: tuple[str, ...]) -> list[tuple]:
    """Gunfire rows from the picks matching ShotSpotter's tuple pulses in firing positions ``fps``."""
    import soundfile as sf

    import dsp
    from locator.pittsburgh import iter_tests

    rows = []
    for test in iter_tests(root, fps):
        in_tuples = {u for tup in test.tuples for u in tup}
        for sensor in test.sensors:
            audio, fs = sf.read(str(sensor.wav_path), dtype="float32", always_2d=True)
            picks = dsp.detect(audio[:, 0], fs, UNCLASSIFIED)
            if not picks:
                continue
            t = np.array([p.onset_sample / fs for p in picks])
            for pulse in test.pulses:
                if pulse.serial == sensor.serial and pulse.uuid in in_tuples:
                    k = int(np.argmin(np.abs(t - (pulse.t_ns - sensor.start_ns) / 1e9)))
                    if abs(t[k] - (pulse.t_ns - sensor.start_ns) / 1e9) <= 0.01:
                        rows.append((picks[k].features.as_array(), 1, "shot", "pittsburgh"))
    return rows


def load_rows(seeds, cache: Path | None, jobs: int) -> list[tuple]:
    """Rows of the simulated cases ``seeds`` (renders cached under ``cache`` when given)."""
    rows = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for s, r in zip(seeds, pool.map(case_rows, seeds, [cache] * len(seeds))):
            print(f"  case {s}: {len(r)} picks", file=sys.stderr)
            rows += r
    return rows


def fit(x: np.ndarray, y: np.ndarray, hidden: int = HIDDEN, seed: int = 0) -> NeuralModel:
    """Fit the MLP (hidden=0: logistic regression) on raw feature rows ``x`` (n, n_features), labels 0/1."""
    z = model_inputs(x)
    mean, scale = z.mean(axis=0), z.std(axis=0) + 1e-9
    z = np.nan_to_num((z - mean) / scale, nan=0.0, posinf=10.0, neginf=-10.0)
    rng = np.random.default_rng(seed)
    sizes = [z.shape[1]] + ([hidden] if hidden else []) + [1]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params += [rng.standard_normal((a, b)) / np.sqrt(a), np.zeros(b)]
    w_pos = 0.5 / max(y.mean(), 1e-9)
    w_neg = 0.5 / max(1.0 - y.mean(), 1e-9)
    weight = np.where(y == 1, w_pos, w_neg) / len(y)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for step in range(1, STEPS + 1):
        acts = [z]
        h = z
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            if k < len(params) - 2:
                h = np.tanh(h)
            acts.append(h)
        p = 1.0 / (1.0 + np.exp(-np.clip(h[:, 0], -50, 50)))
        delta = ((p - y) * weight)[:, None]
        grads = [None] * len(params)
        for k in range(len(params) - 2, -1, -2):
            grads[k] = acts[k // 2].T @ delta + L2 * params[k]
            grads[k + 1] = delta.sum(axis=0)
            if k > 0:
                delta = (delta @ params[k].T) * (1.0 - acts[k // 2] ** 2)
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            params[i] -= LR * (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8)
    layers = tuple((params[k], params[k + 1]) for k in range(0, len(params), 2))
    return NeuralModel(mean, scale, layers)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="train the gunshot classifier (dsp/classifier_weights.json)")
    ap.add_argument("--cache", type=Path, default=None, help="keep the simulator's renders here (reruns are fast)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--pittsburgh", type=Path, default=simdata.REPO.parent / "shared" / "data" / "pittsburgh-livefire-dev")
    ap.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    args = ap.parse_args(argv)
    rows = load_rows(simdata.TRAIN_SEEDS, args.cache, args.jobs)
    n_sim = len(rows)
    if args.pittsburgh.is_dir():
        rows += pittsburgh_rows(args.pittsburgh, TRAIN_FPS)
    x = np.array([r[0] for r in rows], float)
    y = np.array([r[1] for r in rows], int)
    keep = y >= 0
    x, y = x[keep], y[keep]
    model = fit(x, y)
    p = model.predict_many(x)
    acc = float(np.mean((p >= 0.5) == (y == 1)))
    doc = {"model": model.to_json(),
           "trained": {"command": "python training/train_classifier.py", "sim_seeds": list(simdata.TRAIN_SEEDS),
                       "pittsburgh": list(TRAIN_FPS) if args.pittsburgh.is_dir() else [],
                       "n_rows": int(y.size), "n_sim_picks": n_sim, "n_gunfire": int(y.sum()),
                       "hidden": HIDDEN, "l2": L2, "steps": STEPS, "train_accuracy": round(acc, 4)}}
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}: {y.size} rows ({int(y.sum())} gunfire), training accuracy {acc:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Labelled detections from the simulator, for training the classifier and for the dsp benchmarks.

A *case* is one seeded scenario (``scenario_text(seed, ...)``): a handful of sensors over a few hundred metres of
city with random buildings, and a random sequence of events spaced a few seconds apart: shots (every weapon,
single / semi / automatic) and confusers of every kind.  :func:`labelled_picks` runs the detector on every
sensor and labels each pick with the true arrival it belongs to.

Seeds are the split: training uses :data:`TRAIN_SEEDS`, benchmarks use :data:`EVAL_SEEDS` (disjoint).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import dsp  # noqa: E402
from sim.render import simulate  # noqa: E402
from sim.scenario import parse_scenario  # noqa: E402
from sim.sources import WEAPONS  # noqa: E402

TRAIN_SEEDS = tuple(range(1000, 1080))
EVAL_SEEDS = tuple(range(5000, 5020))
CONFUSERS = ("firecracker_string", "firework", "door_slam", "backfire", "nail_gun")
FS_CHOICES = (12000, 16000, 24000, 48000)


def scenario_text(seed: int, fs_hz: int | None = None, n_events: int = 10, duration_s: float = 40.0) -> str:
    """TOML of one random case (see the module docstring); deterministic in ``seed``."""
    rng = np.random.default_rng([seed, 77])
    fs = int(fs_hz or rng.choice(FS_CHOICES))
    noise_db = rng.uniform(40.0, 62.0)
    traffic = rng.uniform(0.0, 68.0)
    temp = rng.uniform(-5.0, 30.0)
    wind = rng.uniform(0.0, 6.0)
    lines = [
        "[scenario]", f'name = "train-{seed}"', f"duration_s = {duration_s}",
        "[environment]", f"temperature_c = {temp:.1f}", f"wind_speed_mps = {wind:.1f}",
        "[noise]", f"level_db_spl = {noise_db:.1f}", f'color = "{rng.choice(["pink", "white", "brown"])}"',
        f"traffic_db_spl = {traffic:.1f}",
        "[propagation]", f"max_echoes = {int(rng.integers(0, 6))}", f"reverb = {str(bool(rng.random() < 0.5)).lower()}",
        "[sensor_defaults]", f"fs_hz = {fs}", f"full_scale_db_spl = {rng.uniform(120.0, 140.0):.1f}",
        "[layout]", f"count = {int(rng.integers(3, 7))}", "area_m = [700.0, 700.0]", "jitter_m = 60.0",
        "[buildings_random]", f"count = {int(rng.integers(0, 20))}", "area_m = [800.0, 800.0]",
    ]
    t = 1.5
    for k in range(n_events):
        x, y = rng.uniform(-350.0, 350.0, 2)
        lines += ["[[incident]]", f'name = "e{k}"', f"t_s = {t:.3f}"]
        if rng.random() < 0.5:
            weapon = str(rng.choice(list(WEAPONS)))
            mode = rng.choice(["single", "single", "semi", "auto"])
            sched = {"single": '{ kind = "single" }',
                     "semi": f'{{ kind = "semi", rounds = {int(rng.integers(2, 5))}, interval_s = {rng.uniform(0.3, 0.8):.2f} }}',
                     "auto": f'{{ kind = "auto", rounds = {int(rng.integers(3, 8))}, rate_rpm = {rng.uniform(500, 1000):.0f} }}'}[mode]
            lines += ["  [[incident.shooter]]", f"  x_m = {x:.1f}", f"  y_m = {y:.1f}", f'  weapon = "{weapon}"',
                      f"  aim_deg = {rng.uniform(0, 360):.0f}", f"  schedule = [{sched}]"]
            t += 4.0
        else:
            kind = str(rng.choice(CONFUSERS))
            extra = ""
            if kind == "firecracker_string":
                extra = f"count = {int(rng.integers(3, 12))}\n  interval_s = {rng.uniform(0.06, 0.3):.2f}"
            elif kind == "nail_gun":
                extra = f"count = {int(rng.integers(1, 5))}\n  interval_s = {rng.uniform(0.3, 1.0):.2f}"
            elif kind == "firework":
                extra = f"burst_delay_s = {rng.uniform(2.0, 3.5):.2f}"
            lines += ["  [[incident.confuser]]", f'  kind = "{kind}"', f"  x_m = {x:.1f}", f"  y_m = {y:.1f}", f"  {extra}"]
            t += 6.0 if kind == "firework" else 4.0
        if t > duration_s - 3.0:
            break
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class LabelledPick:
    """One detector pick with its truth.

    Attributes
    ----------
    seed : int
    sensor_id : str
    fs_hz : int
    pick : dsp.Pick
    category : str
        ``shot``, ``confuser`` or ``none`` (no true arrival within the tolerance: noise).
    kind : str
        Weapon or confuser kind ('' for none).
    path : str
        Path of the nearest true arrival (``direct``, ``diffracted``, ``nwave``, ``echo``, ``ground``, '').
    first : bool
        The pick is the nearest to the event's earliest non-N-wave arrival at this sensor.
    err_s : float
        Pick time minus that earliest non-N-wave arrival (s); NaN when ``first`` is False.
    """

    seed: int
    sensor_id: str
    fs_hz: int
    pick: object
    category: str
    kind: str
    path: str
    first: bool
    err_s: float


def simulate_case(seed: int, fs_hz: int | None = None, cache: Path | None = None, **kw):
    """Render the case of ``seed`` (kept as a pickle under ``cache`` when given: renders are the slow part)."""
    import pickle

    text = scenario_text(seed, fs_hz, **kw)
    path = None
    if cache is not None:
        import hashlib

        path = Path(cache) / f"sim-{seed}-{hashlib.sha1(text.encode()).hexdigest()[:10]}.pkl"
        if path.exists():
            return pickle.loads(path.read_bytes())
    result = simulate(parse_scenario(text, f"<case {seed}>"), seed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(result))
    return result


def labelled_picks(result, config=None, tol_s: float = 3e-3) -> list[LabelledPick]:
    """Run :func:`dsp.detect` on every sensor of ``result`` and label each pick from the true arrivals."""
    events = {e.index: e for e in result.events}
    out = []
    for rec in result.sensors:
        fs = rec.fs_hz
        arr = [a for a in result.arrivals if a.sensor_id == rec.sensor_id]
        samples = np.array([a.sample for a in arr]) if arr else np.zeros(0)
        first_of = {}
        for a in arr:
            if a.path != "nwave" and (a.event not in first_of or a.sample < first_of[a.event].sample):
                first_of[a.event] = a
        picks = dsp.detect(rec.audio, fs, config)
        onsets = np.array([p.onset_sample for p in picks])
        # the pick nearest to each event's first arrival is that event's "first" pick
        firsts = {}
        for ev, a in first_of.items():
            if onsets.size:
                k = int(np.argmin(np.abs(onsets - a.sample)))
                if abs(onsets[k] - a.sample) <= tol_s * fs:
                    firsts[k] = a
        for k, p in enumerate(picks):
            if samples.size:
                j = int(np.argmin(np.abs(samples - p.onset_sample)))
                near = abs(samples[j] - p.onset_sample) <= tol_s * fs
            else:
                near = False
            if near or k in firsts:
                a = firsts.get(k, arr[j] if near else None)
                ev = events[a.event]
                cat, kind, path = ev.category, ev.kind, a.path
            else:
                # inside an event's sound but not at an arrival (reverberation, crackle): that event's label
                cat, kind, path = "none", "", ""
                for a in first_of.values():
                    if 0 <= p.onset_sample - a.sample <= 0.5 * fs:
                        ev = events[a.event]
                        cat, kind, path = ev.category, ev.kind, "tail"
            first = k in firsts
            err = (p.onset_sample - firsts[k].sample) / fs if first else float("nan")
            out.append(LabelledPick(result.seed, rec.sensor_id, fs, p, cat, kind, path, first, err))
    return out


@dataclass(frozen=True)
class OnsetCase:
    """One simulated shot at one sensor, cut out of a quiet render, for onset accuracy at a chosen SNR.

    Attributes
    ----------
    clean : ndarray, float64, shape (n,)
        The shot's sound (direct path, ground reflection, echoes; no ambience), 0.6 s before the shot.
    truth_sample : float
        Fractional sample of the true direct-path arrival in ``clean``.
    fs_hz : int
    weapon : str
    distance_m : float
    """

    clean: np.ndarray
    truth_sample: float
    fs_hz: int
    weapon: str
    distance_m: float


def onset_cases(seed: int, fs_hz: int, n_shots: int = 24) -> list[OnsetCase]:
    """Single shots (every weapon, 30-400 m, random aim) at one sensor, rendered without ambience."""
    rng = np.random.default_rng([seed, 91])
    dur = 1.0 + 1.2 * n_shots
    lines = ["[scenario]", f'name = "onset-{seed}"', f"duration_s = {dur}",
             "[noise]", "level_db_spl = 0.0", "wind_noise = false",
             "[propagation]", f"max_echoes = {int(rng.integers(0, 4))}",
             "[sensor_defaults]", f"fs_hz = {fs_hz}", "full_scale_db_spl = 150.0", "self_noise_db_spl = 0.0",
             "bits = 24", "[[sensor]]", 'id = "S"', "x_m = 0.0", "y_m = 0.0"]
    weapons = list(WEAPONS)
    info = []
    for k in range(n_shots):
        r, a = rng.uniform(30.0, 400.0), rng.uniform(0, 2 * np.pi)
        w = weapons[k % len(weapons)]
        lines += ["[[incident]]", f'name = "s{k}"', f"t_s = {0.6 + 1.2 * k:.3f}", "  [[incident.shooter]]",
                  f"  x_m = {r * np.cos(a):.1f}", f"  y_m = {r * np.sin(a):.1f}", f'  weapon = "{w}"',
                  f"  aim_deg = {rng.uniform(0, 360):.0f}", '  schedule = [{ kind = "single" }]']
        info.append((w, r))
    res = simulate(parse_scenario("\n".join(lines) + "\n", f"<onset {seed}>"), seed)
    rec = res.sensors[0]
    audio = rec.audio.astype(np.float64)
    firsts = {}
    for a in res.arrivals:
        if a.path in ("direct", "diffracted") and (a.event not in firsts or a.sample < firsts[a.event]):
            firsts[a.event] = a.sample
    out = []
    for (w, r), ev in zip(info, sorted(firsts)):
        s = firsts[ev]
        i0 = int(s) - int(0.6 * fs_hz)
        if i0 < 0:
            continue
        seg = audio[i0 : i0 + int(1.0 * fs_hz)]
        out.append(OnsetCase(seg, s - i0, fs_hz, w, r))
    return out


def noisy(case: OnsetCase, snr_db: float, seed: int) -> tuple[np.ndarray, float]:
    """``case.clean`` plus pink ambience scaled so that peak(high-passed shot) / RMS(high-passed noise) = snr_db.

    Returns the float32 signal and the applied noise RMS (full scale).
    """
    from scipy import signal as sps

    from dsp.trigger import design_trigger
    from sim.noise import shaped_noise

    fs = case.fs_hz
    sos = design_trigger(fs, dsp.DetectorConfig()).sos
    # every case gets its own noise: the cases are all cut 0.6 s before the shot, so the truth's integer
    # sample alone is the same for all of them (one shared noise realisation biased whole table rows)
    rng = np.random.default_rng([seed, int(snr_db * 10) + 1000, int(round(case.truth_sample * 1e3)),
                                 int(round(case.distance_m * 1e3)), int(case.fs_hz)])
    n = shaped_noise(case.clean.size, fs, rng, -3.0)
    peak = np.abs(sps.sosfilt(sos, case.clean)).max()
    rms = np.sqrt(np.mean(sps.sosfilt(sos, n)[fs // 10 :] ** 2))
    scale = peak / (10 ** (snr_db / 20.0)) / rms
    return (case.clean + scale * n).astype(np.float32), float(scale)

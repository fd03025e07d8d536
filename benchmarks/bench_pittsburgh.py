"""Salvo on the Pittsburgh live-fire dev set (ShotSpotter TN 098 release, FP1-FP3, 54 tests, 108 rounds).

Three rows per firing position, all scored against the surveyed firing position (2D):

  (a) locate/allpulses  -- ``salvo locate`` on every pulse of allpulses.json (echoes included,
                           no tuples), pulse positions, all reporting sensors;
  (b) analyze/audio     -- ``salvo analyze`` on the released audio as a recording set (4-6
                           sensors, sidecar positions only);
  (c) ShotSpotter tuples -- ShotSpotter's own pulse grouping on the same released sensors,
                           sidecar positions, solved by the same solver: the bar for (b).

A round counts as found when a gunfire shot's emission time is within 50 ms of the round's
reference time (ShotSpotter's tuple solved on all its sensors at the pulse positions: the
best time truth there is); its error is the distance to the survey.  "count ok": tests whose
number of gunfire shots equals ``num_rounds``.

Usage:  python benchmarks/bench_pittsburgh.py [--fp FP1,FP2,FP3] [--tolerance-ms X] [--min-evidence E]
        [--max-sigma-ms S] [--set FIELD=VALUE] [--pool-positions] [--sharpness] [--cache DIR]
Quoted figures: --tolerance-ms 25 --min-evidence 7 --max-sigma-ms 0.5 --set min_sensors=3 for (b) (chosen on
FP1+FP2; FP3 is unseen; session 11), with and without --pool-positions (session 12: each sensor at the
median of its sidecar fixes over the firing position's tests, as ``salvo convert-shotspotter
--pool-positions`` writes them).  Before session 11: --tolerance-ms 25 --min-evidence 12.
``--cache`` keeps the detector's output per test (the detector is the slow part); a cache made by
other detector code is not used, and is written again (``benchmarks/_cache.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from locator.associate import SPARSE_REPEAT_SENSORS  # noqa: E402
from locator.analyze import AnalyzeConfig, detect_recordings, locate_detections, site_configs  # noqa: E402
from locator.detections_io import read_detections, write_detections  # noqa: E402
from locator.pittsburgh import convert_test, iter_tests, pooled_positions  # noqa: E402
from locator.recording_set import load_recording_set, load_sensors  # noqa: E402
from locator.solve import solve  # noqa: E402

from _cache import DETECTOR, current, mark  # noqa: E402

#: The cached detections also depend on the converter that writes each test's recording set.
MADE_BY = DETECTOR + ("locator/pittsburgh.py",)

DATA = REPO.parent / "shared" / "data" / "pittsburgh-livefire-dev"
MATCH_NS = 50_000_000


def reference_times(test) -> list[int]:
    """Emission time of each round: ShotSpotter's tuple on all its sensors, pulse positions."""
    out = []
    for shot in test.tuple_pulses():
        p = np.array([q.pos_m for q in shot])
        t_ref = shot[0].t_ns
        toas = np.array([(q.t_ns - t_ref) * 1e-9 for q in shot])
        sol = solve(p, toas, np.full(len(shot), 1e-3), mode="2d", z_m=float(test.survey.pos_m[2]), c_mps=test.c_mps)
        out.append(t_ref + int(round(sol.t0_s * 1e9)))
    return out


def tuples_on_released(test, positions=None) -> list[float]:
    """ShotSpotter's tuples restricted to the released sensors at sidecar positions (``positions``:
    the pooled ones, :func:`locator.pittsburgh.pooled_positions`): error per round, m."""
    side = {s.serial: s.pos_m if positions is None else positions[(test.firing_position, s.serial)]
            for s in test.sensors}
    errs = []
    for shot in test.tuple_pulses():
        q = [x for x in shot if x.serial in side]
        if len(q) < 3:
            errs.append(np.nan)
            continue
        p = np.array([side[x.serial] for x in q])
        toas = np.array([(x.t_ns - q[0].t_ns) * 1e-9 for x in q])
        from locator.solve import default_source_z

        sol = solve(p, toas, np.full(len(q), 1e-3), mode="2d", z_m=default_source_z(p), c_mps=test.c_mps)
        errs.append(float(np.linalg.norm(sol.pos_m[:2] - test.survey.pos_m[:2])) if sol.ok else np.nan)
    return errs


def sharpness(test, dets, limit_s: float) -> tuple[list[float], list[float], list[int]]:
    """Onset sigmas (s) of the detections within 3 ms of one of ShotSpotter's tuple pulses at the
    same released sensor and of all the others, and per round how many of its pulses on released
    sensors have such a detection timed within ``limit_s``."""
    near_s = 3e-3
    rel = {s.serial for s in test.sensors}
    by_sensor: dict[str, list] = {}
    for d in dets:
        by_sensor.setdefault(d.sensor_id, []).append(d)
    pulses = [[q for q in shot if q.serial in rel] for shot in test.tuple_pulses()]
    true_ids = set()
    sharp_per_round = []
    for shot in pulses:
        n = 0
        for q in shot:
            hits = [d for d in by_sensor.get(q.serial, ()) if abs(d.t_ns - q.t_ns) * 1e-9 < near_s]
            true_ids.update(id(d) for d in hits)
            n += any(d.sigma_s <= limit_s for d in hits)
        sharp_per_round.append(n)
    sig_true = [d.sigma_s for d in dets if id(d) in true_ids]
    sig_other = [d.sigma_s for d in dets if id(d) not in true_ids]
    return sig_true, sig_other, sharp_per_round


def steady_offsets(test) -> dict[str, list[float]]:
    """Per released sensor, each round's arrival minus its straight-line delay from the survey at
    the pulse positions, less the round's median over its sensors, s."""
    rel = {s.serial for s in test.sensors}
    src = np.asarray(test.survey.pos_m, dtype=float)
    out: dict[str, list[float]] = {}
    for shot in test.tuple_pulses():
        t = np.array([q.t_ns * 1e-9 for q in shot])
        d = np.array([np.linalg.norm(np.asarray(q.pos_m) - src) for q in shot]) / test.c_mps
        r = (t - t[0]) - d
        r -= np.median(r)
        for q, v in zip(shot, r):
            if q.serial in rel:
                out.setdefault(q.serial, []).append(float(v))
    return out


def print_fix_scatter(root: Path, fps: tuple[str, ...], positions: dict) -> None:
    """Per firing position, how far each sensor's per-test sidecar fixes lie from its pooled
    position (sensors with 3 fixes or more): the median distance in x/y (range over sensors),
    the largest, and the standard deviation in z (range), m."""
    fixes: dict[tuple[str, str], list[np.ndarray]] = {}
    for test in iter_tests(root, fps):
        for s in test.sensors:
            fixes.setdefault((test.firing_position, s.serial), []).append(np.asarray(s.pos_m, dtype=float))
    for fp in fps:
        med, top, zsd = [], [], []
        for (f, serial), v in fixes.items():
            if f != fp or len(v) < 3:
                continue
            v = np.array(v)
            d = np.linalg.norm(v[:, :2] - positions[(f, serial)][:2], axis=1)
            med.append(float(np.median(d)))
            top.append(float(d.max()))
            zsd.append(float(v[:, 2].std()))
        if med:
            print(f"{fp}: sidecar fixes of {len(med)} sensors from their pooled position: median {min(med):.1f}-"
                  f"{max(med):.1f} m in x/y (largest {max(top):.1f} m), z standard deviation {min(zsd):.1f}-"
                  f"{max(zsd):.1f} m")


def clip_coverage(test, recordings, t_refs) -> list[int]:
    """Per round, how many of the released sensors' clips hold its arrival (predicted from the
    survey position, the round's reference time and the test's c; a clip is its nonzero span,
    less the 5 ms a picker needs): the release cut each sensor's audio to ~2 s around its
    pulses, and a round beyond every clip cannot be found from the audio."""
    spans = []
    for rec in recordings:
        nz = np.flatnonzero(rec.audio != 0)
        if nz.size == 0:
            continue
        t0 = rec.sensor.start_ns
        spans.append((rec.sensor.pos_m, t0 + nz[0] / rec.fs_hz * 1e9, t0 + (nz[-1] / rec.fs_hz - 0.005) * 1e9))
    out = []
    for tr in t_refs:
        at = [tr + np.linalg.norm(p - test.survey.pos_m) / test.c_mps * 1e9 for p, _, _ in spans]
        out.append(sum(lo <= t <= hi for t, (_, lo, hi) in zip(at, spans)))
    return out


def score(analysis, test, t_refs) -> tuple[list[float], bool, int]:
    """Per round the error (NaN when not found), whether the gunfire shot count is right, and
    how many gunfire shots there were."""
    shots = [s for inc in analysis.incidents if inc.klass == "gunfire" for s in inc.shots]
    errs = []
    used = set()
    for t in t_refs:
        cand = [(abs(s.t0_ns - t), k) for k, s in enumerate(shots) if k not in used and abs(s.t0_ns - t) <= MATCH_NS]
        if not cand:
            errs.append(np.nan)
            continue
        k = min(cand)[1]
        used.add(k)
        errs.append(float(np.linalg.norm(shots[k].pos_m[:2] - test.survey.pos_m[:2])))
    return errs, len(shots) == test.survey.num_rounds, len(shots)


def summary(errs: list[float], counts: list[bool] | None, n_rounds: int, shots: list[int] | None = None) -> str:
    e = np.array(errs, dtype=float)
    found = np.isfinite(e)
    ef = e[found]
    med = f"{np.median(ef):6.2f}" if ef.size else "   nan"
    p90 = f"{np.percentile(ef, 90):6.2f}" if ef.size else "   nan"
    w15 = f"{100 * np.mean(e <= 15.0):5.1f}%"  # NaN (not found) counts as not within 15 m
    cnt = f"{100 * np.mean(counts):5.1f}%" if counts is not None else "    - "
    n_shots = f"{sum(shots):6d}" if shots is not None else "     -"
    # gunfire shots that match no round (each round takes at most one): false alarms in time
    n_other = f"{sum(shots) - int(found.sum()):9d}" if shots is not None else "        -"
    return (f"{found.sum():3d}/{n_rounds:<3d} {100 * found.sum() / n_rounds:5.1f}%  {med} {p90}  {w15}  {cnt}  "
            f"{n_shots}  {n_other}")


def _value(text):
    """A ``--set`` value: true/false, an int, a float, or else the text itself (``order=best``)."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def run_audio(args, rs, dets, test, t_refs):
    """Row (b): association and incidents on the detector's output for one test."""
    over = {}
    if args.tolerance_ms:
        over["tolerance_s"] = args.tolerance_ms / 1e3
    if args.min_evidence is not None:
        over["min_evidence"] = args.min_evidence
    for kv in args.set or ():
        k, v = kv.split("=", 1)
        over[k] = _value(v)
    limit = None if args.max_sigma_ms is None else args.max_sigma_ms / 1e3
    cfg_b = AnalyzeConfig(max_pick_sigma_s=limit)
    if over:
        assoc, _ = site_configs(rs.sensor_set, cfg_b)
        cfg_b = dataclasses.replace(cfg_b, association=dataclasses.replace(assoc, **over))
    an_b = locate_detections(dets, rs.sensor_set, cfg_b)
    return score(an_b, test, t_refs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fp", default="FP1,FP2,FP3", help="firing positions (default FP1,FP2,FP3)")
    ap.add_argument("--tolerance-ms", type=float, default=None, help="association tolerance for (b), ms")
    ap.add_argument("--min-evidence", type=float, default=None, help="association min_evidence for (b)")
    ap.add_argument("--max-sigma-ms", type=float, default=None,
                    help="(b): leave out detections timed worse than this, ms (salvo analyze --max-sigma-ms)")
    ap.add_argument("--set", action="append", metavar="FIELD=VALUE",
                    help="any other AssociationConfig field for (b), e.g. --set detection_probability=0.6")
    ap.add_argument("--pulses-tolerance-ms", type=float, default=None, help="association tolerance for (a), ms")
    ap.add_argument("--cache", default=None, help="folder to keep the detector's output per test")
    ap.add_argument("--work", default="/tmp/salvo-bench-pittsburgh", help="where converted tests are written")
    ap.add_argument("--skip-audio", action="store_true", help="rows (a) and (c) only (the detector and (b) are slow)")
    ap.add_argument("--skip-pulses", action="store_true", help="rows (b) and (c) only")
    ap.add_argument("--verbose", action="store_true", help="one line per test")
    ap.add_argument("--pool-positions", action="store_true",
                    help="(b) and (c): each sensor at the median of its sidecar fixes over the firing position's "
                         "tests (salvo convert-shotspotter --pool-positions), not each test's own fix")
    ap.add_argument("--sharpness", action="store_true",
                    help="also: onset sigmas of the detections at ShotSpotter's pulses and of the others, the rounds "
                         "with 3 / 4 arrivals within --max-sigma-ms (0.5 if not given), and each sensor's steady "
                         "offset from the straight-line delay at the survey")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"no data at {DATA}; nothing to do")
        return 0
    fps = tuple(args.fp.split(","))
    # a cache made by other detector code is set aside: every test's detections are made again
    cache_ok = bool(args.cache) and current(Path(args.cache), "detections", MADE_BY)
    if args.cache and not cache_ok and not args.skip_audio:
        print(f"{args.cache}: made by other detector code (or unmarked); detecting again", flush=True)
        for old in Path(args.cache).glob("*.jsonl"):
            old.unlink()
    rows: dict[str, dict[str, list]] = {}
    t_start = time.perf_counter()
    positions = pooled_positions(iter_tests(DATA, fps)) if args.pool_positions else None
    for test in iter_tests(DATA, fps):
        fp = test.firing_position
        r = rows.setdefault(fp, {"a": [], "a_cnt": [], "a_shots": [], "b": [], "b_cnt": [], "b_shots": [], "c": [],
                                 "n": 0, "sig_true": [], "sig_other": [], "sharp": [], "offsets": {}, "cut": []})
        r["n"] += test.survey.num_rounds
        t_refs = reference_times(test)
        out = convert_test(test, Path(args.work) / fp / test.name, positions)
        # (a) locate on allpulses
        ea, ca, na, eb, cb, nb = [np.nan] * len(t_refs), False, 0, [np.nan] * len(t_refs), False, 0
        sset_p = load_sensors(out / "pulses" / "sensors.csv", need_audio=False)
        cfg_a = AnalyzeConfig()
        if args.pulses_tolerance_ms:
            assoc, _ = site_configs(sset_p, cfg_a)
            cfg_a = AnalyzeConfig(association=dataclasses.replace(assoc, tolerance_s=args.pulses_tolerance_ms / 1e3))
        if not args.skip_pulses:
            an_a = locate_detections(read_detections(out / "pulses" / "detections.jsonl").detections, sset_p, cfg_a)
            ea, ca, na = score(an_a, test, t_refs)
        # (b) analyze on the audio
        rs = load_recording_set(out)
        cache = Path(args.cache) / f"{test.name}.jsonl" if args.cache else None
        if args.skip_audio:
            pass
        elif cache is not None and cache.exists() and cache_ok:
            dets = read_detections(cache).detections
        else:
            dets = detect_recordings(rs.recordings)
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                write_detections(cache, dets)
        if not args.skip_audio:
            for k, n_in in enumerate(clip_coverage(test, rs.recordings, t_refs)):
                if n_in < 3:
                    r["cut"].append((f"{test.name} round {k + 1} ({n_in} of {len(rs.recordings)})", n_in))
            eb, cb, nb = run_audio(args, rs, dets, test, t_refs)
            if args.sharpness:
                st, so, per_round = sharpness(test, dets, (args.max_sigma_ms or 0.5) / 1e3)
                r["sig_true"] += st
                r["sig_other"] += so
                r["sharp"] += per_round
        if args.sharpness:
            for k, v in steady_offsets(test).items():
                r["offsets"].setdefault(k, []).extend(v)
        ec = tuples_on_released(test, positions)
        r["a"] += ea
        r["a_cnt"].append(ca)
        r["a_shots"].append(na)
        r["b"] += eb
        r["b_cnt"].append(cb)
        r["b_shots"].append(nb)
        r["c"] += ec
        if args.verbose:
            print(f"{fp} {test.name} rounds {test.survey.num_rounds} sensors {len(test.sensors)} | (a) "
                  f"{np.round(ea, 1)} | (b) {np.round(eb, 1)} gunfire shots {nb} | (c) {np.round(ec, 1)}", flush=True)
    if args.cache and not args.skip_audio:
        mark(Path(args.cache), "detections", MADE_BY)
    print(f"\nPittsburgh dev set, {', '.join(fps)} ({time.perf_counter() - t_start:.0f} s)")
    head = (f"{'':6s} {'row':22s} {'found':>13s}  {'median':>6s} {'p90':>6s}  {'<=15m':>6s}  {'count ok':>8s}"
            f"  {'shots':>6s}  {'no round':>9s}")
    print(head)
    print("-" * len(head))
    allr: dict[str, list] = {"a": [], "a_cnt": [], "a_shots": [], "b": [], "b_cnt": [], "b_shots": [], "c": [], "n": 0}
    for fp, r in list(rows.items()) + [("all", None)]:
        if r is None:
            r = allr
        else:
            for k in ("a", "a_cnt", "a_shots", "b", "b_cnt", "b_shots", "c"):
                allr[k] += r[k]
            allr["n"] += r["n"]
        print(f"{fp:6s} {'(a) locate/allpulses':22s} {summary(r['a'], r['a_cnt'], r['n'], r['a_shots'])}")
        print(f"{fp:6s} {'(b) analyze/audio':22s} {summary(r['b'], r['b_cnt'], r['n'], r['b_shots'])}")
        print(f"{fp:6s} {'(c) ShotSpotter tuples':22s} {summary(r['c'], None, r['n'])}")
    if args.sharpness:
        limit = (args.max_sigma_ms or 0.5) / 1e3
        print(f"\nonset sigma, ms (p10 / p50 / p90), and the share timed within {1e3 * limit:g} ms; rounds with 3 / 4 "
              f"such arrivals at ShotSpotter's pulses; each sensor's steady offset from the straight-line delay")
        for fp, r in rows.items():
            if r["sig_true"]:
                a, b = np.array(r["sig_true"]) * 1e3, np.array(r["sig_other"]) * 1e3
                sharp = np.array(r["sharp"])
                print(f"{fp}: at pulses {np.percentile(a, 10):.2f} / {np.median(a):.2f} / {np.percentile(a, 90):.2f} "
                      f"({100 * np.mean(a <= 1e3 * limit):.1f}% of {a.size}); others {np.percentile(b, 10):.2f} / "
                      f"{np.median(b):.2f} / {np.percentile(b, 90):.2f} ({100 * np.mean(b <= 1e3 * limit):.1f}% of "
                      f"{b.size}); rounds with >= 3: {int(np.sum(sharp >= 3))}, >= 4: {int(np.sum(sharp >= 4))} "
                      f"of {sharp.size}")
                # (b)'s rounds not within 15 m (missed or misplaced), by how many such arrivals they had
                bad = sharp[~(np.array(r["b"]) <= 15.0)]
                print(f"{fp}: (b)'s rounds not within 15 m: {bad.size}, of which with <= 3 such arrivals "
                      f"{int(np.sum(bad <= 3))}, >= 4 {int(np.sum(bad >= 4))}")
            med = [1e3 * float(np.median(v)) for v in r["offsets"].values()]
            spread = [1e3 * float(np.std(v)) for v in r["offsets"].values() if len(v) > 2]
            if med:
                print(f"{fp}: sensors' steady offsets {min(med):+.1f} to {max(med):+.1f} ms, round-to-round scatter "
                      f"median {np.median(spread):.1f} ms (max {max(spread):.1f})")
    cut = [(f"{fp} {c}", n_in) for fp, r in rows.items() for c, n_in in r["cut"]]
    if cut:
        # a round heard in two clips may still be found, timed at its string's place
        # (associate.SPARSE_REPEAT_SENSORS); in fewer, not at all
        n_all = sum(r["n"] for r in rows.values())
        lost = sum(n_in < SPARSE_REPEAT_SENSORS for _, n_in in cut)
        print(f"\nrounds whose arrival (predicted from the survey) falls in fewer than 3 of the released clips: "
              f"{', '.join(c for c, _ in cut)}; (b) can find at most {n_all - lost}/{n_all}")
    where = ("each sensor's sidecar fixes pooled over the firing position's tests (median)" if args.pool_positions
             else "each test's own sidecar fixes")
    print(f"\nsensor positions for (b) and (c): {where}")
    if positions is not None:
        print_fix_scatter(DATA, fps, positions)
    print("(c) is ShotSpotter's own pulse grouping, restricted to the released sensors at their sidecar positions,"
          "\n    solved by locator.solve (the fair bar for (b)); columns: rounds found, median/p90 error of found rounds"
          "\n    (m), share of all rounds within 15 m, share of tests with the exact gunfire shot count, gunfire"
          "\n    shots reported in all, and those of them within 50 ms of no round.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

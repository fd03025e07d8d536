"""``salvo analyze``, ``salvo locate`` and ``salvo convert-shotspotter``: the offline locator commands.

Standard library only at module level; the work is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    """Add the ``analyze``, ``locate`` and ``convert-shotspotter`` subcommands."""
    a = subparsers.add_parser(
        "analyze", help="locate shots in a folder of synchronized recordings",
        description="Run the node's detector over every audio file of a recording set (sensors.csv + audio, "
                    "optional site.json), group the detections into shots, solve each, and build incidents "
                    "with shot and shooter counts.",
    )
    a.add_argument("dir", help="recording set folder (sensors.csv, audio files, optional site.json)")
    a.add_argument("--out", required=True, help="results JSON to write")
    a.add_argument("--geojson", help="also write the shots as GeoJSON here")
    a.add_argument("--detections", help="also write every detection as JSON Lines here")
    a.add_argument("--plot", help="also draw a map (PNG): sensors, shots with error ellipses, shooters coloured")
    _common(a)
    a.set_defaults(func=_analyze)

    lo = subparsers.add_parser(
        "locate", help="locate shots from a detection log",
        description="Group detections (JSON Lines, from any sensors) into shots, solve each, and build incidents.",
    )
    lo.add_argument("detections", help="detection log, JSON Lines")
    lo.add_argument("--sensors", required=True, help="sensors.csv with sensor_id and positions (site.json beside it is read)")
    lo.add_argument("--out", required=True, help="results JSON to write")
    lo.add_argument("--geojson", help="also write the shots as GeoJSON here")
    lo.add_argument("--plot", help="also draw a map (PNG)")
    _common(lo)
    lo.set_defaults(func=_locate)

    c = subparsers.add_parser(
        "convert-shotspotter", help="convert the ShotSpotter research release to recording sets and detection logs",
        description="Convert test folders of the ShotSpotter live-fire release (FPk/test_nnn with audio sidecars, "
                    "allpulses.json, survey.json, weather.json) to OUT/FPk/test_nnn: a recording set with the "
                    "sidecar positions (for salvo analyze) and pulses/ with every pulse as a detection log "
                    "(for salvo locate).",
    )
    c.add_argument("src", help="the release folder (holding FP1, FP2, ...) or one test folder "
                               "(not with --pool-positions)")
    c.add_argument("out", help="output folder")
    c.add_argument("--firing-positions", help="comma-separated subset, e.g. FP1,FP2")
    c.add_argument("--pool-positions", action="store_true",
                   help="place each sensor at the median of its sidecar position fixes over the converted tests of "
                        "its firing position, instead of each test's own fix (which scatter by metres)")
    c.set_defaults(func=_convert)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep-going", action="store_true",
                   help="skip bad rows, unreadable audio and broken lines (reported) instead of stopping")
    p.add_argument("--tolerance-ms", type=float, default=None,
                   help="largest arrival-time misfit of a detection in a shot, ms (default 8)")
    p.add_argument("--min-sensors", type=int, default=None, help="sensors a shot needs (default 4)")
    p.add_argument("--min-evidence", type=float, default=None,
                   help="log-likelihood ratio, source against chance, a shot needs (default 8 + 0.75 x sensors; a 4-6 sensor "
                        "array cannot reach that and needs about 10)")
    p.add_argument("--max-sigma-ms", type=float, default=None,
                   help="leave out detections whose onset was timed worse than this, ms, before the clock's "
                        "sigma is added (default none; on a noisy street 0.5 drops the slow-rising triggers "
                        "of traffic and voices and keeps muzzle blasts)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _config(args: argparse.Namespace):
    from locator.analyze import AnalyzeConfig

    limit = None if args.max_sigma_ms is None else args.max_sigma_ms / 1e3
    tol = None if args.tolerance_ms is None else args.tolerance_ms / 1e3
    overrides = {k: v for k, v in (("tolerance_s", tol), ("min_sensors", args.min_sensors),
                                   ("min_evidence", args.min_evidence)) if v is not None}
    return AnalyzeConfig(max_pick_sigma_s=limit), overrides


def _run(args: argparse.Namespace, kind: str) -> int:
    import dataclasses

    from locator import analyze as an

    cfg, overrides = _config(args)

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"salvo {kind}: {msg}", file=sys.stderr, flush=True)

    if overrides:
        # overrides apply on top of the site-derived association settings
        if kind == "analyze":
            from locator.recording_set import load_sensors

            sset = load_sensors(f"{args.dir}/sensors.csv", need_audio=True, keep_going=args.keep_going)
        else:
            from locator.recording_set import load_sensors

            sset = load_sensors(args.sensors, need_audio=False, keep_going=args.keep_going)
        assoc, _ = an.site_configs(sset, cfg)
        cfg = dataclasses.replace(cfg, association=dataclasses.replace(assoc, **overrides))
    if kind == "analyze":
        result = an.analyze(args.dir, cfg, keep_going=args.keep_going, progress=progress)
    else:
        result = an.locate(args.detections, args.sensors, cfg, keep_going=args.keep_going)
    return _write(args, result, kind, progress)


def _write(args: argparse.Namespace, result, kind: str, progress) -> int:
    from locator.results_io import write_geojson, write_results

    sset = result.sensor_set
    extra = {"input": str(getattr(args, "dir", None) or args.detections), "n_detections": len(result.detections),
             "n_sensors": len(sset.sensors), "problems": list(result.problems)}
    write_results(args.out, result.incidents, sset.frame, sset.frame_name, extra)
    if args.geojson:
        write_geojson(args.geojson, result.incidents, sset.frame, sset.frame_name)
    if getattr(args, "detections", None) and kind == "analyze":
        from locator.detections_io import write_detections

        write_detections(args.detections, result.detections)
    if args.plot:
        from locator.plot import plot_map

        plot_map(args.plot, result)
    for p in result.problems:
        print(f"salvo {kind}: warning: {p}", file=sys.stderr)
    gun = [i for i in result.incidents if i.klass == "gunfire"]
    progress(f"{len(result.detections)} detections, {len(result.shots)} shots, {len(result.incidents)} incidents "
             f"({len(gun)} gunfire, {sum(i.n_shots for i in gun)} shots) -> {args.out}")
    # problems skipped under --keep-going still leave a result; without it they raised already
    return 0


def _analyze(args: argparse.Namespace) -> int:
    return _run(args, "analyze")


def _locate(args: argparse.Namespace) -> int:
    return _run(args, "locate")


def _convert(args: argparse.Namespace) -> int:
    from pathlib import Path

    from locator.pittsburgh import convert_release, convert_test, load_test

    src = Path(args.src)
    fps = tuple(s.strip() for s in args.firing_positions.split(",")) if args.firing_positions else None
    if (src / f"{src.name}.survey.json").exists():
        if args.pool_positions:
            from salvo.errors import InputError

            raise InputError(f"{src}: --pool-positions needs the release folder (holding FP1, FP2, ...), not one test")
        test = load_test(src)
        done = [convert_test(test, Path(args.out) / test.firing_position / test.name)]
    else:
        done = convert_release(src, args.out, fps, pool_positions=args.pool_positions)
    print(f"salvo convert-shotspotter: {len(done)} test(s) -> {args.out}", file=sys.stderr)
    return 0

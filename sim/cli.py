"""``salvo sim`` and ``salvo score``: command-line front of the simulator and the scorer.

Standard library only at module level; the work is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    """Add the ``sim`` and ``score`` subcommands."""
    p = subparsers.add_parser(
        "sim", help="simulate a recording set from a scenario",
        description="Simulate what a sensor array records: WAVs, sensors.csv, site.json, truth.json, arrivals.csv.",
    )
    p.add_argument("scenario", nargs="?", help="scenario TOML file")
    p.add_argument("--preset", help="use a preset scenario instead of a file (see --list-presets)")
    p.add_argument("--out", help="output folder (created; an earlier recording set there is replaced)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes); default 0")
    p.add_argument("--frame", choices=("wgs84", "local"), default="wgs84", help="positions as lat/lon or local x/y/z")
    p.add_argument("--list-presets", action="store_true", help="list the preset scenarios and exit")
    p.add_argument("--fields", action="store_true", help="list every key of a scenario file (unit, default) and exit")
    p.add_argument("--plot", help="also draw the map and the recordings to this image file (PNG/SVG/PDF)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_sim)

    s = subparsers.add_parser(
        "score", help="score located shots against a simulation's truth",
        description="Match located shots to true shots (by discharge time, then distance, one to one) and report "
                    "detection, location error, shot and shooter counts and false alerts.",
    )
    s.add_argument("truth", help="truth.json written by salvo sim")
    s.add_argument("results", help="results.json written by salvo analyze or salvo locate")
    s.add_argument("--json", dest="json_out", help="also write the figures as JSON here")
    s.add_argument("--time-tol", type=float, default=None, help="largest discharge-time difference of a match, s")
    s.add_argument("--dist-tol", type=float, default=None, help="largest horizontal distance of a match, m")
    s.set_defaults(func=_score)


def _sim(args: argparse.Namespace) -> int:
    from salvo.errors import ConfigError
    from sim.presets import describe_presets, load_preset
    from sim.recording import write_recording_set
    from sim.render import simulate
    from sim.scenario import load_scenario

    if args.list_presets:
        for name, text in describe_presets():
            print(f"{name:14s} {text}")
        return 0
    if args.fields:
        from sim.scenario import describe_fields

        print(describe_fields())
        return 0
    if bool(args.scenario) == bool(args.preset):
        raise ConfigError("give a scenario file or --preset NAME (not both)")
    if not args.out:
        raise ConfigError("--out DIR is required")
    scenario = load_preset(args.preset) if args.preset else load_scenario(args.scenario)

    def progress(fraction: float, message: str) -> None:
        if not args.quiet:
            print(f"\rsalvo sim: {fraction * 100:5.1f}%  {message}   ", end="", file=sys.stderr, flush=True)

    result = simulate(scenario, seed=args.seed, progress=progress)
    if not args.quiet:
        print(file=sys.stderr)
    from pathlib import Path

    text = Path(scenario.source).read_text(encoding="utf-8") if scenario.source and Path(scenario.source).is_file() else None
    out = write_recording_set(result, args.out, frame=args.frame, scenario_toml=text)
    if args.plot:
        from sim.plot import plot_result

        plot_result(result, args.plot)
    t = result.truth
    print(f"{scenario.name}: {len(result.sensors)} sensors, {scenario.duration_s:g} s, {len(t.shots)} shots, "
          f"{len(t.confusers)} confuser sounds in {len(t.incidents)} incidents -> {out}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from sim.score import ScoreConfig, format_report, score_files

    cfg = ScoreConfig()
    if args.time_tol is not None or args.dist_tol is not None:
        cfg = ScoreConfig(time_tol_s=args.time_tol if args.time_tol is not None else cfg.time_tol_s,
                          dist_tol_m=args.dist_tol if args.dist_tol is not None else cfg.dist_tol_m)
    report = score_files(args.truth, args.results, cfg)
    print(format_report(report))
    if args.json_out:
        import json
        from pathlib import Path

        Path(args.json_out).write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
    return 0

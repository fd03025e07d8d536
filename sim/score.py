"""``salvo score``: judge a results file against a simulation's truth.

Located gunfire shots are matched one-to-one to true shots by discharge time first and
horizontal distance second (an optimal assignment on ``(Δt/time_tol)² + (d/dist_tol)²``
within both gates); shots left over are matched to confuser sounds (false alerts) and the rest
are extra.  Positions are compared in metres in the truth's local frame: wgs84 results are
projected with pyproj about the truth's origin; local results are taken to be in the frame the
simulator wrote.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from salvo.errors import InputError, where
from salvo.utc import parse_utc_ns
from sim.config import F

from salvo.utc import NS_PER_S as NS  # ns per s


@dataclass(frozen=True)
class ScoreConfig:
    """Matching gates."""

    time_tol_s: float = F(0.25, "s", 0.0, 60.0, doc="largest discharge-time difference of a match")
    dist_tol_m: float = F(150.0, "m", 0.0, 1e5, doc="largest horizontal distance of a match")
    gunfire_classes: tuple = F(("gunfire",), doc="incident classes that count as a gunfire alert")


@dataclass(frozen=True)
class Match:
    """A true event and the located shot matched to it."""

    truth: int  # index in truth's shots (or confusers)
    incident: int  # index of the results incident
    shot: int  # index of the shot within that incident
    dt_s: float  # located − true discharge time
    err_m: float  # horizontal distance


@dataclass(frozen=True)
class IncidentScore:
    """Shot and shooter counts of one true incident against what was reported for it."""

    incident: int
    name: str
    true_shots: int
    reported_shots: int
    true_shooters: int
    reported_shooters: int
    detected_shots: int


@dataclass(frozen=True)
class ScoreReport:
    """All figures of one scoring (see :func:`score`)."""

    true_shots: int
    detected: int
    missed: int
    reported_gunfire_shots: int
    extra_shots: int
    located_not_gunfire: int
    err_median_m: float | None
    err_p90_m: float | None
    err_max_m: float | None
    within_5m: float | None
    within_15m: float | None
    within_25m: float | None
    dt_median_s: float | None
    incidents: tuple
    shot_count_exact: float | None
    shooter_count_exact: float | None
    shot_count_mae: float | None
    confusers: int
    confusers_reported_as_gunfire: int
    false_alerts_by_kind: dict
    false_alert_incidents: int
    matches: tuple = field(default=())

    def to_dict(self) -> dict:
        """Plain JSON-able dict of every figure."""
        d = asdict(self)
        d["incidents"] = [asdict(i) for i in self.incidents]
        d["matches"] = [asdict(m) for m in self.matches]
        return d


@dataclass(frozen=True)
class _Points:
    t_s: np.ndarray  # seconds relative to a common reference
    xy: np.ndarray  # (n, 2) metres


def _read_json(path: str | Path, what: str) -> dict:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{where(path)}: cannot read {what}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{where(path, exc.lineno)}: {what} is not valid JSON: {exc.msg}") from exc
    if not isinstance(doc, dict):
        raise InputError(f"{where(path)}: {what} must be a JSON object")
    return doc


class _Projector:
    """Positions of truth and results items as local metres about the truth's origin."""

    def __init__(self, origin: dict | None) -> None:
        self.origin = origin
        self._enu = None

    def xy(self, item: dict, frame: str, path, ctx: str) -> tuple[float, float]:
        try:
            if frame == "local":
                return float(item["x_m"]), float(item["y_m"])
            lat, lon = float(item["lat"]), float(item["lon"])
        except (KeyError, TypeError, ValueError) as exc:
            keys = "x_m, y_m" if frame == "local" else "lat, lon"
            raise InputError(f"{where(path, field=ctx)}: needs numeric {keys} (frame {frame})") from exc
        if self._enu is None:
            if not self.origin:
                raise InputError(f"{where(path, field='origin')}: truth has no origin to project lat/lon with")
            from sim.geo import EnuFrame

            self._enu = EnuFrame(float(self.origin["lat"]), float(self.origin["lon"]), float(self.origin.get("alt_m", 0.0)))
        x, y, _ = self._enu.to_local(lat, lon, float(item.get("alt_m", self.origin.get("alt_m", 0.0))))
        return float(x), float(y)


def _frame(doc: dict, path) -> str:
    frame = doc.get("frame", "wgs84")
    if frame not in ("wgs84", "local"):
        raise InputError(f"{where(path, field='frame')}: {frame!r} is not wgs84 or local")
    return frame


def _time(item: dict, path, ctx: str) -> int:
    if "t_utc" not in item:
        raise InputError(f"{where(path, field=ctx + '.t_utc')}: missing")
    try:
        return parse_utc_ns(item["t_utc"], what=f"{where(path, field=ctx + '.t_utc')}")
    except InputError:
        raise
    except Exception as exc:  # non-string values
        raise InputError(f"{where(path, field=ctx + '.t_utc')}: {exc}") from exc


def _assign(a: _Points, b: _Points, cfg: ScoreConfig, a_free: np.ndarray, b_free: np.ndarray) -> list[tuple[int, int, float, float]]:
    """One-to-one matches (i in a, j in b, dt, dist) within the gates, minimising the summed cost."""
    from scipy.optimize import linear_sum_assignment

    ia = np.nonzero(a_free)[0]
    jb = np.nonzero(b_free)[0]
    if ia.size == 0 or jb.size == 0:
        return []
    dt = b.t_s[jb][None, :] - a.t_s[ia][:, None]
    dist = np.linalg.norm(b.xy[jb][None, :, :] - a.xy[ia][:, None, :], axis=2)
    ok = (np.abs(dt) <= cfg.time_tol_s) & (dist <= cfg.dist_tol_m)
    # Time first: its weight is large next to distance's, which breaks near-ties.
    cost = (dt / max(cfg.time_tol_s, 1e-9)) ** 2 * 100.0 + (dist / max(cfg.dist_tol_m, 1e-9)) ** 2
    cost = np.where(ok, cost, 1e6)
    rows, cols = linear_sum_assignment(cost)
    return [(int(ia[r]), int(jb[c]), float(dt[r, c]), float(dist[r, c])) for r, c in zip(rows, cols) if ok[r, c]]


def score(truth: dict, results: dict, cfg: ScoreConfig | None = None, truth_path="truth.json",
          results_path="results.json") -> ScoreReport:
    """Score a results document against a truth document (both already parsed JSON).

    Parameters
    ----------
    truth : dict
        ``truth.json`` as written by ``salvo sim``.
    results : dict
        ``results.json`` as written by ``salvo analyze`` / ``salvo locate``.
    cfg : ScoreConfig, optional
    truth_path, results_path : str
        Names for messages.

    Returns
    -------
    ScoreReport
    """
    cfg = cfg or ScoreConfig()
    proj = _Projector(truth.get("origin"))
    tframe, rframe = _frame(truth, truth_path), _frame(results, results_path)
    if rframe == "local" and tframe == "wgs84":
        # A locator's local frame for a wgs84 recording set has an origin of its own choosing.
        raise InputError(f"{where(results_path, field='frame')}: results are in a local frame but the truth is wgs84; "
                         "score wgs84 results, or simulate with --frame local")
    t_shots = truth.get("shots", [])
    t_conf = truth.get("confusers", [])
    if not isinstance(t_shots, list) or not isinstance(t_conf, list):
        raise InputError(f"{where(truth_path, field='shots')}: shots and confusers must be lists")
    times = [_time(s, truth_path, f"shots[{i}]") for i, s in enumerate(t_shots)]
    ctimes = [_time(c, truth_path, f"confusers[{i}]") for i, c in enumerate(t_conf)]
    incidents = results.get("incidents", [])
    if not isinstance(incidents, list):
        raise InputError(f"{where(results_path, field='incidents')}: must be a list")
    located = []  # (incident index, shot index, t_ns, x, y, gunfire)
    for ii, inc in enumerate(incidents):
        if not isinstance(inc, dict):
            raise InputError(f"{where(results_path, field=f'incidents[{ii}]')}: must be an object")
        gun = inc.get("class", "gunfire") in cfg.gunfire_classes
        for si, shot in enumerate(inc.get("shots", []) or []):
            ctx = f"incidents[{ii}].shots[{si}]"
            if not isinstance(shot, dict):
                raise InputError(f"{where(results_path, field=ctx)}: must be an object")
            located.append((ii, si, _time(shot, results_path, ctx), *proj.xy(shot, rframe, results_path, ctx), gun))
    ref = min(times + ctimes + [r[2] for r in located] + [0])

    def pts(ts, xys) -> _Points:
        return _Points(np.array([(t - ref) / NS for t in ts], float), np.array(xys, float).reshape(-1, 2))

    true_pts = pts(times, [proj.xy(s, tframe, truth_path, f"shots[{i}]") for i, s in enumerate(t_shots)])
    conf_pts = pts(ctimes, [proj.xy(c, tframe, truth_path, f"confusers[{i}]") for i, c in enumerate(t_conf)])
    loc_pts = pts([r[2] for r in located], [(r[3], r[4]) for r in located])
    is_gun = np.array([r[5] for r in located], bool)

    pairs = _assign(true_pts, loc_pts, cfg, np.ones(len(times), bool), is_gun)
    used = np.zeros(len(located), bool)
    matched_true = np.zeros(len(times), bool)
    matches = []
    for i, j, dt, d in pairs:
        used[j] = True
        matched_true[i] = True
        matches.append(Match(i, located[j][0], located[j][1], dt, d))
    # Gunfire shots left over that are really confusers: false alerts.
    conf_pairs = _assign(conf_pts, loc_pts, cfg, np.ones(len(ctimes), bool), is_gun & ~used)
    by_kind: dict[str, int] = {}
    for i, j, _, _ in conf_pairs:
        used[j] = True
        kind = str(t_conf[i].get("kind", "unknown"))
        by_kind[kind] = by_kind.get(kind, 0) + 1
    extra = int(np.sum(is_gun & ~used))
    # True shots located but not called gunfire.
    other = _assign(true_pts, loc_pts, cfg, ~matched_true, ~is_gun)

    errs = np.array([m.err_m for m in matches])
    det = len(matches)

    def share(lim: float):
        return float(np.mean(errs <= lim)) if det else None

    # Incidents: which results incidents speak for which true incident.
    inc_of_true = [int(s.get("incident", 0)) for s in t_shots]
    votes: dict[int, dict[int, int]] = {}
    for m in matches:
        votes.setdefault(m.incident, {}).setdefault(inc_of_true[m.truth], 0)
        votes[m.incident][inc_of_true[m.truth]] += 1
    owner = {ri: max(v.items(), key=lambda kv: (kv[1], -kv[0]))[0] for ri, v in votes.items()}
    names = {int(i.get("id", k)): str(i.get("name", "")) for k, i in enumerate(truth.get("incidents", []) or [])}
    inc_scores = []
    for ti in sorted(set(inc_of_true)):
        mine = [ri for ri, o in owner.items() if o == ti]
        rep_shots = sum(_n_shots(incidents[ri]) for ri in mine)
        rep_shooters = sum(_n_shooters(incidents[ri]) for ri in mine)
        true_n = sum(1 for k in inc_of_true if k == ti)
        true_sh = len({str(s.get("shooter", "")) for s, k in zip(t_shots, inc_of_true) if k == ti})
        inc_scores.append(IncidentScore(ti, names.get(ti, ""), true_n, rep_shots, true_sh, rep_shooters,
                                        sum(1 for m in matches if inc_of_true[m.truth] == ti)))
    gun_incidents = {located[j][0] for j in range(len(located)) if is_gun[j]} | {
        ii for ii, inc in enumerate(incidents) if inc.get("class", "gunfire") in cfg.gunfire_classes}
    false_inc = sum(1 for ri in gun_incidents if ri not in owner)
    n_inc = len(inc_scores)
    return ScoreReport(
        true_shots=len(times), detected=det, missed=len(times) - det,
        reported_gunfire_shots=int(is_gun.sum()), extra_shots=extra, located_not_gunfire=len(other),
        err_median_m=float(np.median(errs)) if det else None,
        err_p90_m=float(np.percentile(errs, 90)) if det else None,
        err_max_m=float(errs.max()) if det else None,
        within_5m=share(5.0), within_15m=share(15.0), within_25m=share(25.0),
        dt_median_s=float(np.median([abs(m.dt_s) for m in matches])) if det else None,
        incidents=tuple(inc_scores),
        shot_count_exact=float(np.mean([i.reported_shots == i.true_shots for i in inc_scores])) if n_inc else None,
        shooter_count_exact=float(np.mean([i.reported_shooters == i.true_shooters for i in inc_scores])) if n_inc else None,
        shot_count_mae=float(np.mean([abs(i.reported_shots - i.true_shots) for i in inc_scores])) if n_inc else None,
        confusers=len(ctimes), confusers_reported_as_gunfire=sum(by_kind.values()), false_alerts_by_kind=by_kind,
        false_alert_incidents=false_inc, matches=tuple(matches),
    )


def _n_shots(inc: dict) -> int:
    n = inc.get("n_shots")
    return int(n) if isinstance(n, (int, float)) and not isinstance(n, bool) else len(inc.get("shots", []) or [])


def _n_shooters(inc: dict) -> int:
    n = inc.get("n_shooters")
    if isinstance(n, (int, float)) and not isinstance(n, bool):
        return int(n)
    return len({s.get("shooter", 0) for s in inc.get("shots", []) or []})


def score_files(truth_path: str | Path, results_path: str | Path, cfg: ScoreConfig | None = None) -> ScoreReport:
    """Read ``truth.json`` and ``results.json`` and :func:`score` them."""
    return score(_read_json(truth_path, "truth"), _read_json(results_path, "results"), cfg, str(truth_path), str(results_path))


def format_report(r: ScoreReport) -> str:
    """The report as the text ``salvo score`` prints."""

    def m(v, unit="m", fmt="{:.1f}"):
        return "-" if v is None else fmt.format(v) + (f" {unit}" if unit else "")

    def pct(v):
        return "-" if v is None else f"{100 * v:.0f}%"

    lines = [
        f"shots: {r.true_shots} true, {r.detected} detected, {r.missed} missed; "
        f"{r.reported_gunfire_shots} reported as gunfire ({r.extra_shots} extra); "
        f"{r.located_not_gunfire} more located but not called gunfire",
        f"horizontal error: median {m(r.err_median_m)}, p90 {m(r.err_p90_m)}, max {m(r.err_max_m)}; "
        f"within 5/15/25 m: {pct(r.within_5m)} / {pct(r.within_15m)} / {pct(r.within_25m)}; "
        f"median |dt| {m(r.dt_median_s, 's', '{:.4f}')}",
        f"incidents: shot count exact {pct(r.shot_count_exact)} (mean abs error {m(r.shot_count_mae, '', '{:.2f}')}), "
        f"shooter count exact {pct(r.shooter_count_exact)}",
    ]
    if r.incidents:
        lines.append(f"  {'incident':<28s} {'shots':>11s} {'shooters':>11s} {'detected':>9s}")
        for i in r.incidents:
            lines.append(f"  {(str(i.incident) + ' ' + i.name)[:28]:<28s} {i.reported_shots:>4d} / {i.true_shots:<4d}"
                         f" {i.reported_shooters:>4d} / {i.true_shooters:<4d} {i.detected_shots:>9d}")
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(r.false_alerts_by_kind.items())) or "none"
    lines.append(f"false alerts: {r.confusers_reported_as_gunfire} of {r.confusers} confuser sounds reported as gunfire "
                 f"({kinds}); {r.false_alert_incidents} gunfire incidents with no true shot")
    return "\n".join(lines)

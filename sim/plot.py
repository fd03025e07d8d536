"""A picture of a simulation: the map (buildings, sensors, shooters, confusers) and each
sensor's recording over time, with the true shots marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_CONFUSER_MARKERS = {"firecracker": "*", "firework_launch": "^", "firework_burst": "P", "door_slam": "s",
                     "backfire": "D", "nail_gun": "v"}


def plot_result(result, path: str | Path) -> Path:
    """Draw ``result`` (a :class:`~sim.result.SimResult`) to an image file (PNG, SVG or PDF by suffix).

    Left: the local map, metres east/north of the origin.  Right: every recording's envelope
    over time (one row per sensor, normalised), with the true discharge times as red ticks.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, (ax, aw) = plt.subplots(1, 2, figsize=(15, 7), gridspec_kw={"width_ratios": [1, 1.4]})
    for x0, x1, y0, y1, _ in result.buildings:
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, color="0.8", zorder=1))
    for rec in result.sensors:
        ax.plot(*rec.pos_m[:2], "^", color="tab:blue", ms=8, zorder=3)
        ax.annotate(rec.sensor_id, rec.pos_m[:2], textcoords="offset points", xytext=(4, 4), fontsize=7)
    shooters = {}
    for s in result.truth.shots:
        shooters.setdefault((s.incident, s.shooter), s.pos_m)
    for (inc, name), pos in shooters.items():
        ax.plot(*pos[:2], "x", color="tab:red", ms=10, mew=2, zorder=4)
        ax.annotate(f"{name} ({result.truth.incidents[inc]})", pos[:2], textcoords="offset points", xytext=(5, -10),
                    fontsize=7, color="tab:red")
    seen = set()
    for cf in result.truth.confusers:
        label = cf.kind if cf.kind not in seen else None
        seen.add(cf.kind)
        ax.plot(*cf.pos_m[:2], _CONFUSER_MARKERS.get(cf.kind, "o"), color="tab:orange", ms=7, label=label, zorder=4)
    ax.set_aspect("equal")
    ax.set_xlabel("east, m")
    ax.set_ylabel("north, m")
    ax.set_title(f"{result.name} (seed {result.seed}): sensors ▲, shooters ×, confusers")
    if seen:
        ax.legend(fontsize=7, loc="lower right")

    t0 = min(r.start_ns for r in result.sensors)
    for k, rec in enumerate(result.sensors):
        hop = max(int(rec.fs_hz // 200), 1)  # 5 ms envelope
        env = np.abs(rec.audio[: rec.audio.size // hop * hop]).reshape(-1, hop).max(axis=1)
        t = (rec.start_ns - t0) / 1e9 + np.arange(env.size) * hop / rec.fs_hz
        aw.plot(t, k + 0.9 * env / max(float(env.max()), 1e-9), lw=0.4, color="tab:blue")
    for s in result.truth.shots:
        aw.axvline((s.t_ns - t0) / 1e9, color="tab:red", lw=0.3, alpha=0.5)
    aw.set_yticks(range(len(result.sensors)), [r.sensor_id for r in result.sensors], fontsize=7)
    aw.set_xlabel("time since the first recording starts, s")
    aw.set_title("recordings (peak envelope per 5 ms, each normalised); true shots in red")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out

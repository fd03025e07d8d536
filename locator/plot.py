"""A map of an analysis: sensors, shots with their 1-sigma error ellipses, shooters coloured.

Drawn in the local frame (metres east/north of the site origin), one marker style per
incident class, one colour per shooter within each incident.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from salvo.errors import InputError, where


def plot_map(path: str | Path, analysis, title: str | None = None) -> Path:
    """Write a PNG map of ``analysis`` (a :class:`locator.analyze.Analysis`).

    Parameters
    ----------
    path : str or Path
        PNG to write.
    analysis : Analysis
    title : str, optional
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    sensors = analysis.sensor_set.sensors
    pos = np.array([s.pos_m for s in sensors]).reshape(-1, 3)
    fig, ax = plt.subplots(figsize=(8, 7), dpi=110)
    ax.scatter(pos[:, 0], pos[:, 1], marker="^", s=40, c="0.3", label="sensors", zorder=3)
    for s in sensors:
        ax.annotate(s.sensor_id, (s.pos_m[0], s.pos_m[1]), fontsize=6, color="0.35",
                    xytext=(3, 3), textcoords="offset points")
    cmap = plt.get_cmap("tab10")
    markers = {"gunfire": "o", "fireworks": "*", "impulse": "x", "echo": "."}
    labelled = set()
    for inc in analysis.incidents:
        for shot, k in zip(inc.shots, inc.shooters):
            colour = cmap(k % 10) if inc.klass == "gunfire" else "0.55"
            label = f"{inc.klass}, shooter {k}" if inc.klass == "gunfire" else inc.klass
            ax.scatter(shot.pos_m[0], shot.pos_m[1], marker=markers.get(inc.klass, "o"), s=28, color=colour,
                       label=None if label in labelled else label, zorder=4)
            labelled.add(label)
            ell = getattr(shot.solution, "ellipse", None)
            if ell is not None and math.isfinite(ell.semi_major_m) and ell.semi_major_m > 0:
                # azimuth is clockwise from north; matplotlib's angle counter-clockwise from east
                ax.add_patch(Ellipse((shot.pos_m[0], shot.pos_m[1]), 2 * ell.semi_major_m, 2 * ell.semi_minor_m,
                                     angle=90.0 - ell.azimuth_deg, fill=False, color=colour, lw=0.8, zorder=2))
    n_gun = sum(i.n_shots for i in analysis.incidents if i.klass == "gunfire")
    ax.set_title(title or f"{len(analysis.incidents)} incidents, {n_gun} gunfire shots, "
                          f"{len(analysis.detections)} detections")
    ax.set_xlabel("east (m)")
    ax.set_ylabel("north (m)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(True, lw=0.3)
    ax.legend(fontsize=7, loc="best")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    except OSError as exc:
        raise InputError(f"{where(path)}: cannot write: {exc}") from exc
    finally:
        plt.close(fig)
    return path

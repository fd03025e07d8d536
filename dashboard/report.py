"""Exports for a school board or outreach team: incidents as CSV and GeoJSON, and a one-page
report (PNG or PDF) with the map, time-of-day charts, periods and the monthly trend.

The functions return bytes; writing them anywhere is the caller's business.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json

import numpy as np

from dashboard.analytics import Dataset
from salvo.utc import format_utc_ns

CSV_FIELDS = ("id", "source", "t_utc", "local_time", "lat", "lon", "rounds", "kind", "zone", "fireworks", "address")


def _local_text(ds: Dataset, i: int) -> str:
    return (_dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=int(ds.local.local_s[i]))).isoformat(sep=" ")


def incidents_csv(ds: Dataset, idx: np.ndarray, details: dict[int, dict]) -> bytes:
    """Selected incidents as CSV, one row each, times in UTC and local wall-clock time.

    Parameters
    ----------
    idx : ndarray of int, shape (k,)
        Dataset indices of the incidents.
    details : dict
        Store row id -> full record (``source``, ``ext_id``, ``address``), from the store.
    """
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for i in idx.tolist():
        d = details.get(int(ds.cols.row_id[i]), {})
        z = ds.zone[i]
        w.writerow([d.get("ext_id", ""), d.get("source", ""), format_utc_ns(int(ds.cols.t_ns[i]), 0),
                    _local_text(ds, i), f"{ds.cols.lat[i]:.6f}", f"{ds.cols.lon[i]:.6f}", int(ds.cols.rounds[i]),
                    ds.cols.kinds[ds.cols.kind_code[i]] if ds.cols.kinds else "",
                    ds.zone_names[z] if z >= 0 else "", int(ds.fireworks[i]), d.get("address", "")])
    return out.getvalue().encode("utf-8")


def counts_csv(summary: dict) -> bytes:
    """The zone and school tables of a summary as one CSV: ``group, name, incidents, rounds``,
    then the hour-of-day and period counts (``group`` = hour / period)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(("group", "name", "incidents", "rounds"))
    for z in summary["zones"]:
        w.writerow(("zone", z["name"], z["incidents"], z["rounds"]))
    for s in summary["schools"]:
        w.writerow((f"school within {summary['school_radius_m']:g} m", s["name"], s["incidents"], s["rounds"]))
    for h, c in enumerate(summary["hours"]):
        w.writerow(("local hour", f"{h:02d}:00", c, ""))
    for p in summary["periods"]:
        w.writerow(("period", p["name"], p["incidents"], ""))
    return out.getvalue().encode("utf-8")


def incidents_geojson(ds: Dataset, idx: np.ndarray) -> bytes:
    """Selected incidents as a GeoJSON FeatureCollection of points."""
    feats = []
    for i in idx.tolist():
        z = ds.zone[i]
        feats.append({"type": "Feature",
                      "geometry": {"type": "Point", "coordinates": [round(float(ds.cols.lon[i]), 7),
                                                                    round(float(ds.cols.lat[i]), 7)]},
                      "properties": {"t_utc": format_utc_ns(int(ds.cols.t_ns[i]), 0), "local_time": _local_text(ds, i),
                                     "rounds": int(ds.cols.rounds[i]), "zone": ds.zone_names[z] if z >= 0 else None,
                                     "fireworks": bool(ds.fireworks[i])}})
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode("utf-8")


def one_page_report(ds: Dataset, mask: np.ndarray, summary: dict, title: str, subtitle: str, fmt: str = "png") -> bytes:
    """A printable one-page report (A4 portrait) of one selection.

    Parameters
    ----------
    mask : ndarray of bool, shape (n,)
        The selected incidents.
    summary : dict
        :func:`dashboard.api.summary` of the same selection.
    title, subtitle : str
        E.g. the zone or school name, and the filter in words.
    fmt : str
        ``"png"`` (150 dpi) or ``"pdf"``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8.27, 11.69))
    fig.suptitle(title, fontsize=16, fontweight="bold", y=0.985)
    fig.text(0.5, 0.955, subtitle, ha="center", fontsize=9, color="#444")
    gs = fig.add_gridspec(4, 2, left=0.08, right=0.96, top=0.93, bottom=0.08, hspace=0.45, wspace=0.28,
                          height_ratios=[1.5, 1, 1, 1])
    # Map: zones in the selection, incident points sized by rounds.
    ax = fig.add_subplot(gs[0, 0])
    shown = set(summary_zone_names(summary))
    for zi, z in enumerate(ds.zones):
        if z.name not in shown:
            continue
        polys = [z.geometry["coordinates"]] if z.geometry["type"] == "Polygon" else z.geometry["coordinates"]
        for poly in polys:
            ring = np.asarray(poly[0])
            ax.plot(ring[:, 0], ring[:, 1], color="#555", lw=0.5)
    lat, lon = ds.cols.lat[mask], ds.cols.lon[mask]
    ax.scatter(lon, lat, s=2 + 2 * np.minimum(ds.cols.rounds[mask], 10), c="#c0392b", alpha=0.35, lw=0)
    ax.set_aspect(1 / np.cos(np.radians(np.mean(lat) if lat.size else 37.75)))
    ax.set_title("Incidents (dot size: rounds)", fontsize=9)
    ax.ticklabel_format(useOffset=False)
    ax.tick_params(labelsize=6)
    # Key figures.
    ax = fig.add_subplot(gs[0, 1])
    ax.axis("off")
    lines = [f"Incidents: {summary['incidents']:,}", f"Rounds: {summary['rounds']:,}",
             f"In fireworks windows: {summary['fireworks_incidents']:,}"]
    if summary.get("previous_period"):
        p = summary["previous_period"]
        lines.append(f"Previous period ({p['from']} to {p['to']}): {p['incidents']:,}")
    lines.append("")
    lines += [f"{p['name']}: {p['incidents']:,}" for p in summary["periods"]]
    top = sorted(summary["schools"], key=lambda s: -s["incidents"])[:6]
    if top:
        lines += ["", f"Schools most affected (within {summary['school_radius_m']:.0f} m):"]
        lines += [f"  {s['name'][:34]}: {s['incidents']}" for s in top if s["incidents"]]
    ax.text(0, 1, "\n".join(lines), va="top", fontsize=8.5, family="DejaVu Sans")
    # Hour of day.
    ax = fig.add_subplot(gs[1, :])
    ax.bar(range(24), summary["hours"], color="#2c7fb8")
    ax.set_xticks(range(24))
    ax.set_title(f"Incidents by hour of day (local time, {summary['time_zone']})", fontsize=9)
    ax.tick_params(labelsize=7)
    # Hour x weekday.
    ax = fig.add_subplot(gs[2, :])
    im = ax.imshow(np.asarray(summary["hour_weekday"]), aspect="auto", cmap="OrRd")
    ax.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_xticks(range(24))
    ax.set_title("Hour of day x day of week", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.colorbar(im, ax=ax, fraction=0.02)
    # Monthly trend.
    ax = fig.add_subplot(gs[3, :])
    tr = summary["trend"]
    ax.plot(range(len(tr["months"])), tr["incidents"], color="#333", marker=".", ms=3)
    step = max(1, len(tr["months"]) // 12)
    ax.set_xticks(range(0, len(tr["months"]), step), tr["months"][::step], rotation=45, fontsize=6)
    ax.set_title("Incidents per month", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.text(0.5, 0.012, "Salvo dashboard - times are local wall-clock time; fireworks windows: July 4th and New Year "
             f"+-{ds.config.fireworks_window_h:.0f} h", ha="center", fontsize=6.5, color="#666")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150 if fmt == "png" else None)
    plt.close(fig)
    return buf.getvalue()


def summary_zone_names(summary: dict) -> list[str]:
    """Zones of a summary that have incidents (all of them when none has)."""
    z = [x["name"] for x in summary["zones"] if x["incidents"]]
    return z or [x["name"] for x in summary["zones"]]


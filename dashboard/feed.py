"""The dispatch role's live alert feed: the locator's recent incidents, proxied behind the
dashboard's own tokens, or the newest stored incidents when no locator is configured or it
does not answer.

The locator serves ``GET /incidents`` (results format of DESIGN.md, the last 24 h) and an
SSE stream at ``GET /alerts``; the dashboard proxies the first (so the page needs no
cross-origin access and no second credential) and links the second for dispatch consoles.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request

from salvo.errors import InputError
from salvo.utc import format_utc_ns


def feed_rows_from_results(doc: dict, limit: int) -> list[dict]:
    """The newest ``limit`` incidents of a results-format document as feed rows.

    Rows: ``id``, ``t_utc``, ``class``, ``rounds`` (``n_shots``), ``lat``, ``lon`` (mean of
    the shots; None in a local frame), ``source`` = ``"locator"``.

    Raises
    ------
    InputError
        When ``doc`` is not a results document.
    """
    incs = doc.get("incidents") if isinstance(doc, dict) else None
    if not isinstance(incs, list):
        raise InputError("locator /incidents: no 'incidents' list")
    rows = []
    for inc in incs:
        if not isinstance(inc, dict) or "start_utc" not in inc:
            raise InputError("locator /incidents: an incident without start_utc")
        shots = [s for s in inc.get("shots", []) if isinstance(s, dict)]
        lats = [s["lat"] for s in shots if isinstance(s.get("lat"), (int, float))]
        lons = [s["lon"] for s in shots if isinstance(s.get("lon"), (int, float))]
        rows.append({
            "id": str(inc.get("id", "")), "t_utc": str(inc["start_utc"]), "class": str(inc.get("class", "")),
            "rounds": int(inc.get("n_shots", len(shots)) or 0),
            "lat": sum(lats) / len(lats) if lats else None, "lon": sum(lons) / len(lons) if lons else None,
            "source": "locator",
        })
    rows.sort(key=lambda r: r["t_utc"], reverse=True)  # ISO UTC text sorts by time
    return rows[:limit]


def fetch_locator_incidents(base_url: str, timeout_s: float = 3.0) -> dict:
    """GET ``<base_url>/incidents`` from the locator and parse it.

    Raises
    ------
    InputError
        When the locator does not answer in time, answers an error, or sends no JSON.
    """
    url = base_url.rstrip("/") + "/incidents"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            body = r.read(16_000_000)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise InputError(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise InputError(f"{url}: not JSON: {exc}") from exc


def feed_rows_from_store(rows: list[dict]) -> list[dict]:
    """Stored incidents (``DashboardStore.latest``) as feed rows."""
    return [{"id": r["ext_id"], "t_utc": format_utc_ns(r["t_ns"], 3), "class": r["kind"], "rounds": r["rounds"],
             "lat": r["lat"] if math.isfinite(r["lat"]) else None, "lon": r["lon"] if math.isfinite(r["lon"]) else None,
             "source": r["source"]} for r in rows]

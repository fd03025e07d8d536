"""Alerts: what a dispatcher sees, pushed to subscribers as Server-Sent Events.

An alert is one published version of an incident: ``preliminary`` when a shot
is first located, ``update`` when more sensors or more shots refine it, ``final``
when no more can come.  :class:`AlertHub` fans alerts out to any number of
subscribers and keeps the last ones, so a terminal that reconnects with
``Last-Event-ID`` misses nothing.  :func:`follow` is the dispatcher's side.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from locator.store import StoredIncident
from salvo.utc import format_utc_ns

#: Values of :attr:`Alert.status`.
ALERT_STATUSES = ("preliminary", "update", "final")


@dataclass(frozen=True, slots=True)
class Alert:
    """One published version of an incident.

    Attributes
    ----------
    seq : int
        Position in the service's alert stream (the SSE event id), from 1.
    status : str
        One of :data:`ALERT_STATUSES`.
    published_ns : int
        When the service published it, UTC ns.
    latency_s : float
        From the arrival at the locator of the last detection this alert's new
        solution needed, to publication, s (NaN for a final alert that changed nothing).
    incident : StoredIncident
        The incident as stored at that moment.
    """

    seq: int
    status: str
    published_ns: int
    latency_s: float
    incident: StoredIncident

    def to_dict(self) -> dict[str, Any]:
        """The alert as JSON-ready data (the incident in the results format)."""
        return {
            "seq": self.seq,
            "status": self.status,
            "published_utc": format_utc_ns(self.published_ns, 6),
            "latency_s": None if math.isnan(self.latency_s) else round(self.latency_s, 6),
            "frame": self.incident.frame,
            "incident": self.incident.to_dict(),
        }


def format_alert(alert: dict[str, Any]) -> str:
    """One line for a dispatcher's terminal from an alert's JSON data.

    Example: ``21:15:03Z PRELIMINARY gunfire (0.93)  3 rounds, 1 shooter  at 41.88012, -87.63001 (±2.4 m)
    sensors S03 S07 S08 S11  [20260704T211503-S07-17 v1]``
    """
    inc = alert.get("incident", {})
    shots = inc.get("shots", [])
    start = str(inc.get("start_utc", ""))
    clock = start[11:19] + "Z" if len(start) >= 19 else start
    if alert.get("frame", "wgs84") == "wgs84":
        keys, fmt = ("lat", "lon"), "{:.5f}, {:.5f}"
    else:
        keys, fmt = ("x_m", "y_m"), "x {:.1f} m, y {:.1f} m"
    place = "position unknown"
    pts = [(s.get(keys[0]), s.get(keys[1])) for s in shots if s.get(keys[0]) is not None]
    if pts:
        place = fmt.format(sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
    errs = [s["err_m"] for s in shots if s.get("err_m") is not None]
    err = f" (±{sum(errs) / len(errs):.1f} m)" if errs else ""
    sensors = sorted({x for s in shots for x in s.get("sensors", [])})
    n, k = inc.get("n_shots", len(shots)), inc.get("n_shooters", 0)
    conf = inc.get("confidence")
    conf_txt = f" ({conf:.2f})" if isinstance(conf, (int, float)) else ""
    return (
        f"{clock} {str(alert.get('status', '')).upper():11s} {inc.get('class', '?')}{conf_txt}  "
        f"{n} round{'s' if n != 1 else ''}, {k} shooter{'s' if k != 1 else ''}  at {place}{err}  "
        f"sensors {' '.join(sensors)}  [{inc.get('id', '?')} v{inc.get('version', '?')}]"
    )


class AlertHub:
    """Fan-out of alerts to subscribers (asyncio), with a replay buffer.

    Parameters
    ----------
    buffer : int
        Alerts kept for late or reconnecting subscribers.
    queue_size : int
        Alerts a slow subscriber may fall behind before it is dropped.
    """

    def __init__(self, buffer: int = 500, queue_size: int = 1000):
        self._recent: deque[Alert] = deque(maxlen=buffer)
        self._subs: set[asyncio.Queue] = set()
        self._queue_size = queue_size
        self._seq = 0
        self.dropped_subscribers = 0

    @property
    def published(self) -> int:
        """Alerts published so far."""
        return self._seq

    @property
    def subscribers(self) -> int:
        """Subscribers connected now."""
        return len(self._subs)

    def publish(self, status: str, incident: StoredIncident, latency_s: float, now_ns: int | None = None) -> Alert:
        """Number, keep and send one alert to every subscriber."""
        self._seq += 1
        alert = Alert(self._seq, status, time.time_ns() if now_ns is None else now_ns, latency_s, incident)
        self._recent.append(alert)
        for q in list(self._subs):
            try:
                q.put_nowait(alert)
            except asyncio.QueueFull:
                # A subscriber this far behind is gone or stuck; it reconnects with Last-Event-ID.
                self._subs.discard(q)
                self.dropped_subscribers += 1
        return alert

    def subscribe(self, last_seq: int = 0) -> tuple[asyncio.Queue, list[Alert]]:
        """A new subscriber's queue, and the buffered alerts after ``last_seq`` it missed."""
        q: asyncio.Queue = asyncio.Queue(self._queue_size)
        self._subs.add(q)
        return q, [a for a in self._recent if a.seq > last_seq]

    def close(self) -> None:
        """End every subscription (each subscriber's queue receives None)."""
        for q in self._subs:
            try:
                q.put_nowait(None)
            except asyncio.QueueFull:
                pass
        self._subs.clear()

    def unsubscribe(self, q: asyncio.Queue) -> None:
        """Forget a subscriber."""
        self._subs.discard(q)

    def is_subscribed(self, q: asyncio.Queue) -> bool:
        """False once the hub dropped this subscriber for falling behind."""
        return q in self._subs

    def recent(self) -> list[Alert]:
        """The buffered alerts, oldest first."""
        return list(self._recent)


def sse_event(alert: Alert) -> bytes:
    """One Server-Sent Event carrying the alert's JSON."""
    return f"id: {alert.seq}\nevent: alert\ndata: {json.dumps(alert.to_dict(), allow_nan=False)}\n\n".encode()


def follow(
    url: str,
    out: TextIO = sys.stdout,
    *,
    max_alerts: int | None = None,
    timeout_s: float | None = None,
    as_json: bool = False,
    on_alert: Callable[[dict], None] | None = None,
    stop=None,
) -> int:
    """Print alerts from a locator's feed as they arrive, reconnecting when the link drops.

    Parameters
    ----------
    url : str
        The locator's HTTP address, e.g. ``http://127.0.0.1:7701`` (``/alerts`` is appended
        when the path is empty).
    out : text stream
    max_alerts : int, optional
        Stop after this many alerts.
    timeout_s : float, optional
        Stop after this long, s.
    as_json : bool
        Print each alert's JSON instead of a line of text.
    on_alert : callable, optional
        Also called with each alert's data.
    stop : threading.Event, optional
        Stop following once set (checked at least every second).

    Returns
    -------
    int
        Alerts received.
    """
    import http.client

    parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
    path = parts.path if parts.path not in ("", "/") else "/alerts"
    end = None if timeout_s is None else time.monotonic() + timeout_s
    last_id = 0
    got = 0
    backoff = 0.2
    def running() -> bool:
        return (end is None or time.monotonic() < end) and not (stop is not None and stop.is_set())

    while running():
        remaining = None if end is None else max(end - time.monotonic(), 0.01)
        try:
            conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80,
                                              timeout=min(remaining or 30.0, 30.0, 1.0 if stop is not None else 30.0))
            conn.request("GET", path, headers={"Accept": "text/event-stream", "Last-Event-ID": str(last_id)})
            resp = conn.getresponse()
            if resp.status != 200:
                print(f"salvo alerts: {url} answered {resp.status} {resp.reason}", file=sys.stderr)
                return got
            backoff = 0.2
            data: list[str] = []
            while running():
                try:
                    raw = resp.fp.readline()
                except TimeoutError:
                    continue  # quiet feed: look at the stop flag, keep the connection
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("id:"):
                    last_id = int(line[3:].strip() or 0)
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    alert = json.loads("\n".join(data))
                    data = []
                    print(json.dumps(alert) if as_json else format_alert(alert), file=out, flush=True)
                    if on_alert:
                        on_alert(alert)
                    got += 1
                    if max_alerts is not None and got >= max_alerts:
                        return got
            conn.close()
        except (OSError, http.client.HTTPException, ValueError):
            pass  # the locator restarts or the network drops: reconnect below
        if not running():
            break
        time.sleep(backoff)
        backoff = min(backoff * 2, 5.0)
    return got

"""The locator's HTTP side: the alert feed (Server-Sent Events), /health, /metrics, /nodes, /incidents.

A deliberately small HTTP/1.1 server on asyncio (GET only, one request per
connection, bounded header size and read time) so the service has no web
framework to keep patched on 500 field machines.

Routes
------
``GET /alerts``      text/event-stream; honours ``Last-Event-ID`` (missed alerts are replayed)
``GET /health``      JSON counters and latency percentiles
``GET /metrics``     the same counters in Prometheus text format
``GET /nodes``       JSON per-node health from heartbeats
``GET /incidents``   JSON results format; ``?since=ISO&until=ISO`` (default: the last 24 h)
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse

from locator.alerts import sse_event
from salvo.errors import InputError
from salvo.utc import parse_utc_ns

log = logging.getLogger("salvo.locator.http")
MAX_HEADER_BYTES = 8192
from salvo.utc import NS_PER_S as NS  # ns per s


class HttpApi:
    """Request handler bound to one :class:`locator.service.LocatorService`."""

    def __init__(self, service):
        self._svc = service
        self._live: set[asyncio.Task] = set()

    async def close_all(self, timeout_s: float = 2.0) -> None:
        """Wait for requests in progress to end (call after ``hub.close()``)."""
        if self._live:
            _, pending = await asyncio.wait(list(self._live), timeout=timeout_s)
            for t in pending:
                t.cancel()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one request; never raises."""
        task = asyncio.current_task()
        if task is not None:
            self._live.add(task)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
            if len(head) > MAX_HEADER_BYTES:
                raise ValueError("header too large")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            url = urllib.parse.urlsplit(target)
            query = dict(urllib.parse.parse_qsl(url.query))
            if method != "GET":
                await _send(writer, 405, "text/plain", b"GET only\n")
            elif url.path == "/alerts":
                await self._alerts(reader, writer, headers)
            elif url.path == "/health":
                await _send(writer, 200, "application/json", _json(self._svc.health()))
            elif url.path == "/metrics":
                await _send(writer, 200, "text/plain; version=0.0.4", self._metrics().encode())
            elif url.path == "/nodes":
                await _send(writer, 200, "application/json", _json(self._svc.node_table()))
            elif url.path == "/incidents":
                await self._incidents(writer, query)
            else:
                await _send(writer, 404, "text/plain", b"not found\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError):
            await _send(writer, 400, "text/plain", b"bad request\n")
        except (ConnectionError, OSError):
            pass
        except Exception:
            log.exception("http: unexpected error")
        finally:
            self._live.discard(task)  # type: ignore[arg-type]
            writer.close()

    async def _alerts(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      headers: dict[str, str]) -> None:
        try:
            last = int(headers.get("last-event-id", "0") or 0)
        except ValueError:
            last = 0
        hub = self._svc.hub
        q, missed = hub.subscribe(last)
        try:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                         b"Connection: close\r\n\r\n: salvo alerts\n\n")
            for a in missed:
                writer.write(sse_event(a))
            await writer.drain()
            idle = 0
            while hub.is_subscribed(q) or not q.empty():
                if reader.at_eof() or writer.is_closing():
                    return  # the subscriber hung up
                try:
                    alert = await asyncio.wait_for(q.get(), 1.0)
                except asyncio.TimeoutError:
                    idle += 1
                    if idle % 15 == 0:
                        writer.write(b": keep-alive\n\n")  # keeps proxies from closing a quiet feed
                else:
                    if alert is None:  # the service is stopping
                        return
                    writer.write(sse_event(alert))
                await writer.drain()
        finally:
            hub.unsubscribe(q)

    async def _incidents(self, writer: asyncio.StreamWriter, query: dict[str, str]) -> None:
        now = self._svc._clock()
        try:
            since = parse_utc_ns(query["since"], "since") if "since" in query else now - 24 * 3600 * NS
            until = parse_utc_ns(query["until"], "until") if "until" in query else None
        except InputError as exc:
            await _send(writer, 400, "text/plain", f"{exc}\n".encode())
            return
        incs = [i.to_dict() for i in self._svc.store.iter_incidents(since_ns=since, until_ns=until)]
        await _send(writer, 200, "application/json", _json({"frame": self._svc.sensors.frame_name, "incidents": incs}))

    def _metrics(self) -> str:
        h = self._svc.health()
        out = [
            "# TYPE salvo_events_total counter",
        ]
        for name, value in h["counters"].items():
            out.append(f'salvo_events_total{{event="{name}"}} {value}')
        for name in ("nodes_online", "connections", "open_incidents", "pending_detections", "subscribers",
                     "sensors_configured"):
            out.append(f"# TYPE salvo_{name} gauge")
            out.append(f"salvo_{name} {h[name]}")
        out.append("# TYPE salvo_alert_latency_seconds summary")
        for q, v in h["alert_latency_s"].items():
            if v is not None:
                out.append(f'salvo_alert_latency_seconds{{quantile="0.{q[1:]}"}} {v}')
        return "\n".join(out) + "\n"


def _json(obj) -> bytes:
    return json.dumps(obj, allow_nan=False).encode()


async def _send(writer: asyncio.StreamWriter, status: int, ctype: str, body: bytes) -> None:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}[status]
    try:
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                     f"Connection: close\r\n\r\n".encode() + body)
        await writer.drain()
    except (ConnectionError, OSError):
        pass

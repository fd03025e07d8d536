"""``salvo dashboard serve``: the page and its API over a standard-library ThreadingHTTPServer.

No web framework: the page is one static HTML file with vanilla JS drawing SVG and
canvas, and the API is a dozen GET endpoints returning JSON (or a file). Every ``/api``
call needs ``Authorization: Bearer <token>`` and is written to the access log.

Endpoints (filters: ``from``, ``to`` (local dates), ``zone`` (repeatable), ``school``,
``hour`` (``0-23``, ranges and lists), ``weekday`` (0 = Monday), ``fireworks``
(``include|exclude|only``)):

- ``/api/meta``: the caller, its zones and schools, the date span, the settings;
- ``/api/summary``: counts per zone and school, hour x weekday, periods, monthly trend;
- ``/api/zones``, ``/api/schools``: GeoJSON with counts;
- ``/api/points?limit=``: incident points; ``/api/heatmap?cell_m=``: the KDE grid;
- ``/api/export.csv``, ``/api/export.geojson``: the selected incidents; ``/api/counts.csv``: the
  zone, school, hour and period counts;
- ``/api/report.png``, ``/api/report.pdf``: a one-page report of the selection;
- ``/api/feed``: the newest live incidents (dispatch and admin); ``/api/access-log`` (admin).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from dashboard import api, feed, report
from dashboard.analytics import Dataset
from dashboard.config import ServeConfig
from dashboard.loading import load_datasets
from dashboard.partners import Account, authenticate
from dashboard.store import DashboardStore
from salvo.errors import SalvoError

STATIC_DIR = Path(__file__).with_name("static")
log = logging.getLogger("salvo.dashboard")


class DashboardApp:
    """What the request handlers share: the settings, one loaded dataset per zone set, and
    per-thread store connections.

    The datasets are built once at start; a background thread rebuilds them when the
    store's ``revision`` moves (checked every ``reload_interval_s``) and swaps them in when
    ready, so requests never wait for a reload.
    """

    def __init__(self, cfg: ServeConfig):
        self.cfg = cfg
        self._local = threading.local()
        self._stop = threading.Event()
        self._version = self.store().version()  # also creates the schema
        self._sets = self._build()
        if cfg.zone_set is not None and cfg.zone_set not in self._sets:
            log.warning("zone set %r is not stored; grouping by %r", cfg.zone_set, next(iter(self._sets)))
        self._reloader = threading.Thread(target=self._reload_loop, name="dataset-reload", daemon=True)
        self._reloader.start()

    def store(self) -> DashboardStore:
        """This thread's connection to the dashboard store."""
        st = getattr(self._local, "store", None)
        if st is None:
            st = DashboardStore(self.cfg.db)
            self._local.store = st
        return st

    def _build(self) -> dict[str, Dataset]:
        return load_datasets(self.store(), self.cfg.dashboard)

    def _reload_loop(self) -> None:
        while not self._stop.wait(self.cfg.reload_interval_s):
            try:
                version = self.store().version()
                if version != self._version:
                    self._sets = self._build()  # one reference swap: readers see the old or the new
                    self._version = version
            except Exception as exc:  # a busy or broken store must not stop the page
                log.warning("dataset reload failed: %s", exc)

    def zone_sets(self, account: Account) -> list[str]:
        """Zone sets ``account`` can group by: all for admin and dispatch, for a partner the
        sets holding at least one of its zones."""
        sets = self._sets
        return [k for k, ds in sets.items() if account.sees_everything or api.visible(ds, account)[0]]

    def default_zone_set(self, account: Account) -> str:
        """The configured zone set when ``account`` can use it, else the first it can."""
        mine = self.zone_sets(account) or list(self._sets)
        return self.cfg.zone_set if self.cfg.zone_set in mine else mine[0]

    def dataset(self, account: Account, zone_set: str | None = None) -> Dataset:
        """The current dataset grouped by ``zone_set`` (default: see :meth:`default_zone_set`).

        Raises
        ------
        ApiError
            400 for a zone set that is not stored.
        """
        sets = self._sets
        name = zone_set or self.default_zone_set(account)
        if name not in sets:
            raise api.ApiError(400, f"zone_set: {name[:60]!r} is not one of {', '.join(sets)}")
        return sets[name]

    def start_live_sync(self) -> threading.Thread | None:
        """Copy the locator's incidents every ``live_interval_s`` in a daemon thread (if configured)."""
        if not self.cfg.live_db:
            return None

        def loop() -> None:
            from dashboard.sources import sync_live_store

            while not self._stop.is_set():
                try:
                    sync_live_store(self.store(), self.cfg.live_db)
                except Exception as exc:  # a missing or busy locator store must not stop the page
                    log.warning("live sync from %s failed: %s", self.cfg.live_db, exc)
                self._stop.wait(self.cfg.live_interval_s)

        t = threading.Thread(target=loop, name="live-sync", daemon=True)
        t.start()
        return t

    def stop(self) -> None:
        """Stop background work."""
        self._stop.set()


class Handler(BaseHTTPRequestHandler):
    """One request. Routes ``/`` and ``/static/*`` to files and ``/api/*`` to :mod:`dashboard.api`."""

    server_version = "SalvoDashboard/1"
    app: DashboardApp  # set on the subclass made by make_server

    def log_message(self, fmt: str, *args: object) -> None:  # the access log is in the store
        log.debug("%s " + fmt, self.address_string(), *args)

    # -- responses -----------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: object, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj, separators=(",", ":")).encode("utf-8"), "application/json", extra)

    # -- methods -------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle()

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle()

    def _refuse_method(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._json(400, {"error": "Content-Length is not a number"})
            return
        if length > self.app.cfg.dashboard.limits.max_body_bytes:
            self._json(413, {"error": f"request body over {self.app.cfg.dashboard.limits.max_body_bytes} bytes"})
            return
        self._json(405, {"error": "the API is read-only: use GET"}, {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse_method

    def _handle(self) -> None:
        lim = self.app.cfg.dashboard.limits
        parts = urlsplit(self.path)
        if len(self.path) > lim.max_query_chars + 200 or len(parts.query) > lim.max_query_chars:
            self._json(414, {"error": f"query longer than {lim.max_query_chars} characters"})
            return
        path = parts.path
        if not path.startswith("/api/"):
            self._static(path)
            return
        account: Account | None = None
        status = 500
        try:
            header = self.headers.get("Authorization", "")
            token = header[7:].strip() if header.startswith("Bearer ") else None
            account = authenticate(self.app.store(), token)
            if account is None:
                status = 401
                self._json(401, {"error": "a valid bearer token is required"}, {"WWW-Authenticate": "Bearer"})
                return
            params = parse_qs(parts.query, keep_blank_values=False, max_num_fields=4 * lim.max_list_items)
            status = self._api(path, params, account)
        except api.ApiError as exc:
            status = exc.status
            self._json(exc.status, {"error": exc.message})
        except ValueError as exc:  # parse_qs: too many fields
            status = 400
            self._json(400, {"error": str(exc)[:200]})
        except SalvoError as exc:
            status = 400
            self._json(400, {"error": str(exc)[:300]})
        except Exception:  # nothing crashes the service
            log.error("error serving %s\n%s", path, traceback.format_exc())
            status = 500
            self._json(500, {"error": "internal error (logged)"})
        finally:
            try:
                self.app.store().log_access(account.name if account else "-", self.command, self.path, status,
                                            self.client_address[0])
            except Exception as exc:  # pragma: no cover - a full disk must not kill the request
                log.warning("access log write failed: %s", exc)

    def _static(self, path: str) -> None:
        name = "index.html" if path in ("/", "/index.html") else path[len("/static/"):] if path.startswith("/static/") else ""
        target = (STATIC_DIR / name).resolve() if name else None
        if target is None or target.parent != STATIC_DIR.resolve() or not target.is_file():
            self._json(404, {"error": "not found"})
            return
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        # The page runs only its own scripts and styles; images may also come from the optional tile server.
        csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:"
        if self.app.cfg.tiles_url:
            origin = urlsplit(self.app.cfg.tiles_url)
            csp += f" {origin.scheme}://{origin.netloc}"
        self._send(200, target.read_bytes(), ctype, {"Content-Security-Policy": csp, "X-Frame-Options": "DENY"})

    # -- API -----------------------------------------------------------------------------------
    def _api(self, path: str, params: dict[str, list[str]], account: Account) -> int:
        app = self.app
        lim = app.cfg.dashboard.limits
        zone_set = params.pop("zone_set", [None])[-1]
        ds = app.dataset(account, zone_set)
        route = path[len("/api/"):]
        if route == "feed":
            return self._feed(params, account)
        if route == "access-log":
            if account.role != "admin":
                raise api.ApiError(403, "the access log is for admins")
            self._json(200, {"entries": [dict(zip(("t_ns", "account", "method", "path", "status", "remote"), r))
                                         for r in app.store().access_log(200)]})
            return 200
        extra = {"points": ("limit",), "heatmap": ("cell_m", "kernel"), "report.png": ("title",), "report.pdf": ("title",),
                 "export.csv": ("limit",), "export.geojson": ("limit",)}.get(route, ())
        q = api.parse_query(params, ds, account, lim.max_list_items, extra)
        if route == "meta":
            body = api.meta(ds, q, account)
            body["tiles_url"] = app.cfg.tiles_url
            body["zone_sets"] = app.zone_sets(account)
            body["zone_set"] = zone_set or app.default_zone_set(account)
            body["feed"] = account.sees_everything
            self._json(200, body)
        elif route == "summary":
            self._json(200, api.summary(ds, q))
        elif route == "zones":
            self._json(200, api.zones_geojson(ds, q))
        elif route == "schools":
            self._json(200, api.schools_geojson(ds, q))
        elif route == "points":
            self._json(200, api.points(ds, q, _num_param(params, "limit", 5000, 0, lim.max_points)))
        elif route == "heatmap":
            cell = _num_param(params, "cell_m", app.cfg.dashboard.kde_cell_m, 5.0, 5000.0, float)
            kernel = (params.get("kernel") or [None])[-1]
            self._json(200, api.heatmap_body(ds, q, cell, lim.max_grid_cells, kernel))
        elif route == "counts.csv":
            self._send(200, report.counts_csv(api.summary(ds, q)), "text/csv; charset=utf-8",
                       {"Content-Disposition": 'attachment; filename="salvo-counts.csv"'})
        elif route in ("export.csv", "export.geojson"):
            idx, cut = api.selected_rows(ds, q, _num_param(params, "limit", 1_000_000, 0, 1_000_000))
            hdr = {"Content-Disposition": f'attachment; filename="salvo-incidents.{route.split(".")[1]}"',
                   "X-Truncated": str(cut).lower()}
            if route == "export.csv":
                details = {r["id"]: r for r in app.store().incident_rows(ds.cols.row_id[idx])}
                self._send(200, report.incidents_csv(ds, idx, details), "text/csv; charset=utf-8", hdr)
            else:
                self._send(200, report.incidents_geojson(ds, idx), "application/geo+json", hdr)
        elif route in ("report.png", "report.pdf"):
            fmt = route.split(".")[1]
            summ = api.summary(ds, q)
            title = (params.get("title") or [api.default_title(ds, q, account)])[-1][:120]
            png = report.one_page_report(ds, api.selection(ds, q), summ, title, api.describe(params), fmt)
            self._send(200, png, "image/png" if fmt == "png" else "application/pdf",
                       {"Content-Disposition": f'attachment; filename="salvo-report.{fmt}"'})
        else:
            raise api.ApiError(404, f"no such endpoint {route[:60]!r}")
        return 200

    def _feed(self, params: dict[str, list[str]], account: Account) -> int:
        if not account.sees_everything:
            raise api.ApiError(403, "the live alert feed is for the dispatch role")
        for k in params:
            if k != "limit":
                raise api.ApiError(400, f"unknown parameter {k[:40]!r}")
        n = _num_param(params, "limit", 50, 1, 500)
        url = self.app.cfg.locator_url
        body: dict = {"locator": url, "sse": (url.rstrip("/") + "/alerts") if url else None, "error": None}
        if url:
            try:
                body["incidents"] = feed.feed_rows_from_results(feed.fetch_locator_incidents(url), n)
                body["from"] = "locator"
            except SalvoError as exc:  # the locator is down: say so, and show what the store has
                body["error"] = str(exc)[:300]
        if "incidents" not in body:
            body["incidents"] = feed.feed_rows_from_store(self.app.store().latest(n))
            body["from"] = "store"
        self._json(200, body)
        return 200


def _num_param(params: dict[str, list[str]], name: str, default: float, lo: float, hi: float, kind: type = int):
    """The last value of parameter ``name`` as ``kind`` (int or float) in [lo, hi], else ``default``."""
    if not params.get(name):
        return default
    text = params[name][-1]
    try:
        v = kind(text)
    except ValueError:
        raise api.ApiError(400, f"{name}: {text[:40]!r} is not a {'whole ' if kind is int else ''}number") from None
    if not lo <= v <= hi:
        raise api.ApiError(400, f"{name}: {v} is outside {lo}..{hi}")
    return v


def make_server(cfg: ServeConfig) -> tuple[ThreadingHTTPServer, DashboardApp]:
    """Build (not start) the HTTP server and its app; ``server.server_address`` has the real port."""
    app = DashboardApp(cfg)
    handler = type("BoundHandler", (Handler,), {"app": app})
    httpd = ThreadingHTTPServer((cfg.host, cfg.port), handler)
    httpd.daemon_threads = True
    return httpd, app

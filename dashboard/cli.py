"""``salvo dashboard ...``: import alert tables, zones and schools, manage partners, serve the page.

Only the standard library is imported at module level; the handlers import the rest.
"""

from __future__ import annotations

import argparse
import signal
import sys

DEFAULT_DB = "salvo-dashboard.db"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``salvo dashboard`` and its subcommands."""
    p = subparsers.add_parser("dashboard", help="Data for Good: analytics, web page and partner API",
                              description="Gunfire analytics by zone, school and time of day, a web page and a "
                                          "partner API over a dashboard store (SQLite).")
    sub = p.add_subparsers(dest="dashboard_command", metavar="ACTION")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    def db_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--db", default=DEFAULT_DB, help=f"dashboard store (default {DEFAULT_DB})")

    s = sub.add_parser("import", help="import a city's alert table (CSV) through a column mapping")
    s.add_argument("csv", help="the alert table")
    s.add_argument("--mapping", default="sf-shotspotter",
                   help="built-in mapping name (sf-shotspotter, iso-utc) or a TOML/JSON mapping file")
    s.add_argument("--source", help="source label (default: the mapping's name)")
    db_arg(s)
    s.set_defaults(func=_import)

    s = sub.add_parser("zones", help="store a zone set (GeoJSON polygons: neighbourhoods, districts, ...)")
    s.add_argument("geojson")
    s.add_argument("--name-property", required=True, help="feature property with the zone name (SF: nhood)")
    s.add_argument("--set", dest="zone_set", default="zones", help="name of the zone set (default: zones)")
    db_arg(s)
    s.set_defaults(func=_zones)

    s = sub.add_parser("schools", help="store the schools (CSV with name, lat, lon)")
    s.add_argument("csv")
    db_arg(s)
    s.set_defaults(func=_schools)

    s = sub.add_parser("sync-live", help="copy incidents from the locator's incident store once")
    s.add_argument("locator_db")
    db_arg(s)
    s.set_defaults(func=_sync)

    s = sub.add_parser("serve", help="serve the page and the API")
    db_arg(s)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--config", help="dashboard settings (TOML): time zone, school radius, school day, limits")
    s.add_argument("--zone-set", help="zone set to group by (default: the first stored)")
    s.add_argument("--tiles-url", help="base-map tile URL template .../{z}/{x}/{y}.png (off by default)")
    s.add_argument("--live-db", help="the locator's incident store to follow (read-only)")
    s.add_argument("--locator-url", help="the locator's HTTP base URL (http://host:port): its /incidents feed dispatch")
    s.set_defaults(func=_serve)

    s = sub.add_parser("report", help="write a one-page report (PNG/PDF) or the incidents (CSV/GeoJSON) of a selection")
    db_arg(s)
    s.add_argument("--out", required=True, help="output file: .png, .pdf, .csv or .geojson")
    s.add_argument("--zone", action="append", default=[], help="a zone (repeat)")
    s.add_argument("--school", help="a school: incidents within its radius")
    s.add_argument("--from", dest="date_from", help="first local date, YYYY-MM-DD")
    s.add_argument("--to", dest="date_to", help="last local date, YYYY-MM-DD")
    s.add_argument("--hour", help="local hours, e.g. 18-23,0-5")
    s.add_argument("--weekday", help="weekdays, 0 = Monday, e.g. 4,5,6")
    s.add_argument("--fireworks", choices=("include", "exclude", "only"), default="include")
    s.add_argument("--title", help="report title (default: names the selection)")
    s.add_argument("--config", help="dashboard settings (TOML)")
    s.add_argument("--zone-set", help="zone set to group by (default: the first stored)")
    s.set_defaults(func=_report)

    s = sub.add_parser("partner", help="add, remove or list accounts (admin, dispatch, partner)")
    psub = s.add_subparsers(dest="partner_command", metavar="ACTION")
    s.set_defaults(func=lambda a: (s.print_help(), 2)[1])
    a = psub.add_parser("add", help="add an account and print its token (shown once)")
    a.add_argument("name")
    a.add_argument("--role", choices=("admin", "dispatch", "partner"), default="partner")
    a.add_argument("--zone", action="append", default=[], help="a zone of the partner's area (repeat)")
    db_arg(a)
    a.set_defaults(func=_partner_add)
    r = psub.add_parser("remove", help="remove an account; its token stops working at once")
    r.add_argument("name")
    db_arg(r)
    r.set_defaults(func=_partner_remove)
    ls = psub.add_parser("list", help="list accounts")
    db_arg(ls)
    ls.set_defaults(func=_partner_list)


def _import(args: argparse.Namespace) -> int:
    from dashboard.importers import load_mapping
    from dashboard.sources import import_table
    from dashboard.store import DashboardStore

    with DashboardStore(args.db) as store:
        rep = import_table(store, args.csv, load_mapping(args.mapping), args.source)
    for line in rep.errors[:50]:
        print(f"skipped {line}", file=sys.stderr)
    if len(rep.errors) > 50:
        print(f"... and {len(rep.errors) - 50} more skipped rows", file=sys.stderr)
    print(f"{args.csv}: {rep.n_valid} valid rows, {rep.n_added} added, {rep.n_duplicate} already stored, "
          f"{len(rep.errors)} skipped (source {rep.source!r}, store {args.db})")
    return 0


def _zones(args: argparse.Namespace) -> int:
    import json

    from dashboard.geo import load_zones
    from dashboard.store import DashboardStore

    zones = load_zones(args.geojson, args.name_property)
    with DashboardStore(args.db) as store:
        n = store.set_zones(args.zone_set, [(z.name, json.dumps(z.geometry)) for z in zones])
    print(f"{args.geojson}: {n} zones stored as set {args.zone_set!r}")
    return 0


def _schools(args: argparse.Namespace) -> int:
    from dashboard.geo import load_schools
    from dashboard.store import DashboardStore

    schools = load_schools(args.csv)
    with DashboardStore(args.db) as store:
        n = store.set_schools(schools)
    print(f"{args.csv}: {n} schools stored")
    return 0


def _sync(args: argparse.Namespace) -> int:
    from dashboard.sources import sync_live_store
    from dashboard.store import DashboardStore

    with DashboardStore(args.db) as store:
        rep = sync_live_store(store, args.locator_db)
    print(f"{args.locator_db}: {rep.n_read} read, {rep.n_added} added, {rep.n_updated} updated, "
          f"{rep.n_skipped} without a WGS84 position")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import logging

    from dashboard.config import ServeConfig, load_config
    from dashboard.server import make_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    cfg = ServeConfig(db=args.db, host=args.host, port=args.port, zone_set=args.zone_set, tiles_url=args.tiles_url,
                      live_db=args.live_db, locator_url=args.locator_url, dashboard=load_config(args.config))
    httpd, app = make_server(cfg)
    app.start_live_sync()

    def stop(signum, frame):  # noqa: ARG001 -- signal handler signature
        raise KeyboardInterrupt

    # Ctrl-C and a service manager's SIGTERM both stop it cleanly, as they do the locator and
    # the node; also when started in the background, where SIGINT comes in ignored.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    host, port = httpd.server_address[:2]
    print(f"dashboard on http://{host}:{port}/  (store {args.db}; Ctrl-C stops)", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.stop()
        httpd.server_close()
    return 0


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dashboard import api, report
    from dashboard.config import load_config
    from dashboard.loading import load_dataset
    from dashboard.partners import Account
    from dashboard.store import DashboardStore
    from salvo.errors import InputError

    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf", "csv", "geojson"):
        raise InputError(f"--out {out}: the name must end in .png, .pdf, .csv or .geojson")
    params = {k: [v] for k, v in (("school", args.school), ("from", args.date_from), ("to", args.date_to),
                                  ("hour", args.hour), ("weekday", args.weekday), ("fireworks", args.fireworks)) if v}
    if args.zone:
        params["zone"] = list(args.zone)
    local_admin = Account(0, "local", "admin", ())  # the command line has the file: it sees everything
    with DashboardStore(args.db) as store:
        ds = load_dataset(store, load_config(args.config), args.zone_set)
        try:
            q = api.parse_query(params, ds, local_admin, 1000)
        except api.ApiError as exc:
            raise InputError(exc.message) from None
        if fmt in ("png", "pdf"):
            body = report.one_page_report(ds, api.selection(ds, q), api.summary(ds, q),
                                          args.title or api.default_title(ds, q, local_admin), api.describe(params), fmt)
        else:
            idx, _ = api.selected_rows(ds, q, ds.n)
            if fmt == "csv":
                details = {r["id"]: r for r in store.incident_rows(ds.cols.row_id[idx])}
                body = report.incidents_csv(ds, idx, details)
            else:
                body = report.incidents_geojson(ds, idx)
    out.write_bytes(body)
    print(f"{out}: {api.default_title(ds, q, local_admin)} ({int(api.selection(ds, q).sum())} incidents)")
    return 0


def _partner_add(args: argparse.Namespace) -> int:
    from dashboard.partners import add_account
    from dashboard.store import DashboardStore

    with DashboardStore(args.db) as store:
        acct, token = add_account(store, args.name, args.role, tuple(args.zone))
    area = ", ".join(acct.zones) if acct.zones else "all zones"
    print(f"account {acct.name!r} ({acct.role}; {area}) added. Its token, shown only now:", file=sys.stderr)
    print(token)
    return 0


def _partner_remove(args: argparse.Namespace) -> int:
    from dashboard.partners import remove_account
    from dashboard.store import DashboardStore

    with DashboardStore(args.db) as store:
        ok = remove_account(store, args.name)
    print(f"account {args.name!r} {'removed' if ok else 'not found'}")
    return 0 if ok else 1


def _partner_list(args: argparse.Namespace) -> int:
    from dashboard.partners import list_accounts
    from dashboard.store import DashboardStore

    with DashboardStore(args.db) as store:
        for a in list_accounts(store):
            print(f"{a.name}\t{a.role}\t{'; '.join(a.zones) if a.zones else '(all zones)'}")
    return 0

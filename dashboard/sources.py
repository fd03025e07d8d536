"""Where the dashboard's incidents come from: city alert tables, and the locator's live store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dashboard.importers import ColumnMapping, read_alert_table
from dashboard.store import DashboardStore


@dataclass(frozen=True)
class ImportReport:
    """Outcome of one import.

    Attributes
    ----------
    source : str
        Source label the rows were stored under.
    n_valid : int
        Valid rows read.
    n_added : int
        Rows newly stored.
    n_duplicate : int
        Valid rows already in the store (same source and id).
    errors : tuple of str
        ``file:line: field: reason`` for every skipped row.
    """

    source: str
    n_valid: int
    n_added: int
    n_duplicate: int
    errors: tuple[str, ...]


def import_table(store: DashboardStore, path: str | Path, mapping: ColumnMapping, source: str | None = None) -> ImportReport:
    """Read a city's alert CSV through ``mapping`` and add its valid rows to ``store``."""
    table = read_alert_table(path, mapping)
    label = source or mapping.name
    added, dup = store.add_incidents(
        label, ((r.ext_id, r.t_ns, r.lat, r.lon, r.rounds, r.kind, r.address) for r in table.rows)
    )
    return ImportReport(label, len(table.rows), added, dup, tuple(table.error_lines()))


@dataclass(frozen=True)
class SyncReport:
    """Outcome of one pass over the locator's incident store.

    Attributes
    ----------
    n_read : int
        Incidents read from the locator's store.
    n_added : int
        New incidents stored.
    n_updated : int
        Incidents stored before and rewritten (the locator revises them as sensors report).
    n_skipped : int
        Incidents without a WGS84 position (local-frame results), which no map can place.
    """

    n_read: int
    n_added: int
    n_updated: int
    n_skipped: int


def sync_live_store(store: DashboardStore, locator_db: str | Path, source: str = "live",
                    overlap_ns: int = 3_600_000_000_000) -> SyncReport:
    """Copy the locator's incidents (``locator.store.IncidentStore``) into the dashboard store.

    Reads incidents starting from the newest one already copied minus ``overlap_ns`` (the
    locator may still revise recent incidents), opening the locator's store read-only.
    Each incident becomes one row: position the mean of its shots, rounds ``n_shots``,
    kind its ``class``.
    """
    from locator.store import IncidentStore

    last = store.latest_t_ns(source)
    since = None if last is None else int(last) - overlap_ns
    rows = []
    skipped = 0
    with IncidentStore(locator_db, readonly=True) as live:
        for inc in live.iter_incidents(since_ns=since):
            lat, lon, _ = inc.centroid()
            if inc.frame != "wgs84" or not (lat == lat and lon == lon):
                skipped += 1
                continue
            rows.append((inc.id, inc.start_ns, lat, lon, max(int(inc.n_shots), 1), inc.cls, ""))
    added, updated = store.add_incidents(source, rows, update=True)
    return SyncReport(len(rows) + skipped, added, updated, skipped)

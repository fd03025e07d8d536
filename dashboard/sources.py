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

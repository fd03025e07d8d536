"""From the dashboard store to an analysable :class:`~dashboard.analytics.Dataset` (the I/O edge)."""

from __future__ import annotations

import json

from dashboard.analytics import Dataset, build_dataset, with_zones
from dashboard.config import DashboardConfig
from dashboard.geo import Zone
from dashboard.store import DashboardStore
from salvo.errors import ConfigError


def load_dataset(store: DashboardStore, config: DashboardConfig, zone_set: str | None = None) -> Dataset:
    """Read incidents, one zone set and the schools from ``store`` and precompute the dataset.

    Parameters
    ----------
    zone_set : str, optional
        Zone set to group by; default the first stored (by name). None stored: no zones.

    Raises
    ------
    ConfigError
        When ``zone_set`` is named but not stored.
    """
    sets = store.zone_sets()
    if zone_set is not None and zone_set not in sets:
        raise ConfigError(f"zone_set: {zone_set!r} is not stored (stored: {', '.join(sets) or 'none'})")
    zset = zone_set or (sets[0] if sets else None)
    zones = [Zone(name, json.loads(geo)) for name, geo in (store.zones(zset) if zset else [])]
    return build_dataset(store.load_columns(), zones, store.schools(), config)


def load_datasets(store: DashboardStore, config: DashboardConfig) -> dict[str, Dataset]:
    """One dataset per stored zone set (neighbourhoods, council districts, ...), sharing the
    incident columns and time fields; ``{"": dataset without zones}`` when none is stored."""
    sets = store.zone_sets()
    base = load_dataset(store, config, sets[0] if sets else None)
    out = {sets[0] if sets else "": base}
    for name in sets[1:]:
        out[name] = with_zones(base, [Zone(n, json.loads(g)) for n, g in store.zones(name)])
    return out

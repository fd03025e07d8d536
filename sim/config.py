"""Typed configuration: a field helper that keeps each field's unit, default and bounds in one place,
and a strict loader from TOML tables that names the file and field of every mistake."""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any

from salvo.errors import ConfigError, where


def F(default: Any, unit: str = "", lo: float | None = None, hi: float | None = None, choices: tuple = (), doc: str = ""):
    """A config field: default, unit, inclusive bounds and allowed values (read by :func:`build`)."""
    meta = {"unit": unit, "lo": lo, "hi": hi, "choices": tuple(choices), "doc": doc}
    if isinstance(default, (list, dict)):
        raise TypeError("use tuples for sequence defaults")
    return field(default=default, metadata=meta)


def _convert(value: Any, default: Any, path: str, name: str) -> Any:
    """Coerce a TOML value to the type of the field's default."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where(path, field=name)}: expected true or false, got {value!r}")
        return value
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where(path, field=name)}: expected an integer, got {value!r}")
        return value
    if isinstance(default, float) or default is None:  # None: an optional number
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where(path, field=name)}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where(path, field=name)}: expected text, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            raise ConfigError(f"{where(path, field=name)}: expected a list of {len(default)} numbers, got {value!r}")
        return tuple(_convert(v, d, path, name) for v, d in zip(value, default))
    return value


def _check(value: Any, meta: dict, path: str, name: str) -> None:
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if meta.get("choices") and v not in meta["choices"]:
            raise ConfigError(f"{where(path, field=name)}: {v!r} is not one of {', '.join(map(str, meta['choices']))}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            unit = f" {meta['unit']}" if meta.get("unit") else ""
            if meta.get("lo") is not None and v < meta["lo"]:
                raise ConfigError(f"{where(path, field=name)}: {v}{unit} is below the minimum {meta['lo']}{unit}")
            if meta.get("hi") is not None and v > meta["hi"]:
                raise ConfigError(f"{where(path, field=name)}: {v}{unit} is above the maximum {meta['hi']}{unit}")


def build(cls, table: dict, path: str, prefix: str, skip: tuple[str, ...] = (), extra: dict | None = None):
    """Build the frozen dataclass ``cls`` from a TOML table, strictly.

    Parameters
    ----------
    cls : type
        A dataclass whose fields were declared with :func:`F` (or are given in ``extra``).
    table : dict
        The TOML table.
    path : str
        File name, for messages.
    prefix : str
        Dotted location of the table in the file (``"sensor[3]"``), for messages.
    skip : tuple of str
        Keys the caller handles itself (accepted, not converted).
    extra : dict, optional
        Field values the caller already built (nested tables).

    Raises
    ------
    ConfigError
        On unknown keys, wrong types and values out of bounds, naming file and field.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"{where(path, field=prefix)}: expected a table, got {table!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    extra = dict(extra or {})
    for key in table:
        if key not in fields and key not in skip:
            known = ", ".join(sorted(k for k in fields if k not in extra) + sorted(skip))
            raise ConfigError(f"{where(path, field=_dot(prefix, key))}: unknown key (known: {known})")
    kwargs = {}
    for name, f in fields.items():
        if name in extra:
            kwargs[name] = extra[name]
            continue
        if name not in table:
            continue
        meta = dict(f.metadata)
        default = f.default if f.default is not dataclasses.MISSING else None
        value = _convert(table[name], default, path, _dot(prefix, name))
        _check(value, meta, path, _dot(prefix, name))
        kwargs[name] = value
    return cls(**kwargs)


def _dot(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def describe(cls) -> list[tuple[str, Any, str, str]]:
    """(name, default, unit, doc) of every field of a config dataclass, for help text."""
    return [
        (f.name, f.default, f.metadata.get("unit", ""), f.metadata.get("doc", ""))
        for f in dataclasses.fields(cls)
    ]

"""Import city alert tables (CSV) through a column mapping, so new cities need no code.

A mapping is a small TOML or JSON file (see ``dashboard/mappings/``)::

    name = "sf-shotspotter"
    timezone = "America/Los_Angeles"  # zone of the times in the file ("UTC" for UTC)
    date_format = "%d-%b-%y"          # strptime formats, or datetime_format = "iso-utc"
    time_format = "%H:%M:%S"
    default_rounds = 1                # optional: used when the rounds cell is empty
    [columns]
    id = "ID"            # optional; the line number stands in when absent or empty
    date = "Date"        # either date + time, or datetime
    time = "Time"
    lat = "Latitude"
    lon = "Longitude"
    rounds = "Rnds"      # optional (then default_rounds)
    kind = "Type"        # optional
    address = "returned address"  # optional

Bad rows are reported with their line number and skipped; every valid row is kept.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import tomllib
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from salvo.errors import ConfigError, InputError, where
from salvo.utc import parse_utc_ns

MAPPINGS_DIR = Path(__file__).with_name("mappings")
_REQUIRED = ("lat", "lon")
_KNOWN_COLUMNS = ("id", "date", "time", "datetime", "lat", "lon", "rounds", "kind", "address")


@dataclass(frozen=True)
class ColumnMapping:
    """How one city's CSV maps onto incidents.

    Attributes
    ----------
    name : str
        Name of the mapping (also the default source label).
    timezone : str
        IANA zone the file's times are in; ``"UTC"`` for UTC.
    columns : tuple of (str, str)
        (field, CSV header) pairs; fields are ``id date time datetime lat lon rounds kind address``.
    date_format, time_format, datetime_format : str
        ``strptime`` formats; ``datetime_format = "iso-utc"`` reads ISO-8601 UTC text.
    default_rounds : int or None
        Rounds used when the cell is empty or the column absent; None makes it an error.
    """

    name: str
    timezone: str
    columns: tuple[tuple[str, str], ...]
    date_format: str = "%Y-%m-%d"
    time_format: str = "%H:%M:%S"
    datetime_format: str = "iso-utc"
    default_rounds: int | None = None

    def column(self, fieldname: str) -> str | None:
        """CSV header mapped to ``fieldname``, or None."""
        for f, c in self.columns:
            if f == fieldname:
                return c
        return None


@dataclass(frozen=True)
class ImportedRow:
    """One valid alert: UTC time, position, rounds and labels.

    Attributes
    ----------
    ext_id : str
        The table's id, or ``"L<line>"`` when it has none.
    t_ns : int
        UTC time, nanoseconds since the epoch.
    lat, lon : float
        WGS84 degrees.
    rounds : int
        Rounds fired (>= 1 where known).
    kind : str
        The table's label (e.g. ``Single_Gunshot``), ``""`` when absent.
    address : str
        Address text, ``""`` when absent.
    """

    ext_id: str
    t_ns: int
    lat: float
    lon: float
    rounds: int
    kind: str
    address: str


@dataclass(frozen=True)
class RowError:
    """A rejected row: ``path:line: field: reason``."""

    line: int
    field: str
    reason: str


@dataclass(frozen=True)
class ParsedTable:
    """What :func:`read_alert_table` found in one file.

    Attributes
    ----------
    path : str
        The file.
    rows : tuple of ImportedRow
        Every valid row, in file order.
    errors : tuple of RowError
        Every rejected row with its line number.
    """

    path: str
    rows: tuple[ImportedRow, ...]
    errors: tuple[RowError, ...]

    def error_lines(self) -> list[str]:
        """The errors as ``file:line: field: reason`` text."""
        return [f"{where(self.path, e.line, e.field)}: {e.reason}" for e in self.errors]


def load_mapping(spec: str | Path) -> ColumnMapping:
    """Load a mapping by built-in name (``sf-shotspotter``, ``iso-utc``) or from a TOML/JSON file.

    Raises
    ------
    ConfigError
        When the file is missing or malformed, or a required column is not mapped.
    """
    p = Path(spec)
    if not p.exists():
        builtin = MAPPINGS_DIR / f"{spec}.toml"
        if not builtin.exists():
            names = sorted(x.stem for x in MAPPINGS_DIR.glob("*.toml"))
            raise ConfigError(f"{where(spec)}: no such mapping file or built-in mapping (built-in: {', '.join(names)})")
        p = builtin
    try:
        text = p.read_text(encoding="utf-8")
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"{where(p)}: cannot read: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{where(p)}: not valid {'JSON' if p.suffix.lower() == '.json' else 'TOML'}: {exc}") from exc
    return mapping_from_dict(data, p)


def mapping_from_dict(data: dict, path: object = "<mapping>") -> ColumnMapping:
    """Check a parsed mapping and build a :class:`ColumnMapping`; errors name the field."""
    cols = data.get("columns")
    if not isinstance(cols, dict):
        raise ConfigError(f"{where(path, field='columns')}: a [columns] table is required")
    for k, v in cols.items():
        if k not in _KNOWN_COLUMNS:
            raise ConfigError(f"{where(path, field='columns.' + k)}: unknown field (known: {', '.join(_KNOWN_COLUMNS)})")
        if not isinstance(v, str) or not v:
            raise ConfigError(f"{where(path, field='columns.' + k)}: must be a CSV header name")
    for k in _REQUIRED:
        if k not in cols:
            raise ConfigError(f"{where(path, field='columns.' + k)}: required")
    if "datetime" not in cols and not ("date" in cols and "time" in cols):
        raise ConfigError(f"{where(path, field='columns')}: map either datetime, or date and time")
    tz = str(data.get("timezone", "UTC"))
    try:
        zoneinfo.ZoneInfo(tz)
    except Exception as exc:
        raise ConfigError(f"{where(path, field='timezone')}: unknown time zone {tz!r}") from exc
    dr = data.get("default_rounds")
    if dr is not None and (not isinstance(dr, int) or dr < 0):
        raise ConfigError(f"{where(path, field='default_rounds')}: must be a non-negative integer")
    extra = set(data) - {"name", "timezone", "columns", "date_format", "time_format", "datetime_format", "default_rounds"}
    if extra:
        raise ConfigError(f"{where(path, field=sorted(extra)[0])}: unknown setting")
    return ColumnMapping(
        name=str(data.get("name", Path(str(path)).stem)),
        timezone=tz,
        columns=tuple((k, v) for k, v in cols.items()),
        date_format=str(data.get("date_format", "%Y-%m-%d")),
        time_format=str(data.get("time_format", "%H:%M:%S")),
        datetime_format=str(data.get("datetime_format", "iso-utc")),
        default_rounds=dr,
    )


class _RowFault(Exception):
    def __init__(self, fieldname: str, reason: str):
        super().__init__(reason)
        self.field = fieldname
        self.reason = reason


def _cell(row: dict, header: str | None) -> str:
    if header is None:
        return ""
    v = row.get(header)
    return "" if v is None else v.strip()


def _parse_time(row: dict, m: ColumnMapping, tz: zoneinfo.ZoneInfo) -> int:
    dt_col = m.column("datetime")
    if dt_col is not None:
        text = _cell(row, dt_col)
        if not text:
            raise _RowFault(dt_col, "empty time")
        if m.datetime_format == "iso-utc":
            try:
                return parse_utc_ns(text, what=dt_col)
            except InputError as exc:
                raise _RowFault(dt_col, str(exc)) from None
        try:
            naive = _dt.datetime.strptime(text, m.datetime_format)
        except ValueError:
            raise _RowFault(dt_col, f"{text!r} does not match {m.datetime_format!r}") from None
    else:
        dcol, tcol = m.column("date"), m.column("time")
        dtext, ttext = _cell(row, dcol), _cell(row, tcol)
        try:
            d = _dt.datetime.strptime(dtext, m.date_format).date()
        except ValueError:
            raise _RowFault(dcol, f"{dtext!r} does not match {m.date_format!r}") from None
        try:
            t = _dt.datetime.strptime(ttext, m.time_format).time()
        except ValueError:
            raise _RowFault(tcol, f"{ttext!r} does not match {m.time_format!r}") from None
        naive = _dt.datetime.combine(d, t)
    # Local wall-clock time -> UTC.  In the repeated hour at the end of daylight time the
    # first occurrence (fold=0) is taken; the table gives no way to tell them apart.
    aware = naive.replace(tzinfo=tz)
    off = aware.utcoffset()
    utc = naive - off
    secs = (utc - _dt.datetime(1970, 1, 1)) // _dt.timedelta(seconds=1)
    return int(secs) * 1_000_000_000 + utc.microsecond * 1000


def _parse_float(row: dict, header: str, lo: float, hi: float) -> float:
    text = _cell(row, header)
    try:
        v = float(text)
    except ValueError:
        raise _RowFault(header, f"{text!r} is not a number") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise _RowFault(header, f"{text!r} is outside {lo}..{hi}")
    return v


def _parse_row(row: dict, line: int, m: ColumnMapping, tz: zoneinfo.ZoneInfo) -> ImportedRow:
    t_ns = _parse_time(row, m, tz)
    lat = _parse_float(row, m.column("lat"), -90.0, 90.0)
    lon = _parse_float(row, m.column("lon"), -180.0, 180.0)
    if lat == 0.0 and lon == 0.0:
        raise _RowFault(m.column("lat"), "position 0,0 (not geocoded)")
    rcol = m.column("rounds")
    rtext = _cell(row, rcol)
    if rtext == "":
        if m.default_rounds is None:
            raise _RowFault(rcol or "rounds", "empty rounds and the mapping has no default_rounds")
        rounds = m.default_rounds
    else:
        try:
            rounds = int(float(rtext))
        except ValueError:
            raise _RowFault(rcol, f"{rtext!r} is not a whole number") from None
        if rounds < 0 or float(rtext) != rounds:
            raise _RowFault(rcol, f"{rtext!r} is not a non-negative whole number")
    ext = _cell(row, m.column("id")) or f"L{line}"
    return ImportedRow(ext, t_ns, lat, lon, rounds, _cell(row, m.column("kind")), _cell(row, m.column("address")))


def read_alert_table(path: str | Path, mapping: ColumnMapping) -> ParsedTable:
    """Read a city's alert CSV through ``mapping``.

    Parameters
    ----------
    path : str or Path
        The CSV (UTF-8, a BOM is accepted; first line is the header).
    mapping : ColumnMapping
        Which columns hold what, and the time zone and formats of the times.

    Returns
    -------
    ParsedTable
        Valid rows and the rejected rows' line numbers and reasons. Line numbers are the
        file's physical line (1 = header) where the row ends.

    Raises
    ------
    InputError
        When the file cannot be read or a mapped column is missing from the header.
    """
    p = Path(path)
    tz = zoneinfo.ZoneInfo(mapping.timezone)
    rows: list[ImportedRow] = []
    errors: list[RowError] = []
    try:
        fh = p.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{where(p)}: cannot read: {exc.strerror}") from exc
    with fh:
        reader = csv.DictReader(fh)
        try:
            header = reader.fieldnames or []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{where(p, 1)}: unreadable header: {exc}") from exc
        missing = [c for _, c in mapping.columns if c not in header]
        if missing:
            raise InputError(
                f"{where(p, 1, ', '.join(missing))}: column(s) not in the header (mapping {mapping.name!r})"
            )
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                errors.append(RowError(reader.line_num, "", f"unreadable row: {exc}"))
                continue
            line = reader.line_num
            if None in row:  # more cells than headers
                errors.append(RowError(line, "", f"{len(header) + len(row[None])} cells, header has {len(header)}"))
                continue
            try:
                rows.append(_parse_row(row, line, mapping, tz))
            except _RowFault as fault:
                errors.append(RowError(line, fault.field, fault.reason))
    return ParsedTable(str(p), tuple(rows), tuple(errors))

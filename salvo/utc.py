"""UTC time as integer nanoseconds since the Unix epoch, and its ISO-8601 text.

In memory Salvo keeps time as ``int`` nanoseconds (``t_ns``); on the wire and on
disk as ISO-8601 UTC text with a ``Z`` suffix and up to nine fractional digits.
Python's ``datetime`` stops at microseconds, so the conversion is done by hand.
"""

from __future__ import annotations

import calendar
import re

from salvo.errors import InputError

NS_PER_S = 1_000_000_000

_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]00:?00|UTC)?\s*$"
)


def parse_utc_ns(text: str, what: str = "time") -> int:
    """Parse ISO-8601 UTC text into integer nanoseconds since the epoch.

    Parameters
    ----------
    text : str
        e.g. ``"2018-12-19T02:38:41.123456789Z"``.  A missing zone is read as UTC;
        any zone other than UTC is an error.
    what : str
        Name of the field, used in the error message.

    Raises
    ------
    InputError
        When the text is not an ISO-8601 UTC time.
    """
    m = _ISO.match(str(text))
    if not m:
        raise InputError(f"{what}: {text!r} is not an ISO-8601 UTC time like 2026-07-04T21:15:03.123456Z")
    year, month, day, hh, mm, ss = (int(g) for g in m.groups()[:6])
    frac = m.group(7) or ""
    try:
        secs = calendar.timegm((year, month, day, hh, mm, ss, 0, 0, 0))
    except (ValueError, OverflowError) as exc:  # pragma: no cover - timegm is lenient
        raise InputError(f"{what}: {text!r}: {exc}") from exc
    if not (1 <= month <= 12 and 1 <= day <= 31 and hh < 24 and mm < 60 and ss < 61):
        raise InputError(f"{what}: {text!r} has a field out of range")
    return secs * NS_PER_S + int(frac.ljust(9, "0") or 0)


def format_utc_ns(t_ns: int, digits: int = 6) -> str:
    """Format integer nanoseconds since the epoch as ISO-8601 UTC text.

    Parameters
    ----------
    t_ns : int
        Nanoseconds since 1970-01-01T00:00:00Z.
    digits : int
        Fractional digits, 0 to 9 (rounded, not truncated).
    """
    if not 0 <= digits <= 9:
        raise ValueError("digits must be 0..9")
    step = 10 ** (9 - digits)
    t = (int(t_ns) + step // 2) // step * step
    secs, ns = divmod(t, NS_PER_S)
    y, mo, d, h, mi, s = _gmtime(secs)
    base = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"
    if digits:
        base += "." + f"{ns:09d}"[:digits]
    return base + "Z"


def _gmtime(secs: int) -> tuple[int, int, int, int, int, int]:
    import time

    st = time.gmtime(secs)
    return st.tm_year, st.tm_mon, st.tm_mday, st.tm_hour, st.tm_min, st.tm_sec

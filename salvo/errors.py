"""The one exception tree of Salvo.

Every error Salvo raises on purpose is a :class:`SalvoError`.  Messages name the
file, line or field at fault, so that ``salvo`` can print them as they are and
exit with status 2 instead of a traceback.

Expected outcomes (too few sensors for a solution, a frame rejected by the
locator) are *results with a reason*, not exceptions; :class:`InsufficientSensors`
exists for the callers that do want to raise.
"""

from __future__ import annotations


class SalvoError(Exception):
    """Base of every error Salvo raises on purpose."""


class ConfigError(SalvoError):
    """A configuration or scenario file is unreadable or has a bad field."""


class InputError(SalvoError):
    """Input data (audio, CSV, JSON, detections) is missing or malformed."""


class InsufficientSensors(SalvoError):
    """Too few usable sensors to solve for the requested unknowns."""


class ProtocolError(SalvoError):
    """A wire frame is malformed, unauthenticated, replayed or otherwise rejected."""


class StoreError(SalvoError):
    """The incident store cannot be opened or written."""


def where(path: object, line: int | None = None, field: str | None = None) -> str:
    """Format the location part of an error message: ``file:line: field``.

    Parameters
    ----------
    path : str or os.PathLike
        File the problem is in.
    line : int, optional
        1-based line number.
    field : str, optional
        Field, key or column name.
    """
    text = str(path)
    if line is not None:
        text += f":{line}"
    if field is not None:
        text += f": {field}"
    return text

"""Salvo: open acoustic gunshot detection and location.

The `salvo` package holds what every other package shares: the exception tree
(:mod:`salvo.errors`), UTC time conversions (:mod:`salvo.utc`) and the command
dispatcher (:mod:`salvo.cli`).  The domain lives in the top-level packages
``dsp``, ``sim``, ``sensor_node``, ``locator`` and ``dashboard``.
"""

__version__ = "0.1.0"

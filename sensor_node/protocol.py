"""What crosses the wire from a sensor node to the locator.

One frozen dataclass per message kind.  :class:`Detection` is also the in-memory
type the locator's association works on, whether the detection came over the
wire, from a detection log (JSON Lines) or from ``salvo analyze``'s own detector.
Encoders, the schema version and the HMAC live beside the types (added with the
live system).
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 1

#: Values of :attr:`Detection.kind`.  ``blast``: a muzzle blast or blast-like
#: impulse (the arrival that locates); ``nwave``: a supersonic bullet's shock
#: wave, which arrives before the blast and must not be located as one;
#: ``secondary``: a later arrival of the same event (echo); ``impulse``: any other
#: impulsive sound the node could not label.
DETECTION_KINDS = ("blast", "nwave", "secondary", "impulse")


@dataclass(frozen=True, slots=True)
class Detection:
    """One impulse heard by one sensor.

    Attributes
    ----------
    sensor_id : str
        The sensor that heard it.
    t_ns : int
        UTC arrival time of the onset, nanoseconds since the Unix epoch.
    sigma_s : float
        1-sigma uncertainty of ``t_ns`` in seconds (picker and clock together).
    seq : int
        Per-sensor sequence number (0 where the detection did not come over the wire).
    snr_db : float
        Peak signal-to-noise ratio of the impulse in dB (NaN when unknown).
    peak_dbfs : float
        Peak level in dB relative to full scale (NaN when unknown).
    p_gunshot : float
        Classifier probability that the impulse is gunfire, 0..1 (NaN when unknown).
    kind : str
        One of :data:`DETECTION_KINDS`.
    """

    sensor_id: str
    t_ns: int
    sigma_s: float = 1e-3
    seq: int = 0
    snr_db: float = float("nan")
    peak_dbfs: float = float("nan")
    p_gunshot: float = float("nan")
    kind: str = "impulse"

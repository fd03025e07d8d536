"""The detector's result type: one :class:`Pick` per detected impulse."""

from __future__ import annotations

from dataclasses import dataclass

from dsp.features import Features

#: Values of :attr:`Pick.kind` (the same words as ``sensor_node.protocol.DETECTION_KINDS``).
#: ``blast``: a muzzle blast or blast-like impulse with a sharp rise (the arrival that locates);
#: ``nwave``: a supersonic bullet's shock wave arriving before a louder blast; ``secondary``: a later,
#: clearly quieter arrival soon after a primary one (an echo); ``impulse``: any other impulsive sound.
KINDS = ("blast", "nwave", "secondary", "impulse")


@dataclass(frozen=True, slots=True)
class Pick:
    """One impulse found by the detector.

    Attributes
    ----------
    onset_sample : float
        Sub-sample index of the onset of the earliest arrival, counted from the stream start (sample 0 = first
        sample given to the detector).
    sigma_s : float
        1-sigma uncertainty of the onset (s), from the noise before the onset, the steepness of the rising
        edge and the picker's calibrated model error.
    snr_db : float
        Peak signal-to-noise ratio: peak of the high-passed pulse over the RMS of the noise before it (dB).
    peak_dbfs : float
        Peak level of the raw input in the first 10 ms after the onset (dB re full scale 1.0).
    kind : str
        One of :data:`KINDS`.
    p_gunshot : float
        Classifier probability that the impulse is gunfire, 0..1 (NaN when no classifier is loaded).
    features : Features
        The named features the classifier saw.
    """

    onset_sample: float
    sigma_s: float
    snr_db: float
    peak_dbfs: float
    kind: str
    p_gunshot: float
    features: Features

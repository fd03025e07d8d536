"""Pure signal processing on numpy arrays: detector, onset picker, features, classifier, cross-correlation.

No I/O, no sockets, no clocks: arrays in, arrays and result objects out.

Public API (see docs/INTERFACES.md): :func:`detect`, :class:`StreamingDetector`, :class:`Pick`,
:class:`DetectorConfig`, :class:`Features`, :func:`gcc_phat`.
"""

from dsp.config import DetectorConfig
from dsp.detector import StreamingDetector, detect
from dsp.features import FEATURE_NAMES, Features
from dsp.gcc import gcc_phat
from dsp.pick import KINDS, Pick

__all__ = ["DetectorConfig", "StreamingDetector", "detect", "Pick", "KINDS", "Features", "FEATURE_NAMES",
           "gcc_phat"]

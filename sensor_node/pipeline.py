"""The node's detection pipeline: audio samples in, time-stamped :class:`Detection` out.

The same pipeline runs over a whole array (:func:`detect_array`, used by
``salvo analyze`` on recording sets) and block by block on a live node
(:class:`NodePipeline`).  Both call the ``dsp`` detector (``dsp.detect`` /
``dsp.StreamingDetector``, identical output for any block sizes) and turn each
pick's sub-sample onset index into UTC through a clock fit, so a live node and
an offline analysis of the same audio report the same detections.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from salvo.errors import InputError
from sensor_node.clock import ClockFit
from sensor_node.protocol import DETECTION_KINDS, Detection


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Settings of the node's detection pipeline.

    Attributes
    ----------
    detector : object or None
        The ``dsp`` detector configuration passed to ``dsp.detect`` /
        ``dsp.StreamingDetector`` (None: the detector's defaults).
    noise_window_blocks : int
        Blocks over which the noise floor is estimated (a low percentile of block
        RMS, so impulses do not raise it); default 200.
    """

    detector: Any = None
    noise_window_blocks: int = 200


def pick_to_detection(sensor_id: str, pick: Any, clock: ClockFit, clock_sigma_s: float = 0.0) -> Detection:
    """Convert one ``dsp.Pick`` into a :class:`Detection` through a clock fit.

    Parameters
    ----------
    sensor_id : str
        The sensor that heard the pick.
    pick : dsp.Pick
        ``onset_sample`` (fractional index from the stream start), ``sigma_s``,
        ``snr_db``, ``peak_dbfs``, ``kind``, ``p_gunshot``.
    clock : ClockFit
        Maps the stream's sample index to UTC.
    clock_sigma_s : float
        Timing uncertainty the clock adds, s; combined in quadrature with the
        picker's ``sigma_s``.
    """
    kind = pick.kind if pick.kind in DETECTION_KINDS else "impulse"
    return Detection(
        sensor_id=sensor_id,
        t_ns=clock.to_utc_ns(pick.onset_sample),
        sigma_s=float(math.hypot(float(pick.sigma_s), float(clock_sigma_s))),
        snr_db=float(pick.snr_db),
        peak_dbfs=float(pick.peak_dbfs),
        p_gunshot=float(pick.p_gunshot),
        kind=kind,
    )


def nominal_clock(start_ns: int, fs_hz: float) -> ClockFit:
    """The clock of a recording: sample 0 at ``start_ns``, exactly ``fs_hz`` samples a second."""
    return ClockFit(0, int(start_ns), 1.0 / float(fs_hz), 0.0, 0.0, 1, "nominal")


def _check(sensor_id: str, fs_hz: float) -> None:
    if not isinstance(sensor_id, str) or not sensor_id:
        raise InputError(f"sensor_id: must be non-empty text, got {sensor_id!r}")
    if not (isinstance(fs_hz, (int, float)) and fs_hz >= 8000):
        raise InputError(f"{sensor_id}: fs_hz: sample rate must be at least 8000 Hz, got {fs_hz!r}")


def _mono(audio: np.ndarray, sensor_id: str) -> np.ndarray:
    x = np.asarray(audio)
    if x.ndim == 2:
        x = x[:, 0]  # the first channel, as for recording sets
    if x.ndim != 1:
        raise InputError(f"{sensor_id}: audio must be 1-D (samples) or 2-D (samples, channels), got shape {x.shape}")
    return np.ascontiguousarray(x, dtype=np.float32)


def detect_array(
    sensor_id: str, audio: np.ndarray, fs_hz: float, start_ns: int, config: PipelineConfig | None = None
) -> list[Detection]:
    """Run the node's detector over a whole recording.

    Parameters
    ----------
    sensor_id : str
        Sensor id written into every detection.
    audio : ndarray, shape (n,) or (n, channels)
        Samples at full scale +-1; the first channel is used.
    fs_hz : float
        Sample rate, Hz.
    start_ns : int
        UTC of sample 0, ns since the epoch.
    config : PipelineConfig, optional

    Returns
    -------
    list of Detection
        In time order, ``seq`` 0 (they did not cross the wire).
    """
    import dsp

    _check(sensor_id, fs_hz)
    cfg = config or PipelineConfig()
    x = _mono(audio, sensor_id)
    clock = nominal_clock(start_ns, fs_hz)
    picks = dsp.detect(x, float(fs_hz), cfg.detector)
    return sorted((pick_to_detection(sensor_id, p, clock) for p in picks), key=lambda d: d.t_ns)


class NodePipeline:
    """The streaming twin of :func:`detect_array`, fed blocks as the node records them.

    Parameters
    ----------
    sensor_id : str
    fs_hz : float
        Sample rate, Hz.
    config : PipelineConfig, optional

    Notes
    -----
    ``process(block, clock)`` time-stamps this block's picks with the clock fit the
    caller holds at that moment (a live node refits as anchors arrive); with the
    fit of :func:`nominal_clock` the output equals :func:`detect_array`'s.
    """

    def __init__(self, sensor_id: str, fs_hz: float, config: PipelineConfig | None = None):
        import dsp

        _check(sensor_id, fs_hz)
        self.sensor_id = sensor_id
        self.fs_hz = float(fs_hz)
        self.config = config or PipelineConfig()
        self._detector = dsp.StreamingDetector(self.fs_hz, self.config.detector)
        self._rms_db: deque[float] = deque(maxlen=self.config.noise_window_blocks)
        self._samples = 0

    @property
    def samples_seen(self) -> int:
        """Samples processed so far (the index of the next sample)."""
        return self._samples

    def noise_floor_dbfs(self) -> float:
        """Noise floor, dBFS: the 10th percentile of recent block RMS levels (NaN before any audio)."""
        if not self._rms_db:
            return float("nan")
        return float(np.percentile(np.fromiter(self._rms_db, dtype=np.float64), 10))

    def process(self, block: np.ndarray, clock: ClockFit, clock_sigma_s: float = 0.0) -> list[Detection]:
        """Feed one block of samples; return the detections completed by it, in time order."""
        x = _mono(block, self.sensor_id)
        if x.size:
            rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
            self._rms_db.append(20.0 * math.log10(max(rms, 1e-10)))
        self._samples += x.size
        picks = self._detector.process(x)
        return sorted((pick_to_detection(self.sensor_id, p, clock, clock_sigma_s) for p in picks), key=lambda d: d.t_ns)

    def flush(self, clock: ClockFit, clock_sigma_s: float = 0.0) -> list[Detection]:
        """End of stream: the detections still held by the detector."""
        picks = self._detector.flush()
        return sorted((pick_to_detection(self.sensor_id, p, clock, clock_sigma_s) for p in picks), key=lambda d: d.t_ns)

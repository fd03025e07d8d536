"""A running sensor node: audio -> clock -> detector -> spool -> uplink, plus heartbeats.

:func:`run_node` is what ``salvo node`` runs.  The audio loop never waits on the
network: detections go to the disk spool and the uplink thread drains it, so a
locator or network outage costs nothing but delay.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sensor_node.clock import ClockModel
from sensor_node.config import NodeConfig
from sensor_node.pipeline import NodePipeline, PipelineConfig
from sensor_node.protocol import Detection, Heartbeat
from sensor_node.spool import Spool
from sensor_node.uplink import Uplink, UplinkStats

log = logging.getLogger("salvo.node")


@dataclass(frozen=True, slots=True)
class NodeReport:
    """What a node did, when it stops.

    Attributes
    ----------
    samples : int
        Audio samples processed.
    detections : int
        Detections made (all spooled).
    dropped_blocks : int
        Audio blocks lost by the source.
    spool_depth : int
        Detections still waiting for an ack.
    clock_state : str
    clock_drift_ppm : float
    heartbeats : int
    uplink : UplinkStats
    """

    samples: int
    detections: int
    dropped_blocks: int
    spool_depth: int
    clock_state: str
    clock_drift_ppm: float
    heartbeats: int
    uplink: UplinkStats


def _source(cfg: NodeConfig, stop: threading.Event):
    from sensor_node.audio import FileSource, LiveSource

    a = cfg.audio
    if a.source == "file":
        from salvo.utc import parse_utc_ns

        start = cfg.start_ns()
        epoch = parse_utc_ns(a.speed_epoch_utc, "audio.speed_epoch_utc") if a.speed_epoch_utc else None
        return FileSource(a.file, a.block, a.speed, time.time_ns() if start is None else start, stop, epoch)
    return LiveSource(a.device, a.fs_hz, a.block, a.queue_blocks, stop)


def run_node(cfg: NodeConfig, stop: threading.Event | None = None, drain_s: float = 0.0,
             on_detection=None) -> NodeReport:
    """Run a node until its audio ends or ``stop`` is set.

    Parameters
    ----------
    cfg : NodeConfig
    stop : threading.Event, optional
    drain_s : float
        At the end, wait up to this long for the spool to be acknowledged, s.
    on_detection : callable, optional
        Called with each :class:`Detection` as it is spooled (logging, tests).
    """
    import dsp

    stop = stop or threading.Event()
    spool = Spool(cfg.spool, cfg.sensor_id, cfg.key)
    uplink = Uplink(spool, cfg.key, cfg.uplink).start()
    source = _source(cfg, stop)
    fs = source.fs_hz
    file_mode = cfg.audio.source == "file"
    clock = ClockModel(fs, cfg.clock.window, cfg.clock.step_threshold_s, cfg.clock.holdover_s)
    pipe = NodePipeline(cfg.sensor_id, fs, PipelineConfig(detector=dsp.DetectorConfig(**cfg.detector)))
    anchor_every = max(int(cfg.clock.anchor_every_s * fs), 1)
    next_anchor = 0
    n_det = heartbeats = 0
    t_start = time.monotonic()
    next_hb = t_start
    fit = None

    def spool_all(dets: list[Detection]) -> None:
        nonlocal n_det
        for d in dets:
            d = spool.append(d)
            n_det += 1
            if on_detection:
                on_detection(d)

    def heartbeat(now_sample: int) -> None:
        nonlocal heartbeats
        f = clock.fit(now_sample)
        audio_ns = f.to_utc_ns(now_sample)
        # A replayed file's "now" is its audio time; a live node's is the system clock.
        now_ns = audio_ns if file_mode else time.time_ns()
        hb = Heartbeat(cfg.sensor_id, 0, now_ns, pipe.noise_floor_dbfs(), f.state, f.drift_ppm, f.jitter_s,
                       spool.depth(), source.dropped_blocks, time.monotonic() - t_start, audio_ns)
        uplink.send_heartbeat(spool.heartbeat_frame(hb))
        heartbeats += 1

    try:
        for block in source.blocks():
            if block.adc_utc_ns is not None and block.index >= next_anchor:
                clock.add_anchor(block.index, block.adc_utc_ns)
                next_anchor = block.index + anchor_every
            if fit is None and block.adc_utc_ns is None:
                # No time yet for this stream: the first anchor comes with the next timed block.
                clock.add_anchor(block.index, time.time_ns())
            fit = clock.fit(block.index)
            # A file's clock is exact by construction; a live clock adds its fit's uncertainty.
            spool_all(pipe.process(block.samples, fit, 0.0 if file_mode else fit.sigma_s()))
            if time.monotonic() >= next_hb:
                heartbeat(pipe.samples_seen)
                next_hb += cfg.heartbeat_s
            if stop.is_set():
                break
        if fit is not None:
            spool_all(pipe.flush(fit, 0.0 if file_mode else fit.sigma_s()))
            heartbeat(pipe.samples_seen)
        if drain_s > 0:
            uplink.wait_drained(drain_s)
    finally:
        uplink.stop()
        f = clock.fit(pipe.samples_seen) if fit is not None else None
        report = NodeReport(
            pipe.samples_seen, n_det, source.dropped_blocks, spool.depth(), f.state if f else "none",
            f.drift_ppm if f else 0.0, heartbeats, uplink.stats(),
        )
        spool.close()
    log.info("node %s stopped: %s", cfg.sensor_id, report)
    return report

"""Audio sources of a node: a live microphone (PortAudio via sounddevice) or a file replayed.

Both yield :class:`AudioBlock` objects: contiguous samples, the index of their
first sample in the stream, and -- where the hardware says -- the UTC at which
the ADC took that first sample.  The live source's PortAudio callback does
nothing but copy the block and its ``inputBufferAdcTime`` into a queue (anything
slower there makes the driver drop audio); ``sounddevice`` is imported only in
:class:`LiveSource`, so a machine without PortAudio can still replay files.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from salvo.errors import ConfigError, InputError

from salvo.utc import NS_PER_S as NS  # ns per s


@dataclass(frozen=True, slots=True)
class AudioBlock:
    """Consecutive samples of the stream.

    Attributes
    ----------
    samples : ndarray of float32, shape (n,)
        Full scale +-1, first channel.
    index : int
        Stream index of ``samples[0]``.
    adc_utc_ns : int or None
        UTC at which the ADC took ``samples[0]`` (None when the source cannot tell).
    """

    samples: np.ndarray
    index: int
    adc_utc_ns: int | None


class FileSource:
    """Replay a file as a stream, at ``speed`` times real time (0: as fast as possible).

    Parameters
    ----------
    path : Path
        Anything soundfile reads; the first channel is used.
    block : int
        Samples per block.
    speed : float
        Replay speed; 1 is real time.
    start_ns : int
        UTC of the first sample, ns (the file's own clock: anchors are exact).
    stop : threading.Event, optional
        Ends the replay early.
    epoch_ns : int, optional
        Pace on the UTC clock instead of from the moment replay starts: audio time ``t``
        is played at UTC ``epoch + (t - epoch) / speed``.  Nodes of one replay share it
        and play in step, whenever each process got going.
    """

    def __init__(self, path: Path, block: int, speed: float, start_ns: int, stop: threading.Event | None = None,
                 epoch_ns: int | None = None):
        import soundfile as sf

        try:
            self._info = sf.info(str(path))
        except (RuntimeError, OSError) as exc:  # soundfile raises RuntimeError-derived errors
            raise InputError(f"{path}: cannot read audio: {exc}") from None
        self.path = Path(path)
        self.fs_hz = int(self._info.samplerate)
        if self.fs_hz < 8000:
            raise InputError(f"{path}: sample rate {self.fs_hz} Hz is below 8000 Hz")
        self.block = int(block)
        self.speed = float(speed)
        self.start_ns = int(start_ns)
        self.dropped_blocks = 0
        self._stop = stop or threading.Event()
        self._epoch_ns = epoch_ns

    def _delay_s(self, t_wall0: float, index: int) -> float:
        """How long until the block ending at sample ``index`` has been "recorded", s."""
        if self._epoch_ns is None:
            return t_wall0 + index / self.fs_hz / self.speed - time.monotonic()
        t_audio = self.start_ns + index * NS / self.fs_hz
        due = self._epoch_ns + (t_audio - self._epoch_ns) / self.speed
        return (due - time.time_ns()) / NS

    def blocks(self) -> Iterator[AudioBlock]:
        """The file's blocks, paced at ``speed``."""
        import soundfile as sf

        t_wall0 = time.monotonic()
        index = 0
        with sf.SoundFile(str(self.path)) as fh:
            for data in fh.blocks(blocksize=self.block, dtype="float32", always_2d=True):
                if self._stop.is_set():
                    return
                if self.speed > 0:
                    # Block available once its last sample "was recorded" in replay time.
                    delay = self._delay_s(t_wall0, index + len(data))
                    if delay > 0 and self._stop.wait(delay):
                        return
                adc = self.start_ns + int(round(index * NS / self.fs_hz))
                yield AudioBlock(np.ascontiguousarray(data[:, 0]), index, adc)
                index += len(data)


class LiveSource:
    """A microphone through PortAudio (sounddevice), read by a callback into a queue.

    Parameters
    ----------
    device : str
        PortAudio input device name or index; ``""`` for the default.
    fs_hz : int
        Sample rate, Hz.
    block : int
        Samples per callback.
    queue_blocks : int
        Queue length; a full queue drops (and counts) blocks rather than stall the driver.
    stop : threading.Event, optional
    """

    def __init__(self, device: str, fs_hz: int, block: int, queue_blocks: int = 256,
                 stop: threading.Event | None = None):
        try:
            import sounddevice as sd
        except OSError as exc:  # PortAudio library missing
            raise ConfigError(f"audio.source = 'live' needs PortAudio (apt install libportaudio2): {exc}") from None
        self._sd = sd
        self.fs_hz = int(fs_hz)
        self.block = int(block)
        self.device = int(device) if str(device).isdigit() else (device or None)
        self.dropped_blocks = 0
        self.overflows = 0
        self._q: queue.Queue = queue.Queue(maxsize=int(queue_blocks))
        self._stop = stop or threading.Event()
        self._next_index = 0

    def _callback(self, indata, frames, time_info, status) -> None:
        # Runs on PortAudio's thread: copy and queue, nothing else.
        now_ns = time.time_ns()
        if status.input_overflow:
            self.overflows += 1
        adc, cur = time_info.inputBufferAdcTime, time_info.currentTime
        # The ADC time is on the stream's clock; its distance to "now" converts it to UTC.
        utc = now_ns - int((cur - adc) * NS) if adc > 0 and cur >= adc else None
        index = self._next_index
        self._next_index += frames
        try:
            self._q.put_nowait((indata[:, 0].copy(), index, utc))
        except queue.Full:
            self.dropped_blocks += 1

    def blocks(self) -> Iterator[AudioBlock]:
        """Blocks as the device delivers them, until ``stop`` is set or the device fails."""
        sd = self._sd
        try:
            # 16-bit: what USB microphones deliver; PortAudio converts if the device differs.
            stream = sd.InputStream(device=self.device, channels=1, samplerate=self.fs_hz, blocksize=self.block,
                                    dtype="int16", callback=self._callback)
        except (sd.PortAudioError, ValueError) as exc:
            raise ConfigError(f"audio.device {self.device!r}: cannot open for input: {exc}") from None
        expected = 0
        with stream:
            while not self._stop.is_set():
                try:
                    samples, index, utc = self._q.get(timeout=0.5)
                except queue.Empty:
                    if not stream.active:
                        return
                    continue
                if index > expected:
                    # Blocks dropped: fill the hole with silence so every index keeps its time.
                    gap = np.zeros(index - expected, dtype=np.float32)
                    yield AudioBlock(gap, expected, None)
                yield AudioBlock(samples.astype(np.float32) / 32768.0, index, utc)
                expected = index + len(samples)

"""The streaming impulse detector: trigger, onset picking, features, classification, labelling.

:class:`StreamingDetector` keeps all its state explicitly (filter state, trigger state, a bounded history of
samples, triggers waiting for their look-ahead, recent primary picks), so feeding a stream in blocks of any size
gives exactly the picks of one :func:`detect` call on the whole signal.

Two trigger channels run on the same frames: the default one, whose triggers are always picked, and a weak one
whose faint candidates become picks only when a whitened blast-matched filter confirms them (:mod:`dsp.confirm`).

Latency: a trigger is picked, measured and reported once the stream has passed ``lookahead_s`` (0.1 s by
default) beyond it; nothing else waits.  Memory: ``pre_s + lookahead_s`` of history plus the current block, in
buffers that are reused (grown at most to about twice that), so a stream of small blocks allocates little.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dsp.classifier import get_classifier
from dsp.config import FS_MAX_HZ, FS_MIN_HZ, DetectorConfig
from dsp.confirm import matched_z
from dsp.features import GAP_MAX_S, compute_features, context
from dsp.onset import PICKERS
from dsp.pick import Pick
from dsp.trigger import TriggerStream, design_trigger
from salvo.errors import ConfigError, InputError

#: Block length :func:`detect` feeds the streaming detector with (samples): bounds its working memory.
DETECT_CHUNK = 1 << 16


def check_fs(fs_hz: float) -> float:
    """Validate a sample rate; InputError naming ``fs_hz`` when outside 8-96 kHz."""
    try:
        fs = float(fs_hz)
    except (TypeError, ValueError):
        raise InputError(f"fs_hz: not a number: {fs_hz!r}") from None
    if not (FS_MIN_HZ <= fs <= FS_MAX_HZ):
        raise InputError(f"fs_hz: {fs_hz!r} Hz is outside the supported {FS_MIN_HZ:.0f}-{FS_MAX_HZ:.0f} Hz")
    return fs


def check_finite(a: np.ndarray, name: str, offset: int = 0) -> None:
    """InputError naming ``name`` and the index when ``a`` holds NaN or inf (checked in bounded chunks)."""
    step = 1 << 16
    for i in range(0, a.size, step):
        part = a[i : i + step]
        if not np.isfinite(part.sum()) and not np.isfinite(part).all():
            bad = i + int(np.flatnonzero(~np.isfinite(part))[0])
            raise InputError(f"{name}: non-finite sample (NaN or inf) at index {offset + bad}")


def as_block(x: object, name: str = "x", finite: bool = True) -> np.ndarray:
    """Validate audio samples and return them as contiguous float32 (full scale 1.0).

    Integer input is scaled to full scale by its type's range.  Raises InputError naming ``name`` for
    non-1-D, non-numeric or (when ``finite``) non-finite input.
    """
    a = np.asarray(x)
    if a.ndim != 1:
        raise InputError(f"{name}: expected a 1-D array of samples, got shape {a.shape}")
    if a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        a = (a.astype(np.float64) - (info.max + info.min + 1) / 2) / ((info.max - info.min + 1) / 2)
    elif a.dtype.kind != "f":
        raise InputError(f"{name}: expected real samples, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if finite:
        check_finite(a, name)
    return a


@dataclass(frozen=True, slots=True)
class _Primary:
    onset_sample: float
    level: float


def _level(y: np.ndarray, onset: float, fs_hz: float) -> float:
    """Loudness of an arrival for echo labelling: max |y| over the 3 ms after its onset."""
    i = int(onset)
    seg = y[i : i + int(round(3e-3 * fs_hz)) + 1]
    return float(np.abs(seg).max()) if seg.size else 0.0


class StreamingDetector:
    """Impulse detector over a stream of audio blocks.

    Parameters
    ----------
    fs_hz : float
        Sample rate (Hz), 8,000-96,000.
    config : DetectorConfig, optional
        Parameters (defaults when None).

    Notes
    -----
    :meth:`process` returns the picks whose look-ahead has completed; :meth:`flush` returns the rest at the
    end of the stream.  Sample indices count from the first sample given to :meth:`process`.
    """

    def __init__(self, fs_hz: float, config: DetectorConfig | None = None) -> None:
        self.fs_hz = check_fs(fs_hz)
        self.config = config if config is not None else DetectorConfig()
        if not isinstance(self.config, DetectorConfig):
            raise ConfigError(f"config: expected a DetectorConfig, got {type(self.config).__name__}")
        if self.config.picker not in PICKERS:
            raise ConfigError(f"DetectorConfig: picker: unknown {self.config.picker!r}; known: {sorted(PICKERS)}")
        self._picker = PICKERS[self.config.picker]
        self._classifier = get_classifier(self.config.classifier)
        self._trigger = TriggerStream(design_trigger(self.fs_hz, self.config))
        fs = self.fs_hz
        self._pre = int(round(self.config.pre_s * fs))
        self._post = int(round(self.config.lookahead_s * fs))
        self._refractory = int(round(self.config.refractory_s * fs))
        self._pos = 0                      # samples consumed
        # history: raw and high-passed samples in reused buffers; [_lo, _hi) holds stream indices from _hist_start
        self._hist_start = 0
        self._raw = np.zeros(0, np.float32)
        self._filt = np.zeros(0, np.float32)
        self._lo = 0
        self._hi = 0
        self._pending: list[tuple[int, bool]] = []  # (trigger sample index, weak candidate) awaiting look-ahead
        self._strong: list[int] = []       # recent default-channel triggers (weak candidates near them are dropped)
        self._picked: list[float] = []     # recent pick onsets (likewise)
        self._primaries: list[_Primary] = []

    @property
    def lookahead_samples(self) -> int:
        """Samples the detector waits after a trigger before it reports it."""
        return self._post

    def process(self, block: object) -> list[Pick]:
        """Feed the next block of samples; return the picks completed so far, in time order.

        Parameters
        ----------
        block : array_like, shape (n,)
            Samples, float (full scale 1.0) or integer PCM.  Any length, including 0.
        """
        return self._process(as_block(block, "block"))

    def _process(self, x: np.ndarray) -> list[Pick]:
        """:meth:`process` on a validated float32 block."""
        if x.size == 0:
            return []
        self._reserve(x.size)
        end = self._hi + x.size
        self._raw[self._hi : end] = x
        trig, _, weak = self._trigger.run_into(x, self._filt[self._hi : end])
        self._hi = end
        self._pos += x.size
        if weak.size:
            new = sorted([(int(t), False) for t in trig] + [(int(t), True) for t in weak])
        else:
            new = [(int(t), False) for t in trig]
        self._pending.extend(new)
        self._strong.extend(int(t) for t in trig)
        picks = self._finalize(final=False)
        horizon = (self._pending[0][0] if self._pending else self._pos) - self._pre - self._post
        self._strong = [u for u in self._strong if u >= horizon]
        self._picked = [u for u in self._picked if u >= horizon]
        keep_from = self._pos - (self._pre + self._post + 1)
        if self._pending:
            keep_from = min(keep_from, self._pending[0][0] - self._pre)
        cut = keep_from - self._hist_start
        if cut > 0:
            self._lo += cut
            self._hist_start += cut
        return picks

    def _reserve(self, n: int) -> None:
        """Make room for ``n`` more samples of history: move the kept part to the front, or grow the buffers."""
        if self._hi + n <= self._raw.size:
            return
        keep = self._hi - self._lo
        cap = self._raw.size
        if keep + n > cap // 2:  # grow: amortised, and moves stay rare
            cap = 2 * (keep + n) + 2 * (self._pre + self._post + 1)
            raw, filt = np.empty(cap, np.float32), np.empty(cap, np.float32)
        else:
            raw, filt = self._raw, self._filt
        raw[:keep] = self._raw[self._lo : self._hi].copy()
        filt[:keep] = self._filt[self._lo : self._hi].copy()
        self._raw, self._filt, self._lo, self._hi = raw, filt, 0, keep

    def flush(self) -> list[Pick]:
        """End of stream: pick every trigger still waiting, with what look-ahead there is."""
        return self._finalize(final=True)

    # -- internals ---------------------------------------------------------------------------------------------

    def _finalize(self, final: bool) -> list[Pick]:
        picks: list[Pick] = []
        while self._pending and (final or self._pending[0][0] + self._post + 1 <= self._pos):
            t, weak = self._pending.pop(0)
            if weak and not self._confirmed(t):
                continue
            next_trig = next((u for u, w in self._pending if not w), None)
            made = self._make_picks(t, next_trig)
            self._picked.extend(p.onset_sample for p in made)
            picks.extend(made)
        return picks

    def _confirmed(self, t: int) -> bool:
        """Is the weak candidate at stream index ``t`` a faint blast that nothing else has picked?

        Dropped when a default trigger or a pick lies within the refractory time of it (those are covered);
        otherwise kept when the whitened blast-matched filter reaches ``confirm_z`` (:mod:`dsp.confirm`).  Every
        default trigger up to ``t`` + look-ahead is known by now, so the answer does not depend on block sizes.
        """
        r = self._refractory
        if any(abs(u - t) <= r for u in self._strong) or any(abs(u - t) <= r for u in self._picked):
            return False
        _, y, _, trig = self._window(t)
        return matched_z(y, trig, self.fs_hz, self.config.highpass_hz) >= self.config.confirm_z

    def _window(self, t: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Raw and filtered samples from ``pre`` before to ``post`` after stream index ``t``."""
        a = max(t - self._pre, self._hist_start)
        b = min(t + self._post + 1, self._pos)
        i, j = self._lo + a - self._hist_start, self._lo + b - self._hist_start
        return self._raw[i:j], self._filt[i:j], a, t - a

    def _make_picks(self, t: int, next_trig: int | None) -> list[Pick]:
        raw, y, w0, trig = self._window(t)
        if y.size < 4 or trig >= y.size:
            return []
        fs = self.fs_hz
        cfg = self.config
        first = self._picker(y, trig, fs)
        if not first.noise_rms > 0.0:
            # digital silence before it: the audio starting (a file's or stream's head, a
            # dropout's end), not an impulse, and its SNR has no meaning
            return []
        out = []
        feats = compute_features(raw, y, first.onset, first.peak_index, first.peak_amp, first.noise_rms, fs,
                                 self._context(w0 + first.onset))
        blast_trig = None
        if feats.pulse_s <= cfg.nwave_max_s and feats.neg_ratio >= cfg.nwave_neg_ratio:
            blast_trig = self._following_arrival(y, first, feats.pulse_s)
        if blast_trig is not None:
            kind = "nwave"
        else:
            kind = self._label(w0 + first.onset, _level(y, first.onset, fs), feats.rise_s)
        out.append(self._pick(w0, first, feats, kind))
        if blast_trig is not None and (next_trig is None or w0 + blast_trig + self._refractory // 2 < next_trig):
            # the blast after an N-wave fell inside the trigger's refractory time: pick it here
            second = self._picker(y, blast_trig, fs)
            if second.onset > first.onset + 1:
                f2 = compute_features(raw, y, second.onset, second.peak_index, second.peak_amp, second.noise_rms, fs,
                                      self._context(w0 + second.onset))
                level2 = _level(y, second.onset, fs)
                out.append(self._pick(w0, second, f2, self._label(w0 + second.onset, level2, f2.rise_s)))
        return out

    def _following_arrival(self, y: np.ndarray, first, pulse_s: float) -> int | None:
        """Index of a strong arrival after a short first pulse (an N-wave's blast), or None."""
        fs = self.fs_hz
        start = first.peak_index + int(math.ceil((2.0 * pulse_s + 0.5e-3) * fs))
        stop = min(y.size, first.peak_index + int(round(self.config.nwave_gap_max_s * fs)))
        if stop <= start:
            return None
        thr = max(6.0 * first.noise_rms, 0.1 * first.peak_amp)
        hits = np.flatnonzero(np.abs(y[start:stop]) >= thr)
        return int(start + hits[0]) if hits.size else None

    def _context(self, onset_sample: float) -> tuple[float, float]:
        """Repetition context of an impulse: gap to the recent primary picks (see :func:`dsp.features.context`)."""
        fs = self.fs_hz
        return context(tuple(p.onset_sample / fs for p in self._primaries
                             if onset_sample - p.onset_sample <= GAP_MAX_S * fs), onset_sample / fs)

    def _label(self, onset_sample: float, level: float, rise_s: float) -> str:
        cfg = self.config
        horizon = onset_sample - cfg.echo_window_s * self.fs_hz
        self._primaries = [p for p in self._primaries if p.onset_sample >= horizon]
        drop = 10.0 ** (cfg.echo_drop_db / 20.0)
        if any(p.level >= drop * level for p in self._primaries):
            return "secondary"
        self._primaries.append(_Primary(onset_sample, level))
        return "blast" if rise_s <= cfg.blast_rise_max_s else "impulse"

    def _pick(self, w0: int, onset, feats, kind: str) -> Pick:
        return Pick(onset_sample=float(w0 + onset.onset), sigma_s=onset.sigma_s, snr_db=feats.snr_db,
                    peak_dbfs=feats.peak_dbfs, kind=kind, p_gunshot=self._classifier.predict(feats),
                    features=feats)


def detect(x: object, fs_hz: float, config: DetectorConfig | None = None) -> list[Pick]:
    """Detect impulses in a whole signal: the streaming detector run over it in fixed blocks.

    Parameters
    ----------
    x : array_like, shape (n,)
        Samples, float (full scale 1.0) or integer PCM.
    fs_hz : float
        Sample rate (Hz), 8,000-96,000.
    config : DetectorConfig, optional
        Parameters (defaults when None).

    Returns
    -------
    list of Pick
        In time order.  ``p_gunshot`` is NaN when the classifier weights are absent.
    """
    a = as_block(x, "x", finite=False)  # checked chunk by chunk: no whole-length temporary
    det = StreamingDetector(fs_hz, config)
    picks: list[Pick] = []
    for i in range(0, a.size, DETECT_CHUNK):
        chunk = a[i : i + DETECT_CHUNK]
        check_finite(chunk, "x", i)
        picks.extend(det._process(chunk))
    picks.extend(det.flush())
    return picks

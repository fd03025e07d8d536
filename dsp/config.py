"""Typed configuration of the detector: every field with its unit and default, in one place."""

from __future__ import annotations

from dataclasses import dataclass, fields

from salvo.errors import ConfigError

#: Sample rates the detector accepts (Hz), inclusive.
FS_MIN_HZ = 8_000.0
FS_MAX_HZ = 96_000.0


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Parameters of :class:`dsp.StreamingDetector` and :func:`dsp.detect`.

    Times are in seconds and levels in dB here; they are converted to samples once, when a detector is built.

    Attributes
    ----------
    highpass_hz : float
        Corner of the 4th-order Butterworth high-pass applied before triggering and picking (Hz).  Removes DC,
        wind and traffic rumble; a high-pass barely delays a sharp leading edge, so it does not bias onsets.
    frame_s : float
        Hop of the trigger's energy frames (s).  The trigger runs on frame energies; the picker then works on
        individual samples, so this sets cost, not timing precision.
    fast_tau_s : float
        Time constant of the fast (short-term) energy average (s).
    ref_tau_s : float
        Time constant of the recent-energy reference the fast energy must jump above (s).  Short enough that a
        shot 60 ms after another triggers again above the first one's decaying tail.
    floor_rise_db_per_s : float
        Fastest rate at which the adaptive noise floor may rise (dB/s); a slew limit, so that loud impulses
        barely move it while a lasting change of ambience is followed within seconds.
    floor_tau_s : float
        Time constant of the noise floor, an average of the ambient energy that is frozen during the refractory
        time after each trigger (s).
    warmup_s : float
        At the stream start the floor follows the ambience quickly in both directions for this long (s).
    holdoff_s : float
        No triggers in the first this-long of a stream, while the averages settle on the ambience (s).
    snr_on_db : float
        Fast energy must exceed the noise floor by this much to trigger (dB, energy ratio).
    jump_db : float
        Fast energy must exceed the recent reference by this much to trigger (dB): a *step* from quiet to loud.
    refractory_s : float
        No new trigger within this time after a trigger (s); shorter than the 63 ms between automatic rounds.
    override_gap_s : float
        From this long after a trigger (s) ...
    override_db : float
        ... a step louder by this much (dB, energy) than anything since that trigger triggers even within the
        refractory time: a faint sound (or a noise burst) just before a shot must not hide the shot.
    weak_tau_s : float
        Time constant of the weak trigger channel's energy average (s).  The weak channel (on the same frames,
        at no extra cost per sample) proposes faint candidates that the default thresholds miss; each is kept
        only when a blast-matched filter confirms it (``confirm_z``).
    weak_snr_on_db : float
        Weak energy over the noise floor needed for a weak candidate (dB); 0 disables the weak channel.
    weak_jump_db : float
        Weak energy over the recent reference needed for a weak candidate (dB).
    confirm_z : float
        A weak candidate becomes a pick when the whitened blast-matched filter's peak near it reaches this many
        standard deviations of its output on the ambience just before (see :mod:`dsp.confirm`).
    pre_s : float
        Samples kept before a trigger for the picker's noise estimate (s).
    lookahead_s : float
        How long after a trigger the detector waits before it picks, measures and reports (s).  This is the
        detector's whole latency: a pick is emitted as soon as the stream has passed trigger + ``lookahead_s``.
    echo_window_s : float
        A trigger this soon after a louder primary pick (s) ...
    echo_drop_db : float
        ... and at least this much quieter than it (dB, peak) is labelled ``secondary`` (an echo).
    blast_rise_max_s : float
        Primary impulses whose rise (onset to first peak) is at most this long are ``blast``, others ``impulse`` (s).
    nwave_max_s : float
        A pick whose first pulse lasts at most this long (s), swings to at least ``nwave_neg_ratio`` of its peak
        in the opposite polarity right after (the N shape), and is followed within ``nwave_gap_max_s`` by
        another strong arrival (the muzzle blast) is labelled ``nwave``.
    nwave_neg_ratio : float
        See ``nwave_max_s`` (ratio of amplitudes).
    nwave_gap_max_s : float
        Longest gap between a supersonic N-wave and the muzzle blast that follows it that is looked for (s);
        only the part within ``lookahead_s`` is seen.
    picker : str
        Name of the onset picker in :data:`dsp.onset.PICKERS`.
    classifier : str
        Name of the gunshot classifier in :data:`dsp.classifier.CLASSIFIERS`.
    """

    highpass_hz: float = 200.0
    frame_s: float = 0.25e-3
    fast_tau_s: float = 0.25e-3
    ref_tau_s: float = 10e-3
    floor_rise_db_per_s: float = 10.0
    floor_tau_s: float = 1.0
    warmup_s: float = 0.5
    holdoff_s: float = 0.05
    snr_on_db: float = 10.0
    jump_db: float = 6.0
    refractory_s: float = 0.008
    override_gap_s: float = 5e-3
    override_db: float = 6.0
    weak_tau_s: float = 1e-3
    weak_snr_on_db: float = 6.0
    weak_jump_db: float = 3.0
    confirm_z: float = 5.5
    pre_s: float = 0.02
    lookahead_s: float = 0.1
    echo_window_s: float = 1.0
    echo_drop_db: float = 10.0
    blast_rise_max_s: float = 3e-3
    nwave_max_s: float = 0.35e-3
    nwave_neg_ratio: float = 0.9
    nwave_gap_max_s: float = 0.1
    picker: str = "edge"
    classifier: str = "logistic"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not (value == value and abs(value) != float("inf")):
                raise ConfigError(f"DetectorConfig: {f.name}: must be finite, got {value!r}")
        positive = ("highpass_hz", "frame_s", "fast_tau_s", "ref_tau_s", "floor_tau_s", "refractory_s", "weak_tau_s",
                    "pre_s", "lookahead_s", "blast_rise_max_s", "nwave_max_s")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"DetectorConfig: {name}: must be > 0, got {getattr(self, name)!r}")
        if self.lookahead_s < 0.02:
            raise ConfigError(f"DetectorConfig: lookahead_s: must be >= 0.02 s to measure a pulse, got {self.lookahead_s!r}")

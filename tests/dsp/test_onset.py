"""Onset pickers: sub-sample accuracy on band-limited blasts, the first arrival rather than the loudest."""

from __future__ import annotations

import numpy as np
import pytest

from dsp import DetectorConfig, detect
from dsp.onset import PICKERS, pick_edge
from dsp.trigger import TriggerStream, design_trigger

from dsp_synth import blast_at


@pytest.mark.parametrize("fs", [12_000, 16_000, 48_000])
def test_edge_picker_is_sub_sample_accurate_at_high_snr(fs):
    rng = np.random.default_rng(fs)
    truths = 0.3 + rng.uniform(0, 1, 6) / fs + np.arange(6) * 0.25
    x = blast_at(fs, list(truths), 1.8, amp=0.5, noise_rms=5e-4, seed=fs)
    picks = [p for p in detect(x, fs) if p.kind != "secondary"]
    assert len(picks) == 6
    err = np.array([p.onset_sample / fs for p in picks]) - truths
    # consistent to a fraction of a sample; the foot model is calibrated on propagated blasts (air absorption
    # slows their rise), so on these ideal, unpropagated blasts the picks may all be early by up to ~0.1 ms
    assert np.ptp(err) < 0.5 / fs + 20e-6
    assert np.all((err > -0.5 / fs - 0.13e-3) & (err < 0.5 / fs + 20e-6))


def test_first_arrival_not_the_louder_echo():
    fs = 16_000
    # a direct arrival and, 1.5 ms later, a reflection twice as loud (a street canyon)
    x = blast_at(fs, [0.5], 1.0, amp=0.1, noise_rms=3e-4, seed=1) + blast_at(fs, [0.5015], 1.0, amp=0.2, noise_rms=0, seed=1)
    picks = detect(x, fs)
    assert abs(picks[0].onset_sample / fs - 0.5) < 1 / fs


def test_sigma_grows_with_noise():
    fs = 16_000
    quiet = detect(blast_at(fs, [0.4], 0.8, amp=0.3, noise_rms=3e-4, seed=2), fs)[0]
    noisy = detect(blast_at(fs, [0.4], 0.8, amp=0.3, noise_rms=3e-2, seed=2), fs)[0]
    # at high SNR the sampling (model) term dominates; in noise the jitter term takes over
    assert noisy.sigma_s > 1.2 * quiet.sigma_s
    assert noisy.snr_db < quiet.snr_db - 20


def test_pickers_registry_and_windows_at_the_edges():
    fs = 16_000
    assert set(PICKERS) == {"edge", "aic"}
    y = np.zeros(50)
    y[2] = 1.0  # a spike right at the window start, and a trigger index past the end: no crash
    for picker in PICKERS.values():
        o = picker(y, 1, fs)
        assert 0 <= o.onset <= 3 and o.sigma_s > 0
        picker(y, 60, fs)
    x = blast_at(fs, [0.3], 0.5, seed=3)
    y, trig, _ = TriggerStream(design_trigger(fs, DetectorConfig())).run(x)
    assert abs(pick_edge(y, int(trig[0]), fs).onset - 0.3 * fs) < 1

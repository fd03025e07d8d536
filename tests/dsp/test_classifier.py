"""Features and the classifier: names and units, the registry, the shipped weights, a model that can learn."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import dsp
from dsp import classifier as C
from dsp.features import FEATURE_NAMES, compute_features
from salvo.errors import ConfigError

from dsp_synth import blast_at


def _features(x, fs):
    return [p.features for p in dsp.detect(x, fs, dsp.DetectorConfig(classifier="none"))]


def test_features_measure_what_they_say():
    fs = 48_000
    f = _features(blast_at(fs, [0.3], 0.6, amp=0.5, noise_rms=1e-4, weapon="9mm"), fs)[0]
    assert 0 < f.rise_s < 0.3e-3          # a blast rises within a fraction of a millisecond
    assert 0.1e-3 < f.pulse_s < 0.6e-3    # 9 mm positive phase 0.4 ms
    assert f.neg_ratio < 0.6              # a Friedlander wave, not an N-wave
    assert 300 < f.centroid_hz < 5500
    assert f.snr_db > 60 and -10 < f.peak_dbfs < 0 and f.clipped_frac == 0
    assert set(f.as_dict()) == set(FEATURE_NAMES) and f.as_array().shape == (len(FEATURE_NAMES),)


def test_features_on_a_degenerate_window_are_finite():
    y = np.zeros(20)
    y[5] = 1.0
    f = compute_features(y, y, 4.5, 5, 1.0, 0.0, 16_000)
    assert all(math.isfinite(v) for v in f.as_array())


def test_registry_none_gives_nan_and_unknown_name_is_a_config_error():
    fs = 16_000
    x = blast_at(fs, [0.3], 0.6)
    assert math.isnan(dsp.detect(x, fs, dsp.DetectorConfig(classifier="none"))[0].p_gunshot)
    with pytest.raises(ConfigError, match="classifier"):
        dsp.detect(x, fs, dsp.DetectorConfig(classifier="nope"))


def test_shipped_weights_load_and_give_probabilities():
    model = C.shipped()
    if isinstance(model, C.NoClassifier):
        pytest.skip("no weights shipped yet")
    fs = 16_000
    p = dsp.detect(blast_at(fs, [0.3], 0.6), fs)[0].p_gunshot
    assert 0.0 <= p <= 1.0


def test_weights_json_round_trip_and_mismatch(tmp_path):
    rng = np.random.default_rng(0)
    n_in = len(C.INPUT_NAMES)
    m = C.NeuralModel(rng.standard_normal(n_in), np.ones(n_in), ((rng.standard_normal((n_in, 3)), np.zeros(3)),
                                                                  (rng.standard_normal((3, 1)), np.zeros(1))))
    doc = json.loads(json.dumps(m.to_json()))
    m2 = C.NeuralModel.from_json(doc)
    x = np.abs(rng.standard_normal((5, len(FEATURE_NAMES))))
    np.testing.assert_allclose(m.predict_many(x), m2.predict_many(x))
    doc["inputs"] = doc["inputs"][:-1]
    with pytest.raises(ConfigError, match="inputs"):
        C.NeuralModel.from_json(doc, "w.json")


def test_training_fit_separates_two_kinds_of_impulse():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))
    from train_classifier import fit

    rng = np.random.default_rng(1)
    x = np.abs(rng.standard_normal((400, len(FEATURE_NAMES)))) + 0.1
    y = (x[:, FEATURE_NAMES.index("decay_db")] > 0.9).astype(int)
    model = fit(x, y, hidden=4, seed=0)
    acc = np.mean((model.predict_many(x) >= 0.5) == (y == 1))
    assert acc > 0.95


def test_repetition_context_gap_and_irregularity():
    from dsp.features import GAP_MAX_S, context

    assert context((), 2.0) == (GAP_MAX_S, 0.0)
    assert context((0.5,), 2.0) == (GAP_MAX_S, 0.0)  # older than GAP_MAX_S: no context
    gap, irr = context((1.0, 1.1), 1.2)
    assert abs(gap - 0.1) < 1e-12 and irr < 1e-9
    gap, irr = context((1.1, 1.0), 1.4)  # any order
    assert abs(gap - 0.3) < 1e-12 and abs(irr - math.log(3.0)) < 1e-9


def test_detector_measures_repetition_at_a_sensor():
    fs = 16_000
    steady = _features(blast_at(fs, [0.3, 0.4, 0.5], 0.8, amp=0.3, noise_rms=1e-4, seed=4), fs)
    uneven = _features(blast_at(fs, [0.3, 0.33, 0.6], 0.9, amp=0.3, noise_rms=1e-4, seed=4), fs)
    assert len(steady) == len(uneven) == 3
    assert steady[0].gap_s == 1.0 and abs(steady[2].gap_s - 0.1) < 1e-3
    assert steady[2].gap_irregularity < 0.05
    assert abs(uneven[2].gap_irregularity - math.log(0.27 / 0.03)) < 0.05


def test_coda_flatness_tells_a_ringing_body_from_crackle():
    fs = 16_000
    rng = np.random.default_rng(2)
    t = np.arange(int(0.05 * fs)) / fs
    pulse = np.zeros(t.size)
    pulse[80:84] = [0.5, 1.0, 0.5, 0.1]
    ring = pulse + 0.2 * np.sin(2 * np.pi * 3000 * t) * np.exp(-t / 0.012) * (t > 0.005)
    crackle = pulse + 0.2 * rng.standard_normal(t.size) * np.exp(-t / 0.012) * (t > 0.005)
    f_ring = compute_features(ring, ring, 80.0, 81, 1.0, 1e-4, fs)
    f_crackle = compute_features(crackle, crackle, 80.0, 81, 1.0, 1e-4, fs)
    assert f_ring.coda_flatness < 0.2 < f_crackle.coda_flatness
    assert 0.0 <= f_ring.hf_frac <= 1.0

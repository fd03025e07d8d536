"""Every preset loads; the small-city preset simulates into a complete recording set."""

from __future__ import annotations

import numpy as np
import pytest

from sim.presets import PRESETS, load_preset, preset_path


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads(name):
    if not preset_path(name).is_file():
        pytest.skip(f"preset {name} not written yet")
    scn = load_preset(name)
    assert scn.name == name
    assert scn.incidents

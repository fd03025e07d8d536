"""Speed of sound, wind and ISO 9613-1 absorption against REFERENCE.md's figures."""

from __future__ import annotations

import numpy as np
import pytest

from sim.atmosphere import absorption_db_per_m, speed_of_sound, travel_time, wind_vector


def test_speed_of_sound():
    assert speed_of_sound(20.0) == pytest.approx(343.2, abs=0.05)
    assert speed_of_sound(21.0) - speed_of_sound(20.0) == pytest.approx(0.6, abs=0.02)


def test_absorption_matches_the_iso_table():
    # REFERENCE.md, ISO 9613-1 at 20 °C and 50 % RH, dB/km.
    table = {250: 1.3, 500: 2.7, 1000: 4.7, 2000: 9.9, 4000: 29.7, 8000: 105.0, 16000: 365.0}
    got = absorption_db_per_m(np.array(list(table)), 20.0, 50.0) * 1000.0
    assert np.allclose(got, list(table.values()), rtol=0.03)


def test_dry_cold_air_absorbs_differently():
    assert absorption_db_per_m(4000.0, 0.0, 20.0) != pytest.approx(absorption_db_per_m(4000.0, 20.0, 50.0), rel=0.1)


def test_wind_from_the_west_blows_east_and_speeds_sound_along_it():
    w = wind_vector(10.0, 270.0)
    assert np.allclose(w, [10.0, 0.0, 0.0], atol=1e-12)
    c = 340.0
    assert travel_time(np.array([340.0, 0, 0]), c, w) == pytest.approx(340.0 / 350.0)
    assert travel_time(np.array([-340.0, 0, 0]), c, w) == pytest.approx(340.0 / 330.0)
    assert travel_time(np.array([0, 340.0, 0]), c, w) == pytest.approx(340.0 / np.sqrt(c**2 - 100.0))

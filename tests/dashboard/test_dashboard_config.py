"""Dashboard settings from TOML: defaults, overrides, errors naming the field."""

from __future__ import annotations

import pytest

from dashboard.config import DashboardConfig, load_config
from salvo.errors import ConfigError


def test_defaults_and_overrides(tmp_path):
    assert load_config(None) == DashboardConfig()
    p = tmp_path / "d.toml"
    p.write_text('timezone = "America/Chicago"\nschool_radius_m = 250\n[school_day]\nstart_hour = 7.5\n'
                 'weekdays = [0, 1, 2, 3]\nterms = [["2024-08-20", "2025-06-05"]]\n[limits]\nmax_points = 100\n')
    c = load_config(p)
    assert (c.timezone, c.school_radius_m, c.school_day.start_hour, c.school_day.weekdays) == \
        ("America/Chicago", 250, 7.5, (0, 1, 2, 3))
    assert c.school_day.terms == (("2024-08-20", "2025-06-05"),) and c.limits.max_points == 100


@pytest.mark.parametrize("text, field", [
    ("school_radius = 3", "school_radius"),
    ("school_radius_m = -1", "school_radius_m"),
    ('timezone = "Mars/Olympus"', "timezone"),
    ("[school_day]\nstart_hour = 25", "school_day.start_hour"),
    ("[school_day]\nstart_hour = 16", "school_day"),
    ('[school_day]\nholidays = ["2024-13-01"]', "school_day.holidays"),
    ("[school_day]\nweekdays = [7]", "school_day.weekdays"),
    ("[limits]\nmax_points = 0", "limits.max_points"),
    ("[limits]\nmax_rows = 5", "limits.max_rows"),
    ("not toml at all", "not valid TOML"),
])
def test_errors_name_the_field(tmp_path, text, field):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")) as exc:
        load_config(p)
    assert str(p) in str(exc.value)

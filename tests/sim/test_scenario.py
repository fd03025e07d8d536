"""Scenario files: what is accepted, and bad files failing with the file and field named."""

from __future__ import annotations

import pytest

from salvo.errors import ConfigError
from sim.scenario import load_scenario, parse_scenario

GOOD = """
[scenario]
name = "t"
duration_s = 10.0
[[sensor]]
id = "A"
x_m = 0.0
y_m = 0.0
[[sensor]]
id = "B"
lat = 40.45
lon = -79.99
fs_hz = 48000
[[incident]]
t_s = 1.0
  [[incident.shooter]]
  x_m = 10.0
  y_m = 20.0
  schedule = [{ kind = "auto", rounds = 5, rate_rpm = 600.0 }]
"""


def test_good_file_loads_and_converts_lat_lon(tmp_path):
    p = tmp_path / "good.toml"
    p.write_text(GOOD)
    scn = load_scenario(p)
    a, b = scn.sensors
    assert (a.x_m, a.y_m, a.params.fs_hz) == (0.0, 0.0, 16000)
    assert b.params.fs_hz == 48000
    # 40.45 N is ~1 km north of the default origin 40.4406 N (1 degree of latitude ~ 111 km).
    assert b.y_m == pytest.approx((40.45 - 40.4406) * 111_030, rel=2e-3)
    assert scn.incidents[0].shooters[0].schedule[0].rounds == 5


@pytest.mark.parametrize(
    "change, field",
    [
        (("[[sensor]]\nid = \"A\"", "[[sensor]]\nid = \"A\"\ncolour = 3"), "sensor[0].colour"),  # unknown key
        (("fs_hz = 48000", "fs_hz = -48000"), "sensor[1].fs_hz"),  # negative rate
        (("fs_hz = 48000", "fs_hz = 200000"), "sensor[1].fs_hz"),  # beyond 96 kHz
        (("rate_rpm = 600.0", "rate_rpm = -600.0"), "schedule[0].rate_rpm"),  # negative rate of fire
        (("lat = 40.45\nlon = -79.99\n", ""), "sensor[1]"),  # sensor without position
        (("duration_s = 10.0", "duration_s = 10.0\nwarp = 9"), "scenario.warp"),
        (("[scenario]", "[scenery]"), "scenery"),  # unknown table
        (("x_m = 0.0\n", "x_m = \"zero\"\n"), "sensor[0].x_m"),
        (("t_s = 1.0", "t_s = 30.0"), "incident[0].t_s"),  # past the end
        (("fs_hz = 48000", "fs_hz = 48000\nclock_sigma_s = \"tiny\""), "sensor[1].clock_sigma_s"),
    ],
)
def test_bad_fields_name_file_and_field(tmp_path, change, field):
    old, new = change
    assert old in GOOD
    p = tmp_path / "bad.toml"
    p.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as exc:
        load_scenario(p)
    assert str(p) in str(exc.value)
    assert field in str(exc.value)


def test_unreadable_toml_names_file_and_line(tmp_path):
    p = tmp_path / "broken.toml"
    p.write_text("[scenario]\nname = \"x\"\nduration_s = = 3\n")
    with pytest.raises(ConfigError, match=r"broken\.toml.*line 3"):
        load_scenario(p)


def test_missing_file_and_no_sensors():
    with pytest.raises(ConfigError, match="nope.toml"):
        load_scenario("/nonexistent/nope.toml")
    with pytest.raises(ConfigError, match="no sensors"):
        parse_scenario("[scenario]\nname = \"x\"\n", "empty.toml")


def test_layout_generates_sensors_without_listing():
    scn = parse_scenario("[layout]\ncount = 9\narea_m = [900.0, 900.0]\n", "lay.toml")
    assert scn.layout.count == 9 and not scn.sensors


def test_layout_of_zero_sensors_is_refused():
    with pytest.raises(ConfigError, match="no sensors"):
        parse_scenario("[layout]\ndensity_per_km2 = 0.0\n", "zero.toml")


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_VALUES = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                    st.text(max_size=8), st.lists(st.integers(-5, 5), max_size=3), st.just({"a": 1}))
_PLACES = st.sampled_from(["scenario", "site", "environment", "noise", "propagation", "sensor_defaults", "layout",
                           "buildings_random", "sensor", "incident", "incident.shooter", "incident.shooter.schedule",
                           "incident.confuser", "building"])
_KEYS = st.sampled_from(["duration_s", "fs_hz", "count", "x_m", "y_m", "lat", "lon", "t_s", "kind", "weapon", "rounds",
                         "rate_rpm", "height_m", "area_m", "clock", "color", "x", "schedule", "id", "start_utc",
                         "burst_height_m", "max_echoes", "reverb_rt60_s", "pattern", "temperature_c"])


def _doc():
    import tomllib

    return tomllib.loads(GOOD + "[[building]]\nx_m = [100.0, 120.0]\ny_m = [5.0, 30.0]\n[layout]\ncount = 3\n"
                         "[[incident]]\nt_s = 2.0\n[[incident.confuser]]\nkind = \"door_slam\"\nx_m = 1.0\ny_m = 2.0\n")


def _dump(doc) -> str:
    """A tiny TOML writer for what this test builds (tables, arrays of tables, scalars, lists, inline tables)."""
    import json

    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, float):
            return repr(v)
        return json.dumps(v) if isinstance(v, str) else str(v)

    out = []

    def table(prefix, t, array=False):
        scalars = {k: v for k, v in t.items() if not (isinstance(v, dict) and k not in ("a",)) and
                   not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v) and k != "schedule")}
        out.append(f"[[{prefix}]]" if array else f"[{prefix}]")
        out.extend(f"{k} = {val(v)}" for k, v in scalars.items())
        for k, v in t.items():
            if k in scalars:
                continue
            if isinstance(v, dict):
                table(f"{prefix}.{k}", v)
            else:
                for item in v:
                    table(f"{prefix}.{k}", item, array=True)

    for k, v in doc.items():
        if isinstance(v, list):
            for item in v:
                table(k, item, array=True)
        else:
            table(k, v)
    return "\n".join(out) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=_PLACES, key=_KEYS, value=_VALUES)
def test_any_mutation_loads_or_fails_with_a_config_error(place, key, value):
    doc = _doc()
    target = doc
    for part in place.split("."):
        target = target.setdefault(part, {})
        if isinstance(target, list):
            target = target[0]
    target[key] = value
    try:
        parse_scenario(_dump(doc), "fuzz.toml")
    except ConfigError as exc:
        assert "fuzz.toml" in str(exc)

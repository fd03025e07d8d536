from pathlib import Path

import numpy as np
import pytest

from locator.service_config import config_from_dict, load_keys, load_sensor_array, load_service_config
from salvo.errors import ConfigError, InputError

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_example_locator_toml_loads():
    cfg = load_service_config(DEPLOY / "locator.toml")
    assert cfg.port == 7700 and cfg.finalizer == "local" and cfg.association == {"min_sensors": 4}
    assert cfg.incident_gap_s == 10.0 and str(cfg.store) == "/var/lib/salvo/salvo.db"


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(ConfigError, match="portt"):
        config_from_dict({"portt": 1})
    with pytest.raises(ConfigError, match="finalizer"):
        config_from_dict({"finalizer": "magic"})
    with pytest.raises(ConfigError, match="clock_speed"):
        config_from_dict({"clock_speed": 4.0})
    with pytest.raises(ConfigError, match="association_processes"):
        config_from_dict({"association_processes": -1})


def test_keys_and_sensors_files(tmp_path):
    (tmp_path / "keys.txt").write_text("# fleet\nA " + "11" * 32 + "\nB " + "22" * 16 + "\n")
    assert load_keys(tmp_path / "keys.txt") == {"A": bytes([0x11]) * 32, "B": bytes([0x22]) * 16}
    (tmp_path / "bad.txt").write_text("A " + "11" * 32 + "\nA " + "33" * 32 + "\n")
    with pytest.raises(ConfigError, match=r"bad.txt:2") as e:
        load_keys(tmp_path / "bad.txt")
    assert "33" * 8 not in str(e.value)
    (tmp_path / "s.csv").write_text("sensor_id,lat,lon,alt_m\nA,40.44,-79.99,250\nB,40.45,-79.99,255\n")
    arr = load_sensor_array(tmp_path / "s.csv")
    assert arr.frame_name == "wgs84" and np.hypot(*(arr.pos_m[1] - arr.pos_m[0])[:2]) == pytest.approx(1112, rel=0.01)
    (tmp_path / "d.csv").write_text("sensor_id,x_m,y_m\nA,0,0\nA,1,1\n")
    with pytest.raises(InputError, match=r"d.csv:3: sensor_id"):
        load_sensor_array(tmp_path / "d.csv")

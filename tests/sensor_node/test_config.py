from pathlib import Path

import pytest

from salvo.errors import ConfigError
from sensor_node.config import load_node_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_example_node_toml_loads(tmp_path):
    key = tmp_path / "node.key"
    key.write_text("ab" * 32)
    text = (DEPLOY / "node.toml").read_text().replace("/etc/salvo/node.key", str(key))
    (tmp_path / "node.toml").write_text(text)
    cfg = load_node_config(tmp_path / "node.toml")
    assert cfg.sensor_id == "S07" and cfg.key == bytes.fromhex("ab" * 32)
    assert cfg.audio.source == "live" and cfg.audio.fs_hz == 48000 and cfg.uplink.port == 7700
    assert "ab" * 4 not in repr(cfg)  # the key never shows in a repr (logs)


@pytest.mark.parametrize("body, field", [
    ('[node]\nkey_hex = "' + "00" * 16 + '"\n', "sensor_id"),
    ('[node]\nsensor_id = "A"\n', "key_file"),
    ('[node]\nsensor_id = "A"\nkey_hex = "' + "00" * 16 + '"\n[audio]\nsource = "tape"\n', "audio.source"),
    ('[node]\nsensor_id = "A"\nkey_hex = "' + "00" * 16 + '"\n[audio]\nsource = "file"\n', "audio.file"),
    ('[node]\nsensor_id = "A"\nkey_hex = "' + "00" * 16 + '"\n[uplink]\nport = "x"\n', "uplink.port"),
    ('[node]\nsensor_id = "A"\nkey_hex = "' + "00" * 16 + '"\n[audio]\nspeeed = 2\n', "audio.speeed"),
])
def test_bad_node_toml_names_the_field(tmp_path, body, field):
    (tmp_path / "node.toml").write_text(body)
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_node_config(tmp_path / "node.toml")

"""Named preset scenarios shipped with the simulator (TOML files in ``sim/scenarios/``)."""

from __future__ import annotations

from pathlib import Path

from salvo.errors import ConfigError
from sim.scenario import Scenario, load_scenario

_DIR = Path(__file__).resolve().parent / "scenarios"

#: Preset names, in the order ``salvo sim --list-presets`` shows them.
PRESETS: tuple[str, ...] = ("small-city", "rifle", "auto-burst", "ntp-clocks", "windy-night", "gunfight")


def preset_path(name: str) -> Path:
    """The TOML file of a preset."""
    if name not in PRESETS:
        raise ConfigError(f"preset {name!r}: unknown (known: {', '.join(PRESETS)})")
    return _DIR / f"{name}.toml"


def load_preset(name: str) -> Scenario:
    """Load a preset scenario by name (see :data:`PRESETS`)."""
    path = preset_path(name)
    if not path.is_file():
        raise ConfigError(f"preset {name!r}: file {path} is missing from this installation")
    return load_scenario(path)


def describe_presets() -> list[tuple[str, str]]:
    """(name, one-line description) of every preset that is installed."""
    out = []
    for name in PRESETS:
        path = _DIR / f"{name}.toml"
        if path.is_file():
            text = load_scenario(path).info.description.strip()
            out.append((name, text.splitlines()[0] if text else ""))
    return out

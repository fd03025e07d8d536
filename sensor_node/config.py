"""Configuration of a sensor node (``node.toml``): every setting with its unit and default.

Example ``node.toml``::

    [node]
    sensor_id = "S07"
    key_file = "/etc/salvo/node.key"     # hex, readable by the salvo user only
    spool = "/var/lib/salvo/spool.db"

    [uplink]
    host = "locator.example.org"
    port = 7700

    [audio]
    source = "live"                      # or "file"
    device = "hw:1,0"                    # PortAudio device name or index (live)
    fs_hz = 48000

Paths are relative to the file.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salvo.errors import ConfigError, where
from salvo.utc import parse_utc_ns
from sensor_node.protocol import parse_key
from sensor_node.uplink import UplinkConfig


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """Where the node's audio comes from.

    Attributes
    ----------
    source : str
        ``"live"`` (a microphone through PortAudio) or ``"file"`` (anything soundfile reads).
    device : str
        PortAudio input device, name or index (live); default ``""``: the system default.
    fs_hz : int
        Sample rate asked of the device, Hz (live); default 48000.
    block : int
        Samples per block handed from the audio callback to the pipeline; default 2048.
    queue_blocks : int
        Blocks the callback may queue before it drops (and counts) them; default 256.
    file : Path or None
        Audio file (file source).
    speed : float
        File replay speed, x real time (0: as fast as possible); default 1.
    start_utc : str
        File source: UTC of the first sample (ISO-8601); default ``""``: the moment replay starts.
    speed_epoch_utc : str
        File source at a speed-up: the UTC where replay time meets real time, so that
        several nodes play in step (``salvo demo``); default ``""``: pace from the start.
    """

    source: str = "live"
    device: str = ""
    fs_hz: int = 48000
    block: int = 2048
    queue_blocks: int = 256
    file: Path | None = None
    speed: float = 1.0
    start_utc: str = ""
    speed_epoch_utc: str = ""


@dataclass(frozen=True, slots=True)
class ClockConfig:
    """The sample-clock model (see :class:`sensor_node.clock.ClockModel`).

    Attributes
    ----------
    window : int
        Anchors in the fit; default 64.
    anchor_every_s : float
        Audio time between anchors, s; default 1.
    step_threshold_s : float
        Re-anchor when an anchor is this far off the fit, s; default 0.02.
    holdover_s : float
        No anchor for this long: state ``holdover``, s; default 30.
    """

    window: int = 64
    anchor_every_s: float = 1.0
    step_threshold_s: float = 0.02
    holdover_s: float = 30.0


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """A node's whole configuration.

    Attributes
    ----------
    sensor_id : str
    key : bytes
        The node's secret key (from ``key_file`` or ``key_hex``); never printed.
    spool : Path
        The SQLite spool; default ``spool.db``.
    heartbeat_s : float
        Seconds between heartbeats; default 2 (a heartbeat also tells the locator how far
        the node has listened, which lets it finalise shots; ~60 bytes each).
    audio : AudioConfig
    clock : ClockConfig
    uplink : UplinkConfig
    detector : dict
        Fields of ``dsp.DetectorConfig`` (empty: its defaults).
    """

    sensor_id: str
    key: bytes = field(repr=False)
    spool: Path = Path("spool.db")
    heartbeat_s: float = 2.0
    audio: AudioConfig = AudioConfig()
    clock: ClockConfig = ClockConfig()
    uplink: UplinkConfig = UplinkConfig()
    detector: dict = field(default_factory=dict)

    def start_ns(self) -> int | None:
        """UTC of the file's first sample, or None (start at the moment replay starts)."""
        if not self.audio.start_utc:
            return None
        return parse_utc_ns(self.audio.start_utc, "audio.start_utc")


def _section(cls, values: dict[str, Any], source: Path, prefix: str):
    known = {f.name: f for f in dataclasses.fields(cls)}
    defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in known:
            raise ConfigError(f"{where(source, field=prefix + name)} is not a setting (known: {', '.join(sorted(known))})")
        default = defaults.get(name)
        if name == "file" or isinstance(default, Path):
            p = Path(value)
            value = p if p.is_absolute() else source.parent / p
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{where(source, field=prefix + name)} must be true or false")
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{where(source, field=prefix + name)} must be a number, got {value!r}")
            value = type(default)(value)
        elif isinstance(default, str) and not isinstance(value, (str, int)):
            raise ConfigError(f"{where(source, field=prefix + name)} must be text, got {value!r}")
        elif isinstance(default, str):
            value = str(value)
        out[name] = value
    return cls(**out)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; :class:`ConfigError` naming the file when it is missing or malformed."""
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_node_config(path: str | Path) -> NodeConfig:
    """Read ``node.toml``.

    Raises
    ------
    ConfigError
        Naming the file and field.
    """
    path = Path(path)
    data = read_toml(path)
    node = dict(data.get("node", {}))
    sid = node.pop("sensor_id", None)
    if not isinstance(sid, str) or not sid:
        raise ConfigError(f"{where(path, field='node.sensor_id')} is required")
    key_hex = node.pop("key_hex", None)
    key_file = node.pop("key_file", None)
    if (key_hex is None) == (key_file is None):
        raise ConfigError(f"{where(path, field='node.key_file')}: give exactly one of key_file or key_hex")
    if key_file is not None:
        kp = Path(key_file) if Path(key_file).is_absolute() else path.parent / key_file
        try:
            key_hex = kp.read_text()
        except OSError as exc:
            raise ConfigError(f"{where(path, field='node.key_file')}: {kp}: {exc.strerror or exc}") from None
    key = parse_key(key_hex, what=where(path, field="node.key"))
    spool = node.pop("spool", "spool.db")
    heartbeat_s = node.pop("heartbeat_s", 2.0)
    if node:
        raise ConfigError(f"{where(path, field='node.' + next(iter(node)))} is not a setting")
    audio = _section(AudioConfig, data.get("audio", {}), path, "audio.")
    if audio.source not in ("live", "file"):
        raise ConfigError(f"{where(path, field='audio.source')} must be 'live' or 'file', got {audio.source!r}")
    if audio.source == "file" and audio.file is None:
        raise ConfigError(f"{where(path, field='audio.file')} is required when audio.source = 'file'")
    if audio.start_utc:
        parse_utc_ns(audio.start_utc, f"{where(path, field='audio.start_utc')}")
    if not isinstance(heartbeat_s, (int, float)) or heartbeat_s <= 0:
        raise ConfigError(f"{where(path, field='node.heartbeat_s')} must be a positive number")
    sp = Path(spool)
    return NodeConfig(
        sensor_id=sid, key=key, spool=sp if sp.is_absolute() else path.parent / sp, heartbeat_s=float(heartbeat_s),
        audio=audio, clock=_section(ClockConfig, data.get("clock", {}), path, "clock."),
        uplink=_section(UplinkConfig, data.get("uplink", {}), path, "uplink."), detector=dict(data.get("detector", {})),
    )

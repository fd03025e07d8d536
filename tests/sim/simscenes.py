"""Small scenario texts for the simulator's tests: one shot, a few listed sensors, no noise."""

from __future__ import annotations

import numpy as np

from sim.scenario import parse_scenario


def quiet_scene(sensors: list[dict], *, fs_hz: int = 48000, temperature_c: float = 20.0, wind_mps: float = 0.0,
                wind_from_deg: float = 270.0, absorption: bool = True, ground: float = 0.0, echoes: bool = False,
                buildings: list[tuple] = (), weapon: str = "9mm", reverb_db: float | None = None, elevation_deg: float = 0.0, aim_deg: float = 0.0, shooter_xy=(0.0, 0.0),
                duration_s: float = 3.0, t_shot_s: float = 0.5, sensor_defaults: dict | None = None):
    """A noiseless scene with one shot from ``shooter_xy`` (muzzle 1.5 m up) and the listed sensors."""
    lines = [
        "[scenario]", 'name = "test"', f"duration_s = {duration_s}",
        "[environment]", f"temperature_c = {temperature_c}", f"wind_speed_mps = {wind_mps}", f"wind_from_deg = {wind_from_deg}",
        "[noise]", "level_db_spl = 0.0", "traffic_db_spl = 0.0", "wind_noise = false",
        "[propagation]", f"absorption = {str(absorption).lower()}", f"ground_reflection = {ground}",
        f"echoes = {str(echoes).lower()}",
        *(["reverb = true", f"reverb_db = {reverb_db}", "reverb_rt60_s = 0.5"] if reverb_db is not None else []),
    ]
    defaults = {"fs_hz": fs_hz, "bits": 24, "full_scale_db_spl": 150.0, "self_noise_db_spl": 0.0, "position_error_m": 0.0,
                "sensitivity_sigma_db": 0.0,
                **(sensor_defaults or {})}
    lines.append("[sensor_defaults]")
    lines += _assignments(defaults)
    for s in sensors:
        lines.append("[[sensor]]")
        lines += _assignments(s)
    for (x0, x1, y0, y1, h) in buildings:
        lines += ["[[building]]", f"x_m = [{x0}, {x1}]", f"y_m = [{y0}, {y1}]", f"height_m = {h}"]
    lines += ["[[incident]]", f"t_s = {t_shot_s}", "[[incident.shooter]]", f"x_m = {shooter_xy[0]}", f"y_m = {shooter_xy[1]}",
              f'weapon = "{weapon}"', f"aim_deg = {aim_deg}", f"elevation_deg = {elevation_deg}",
              'schedule = [{ kind = "single" }]']
    return parse_scenario("\n".join(lines), "test.toml")


def _assignments(table: dict) -> list[str]:
    return [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {str(v).lower() if isinstance(v, bool) else v!r}"
            for k, v in table.items()]


def first_departure(x: np.ndarray, fraction: float = 0.05) -> float:
    """Sub-sample index where the signal first exceeds ``fraction`` of its peak magnitude."""
    a = np.abs(np.asarray(x, float))
    h = fraction * a.max()
    k = int(np.argmax(a >= h))
    return (k - 1) + (h - a[k - 1]) / (a[k] - a[k - 1])


def half_peak_onset(x: np.ndarray) -> float:
    """Sub-sample index where the loudest impulse first rises through half its peak (linear interpolation)."""
    p = int(np.argmax(np.abs(x)))
    h = 0.5 * x[p]
    sign = np.sign(h)
    k = p
    while k > 0 and sign * x[k - 1] >= sign * h:
        k -= 1
    a, b = x[k - 1], x[k]
    return (k - 1) + (h - a) / (b - a)


def band_energy_db(x: np.ndarray, start: int, fs_hz: float, band_hz: tuple[float, float], n: int = 4096) -> float:
    """Energy of ``x[start:start+n]`` inside a frequency band, dB (arbitrary reference)."""
    seg = np.asarray(x[start : start + n], float)
    spec = np.abs(np.fft.rfft(seg, n)) ** 2
    f = np.fft.rfftfreq(n, 1.0 / fs_hz)
    return 10.0 * np.log10(np.sum(spec[(f >= band_hz[0]) & (f < band_hz[1])]))

"""The air between source and sensor: speed of sound, wind and ISO 9613-1 absorption.

Pure functions of the weather.  Frequencies in Hz, distances in metres, times in seconds.
"""

from __future__ import annotations

import numpy as np

#: Reference temperature and pressure of ISO 9613-1.
_T0_K = 293.15
_T01_K = 273.16  # triple point of water
_P_REF_KPA = 101.325


def speed_of_sound(temperature_c: float) -> float:
    """Speed of sound in still dry air, m/s: c = 331.3·sqrt(1 + T/273.15)."""
    return 331.3 * float(np.sqrt(1.0 + float(temperature_c) / 273.15))


def wind_vector(speed_mps: float, from_deg: float) -> np.ndarray:
    """East/north/up wind velocity, m/s, from a meteorological report.

    Parameters
    ----------
    speed_mps : float
        Wind speed, m/s.
    from_deg : float
        Direction the wind blows *from*, degrees clockwise from north (270 = a west wind,
        which blows towards the east).

    Returns
    -------
    numpy.ndarray, shape (3,)
    """
    to = np.deg2rad(float(from_deg) + 180.0)
    return np.array([speed_mps * np.sin(to), speed_mps * np.cos(to), 0.0])


def travel_time(d_m: np.ndarray, c_mps: float, wind_mps: np.ndarray) -> np.ndarray:
    """Time for sound to cross the straight leg(s) ``d_m`` in air moving uniformly with ``wind_mps``.

    The wavefront is carried by the air: a ray leaving at t=0 is at ``s + (c·n + w)·t``, so the
    arrival solves ``|d − w·t| = c·t``, i.e. ``(c² − |w|²)t² + 2(d·w)t − |d|² = 0``.  Along the
    wind this is exactly ``|d|/(c ± |w|)``.

    Parameters
    ----------
    d_m : numpy.ndarray, shape (..., 3)
        Leg vectors (receiver minus emitter), m.
    c_mps : float
        Speed of sound in the air's own frame, m/s.
    wind_mps : numpy.ndarray, shape (3,)
        Wind velocity, m/s.

    Returns
    -------
    numpy.ndarray, shape (...)
        Travel times, s.
    """
    d = np.asarray(d_m, dtype=float)
    w = np.asarray(wind_mps, dtype=float)
    dw = d @ w
    dd = np.einsum("...i,...i->...", d, d)
    a = c_mps * c_mps - float(w @ w)
    return (-dw + np.sqrt(dw * dw + a * dd)) / a


def absorption_db_per_m(
    f_hz: np.ndarray | float,
    temperature_c: float = 20.0,
    humidity_pct: float = 50.0,
    pressure_kpa: float = _P_REF_KPA,
) -> np.ndarray:
    """Pure-tone atmospheric absorption coefficient of ISO 9613-1:1993, dB per metre.

    Parameters
    ----------
    f_hz : array_like
        Frequencies, Hz.
    temperature_c : float
        Air temperature, °C.
    humidity_pct : float
        Relative humidity, %.
    pressure_kpa : float
        Atmospheric pressure, kPa.

    Returns
    -------
    numpy.ndarray
        Absorption, dB/m, same shape as ``f_hz`` (e.g. 4.7 dB/km at 1 kHz, 20 °C, 50 %).
    """
    f = np.asarray(f_hz, dtype=float)
    t = float(temperature_c) + 273.15
    pa = float(pressure_kpa) / _P_REF_KPA  # relative pressure
    tr = t / _T0_K
    # Molar concentration of water vapour, %, from the saturation vapour pressure.
    c_sat = -6.8346 * (_T01_K / t) ** 1.261 + 4.6151
    h = float(humidity_pct) * 10.0**c_sat / pa
    # Relaxation frequencies of oxygen and nitrogen, Hz.
    fr_o = pa * (24.0 + 4.04e4 * h * (0.02 + h) / (0.391 + h))
    fr_n = pa * tr**-0.5 * (9.0 + 280.0 * h * np.exp(-4.170 * (tr ** (-1.0 / 3.0) - 1.0)))
    f2 = f * f
    return (
        8.686
        * f2
        * (
            1.84e-11 / pa * tr**0.5
            + tr**-2.5
            * (
                0.01275 * np.exp(-2239.1 / t) / (fr_o + f2 / fr_o)
                + 0.1068 * np.exp(-3352.0 / t) / (fr_n + f2 / fr_n)
            )
        )
    )

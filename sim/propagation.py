"""Sound paths from a source to a sensor and what each does to the sound.

A path has a travel time (speed of sound at the air temperature, carried by the wind along each
leg), a broadband gain (spherical spreading 1/r over the unfolded length, reflection
coefficients, muzzle directivity) and frequency-dependent losses (ISO 9613-1 absorption over the
length; Maekawa's barrier loss for a diffracted path).  Paths: ``direct``, ``diffracted`` (when a
building blocks the straight line), ``ground`` (mirror image in flat ground), ``echo`` (mirror
images in building faces).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import geometry
from sim.atmosphere import travel_time


@dataclass(frozen=True)
class World:
    """What sound meets between sources and sensors: flat ground, boxes and their faces."""

    ground_z_m: float
    boxes: np.ndarray  # (n, 5)
    face_set: tuple

    @classmethod
    def build(cls, boxes: np.ndarray, ground_z_m: float) -> "World":
        return cls(float(ground_z_m), boxes, geometry.faces(boxes))


@dataclass(frozen=True)
class Path:
    """One way the sound of an event reaches a sensor.

    Attributes
    ----------
    kind : str
        ``direct``, ``diffracted``, ``ground`` or ``echo``.
    delay_s : float
        Travel time, s.
    length_m : float
        Unfolded path length, m (absorption acts over it).
    gain : float
        Broadband amplitude factor relative to the source's waveform at 1 m.
    detour_m : float
        Extra length over the blocked straight line, m (0 unless diffracted).
    aspect_db : float
        Muzzle directivity toward this path at 1 kHz, dB re the side (``(D/2)·cos θ``); it scales
        with frequency by :func:`sim.sources.directivity_weight`.  Not included in ``gain``.
    """

    kind: str
    delay_s: float
    length_m: float
    gain: float
    detour_m: float = 0.0
    aspect_db: float = 0.0


def _legs_time(points: list[np.ndarray], c_mps: float, wind: np.ndarray) -> float:
    legs = np.diff(np.vstack(points), axis=0)
    return float(np.sum(travel_time(legs, c_mps, wind)))


def _clear(a: np.ndarray, b: np.ndarray, boxes: np.ndarray, skip: int = -1) -> bool:
    if boxes.shape[0] == 0:
        return True
    blk = geometry.blocking(a, b, boxes)
    if skip >= 0:
        blk[skip] = False
    return not blk.any()


def paths(
    src: np.ndarray,
    rcv: np.ndarray,
    world: World,
    prop,
    c_mps: float,
    wind_mps: np.ndarray,
    aim: np.ndarray | None = None,
    directivity_db: float = 0.0,
) -> list[Path]:
    """Every path simulated from ``src`` to ``rcv``.

    Parameters
    ----------
    src, rcv : numpy.ndarray, shape (3,)
        Source and receiver, local metres.
    world : World
    prop : sim.scenario.Propagation
        Which paths to include.
    c_mps : float
        Speed of sound, m/s.
    wind_mps : numpy.ndarray, shape (3,)
        Wind velocity, m/s.
    aim : numpy.ndarray, shape (3,), optional
        Unit vector of the muzzle (directional source); None for an omnidirectional one.
    directivity_db : float
        Front-to-back level difference of a directional source, dB.

    Returns
    -------
    list of Path
        Direct or diffracted first (if any), then ground, then echoes by length.
    """
    def aspect(first_leg: np.ndarray) -> float:
        """(D/2)·cos θ, dB, for sound leaving the muzzle along ``first_leg``."""
        if aim is None or directivity_db == 0.0:
            return 0.0
        n = np.linalg.norm(first_leg)
        return 0.5 * directivity_db * float(aim @ first_leg) / max(n, 1e-9)

    out: list[Path] = []
    d = rcv - src
    r = float(np.linalg.norm(d))
    boxes = world.boxes
    blockers = geometry.blocking(src, rcv, boxes) if boxes.shape[0] else np.zeros(0, dtype=bool)
    if not blockers.any():
        # Spreading is 1/r beyond the 1 m at which source waveforms are given.
        out.append(Path("direct", float(travel_time(d, c_mps, wind_mps)), r, 1.0 / max(r, 1.0), 0.0, aspect(d)))
        g = world.ground_z_m
        if prop.ground_reflection > 0.0 and src[2] > g and rcv[2] > g:
            hs, hr = src[2] - g, rcv[2] - g
            frac = hs / (hs + hr)
            gp = src + frac * (rcv - src)
            gp[2] = g
            if _clear(src, gp, boxes) and _clear(gp, rcv, boxes):
                length = float(np.linalg.norm(gp - src) + np.linalg.norm(rcv - gp))
                out.append(Path("ground", _legs_time([src, gp, rcv], c_mps, wind_mps), length,
                                prop.ground_reflection / length, 0.0, aspect(gp - src)))
    elif prop.diffraction:
        extra = sum(geometry.detour(src, rcv, boxes[k]) - r for k in np.nonzero(blockers)[0])
        length = r + extra
        # Travel time over the bent path, with the wind taken along the straight line.
        t = float(travel_time(d * (length / r), c_mps, wind_mps))
        out.append(Path("diffracted", t, length, 1.0 / length, extra, aspect(d)))
    if prop.echoes and prop.max_echoes > 0 and boxes.shape[0]:
        idx, pts, lengths = geometry.face_reflections(src, rcv, world.face_set)
        if idx.size:
            owner = world.face_set[4][idx]
            k = idx.size
            # Both legs must be clear of every building but the one reflecting.
            blk = geometry.blocking(np.broadcast_to(src, (k, 3)), pts, boxes) | geometry.blocking(
                pts, np.broadcast_to(rcv, (k, 3)), boxes)
            blk[np.arange(k), owner] = False
            n_echo = 0
            for j in np.argsort(lengths, kind="stable"):
                if n_echo == prop.max_echoes:
                    break
                p, length = pts[j], float(lengths[j])
                extra = 0.0
                if blk[j].any():
                    if not prop.diffraction:
                        continue
                    # A blocked leg bends round the building in the way, as the direct path does.
                    for a, b in ((src, p), (p, rcv)):
                        leg = float(np.linalg.norm(b - a))
                        hits = np.nonzero(geometry.blocking(a, b, boxes))[0]
                        extra += sum(geometry.detour(a, b, boxes[h]) - leg for h in hits if h != owner[j])
                total = length + extra
                t = _legs_time([src, p, rcv], c_mps, wind_mps) * (total / length)
                out.append(Path("echo", t, total, prop.wall_reflection / total, extra, aspect(p - src)))
                n_echo += 1
    return out


def maekawa_loss_db(f_hz: np.ndarray, detour_m: float, c_mps: float) -> np.ndarray:
    """Barrier insertion loss 10·log10(3 + 20·N) dB, Fresnel number N = 2δf/c, capped at 25 dB.

    Low frequencies bend around a building with ~5 dB loss; high ones are shadowed.
    """
    n = 2.0 * detour_m * np.asarray(f_hz, float) / c_mps
    return np.minimum(10.0 * np.log10(3.0 + 20.0 * n), 25.0)

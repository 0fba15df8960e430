"""Velocity maps of random geology, outside the eight OpenFWI-like families.

The families (`velocity_families`) draw flat or folded layers of constant velocity, optionally cut
by 50-80 degree faults. A network or prior trained on them alone learns those shapes as a lookup
table. This generator also draws what they never do, as training data that widens a model beyond
the families and as a selection set for maps outside them: dipping layers, velocity gradients inside
layers, faults of any dip (normal or reverse), and fast or slow bodies.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .velocity_families import GRID_SHAPE, V_MAX, V_MIN

RANDOM_GEOLOGY = "random-geology"
"""The name `make_paired_dataset` and `seismic-diffusers make-dataset --family` accept for these maps."""

_KIND_ID = 1000  # keeps the random streams apart from the eight families' (ids 0-7)


def _layering(rng: np.random.Generator, x: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Layers with a common dip and bend, each with its own velocity gradient in depth.

    Returns a function of depth (cells, same shape as `x`) giving velocity (m/s), so that faults
    can evaluate the same layering at shifted depths.
    """
    nz, nx = GRID_SHAPE
    n_layers = int(rng.integers(1, 8))
    dip = np.tan(np.deg2rad(rng.uniform(-35.0, 35.0)))
    bend = rng.uniform(-12.0, 12.0) * ((x - rng.uniform(0, nx)) / nx) ** 2 if rng.random() < 0.5 else 0.0
    # Interfaces are levels of the depth a point would have before dipping and bending.
    tilt = dip * (x - nx / 2) + bend
    low, high = -float(np.max(tilt)), nz - float(np.min(tilt))
    tops = np.sort(rng.uniform(low + 3, high - 3, n_layers - 1))
    # A trend with depth, with a 30 % chance per layer of being slower than the one above.
    velocities = [rng.uniform(V_MIN, 3000.0)]
    for _ in range(n_layers - 1):
        step = rng.uniform(100.0, 700.0)
        velocities.append(velocities[-1] + (-step if rng.random() < 0.3 else step))
    velocities = np.asarray(velocities)
    gradients = rng.uniform(0.0, 30.0, n_layers) * (rng.random(n_layers) < 0.6)  # m/s per 10 m cell
    top_of = np.concatenate([[low], tops])

    def velocity_at(depth: np.ndarray) -> np.ndarray:
        level = depth - tilt
        layer = np.searchsorted(tops, level)
        return velocities[layer] + gradients[layer] * (level - top_of[layer])

    return velocity_at


def _fault_offset(rng: np.random.Generator, z: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Vertical throw (cells) of one planar fault dipping 30-90 degrees; negative = reverse."""
    nx = GRID_SHAPE[1]
    x_top = rng.uniform(0.15 * nx, 0.85 * nx)
    dip = np.deg2rad(rng.uniform(30.0, 90.0))
    x_plane = x_top + z / np.tan(dip) * rng.choice([-1.0, 1.0])
    return np.where(x > x_plane, rng.uniform(3.0, 20.0) * rng.choice([-1.0, 1.0]), 0.0)


def _body(rng: np.random.Generator, velocity: np.ndarray, z: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Add a rotated ellipse (lens, salt-like or gas-like body), fast or slow."""
    nz, nx = GRID_SHAPE
    cz, cx = rng.uniform(10, nz - 8), rng.uniform(5, nx - 5)
    a, b = rng.uniform(2.0, 22.0), rng.uniform(2.0, 10.0)
    angle = rng.uniform(0, np.pi)
    u = (x - cx) * np.cos(angle) + (z - cz) * np.sin(angle)
    w = -(x - cx) * np.sin(angle) + (z - cz) * np.cos(angle)
    inside = (u / a) ** 2 + (w / b) ** 2 < 1
    value = rng.uniform(3500.0, V_MAX) if rng.random() < 0.6 else rng.uniform(V_MIN, 2300.0)
    return np.where(inside, value, velocity)


def _one_map(rng: np.random.Generator) -> np.ndarray:
    nz, nx = GRID_SHAPE
    z, x = np.mgrid[0:nz, 0:nx].astype(np.float64)
    velocity_at = _layering(rng, x)
    offset = np.zeros_like(z)
    for _ in range(int(rng.choice([0, 1, 1, 2]))):
        offset += _fault_offset(rng, z, x)
    velocity = velocity_at(z - offset)
    for _ in range(int(rng.choice([0, 0, 1, 2]))):
        velocity = _body(rng, velocity, z, x)
    return np.clip(velocity, V_MIN, V_MAX).astype(np.float32)


def generate_random_geology(num: int, seed: int = 0, start: int = 0) -> np.ndarray:
    r"""Velocity maps of random geology, most of them unlike any of the eight families.

    The recipe, per map (70 x 70 cells of 10 m; row index is depth):

    1. Layers: 1-7, with interfaces at a common dip of -35 to 35 degrees, bent by a parabola in
       half of the maps. Velocities follow a trend from 1500-3000 m/s at the top, each layer 100-700
       m/s faster than the one above or, with probability 0.3, slower. 60 % of the layers grade
       with depth (0-30 m/s per cell), so a single graded layer is a gradient map.
    2. Faults: none (25 %), one (50 %) or two (25 %), planar, dipping 30-90 degrees either way, with
       a throw of 3-20 cells up or down (normal or reverse).
    3. Bodies: none (50 %), one or two ellipses, 4-44 cells across, rotated at random, fast (3500-4500
       m/s, 60 %) or slow (1500-2300 m/s): lenses, salt-like and gas-like bodies.

    Velocities are clipped to 1500-4500 m/s.

    Args:
        num (`int`): Number of maps, at least 0.
        seed (`int`, *optional*, defaults to 0): The same `(num, seed)` always gives the same maps,
            and the first `k` maps do not depend on `num`.
        start (`int`, *optional*, defaults to 0): Index of the first map, so that shards can be made
            independently (as `generate_velocity_models`).

    Returns:
        `np.ndarray` of shape `(num, 70, 70)`, float32, velocity in m/s.

    Example:

    ```py
    >>> from seismic_diffusers.data import generate_random_geology
    >>> v = generate_random_geology(4, seed=0)
    >>> v.shape, bool(v.min() >= 1500 and v.max() <= 4500)
    ((4, 70, 70), True)

    ```
    """
    if int(num) < 0:
        raise ValueError(f"`num` must be >= 0, got {num}.")
    if int(start) < 0:
        raise ValueError(f"`start` must be >= 0, got {start}.")
    out = np.empty((int(num), *GRID_SHAPE), dtype=np.float32)
    for i in range(int(num)):
        out[i] = _one_map(np.random.default_rng([_KIND_ID, int(seed), int(start) + i]))
    return out

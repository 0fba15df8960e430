"""OpenFWI-style synthetic velocity families.

OpenFWI's generating code is unreleased; what is public is the description of each family
(flat or curved layers, with or without faults, "A" simpler than "B"). This module implements
that description as a documented, seeded recipe so anyone can make unlimited training data.
"""

from __future__ import annotations

import numpy as np

VELOCITY_FAMILIES: tuple[str, ...] = (
    "flatvel-a",
    "flatvel-b",
    "curvevel-a",
    "curvevel-b",
    "flatfault-a",
    "flatfault-b",
    "curvefault-a",
    "curvefault-b",
)
"""The eight OpenFWI-like family names, in class-label order."""

V_MIN, V_MAX = 1500.0, 4500.0  # m/s, OpenFWI's velocity range
GRID_SHAPE = (70, 70)  # (nz, nx), 10 m cells

# Per-difficulty knobs: layer count range, minimum velocity step between neighbouring layers (m/s),
# and the probability that a "B" layer breaks the increase-with-depth trend.
_LEVELS = {
    "a": {"layers": (2, 5), "min_step": 250.0, "inversion_p": 0.0, "faults": (1, 1), "amp": (3.0, 8.0)},
    "b": {"layers": (5, 9), "min_step": 120.0, "inversion_p": 0.35, "faults": (1, 2), "amp": (4.0, 12.0)},
}


def check_family(family: str) -> str:
    """Return the canonical family name, or raise a `ValueError` listing the valid ones."""
    name = str(family).strip().lower().replace("_", "-")
    if name not in VELOCITY_FAMILIES:
        raise ValueError(
            f"Unknown velocity family {family!r}. Valid families: {', '.join(VELOCITY_FAMILIES)}."
        )
    return name


def _layer_velocities(rng: np.random.Generator, n_layers: int, level: dict) -> np.ndarray:
    """Velocities (m/s) from top to bottom; increasing for "A", with inversions for "B"."""
    # Increasing trend with at least `min_step` between layers, spanning a random sub-range.
    span_needed = level["min_step"] * (n_layers - 1)
    v_top = rng.uniform(V_MIN, max(V_MIN, V_MAX - span_needed - 200.0))
    v_bottom = rng.uniform(min(V_MAX, v_top + span_needed), V_MAX)
    steps = rng.dirichlet(np.full(n_layers - 1, 2.0)) * (v_bottom - v_top - span_needed) + level["min_step"]
    velocities = v_top + np.concatenate([[0.0], np.cumsum(steps)])
    for i in range(1, n_layers):
        if rng.random() < level["inversion_p"]:
            # A low-velocity layer: drop below the layer above by a clear contrast.
            low = max(V_MIN, velocities[i - 1] - 900.0)
            high = velocities[i - 1] - level["min_step"]
            if high > low:
                velocities[i] = rng.uniform(low, high)
    return np.clip(velocities, V_MIN, V_MAX)


def _interface_depths(rng: np.random.Generator, n_layers: int, nz: int) -> np.ndarray:
    """Sorted depths (cells) of the n_layers - 1 interfaces, at least 4 cells apart."""
    min_gap = 4
    free = nz - 6 - min_gap * (n_layers - 1)
    gaps = rng.dirichlet(np.full(n_layers, 1.5)) * free + min_gap
    return 3.0 + np.cumsum(gaps)[:-1]


def _folding(rng: np.random.Generator, nx: int, level: dict) -> np.ndarray:
    """Smooth lateral deformation (cells, positive = deeper) shared by all interfaces."""
    x = np.arange(nx, dtype=np.float64)
    shape = np.zeros(nx)
    for _ in range(rng.integers(1, 3)):
        wavelength = rng.uniform(40.0, 140.0)
        shape += rng.uniform(*level["amp"]) * np.sin(2 * np.pi * x / wavelength + rng.uniform(0, 2 * np.pi))
    return shape - shape.mean()


def _fault_offset(rng: np.random.Generator, nz: int, nx: int, n_faults: int) -> np.ndarray:
    """Vertical throw field (cells): each fault is a dipping plane; one side is shifted down."""
    z, x = np.mgrid[0:nz, 0:nx].astype(np.float64)
    offset = np.zeros((nz, nx))
    for _ in range(n_faults):
        x_top = rng.uniform(0.2 * nx, 0.8 * nx)
        dip = np.deg2rad(rng.uniform(50.0, 80.0)) * rng.choice([-1.0, 1.0])
        # Horizontal position of the fault plane at each depth.
        x_fault = x_top + z / np.tan(dip)
        hanging_wall = x > x_fault if dip > 0 else x < x_fault
        offset += np.where(hanging_wall, rng.uniform(5.0, 14.0), 0.0)
    return offset


def _one_model(rng: np.random.Generator, family: str) -> np.ndarray:
    structure, level_name = family.split("-")
    level = _LEVELS[level_name]
    nz, nx = GRID_SHAPE
    n_layers = int(rng.integers(level["layers"][0], level["layers"][1] + 1))
    velocities = _layer_velocities(rng, n_layers, level)
    depths = _interface_depths(rng, n_layers, nz)

    z = np.arange(nz, dtype=np.float64)[:, None]
    # "Unfolded" depth: where each point would lie before folding and faulting.
    unfolded = np.broadcast_to(z, (nz, nx)).copy()
    if structure.startswith("curve"):
        unfolded -= _folding(rng, nx, level)[None, :]
    if structure.endswith("fault"):
        unfolded -= _fault_offset(rng, nz, nx, int(rng.integers(level["faults"][0], level["faults"][1] + 1)))
    layer_index = np.searchsorted(depths, unfolded)
    return velocities[layer_index].astype(np.float32)


def generate_velocity_models(family: str, num: int, seed: int = 0, start: int = 0) -> np.ndarray:
    r"""Generate OpenFWI-style 2-D velocity models of one family.

    The recipe, per model (grid 70 x 70 cells of 10 m; row index is depth):

    1. Draw the number of layers: 2-5 for "A" families, 5-9 for "B".
    2. Draw interface depths (Dirichlet-spaced, at least 4 cells = 40 m apart) and one constant
       velocity per layer. "A": velocities strictly increase with depth, steps of at least
       250 m/s. "B": steps of at least 120 m/s, and each layer has a 35 % chance of being a
       low-velocity layer (slower than the one above), so velocity does not always increase.
    3. `curvevel` / `curvefault`: fold all interfaces with the same smooth lateral deformation,
       a sum of one or two sinusoids (wavelength 400-1400 m, amplitude 30-80 m for "A",
       40-120 m for "B").
    4. `flatfault` / `curvefault`: cut the layering with dipping planar faults (dip 50-80
       degrees, one fault for "A", one or two for "B"); the hanging wall is thrown down by
       50-140 m.
    5. Assign each cell the velocity of the layer its un-deformed depth falls in.

    Velocities stay inside OpenFWI's 1500-4500 m/s range.

    Args:
        family (`str`):
            One of `flatvel-a`, `flatvel-b`, `curvevel-a`, `curvevel-b`, `flatfault-a`,
            `flatfault-b`, `curvefault-a`, `curvefault-b`.
        num (`int`):
            Number of models, at least 0.
        seed (`int`, *optional*, defaults to 0):
            Seed; the same `(family, num, seed)` always gives the same models, and the first
            `k` models do not depend on `num`.
        start (`int`, *optional*, defaults to 0):
            Index of the first model, so `generate_velocity_models(f, n, s, start=k)` equals rows
            `k:k + n` of `generate_velocity_models(f, k + n, s)`; used to build shards independently.

    Returns:
        `np.ndarray` of shape `(num, 70, 70)`, float32, velocity in m/s (axis 1 is depth z,
        axis 2 is horizontal position x, both at 10 m spacing).

    Example:

    ```py
    >>> from seismic_diffusers.data import generate_velocity_models
    >>> v = generate_velocity_models("curvefault-a", num=4, seed=0)
    >>> v.shape, v.dtype, bool(v.min() >= 1500 and v.max() <= 4500)
    ((4, 70, 70), dtype('float32'), True)

    ```
    """
    family = check_family(family)
    if int(num) < 0:
        raise ValueError(f"`num` must be >= 0, got {num}.")
    if int(start) < 0:
        raise ValueError(f"`start` must be >= 0, got {start}.")
    family_id = VELOCITY_FAMILIES.index(family)
    out = np.empty((int(num), *GRID_SHAPE), dtype=np.float32)
    for i in range(int(num)):
        # One stream per (family, seed, index): decorrelated across families, stable across `num`.
        rng = np.random.default_rng([family_id, int(seed), int(start) + i])
        out[i] = _one_model(rng, family)
    return out

"""Tests for the seeded OpenFWI-like synthetic velocity families."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import seismic_diffusers.data.velocity_families as velocity_families
from seismic_diffusers.data import VELOCITY_FAMILIES, generate_velocity_models

A_FAMILIES = [name for name in VELOCITY_FAMILIES if name.endswith("-a")]
B_FAMILIES = [name for name in VELOCITY_FAMILIES if name.endswith("-b")]
NUM_STATS = 50  # models per family for the statistical checks (about 5 ms each)


def _is_laterally_invariant(model: np.ndarray) -> bool:
    """Every column equals the first one."""
    return bool((model == model[:, :1]).all())


def _layers_per_column(model: np.ndarray) -> float:
    """Mean number of distinct velocities down a column."""
    return float(np.mean([len(np.unique(model[:, j])) for j in range(model.shape[1])]))


def _first_interface_depths(model: np.ndarray) -> np.ndarray:
    """Depth index (cells) of the first velocity change down each column."""
    return np.argmax(np.diff(model, axis=0) != 0, axis=0)


def _thickness_variation(model: np.ndarray) -> int | None:
    """Largest change across columns of any layer's thickness (cells).

    Returns `None` when the columns do not all cross the same sequence of layers (a layer folded
    out of the grid, say), so thicknesses cannot be compared column to column.
    """
    transitions = [np.flatnonzero(np.diff(model[:, j]) != 0) for j in range(model.shape[1])]
    sequences = {tuple(model[np.r_[0, t + 1], j]) for j, t in enumerate(transitions)}
    if len(sequences) > 1:
        return None
    if len(transitions[0]) < 2:
        return 0
    thickness = np.array([np.diff(t) for t in transitions])
    return int((thickness.max(axis=0) - thickness.min(axis=0)).max())


@pytest.mark.parametrize("family", VELOCITY_FAMILIES)
def test_shape_dtype_and_physical_range(family):
    velocities = generate_velocity_models(family, num=6, seed=3)
    assert velocities.shape == (6, 70, 70)
    assert velocities.dtype == np.float32
    assert np.isfinite(velocities).all()
    # OpenFWI's velocity range, m/s.
    assert velocities.min() >= 1500.0
    assert velocities.max() <= 4500.0


@pytest.mark.parametrize("family", ["flatvel-a", "curvefault-b"])
def test_deterministic_per_seed_and_seeds_differ(family):
    first = generate_velocity_models(family, num=3, seed=7)
    again = generate_velocity_models(family, num=3, seed=7)
    other = generate_velocity_models(family, num=3, seed=8)
    np.testing.assert_array_equal(first, again)
    for i in range(3):
        assert not np.array_equal(first[i], other[i])


@pytest.mark.parametrize("family", ["curvevel-a", "flatfault-b"])
@pytest.mark.parametrize("k", [0, 1, 3])
def test_prefix_is_stable(family, k):
    """The first `k` models do not depend on how many are requested."""
    np.testing.assert_array_equal(
        generate_velocity_models(family, num=5, seed=2)[:k], generate_velocity_models(family, num=k, seed=2)
    )


def test_num_zero_gives_empty_array():
    velocities = generate_velocity_models("flatvel-a", num=0)
    assert velocities.shape == (0, 70, 70)
    assert velocities.dtype == np.float32


def test_families_are_decorrelated():
    """Same seed and index in two families must not share a random stream."""
    flat_a = generate_velocity_models("flatvel-a", num=4, seed=0)
    flat_b = generate_velocity_models("flatvel-b", num=4, seed=0)
    assert not np.array_equal(flat_a[:, :, 0], flat_b[:, :, 0])


def test_flatvel_a_is_strictly_layered_and_increases_with_depth():
    velocities = generate_velocity_models("flatvel-a", num=NUM_STATS, seed=0)
    for model in velocities:
        assert _is_laterally_invariant(model)
        column = model[:, 0]
        steps = np.diff(column)
        assert (steps >= 0).all(), "velocity must not decrease with depth in flatvel-a"
        changes = steps[steps > 0]
        # 2-5 layers, neighbouring layers at least 250 m/s apart (float32 rounding allowed).
        assert 1 <= len(changes) <= 4
        assert changes.min() >= 250.0 - 1e-2


@pytest.mark.parametrize("family", A_FAMILIES)
def test_a_families_never_decrease_with_depth(family):
    """Folding and (normal) faulting keep every "A" column monotone: younger, slower rock on top."""
    velocities = generate_velocity_models(family, num=NUM_STATS, seed=1)
    assert (np.diff(velocities, axis=1) >= 0).all()


@pytest.mark.parametrize("family", B_FAMILIES)
def test_b_families_contain_low_velocity_layers(family):
    velocities = generate_velocity_models(family, num=NUM_STATS, seed=1)
    has_inversion = (np.diff(velocities, axis=1) < 0).any(axis=(1, 2))
    # Each layer below the top has a 35 % chance of an inversion, with at least 4 of them.
    assert has_inversion.mean() >= 0.5, f"only {has_inversion.sum()}/{NUM_STATS} models have an inversion"


@pytest.mark.parametrize("structure", ["flatvel", "curvevel", "flatfault", "curvefault"])
def test_b_has_more_layers_than_a(structure):
    layers_a = np.mean(
        [_layers_per_column(m) for m in generate_velocity_models(f"{structure}-a", num=NUM_STATS, seed=4)]
    )
    layers_b = np.mean(
        [_layers_per_column(m) for m in generate_velocity_models(f"{structure}-b", num=NUM_STATS, seed=4)]
    )
    # "A": 2-5 layers, "B": 5-9, so B should be clearly ahead on average.
    assert layers_b > layers_a + 1.5, (layers_a, layers_b)


@pytest.mark.parametrize("level", ["a", "b"])
def test_flat_families_are_laterally_invariant_curve_families_are_not(level):
    flat = generate_velocity_models(f"flatvel-{level}", num=NUM_STATS, seed=5)
    curve = generate_velocity_models(f"curvevel-{level}", num=NUM_STATS, seed=5)
    assert all(_is_laterally_invariant(m) for m in flat)
    assert not any(_is_laterally_invariant(m) for m in curve)


@pytest.mark.parametrize("level", ["a", "b"])
def test_flatfault_is_flat_layering_offset_by_a_throw(level):
    """Faulted flat layers: lateral changes appear, and the first interface is thrown down by 50-140 m."""
    velocities = generate_velocity_models(f"flatfault-{level}", num=NUM_STATS, seed=6)
    faulted = [not _is_laterally_invariant(m) for m in velocities]
    assert np.mean(faulted) >= 0.9
    depths = np.array([_first_interface_depths(m) for m in velocities])
    throw = depths.max(axis=1) - depths.min(axis=1)
    # Throw per fault is 5-14 cells; a fault near the edge can hide part of it, so ask for most models.
    assert np.mean(throw >= 4) >= 0.8, np.sort(throw)
    if level == "a":  # one fault
        assert throw.max() <= 15


def test_faults_break_layer_continuity_unlike_folds():
    """A fold moves all interfaces of a column together, so layer thickness stays constant
    across columns; a fault cuts the layers and changes apparent thickness near the fault."""
    curve = [_thickness_variation(m) for m in generate_velocity_models("curvevel-a", num=NUM_STATS, seed=0)]
    fault = [_thickness_variation(m) for m in generate_velocity_models("curvefault-a", num=NUM_STATS, seed=0)]
    # Folds: thickness constant up to the one-cell rounding of interface depths.
    assert all(v is None or v <= 1 for v in curve), curve
    jumps = [v is not None and v >= 4 for v in fault]
    assert np.mean(jumps) >= 0.2, fault


@pytest.mark.parametrize("name", ["FlatVel_A", " CurveFault-B "])
def test_family_names_are_normalised(name):
    canonical = name.strip().lower().replace("_", "-")
    np.testing.assert_array_equal(
        generate_velocity_models(name, num=2, seed=0), generate_velocity_models(canonical, num=2, seed=0)
    )


def test_unknown_family_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown velocity family") as info:
        generate_velocity_models("saltdome-a", num=1)
    for name in VELOCITY_FAMILIES:
        assert name in str(info.value)


def test_negative_num_raises():
    with pytest.raises(ValueError, match="num"):
        generate_velocity_models("flatvel-a", num=-1)


def test_module_doctests():
    results = doctest.testmod(velocity_families, optionflags=doctest.ELLIPSIS)
    assert results.attempted >= 3
    assert results.failed == 0

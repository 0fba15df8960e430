"""generate_random_geology: maps outside the families, seeded and shardable; make-dataset draws them."""

from __future__ import annotations

import numpy as np
import pytest

from seismic_diffusers.cli import main
from seismic_diffusers.data import (
    RANDOM_GEOLOGY,
    VELOCITY_FAMILIES,
    OpenFWIDataset,
    generate_random_geology,
    generate_velocity_models,
)
from seismic_diffusers.data.paired import map_kind
from seismic_diffusers.physics import forward_model


def test_maps_are_seeded_in_range_and_shardable():
    maps = generate_random_geology(12, seed=3)
    assert maps.shape == (12, 70, 70) and maps.dtype == np.float32
    assert maps.min() >= 1500 and maps.max() <= 4500
    np.testing.assert_array_equal(maps, generate_random_geology(12, seed=3))
    np.testing.assert_array_equal(maps[5:9], generate_random_geology(4, seed=3, start=5))
    assert not np.array_equal(maps, generate_random_geology(12, seed=4))
    assert len({m.tobytes() for m in maps}) == 12


def distinct_per_column(maps: np.ndarray) -> np.ndarray:
    return np.array([[len(np.unique(column)) for column in m.T] for m in maps]).max(axis=1)


def interfaces_dip(maps: np.ndarray) -> np.ndarray:
    """Whether the shallowest velocity change lies at different depths across the map, faults aside."""
    first_change = np.argmax(np.abs(np.diff(maps, axis=1)) > 1.0, axis=1)  # (n, nx)
    return np.array([len(np.unique(row)) > 4 for row in first_change])


def test_draws_what_the_families_never_do():
    geology = generate_random_geology(200, seed=0)
    families = np.concatenate([generate_velocity_models(f, 25, seed=0) for f in VELOCITY_FAMILIES])
    # Families: constant-velocity layers, at most 9 per column. Graded layers give many values.
    assert distinct_per_column(families).max() <= 9
    assert (distinct_per_column(geology) > 20).mean() > 0.4
    # Dipping interfaces: the families' flat layers (folds aside) keep the first break at few depths.
    flat = np.concatenate([generate_velocity_models(f, 25, seed=0) for f in ("flatvel-a", "flatvel-b")])
    assert not interfaces_dip(flat).any()
    assert interfaces_dip(geology).mean() > 0.4


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="`num` must be >= 0"):
        generate_random_geology(-1)
    with pytest.raises(ValueError, match="`start` must be >= 0"):
        generate_random_geology(2, start=-1)
    assert map_kind("Random_Geology") == RANDOM_GEOLOGY
    with pytest.raises(ValueError, match="Or 'random-geology'"):
        map_kind("saltdome")


def test_make_dataset_writes_random_geology_beside_a_family(tmp_path):
    assert (
        main(["make-dataset", "--family", "random-geology,flatvel-a", "--num", "2", "--out", str(tmp_path)])
        == 0
    )
    dataset = OpenFWIDataset(tmp_path / RANDOM_GEOLOGY, with_seismic=True)
    expected = generate_random_geology(2, seed=0)
    np.testing.assert_array_equal(dataset[1]["velocity"][0].numpy(), expected[1])
    np.testing.assert_allclose(dataset[1]["seismic"].numpy(), forward_model(expected[1])[0], rtol=1e-6)
    assert (tmp_path / "flatvel-a" / "model" / "model1.npy").is_file()

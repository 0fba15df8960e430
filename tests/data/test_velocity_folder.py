"""`VelocityFolderDataset`: .npy maps of any size resampled to the model grid, bad files refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seismic_diffusers.data import VelocityFolderDataset, generate_velocity_models


@pytest.fixture
def folder(tmp_path):
    np.save(tmp_path / "a_single.npy", np.full((140, 210), 2500.0, np.float32))  # one map, 5 m cells
    layered = np.repeat(np.linspace(1600, 4400, 35, dtype=np.float32)[:, None], 35, axis=1)
    np.save(tmp_path / "b_stack.npy", np.stack([layered, layered[::-1]]))  # (2, 35, 35): coarser grid
    np.save(
        tmp_path / "c_openfwi.npy", generate_velocity_models("flatvel-a", 3, seed=0)[:, None]
    )  # (3, 1, 70, 70)
    (tmp_path / ".hidden.npy").write_bytes(b"ignored")
    return tmp_path


def test_every_map_comes_out_on_the_grid_in_m_per_s(folder):
    dataset = VelocityFolderDataset(folder, label=4)
    assert len(dataset) == 1 + 2 + 3
    for index in range(len(dataset)):
        item = dataset[index]
        assert item["velocity"].shape == (1, 70, 70) and item["velocity"].dtype == torch.float32
        assert item["label"] == 4
    np.testing.assert_allclose(dataset[0]["velocity"], 2500.0, rtol=1e-6)  # a constant stays constant
    # maps already on the grid pass through untouched
    np.testing.assert_array_equal(
        dataset[3]["velocity"][0], generate_velocity_models("flatvel-a", 3, seed=0)[0]
    )
    # enlarging keeps the layering: depth still increases monotonically, range kept
    column = dataset[1]["velocity"][0, :, 10]
    assert (column.diff() >= 0).all() and 1600 <= column.min() and column.max() <= 4400
    assert dataset[-1]["velocity"].shape == (1, 70, 70)


def test_shrinking_averages_thin_layers_instead_of_aliasing(tmp_path):
    stripes = np.where(np.arange(700)[:, None] % 2 == 0, 2000.0, 3000.0) * np.ones((1, 70))
    np.save(tmp_path / "thin.npy", stripes.astype(np.float32))  # 1 m layers on a 10 m grid
    out = VelocityFolderDataset(tmp_path)[0]["velocity"]
    np.testing.assert_allclose(out, 2500.0, atol=20.0)  # plain bilinear sampling would give 2000 or 3000


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda p: np.save(p / "bad.npy", np.zeros((2, 2, 3, 4, 5), np.float32)), "expected one map"),
        (lambda p: (p / "bad.npy").write_bytes(b"corrupt"), "not a readable .npy array"),
        (lambda p: None, "No files matching"),
    ],
)
def test_bad_folders_are_refused_when_opened(tmp_path, write, message):
    write(tmp_path)
    with pytest.raises(ValueError, match=message):
        VelocityFolderDataset(tmp_path)


def test_bad_maps_are_refused_when_read(tmp_path):
    maps = np.full((2, 50, 50), 3000.0, np.float32)
    maps[0, 3, 3] = np.nan
    maps[1, 0, 0] = 6000.0
    np.save(tmp_path / "maps.npy", maps)
    dataset = VelocityFolderDataset(tmp_path, value_range=(1500.0, 4500.0))
    with pytest.raises(ValueError, match="map 0 of .*maps.npy contains NaN"):
        dataset[0]
    with pytest.raises(ValueError, match=r"spans 3000-6000 m/s, outside the model's 1500-4500 m/s"):
        dataset[1]
    clipped = VelocityFolderDataset(tmp_path, value_range=(1500.0, 4500.0), clip=True)[1]["velocity"]
    assert clipped.max() <= 4500.0
    with pytest.raises(ValueError, match="Not a folder"):
        VelocityFolderDataset(tmp_path / "missing")

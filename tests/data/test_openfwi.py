"""Tests for the OpenFWI reader (tiny fixture files written to tmp_path)."""

import pickle

import numpy as np
import pytest
import torch

from seismic_diffusers.data.openfwi import OpenFWIDataset, save_openfwi_file


def _velocities(n, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(1500.0, 4500.0, size=(n, 1, 70, 70)).astype(np.float32)


@pytest.fixture
def family(tmp_path):
    """An OpenFWI-layout family folder with two velocity files of 3 and 2 samples, plus seismic data."""
    root = tmp_path / "FlatVel_A"
    vel = [_velocities(3, 0), _velocities(2, 1)]
    seis = [
        np.random.default_rng(10 + i).normal(size=(len(v), 5, 1000, 70)).astype(np.float32)
        for i, v in enumerate(vel)
    ]
    for i, (v, s) in enumerate(zip(vel, seis, strict=True), start=1):
        save_openfwi_file(root / "model" / f"model{i}.npy", v)
        (root / "data").mkdir(exist_ok=True)
        np.save(root / "data" / f"data{i}.npy", s)
    return root, np.concatenate(vel), np.concatenate(seis)


def test_length_items_and_exact_round_trip(family):
    root, vel, _ = family
    ds = OpenFWIDataset(root, label=3)
    assert len(ds) == 5
    for i in range(5):
        item = ds[i]
        assert item["velocity"].shape == (1, 70, 70)
        assert item["velocity"].dtype == torch.float32
        assert item["label"] == 3
        assert "seismic" not in item
        np.testing.assert_array_equal(item["velocity"].numpy(), vel[i])
    np.testing.assert_array_equal(ds[-1]["velocity"].numpy(), vel[4])
    with pytest.raises(IndexError):
        ds[5]


def test_files_are_memory_mapped_and_label_defaults(family):
    root, _, _ = family
    ds = OpenFWIDataset(root)
    assert [p.name for p in ds.files] == ["model1.npy", "model2.npy"]
    assert all(isinstance(a, np.memmap) for a in ds._velocities)
    assert ds[0]["label"] == -1


def test_family_subfolder_list_of_files_and_pickle(family):
    root, vel, _ = family
    ds = OpenFWIDataset(root.parent, family="FlatVel_A")
    assert len(ds) == 5 and ds.family == "FlatVel_A"
    ds_list = OpenFWIDataset([root / "model" / "model2.npy", root / "model" / "model1.npy"], label=1)
    assert len(ds_list) == 5
    np.testing.assert_array_equal(ds_list[0]["velocity"].numpy(), vel[3])  # list order is kept
    clone = pickle.loads(pickle.dumps(ds_list))  # DataLoader workers re-open the memmaps
    assert isinstance(clone._velocities[0], np.memmap)
    np.testing.assert_array_equal(clone[4]["velocity"].numpy(), vel[2])


def test_vel_prefix_and_save_from_3d(tmp_path):
    v = _velocities(2, 5)[:, 0]  # (N, 70, 70)
    path = save_openfwi_file(tmp_path / "vel2_1_0.npy", v)
    assert np.load(path).shape == (2, 1, 70, 70)
    ds = OpenFWIDataset(tmp_path)
    assert len(ds) == 2
    np.testing.assert_array_equal(ds[1]["velocity"].numpy()[0], v[1])
    with pytest.raises(ValueError, match="shape"):
        save_openfwi_file(tmp_path / "bad.npy", np.zeros((2, 3, 70, 70)))


def test_wrong_shape_raises_value_error_naming_file(tmp_path):
    bad = tmp_path / "model" / "model1.npy"
    bad.parent.mkdir()
    np.save(bad, np.zeros((4, 70, 70), dtype=np.float32))  # missing channel axis
    with pytest.raises(ValueError) as err:
        OpenFWIDataset(tmp_path)
    assert str(bad) in str(err.value)
    assert "(N, 1, 70, 70)" in str(err.value) and "(4, 70, 70)" in str(err.value)

    np.save(bad, np.zeros((4, 1, 64, 64), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(N, 1, 70, 70\)"):
        OpenFWIDataset(tmp_path)
    assert len(OpenFWIDataset(tmp_path, expected_shape=(64, 64))) == 4


def test_missing_folder_or_files_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        OpenFWIDataset(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="No OpenFWI velocity files"):
        OpenFWIDataset(tmp_path)
    with pytest.raises(FileNotFoundError):
        OpenFWIDataset([tmp_path / "model1.npy"])


def test_with_seismic_pairs_files(family):
    root, vel, seis = family
    ds = OpenFWIDataset(root, with_seismic=True)
    assert [p.name for p in ds.seismic_files] == ["data1.npy", "data2.npy"]
    assert all(isinstance(a, np.memmap) for a in ds._seismic)
    for i in (0, 2, 3, 4):
        item = ds[i]
        assert item["seismic"].shape == (5, 1000, 70) and item["seismic"].dtype == torch.float32
        np.testing.assert_array_equal(item["seismic"].numpy(), seis[i])
        np.testing.assert_array_equal(item["velocity"].numpy(), vel[i])
    # a list of velocity files finds data/data<k>.npy by name
    ds_list = OpenFWIDataset([root / "model" / "model2.npy"], with_seismic=True)
    np.testing.assert_array_equal(ds_list[1]["seismic"].numpy(), seis[4])


def test_with_seismic_validates_pairing(family):
    root, _, _ = family
    np.save(root / "data" / "data2.npy", np.zeros((3, 5, 1000, 70), dtype=np.float32))  # 3 samples, not 2
    with pytest.raises(ValueError, match="holds 3 samples"):
        OpenFWIDataset(root, with_seismic=True)
    (root / "data" / "data2.npy").unlink()
    with pytest.raises(ValueError, match="counts must match"):
        OpenFWIDataset(root, with_seismic=True)
    np.save(root / "data" / "data2.npy", np.zeros((2, 5, 999, 70), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(N, 5, 1000, 70\)"):
        OpenFWIDataset(root, with_seismic=True)


def test_non_finite_sample_raises_only_when_read(tmp_path):
    v = _velocities(3, 2)
    v[1, 0, 10, 20] = np.nan
    save_openfwi_file(tmp_path / "model" / "model1.npy", v)
    ds = OpenFWIDataset(tmp_path)  # construction does not scan the data
    assert torch.isfinite(ds[0]["velocity"]).all()
    with pytest.raises(ValueError, match="non-finite") as err:
        ds[1]
    assert "model1.npy" in str(err.value)

"""Tests for VelocityAugmentation."""

import pytest
import torch

from seismic_diffusers.data.augmentation import VelocityAugmentation

ALL_ON = dict(horizontal_flip_p=0.5, rotation_p=1.0, crop_p=1.0, elastic_p=1.0)


def _layered(batch=6, size=70, seed=0):
    """Normalised maps in [-1, 1] that increase with depth (row index), plus some lateral noise."""
    g = torch.Generator().manual_seed(seed)
    depth = torch.linspace(-0.9, 0.9, size).view(1, 1, size, 1).expand(batch, 1, size, size)
    return (depth + 0.05 * torch.randn(batch, 1, size, size, generator=g)).clamp(-1, 1).contiguous()


def test_shape_dtype_and_range_preserved():
    x = _layered()
    torch.manual_seed(0)
    y = VelocityAugmentation(**ALL_ON)(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.isfinite(y).all()
    lo, hi = x.amin(dim=(1, 2, 3)), x.amax(dim=(1, 2, 3))
    assert (y.amin(dim=(1, 2, 3)) >= lo).all() and (y.amax(dim=(1, 2, 3)) <= hi).all()
    assert not torch.equal(y, x)


def test_non_square_and_physical_units():
    x = 1500.0 + 3000.0 * torch.rand(2, 1, 40, 64)
    torch.manual_seed(1)
    y = VelocityAugmentation(**ALL_ON)(x)
    assert y.shape == x.shape
    assert y.min() >= x.min() and y.max() <= x.max()


def test_deterministic_under_manual_seed():
    x = _layered()
    aug = VelocityAugmentation(**ALL_ON)
    torch.manual_seed(123)
    a = aug(x)
    torch.manual_seed(123)
    b = aug(x)
    torch.manual_seed(124)
    c = aug(x)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_flip_only_equals_torch_flip():
    x = _layered(batch=3)
    aug = VelocityAugmentation(horizontal_flip_p=1.0, rotation_p=0.0, crop_p=0.0, elastic_p=0.0)
    assert torch.equal(aug(x), torch.flip(x, dims=[-1]))


def test_all_disabled_is_identity():
    x = _layered(batch=2)
    aug = VelocityAugmentation(horizontal_flip_p=0.0, rotation_p=0.0, crop_p=0.0, elastic_p=0.0)
    assert torch.equal(aug(x), x)


def test_no_vertical_flip_by_default_and_depth_direction_kept():
    aug = VelocityAugmentation(**ALL_ON)
    assert aug.vertical_flip_p == 0.0 and aug.config["vertical_flip_p"] == 0.0
    assert VelocityAugmentation().vertical_flip_p == 0.0
    x = _layered(batch=16)
    torch.manual_seed(0)
    y = aug(x)
    top, bottom = y[:, :, :10].mean(dim=(1, 2, 3)), y[:, :, -10:].mean(dim=(1, 2, 3))
    assert (top < bottom).all()


def test_config_round_trip_and_validation():
    aug = VelocityAugmentation(max_rotation_deg=3.0, crop_scale=(0.9, 1.0))
    again = VelocityAugmentation(**aug.config)
    assert again.config == aug.config
    with pytest.raises(ValueError, match="horizontal_flip_p"):
        VelocityAugmentation(horizontal_flip_p=1.5)
    with pytest.raises(ValueError, match="expects"):
        aug(torch.zeros(1, 70, 70))

"""`InversionNetModel`: shapes, units, config checks, and that it can learn a gather-to-map mapping."""

from __future__ import annotations

import pytest
import torch

from seismic_diffusers import InversionNetModel

TINY = dict(block_out_channels=(8, 8, 8), latent_channels=4, norm_num_groups=4)


def test_forward_shapes_and_units():
    model = InversionNetModel(**TINY).eval()
    seismic = torch.randn(3, 5, 1000, 70) * 10
    out = model(seismic)
    assert out.velocity.shape == (3, 1, 70, 70)
    assert model(seismic, return_dict=False)[0].shape == (3, 1, 70, 70)
    velocity = model.predict_velocity(seismic, batch_size=2)
    assert velocity.shape == (3, 70, 70) and velocity.dtype == torch.float32
    assert 1500.0 <= float(velocity.min()) and float(velocity.max()) <= 4500.0
    assert torch.allclose(model.denormalize_velocity(model.normalize_velocity(velocity)), velocity, atol=1e-3)


def test_rejects_wrong_seismic_shape():
    model = InversionNetModel(**TINY)
    with pytest.raises(ValueError, match=r"\(B, 5, 1000, 70\)"):
        model(torch.zeros(2, 5, 999, 70))


@pytest.mark.parametrize(
    "changes",
    [
        dict(block_out_channels=(8, 8)),  # one width per stride
        dict(seismic_working_shape=(100, 64)),  # 100 / 8 is not whole
        dict(velocity_working_size=48),  # not a power-of-two multiple of the 16-cell latent side
        dict(v_min=4500.0, v_max=1500.0),
    ],
)
def test_rejects_inconsistent_configs(changes):
    with pytest.raises(ValueError):
        InversionNetModel(**{**TINY, **changes})


def test_learns_to_tell_two_gathers_apart():
    torch.manual_seed(0)
    model = InversionNetModel(**TINY)
    seismic = torch.zeros(2, 5, 1000, 70)
    seismic[0, :, 100:200] = 20.0
    seismic[1, :, 500:600] = -20.0
    target = torch.stack([torch.full((1, 70, 70), -0.5), torch.full((1, 70, 70), 0.5)])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(seismic).velocity, target)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01
    velocity = model.predict_velocity(seismic)
    assert float(velocity[0].mean()) < 2500 < float(velocity[1].mean())  # -0.5 -> 2250 m/s, 0.5 -> 3750 m/s

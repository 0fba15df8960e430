"""`InversionNetModel`: shapes, units, config checks, that it can learn a gather-to-map mapping; ensembles of it."""

from __future__ import annotations

import pytest
import torch

from seismic_diffusers import InversionNetEnsembleModel, InversionNetModel
from seismic_diffusers.models import load_inversion_net

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


def test_an_ensemble_maps_to_the_mean_of_its_members_and_round_trips(tmp_path):
    torch.manual_seed(0)
    members = [
        InversionNetModel(**TINY).eval(),
        InversionNetModel(**dict(TINY, block_out_channels=(8, 8, 16))).eval(),
    ]
    ensemble = InversionNetEnsembleModel.from_members(members).eval()
    seismic = torch.randn(3, 5, 1000, 70) * 10
    expected = (members[0].predict_velocity(seismic) + members[1].predict_velocity(seismic)) / 2
    torch.testing.assert_close(ensemble.predict_velocity(seismic, batch_size=2), expected)
    normalised = (members[0](seismic).velocity + members[1](seismic).velocity) / 2
    torch.testing.assert_close(ensemble(seismic).velocity, normalised)
    assert tuple(ensemble.config.seismic_shape) == (5, 1000, 70)
    ensemble.save_pretrained(tmp_path / "ensemble")
    members[0].save_pretrained(tmp_path / "single")
    loaded = load_inversion_net(tmp_path / "ensemble")
    assert isinstance(loaded, InversionNetEnsembleModel) and not loaded.training
    torch.testing.assert_close(loaded.predict_velocity(seismic), expected)
    assert isinstance(load_inversion_net(tmp_path / "single"), InversionNetModel)
    with pytest.raises(ValueError, match="no InversionNetModel or InversionNetEnsembleModel"):
        load_inversion_net(tmp_path)


def test_an_ensemble_refuses_one_member_and_members_that_read_other_gathers():
    with pytest.raises(ValueError, match="at least two members"):
        InversionNetEnsembleModel(members=[dict(TINY)])
    with pytest.raises(ValueError, match="disagree on `seismic_shape`"):
        InversionNetEnsembleModel(members=[dict(TINY), dict(TINY, seismic_shape=(3, 1000, 70))])
    two = InversionNetEnsembleModel(members=[dict(TINY), dict(TINY)])
    with pytest.raises(ValueError, match="Members must be InversionNetModel, got InversionNetEnsembleModel"):
        InversionNetEnsembleModel.from_members([two, InversionNetModel(**TINY)])
    with pytest.raises(ValueError, match="`v_max`=5000.0 differs"):
        InversionNetEnsembleModel(members=[dict(TINY), dict(TINY)], v_max=5000.0)

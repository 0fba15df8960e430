"""`LatentForwardOperator`: shapes, refusals, a save/load round trip, and that it learns a latent map."""

from __future__ import annotations

import pytest
import torch

from seismic_diffusers import LatentForwardOperator


def test_maps_the_velocity_half_to_a_seismic_half_of_the_same_shape():
    operator = LatentForwardOperator(half_channels=4, width=16, dilations=(1, 2))
    velocity_half = torch.randn(3, 4, 16, 16)
    out = operator(velocity_half)
    assert out.sample.shape == (3, 4, 16, 16) and torch.isfinite(out.sample).all()
    torch.testing.assert_close(operator(velocity_half, return_dict=False)[0], out.sample)


def test_refuses_wrong_inputs_and_configs():
    operator = LatentForwardOperator(half_channels=4, width=16, dilations=(1,))
    with pytest.raises(ValueError, match=r"\(B, 4, h, w\)"):
        operator(torch.randn(2, 8, 16, 16))
    with pytest.raises(ValueError, match="norm_num_groups"):
        LatentForwardOperator(half_channels=4, width=12, norm_num_groups=8)
    with pytest.raises(ValueError, match="dilations"):
        LatentForwardOperator(half_channels=4, width=16, dilations=())


def test_save_load_round_trip(tmp_path):
    operator = LatentForwardOperator(half_channels=2, width=8, dilations=(1, 2)).eval()
    operator.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    loaded = LatentForwardOperator.from_pretrained(tmp_path).eval()
    x = torch.randn(1, 2, 16, 16)
    torch.testing.assert_close(loaded(x).sample, operator(x).sample)
    assert list(loaded.config.dilations) == [1, 2]


def train_on_a_shifted_swap(dilations) -> float:
    torch.manual_seed(0)
    operator = LatentForwardOperator(half_channels=2, width=32, dilations=dilations)
    optimizer = torch.optim.Adam(operator.parameters(), 3e-3)
    for _ in range(150):
        x = torch.randn(16, 2, 16, 16)
        target = torch.roll(x.flip(1), shifts=6, dims=2)
        loss = (operator(x).sample - target).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def test_dilations_let_it_learn_a_non_local_latent_map():
    """The target swaps channels and shifts 6 cells (wrapping round, so 6 of 16 rows are out of reach
    of any zero-padded convolution: floor 0.375). Dilations 1, 2, 4 reach 6 cells and get near that
    floor; three undilated layers reach 3 cells and learn nothing (1.0 predicts zeros)."""
    assert train_on_a_shifted_swap((1, 2, 4)) < 0.45
    assert train_on_a_shifted_swap((1, 1, 1)) > 0.9


def train_on_a_transpose(attention_layers: int, steps: int) -> float:
    torch.manual_seed(0)
    operator = LatentForwardOperator(
        half_channels=2, width=32, dilations=(1,), attention_layers=attention_layers, sample_size=8
    )
    optimizer = torch.optim.Adam(operator.parameters(), 3e-3)
    for _ in range(steps):
        x = torch.randn(16, 2, 8, 8)
        loss = (operator(x).sample - x.transpose(2, 3)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def test_attention_learns_a_map_that_swaps_the_grid_axes():
    """Seismic (time, receiver) and velocity (depth, x) grids are different axes. A transpose is the
    simplest such map: a convolution learns only its diagonal (1.0 predicts zeros), one transformer
    block with position embeddings learns all of it."""
    assert train_on_a_transpose(0, 200) > 0.9
    assert train_on_a_transpose(1, 800) < 0.05


def test_attention_config_round_trip_and_refusals(tmp_path):
    operator = LatentForwardOperator(
        half_channels=2, width=16, dilations=(1,), attention_layers=1, sample_size=4
    )
    operator.eval().save_pretrained(tmp_path)
    loaded = LatentForwardOperator.from_pretrained(tmp_path).eval()
    x = torch.randn(2, 2, 4, 4)
    torch.testing.assert_close(loaded(x).sample, operator(x).sample)
    with pytest.raises(ValueError, match="4 x 4 grid"):
        operator(torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match="attention_heads"):
        LatentForwardOperator(half_channels=2, width=16, attention_layers=1, attention_heads=5)

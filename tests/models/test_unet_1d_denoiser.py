"""SeismogramUNet1DModel: any length in, same length out; exact save/load."""

from __future__ import annotations

import pytest
import torch

from seismic_diffusers import SeismogramUNet1DModel


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SeismogramUNet1DModel(base_channels=8, channel_mults=(1, 2, 4)).eval()


@pytest.mark.parametrize("length", [3000, 2999, 17, 4])
def test_any_length_comes_back_at_its_own_length(model, length):
    out = model(torch.randn(2, 3, length), torch.tensor([3, 40])).sample
    assert out.shape == (2, 3, length) and torch.isfinite(out).all()


def test_timestep_changes_the_output_and_scalar_timesteps_broadcast(model):
    x = torch.randn(2, 3, 256)
    with torch.no_grad():
        assert not torch.allclose(model(x, 0).sample, model(x, 49).sample)
        torch.testing.assert_close(model(x, 7).sample, model(x, torch.tensor([7, 7])).sample)


def test_save_load_round_trip_is_exact(model, tmp_path):
    model.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    loaded = SeismogramUNet1DModel.from_pretrained(tmp_path).eval()
    again = SeismogramUNet1DModel.from_pretrained(tmp_path).eval()
    x = torch.randn(1, 3, 300)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, 5).sample, again(x, 5).sample, rtol=0, atol=0)
        # A freshly built model differs only by float rounding in its first matmul (~6e-8).
        torch.testing.assert_close(loaded(x, 5).sample, model(x, 5).sample, rtol=0, atol=1e-5)
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name])


def test_channel_count_is_configurable():
    one = SeismogramUNet1DModel(in_channels=1, out_channels=1, base_channels=8, channel_mults=(1, 2))
    assert one(torch.randn(1, 1, 100), 0).sample.shape == (1, 1, 100)
    with pytest.raises(ValueError, match="multiple of 8"):
        SeismogramUNet1DModel(base_channels=12)

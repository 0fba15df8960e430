"""SeismogramUNet1DModel: any length in, same length out; exact save/load."""

from __future__ import annotations

import pytest
import torch

from seismic_diffusers import SeismogramUNet1DModel
from seismic_diffusers.utils.configs import public_config


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


def test_a_gated_copy_starts_almost_where_the_model_was_and_can_pass_the_input_through(model, tmp_path):
    settings = public_config(model.config)
    gated = SeismogramUNet1DModel(**{**settings, "input_gate": True}).eval()
    missing, unexpected = gated.load_state_dict(model.state_dict(), strict=False)
    assert set(missing) == {"conv_gate.weight", "conv_gate.bias"} and not unexpected
    x = torch.randn(2, 3, 200)
    with torch.no_grad():
        before, after = model(x, 5).sample, gated(x, 5).sample
        # closed gate: sigmoid(-4) of the input added
        torch.testing.assert_close(after, before + torch.sigmoid(torch.tensor(-4.0)) * x)
        gated.conv_gate.bias.fill_(10.0)  # wide open: the input passes through
        torch.testing.assert_close(gated(x, 5).sample, before + x, atol=1e-4, rtol=1e-4)
    gated.save_pretrained(tmp_path)
    reloaded = SeismogramUNet1DModel.from_pretrained(tmp_path)
    assert reloaded.config.input_gate
    torch.testing.assert_close(reloaded(x, 5).sample, gated(x, 5).sample)
    with pytest.raises(ValueError, match="in_channels == out_channels"):
        SeismogramUNet1DModel(in_channels=3, out_channels=1, input_gate=True)


@pytest.mark.parametrize("length", [3000, 2999, 37, 4])
def test_mid_attention_takes_part_keeps_lengths_and_round_trips(length, tmp_path):
    torch.manual_seed(0)
    model = SeismogramUNet1DModel(base_channels=8, channel_mults=(1, 2, 4), mid_attention_heads=4).eval()
    x = torch.randn(1, 3, length)
    with torch.no_grad():
        out = model(x, 3).sample
    assert out.shape == (1, 3, length) and torch.isfinite(out).all()
    if length == 3000:
        # The same weights without the attention give another output: the block takes part.
        plain = SeismogramUNet1DModel(base_channels=8, channel_mults=(1, 2, 4)).eval()
        missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
        assert not missing and unexpected and all(k.startswith("mid_attention.") for k in unexpected)
        with torch.no_grad():
            assert not torch.allclose(plain(x, 3).sample, out, atol=1e-4)
        model.save_pretrained(tmp_path)
        loaded = SeismogramUNet1DModel.from_pretrained(tmp_path).eval()
        assert loaded.config.mid_attention_heads == 4
        with torch.no_grad():
            torch.testing.assert_close(loaded(x, 3).sample, out, rtol=0, atol=1e-5)


def test_mid_attention_heads_must_divide_the_coarsest_width():
    with pytest.raises(ValueError, match="mid_attention_heads"):
        SeismogramUNet1DModel(base_channels=8, channel_mults=(1, 2), mid_attention_heads=3)
    with pytest.raises(ValueError, match="mid_attention_heads"):
        SeismogramUNet1DModel(base_channels=8, mid_attention_heads=-1)

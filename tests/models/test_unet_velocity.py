"""Tests for `VelocityUNet2DModel`: native 70 x 70 input via replicate padding, and reload."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F
from diffusers.models.unets.unet_2d import UNet2DModel, UNet2DOutput

from seismic_diffusers import VelocityUNet2DModel


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Tiny models run fastest on one thread; two threads on a busy 2-core machine are ~100x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_unet(block_out_channels=(8, 16, 16), num_class_embeds=None) -> VelocityUNet2DModel:
    torch.manual_seed(0)
    levels = len(block_out_channels)
    return VelocityUNet2DModel(
        sample_size=70,
        in_channels=1,
        out_channels=1,
        block_out_channels=block_out_channels,
        layers_per_block=1,
        down_block_types=("DownBlock2D",) * levels,
        up_block_types=("UpBlock2D",) * levels,
        norm_num_groups=8,
        num_class_embeds=num_class_embeds,
    ).eval()


@pytest.fixture(scope="module")
def unet():
    return tiny_unet()


@pytest.fixture(scope="module")
def conditional_unet():
    return tiny_unet(block_out_channels=(8, 16), num_class_embeds=9)


def public_config(model) -> dict:
    """Config without private keys, tuples as lists (JSON turns tuples into lists)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in model.config.items() if not k.startswith("_")
    }


def sample(shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def test_downsample_factor(unet, conditional_unet):
    assert unet.downsample_factor == 4
    assert conditional_unet.downsample_factor == 2


@pytest.mark.parametrize(("height", "width"), [(70, 70), (69, 71), (64, 64), (5, 3)])
def test_output_has_input_shape(unet, height, width):
    x = sample((2, 1, height, width))
    with torch.no_grad():
        out = unet(x, 10)
    assert isinstance(out, UNet2DOutput)
    assert out.sample.shape == x.shape
    assert out.sample.dtype == torch.float32
    assert torch.isfinite(out.sample).all()


@pytest.mark.parametrize(("height", "width"), [(70, 70), (69, 71)])
def test_matches_parent_on_replicate_padded_input(unet, height, width):
    """The only change from `UNet2DModel`: pad bottom/right by edge replication, run, crop."""
    x = sample((2, 1, height, width), seed=1)
    t = torch.tensor([3, 700])
    factor = unet.downsample_factor
    padded = F.pad(x, (0, (-width) % factor, 0, (-height) % factor), mode="replicate")
    assert padded.shape[-2] % factor == 0 and padded.shape[-1] % factor == 0
    # Bottom rows / right columns copy the last input row / column.
    torch.testing.assert_close(
        padded[..., height:, :width], x[..., -1:, :].expand_as(padded[..., height:, :width])
    )
    with torch.no_grad():
        expected = UNet2DModel.forward(unet, padded, t).sample[..., :height, :width]
        got = unet(x, t).sample
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_padding_is_replicate_not_zero(unet):
    """A zero-padded parent run gives a different answer at the edge, so the check above is real."""
    x = sample((1, 1, 70, 70), seed=2) + 3.0
    with torch.no_grad():
        zero_padded = UNet2DModel.forward(unet, F.pad(x, (0, 2, 0, 2)), 5).sample[..., :70, :70]
        got = unet(x, 5).sample
    assert not torch.allclose(got, zero_padded)


def test_divisible_input_is_not_padded(unet):
    x = sample((1, 1, 64, 64), seed=3)
    with torch.no_grad():
        torch.testing.assert_close(unet(x, 1).sample, UNet2DModel.forward(unet, x, 1).sample, rtol=0, atol=0)


def test_return_dict_false(unet):
    x = sample((1, 1, 70, 70))
    with torch.no_grad():
        out = unet(x, 1, return_dict=False)
        expected = unet(x, 1).sample
    assert isinstance(out, tuple) and len(out) == 1
    torch.testing.assert_close(out[0], expected, rtol=0, atol=0)


def test_class_labels(conditional_unet):
    x = sample((3, 1, 70, 70)).expand(3, 1, 70, 70).contiguous()
    labels = torch.tensor([0, 7, 8])  # 8 = the null class of an 8-family vocabulary
    with torch.no_grad():
        out = conditional_unet(x, 50, class_labels=labels).sample
    assert out.shape == x.shape
    # Same input, different labels -> different predictions.
    assert not torch.allclose(out[0], out[1])
    assert not torch.allclose(out[1], out[2])
    with torch.no_grad():
        single = conditional_unet(x[1:2], 50, class_labels=labels[1:2]).sample
    torch.testing.assert_close(single[0], out[1], rtol=1e-5, atol=1e-5)


def test_class_labels_required_when_conditional(conditional_unet):
    with pytest.raises(ValueError, match="class_labels"):
        conditional_unet(sample((1, 1, 70, 70)), 1)


def test_save_load_round_trip(tmp_path, conditional_unet):
    conditional_unet.save_pretrained(str(tmp_path))
    files = sorted(os.listdir(tmp_path))
    assert files == ["config.json", "diffusion_pytorch_model.safetensors"]

    loaded = VelocityUNet2DModel.from_pretrained(str(tmp_path)).eval()
    assert type(loaded) is VelocityUNet2DModel
    assert public_config(loaded) == public_config(conditional_unet)
    x, labels = sample((2, 1, 70, 70), seed=4), torch.tensor([1, 8])
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(x, 123, class_labels=labels).sample,
            conditional_unet(x, 123, class_labels=labels).sample,
            rtol=0,
            atol=0,
        )


def test_config_round_trip(unet):
    rebuilt = VelocityUNet2DModel.from_config(unet.config)
    assert type(rebuilt) is VelocityUNet2DModel
    assert public_config(rebuilt) == public_config(unet)
    assert rebuilt.config.sample_size == 70
    assert tuple(rebuilt.config.block_out_channels) == (8, 16, 16)

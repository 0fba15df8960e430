"""JointVQModel: real shapes in and out, units, codebooks, and an exact save/load round trip."""

from __future__ import annotations

import pytest
import torch

from seismic_diffusers import JointVQModel, forward_model, generate_velocity_models

TINY = dict(block_out_channels=(8, 8, 8, 8), latent_channels=4, num_vq_embeddings=16, norm_num_groups=4)


@pytest.fixture(scope="module")
def pair():
    velocity = torch.as_tensor(generate_velocity_models("curvevel-a", 2, seed=3))
    return velocity, forward_model(velocity)


def test_real_shapes_in_and_out(pair):
    model = JointVQModel(**TINY).eval()
    _, seismic = pair
    with torch.no_grad():
        latents = model.encode(model.normalize_seismic(seismic)).latents
        decoded = model.decode(latents)
    assert latents.shape == (2, 4, 16, 16) and model.latent_shape == (16, 16)
    assert decoded.velocity.shape == (2, 1, 70, 70) and decoded.seismic.shape == (2, 5, 1000, 70)
    assert decoded.commit_loss.ndim == 0 and decoded.commit_loss >= 0
    assert model.decode(latents, force_not_quantize=True).commit_loss is None


def test_unit_conversions_invert_each_other_and_clip_velocity(pair):
    model = JointVQModel(**TINY)
    velocity, seismic = pair
    torch.testing.assert_close(model.denormalize_velocity(model.normalize_velocity(velocity)), velocity)
    torch.testing.assert_close(
        model.denormalize_seismic(model.normalize_seismic(seismic)), seismic, rtol=1e-4, atol=1e-4
    )
    assert model.denormalize_velocity(torch.tensor([-3.0, 3.0])).tolist() == [1500.0, 4500.0]
    normalised = model.normalize_seismic(seismic)
    assert normalised.min() >= -1.01 and normalised.max() <= 1.01  # inside the pooled OpenFWI limits


@pytest.mark.parametrize("num_codebooks", [1, 2])
def test_quantised_latents_are_codebook_entries(num_codebooks):
    model = JointVQModel(**TINY, num_codebooks=num_codebooks)
    latents = torch.randn(3, 4, 16, 16)
    quantised, loss, indices = model.quantize(latents)
    assert indices.shape == (3, num_codebooks, 16, 16) and indices.max() < 16
    for book, quantizer in enumerate(model.quantizers):
        width = 4 // num_codebooks
        vectors = quantised[:, book * width : (book + 1) * width].permute(0, 2, 3, 1).reshape(-1, width)
        expected = quantizer.embedding.weight[indices[:, book].reshape(-1)]
        torch.testing.assert_close(vectors, expected)


def test_save_load_round_trip_is_exact(pair, tmp_path):
    model = JointVQModel(**TINY, num_codebooks=2, scaling_factor=0.5).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    loaded = JointVQModel.from_pretrained(tmp_path).eval()
    assert loaded.config.scaling_factor == 0.5 and loaded.config.num_codebooks == 2
    seismic = pair[1]
    with torch.no_grad():
        a, b = model(model.normalize_seismic(seismic)), loaded(loaded.normalize_seismic(seismic))
    assert torch.equal(a.velocity, b.velocity) and torch.equal(a.seismic, b.seismic)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_codebooks": 3}, "num_codebooks must be 1 or 2"),
        ({"latent_channels": 5, "num_codebooks": 2}, "num_codebooks must be 1 or 2 and divide"),
        ({"seismic_working_shape": (250, 64)}, "must be divisible by the strides' product"),
        ({"velocity_working_size": 60}, "power-of-two multiple"),
        ({"block_out_channels": (8, 8)}, "one entry per block"),
        ({"latents_mean": (0.0,) * 4}, "give both or neither"),
        ({"latents_mean": (0.0,) * 3, "latents_std": (1.0,) * 3}, "must hold 4 finite numbers"),
        ({"latents_mean": (0.0,) * 4, "latents_std": (1.0, 1.0, float("nan"), 1.0)}, "must hold 4 finite"),
        ({"latents_mean": (0.0,) * 4, "latents_std": (1.0, 0.0, 1.0, 1.0)}, "latents_std must be positive"),
    ],
)
def test_bad_configurations_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        JointVQModel(**{**TINY, **kwargs})


def test_wrong_seismic_shape_is_refused():
    with pytest.raises(ValueError, match=r"seismic must have shape \(B, 5, 1000, 70\)"):
        JointVQModel(**TINY).encode(torch.zeros(1, 5, 999, 70))


def test_refresh_codebooks_points_entries_at_latent_vectors():
    model = JointVQModel(**TINY, num_codebooks=2)
    latents = torch.randn(2, 4, 16, 16)
    assert model.refresh_codebooks(latents, generator=torch.Generator().manual_seed(0)) == 32
    vectors = latents[:, :2].permute(0, 2, 3, 1).reshape(-1, 2)
    first = model.quantizers[0].embedding.weight
    assert all(torch.isclose(vectors, entry).all(dim=1).any() for entry in first)  # every entry is a latent
    before = [q.embedding.weight.clone() for q in model.quantizers]
    usage = torch.ones(2, 16)
    usage[1, 3] = 0  # one dead entry, in the second codebook
    assert model.refresh_codebooks(torch.randn(2, 4, 16, 16), usage) == 1
    assert torch.equal(model.quantizers[0].embedding.weight, before[0])
    changed = (model.quantizers[1].embedding.weight != before[1]).any(dim=1)
    assert changed.tolist() == [i == 3 for i in range(16)]


def test_two_encoders_keep_each_modality_in_its_own_half(pair):
    model = JointVQModel(**TINY, num_codebooks=2, velocity_encoder=True).eval()
    velocity, seismic = pair
    v, s = model.normalize_velocity(velocity[:, None]), model.normalize_seismic(seismic)
    with torch.no_grad():
        latents = model.encode(s, v).latents
        other = model.encode(s, v.flip(-1)).latents
        decoded = model.decode(latents)
        swapped = model.decode(torch.cat([latents[:, :2], other[:, 2:]], dim=1))
    assert latents.shape == (2, 4, 16, 16)
    # the seismic half depends on the gathers alone and equals encode_seismic's output
    torch.testing.assert_close(latents[:, :2], other[:, :2])
    torch.testing.assert_close(model.encode_seismic(s).detach(), latents[:, :2])
    assert not torch.allclose(latents[:, 2:], other[:, 2:])
    # each decoder reads only its own half
    assert torch.equal(swapped.seismic, decoded.seismic)
    assert not torch.equal(swapped.velocity, decoded.velocity)
    assert decoded.velocity.shape == (2, 1, 70, 70) and decoded.seismic.shape == (2, 5, 1000, 70)


def test_two_encoders_refuse_missing_velocity_and_one_codebook(pair):
    model = JointVQModel(**TINY, num_codebooks=2, velocity_encoder=True)
    seismic = model.normalize_seismic(pair[1])
    with pytest.raises(ValueError, match="encodes pairs: velocity must have shape"):
        model.encode(seismic)
    with pytest.raises(ValueError, match="encodes pairs"):
        model.encode(seismic, torch.zeros(2, 1, 64, 64))
    with pytest.raises(ValueError, match="needs num_codebooks=2"):
        JointVQModel(**TINY, velocity_encoder=True)
    with pytest.raises(ValueError, match="needs a model with a velocity encoder"):
        JointVQModel(**TINY).encode_seismic(seismic)


def test_receiver_padding_keeps_the_receiver_axis_exact(pair):
    """Padding 70 receivers to 80 instead of resampling: only time is resampled, and the latent grid
    follows the working shape (320 x 80 -> 20 x 20)."""
    model = JointVQModel(
        **TINY, seismic_working_shape=(320, 80), seismic_receiver_padding=5, velocity_working_size=80
    ).eval()
    seismic = model.normalize_seismic(pair[1])
    with torch.no_grad():
        latents = model.encode(seismic).latents
        decoded = model.decode(latents)
    assert latents.shape == (2, 4, 20, 20) and model.latent_shape == (20, 20)
    assert decoded.seismic.shape == (2, 5, 1000, 70) and decoded.velocity.shape == (2, 1, 70, 70)
    with pytest.raises(ValueError, match="must have 80 receivers"):
        JointVQModel(**TINY, seismic_working_shape=(320, 64), seismic_receiver_padding=5)
    with pytest.raises(ValueError, match="seismic_receiver_padding must be an integer >= 0"):
        JointVQModel(**TINY, seismic_receiver_padding=-1)


def test_per_channel_latent_statistics_standardise_and_round_trip(tmp_path):
    latents = torch.randn(64, 4, 16, 16) * torch.tensor([0.1, 1.0, 3.0, 0.5]).view(1, -1, 1, 1) + 2.0
    plain = JointVQModel(**TINY, scaling_factor=2.0)
    torch.testing.assert_close(plain.scale_latents(latents), latents * 2.0)  # one scalar, as before
    mean, std = latents.mean(dim=(0, 2, 3)).tolist(), latents.std(dim=(0, 2, 3)).tolist()
    model = JointVQModel(**TINY, latents_mean=mean, latents_std=std)
    scaled = model.scale_latents(latents)
    torch.testing.assert_close(scaled.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(scaled.std(dim=(0, 2, 3)), torch.ones(4))
    torch.testing.assert_close(model.unscale_latents(scaled), latents, atol=1e-5, rtol=1e-5)
    model.save_pretrained(tmp_path)
    loaded = JointVQModel.from_pretrained(tmp_path)
    torch.testing.assert_close(loaded.scale_latents(latents), scaled)


def test_encode_quantize_decode_trigger_offload_hooks(pair, offload_hook_calls):
    """`enable_model_cpu_offload` moves a model to the accelerator in its hook's `pre_forward`; the
    pipelines call `encode`, `quantize` and `decode` directly, so each must run that hook."""
    model = offload_hook_calls.attach(JointVQModel(**TINY).eval())
    _, seismic = pair
    with torch.no_grad():
        latents = model.encode(model.normalize_seismic(seismic)).latents
        assert offload_hook_calls.calls() == 1
        model.quantize(latents)
        assert offload_hook_calls.calls() == 2
        model.decode(latents)
    assert offload_hook_calls.calls() >= 3


def test_encode_velocity_is_the_velocity_half_of_encode(pair):
    model = JointVQModel(**{**TINY, "latent_channels": 8}, num_codebooks=2, velocity_encoder=True).eval()
    velocity, seismic = pair
    v = model.normalize_velocity(velocity[:, None].float())
    with torch.no_grad():
        full = model.encode(model.normalize_seismic(seismic), v).latents
        torch.testing.assert_close(model.encode_velocity(v), full[:, 4:])
        torch.testing.assert_close(model.encode_seismic(model.normalize_seismic(seismic)), full[:, :4])
    with pytest.raises(ValueError, match=r"\(B, 1, 70, 70\)"):
        model.encode_velocity(v[:, :, :60])
    with pytest.raises(ValueError, match="needs a model with a velocity encoder"):
        JointVQModel(**TINY).encode_velocity(v)

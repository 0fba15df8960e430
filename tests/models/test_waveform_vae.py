"""Spectrogram AE / VAE / CVAE: layer widths and shapes, save-load round trips, conditioning, errors."""

from __future__ import annotations

import pytest
import torch

from seismic_diffusers import SpectrogramAutoencoder, SpectrogramVAE

SMALL = {"block_out_channels": (8, 8, 16, 16)}


def spectrograms(batch=2, seed=0):
    return torch.randn(batch, 3, 129, 110, generator=torch.Generator().manual_seed(seed)).clamp(-1, 1)


def test_autoencoder_has_four_stride_two_batch_norm_levels():
    model = SpectrogramAutoencoder()
    strided = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in strided] == [32, 64, 128, 256] and all(
        m.stride == (2, 2) for m in strided
    )
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.encoder) == 4
    out = model.eval()(spectrograms())
    assert out.sample.shape == (2, 3, 129, 110) and out.latents.shape == (2, 256, 9, 7)  # 144 x 112 / 16


def test_vae_has_a_128_dimensional_latent_and_its_kl():
    model = SpectrogramVAE(**SMALL).eval()
    out = model(spectrograms(), generator=torch.Generator().manual_seed(0))
    assert out.latents.shape == out.mean.shape == out.logvar.shape == (2, 128)
    assert out.sample.shape == (2, 3, 129, 110)
    assert SpectrogramVAE.kl_divergence(torch.zeros(2, 128), torch.zeros(2, 128)) == 0
    assert SpectrogramVAE.kl_divergence(out.mean, out.logvar) > 0
    deterministic = model(spectrograms(), sample_posterior=False)
    torch.testing.assert_close(deterministic.latents, deterministic.mean)


def test_cvae_conditions_encoder_and_decoder():
    model = SpectrogramVAE(num_stations=3, **SMALL).eval()
    assert model.station_embedding.num_embeddings == 4 and model.unknown_station == 3  # + unknown
    assert model.condition_net[0].in_features == 4 + 16 and model.condition_net[-1].out_features == 64
    conditions = torch.tensor([[2.0, 40.8, 29.0, 10.0], [4.0, 40.8, 29.0, 10.0]])
    stations = torch.tensor([0, 0])
    out = model(spectrograms(), conditions, stations, sample_posterior=False)
    z = torch.zeros(2, 128)
    decoded = model.decode(z, model.condition(conditions, stations))
    assert not torch.allclose(decoded[0], decoded[1])  # the magnitude changes the output
    other_station = model.decode(z, model.condition(conditions, torch.tensor([1, 1])))
    assert not torch.allclose(decoded, other_station)
    assert out.sample.shape == (2, 3, 129, 110)
    normalized = model.normalize_conditions(torch.tensor([[0.5, 40.0, 26.0, 0.0], [5.0, 41.5, 30.5, 30.0]]))
    torch.testing.assert_close(normalized, torch.tensor([[-1.0] * 4, [1.0] * 4]))


@pytest.mark.parametrize(
    "cls, kwargs", [(SpectrogramAutoencoder, SMALL), (SpectrogramVAE, {"num_stations": 2, **SMALL})]
)
def test_save_load_round_trip_is_exact(tmp_path, cls, kwargs):
    model = cls(**kwargs).eval()
    model.save_pretrained(tmp_path)
    loaded = cls.from_pretrained(tmp_path).eval()
    assert {p.name for p in tmp_path.iterdir()} == {"config.json", "diffusion_pytorch_model.safetensors"}
    args = (spectrograms(),)
    if cls is SpectrogramVAE:
        args += (torch.tensor([[2.0, 40.8, 29.0, 10.0]] * 2), torch.tensor([0, 1]))
        torch.testing.assert_close(
            model(*args, sample_posterior=False).sample, loaded(*args, sample_posterior=False).sample
        )
    else:
        torch.testing.assert_close(model(*args).sample, loaded(*args).sample)


def test_wrong_shapes_and_missing_conditions_are_refused():
    with pytest.raises(ValueError, match=r"Expected spectrograms of \(\.\.\., 129, 110\)"):
        SpectrogramAutoencoder(**SMALL)(torch.zeros(1, 3, 129, 100))
    with pytest.raises(ValueError, match="unconditional"):
        SpectrogramVAE(**SMALL).condition(torch.zeros(1, 4), torch.zeros(1, dtype=torch.long))


def test_amplitude_is_predicted_from_the_latent_and_the_condition_in_log10_units():
    model = SpectrogramVAE(num_stations=2, predict_log_peak=True, log_peak_range=(-8.0, -3.0), **SMALL).eval()
    assert (
        model.to_log_peak[0].in_features == 128 + 64
    )  # z and the condition; the encoder never sees the peak
    conditions, stations = (
        torch.tensor([[2.0, 40.8, 29.0, 10.0], [4.5, 40.8, 29.0, 10.0]]),
        torch.tensor([0, 1]),
    )
    out = model(spectrograms(), conditions, stations, sample_posterior=False)
    assert out.log_peak.shape == (2,) and torch.isfinite(out.log_peak).all()
    condition = model.condition(conditions, stations)
    z = torch.zeros(2, 128)
    predicted = model.decode_log_peak(z, condition)
    assert predicted[0] != predicted[1]  # the magnitude moves it
    # the head's output [-1, 1] maps onto log_peak_range
    with torch.no_grad():
        model.to_log_peak[-1].weight.zero_()
        model.to_log_peak[-1].bias.fill_(1.0)
    torch.testing.assert_close(model.decode_log_peak(z, condition), torch.tensor([-3.0, -3.0]))


def test_amplitude_options_are_checked():
    with pytest.raises(ValueError, match="log_peak_range"):
        SpectrogramVAE(predict_log_peak=True, log_peak_range=(-3.0, -8.0), **SMALL)
    with pytest.raises(ValueError, match="does not predict amplitudes"):
        SpectrogramVAE(**SMALL).decode_log_peak(torch.zeros(1, 128))


def test_encode_and_decode_trigger_offload_hooks(offload_hook_calls):
    """The waveform pipeline calls `decode` directly; under `enable_model_cpu_offload` it must run the
    hook that moves the VAE to the accelerator (as diffusers' AutoencoderKL does)."""
    model = offload_hook_calls.attach(SpectrogramVAE(**SMALL).eval())
    with torch.no_grad():
        mean, _ = model.encode(spectrograms())
        model.decode(mean)
    assert offload_hook_calls.calls() == 2

"""`WaveformLatentDenoiser`: shapes, conditioning, save/load."""

from __future__ import annotations

import pytest
import torch

from seismic_diffusers import WaveformLatentDenoiser


def test_predicts_latent_shaped_noise_that_depends_on_time_and_condition(tmp_path):
    torch.manual_seed(0)
    model = WaveformLatentDenoiser(latent_dim=16, width=32, num_blocks=2, num_stations=2, embedding_dim=32)
    x = torch.randn(3, 16)
    conditions = torch.tensor([[2.0, 40.8, 28.0, 10.0]] * 3)
    stations = torch.tensor([0, 1, 2])  # 2 = unknown station
    assert model(x, 10, conditions, stations).sample.abs().max() == 0  # zero-initialised output layer
    torch.nn.init.normal_(model.proj_out.weight, std=0.1)
    out = model(x, torch.tensor([10, 10, 10]), conditions, stations).sample
    assert out.shape == (3, 16)
    assert not torch.allclose(out, model(x, 500, conditions, stations).sample)
    assert not torch.allclose(out, model(x, 10, conditions + torch.tensor([2.0, 0, 0, 0]), stations).sample)
    model.save_pretrained(tmp_path)
    loaded = WaveformLatentDenoiser.from_pretrained(tmp_path)
    torch.testing.assert_close(
        loaded(x, 10, conditions, stations).sample, model(x, 10, conditions, stations).sample
    )


def test_station_names_must_match_the_embedding():
    with pytest.raises(ValueError, match="Got 1 station_names for num_stations=2"):
        WaveformLatentDenoiser(num_stations=2, station_names=["MR01"])

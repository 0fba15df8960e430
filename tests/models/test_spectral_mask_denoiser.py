"""SeismogramSpectralMaskModel: any length in, same length out; the mask keeps or removes STFT cells."""

from __future__ import annotations

import re

import numpy as np
import obspy
import pytest
import torch

from seismic_diffusers import (
    ColdDiffusionDenoisePipeline,
    ColdDiffusionScheduler,
    SeismogramProcessor,
    SeismogramSpectralMaskModel,
)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SeismogramSpectralMaskModel(block_out_channels=(8, 16), norm_num_groups=4).eval()


def in_band_record(length: int = 3000, seed: int = 0) -> torch.Tensor:
    """(1, 3, length): sums of 2-15 Hz sines, all below the kept bins' 24.6 Hz."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 100.0
    record = [
        sum(np.sin(2 * np.pi * f * t + p) for f, p in rng.uniform((2, 0), (15, 6), (4, 2))) for _ in range(3)
    ]
    return torch.tensor(np.array(record)[None], dtype=torch.float32)


@pytest.mark.parametrize("length", [3000, 2999, 300, 100])
def test_any_length_comes_back_at_its_own_length(model, length):
    with torch.no_grad():
        out = model(torch.randn(2, 3, length), torch.tensor([3, 40])).sample
    assert out.shape == (2, 3, length) and torch.isfinite(out).all()


def test_timestep_changes_the_output_and_scalar_timesteps_broadcast(model):
    x = torch.randn(2, 3, 1000)
    with torch.no_grad():
        assert not torch.allclose(model(x, 0).sample, model(x, 49).sample)
        torch.testing.assert_close(model(x, 7).sample, model(x, torch.tensor([7, 7])).sample)


@pytest.mark.parametrize(("bias", "kept"), [(30.0, 1.0), (-30.0, 0.0)])
def test_an_open_mask_passes_the_band_and_a_closed_one_removes_it(bias, kept):
    model = SeismogramSpectralMaskModel(block_out_channels=(8, 16), norm_num_groups=4).eval()
    with torch.no_grad():
        model.unet.conv_out.weight.zero_()
        model.unet.conv_out.bias.fill_(bias)
        x = in_band_record()
        out = model(x, 49).sample
    # away from the record's ends, where the cut above 24.6 Hz smooths the sines' abrupt start
    inner = slice(200, -200)
    torch.testing.assert_close(
        out[..., inner], kept * x[..., inner], atol=1e-3 * float(x.abs().max()), rtol=0
    )


def test_cells_above_the_kept_bins_are_removed(model):
    t = torch.arange(3000) / 100.0
    x = torch.sin(2 * np.pi * 40.0 * t).expand(1, 3, -1).contiguous()  # 40 Hz, above 24.6 Hz
    with torch.no_grad():
        out = model(x, 10).sample
    assert out[..., 200:-200].abs().max() < 1e-3 * x.abs().max()


def test_save_load_round_trip_is_exact_and_a_pipeline_runs_it(model, tmp_path):
    pipe = ColdDiffusionDenoisePipeline(
        unet=model, scheduler=ColdDiffusionScheduler(), processor=SeismogramProcessor(band_hz=[1.0, 20.0])
    )
    pipe.save_pretrained(tmp_path)
    loaded = ColdDiffusionDenoisePipeline.from_pretrained(tmp_path)
    assert isinstance(loaded.unet, SeismogramSpectralMaskModel)
    x = torch.randn(1, 3, 1200)
    with torch.no_grad():
        torch.testing.assert_close(loaded.unet(x, 5).sample, model(x, 5).sample, rtol=0, atol=1e-5)
    loaded.set_progress_bar_config(disable=True)
    stream = loaded(obspy.read()).waveforms
    assert [t.stats.npts for t in stream] == [3000] * 3 and all(np.isfinite(t.data).all() for t in stream)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hop_length": 0}, "`hop_length` must be in (0, n_fft=256]"),
        ({"frequency_bins": 200}, "`frequency_bins` must be in (0, 129]"),
        ({"frequency_bins": 63}, "`frequency_bins` (63) must be a multiple of 2 ** (levels - 1) = 4"),
        (
            {"block_out_channels": (12, 24)},
            "`block_out_channels` must be positive multiples of `norm_num_groups` (8)",
        ),
    ],
)
def test_bad_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=r"\A" + re.escape(message)):
        SeismogramSpectralMaskModel(**kwargs)

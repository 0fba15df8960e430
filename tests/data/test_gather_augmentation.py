"""`corrupt_gathers` and `gathers_at_snr`: the SNR they promise, dead traces, reproducibility and bad settings."""

from __future__ import annotations

import pytest
import torch

from seismic_diffusers.data.gather_augmentation import corrupt_gathers, gathers_at_snr


def gathers() -> torch.Tensor:
    return torch.randn(64, 5, 200, 70, generator=torch.Generator().manual_seed(0)) * 3.0


def test_noise_comes_at_the_requested_snr():
    clean = gathers()
    noisy = corrupt_gathers(clean, snr_db_range=(10.0, 10.0), noise_probability=1.0)
    snr = 10 * torch.log10(clean.pow(2).mean(dim=(1, 2, 3)) / (noisy - clean).pow(2).mean(dim=(1, 2, 3)))
    assert torch.allclose(snr, torch.full_like(snr, 10.0), atol=0.1)


def test_gathers_at_snr_noise_every_gather_at_one_snr_reproducibly():
    clean = gathers()[:8]
    noisy = gathers_at_snr(clean, 10.0, seed=300_000)
    snr = 10 * torch.log10(clean.pow(2).mean(dim=(1, 2, 3)) / (noisy - clean).pow(2).mean(dim=(1, 2, 3)))
    assert torch.allclose(snr, torch.full_like(snr, 10.0), atol=0.3)
    # the draws the inversion benchmark made before this helper existed
    before = corrupt_gathers(
        clean, (10.0, 10.0), noise_probability=1.0, generator=torch.Generator().manual_seed(300_000)
    )
    assert torch.equal(noisy, before)
    assert not torch.equal(noisy, gathers_at_snr(clean, 10.0, seed=200_000))


def test_probabilities_choose_which_gathers_and_traces_change():
    clean = gathers()
    untouched = corrupt_gathers(clean, noise_probability=0.0)
    assert torch.equal(untouched, clean)
    some = corrupt_gathers(clean, noise_probability=0.5, generator=torch.Generator().manual_seed(1))
    changed = (some != clean).flatten(1).any(dim=1).float().mean()
    assert 0.2 < float(changed) < 0.8
    dead = corrupt_gathers(clean, noise_probability=0.0, dead_trace_probability=0.25)
    zero_traces = (dead == 0).all(dim=2).float().mean()
    assert 0.2 < float(zero_traces) < 0.3
    assert torch.equal(dead[dead != 0], clean[dead != 0])


def test_same_generator_same_corruption():
    clean = gathers()
    first = corrupt_gathers(
        clean, noise_probability=1.0, dead_trace_probability=0.1, generator=torch.Generator().manual_seed(3)
    )
    second = corrupt_gathers(
        clean, noise_probability=1.0, dead_trace_probability=0.1, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(first, second)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(snr_db_range=(30.0, 10.0)),
        dict(snr_db_range=(float("nan"), 10.0)),
        dict(noise_probability=1.5),
        dict(dead_trace_probability=1.0),
    ],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        corrupt_gathers(gathers()[:2], **kwargs)


def test_wrong_rank_is_refused():
    with pytest.raises(ValueError, match="B, shots"):
        corrupt_gathers(torch.zeros(5, 200, 70))

"""`utils.training.denoising_loss`: L1, and the negative reconstruction SNR that weighs every window alike."""

from __future__ import annotations

import pytest
import torch

from seismic_diffusers.metrics import reconstruction_snr_db
from seismic_diffusers.utils.training import denoising_loss


def test_snr_loss_is_minus_the_mean_reconstruction_snr_in_db():
    torch.manual_seed(0)
    clean = torch.randn(4, 3, 500)
    estimate = clean + torch.randn(4, 3, 500) * torch.tensor([0.01, 0.1, 0.3, 1.0])[:, None, None]
    snr = reconstruction_snr_db(estimate.numpy(), clean.numpy(), per_channel=False)
    assert float(denoising_loss(estimate, clean, "snr")) == pytest.approx(
        -float(snr.mean()), abs=0.02
    )  # 1e-6 floor: 60 dB cap
    torch.testing.assert_close(denoising_loss(estimate, clean, "l1"), (estimate - clean).abs().mean())


def test_with_the_snr_loss_a_nearly_clean_window_pulls_as_hard_as_a_noisy_one():
    clean = torch.randn(2, 3, 500)
    error = torch.randn(2, 3, 500) * torch.tensor([0.01, 1.0])[:, None, None]
    estimate = (clean + error).requires_grad_()
    denoising_loss(estimate, clean, "snr").backward()
    # d(10 log10 |e|^2)/de scales as 1/|e|: the window with 100x less error gets 100x more gradient
    norms = estimate.grad.flatten(1).norm(dim=1)
    assert norms[0] / norms[1] == pytest.approx(100.0, rel=0.05)


def test_unknown_losses_are_refused():
    with pytest.raises(ValueError, match="l1, snr"):
        denoising_loss(torch.zeros(1, 3, 4), torch.ones(1, 3, 4), "l2")

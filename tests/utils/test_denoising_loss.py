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


def test_segmental_snr_loss_weighs_a_weak_onset_like_a_loud_coda():
    # One window: a weak "P" (-26 dB) in its second second, a louder "S" after it. The estimate drops
    # the P and leaves the S at 20 dB. Per unit of error, the window's SNR pulls on both alike; the
    # segmental loss pulls harder on the P, whose segment has 4x less error than an S segment.
    torch.manual_seed(1)
    clean = torch.zeros(1, 3, 1000)
    clean[..., 100:200] = 0.05 * torch.randn(1, 3, 100)
    clean[..., 300:1000] = torch.randn(1, 3, 700)
    estimate = clean.clone()
    estimate[..., 100:200] = 0.0
    estimate[..., 300:1000] += 0.1 * torch.randn(1, 3, 700)

    def pull_on_p_over_pull_on_s(kind):
        x = estimate.clone().requires_grad_()
        denoising_loss(x, clean, kind).backward()
        grad, error = x.grad.abs(), (x - clean).detach().abs()
        per_error = lambda span: float(grad[..., span].sum() / error[..., span].sum())  # noqa: E731
        return per_error(slice(100, 200)) / per_error(slice(300, 1000))

    assert pull_on_p_over_pull_on_s("snr") == pytest.approx(1.0, rel=0.05)
    assert pull_on_p_over_pull_on_s("segmental_snr") > 1.5
    # Exact output is finite (silent segments included) and better than any error.
    exact = float(denoising_loss(clean, clean, "segmental_snr"))
    assert torch.isfinite(torch.tensor(exact)) and exact < float(
        denoising_loss(estimate, clean, "segmental_snr")
    )
    with pytest.raises(ValueError, match="shorter than one"):
        denoising_loss(clean[..., :50], clean[..., :50], "segmental_snr")


def test_unknown_losses_are_refused():
    with pytest.raises(ValueError, match="l1, snr, segmental_snr"):
        denoising_loss(torch.zeros(1, 3, 4), torch.ones(1, 3, 4), "l2")

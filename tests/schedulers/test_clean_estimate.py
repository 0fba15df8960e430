"""Tests for the model-output <-> clean-estimate conversions shared by pipelines and training."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDPMScheduler, DPMSolverMultistepScheduler

from seismic_diffusers.schedulers.clean_estimate import (
    alpha_sigma,
    clean_from_prediction,
    prediction_from_clean,
    signal_to_noise,
)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_round_trip_and_the_noising_identity(prediction_type):
    scheduler = DDPMScheduler(beta_schedule="squaredcos_cap_v2", prediction_type=prediction_type)
    generator = torch.Generator().manual_seed(0)
    clean, noise = torch.randn(2, 1, 6, 6, generator=generator), torch.randn(2, 1, 6, 6, generator=generator)
    t = 400
    alpha, sigma = alpha_sigma(scheduler, t, "cpu")
    sample = alpha * clean + sigma * noise
    # the exact model output for this (clean, noise) pair implies the clean sample
    exact = {"epsilon": noise, "v_prediction": alpha * noise - sigma * clean, "sample": clean}[
        prediction_type
    ]
    torch.testing.assert_close(
        clean_from_prediction(scheduler, exact, sample, t), clean, rtol=1e-4, atol=1e-4
    )
    torch.testing.assert_close(
        prediction_from_clean(scheduler, clean, sample, t), exact, rtol=1e-4, atol=1e-4
    )


def test_signal_to_noise_and_schedulers_without_alphas():
    solver = DPMSolverMultistepScheduler(beta_schedule="squaredcos_cap_v2")
    assert (
        signal_to_noise(solver, 995) < 1e-3 < signal_to_noise(solver, 646) < 1 < signal_to_noise(solver, 352)
    )
    alpha, sigma = alpha_sigma(solver, 352, "cpu")
    assert float(alpha**2 + sigma**2) == pytest.approx(1.0)

    class NoAlphas:
        config = DDPMScheduler().config

    assert alpha_sigma(NoAlphas(), 10, "cpu") is None and signal_to_noise(NoAlphas(), 10) is None
    assert clean_from_prediction(NoAlphas(), torch.zeros(1), torch.zeros(1), 10) is None

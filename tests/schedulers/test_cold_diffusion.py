"""ColdDiffusionScheduler: the degradation, the one shared schedule, and the sampler's algebra."""

from __future__ import annotations

import pytest
import torch

from seismic_diffusers import ColdDiffusionScheduler


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_degradation_runs_from_clean_to_the_noisy_observation(schedule):
    scheduler = ColdDiffusionScheduler(num_train_timesteps=50, beta_schedule=schedule)
    abar = scheduler.alphas_cumprod
    assert abar[0] > 0.99 and abar[-1] < 1e-4 and torch.all(abar[1:] < abar[:-1])
    clean, noise = torch.randn(2, 3, 100), torch.randn(2, 3, 100)
    r = torch.tensor([0.4, 0.65])
    first = scheduler.add_noise(clean, noise, torch.tensor([0, 0]), r)
    last = scheduler.add_noise(clean, noise, torch.tensor([49, 49]), r)
    torch.testing.assert_close(first, clean, atol=0.05 * (clean.abs().max() + noise.abs().max()), rtol=0)
    torch.testing.assert_close(last, clean + r[:, None, None] * noise, atol=2e-2, rtol=0)
    middle = scheduler.add_noise(clean, noise, torch.tensor([25, 25]), r)
    expected = abar[25].sqrt() * clean + (1 - abar[25]).sqrt() * (clean + r[:, None, None] * noise)
    torch.testing.assert_close(middle, expected)


def test_noise_scale_is_drawn_from_the_configured_range():
    scheduler = ColdDiffusionScheduler(noise_scale_range=(0.4, 0.65))
    r = scheduler.sample_noise_scale(10_000, generator=torch.Generator().manual_seed(0))
    assert 0.4 <= r.min() and r.max() <= 0.65 and abs(r.mean().item() - 0.525) < 0.005


def test_direct_mode_is_one_call_at_the_last_step_and_returns_the_estimate():
    scheduler = ColdDiffusionScheduler(num_train_timesteps=50)
    scheduler.set_timesteps(1)
    assert scheduler.timesteps.tolist() == [49]
    estimate, observation = torch.randn(1, 3, 10), torch.randn(1, 3, 10)
    out = scheduler.step(estimate, 49, observation, observation=observation)
    torch.testing.assert_close(out.prev_sample, estimate)


def test_perfect_estimates_walk_down_the_degradation_path():
    # With x0_hat = x0 exactly, x_{s-1} = x_s - D(x0, s) + D(x0, s-1) lands on D(x0, s-1).
    scheduler = ColdDiffusionScheduler(num_train_timesteps=50)
    scheduler.set_timesteps(5)
    assert scheduler.timesteps.tolist() == [49, 37, 24, 12, 0]
    clean, noise = torch.randn(1, 3, 64), torch.randn(1, 3, 64)
    observation = clean + 0.5 * noise
    sample = scheduler.degrade(clean, observation, 49)
    for t in scheduler.timesteps.tolist():
        torch.testing.assert_close(sample, scheduler.degrade(clean, observation, t))
        sample = scheduler.step(clean, t, sample, observation=observation).prev_sample
    torch.testing.assert_close(sample, clean)


def test_config_round_trip_and_bad_settings(tmp_path):
    scheduler = ColdDiffusionScheduler(
        num_train_timesteps=20, beta_schedule="linear", noise_scale_range=(0.1, 1.0)
    )
    scheduler.save_pretrained(tmp_path)
    loaded = ColdDiffusionScheduler.from_pretrained(tmp_path)
    torch.testing.assert_close(loaded.alphas_cumprod, scheduler.alphas_cumprod)
    with pytest.raises(ValueError, match="Valid schedules: linear, cosine"):
        ColdDiffusionScheduler(beta_schedule="sigmoid")
    with pytest.raises(ValueError, match="noise_scale_range"):
        ColdDiffusionScheduler(noise_scale_range=(0.7, 0.2))
    with pytest.raises(ValueError, match="num_inference_steps` must be >= 1"):
        scheduler.set_timesteps(0)

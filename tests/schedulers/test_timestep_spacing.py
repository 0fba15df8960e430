"""Power-spaced timesteps and the checks on custom timestep lists."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler

from seismic_diffusers.schedulers.timestep_spacing import (
    check_timesteps,
    power_timesteps,
    supports_custom_timesteps,
)


def shipped_like_dpm() -> DPMSolverMultistepScheduler:
    return DPMSolverMultistepScheduler(
        beta_schedule="squaredcos_cap_v2", algorithm_type="sde-dpmsolver++", lambda_min_clipped=-5.1
    )


def test_power_one_is_even_spacing_from_the_schedulers_own_start():
    scheduler = shipped_like_dpm()
    spaced = power_timesteps(scheduler, 15, 1.0)
    own = scheduler.timesteps.tolist()  # power_timesteps set them: lambda_min_clipped starts at 995
    assert spaced[0] == own[0] == 995
    # diffusers' "linspace" ends at 66 too; both are even steps of ~66 from 995
    assert max(abs(a - b) for a, b in zip(spaced, own, strict=True)) <= 1


def test_power_two_spends_more_steps_at_low_noise():
    spaced = power_timesteps(shipped_like_dpm(), 15, 2.0)
    assert spaced == [995, 867, 747, 637, 535, 442, 358, 283, 217, 159, 111, 71, 40, 18, 4]
    assert sum(t < 300 for t in spaced) == 8  # against 4 of the even spacing


@pytest.mark.parametrize("num_inference_steps", [50, 400, 1000])
def test_rounding_repeats_are_pushed_apart(num_inference_steps):
    spaced = power_timesteps(DDPMScheduler(timestep_spacing="trailing"), num_inference_steps, 3.0)
    assert len(spaced) == num_inference_steps and spaced[0] == 999 and spaced[-1] >= 0
    assert all(later < earlier for earlier, later in zip(spaced, spaced[1:], strict=False))
    if num_inference_steps == 1000:
        assert spaced == list(range(999, -1, -1))


@pytest.mark.parametrize("num_inference_steps, power", [(1000, 0.9), (1000, 1.05), (500, 0.3), (15, 0.5)])
def test_powers_below_one_never_start_above_the_schedulers_first_step(num_inference_steps, power):
    scheduler = DDPMScheduler(timestep_spacing="trailing")
    spaced = power_timesteps(scheduler, num_inference_steps, power)
    assert spaced[0] == 999 and spaced[-1] >= 0 and len(spaced) == num_inference_steps
    assert all(later < earlier for earlier, later in zip(spaced, spaced[1:], strict=False))
    scheduler.set_timesteps(timesteps=spaced)  # diffusers accepts it


def test_power_timesteps_run_through_the_scheduler():
    scheduler = shipped_like_dpm()
    spaced = power_timesteps(scheduler, 6, 2.0)
    scheduler.set_timesteps(timesteps=spaced)
    assert scheduler.timesteps.tolist() == spaced


@pytest.mark.parametrize("power", [0, -1.0, True, "2"])
def test_bad_power_raises(power):
    with pytest.raises(ValueError, match="power must be a number > 0"):
        power_timesteps(DDPMScheduler(), 10, power)


def test_more_steps_than_timesteps_raises():
    with pytest.raises(ValueError, match="997 steps do not fit between timestep 995 and 0"):
        power_timesteps(shipped_like_dpm(), 997, 2.0)


def test_which_schedulers_take_custom_timesteps():
    assert supports_custom_timesteps(DDPMScheduler())
    assert supports_custom_timesteps(shipped_like_dpm())
    assert supports_custom_timesteps(EulerDiscreteScheduler())
    assert not supports_custom_timesteps(DDIMScheduler())
    # diffusers refuses `timesteps=` with these sigma schedules, though `set_timesteps` has the argument
    for flag in ("use_karras_sigmas", "use_lu_lambdas", "use_exponential_sigmas", "use_beta_sigmas"):
        assert not supports_custom_timesteps(DPMSolverMultistepScheduler(**{flag: True}))
    assert not supports_custom_timesteps(EulerDiscreteScheduler(use_karras_sigmas=True))


def test_check_timesteps_accepts_numpy_torch_and_whole_float_timesteps():
    scheduler = DDPMScheduler()
    assert check_timesteps(scheduler, np.array([999, 500, 0])) == [999, 500, 0]
    assert check_timesteps(scheduler, torch.tensor([999, 500, 0])) == [999, 500, 0]
    assert check_timesteps(scheduler, [999.0, 500.0, 0.0]) == [999, 500, 0]
    assert all(type(t) is int for t in check_timesteps(scheduler, np.array([10, 5])))


def test_check_timesteps_accepts_a_decreasing_list():
    assert check_timesteps(DDPMScheduler(), (999, 500, 0)) == [999, 500, 0]


@pytest.mark.parametrize(
    "timesteps, message",
    [
        ([], "non-empty list of integers"),
        ([900, 500.5], "non-empty list of integers"),
        ([900, True], "non-empty list of integers"),
        ([500, 500, 10], "decrease strictly within \\[0, 999\\]"),
        ([10, 500], "decrease strictly"),
        ([1000, 500], "decrease strictly"),
        ([500, -1], "decrease strictly"),
    ],
)
def test_bad_timesteps_raise(timesteps, message):
    with pytest.raises(ValueError, match=message):
        check_timesteps(DDPMScheduler(), timesteps)


def test_scheduler_without_custom_timesteps_raises_naming_alternatives():
    with pytest.raises(ValueError, match="DDIMScheduler does not take custom timesteps.*DDPM, DPM-Solver"):
        check_timesteps(DDIMScheduler(), [999, 0])


def test_strength_starts_part_way_down_the_schedule():
    spaced = power_timesteps(shipped_like_dpm(), 4, 1.0, strength=0.2)
    assert spaced == [199, 149, 100, 50]
    for strength in (0.0, 1.5, True):
        with pytest.raises(ValueError, match="strength"):
            power_timesteps(shipped_like_dpm(), 4, 1.0, strength=strength)

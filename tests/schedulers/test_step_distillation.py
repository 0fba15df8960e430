"""Tests for the sampling math of step distillation."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

from seismic_diffusers.schedulers.step_distillation import (
    ddim_clean_target,
    distillation_timesteps,
    student_positions,
    teacher_interval,
    teacher_interval_between,
)


def cosine_solver(**kwargs) -> DPMSolverMultistepScheduler:
    return DPMSolverMultistepScheduler(beta_schedule="squaredcos_cap_v2", lambda_min_clipped=-5.1, **kwargs)


def coefficients(scheduler, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    alpha_bar = scheduler.alphas_cumprod[t]
    return alpha_bar.sqrt(), (1 - alpha_bar).sqrt()


def test_grids_nest_and_intervals_end_on_the_next_student_step():
    student, teacher = distillation_timesteps(cosine_solver(), 4, 4, 1.5)
    assert student == [995, 646, 352, 124]
    assert len(teacher) == 16 and teacher[::4] == student
    assert teacher_interval(teacher, 1, 4) == teacher[4:9] and teacher_interval(teacher, 1, 4)[-1] == 352
    assert teacher_interval(teacher, 3, 4) == teacher[12:]  # the last step ends at the clean map
    with pytest.raises(ValueError, match=">= 2"):
        distillation_timesteps(cosine_solver(), 4, 1, 1.5)


def test_ddim_clean_target_inverts_a_ddim_step():
    scheduler = cosine_solver()
    generator = torch.Generator().manual_seed(0)
    clean, noise = torch.randn(3, 1, 8, 8, generator=generator), torch.randn(3, 1, 8, 8, generator=generator)
    alpha, sigma = coefficients(scheduler, 646)
    alpha_next, sigma_next = coefficients(scheduler, 352)
    sample = alpha * clean + sigma * noise
    # any clean estimate: the DDIM step it implies, inverted, gives it back
    estimate = torch.randn(3, 1, 8, 8, generator=generator)
    landed = alpha_next * estimate + sigma_next * (sample - alpha * estimate) / sigma
    torch.testing.assert_close(
        ddim_clean_target(sample, landed, alpha, sigma, alpha_next, sigma_next), estimate
    )


def test_first_order_dpm_solver_is_the_ddim_step_the_target_assumes():
    # The student samples with solver_order=1; its step must be the DDIM update above.
    solver = cosine_solver(algorithm_type="dpmsolver++", solver_order=1)
    solver.set_timesteps(timesteps=[646, 352])
    sample = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    epsilon = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    stepped = solver.step(epsilon, 646, sample).prev_sample
    alpha, sigma = coefficients(solver, 646)
    alpha_next, sigma_next = coefficients(solver, 352)
    clean = (sample - sigma * epsilon) / alpha
    torch.testing.assert_close(stepped, alpha_next * clean + sigma_next * epsilon, rtol=1e-4, atol=1e-4)
    ddim = DDIMScheduler(beta_schedule="squaredcos_cap_v2", set_alpha_to_one=False)
    assert torch.equal(ddim.alphas_cumprod, solver.alphas_cumprod)


def test_hand_picked_student_grid_on_the_teacher_grid():
    teacher = distillation_timesteps(cosine_solver(), 4, 4, 1.5)[1]
    student = [995, 814, 420, 124]  # a short jump from the prior, then the fine low-noise end
    positions = student_positions(teacher, student)
    assert positions == [0, 2, 7, 12]
    assert teacher_interval_between(teacher, positions, 0) == [995, 903, 814]
    assert teacher_interval_between(teacher, positions, 1) == teacher[2:8] and teacher[7] == 420
    assert teacher_interval_between(teacher, positions, 3) == [124, 81, 44, 16]  # to the clean map
    with pytest.raises(ValueError, match="start at"):
        student_positions(teacher, [903, 420])
    with pytest.raises(ValueError, match="not on it: \\[421\\]"):
        student_positions(teacher, [995, 421])
    with pytest.raises(ValueError, match="decrease strictly"):
        student_positions(teacher, [995, 124, 420])

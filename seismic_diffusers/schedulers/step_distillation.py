"""The sampling math of step distillation (progressive distillation, Salimans & Ho 2022).

A student that samples in `n` DDIM steps learns, at each of its timesteps, the clean-map estimate
that makes its one DDIM step land where `k` steps of the teacher's sampler land. The teacher's grid
holds `n * k` timesteps with the same power spacing, so the student's grid is every `k`-th of them.
"""

from __future__ import annotations

import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from .timestep_spacing import power_timesteps


def distillation_timesteps(
    scheduler: SchedulerMixin, num_student_steps: int, teacher_steps_per_step: int, power: float
) -> tuple[list[int], list[int]]:
    """The student's and the teacher's timesteps: `power_timesteps` with `n` and `n * k` steps.

    Args:
        scheduler (`SchedulerMixin`): The sampler whose first timestep starts both grids.
        num_student_steps (`int`): `n`, the student's steps (>= 1).
        teacher_steps_per_step (`int`): `k`, teacher steps per student step (>= 2).
        power (`float`): Spacing exponent of both grids.

    Returns:
        `(student, teacher)`: `n` and `n * k` strictly decreasing timesteps, with
        `student[j] == teacher[j * k]`.

    Raises:
        ValueError: for `k < 2`, or if rounding puts a student timestep off the teacher's grid
            (then pick another power or step count).
    """
    if int(teacher_steps_per_step) < 2:
        raise ValueError(f"`teacher_steps_per_step` must be >= 2, got {teacher_steps_per_step}.")
    student = power_timesteps(scheduler, num_student_steps, power)
    teacher = power_timesteps(scheduler, num_student_steps * teacher_steps_per_step, power)
    if teacher[::teacher_steps_per_step] != student:
        raise ValueError(
            f"The student's timesteps {student} are not every {teacher_steps_per_step}-th of the teacher's "
            f"{teacher}: rounding moved them apart."
        )
    return student, teacher


def teacher_interval(teacher_timesteps: list[int], index: int, teacher_steps_per_step: int) -> list[int]:
    """The teacher's timesteps for student step `index`: its `k` steps from `student[index]`.

    Includes the next student timestep as the last entry (so a scheduler set to these timesteps
    and stepped `k` times ends there); for the last student step it has `k` entries, and the
    `k`-th step ends at the clean map.
    """
    start = index * teacher_steps_per_step
    return list(teacher_timesteps[start : start + teacher_steps_per_step + 1])


def student_positions(teacher_timesteps: list[int], student_timesteps: list[int]) -> list[int]:
    """Where each of a hand-picked student grid's timesteps stands in the teacher's grid.

    For students whose steps are not every `k`-th teacher step, e.g. a short first jump from the
    zero-SNR prior and the fine low-noise end of a power grid: `[995, 814, 420, 124]` on the
    16-step power-1.5 grid.

    Raises:
        ValueError: unless the student grid starts where the teacher's does, decreases strictly and
            has every timestep on the teacher's grid.
    """
    student = [int(t) for t in student_timesteps]
    if not student or student[0] != teacher_timesteps[0]:
        raise ValueError(
            f"The student's timesteps {student} must start at the teacher's first, {teacher_timesteps[0]}."
        )
    missing = [t for t in student if t not in teacher_timesteps]
    if missing or any(a <= b for a, b in zip(student, student[1:], strict=False)):
        raise ValueError(
            f"The student's timesteps {student} must decrease strictly and lie on the teacher's grid "
            f"{teacher_timesteps} (not on it: {missing})."
        )
    return [teacher_timesteps.index(t) for t in student]


def teacher_interval_between(teacher_timesteps: list[int], positions: list[int], index: int) -> list[int]:
    """The teacher's timesteps from student step `index` to the next one (or, for the last, to the end).

    Like [`teacher_interval`] for a hand-picked grid (`positions` from [`student_positions`]): the
    next student timestep is the last entry, except after the last student step, where stepping
    through every entry ends at the clean map.
    """
    start = positions[index]
    stop = positions[index + 1] + 1 if index + 1 < len(positions) else len(teacher_timesteps)
    return list(teacher_timesteps[start:stop])


def ddim_clean_target(
    sample: torch.Tensor,
    next_sample: torch.Tensor,
    alpha: torch.Tensor,
    sigma: torch.Tensor,
    alpha_next: torch.Tensor,
    sigma_next: torch.Tensor,
) -> torch.Tensor:
    r"""The clean estimate `x0` whose DDIM step from `sample` lands exactly on `next_sample`.

    A DDIM step is `x_s = alpha_s x0 + sigma_s (x_t - alpha_t x0) / sigma_t`; solved for `x0`:
    `x0 = (x_s - (sigma_s / sigma_t) x_t) / (alpha_s - (sigma_s / sigma_t) alpha_t)`. The
    denominator is positive whenever `s` has a higher signal-to-noise ratio than `t`.

    Args:
        sample (`torch.Tensor`): `x_t`, any shape.
        next_sample (`torch.Tensor`): `x_s`, where the teacher's steps from `x_t` ended.
        alpha, sigma (`torch.Tensor`): `sqrt(alpha_bar_t)`, `sqrt(1 - alpha_bar_t)`, broadcastable.
        alpha_next, sigma_next (`torch.Tensor`): the same at `s`.

    Returns:
        `torch.Tensor` shaped like `sample`.
    """
    ratio = sigma_next / sigma
    return (next_sample - ratio * sample) / (alpha_next - ratio * alpha)

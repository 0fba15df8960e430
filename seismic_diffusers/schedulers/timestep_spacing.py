"""Custom timestep lists for diffusers schedulers: power spacing, and the checks every list needs."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Sequence

from diffusers.schedulers.scheduling_utils import SchedulerMixin

# Sigma schedules that make diffusers refuse (or ignore) a custom `timesteps` list.
_SIGMA_SCHEDULE_FLAGS = (
    "use_karras_sigmas",
    "use_lu_lambdas",
    "use_exponential_sigmas",
    "use_beta_sigmas",
    "use_flow_sigmas",
)


def supports_custom_timesteps(scheduler: SchedulerMixin) -> bool:
    """Whether `scheduler.set_timesteps` takes a `timesteps=` list: DDPM, DPM-Solver++ and Euler do,
    unless a sigma schedule such as `use_karras_sigmas` is set; DDIM does not."""
    if "timesteps" not in inspect.signature(scheduler.set_timesteps).parameters:
        return False
    return not any(scheduler.config.get(flag, False) for flag in _SIGMA_SCHEDULE_FLAGS)


def check_num_inference_steps(scheduler: SchedulerMixin | None, num_inference_steps) -> int:
    """`num_inference_steps` once it is an integer in `[1, num_train_timesteps]`; else a `ValueError`.

    Call it before `set_timesteps`, which allocates a schedule of that length. Without a
    scheduler (a pipeline whose sampler needs none) the bound is 1000.
    """
    upper = 1000 if scheduler is None else int(scheduler.config.get("num_train_timesteps", 1000))
    if (
        isinstance(num_inference_steps, bool)
        or not isinstance(num_inference_steps, numbers.Integral)
        or not 1 <= num_inference_steps <= upper
    ):
        raise ValueError(
            f"`num_inference_steps` must be an integer from 1 to the scheduler's num_train_timesteps "
            f"({upper}), got {num_inference_steps!r}."
        )
    return int(num_inference_steps)


def check_power(power) -> float:
    """`power` as a float, once it is a number > 0; else a `ValueError`."""
    if not isinstance(power, numbers.Real) or isinstance(power, bool) or not power > 0:
        raise ValueError(f"The timestep spacing power must be a number > 0, got {power!r}.")
    return float(power)


def require_custom_timesteps(scheduler: SchedulerMixin) -> None:
    """Raises a `ValueError` naming the alternatives unless `scheduler` takes custom timesteps."""
    if not supports_custom_timesteps(scheduler):
        raise ValueError(
            f"{type(scheduler).__name__} does not take custom timesteps; use the default spacing, or a "
            "scheduler whose `set_timesteps` has a `timesteps` argument (DDPM, DPM-Solver++, Euler) and "
            "no Karras, Lu, exponential, beta or flow sigma schedule."
        )


def check_timesteps(scheduler: SchedulerMixin, timesteps: Sequence[int]) -> list[int]:
    """`timesteps` as a list of ints, once it is known to suit `scheduler`.

    Raises:
        ValueError: if the scheduler takes no custom timesteps, or the list is empty, not strictly
            decreasing, or leaves `[0, num_train_timesteps)`.
    """
    require_custom_timesteps(scheduler)
    values = timesteps.tolist() if hasattr(timesteps, "tolist") else list(timesteps)
    # numpy and torch integers, and whole-number floats (Euler's own timesteps), are integers too
    if not values or not all(
        not isinstance(t, bool)
        and (isinstance(t, numbers.Integral) or (isinstance(t, float) and t.is_integer()))
        for t in values
    ):
        raise ValueError(f"`timesteps` must be a non-empty list of integers, got {timesteps!r}.")
    values = [int(t) for t in values]
    upper = scheduler.config.num_train_timesteps
    decreasing = all(later < earlier for earlier, later in zip(values, values[1:], strict=False))
    if not decreasing or not 0 <= values[-1] <= values[0] < upper:
        raise ValueError(
            f"`timesteps` must decrease strictly within [0, {upper - 1}] (num_train_timesteps={upper}), "
            f"got {values}."
        )
    return values


def power_timesteps(
    scheduler: SchedulerMixin, num_inference_steps: int, power: float, strength: float = 1.0
) -> list[int]:
    r"""Timesteps `t_i = t_0 (1 - i / n)^power`, `i = 0 .. n - 1`, for `n = num_inference_steps`.

    `t_0` is `strength` times the first timestep of the scheduler's own spacing, so settings such
    as DPM-Solver++'s `lambda_min_clipped` still decide where sampling starts; a `strength` below 1
    starts part-way down, from a noised map (SDEdit, image-to-image). `power = 1` spaces the steps evenly
    in t like DPM-Solver++'s `"linspace"` (but ending at about `t_0 / n`, where DDPM's own spacing
    ends at 0); a larger power spends more of them at low noise, where the fine detail (here:
    sharp layer interfaces) is drawn. Rounding collisions are pushed apart one timestep at a
    time, so the list always decreases strictly from `t_0` and ends at t >= 0.

    Args:
        scheduler (`SchedulerMixin`): Any diffusers scheduler; its `set_timesteps` is called once.
        num_inference_steps (`int`): Number of steps, at most `t_0 + 1`.
        power (`float`): Spacing exponent, > 0.
        strength (`float`, defaults to 1.0): Fraction of the scheduler's first timestep to start
            at, in (0, 1].

    Returns:
        `list[int]` of length `num_inference_steps`, strictly decreasing, starting at `t_0`.

    Raises:
        ValueError: for `power <= 0`, a `strength` outside (0, 1], or more steps than timesteps
            from `t_0` down to 0.
    """
    power = check_power(power)
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= 1:
        raise ValueError(f"`strength` must be a number in (0, 1], got {strength!r}.")
    num_inference_steps = check_num_inference_steps(scheduler, num_inference_steps)
    scheduler.set_timesteps(num_inference_steps)
    first = round(int(scheduler.timesteps[0]) * strength)
    if num_inference_steps > first + 1:
        raise ValueError(
            f"{num_inference_steps} steps do not fit between timestep {first} and 0 with distinct timesteps."
        )
    spaced = [round(first * (1 - i / num_inference_steps) ** power) for i in range(num_inference_steps)]
    for i in range(num_inference_steps - 2, -1, -1):  # the low end may round to repeats
        spaced[i] = max(spaced[i], spaced[i + 1] + 1)
    spaced[0] = first
    for i in range(1, num_inference_steps):  # powers < 1 may round to repeats at the top
        spaced[i] = min(spaced[i], spaced[i - 1] - 1)
    return spaced

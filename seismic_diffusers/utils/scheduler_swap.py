"""Swap a pipeline's sampler by name, shared by the CLI and the Gradio Space."""

from __future__ import annotations

from collections.abc import Mapping

SCHEDULERS = ("dpmsolver++", "ddim", "ddpm")


def scheduler_from_name(config: Mapping, name: str):
    """A new diffusers scheduler named `name`, built from another scheduler's `config`.

    The training-time settings in `config` (`num_train_timesteps`, `beta_schedule`,
    `prediction_type`, ...) are kept, so the result samples the same trained model. A new object is
    returned each call: the pipeline's own scheduler is left untouched.

    Args:
        config (`Mapping`): A scheduler config, e.g. `pipe.scheduler.config`.
        name (`str`): One of `SCHEDULERS`: `"dpmsolver++"` (deterministic DPM-Solver++), `"ddim"` or
            `"ddpm"`.

    Returns:
        `SchedulerMixin`: `DPMSolverMultistepScheduler`, `DDIMScheduler` or `DDPMScheduler`.

    Raises:
        ValueError: for a name not in `SCHEDULERS`.
    """
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

    config = {key: value for key, value in config.items() if key != "algorithm_type"}
    if name == "dpmsolver++":
        return DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++")
    if name == "ddim":
        return DDIMScheduler.from_config(config)
    if name == "ddpm":
        return DDPMScheduler.from_config(config)
    raise ValueError(f"Unknown scheduler {name!r}. Valid choices: {', '.join(SCHEDULERS)}.")

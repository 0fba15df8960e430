"""Sampling math outside the pipelines: cold diffusion, timestep spacing, clean estimates, step distillation."""

from .scheduling_cold_diffusion import ColdDiffusionScheduler, ColdDiffusionSchedulerOutput
from .timestep_spacing import check_timesteps, power_timesteps, supports_custom_timesteps

__all__ = [
    "ColdDiffusionScheduler",
    "ColdDiffusionSchedulerOutput",
    "check_timesteps",
    "power_timesteps",
    "supports_custom_timesteps",
]

from .scheduling_cold_diffusion import ColdDiffusionScheduler, ColdDiffusionSchedulerOutput

__all__ = ["ColdDiffusionScheduler", "ColdDiffusionSchedulerOutput"]

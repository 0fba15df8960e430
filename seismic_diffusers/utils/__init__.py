from .machine import machine_info
from .plotting import plot_velocity_grid
from .scheduler_swap import SCHEDULERS, scheduler_from_name

__all__ = ["SCHEDULERS", "machine_info", "plot_velocity_grid", "scheduler_from_name"]

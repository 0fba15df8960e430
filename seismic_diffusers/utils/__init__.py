"""Helpers grouped by who uses them (see each module's first line); the few exported here serve the CLI and Space."""

from .machine import machine_info
from .plotting import plot_velocity_grid
from .scheduler_swap import SCHEDULERS, scheduler_from_name

__all__ = ["SCHEDULERS", "machine_info", "plot_velocity_grid", "scheduler_from_name"]

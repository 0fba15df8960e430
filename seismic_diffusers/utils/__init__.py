from .machine import machine_info
from .plotting import plot_velocity_grid

__all__ = ["machine_info", "plot_velocity_grid"]

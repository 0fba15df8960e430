from .plotting import plot_velocity_grid

__all__ = ["plot_velocity_grid"]

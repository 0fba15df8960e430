"""Figures people would rather look at than read: labelled velocity grids in physical units."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np


def plot_velocity_grid(
    velocities: np.ndarray,
    path: str | os.PathLike,
    titles: Sequence[str] | None = None,
    grid_spacing: float = 10.0,
    v_min: float = 1500.0,
    v_max: float = 4500.0,
    ncols: int | None = None,
    cmap: str = "viridis",
    suptitle: str | None = None,
) -> str:
    """Save a grid of velocity maps with axes in metres and one shared colour bar in m/s.

    Args:
        velocities (`np.ndarray` of shape `(B, nz, nx)`): Velocity in m/s.
        path: Output image path (PNG recommended).
        titles (`Sequence[str]`, *optional*): One title per map.
        grid_spacing (`float`, *optional*, defaults to 10.0): Cell size in m.
        v_min, v_max (`float`): Colour range in m/s.
        ncols (`int`, *optional*): Columns; defaults to about sqrt(B).
        cmap (`str`): Matplotlib colour map.
        suptitle (`str`, *optional*): Figure title.

    Returns:
        `str`: the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    velocities = np.asarray(velocities)
    if velocities.ndim != 3:
        raise ValueError(f"`velocities` must have shape (B, nz, nx), got {velocities.shape}.")
    count, nz, nx = velocities.shape
    ncols = ncols or math.ceil(math.sqrt(count))
    nrows = math.ceil(count / ncols)
    extent = (0.0, nx * grid_spacing, nz * grid_spacing, 0.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols + 1.2, 2.3 * nrows + 0.4), squeeze=False)
    image = None
    for index, ax in enumerate(axes.flat):
        if index >= count:
            ax.axis("off")
            continue
        image = ax.imshow(velocities[index], cmap=cmap, vmin=v_min, vmax=v_max, extent=extent, aspect="equal")
        if titles is not None:
            ax.set_title(titles[index], fontsize=8)
        row, col = divmod(index, ncols)
        ax.tick_params(labelsize=6)
        if col == 0:
            ax.set_ylabel("depth (m)", fontsize=7)
        else:
            ax.set_yticklabels([])
        if row == nrows - 1 or index + ncols >= count:
            ax.set_xlabel("x (m)", fontsize=7)
        else:
            ax.set_xticklabels([])
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    if image is not None:
        cax = fig.add_axes((0.92, 0.15, 0.02, 0.7))
        fig.colorbar(image, cax=cax).set_label("velocity (m/s)", fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return str(path)

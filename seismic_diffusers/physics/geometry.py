"""Acquisition geometry: grid, time axis, source wavelet, source and receiver positions."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.schedulers.scheduling_utils import SchedulerMixin

# Largest stable Courant number `v dt sqrt(1/dz^2 + 1/dx^2)` of the leapfrog scheme with the
# 4th-order Laplacian. The 1-D stencil's largest eigenvalue is (16/3)/dx^2, and leapfrog needs
# v^2 dt^2 * lambda_max <= 4, which gives sqrt(3)/2 on a square grid.
CRITICAL_COURANT_NUMBER = math.sqrt(3.0) / 2.0
# Cells per wavelength the 4th-order stencil needs to keep numerical dispersion small, counted at
# twice the Ricker's peak frequency (where its spectrum is still 20 % of its peak).
MIN_CELLS_PER_WAVELENGTH = 4


def ricker_wavelet(peak_frequency: float, dt: float, nt: int, length: int, peak_sample: int) -> np.ndarray:
    r"""
    OpenFWI's Ricker wavelet: `(1 - 2 a^2) exp(-a^2)`, `a = pi f (k - peak_sample) dt`, for
    `k < length`, and zero after.

    Returns:
        `np.ndarray` of shape `(nt,)`, float32, peak value 1 at `peak_sample`.
    """
    k = np.arange(min(length, nt), dtype=np.float64)
    a2 = (math.pi * peak_frequency * (k - peak_sample) * dt) ** 2
    wavelet = np.zeros(nt, dtype=np.float32)
    wavelet[: len(k)] = (1.0 - 2.0 * a2) * np.exp(-a2)
    return wavelet


def _check_index(name: str, values: Sequence[int], size: int, axis: str) -> None:
    bad = [int(v) for v in values if not 0 <= int(v) < size]
    if bad:
        raise ValueError(
            f"{name} {bad} lie outside the grid: {axis} indices must be in [0, {size - 1}] "
            f"for a grid of {size} cells along {axis}."
        )


class AcquisitionGeometry(ConfigMixin, SchedulerMixin):
    r"""
    Where and how a 2-D acoustic survey is recorded. The `OPENFWI` preset is OpenFWI's.

    Saved with a pipeline as `geometry/geometry_config.json` (`SchedulerMixin` is inherited only so
    `DiffusionPipeline` knows how to save and load it), or on its own with `save_config`.

    Index convention: velocity arrays are `(nz, nx)` with row 0 at the surface; positions are
    grid indices `(z, x)`.

    Args:
        grid_shape (`tuple[int, int]`, defaults to `(70, 70)`): Model size `(nz, nx)` in cells.
        grid_spacing (`float`, defaults to 10.0): Cell size in m (square cells).
        dt (`float`, defaults to 0.001): Time step and output sample interval, s.
        nt (`int`, defaults to 1000): Number of time samples.
        peak_frequency (`float`, defaults to 15.0): Ricker peak frequency, Hz.
        wavelet_length (`int`, *optional*): Ricker length in samples. Default: OpenFWI's
            `2 floor(1.1 / (f dt)) + 1` (147 at 15 Hz and 1 ms).
        wavelet_peak (`int`, *optional*): Sample of the Ricker peak. Default: `wavelet_length // 2`
            (73).
        source_x (`list[int]`, defaults to `[0, 17, 34, 52, 69]`): Source x indices, one shot each.
        source_z (`int`, defaults to 1): Source depth index (10 m).
        receiver_x (`list[int]`, *optional*): Receiver x indices. Default: every column.
        receiver_z (`int`, defaults to 1): Receiver depth index.
        max_velocity (`float`, defaults to 4500.0): Largest velocity (m/s) a model may hold. It
            fixes the absorbing boundary and the stability check, so a map's data never depend on
            which other maps share its batch. It must satisfy the CFL limit
            `v dt sqrt(2) / dx <= sqrt(3)/2`.
        pml_width (`int`, defaults to 20): deepwave's PML width in cells.
        sponge_width (`int`, defaults to 120): The reference scheme's damping sponge in cells
            (OpenFWI's `nbc`).
    """

    config_name = "geometry_config.json"

    @register_to_config
    def __init__(
        self,
        grid_shape: Sequence[int] = (70, 70),
        grid_spacing: float = 10.0,
        dt: float = 1e-3,
        nt: int = 1000,
        peak_frequency: float = 15.0,
        wavelet_length: int | None = None,
        wavelet_peak: int | None = None,
        source_x: Sequence[int] = (0, 17, 34, 52, 69),
        source_z: int = 1,
        receiver_x: Sequence[int] | None = None,
        receiver_z: int = 1,
        max_velocity: float = 4500.0,
        pml_width: int = 20,
        sponge_width: int = 120,
    ):
        if len(grid_shape) != 2 or min(int(n) for n in grid_shape) < 5:
            raise ValueError(f"`grid_shape` must be (nz, nx) with at least 5 cells each, got {grid_shape}.")
        for name, value in (("grid_spacing", grid_spacing), ("dt", dt), ("peak_frequency", peak_frequency)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"`{name}` must be a positive number, got {value}.")
        if int(nt) < 1:
            raise ValueError(f"`nt` must be >= 1, got {nt}.")
        if not len(source_x):
            raise ValueError("`source_x` must list at least one source.")
        nz, nx = (int(n) for n in grid_shape)
        _check_index("Source x positions", source_x, nx, "x")
        _check_index("Source depth", [source_z], nz, "z")
        _check_index("Receiver x positions", receiver_x if receiver_x is not None else [], nx, "x")
        _check_index("Receiver depth", [receiver_z], nz, "z")
        if receiver_x is not None and not len(receiver_x):
            raise ValueError("`receiver_x` must list at least one receiver (or be None for every column).")
        if min(int(pml_width), int(sponge_width)) < 2:
            raise ValueError(
                f"`pml_width` and `sponge_width` must be >= 2 cells, got {pml_width}, {sponge_width}."
            )
        if self.wavelet_peak >= self.wavelet_length:
            raise ValueError(
                f"`wavelet_peak` ({self.wavelet_peak}) must be < `wavelet_length` ({self.wavelet_length})."
            )
        if not (math.isfinite(max_velocity) and max_velocity > 0):
            raise ValueError(f"`max_velocity` must be a positive number (m/s), got {max_velocity}.")
        if max_velocity < self.min_velocity:
            raise ValueError(
                f"max_velocity {max_velocity:g} m/s is below the slowest velocity this grid resolves, "
                f"{self.min_velocity:.0f} m/s (see `min_velocity`): no map could be modelled."
            )
        if max_velocity > self.stable_velocity_limit:
            raise ValueError(
                f"CFL violation: max_velocity {max_velocity:g} m/s is above the stability limit "
                f"{self.stable_velocity_limit:.0f} m/s of dt={dt:g} s on a {grid_spacing:g} m grid "
                f"(v dt sqrt(2)/dx must be <= {CRITICAL_COURANT_NUMBER:.3f}). Use a smaller dt."
            )

    # -- derived quantities ----------------------------------------------------------------------

    @property
    def wavelet_length(self) -> int:
        if self.config.wavelet_length is not None:
            return int(self.config.wavelet_length)
        return 2 * math.floor(1.1 / (self.config.peak_frequency * self.config.dt)) + 1

    @property
    def wavelet_peak(self) -> int:
        return (
            int(self.config.wavelet_peak)
            if self.config.wavelet_peak is not None
            else self.wavelet_length // 2
        )

    @property
    def grid_shape(self) -> tuple[int, int]:
        return tuple(int(n) for n in self.config.grid_shape)

    @property
    def n_sources(self) -> int:
        return len(self.config.source_x)

    @property
    def receiver_x(self) -> list[int]:
        if self.config.receiver_x is None:
            return list(range(self.grid_shape[1]))
        return [int(x) for x in self.config.receiver_x]

    @property
    def n_receivers(self) -> int:
        return len(self.receiver_x)

    @property
    def data_shape(self) -> tuple[int, int, int]:
        """Shape of one sample's seismic data: `(n_sources, nt, n_receivers)`."""
        return (self.n_sources, int(self.config.nt), self.n_receivers)

    @property
    def stable_velocity_limit(self) -> float:
        """Largest velocity (m/s) the 4th-order leapfrog scheme is stable for at this dt and dx."""
        return CRITICAL_COURANT_NUMBER * self.config.grid_spacing / (self.config.dt * math.sqrt(2.0))

    @property
    def min_velocity(self) -> float:
        """Slowest velocity (m/s) the grid resolves: `MIN_CELLS_PER_WAVELENGTH` cells per wavelength at
        twice the peak frequency (1200 m/s for OpenFWI's 10 m grid and 15 Hz)."""
        return MIN_CELLS_PER_WAVELENGTH * self.config.grid_spacing * 2.0 * self.config.peak_frequency

    @property
    def courant_number(self) -> float:
        """`max_velocity dt sqrt(2) / dx`, the Courant number at the fastest allowed velocity."""
        return self.config.max_velocity * self.config.dt * math.sqrt(2.0) / self.config.grid_spacing

    def source_locations(self) -> np.ndarray:
        """`(n_sources, 2)` int64 `(z, x)` grid indices."""
        x = np.asarray(self.config.source_x, dtype=np.int64)
        return np.stack([np.full_like(x, int(self.config.source_z)), x], axis=-1)

    def receiver_locations(self) -> np.ndarray:
        """`(n_receivers, 2)` int64 `(z, x)` grid indices."""
        x = np.asarray(self.receiver_x, dtype=np.int64)
        return np.stack([np.full_like(x, int(self.config.receiver_z)), x], axis=-1)

    def wavelet(self) -> np.ndarray:
        """The source wavelet, `(nt,)` float32 (see `ricker_wavelet`)."""
        return ricker_wavelet(
            self.config.peak_frequency,
            self.config.dt,
            int(self.config.nt),
            self.wavelet_length,
            self.wavelet_peak,
        )

    def times(self) -> np.ndarray:
        """Sample times in s, `(nt,)`."""
        return np.arange(int(self.config.nt)) * self.config.dt


OPENFWI = AcquisitionGeometry()
"""OpenFWI's acquisition: 70 x 70 cells of 10 m, dt 1 ms, 1000 samples, 15 Hz Ricker of 147
samples peaking at sample 73, 5 sources at x = [0, 17, 34, 52, 69] and 70 receivers, all at depth
index 1."""

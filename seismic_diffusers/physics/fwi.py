"""Full-waveform inversion through deepwave: the gather misfit and Adam on the velocity map."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
import torch
from tqdm.auto import tqdm

from ..utils.validation import check_real_numbers
from .forward import check_velocity, forward_model
from .geometry import OPENFWI, AcquisitionGeometry


@dataclass
class FWIResult:
    """
    Args:
        velocity (`torch.Tensor` of shape `(B, nz, nx)`): The inverted maps, m/s, float32.
        misfit_history (`torch.Tensor` of shape `(iterations + 1, B)`): `gather_misfit` of each map
            before every iteration and after the last.
    """

    velocity: torch.Tensor
    misfit_history: torch.Tensor


def check_gathers(
    seismic: np.ndarray | torch.Tensor,
    geometry: AcquisitionGeometry = OPENFWI,
    trace_mask: np.ndarray | torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""
    Validate shot gathers for `geometry` and return them with a trace mask, both `(B, S, nt, R)`-ready.

    Args:
        seismic: `(S, nt, R)` or `(B, S, nt, R)` gathers (`geometry.data_shape` per sample), OpenFWI
            amplitude.
        trace_mask: Which traces to trust, `(S, R)` or `(B, S, R)`, boolean or 0/1 (0 = dead or
            missing: left out of the misfit). Default: every trace.

    Returns:
        `(seismic (B, S, nt, R) float32, mask (B, S, 1, R) float32)`.

    Raises:
        ValueError: For a wrong shape, NaN or Inf, an empty batch, a mask of another shape or with
            values other than 0 and 1, or a mask (or data) that leaves no trace with signal.
    """
    data = check_real_numbers(seismic, "seismic").float()
    if data.ndim == 3:
        data = data[None]
    expected = tuple(geometry.data_shape)
    if data.ndim != 4 or tuple(data.shape[1:]) != expected or data.shape[0] == 0:
        raise ValueError(
            f"seismic must have shape {expected} or (B, {', '.join(map(str, expected))}) for this geometry "
            f"(shots, time samples, receivers), with B >= 1; got {tuple(np.shape(seismic))}."
        )
    if not bool(torch.isfinite(data).all()):
        raise ValueError("seismic contains NaN or Inf samples.")
    shots, _, receivers = expected
    if trace_mask is None:
        mask = torch.ones(data.shape[0], shots, receivers)
    else:
        # booleans are a natural mask; check_real_numbers refuses them
        if np.asarray(trace_mask).dtype == bool:
            trace_mask = np.asarray(trace_mask, dtype=np.float32)
        mask = check_real_numbers(trace_mask, "trace_mask").float()
        if mask.ndim == 2:
            mask = mask[None].expand(data.shape[0], -1, -1)
        if tuple(mask.shape) != (data.shape[0], shots, receivers):
            raise ValueError(
                f"trace_mask must have shape ({shots}, {receivers}) or ({data.shape[0]}, {shots}, {receivers}) "
                f"(shots, receivers); got {tuple(np.shape(trace_mask))}."
            )
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("trace_mask must hold only 0 (dead or missing trace) and 1 (use it).")
    energy = (data.pow(2).sum(dim=2) * mask).sum(dim=(1, 2))
    if not bool((energy > 0).all()):
        raise ValueError("A gather has no signal on the traces the mask keeps: there is nothing to fit.")
    return data, mask[:, :, None, :].contiguous()


def gather_misfit(
    velocity: torch.Tensor,
    seismic: torch.Tensor,
    mask: torch.Tensor,
    geometry: AcquisitionGeometry = OPENFWI,
) -> torch.Tensor:
    r"""
    Relative L2 misfit `sum(m (F(v) - d)^2) / sum(m d^2)` per map, differentiable in `velocity`.

    Args:
        velocity (`torch.Tensor` of shape `(B, nz, nx)`): m/s; may require grad.
        seismic, mask: As returned by [`check_gathers`].

    Returns:
        `torch.Tensor` of shape `(B,)`: 0 is a perfect fit, 1 the misfit of predicting silence.
    """
    residual = (forward_model(velocity, geometry) - seismic) * mask
    return residual.pow(2).sum(dim=(1, 2, 3)) / (seismic * mask).pow(2).sum(dim=(1, 2, 3))


def full_waveform_inversion(
    start: np.ndarray | torch.Tensor,
    seismic: np.ndarray | torch.Tensor,
    geometry: AcquisitionGeometry = OPENFWI,
    iterations: int = 20,
    learning_rate: float = 20.0,
    trace_mask: np.ndarray | torch.Tensor | None = None,
    velocity_range: tuple[float, float] | None = None,
    progress: bool = False,
    maps_per_simulation: int = 4,
) -> FWIResult:
    r"""
    Plain FWI: Adam on each velocity map, minimising [`gather_misfit`] through deepwave's adjoint.

    Each iteration costs one forward and one adjoint simulation per map (about 0.8 s for an OpenFWI
    gather on one CPU thread); maps are independent (their misfits are summed, so each gets its own
    gradient). After every step the maps are clamped to `velocity_range`. Deepwave's adjoint keeps
    every simulated map's wavefields (about 0.14 GB for an OpenFWI gather), so the maps go through it
    `maps_per_simulation` at a time: memory stays bounded whatever the batch, and as Adam works cell
    by cell the result is that of one batch.

    Args:
        start: Starting maps, m/s, `(nz, nx)`, `(B, nz, nx)` or `(B, 1, nz, nx)`; one map is used for
            every gather.
        seismic: Observed gathers, `(S, nt, R)` or `(B, S, nt, R)` (see [`check_gathers`]).
        geometry: The acquisition the gathers were recorded with.
        iterations: Adam steps (>= 0).
        learning_rate: Adam's step size in m/s (> 0): about how far a cell moves per iteration.
        trace_mask: `(S, R)` or `(B, S, R)`; 0 marks dead or missing traces.
        velocity_range: `(low, high)` m/s the maps are kept in. Default: what `geometry` can simulate
            (`geometry.min_velocity` to `geometry.config.max_velocity`).
        progress: Show a progress bar over iterations.
        maps_per_simulation: Maps per deepwave call (>= 1); on a CPU larger calls are no faster.

    Returns:
        [`FWIResult`]: the maps and the misfit before each iteration and after the last.

    Raises:
        ValueError: For bad gathers or mask (see [`check_gathers`]), a start map `check_velocity`
            refuses, a batch size that differs from the gathers', a negative or non-integer
            `iterations`, a `learning_rate` that is not a positive number, a `velocity_range`
            outside what the geometry simulates, or a `maps_per_simulation` that is not an integer >= 1.
    """
    data, mask = check_gathers(seismic, geometry, trace_mask)
    velocity = check_velocity(start.detach() if isinstance(start, torch.Tensor) else start, geometry).float()
    if velocity.shape[0] == 1 and data.shape[0] > 1:
        velocity = velocity.expand(data.shape[0], -1, -1)
    if velocity.shape[0] != data.shape[0]:
        raise ValueError(
            f"Got {velocity.shape[0]} starting maps for {data.shape[0]} gathers; pass one, or one each."
        )
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"`iterations` must be an integer >= 0, got {iterations!r}.")
    if (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, Real)
        or not math.isfinite(learning_rate)
        or learning_rate <= 0
    ):
        raise ValueError(f"`learning_rate` must be a positive number of m/s, got {learning_rate!r}.")
    if (
        isinstance(maps_per_simulation, bool)
        or not isinstance(maps_per_simulation, int)
        or maps_per_simulation < 1
    ):
        raise ValueError(f"`maps_per_simulation` must be an integer >= 1, got {maps_per_simulation!r}.")
    low, high = geometry.min_velocity, float(geometry.config.max_velocity)
    if velocity_range is not None:
        if not (low <= velocity_range[0] < velocity_range[1] <= high):
            raise ValueError(
                f"`velocity_range` {tuple(velocity_range)} must be increasing and within what this geometry "
                f"simulates, [{low:g}, {high:g}] m/s."
            )
        low, high = (float(v) for v in velocity_range)
    velocity = velocity.clamp(low, high).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([velocity], lr=float(learning_rate))
    parts = [slice(i, i + maps_per_simulation) for i in range(0, velocity.shape[0], maps_per_simulation)]
    history = []
    for _ in tqdm(range(iterations), desc="FWI", disable=not progress):
        optimizer.zero_grad()
        misfits = []
        for part in parts:
            misfit = gather_misfit(velocity[part], data[part], mask[part], geometry)
            misfit.sum().backward()
            misfits.append(misfit.detach())
        optimizer.step()
        with torch.no_grad():
            velocity.clamp_(low, high)
        history.append(torch.cat(misfits))
    with torch.no_grad():
        history.append(torch.cat([gather_misfit(velocity[p], data[p], mask[p], geometry) for p in parts]))
    return FWIResult(velocity=velocity.detach(), misfit_history=torch.stack(history))

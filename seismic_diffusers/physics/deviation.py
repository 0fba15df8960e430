"""How far a (velocity, seismic) pair is from satisfying the acoustic wave equation."""

from __future__ import annotations

import numpy as np
import torch

from .forward import forward_model
from .geometry import OPENFWI, AcquisitionGeometry
from .normalization import normalize_seismic


def pde_deviation(
    velocity: np.ndarray | torch.Tensor,
    seismic: np.ndarray | torch.Tensor,
    geometry: AcquisitionGeometry = OPENFWI,
    family: str | None = None,
    backend: str = "deepwave",
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    simulated: np.ndarray | torch.Tensor | None = None,
) -> np.ndarray | torch.Tensor:
    r"""
    Deviation from the PDE, one number per pair, as in WaveDiffusion (Figure 5).

    Definition: forward-model `velocity` with `forward_model` to get the seismic data that truly
    solve the wave equation for it, map both that and the given `seismic` to OpenFWI's normalised
    space with `normalize_seismic(., family)`, and take the mean squared difference over shots,
    time samples and receivers:

        deviation_b = mean_{s,t,r} (N(seismic_b) - N(F(velocity_b)))^2

    This is the "L2 distance" whose scale the paper reports (about 0.0016 for reconstructed
    training pairs, 0.012 for decoded pure-noise latents). 0 means the pair is an exact solution
    of the discrete scheme.

    Args:
        velocity: `(nz, nx)`, `(B, nz, nx)` or `(B, 1, nz, nx)` in m/s.
        seismic: `(n_sources, nt, n_receivers)` or `(B, n_sources, nt, n_receivers)`, raw OpenFWI
            amplitude (not normalised).
        geometry: The acquisition both were recorded with.
        family: Family whose OpenFWI data limits normalise the data; `None` uses pooled limits.
        backend, device, batch_size: Passed to `forward_model`.
        simulated: `forward_model(velocity, geometry)` when the caller already has it (e.g. to
            show it); it is used instead of modelling the velocity again.

    Returns:
        `(B,)` float32: numpy for numpy `seismic`, else a tensor on `seismic`'s device.

    Raises:
        ValueError: If the shapes do not match the geometry or each other, if `seismic` holds NaN
            or Inf, or if `forward_model` rejects the velocity.
    """
    data = torch.as_tensor(seismic) if not isinstance(seismic, torch.Tensor) else seismic.detach()
    expected = geometry.data_shape
    if data.ndim == 3:
        data = data[None]
    if data.ndim != 4 or tuple(data.shape[1:]) != expected:
        raise ValueError(
            f"seismic must have shape {expected} or (B, {', '.join(map(str, expected))}) for this "
            f"geometry, got {tuple(np.shape(seismic))}."
        )
    if not bool(torch.isfinite(data).all()):
        raise ValueError("seismic contains NaN or Inf.")
    if simulated is None:
        simulated = forward_model(
            velocity if isinstance(velocity, torch.Tensor) else torch.as_tensor(np.asarray(velocity)),
            geometry,
            backend=backend,
            device=device,
            batch_size=batch_size,
        )
    else:
        simulated = (
            torch.as_tensor(np.asarray(simulated)) if not isinstance(simulated, torch.Tensor) else simulated
        )
        if tuple(simulated.shape[1:]) != expected:
            raise ValueError(
                f"simulated must have shape (B, {', '.join(map(str, expected))}), got {tuple(simulated.shape)}."
            )
    if simulated.shape[0] != data.shape[0]:
        raise ValueError(
            f"velocity holds {simulated.shape[0]} maps but seismic holds {data.shape[0]} samples; "
            "they must pair one to one."
        )
    data = data.float().to(simulated.device)
    difference = normalize_seismic(data, family) - normalize_seismic(simulated, family)
    deviation = difference.pow(2).mean(dim=(1, 2, 3))
    if isinstance(seismic, torch.Tensor):
        return deviation.to(seismic.device)
    return deviation.cpu().numpy().astype(np.float32)

"""Acoustic forward modelling of velocity maps into OpenFWI-convention shot gathers."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..utils.validation import check_real_numbers
from .geometry import CRITICAL_COURANT_NUMBER, MIN_CELLS_PER_WAVELENGTH, OPENFWI, AcquisitionGeometry

BACKENDS = ("deepwave", "reference")
_DEFAULT_BATCH_SIZE = {"deepwave": 32, "reference": 8}
# deepwave's pressure comes out with the opposite sign to OpenFWI's and one sample later: it
# records the field before the step that OpenFWI's scheme records after. Measured on a
# homogeneous 3000 m/s model: -deepwave[t + 1] matches the reference within 0.2 % relative L2 and
# a fitted scale of 1.0002, so no amplitude factor is applied.
_DEEPWAVE_POLARITY = -1.0
_DEEPWAVE_LAG = 1


def check_velocity(velocity: np.ndarray | torch.Tensor, geometry: AcquisitionGeometry) -> torch.Tensor:
    r"""
    Validate velocity maps for `geometry` and return them as a `(B, nz, nx)` float tensor.

    Accepts `(nz, nx)`, `(B, nz, nx)` or OpenFWI's `(B, 1, nz, nx)`, numpy or torch, in m/s.

    Raises:
        ValueError: On complex or boolean values, a wrong rank or shape, NaN or Inf, a value below
            `geometry.min_velocity` (numerical dispersion), or a value above
            `geometry.config.max_velocity` (the CFL and absorbing-boundary limit).
    """
    tensor = check_real_numbers(velocity, "velocity")
    shape = tuple(tensor.shape)
    if tensor.ndim == 4 and shape[1] == 1:
        tensor = tensor[:, 0]
    elif tensor.ndim == 2:
        tensor = tensor[None]
    if tensor.ndim != 3 or tuple(tensor.shape[-2:]) != geometry.grid_shape:
        nz, nx = geometry.grid_shape
        raise ValueError(
            f"velocity must have shape ({nz}, {nx}), (B, {nz}, {nx}) or (B, 1, {nz}, {nx}) for this "
            f"geometry, got {shape}."
        )
    if tensor.shape[0] == 0:
        raise ValueError("velocity holds no maps (batch size 0).")
    if not tensor.is_floating_point():
        tensor = tensor.float()
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError("velocity contains NaN or Inf; every cell needs a finite velocity in m/s.")
    low, high = float(tensor.min()), float(tensor.max())
    if low < geometry.min_velocity:
        raise ValueError(
            f"velocity drops to {low:g} m/s, below this geometry's {geometry.min_velocity:.0f} m/s: slower "
            f"waves are shorter than {MIN_CELLS_PER_WAVELENGTH} cells of {geometry.config.grid_spacing:g} m at "
            f"{2 * geometry.config.peak_frequency:g} Hz (twice the peak frequency), and the finite differences "
            "disperse them. Use a finer grid or a lower peak_frequency."
        )
    limit = float(geometry.config.max_velocity)
    if high > limit:
        raise ValueError(
            f"velocity reaches {high:.1f} m/s, above this geometry's max_velocity {limit:g} m/s. "
            f"The scheme is stable up to {geometry.stable_velocity_limit:.0f} m/s at dt="
            f"{geometry.config.dt:g} s; pass an AcquisitionGeometry(max_velocity=...) at most that, "
            "or a smaller dt."
        )
    return tensor


def _resolve_device(device: str | torch.device | None, velocity: np.ndarray | torch.Tensor) -> torch.device:
    if device is not None:
        return torch.device(device)
    if isinstance(velocity, torch.Tensor) and velocity.device.type != "cpu":
        return velocity.device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _deepwave_chunk(velocity: torch.Tensor, geometry: AcquisitionGeometry) -> torch.Tensor:
    """`(b, nz, nx)` m/s -> `(b, S, nt, R)` with deepwave.scalar, in OpenFWI's convention."""
    import deepwave

    batch, n_src, n_rec = velocity.shape[0], geometry.n_sources, geometry.n_receivers
    device = velocity.device
    config = geometry.config
    # One deepwave "shot" per (map, source): batched models let every map carry its own velocity.
    models = velocity.float().repeat_interleave(n_src, dim=0)
    sources = torch.as_tensor(geometry.source_locations(), device=device)[:, None].repeat(batch, 1, 1)
    receivers = torch.as_tensor(geometry.receiver_locations(), device=device)[None].expand(
        batch * n_src, -1, -1
    )
    wavelet = torch.zeros(int(config.nt) + _DEEPWAVE_LAG, device=device)
    wavelet[: int(config.nt)] = torch.as_tensor(geometry.wavelet(), device=device)
    out = deepwave.scalar(
        models,
        config.grid_spacing,
        config.dt,
        source_amplitudes=wavelet.expand(batch * n_src, 1, -1).contiguous(),
        source_locations=sources.contiguous(),
        receiver_locations=receivers.contiguous(),
        accuracy=4,
        pml_width=int(config.pml_width),
        pml_freq=float(config.peak_frequency),
        max_vel=float(config.max_velocity),
        # At least the Courant number of max_velocity, so deepwave never sub-steps dt.
        courant_number=min(max(geometry.courant_number * (1 + 1e-6), 0.6), CRITICAL_COURANT_NUMBER),
    )
    traces = out[-1][..., _DEEPWAVE_LAG:] * _DEEPWAVE_POLARITY  # (b*S, R, nt)
    return traces.reshape(batch, n_src, n_rec, -1).transpose(2, 3)


def _sponge(padded: torch.Tensor, width: int, dx: float) -> torch.Tensor:
    """OpenFWI's quadratic damping (1/s), `(b, nz + 2w, nx + 2w)`, zero in the interior.

    `d(i) = kappa (i dx / a)^2` for the i-th sponge cell counted outwards, `a = (w - 1) dx` and
    `kappa = 3 v_min ln(1e7) / (2 a)` with the map's smallest velocity. Corner cells take the
    x-direction profile, as in the CSIM code OpenFWI used.
    """
    batch, nzp, nxp = padded.shape
    a = (width - 1) * dx
    kappa = 3.0 * padded.amin(dim=(1, 2)) * math.log(1e7) / (2.0 * a)  # (b,)
    ramp = (torch.arange(width, dtype=padded.dtype, device=padded.device) * dx / a) ** 2
    profile_z = torch.zeros(nzp, dtype=padded.dtype, device=padded.device)
    profile_z[:width], profile_z[-width:] = ramp.flip(0), ramp
    profile_x = torch.zeros(nxp, dtype=padded.dtype, device=padded.device)
    profile_x[:width], profile_x[-width:] = ramp.flip(0), ramp
    in_x_sponge = torch.zeros(nxp, dtype=torch.bool, device=padded.device)
    in_x_sponge[:width] = in_x_sponge[-width:] = True
    damp = torch.where(in_x_sponge[None, :], profile_x[None, :], profile_z[:, None])
    return kappa[:, None, None] * damp[None]


def _reference_chunk(
    velocity: torch.Tensor, geometry: AcquisitionGeometry, progress: bool = False
) -> torch.Tensor:
    """OpenFWI's own scheme in float64: `(b, nz, nx)` m/s -> `(b, S, nt, R)`."""
    config = geometry.config
    width, dx, dt, nt = int(config.sponge_width), float(config.grid_spacing), float(config.dt), int(config.nt)
    v = F.pad(velocity.double()[:, None], (width,) * 4, mode="replicate")[:, 0]  # (b, Z, X)
    alpha = (v * dt / dx) ** 2
    kappa = _sponge(v, width, dx) * dt
    c1, c2, c3 = -2.5, 4.0 / 3.0, -1.0 / 12.0  # 4th-order Laplacian, 2-D centre weight is 2 c1
    keep_now = (2.0 + 2.0 * c1 * alpha - kappa)[:, None]
    keep_before = (1.0 - kappa)[:, None]
    alpha = alpha[:, None]
    src = geometry.source_locations() + width
    rec = geometry.receiver_locations() + width
    shots = torch.arange(len(src))
    source_gain = (v[:, src[:, 0], src[:, 1]] * dt) ** 2  # (b, S): injection is p += (v dt)^2 w
    wavelet = torch.as_tensor(geometry.wavelet(), dtype=torch.float64)

    batch = velocity.shape[0]
    shape = (batch, len(src), *v.shape[1:])
    before = torch.zeros(shape, dtype=torch.float64, device=v.device)
    now = torch.zeros_like(before)
    traces = torch.empty((batch, len(src), nt, len(rec)), dtype=torch.float64, device=v.device)
    for it in tqdm(range(nt), desc="reference steps", disable=not progress, leave=False):
        # Circular shifts, as in the CSIM code; the 120-cell sponge keeps the wrap-around silent.
        near = sum(torch.roll(now, s, d) for s in (1, -1) for d in (-2, -1))
        far = sum(torch.roll(now, s, d) for s in (2, -2) for d in (-2, -1))
        after = keep_now * now - keep_before * before + alpha * (c2 * near + c3 * far)
        after[:, shots, src[:, 0], src[:, 1]] += source_gain * wavelet[it]
        traces[:, :, it] = after[:, :, rec[:, 0], rec[:, 1]]
        before, now = now, after
    return traces.float()


def forward_model(
    velocity: np.ndarray | torch.Tensor,
    geometry: AcquisitionGeometry = OPENFWI,
    backend: str = "deepwave",
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> np.ndarray | torch.Tensor:
    r"""
    Simulate the shot gathers OpenFWI would record over velocity maps.

    Solves the constant-density acoustic wave equation `p_tt = v^2 (lap p + s)` with a 2nd-order
    in time, 4th-order in space finite-difference scheme, one shot per source, and records
    pressure at the receivers.

    Backends:

    - `"deepwave"` (default): `deepwave.scalar` (C/OpenMP on CPU, CUDA on GPU), 4th order, a
      `pml_width`-cell PML pinned to the wavelet's peak frequency and to `max_velocity`, and a
      Courant number chosen so the 1 ms step is never sub-stepped at 4500 m/s. deepwave's output
      has the opposite sign to OpenFWI's data (lanl/OpenFWI issue #7) and lags it by one sample;
      both are undone here: `data[t] = -deepwave[t + 1]`, found by fitting sign, scale and lag
      against the reference scheme on a homogeneous medium (fitted scale 1.0002, residual 0.2 %).
    - `"reference"`: a batched PyTorch (float64) copy of OpenFWI's scheme, for bit-level
      compatibility with the released files: edge-replicated padding by `sponge_width` cells, a
      quadratic damping sponge, no free surface, circular-shift stencil and source injection
      `p += (v dt)^2 w`. 65-116x slower than deepwave on a 2-core CPU (`benchmarks/bench_forward.py`).

    The two agree within about 1 % relative L2 over the first 500 ms; later they differ by how
    well each boundary absorbs (see `tests/physics/test_forward.py` for measured figures).

    Args:
        velocity (`np.ndarray` or `torch.Tensor`):
            Velocity in m/s, `(nz, nx)`, `(B, nz, nx)` or `(B, 1, nz, nx)`; row 0 is the surface.
        geometry (`AcquisitionGeometry`, defaults to `OPENFWI`):
            Grid, time axis, wavelet and positions.
        backend (`str`, defaults to `"deepwave"`): `"deepwave"` or `"reference"`.
        device (`str` or `torch.device`, *optional*):
            Where to compute. Default: the input tensor's device if it is not the CPU, else CUDA
            when available, else the CPU.
        batch_size (`int`, *optional*):
            Maps simulated at once (bounds memory). Default: 32 for deepwave, 8 for reference.
        progress (`bool`, defaults to `False`): Show a progress bar over chunks.

    Differentiable: a velocity tensor that requires grad (with grad mode on) keeps autograd
    through `deepwave.scalar`, so `data.backward(...)` gives the adjoint-state gradient in the
    velocity's `.grad` (s/m per unit of data). Otherwise nothing is recorded (`torch.no_grad`).

    Returns:
        Seismic data of shape `(B, n_sources, nt, n_receivers)`, float32, pressure in OpenFWI's
        polarity and amplitude (FlatVel-A data span about -27 to 53). A numpy array for numpy
        input, else a tensor on the input's device (attached to the graph when the input
        requires grad). A single `(nz, nx)` map gives `B = 1`.

    Raises:
        ValueError: On an unknown backend (or `"reference"` with a velocity that requires grad), a bad
            `batch_size`, or a velocity that `check_velocity`
            rejects (complex or boolean, wrong shape, NaN/Inf, below `min_velocity`, above `max_velocity`).

    Example:

    ```py
    >>> from seismic_diffusers.data import generate_velocity_models
    >>> from seismic_diffusers.physics import forward_model
    >>> data = forward_model(generate_velocity_models("flatvel-a", 2, seed=0))
    >>> data.shape, data.dtype
    ((2, 5, 1000, 70), dtype('float32'))

    ```
    """
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}. Valid backends: {', '.join(BACKENDS)}.")
    if batch_size is not None and int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
    differentiable = isinstance(velocity, torch.Tensor) and velocity.requires_grad and torch.is_grad_enabled()
    if differentiable and backend != "deepwave":
        raise ValueError(
            "Gradients through forward_model need backend='deepwave' (the reference has no adjoint)."
        )
    maps = check_velocity(velocity, geometry)
    if differentiable:  # the same maps, still attached to the caller's graph
        maps = velocity[:, 0] if velocity.ndim == 4 else velocity[None] if velocity.ndim == 2 else velocity
        maps = maps if maps.is_floating_point() else maps.float()
    compute_device = _resolve_device(device, velocity)
    chunk = int(batch_size or _DEFAULT_BATCH_SIZE[backend])
    outputs = []
    with torch.set_grad_enabled(differentiable):
        for start in tqdm(range(0, maps.shape[0], chunk), desc="forward model", disable=not progress):
            part = maps[start : start + chunk].to(compute_device)
            if backend == "deepwave":
                outputs.append(_deepwave_chunk(part, geometry))
            else:
                outputs.append(_reference_chunk(part, geometry))
    data = torch.cat(outputs).float().contiguous()
    if isinstance(velocity, torch.Tensor):
        return data.to(velocity.device)
    return data.cpu().numpy()

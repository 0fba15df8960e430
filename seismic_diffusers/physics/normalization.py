"""OpenFWI's seismic-data normalisation: `sign(x) log1p(|x|)`, then min-max to [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch

# Raw-amplitude limits per family, from lanl/OpenFWI `dataset_config.json` (data_min, data_max).
OPENFWI_DATA_LIMITS: dict[str, tuple[float, float]] = {
    "flatvel-a": (-26.95, 52.77),
    "flatvel-b": (-27.17, 56.05),
    "curvevel-a": (-27.11, 55.10),
    "curvevel-b": (-29.04, 57.03),
    "flatfault-a": (-26.10, 50.86),
    "flatfault-b": (-24.86, 50.28),
    "curvefault-a": (-26.48, 52.32),
    "curvefault-b": (-24.93, 50.98),
    "style-a": (-24.96, 48.93),
    "style-b": (-23.76, 46.01),
}
# Family-agnostic limits: the widest range over the eight OpenFWI-like families we generate.
POOLED_DATA_LIMITS = (-29.04, 57.03)

Array = np.ndarray | torch.Tensor


def data_limits(family: str | None = None) -> tuple[float, float]:
    """Raw `(data_min, data_max)` for a family, or the pooled limits for `None`."""
    if family is None:
        return POOLED_DATA_LIMITS
    name = str(family).strip().lower().replace("_", "-")
    if name not in OPENFWI_DATA_LIMITS:
        raise ValueError(
            f"No OpenFWI data limits for family {family!r}. Valid families: "
            f"{', '.join(OPENFWI_DATA_LIMITS)}, or None for the pooled limits {POOLED_DATA_LIMITS}."
        )
    return OPENFWI_DATA_LIMITS[name]


def log_transform(data: Array) -> Array:
    """`sign(x) log1p(|x|)`, elementwise (numpy or torch)."""
    if isinstance(data, torch.Tensor):
        return torch.sign(data) * torch.log1p(data.abs())
    return np.sign(data) * np.log1p(np.abs(data))


def normalize_seismic(data: Array, family: str | None = None) -> Array:
    r"""
    Seismic data (OpenFWI amplitude) -> OpenFWI's normalised space, as used for training and metrics.

    `y = 2 (L(x) - L(d_min)) / (L(d_max) - L(d_min)) - 1` with `L(x) = sign(x) log1p(|x|)` and the
    family's raw limits `d_min, d_max` (`OPENFWI_DATA_LIMITS`; pooled limits when `family=None`).
    Values outside the limits map slightly outside [-1, 1]; nothing is clipped.
    """
    low, high = (float(log_transform(np.float64(v))) for v in data_limits(family))
    return 2.0 * (log_transform(data) - low) / (high - low) - 1.0


def denormalize_seismic(sample: Array, family: str | None = None) -> Array:
    """Inverse of `normalize_seismic`: normalised space -> OpenFWI amplitude."""
    low, high = (float(log_transform(np.float64(v))) for v in data_limits(family))
    logged = (sample + 1.0) * 0.5 * (high - low) + low
    if isinstance(logged, torch.Tensor):
        return torch.sign(logged) * torch.expm1(logged.abs())
    return np.sign(logged) * np.expm1(np.abs(logged))


def agc_gain(seismic: torch.Tensor, window: int = 251, floor: float = 0.1) -> torch.Tensor:
    r"""
    Automatic gain control: the gain that brings every arrival of a gather to about unit amplitude.

    `g(t) = 1 / (e(t) + floor * rms)`, with `e(t)` a trace's RMS over a centred window of `window`
    time samples and `rms` the RMS of the whole gather (the floor keeps silent parts, before the first
    break, from being amplified without bound: at 0.01, 80 % of the gained error of the joint pipeline's
    decoder lay there; at 0.1 the three time windows 0-250, 250-500 and 500-1000 ms carry 18, 47 and
    36 % of it). A gather of zeros gets a gain of zero. In OpenFWI gathers the direct wave is about 60x
    stronger than the reflections after 0.5 s, so an error measured on `g * x` weighs late
    reflections as much as the direct wave.

    Args:
        seismic (`torch.Tensor` of shape `(..., nt, R)`): raw amplitude; time on the second-last axis.
        window (`int`): odd number of samples (1 ms each in OpenFWI gathers).
        floor (`float`): share of the gather's RMS added to the envelope, > 0.

    Returns:
        `torch.Tensor` of the input's shape: the gain, computed without autograd (a weight, not a
        function of the estimate).
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"`window` must be an odd number of samples >= 1, got {window}.")
    if not floor > 0:
        raise ValueError(f"`floor` must be > 0, got {floor}.")
    if seismic.dim() < 2:
        raise ValueError(f"`seismic` must have time and receiver axes, got shape {tuple(seismic.shape)}.")
    with torch.no_grad():
        power = seismic.float().pow(2)
        flat = power.reshape(-1, 1, *power.shape[-2:])
        envelope = torch.nn.functional.avg_pool2d(
            flat, (window, 1), stride=1, padding=(window // 2, 0), count_include_pad=False
        )
        envelope = envelope.reshape(power.shape).sqrt()
        denominator = envelope + floor * power.mean(dim=(-2, -1), keepdim=True).sqrt()
        return torch.where(denominator > 0, 1.0 / denominator.clamp_min(1e-30), 0.0)


def agc_misfit(
    estimate: torch.Tensor, reference: torch.Tensor, window: int = 251, floor: float = 0.1
) -> torch.Tensor:
    r"""
    Squared relative L2 after the reference's automatic gain control: `sum((g (e - r))^2) / sum((g r)^2)`
    with `g = agc_gain(reference, window, floor)`, over the whole batch; 0 is a perfect fit, 1 the
    misfit of predicting silence. Differentiable in `estimate`. The stage-1 `--seismic_agc_loss`.

    Args:
        estimate, reference (`torch.Tensor` of shape `(..., nt, R)`): raw amplitude, same shape.
    """
    if estimate.shape != reference.shape:
        raise ValueError(
            f"`estimate` {tuple(estimate.shape)} and `reference` {tuple(reference.shape)} differ."
        )
    gain = agc_gain(reference, window, floor)
    return (gain * (estimate - reference)).pow(2).sum() / (gain * reference).pow(2).sum().clamp_min(1e-12)

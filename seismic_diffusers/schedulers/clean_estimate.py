"""Conversions between a diffusion model's output and its clean-sample estimate, for any scheduler.

diffusers' schedulers convert inside `step`; pipelines that clamp the estimate or replace it (the
velocity pipeline's range clamp and zero-SNR prior) need the same conversion outside it. These
functions read only `config.prediction_type` and `alphas_cumprod`, so they serve DDPM, DDIM and
DPM-Solver++ alike.
"""

from __future__ import annotations

import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin


def alpha_sigma(scheduler: SchedulerMixin, timestep, device) -> tuple[torch.Tensor, torch.Tensor] | None:
    """`sqrt(alpha_bar_t)` and `sqrt(1 - alpha_bar_t)` as float32 scalars on `device`, or `None`
    for a scheduler without `alphas_cumprod`."""
    alphas_cumprod = getattr(scheduler, "alphas_cumprod", None)
    if alphas_cumprod is None:
        return None
    alpha_bar = alphas_cumprod[int(timestep)].to(device=device, dtype=torch.float32)
    return alpha_bar.sqrt(), (1 - alpha_bar).sqrt()


def signal_to_noise(scheduler: SchedulerMixin, timestep) -> float | None:
    """`alpha_bar_t / (1 - alpha_bar_t)` at `timestep`, or `None` without `alphas_cumprod`."""
    coefficients = alpha_sigma(scheduler, timestep, "cpu")
    if coefficients is None:
        return None
    alpha, sigma = coefficients
    return float((alpha / sigma) ** 2)


def clean_from_prediction(
    scheduler: SchedulerMixin, model_output: torch.Tensor, sample: torch.Tensor, timestep
) -> torch.Tensor | None:
    """The clean sample (x0) a model output implies at `timestep`.

    Args:
        scheduler (`SchedulerMixin`): Gives `prediction_type` (`"epsilon"`, `"v_prediction"` or
            `"sample"`) and `alphas_cumprod`.
        model_output (`torch.Tensor`): The model's prediction, any shape.
        sample (`torch.Tensor`): The noisy sample at `timestep`, same shape.
        timestep (`int` or `torch.Tensor`): The discrete timestep.

    Returns:
        `torch.Tensor` in float32, or `None` where the scheduler has no `alphas_cumprod` or another
        prediction type.
    """
    prediction_type = scheduler.config.prediction_type
    if prediction_type == "sample":
        return model_output.float()
    coefficients = alpha_sigma(scheduler, timestep, sample.device)
    if coefficients is None or prediction_type not in ("epsilon", "v_prediction"):
        return None
    alpha, sigma = coefficients
    if prediction_type == "epsilon":
        return (sample.float() - sigma * model_output.float()) / alpha
    return alpha * sample.float() - sigma * model_output.float()


def prediction_from_clean(
    scheduler: SchedulerMixin, clean: torch.Tensor, sample: torch.Tensor, timestep
) -> torch.Tensor:
    """The model output, of the scheduler's `prediction_type`, that implies `clean` at `timestep`.

    The inverse of [`clean_from_prediction`]; needs `alphas_cumprod` unless the prediction type
    is `"sample"`. Returns float32, shaped like `clean`.
    """
    prediction_type = scheduler.config.prediction_type
    if prediction_type == "sample":
        return clean.float()
    alpha, sigma = alpha_sigma(scheduler, timestep, sample.device)
    if prediction_type == "epsilon":
        return (sample.float() - alpha * clean) / sigma
    return (alpha * sample.float() - clean) / sigma

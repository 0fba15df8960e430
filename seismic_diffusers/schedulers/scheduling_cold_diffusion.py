"""Cold-diffusion scheduler for seismogram denoising (CDiffSD), with one schedule for training and sampling."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import BaseOutput

SCHEDULES = ("linear", "cosine")


@dataclass
class ColdDiffusionSchedulerOutput(BaseOutput):
    """
    Args:
        prev_sample (`torch.Tensor`): `x_{s-1}`, the less degraded signal.
        pred_original_sample (`torch.Tensor`): The model's clean estimate `x0_hat`.
    """

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor


def _alphas_cumprod(schedule: str, steps: int, beta_start: float, beta_end: float) -> torch.Tensor:
    if schedule == "linear":
        betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
        return torch.cumprod(1.0 - betas, dim=0)
    # Nichol & Dhariwal's cosine schedule, betas capped at 0.999.
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = torch.clamp(1.0 - f[1:] / f[:-1], max=0.999)
    return torch.cumprod(1.0 - betas, dim=0)


class ColdDiffusionScheduler(SchedulerMixin, ConfigMixin):
    r"""
    CDiffSD's degradation and Bansal et al.'s improved cold-diffusion sampler.

    Degradation (training and sampling use this one schedule):

        x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) (x0 + r n),

    where `n` is a real noise record and `r` a noise scale drawn from `noise_scale_range`. At the
    last step `x_{T-1}` is (almost) the noisy observation `y = x0 + r n` itself, so denoising starts
    from the recording.

    Sampling (`step`): with the model's clean estimate `x0_hat` at step `s` and
    `D(x, s) = sqrt(abar_s) x + sqrt(1 - abar_s) y`,

        x_{s-1} = x_s - D(x0_hat, s) + D(x0_hat, s-1),

    which carries the part of `x_s` the estimate does not explain. `y` is the observation passed as
    `observation=` (the pipeline does); without it `y` is estimated from `x_s` and `x0_hat`, which
    reduces the update to a DDIM-like step. `set_timesteps(1)` is the one-step "direct" mode:
    `x0_hat = model(y, T - 1)`.

    Args:
        num_train_timesteps (`int`, defaults to 50): Degradation steps T.
        beta_schedule (`str`, defaults to `"cosine"`): `"linear"` or `"cosine"`.
        beta_start (`float`, defaults to 1e-4): First beta of the linear schedule.
        beta_end (`float`, defaults to 0.02): Last beta of the linear schedule (scaled by 1000 / T
            so the schedule reaches a similar end point for any T).
        noise_scale_range (`tuple[float, float]`, defaults to `(0.4, 0.65)`): Range of `r`
            (CDiffSD's), drawn uniformly in training.
    """

    order = 1

    @register_to_config
    def __init__(
        self,
        num_train_timesteps: int = 50,
        beta_schedule: str = "cosine",
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        noise_scale_range: tuple[float, float] = (0.4, 0.65),
    ):
        if beta_schedule not in SCHEDULES:
            raise ValueError(
                f"Unknown beta_schedule {beta_schedule!r}. Valid schedules: {', '.join(SCHEDULES)}."
            )
        if int(num_train_timesteps) < 1:
            raise ValueError(f"`num_train_timesteps` must be >= 1, got {num_train_timesteps}.")
        low, high = (float(v) for v in noise_scale_range)
        if not 0 <= low <= high:
            raise ValueError(
                f"`noise_scale_range` must be (low, high) with 0 <= low <= high, got {noise_scale_range}."
            )
        scale = 1000.0 / num_train_timesteps
        self.alphas_cumprod = _alphas_cumprod(
            beta_schedule, int(num_train_timesteps), beta_start * scale, min(beta_end * scale, 0.999)
        ).float()
        self.num_inference_steps = None
        self.timesteps = torch.arange(num_train_timesteps - 1, -1, -1)

    # -- training ----------------------------------------------------------------------------------

    def sample_noise_scale(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw `r ~ U(noise_scale_range)`, `(batch_size,)`."""
        low, high = self.config.noise_scale_range
        return low + (high - low) * torch.rand(batch_size, generator=generator)

    def _coefficients(self, timesteps: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        abar = self.alphas_cumprod.to(like.device)[timesteps.to(like.device).long()]
        shape = (-1,) + (1,) * (like.ndim - 1)
        return abar.sqrt().to(like.dtype).reshape(shape), (1 - abar).sqrt().to(like.dtype).reshape(shape)

    def add_noise(
        self,
        original_samples: torch.Tensor,
        noise: torch.Tensor,
        timesteps: torch.Tensor,
        noise_scale: torch.Tensor | float | None = None,
    ) -> torch.Tensor:
        r"""
        Degrade clean signals: `x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) (x0 + r n)`.

        Args:
            original_samples (`torch.Tensor` of shape `(B, C, N)`): Clean `x0`.
            noise (`torch.Tensor` of shape `(B, C, N)`): Noise records `n`.
            timesteps (`torch.Tensor` of shape `(B,)`): Steps in `[0, T)`.
            noise_scale (`torch.Tensor` of shape `(B,)` or `float`, *optional*): `r`. Default: the
                middle of `noise_scale_range` (draw it with `sample_noise_scale` for training).
        """
        if noise.shape != original_samples.shape:
            raise ValueError(
                f"noise {tuple(noise.shape)} and samples {tuple(original_samples.shape)} differ in shape."
            )
        if noise_scale is None:
            noise_scale = sum(self.config.noise_scale_range) / 2
        r = torch.as_tensor(noise_scale, dtype=original_samples.dtype, device=original_samples.device)
        if r.ndim == 1:
            r = r.reshape((-1,) + (1,) * (original_samples.ndim - 1))
        keep, mix = self._coefficients(timesteps, original_samples)
        return keep * original_samples + mix * (original_samples + r * noise)

    def degrade(self, clean_estimate: torch.Tensor, observation: torch.Tensor, timestep: int) -> torch.Tensor:
        """`D(x, s) = sqrt(abar_s) x + sqrt(1 - abar_s) y`; `D(x, -1) = x`."""
        if timestep < 0:
            return clean_estimate
        steps = torch.full((clean_estimate.shape[0],), int(timestep), dtype=torch.long)
        keep, mix = self._coefficients(steps, clean_estimate)
        return keep * clean_estimate + mix * observation

    # -- sampling ----------------------------------------------------------------------------------

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None) -> None:
        """`num_inference_steps` evenly spaced steps from T-1 down to 0; 1 is the direct mode."""
        if int(num_inference_steps) < 1:
            raise ValueError(f"`num_inference_steps` must be >= 1, got {num_inference_steps}.")
        steps = min(int(num_inference_steps), self.config.num_train_timesteps)
        # For steps == 1 this is [T - 1]: the direct mode.
        timesteps = np.round(np.linspace(self.config.num_train_timesteps - 1, 0, steps)).astype(np.int64)
        self.num_inference_steps = steps
        self.timesteps = torch.from_numpy(timesteps).to(device)

    def previous_timestep(self, timestep: int) -> int:
        """The step after `timestep` in the current schedule, or -1 (fully clean) at the end."""
        steps = self.timesteps.tolist()
        index = steps.index(int(timestep))
        return steps[index + 1] if index + 1 < len(steps) else -1

    def step(
        self,
        model_output: torch.Tensor,
        timestep: int | torch.Tensor,
        sample: torch.Tensor,
        observation: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> ColdDiffusionSchedulerOutput | tuple:
        r"""
        One improved cold-diffusion step, `x_{s-1} = x_s - D(x0_hat, s) + D(x0_hat, s-1)`.

        Args:
            model_output (`torch.Tensor`): The model's clean estimate `x0_hat` at `timestep`.
            timestep (`int`): Current step `s` (an element of `self.timesteps`).
            sample (`torch.Tensor`): Current `x_s`.
            observation (`torch.Tensor`, *optional*): The fully degraded input `y`. If `None`, it
                is estimated as `(x_s - sqrt(abar_s) x0_hat) / sqrt(1 - abar_s)`.
            return_dict (`bool`, defaults to `True`): Return a `ColdDiffusionSchedulerOutput`.
        """
        s = int(timestep)
        previous = self.previous_timestep(s)
        if observation is None:
            keep, mix = self._coefficients(torch.full((sample.shape[0],), s), sample)
            observation = (sample - keep * model_output) / mix.clamp_min(1e-6)
        if previous < 0:  # last step: the clean estimate itself (also the whole of direct mode)
            prev_sample = model_output
        else:
            prev_sample = (
                sample
                - self.degrade(model_output, observation, s)
                + self.degrade(model_output, observation, previous)
            )
        if not return_dict:
            return (prev_sample, model_output)
        return ColdDiffusionSchedulerOutput(prev_sample=prev_sample, pred_original_sample=model_output)

    def __len__(self) -> int:
        return self.config.num_train_timesteps

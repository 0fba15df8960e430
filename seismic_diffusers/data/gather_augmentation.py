"""Corruption of shot gathers: white noise at a random SNR and dead traces (training), or at one SNR (evaluation)."""

from __future__ import annotations

import math

import torch


def corrupt_gathers(
    seismic: torch.Tensor,
    snr_db_range: tuple[float, float] = (10.0, 40.0),
    noise_probability: float = 0.5,
    dead_trace_probability: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""
    Corrupt a batch of gathers the way field data are: noise at a random SNR, and dead traces.

    Each gather gets, with probability `noise_probability`, white Gaussian noise at an SNR drawn
    uniformly in `snr_db_range` (dB, relative to that gather's mean power); then every trace is
    zeroed with probability `dead_trace_probability` (a dead or missing channel).

    Args:
        seismic (`torch.Tensor` of shape `(B, S, nt, R)`): Gathers, OpenFWI amplitude.
        snr_db_range (`tuple[float, float]`): Lowest and highest SNR, dB.
        noise_probability (`float`): Share of gathers that get noise, in [0, 1].
        dead_trace_probability (`float`): Chance of each trace being zeroed, in [0, 1).
        generator (`torch.Generator`, *optional*): For reproducible corruption.

    Returns:
        `torch.Tensor`: the corrupted gathers, same shape and dtype (a new tensor).

    Raises:
        ValueError: For a batch that is not `(B, S, nt, R)`, an SNR range that is not increasing
            finite numbers, or a probability outside its interval.
    """
    if seismic.ndim != 4:
        raise ValueError(f"seismic must be (B, shots, time samples, receivers), got {tuple(seismic.shape)}.")
    low, high = (float(v) for v in snr_db_range)
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"`snr_db_range` must be two finite numbers, low <= high; got {snr_db_range}.")
    if not 0.0 <= noise_probability <= 1.0:
        raise ValueError(f"`noise_probability` must be in [0, 1], got {noise_probability}.")
    if not 0.0 <= dead_trace_probability < 1.0:
        raise ValueError(f"`dead_trace_probability` must be in [0, 1), got {dead_trace_probability}.")
    batch, shots, _, receivers = seismic.shape
    data = seismic.float()
    noisy = torch.rand(batch, generator=generator) < noise_probability
    snr_db = low + (high - low) * torch.rand(batch, generator=generator)
    power = data.pow(2).mean(dim=(1, 2, 3))
    scale = (power / 10 ** (snr_db / 10)).sqrt() * noisy
    noise = torch.randn(data.shape, generator=generator) * scale.view(-1, 1, 1, 1)
    alive = (torch.rand(batch, shots, 1, receivers, generator=generator) >= dead_trace_probability).float()
    return ((data + noise.to(data.device)) * alive.to(data.device)).to(seismic.dtype)


def gathers_at_snr(seismic: torch.Tensor, snr_db: float, seed: int) -> torch.Tensor:
    """Every gather of `seismic` `(B, S, nt, R)` with white Gaussian noise at `snr_db` dB of its mean power.

    The noisy condition of the inversion benchmark and of the inversion pipeline's calibration:
    `corrupt_gathers` at one SNR, no dead traces, seeded by `seed`.
    """
    generator = torch.Generator().manual_seed(int(seed))
    return corrupt_gathers(seismic, (snr_db, snr_db), noise_probability=1.0, generator=generator)

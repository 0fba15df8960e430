"""What the models that read OpenFWI gathers share: convolutional encoder and decoder, units, grid checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.models.resnet import ResnetBlock2D

from ..physics.normalization import log_transform


def _resnet(in_channels: int, out_channels: int, groups: int) -> ResnetBlock2D:
    return ResnetBlock2D(
        in_channels=in_channels, out_channels=out_channels, temb_channels=None, groups=groups, eps=1e-6
    )


class _Resample(nn.Module):
    """Down- (strided conv) or up-sampling (nearest, then conv) by a per-axis integer factor."""

    def __init__(self, channels: int, factor: Sequence[int], up: bool):
        super().__init__()
        self.factor, self.up = tuple(int(f) for f in factor), up
        if up:
            self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        else:
            kernel = tuple(3 if f > 1 else 1 for f in self.factor)
            self.conv = nn.Conv2d(
                channels, channels, kernel, stride=self.factor, padding=tuple(k // 2 for k in kernel)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=self.factor, mode="nearest")
        return self.conv(x)


class SeismicEncoder(nn.Module):
    def __init__(self, in_channels, channels, strides, layers_per_block, out_channels, groups):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        blocks = []
        previous = channels[0]
        for width, stride in zip(channels, strides, strict=True):
            for _ in range(layers_per_block):
                blocks.append(_resnet(previous, width, groups))
                previous = width
            blocks.append(_Resample(width, stride, up=False))
        self.blocks = nn.ModuleList(blocks)
        self.mid = _resnet(previous, previous, groups)
        self.norm_out = nn.GroupNorm(groups, previous, eps=1e-6)
        self.conv_out = nn.Conv2d(previous, out_channels, 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for block in self.blocks:
            x = block(x, None) if isinstance(block, ResnetBlock2D) else block(x)
        x = self.mid(x, None)
        return self.conv_out(F.silu(self.norm_out(x)))


class GridDecoder(nn.Module):
    def __init__(self, in_channels, channels, strides, layers_per_block, out_channels, groups):
        super().__init__()
        channels, strides = list(channels)[::-1], list(strides)[::-1]
        self.conv_in = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        self.mid = _resnet(channels[0], channels[0], groups)
        blocks = []
        previous = channels[0]
        for width, stride in zip(channels, strides, strict=True):
            blocks.append(_Resample(previous, stride, up=True))
            for _ in range(layers_per_block):
                blocks.append(_resnet(previous, width, groups))
                previous = width
        self.blocks = nn.ModuleList(blocks)
        self.norm_out = nn.GroupNorm(groups, previous, eps=1e-6)
        self.conv_out = nn.Conv2d(previous, out_channels, 3, padding=1)

    def forward(self, z):
        x = self.mid(self.conv_in(z), None)
        for block in self.blocks:
            x = block(x, None) if isinstance(block, ResnetBlock2D) else block(x)
        return self.conv_out(F.silu(self.norm_out(x)))


def check_seismic_grid(
    block_out_channels: Sequence[int],
    seismic_working_shape: Sequence[int],
    seismic_strides: Sequence[Sequence[int]],
    velocity_working_size: int,
) -> tuple[tuple[int, int], int]:
    """The latent grid `(h, w)` the strides reduce the working grid to, and the velocity decoder's levels.

    Raises:
        ValueError: unless there is one width per stride, the working grid divides by the strides'
            product, and the latent grid is square with `velocity_working_size` a power-of-two
            multiple of its side.
    """
    if len(block_out_channels) != len(seismic_strides):
        raise ValueError(
            f"block_out_channels ({len(block_out_channels)}) and seismic_strides "
            f"({len(seismic_strides)}) must have one entry per block."
        )
    factor = np.prod(np.asarray(seismic_strides), axis=0)
    if any(size % int(f) for size, f in zip(seismic_working_shape, factor, strict=True)):
        raise ValueError(
            f"seismic_working_shape {tuple(seismic_working_shape)} must be divisible by the strides' "
            f"product {tuple(int(f) for f in factor)}."
        )
    latent_shape = tuple(int(s // f) for s, f in zip(seismic_working_shape, factor, strict=True))
    levels = np.log2(velocity_working_size / np.asarray(latent_shape))
    if latent_shape[0] != latent_shape[1] or not float(levels[0]).is_integer() or levels[0] < 0:
        raise ValueError(
            f"The latent grid {latent_shape} must be square with velocity_working_size "
            f"({velocity_working_size}) a power-of-two multiple of its side."
        )
    return latent_shape, int(levels[0])


class OpenFWIUnitsMixin:
    """m/s and raw OpenFWI amplitude <-> the [-1, 1] space a model works in, from its config.

    Needs `config.v_min`, `config.v_max`, `config.seismic_data_min` and `config.seismic_data_max`.
    Velocity: OpenFWI's label normalisation. Seismic: OpenFWI's `sign log1p`, then min-max of the
    logged limits to [-1, 1].
    """

    def normalize_velocity(self, velocity: torch.Tensor) -> torch.Tensor:
        """m/s -> [-1, 1]."""
        low, high = self.config.v_min, self.config.v_max
        return 2.0 * (velocity - low) / (high - low) - 1.0

    def denormalize_velocity(self, sample: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> m/s, clipped to `[v_min, v_max]`."""
        low, high = self.config.v_min, self.config.v_max
        return ((sample.clamp(-1.0, 1.0) + 1.0) * 0.5 * (high - low) + low).float()

    def _seismic_log_limits(self) -> tuple[float, float]:
        low, high = self.config.seismic_data_min, self.config.seismic_data_max
        return float(log_transform(np.float64(low))), float(log_transform(np.float64(high)))

    def normalize_seismic(self, seismic: torch.Tensor) -> torch.Tensor:
        """Raw OpenFWI amplitude -> normalised space (`sign log1p`, then min-max to [-1, 1])."""
        low, high = self._seismic_log_limits()
        return 2.0 * (log_transform(seismic) - low) / (high - low) - 1.0

    def denormalize_seismic(self, sample: torch.Tensor) -> torch.Tensor:
        """Normalised space -> raw OpenFWI amplitude."""
        low, high = self._seismic_log_limits()
        logged = (sample.float() + 1.0) * 0.5 * (high - low) + low
        return torch.sign(logged) * torch.expm1(logged.abs())

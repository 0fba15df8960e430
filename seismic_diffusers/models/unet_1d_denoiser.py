"""A small 1-D U-Net that maps a degraded multi-component seismogram to its clean estimate."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.downsampling import Downsample1D
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_utils import ModelMixin
from diffusers.models.unets.unet_1d_blocks import ResidualTemporalBlock1D, SelfAttention1d
from diffusers.models.upsampling import Upsample1D
from diffusers.utils import BaseOutput
from torch import nn


@dataclass
class SeismogramUNet1DOutput(BaseOutput):
    """
    Args:
        sample (`torch.Tensor` of shape `(batch, channels, samples)`): The predicted clean signal.
    """

    sample: torch.Tensor


# The gate's logits are the 1x1 conv's output times this, so that fine-tuning a gated copy of a
# trained model at its small learning rate can open the gate within a few thousand steps.
GATE_LOGIT_SCALE = 10.0
# The middle attention runs on the coarsest level averaged over this many positions.
MID_ATTENTION_POOL = 4


class SeismogramUNet1DModel(ModelMixin, ConfigMixin):
    r"""
    1-D U-Net denoiser in the CDiffSD layout: predicts the clean signal `x0` from a degraded one.

    Each level has two `ResidualTemporalBlock1D`s (conv, GroupNorm, Mish, with the diffusion
    timestep added per channel) and a strided-conv downsampling; the decoder mirrors it with skip
    connections. Inputs of any length are edge-padded to a multiple of `2 ** (levels - 1)` and
    cropped back.

    Args:
        in_channels (`int`, defaults to 3): Components in (E, N, Z by default).
        out_channels (`int`, defaults to 3): Components out.
        base_channels (`int`, defaults to 16): Width of the first level (a multiple of 8).
        channel_mults (`tuple[int]`, defaults to `(1, 2, 4, 8)`): Width multipliers per level.
        kernel_size (`int`, defaults to 5): Temporal kernel of the residual blocks.
        time_embedding_dim (`int`, defaults to 64): Size of the timestep embedding.
        input_gate (`bool`, defaults to `False`): Add the input, times a learned gate in (0, 1) per
            sample and component (`sigmoid` of a 1x1 conv on the last decoder features), to the
            output: the network can pass a clean-enough input through unchanged instead of
            redrawing it, and mute it where noise dominates. The gate starts almost closed
            (about 0.02), so a gated copy of a trained model starts where that model was.
        mid_attention_heads (`int`, defaults to 0): With a positive value, a self-attention block
            (`SelfAttention1d`, this many heads) follows the middle block at the coarsest level
            (1/8 of the input rate with four levels), so every position sees the whole window:
            the convolutions alone span about 6 s at 100 Hz (GroupNorm adds only each channel's
            window-wide mean and spread), too little to tell a stationary in-band noise from an
            event's coda. It attends over that level averaged in groups of
            `MID_ATTENTION_POOL` positions (94 tokens for a 30 s window at 100 Hz), which keeps its
            cost a small share of the convolutions'; its output is added back at full rate.
            0 keeps the all-convolutional network.
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        base_channels: int = 16,
        channel_mults: tuple[int, ...] = (1, 2, 4, 8),
        kernel_size: int = 5,
        time_embedding_dim: int = 64,
        input_gate: bool = False,
        mid_attention_heads: int = 0,
    ):
        super().__init__()
        if base_channels % 8:
            raise ValueError(
                f"`base_channels` must be a multiple of 8 (GroupNorm groups), got {base_channels}."
            )
        widths = [base_channels * m for m in channel_mults]
        self.time_proj = Timesteps(base_channels, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(base_channels, time_embedding_dim)
        self.conv_in = nn.Conv1d(in_channels, widths[0], kernel_size, padding=kernel_size // 2)

        self.down_blocks = nn.ModuleList()
        self.downsamplers = nn.ModuleList()
        current = widths[0]
        for level, width in enumerate(widths):
            self.down_blocks.append(
                nn.ModuleList(
                    [
                        ResidualTemporalBlock1D(current, width, time_embedding_dim, kernel_size),
                        ResidualTemporalBlock1D(width, width, time_embedding_dim, kernel_size),
                    ]
                )
            )
            current = width
            last = level == len(widths) - 1
            self.downsamplers.append(nn.Identity() if last else Downsample1D(width, use_conv=True))

        self.mid_block = ResidualTemporalBlock1D(current, current, time_embedding_dim, kernel_size)
        if mid_attention_heads < 0 or (mid_attention_heads and current % mid_attention_heads):
            raise ValueError(
                f"`mid_attention_heads` must be 0 or divide the coarsest width {current}, "
                f"got {mid_attention_heads}."
            )
        self.mid_attention = SelfAttention1d(current, mid_attention_heads) if mid_attention_heads else None

        self.up_blocks = nn.ModuleList()
        self.upsamplers = nn.ModuleList()
        for level, width in reversed(list(enumerate(widths))):
            self.up_blocks.append(
                nn.ModuleList(
                    [
                        ResidualTemporalBlock1D(current + width, width, time_embedding_dim, kernel_size),
                        ResidualTemporalBlock1D(width, width, time_embedding_dim, kernel_size),
                    ]
                )
            )
            current = width
            self.upsamplers.append(nn.Identity() if level == 0 else Upsample1D(width, use_conv=True))
        self.conv_out = nn.Conv1d(widths[0], out_channels, 1)
        if input_gate:
            if in_channels != out_channels:
                raise ValueError(
                    "`input_gate` passes the input through, so it needs in_channels == out_channels."
                )
            self.conv_gate = nn.Conv1d(widths[0], out_channels, 1)
            nn.init.zeros_(self.conv_gate.weight)
            nn.init.constant_(self.conv_gate.bias, -4.0 / GATE_LOGIT_SCALE)

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.config.channel_mults) - 1)

    def forward(
        self, sample: torch.Tensor, timestep: torch.Tensor | float | int, return_dict: bool = True
    ) -> SeismogramUNet1DOutput | tuple:
        r"""
        Args:
            sample (`torch.Tensor` of shape `(batch, in_channels, samples)`): Degraded, normalised
                seismograms; any length.
            timestep (`torch.Tensor` of shape `(batch,)`, or a number): Degradation step.
            return_dict (`bool`, defaults to `True`): Return a `SeismogramUNet1DOutput`.

        Returns:
            The clean estimate, `(batch, out_channels, samples)`.
        """
        length = sample.shape[-1]
        observed = sample
        pad = (-length) % self.downsample_factor
        if pad:
            sample = F.pad(sample, (0, pad), mode="replicate")
        timesteps = torch.as_tensor(timestep, device=sample.device)
        if timesteps.ndim == 0:
            timesteps = timesteps[None]
        timesteps = timesteps.expand(sample.shape[0])
        embedding = self.time_embedding(self.time_proj(timesteps).to(sample.dtype))

        hidden = self.conv_in(sample)
        skips = []
        for (first, second), downsample in zip(self.down_blocks, self.downsamplers, strict=True):
            hidden = second(first(hidden, embedding), embedding)
            skips.append(hidden)
            hidden = downsample(hidden)
        hidden = self.mid_block(hidden, embedding)
        if self.mid_attention is not None:
            pooled = F.avg_pool1d(hidden, MID_ATTENTION_POOL, ceil_mode=True)
            context = self.mid_attention(pooled) - pooled
            hidden = hidden + F.interpolate(context, size=hidden.shape[-1], mode="nearest")
        for (first, second), upsample in zip(self.up_blocks, self.upsamplers, strict=True):
            hidden = torch.cat([hidden, skips.pop()], dim=1)
            hidden = second(first(hidden, embedding), embedding)
            hidden = upsample(hidden)
        out = self.conv_out(hidden)[..., :length]
        if self.config.input_gate:
            gate = torch.sigmoid(GATE_LOGIT_SCALE * self.conv_gate(hidden)[..., :length])
            out = out + gate * observed
        if not return_dict:
            return (out,)
        return SeismogramUNet1DOutput(sample=out)

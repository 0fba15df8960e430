"""The wave equation's forward map in a two-codebook joint latent: velocity code in, seismic code out."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.attention import BasicTransformerBlock
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn


@dataclass
class LatentForwardOperatorOutput(BaseOutput):
    """
    Args:
        sample (`torch.Tensor` of shape `(batch_size, latent_channels // 2, h, w)`): The predicted
            seismic half of the latent, in the diffusion model's (scaled) space.
    """

    sample: torch.Tensor


class LatentForwardOperator(ModelMixin, ConfigMixin):
    r"""
    Predicts the seismic half of a two-encoder [`JointVQModel`] latent from its velocity half.

    The two halves of such a latent come from separate encoders, so the wave equation couples them
    only through the training pairs. A diffusion model over the joint latent learns each half's
    distribution well but, at this size, not their coupling (docs/experiments/joint-generation.md):
    its pairs are no more physical than decoded Gaussian latents. This small network learns the
    coupling by regression instead, and [`JointGenerationPipeline`] uses it after sampling: the
    sampled velocity half is kept and its seismic half is replaced by this prediction.

    Both halves are in the space of `JointVQModel.scale_latents` (what the diffusion model sees);
    the latent is `[seismic half, velocity half]` along channels. A stack of 3 x 3 convolutions
    with GroupNorm and SiLU ends in a 1 x 1 projection; the dilations widen the receptive field
    (19 x 19 cells with the defaults, most of a 16 x 16 or 20 x 20 latent grid), because a velocity anomaly at
    depth changes late arrivals at every receiver. With `attention_layers > 0`, transformer blocks
    (diffusers' `BasicTransformerBlock`, a learned position embedding per latent cell) follow the
    convolutions: the seismic grid is (time, receiver) and the velocity grid (depth, x), so the map
    between them is not translation-equivariant, and self-attention lets every output cell read the
    whole velocity code.

    Args:
        half_channels (`int`, defaults to 8): Channels of each half (`latent_channels // 2`; 8 for a
            16-channel two-codebook latent).
        width (`int`, defaults to 96): Channels of the hidden layers.
        dilations (`tuple[int, ...]`, defaults to `(1, 1, 2, 4, 1)`): One 3 x 3 layer per entry.
        norm_num_groups (`int`, defaults to 8): GroupNorm groups (must divide `width`).
        attention_layers (`int`, defaults to 0): Transformer blocks after the convolutions.
        attention_heads (`int`, defaults to 4): Heads of each block (must divide `width`).
        sample_size (`int`, defaults to 16): Side of the latent grid (the position embedding's size);
            read only when `attention_layers > 0`.
    """

    @register_to_config
    def __init__(
        self,
        half_channels: int = 8,
        width: int = 96,
        dilations: tuple[int, ...] = (1, 1, 2, 4, 1),
        norm_num_groups: int = 8,
        attention_layers: int = 0,
        attention_heads: int = 4,
        sample_size: int = 16,
    ):
        super().__init__()
        if half_channels < 1 or width < 1 or not dilations or min(dilations) < 1:
            raise ValueError(
                f"half_channels and width must be >= 1 and dilations a non-empty list of integers >= 1; got "
                f"half_channels={half_channels}, width={width}, dilations={dilations}."
            )
        if width % norm_num_groups:
            raise ValueError(f"norm_num_groups ({norm_num_groups}) must divide width ({width}).")
        if attention_layers < 0 or (attention_layers and (attention_heads < 1 or width % attention_heads)):
            raise ValueError(
                f"attention_layers must be >= 0 and attention_heads divide width ({width}); got "
                f"attention_layers={attention_layers}, attention_heads={attention_heads}."
            )
        layers = []
        channels = half_channels
        for dilation in dilations:
            layers += [
                nn.Conv2d(channels, width, 3, padding=dilation, dilation=dilation),
                nn.GroupNorm(norm_num_groups, width),
                nn.SiLU(),
            ]
            channels = width
        layers.append(nn.Conv2d(width, half_channels, 1))  # the projection, last (key names as before)
        self.layers = nn.Sequential(*layers)
        self.transformer_blocks = nn.ModuleList(
            BasicTransformerBlock(width, attention_heads, width // attention_heads, activation_fn="gelu")
            for _ in range(attention_layers)
        )
        if attention_layers:
            self.position_embedding = nn.Parameter(torch.zeros(1, sample_size * sample_size, width))

    def forward(
        self, velocity_half: torch.Tensor, return_dict: bool = True
    ) -> LatentForwardOperatorOutput | tuple:
        r"""
        Args:
            velocity_half (`torch.Tensor` of shape `(batch_size, half_channels, h, w)`): The velocity
                half of scaled latents (channels `half_channels:` of the joint latent).
            return_dict (`bool`, defaults to `True`): Return a [`LatentForwardOperatorOutput`].

        Returns:
            The predicted seismic half, same shape, scaled space.
        """
        if velocity_half.ndim != 4 or velocity_half.shape[1] != self.config.half_channels:
            raise ValueError(
                f"velocity_half must have shape (B, {self.config.half_channels}, h, w); got "
                f"{tuple(velocity_half.shape)}."
            )
        hidden = self.layers[:-1](velocity_half)
        if len(self.transformer_blocks):
            batch, width, height, breadth = hidden.shape
            if height * breadth != self.position_embedding.shape[1]:
                raise ValueError(
                    f"This operator's attention was built for a {self.config.sample_size} x "
                    f"{self.config.sample_size} grid; got {height} x {breadth}."
                )
            tokens = hidden.flatten(2).transpose(1, 2) + self.position_embedding
            for block in self.transformer_blocks:
                tokens = block(tokens)
            hidden = tokens.transpose(1, 2).reshape(batch, width, height, breadth)
        sample = self.layers[-1](hidden)
        if not return_dict:
            return (sample,)
        return LatentForwardOperatorOutput(sample=sample)

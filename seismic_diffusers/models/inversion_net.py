"""An InversionNet-style network: shot gathers in, one velocity map out, trained by regression."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput

from .seismic_blocks import GridDecoder, OpenFWIUnitsMixin, SeismicEncoder, check_seismic_grid


@dataclass
class InversionNetOutput(BaseOutput):
    """
    Args:
        velocity (`torch.Tensor` of shape `(batch_size, 1, 70, 70)`): Normalised velocity, about
            [-1, 1] (`denormalize_velocity` gives m/s).
    """

    velocity: torch.Tensor


class InversionNetModel(OpenFWIUnitsMixin, ModelMixin, ConfigMixin):
    r"""
    Amortised inversion: OpenFWI shot gathers to a velocity map in one forward pass (InversionNet's
    task, Wu & Lin 2019), with this package's convolutional blocks.

    The gathers are normalised as [`JointVQModel`] does (OpenFWI's `sign log1p`, then min-max of
    `[seismic_data_min, seismic_data_max]` to [-1, 1]) and resampled (bilinear, antialiased) to
    `seismic_working_shape`; an encoder of ResNet blocks and strided convolutions reduces them to a
    `latent_channels` x 16 x 16 grid, a decoder upsamples that to `velocity_working_size` and the
    result is resampled to `velocity_shape`. No quantisation and no seismic decoder: it is a
    regression baseline and a starting point for physics-based refinement, not a generator.

    Args:
        seismic_shape (`tuple[int, int, int]`, defaults to `(5, 1000, 70)`): Shots, time samples,
            receivers.
        velocity_shape (`tuple[int, int]`, defaults to `(70, 70)`): Depth and x cells.
        seismic_working_shape (`tuple[int, int]`, defaults to `(128, 64)`): Time x receivers grid
            the encoder reads (128 samples of about 7.8 ms: Nyquist 64 Hz, above the 15 Hz Ricker's
            band, which ends near 40 Hz).
        seismic_strides (`tuple[tuple[int, int], ...]`): Per-block (time, receiver) downsampling.
        block_out_channels (`tuple[int, ...]`): Width per block, one per stride.
        layers_per_block (`int`, defaults to 1): ResNet blocks per resolution.
        latent_channels (`int`, defaults to 32): Channels of the bottleneck grid.
        velocity_working_size (`int`, defaults to 64): Side of the decoder's output before resampling.
        norm_num_groups (`int`, defaults to 8): GroupNorm groups.
        v_min, v_max (`float`): Velocity normalisation limits, m/s.
        seismic_data_min, seismic_data_max (`float`): Raw OpenFWI amplitude limits of the seismic
            normalisation (default: the pooled limits of the eight families).
    """

    @register_to_config
    def __init__(
        self,
        seismic_shape: tuple[int, int, int] = (5, 1000, 70),
        velocity_shape: tuple[int, int] = (70, 70),
        seismic_working_shape: tuple[int, int] = (128, 64),
        seismic_strides: tuple[tuple[int, int], ...] = ((2, 2), (2, 2), (2, 1)),
        block_out_channels: tuple[int, ...] = (16, 32, 64),
        layers_per_block: int = 1,
        latent_channels: int = 32,
        velocity_working_size: int = 64,
        norm_num_groups: int = 8,
        v_min: float = 1500.0,
        v_max: float = 4500.0,
        seismic_data_min: float = -29.04,
        seismic_data_max: float = 57.03,
    ):
        super().__init__()
        if not v_max > v_min or not seismic_data_max > seismic_data_min:
            raise ValueError("v_max must exceed v_min and seismic_data_max must exceed seismic_data_min.")
        _, levels = check_seismic_grid(
            block_out_channels, seismic_working_shape, seismic_strides, velocity_working_size
        )
        self.encoder = SeismicEncoder(
            seismic_shape[0],
            block_out_channels,
            seismic_strides,
            layers_per_block,
            latent_channels,
            norm_num_groups,
        )
        self.decoder = GridDecoder(
            latent_channels,
            list(block_out_channels[-levels:]) if levels else [block_out_channels[-1]],
            [(2, 2)] * levels or [(1, 1)],
            layers_per_block,
            1,
            norm_num_groups,
        )

    def forward(self, seismic: torch.Tensor, return_dict: bool = True) -> InversionNetOutput | tuple:
        r"""
        Args:
            seismic (`torch.Tensor` of shape `(batch_size, 5, 1000, 70)`): Gathers in raw OpenFWI
                amplitude (not normalised: the model normalises them itself).
            return_dict (`bool`, defaults to `True`): Return an [`InversionNetOutput`].

        Returns:
            [`InversionNetOutput`] or `tuple`: normalised velocity `(batch_size, 1, 70, 70)`.

        Raises:
            ValueError: For seismic of another shape.
        """
        expected = tuple(self.config.seismic_shape)
        if seismic.ndim != 4 or tuple(seismic.shape[1:]) != expected:
            raise ValueError(
                f"seismic must have shape (B, {', '.join(map(str, expected))}); got {tuple(seismic.shape)}."
            )
        x = F.interpolate(
            self.normalize_seismic(seismic.to(self.dtype)),
            size=tuple(self.config.seismic_working_shape),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        velocity = F.interpolate(
            self.decoder(self.encoder(x)),
            size=tuple(self.config.velocity_shape),
            mode="bilinear",
            align_corners=False,
        )
        if not return_dict:
            return (velocity,)
        return InversionNetOutput(velocity=velocity)

    @torch.no_grad()
    def predict_velocity(self, seismic: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """Velocity maps in m/s, `(B, 70, 70)`, from raw gathers `(B, 5, 1000, 70)`, in chunks of `batch_size`."""
        parts = [
            self.denormalize_velocity(self(seismic[i : i + batch_size].to(self.device)).velocity[:, 0])
            for i in range(0, seismic.shape[0], batch_size)
        ]
        return torch.cat(parts)

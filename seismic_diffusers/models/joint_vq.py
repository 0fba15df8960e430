"""A VQ autoencoder with one seismic encoder, a shared latent and two decoders (WaveDiffusion, stage 1)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.autoencoders.vae import VectorQuantizer
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput

from .seismic_blocks import GridDecoder, OpenFWIUnitsMixin, SeismicEncoder, check_seismic_grid


@dataclass
class JointVQEncoderOutput(BaseOutput):
    """
    Args:
        latents (`torch.Tensor` of shape `(batch_size, latent_channels, height, width)`):
            The encoder's continuous output, before quantisation.
    """

    latents: torch.Tensor


@dataclass
class JointVQDecoderOutput(BaseOutput):
    """
    Args:
        velocity (`torch.Tensor` of shape `(batch_size, 1, 70, 70)`): Normalised velocity, [-1, 1].
        seismic (`torch.Tensor` of shape `(batch_size, 5, 1000, 70)`): Normalised seismic
            (OpenFWI's `sign log1p` then min-max to [-1, 1]).
        commit_loss (`torch.Tensor`, *optional*): The vector-quantisation loss, when quantised.
        indices (`torch.Tensor` of shape `(batch_size, num_codebooks, h, w)`, *optional*): The
            chosen codebook entries, when quantised.
    """

    velocity: torch.Tensor
    seismic: torch.Tensor
    commit_loss: torch.Tensor | None = None
    indices: torch.Tensor | None = None


class JointVQModel(OpenFWIUnitsMixin, ModelMixin, ConfigMixin):
    r"""
    Seismic data in, a quantised latent, and both seismic data and velocity out (WaveDiffusion stage 1).

    One encoder reads the seismic data, as in the paper's appendix A.1.1 (its inversion input is
    seismic alone, so a velocity encoder would be unused at inference; its latent is learnt to
    decode to both). The latent is quantised with one shared codebook (`num_codebooks=1`, the
    paper's 1VQ) or with two codebooks over the two halves of its channels (`num_codebooks=2`,
    our single-encoder reading of 2VQ). A velocity decoder and a seismic decoder share it.

    The model works on a reduced grid and resamples at its edges, so callers use real shapes:

    - seismic `(5, 1000, 70)` is resampled (bilinear, antialiased) to `seismic_working_shape`,
      e.g. `(256, 64)`: 1000 samples of 1 ms become 256 of about 3.9 ms, Nyquist 128 Hz, far
      above the 15 Hz source's useful band; decoded seismic is resampled back to `(1000, 70)`;
    - velocity is decoded at `velocity_working_size` (64) and resampled to `(70, 70)`.

    Every tensor inside is in normalised space; `normalize_*`/`denormalize_*` convert from and to
    physical units with the constants saved in this config: velocity `[v_min, v_max]` m/s to
    [-1, 1] (OpenFWI's label normalisation), seismic by OpenFWI's `sign(x) log1p(|x|)` then
    min-max of `[seismic_data_min, seismic_data_max]` to [-1, 1].

    Args:
        seismic_shape (`tuple[int, int, int]`, defaults to `(5, 1000, 70)`): Shots, time samples,
            receivers of the real data.
        velocity_shape (`tuple[int, int]`, defaults to `(70, 70)`): Depth and x cells.
        seismic_working_shape (`tuple[int, int]`, defaults to `(256, 64)`): Time x receivers grid
            the encoder and seismic decoder work on.
        seismic_strides (`tuple[tuple[int, int], ...]`): Per-block (time, receiver) downsampling
            of the encoder (mirrored by the seismic decoder); their product maps the working
            grid to the latent grid (default: 256 x 64 -> 16 x 16).
        velocity_working_size (`int`, defaults to 64): Side of the velocity decoder's output.
        block_out_channels (`tuple[int, ...]`): Width per block, one per stride.
        layers_per_block (`int`, defaults to 1): ResNet blocks per resolution.
        latent_channels (`int`, defaults to 8): Channels of the latent (the diffusion model's).
        num_vq_embeddings (`int`, defaults to 512): Codebook size (per codebook).
        num_codebooks (`int`, defaults to 1): 1 (shared codebook) or 2 (one per channel half).
        commitment_cost (`float`, defaults to 0.25): Beta of the VQ loss.
        norm_num_groups (`int`, defaults to 8): GroupNorm groups.
        v_min, v_max (`float`): Velocity normalisation limits, m/s.
        seismic_data_min, seismic_data_max (`float`): Raw OpenFWI amplitude limits for the
            seismic normalisation (default: the pooled limits of the eight families).
        scaling_factor (`float`, defaults to 1.0): Multiplies latents for the diffusion model
            (set by stage 2 to 1 / std of the training latents).
    """

    @register_to_config
    def __init__(
        self,
        seismic_shape: tuple[int, int, int] = (5, 1000, 70),
        velocity_shape: tuple[int, int] = (70, 70),
        seismic_working_shape: tuple[int, int] = (256, 64),
        seismic_strides: tuple[tuple[int, int], ...] = ((2, 2), (2, 2), (2, 1), (2, 1)),
        velocity_working_size: int = 64,
        block_out_channels: tuple[int, ...] = (16, 32, 64, 64),
        layers_per_block: int = 1,
        latent_channels: int = 8,
        num_vq_embeddings: int = 512,
        num_codebooks: int = 1,
        commitment_cost: float = 0.25,
        norm_num_groups: int = 8,
        v_min: float = 1500.0,
        v_max: float = 4500.0,
        seismic_data_min: float = -29.04,
        seismic_data_max: float = 57.03,
        scaling_factor: float = 1.0,
    ):
        super().__init__()
        if num_codebooks not in (1, 2) or latent_channels % num_codebooks:
            raise ValueError(
                f"num_codebooks must be 1 or 2 and divide latent_channels; got {num_codebooks} and {latent_channels}."
            )
        latent_shape, levels = check_seismic_grid(
            block_out_channels, seismic_working_shape, seismic_strides, velocity_working_size
        )
        self.latent_shape = latent_shape
        shots = seismic_shape[0]
        self.encoder = SeismicEncoder(
            shots, block_out_channels, seismic_strides, layers_per_block, latent_channels, norm_num_groups
        )
        self.quant_conv = nn.Conv2d(latent_channels, latent_channels, 1)
        half = latent_channels // num_codebooks
        self.quantizers = nn.ModuleList(
            VectorQuantizer(num_vq_embeddings, half, beta=commitment_cost, legacy=False)
            for _ in range(num_codebooks)
        )
        self.post_quant_conv = nn.Conv2d(latent_channels, latent_channels, 1)
        self.seismic_decoder = GridDecoder(
            latent_channels, block_out_channels, seismic_strides, layers_per_block, shots, norm_num_groups
        )
        velocity_channels = list(block_out_channels[-levels:]) if levels else []
        self.velocity_decoder = GridDecoder(
            latent_channels,
            velocity_channels or [block_out_channels[-1]],
            [(2, 2)] * levels or [(1, 1)],
            layers_per_block,
            1,
            norm_num_groups,
        )

    # ------------------------------------------------------------------------------------------
    # encode, quantise, decode

    def encode(self, seismic: torch.Tensor, return_dict: bool = True) -> JointVQEncoderOutput | tuple:
        r"""
        Args:
            seismic (`torch.Tensor` of shape `(batch_size, 5, 1000, 70)`): Normalised seismic.

        Returns:
            `JointVQEncoderOutput` with the continuous `latents`, `(batch_size, latent_channels, 16, 16)`.
        """
        expected = tuple(self.config.seismic_shape)
        if seismic.ndim != 4 or tuple(seismic.shape[1:]) != expected:
            raise ValueError(
                f"seismic must have shape (B, {', '.join(map(str, expected))}); got {tuple(seismic.shape)}."
            )
        x = F.interpolate(
            seismic,
            size=tuple(self.config.seismic_working_shape),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        latents = self.quant_conv(self.encoder(x))
        if not return_dict:
            return (latents,)
        return JointVQEncoderOutput(latents=latents)

    def quantize(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Nearest codebook entries: `(quantised, vq_loss, indices (B, num_codebooks, h, w))`."""
        parts = latents.chunk(len(self.quantizers), dim=1)
        quantised, losses, indices = [], [], []
        for part, quantizer in zip(parts, self.quantizers, strict=True):
            z_q, loss, (_, _, index) = quantizer(part)
            quantised.append(z_q)
            losses.append(loss)
            indices.append(index.reshape(part.shape[0], *part.shape[2:]))
        return torch.cat(quantised, dim=1), torch.stack(losses).mean(), torch.stack(indices, dim=1)

    @torch.no_grad()
    def refresh_codebooks(
        self, latents: torch.Tensor, usage: torch.Tensor | None = None, generator=None
    ) -> int:
        r"""
        Point codebook entries at encoder outputs: all of them (`usage=None`, data-dependent
        initialisation), or those used fewer than once (`usage`, dead-code restart).

        Codes initialised near zero (diffusers' default) leave most of a codebook unused: every
        latent vector snaps to the few entries that happen to move first, and the quantisation
        error stays large. Setting entries to randomly chosen latent vectors avoids that collapse.

        Args:
            latents (`torch.Tensor` of shape `(batch_size, latent_channels, h, w)`): Recent encoder
                outputs (before quantisation).
            usage (`torch.Tensor` of shape `(num_codebooks, num_vq_embeddings)`, *optional*): How
                often each entry was chosen recently; entries with zero use are refreshed.
            generator (`torch.Generator`, *optional*): For the choice of vectors.

        Returns:
            `int`: the number of entries refreshed.
        """
        refreshed = 0
        for book, (part, quantizer) in enumerate(
            zip(latents.chunk(len(self.quantizers), dim=1), self.quantizers, strict=True)
        ):
            vectors = part.permute(0, 2, 3, 1).reshape(-1, part.shape[1])
            weight = quantizer.embedding.weight
            targets = (
                torch.arange(weight.shape[0], device=weight.device)
                if usage is None
                else (usage[book] < 1).nonzero()[:, 0]
            )
            if targets.numel() == 0:
                continue
            picks = torch.randint(0, vectors.shape[0], (targets.numel(),), generator=generator).to(
                vectors.device
            )
            weight.data[targets] = vectors[picks].to(weight.dtype)
            refreshed += int(targets.numel())
        return refreshed

    def decode(
        self, latents: torch.Tensor, force_not_quantize: bool = False, return_dict: bool = True
    ) -> JointVQDecoderOutput | tuple:
        r"""
        Decode latents to both modalities at their real shapes.

        Args:
            latents (`torch.Tensor` of shape `(batch_size, latent_channels, 16, 16)`): Latents
                (unscaled: divide diffusion samples by `config.scaling_factor` first).
            force_not_quantize (`bool`, defaults to `False`): Decode the latents as they are,
                without snapping them to the codebook.
            return_dict (`bool`, defaults to `True`): Return a `JointVQDecoderOutput`.
        """
        commit_loss = indices = None
        if not force_not_quantize:
            latents, commit_loss, indices = self.quantize(latents)
        z = self.post_quant_conv(latents)
        seismic = F.interpolate(
            self.seismic_decoder(z),
            size=tuple(self.config.seismic_shape[1:]),
            mode="bilinear",
            align_corners=False,
        )
        velocity = F.interpolate(
            self.velocity_decoder(z),
            size=tuple(self.config.velocity_shape),
            mode="bilinear",
            align_corners=False,
        )
        if not return_dict:
            return (velocity, seismic, commit_loss, indices)
        return JointVQDecoderOutput(
            velocity=velocity, seismic=seismic, commit_loss=commit_loss, indices=indices
        )

    def forward(self, seismic: torch.Tensor, return_dict: bool = True) -> JointVQDecoderOutput | tuple:
        r"""Encode normalised seismic, quantise, and decode both modalities (a stage-1 training step)."""
        return self.decode(self.encode(seismic).latents, return_dict=return_dict)

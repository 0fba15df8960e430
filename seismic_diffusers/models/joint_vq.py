"""A VQ autoencoder for seismic-velocity pairs with two decoders (WaveDiffusion, stage 1).

One seismic encoder and a shared latent (1VQ), or a seismic and a velocity encoder with one
codebook each (2VQ with two encoders).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.autoencoders.vae import VectorQuantizer
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from diffusers.utils.accelerate_utils import apply_forward_hook

from .seismic_blocks import GridDecoder, OpenFWIUnitsMixin, SeismicEncoder, check_seismic_grid


def check_latent_statistics(latents_mean, latents_std, latent_channels: int) -> None:
    """Raise a `ValueError` unless the per-channel latent statistics are both absent, or both
    `latent_channels` finite numbers with positive stds."""
    if (latents_mean is None) != (latents_std is None):
        raise ValueError("latents_mean and latents_std go together: give both or neither.")
    if latents_mean is None:
        return
    for name, values in (("latents_mean", latents_mean), ("latents_std", latents_std)):
        if len(values) != latent_channels or not all(math.isfinite(float(v)) for v in values):
            raise ValueError(
                f"{name} must hold {latent_channels} finite numbers (one per latent channel); got {values!r}."
            )
    if min(float(v) for v in latents_std) <= 0:
        raise ValueError(f"latents_std must be positive; got {latents_std!r}.")


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

    Two layouts:

    - `velocity_encoder=False` (default): one encoder reads the seismic data, as in the paper's
      appendix A.1.1, and its latent is learnt to decode to both. It is quantised with one shared
      codebook (`num_codebooks=1`, the paper's 1VQ) or with two codebooks over the two halves of
      its channels (`num_codebooks=2`). Its velocity reconstruction is an inversion, so its
      velocity error is an inversion network's.
    - `velocity_encoder=True` (2VQ with two encoders; needs `num_codebooks=2`): the first half of
      the latent channels encodes the seismic data and the second half the velocity map, each with
      its own encoder, codebook and decoder. Each modality is then reconstructed from its own code,
      sharply; what ties a pair together is learnt by the latent diffusion model over both halves.
      `encode` needs both modalities, `encode_seismic` gives the seismic half alone (inversion).

    The model works on a reduced grid and resamples at its edges, so callers use real shapes:

    - seismic `(5, 1000, 70)` is resampled (bilinear, antialiased) to `seismic_working_shape`
      (with `seismic_receiver_padding` p > 0 the receiver axis is instead edge-padded to 70 + 2p
      and cropped back after decoding, so only time is resampled),
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
        velocity_encoder (`bool`, defaults to `False`): Encode the velocity map into the second half
            of the latent channels with its own encoder (see above).
        seismic_receiver_padding (`int`, defaults to 0): Receivers added by edge padding on each
            side instead of resampling the receiver axis (0: resample). Resampling 70 receivers to
            64 and back alone costs a relative L2 error of about 0.16 on OpenFWI-style gathers;
            padding 70 to 80 and resampling time to 320 costs about 0.04.
        commitment_cost (`float`, defaults to 0.25): Beta of the VQ loss.
        norm_num_groups (`int`, defaults to 8): GroupNorm groups.
        v_min, v_max (`float`): Velocity normalisation limits, m/s.
        seismic_data_min, seismic_data_max (`float`): Raw OpenFWI amplitude limits for the
            seismic normalisation (default: the pooled limits of the eight families).
        scaling_factor (`float`, defaults to 1.0): Multiplies latents for the diffusion model
            (set by stage 2 to 1 / std of the training latents with `--latent_scaling global`; 1.0
            with per-channel statistics).
        latents_mean, latents_std (`tuple[float, ...]`, *optional*): Per-channel mean and std of the
            training latents (diffusers' `AutoencoderKL` convention). When set, the diffusion model
            sees `(latents - latents_mean) * scaling_factor / latents_std`, so with
            `scaling_factor=1` every channel has unit variance. The channels of a two-codebook
            latent can differ in std more than 10x, and with one scalar the quiet ones drown in the
            sampler's error. See `scale_latents`.
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
        velocity_encoder: bool = False,
        seismic_receiver_padding: int = 0,
        latents_mean: tuple[float, ...] | None = None,
        latents_std: tuple[float, ...] | None = None,
    ):
        super().__init__()
        check_latent_statistics(latents_mean, latents_std, latent_channels)
        if num_codebooks not in (1, 2) or latent_channels % num_codebooks:
            raise ValueError(
                f"num_codebooks must be 1 or 2 and divide latent_channels; got {num_codebooks} and {latent_channels}."
            )
        if not isinstance(seismic_receiver_padding, int) or seismic_receiver_padding < 0:
            raise ValueError(
                f"seismic_receiver_padding must be an integer >= 0; got {seismic_receiver_padding!r}."
            )
        receivers = seismic_shape[2] + 2 * seismic_receiver_padding
        if seismic_receiver_padding and seismic_working_shape[1] != receivers:
            raise ValueError(
                f"With seismic_receiver_padding {seismic_receiver_padding} the working grid must have "
                f"{receivers} receivers (the data's plus twice the padding); got {seismic_working_shape[1]}."
            )
        if velocity_encoder and num_codebooks != 2:
            raise ValueError(
                f"velocity_encoder=True needs num_codebooks=2 (one codebook per modality); got {num_codebooks}."
            )
        latent_shape, levels = check_seismic_grid(
            block_out_channels, seismic_working_shape, seismic_strides, velocity_working_size
        )
        self.latent_shape = latent_shape
        shots = seismic_shape[0]
        half = latent_channels // num_codebooks
        self.encoder = SeismicEncoder(
            shots,
            block_out_channels,
            seismic_strides,
            layers_per_block,
            half if velocity_encoder else latent_channels,
            norm_num_groups,
        )
        # With two encoders the 1x1 convolutions act on each modality's half separately (groups=2)
        groups = 2 if velocity_encoder else 1
        self.quant_conv = nn.Conv2d(latent_channels, latent_channels, 1, groups=groups)
        self.quantizers = nn.ModuleList(
            VectorQuantizer(num_vq_embeddings, half, beta=commitment_cost, legacy=False)
            for _ in range(num_codebooks)
        )
        self.post_quant_conv = nn.Conv2d(latent_channels, latent_channels, 1, groups=groups)
        decoder_in = half if velocity_encoder else latent_channels
        self.seismic_decoder = GridDecoder(
            decoder_in, block_out_channels, seismic_strides, layers_per_block, shots, norm_num_groups
        )
        velocity_channels = list(block_out_channels[-levels:]) if levels else [block_out_channels[-1]]
        velocity_strides = [(2, 2)] * levels or [(1, 1)]
        self.velocity_decoder = GridDecoder(
            decoder_in, velocity_channels, velocity_strides, layers_per_block, 1, norm_num_groups
        )
        self.velocity_map_encoder = (
            SeismicEncoder(1, velocity_channels, velocity_strides, layers_per_block, half, norm_num_groups)
            if velocity_encoder
            else None
        )

    # ------------------------------------------------------------------------------------------
    # encode, quantise, decode

    def _check_seismic(self, seismic: torch.Tensor) -> None:
        expected = tuple(self.config.seismic_shape)
        if seismic.ndim != 4 or tuple(seismic.shape[1:]) != expected:
            raise ValueError(
                f"seismic must have shape (B, {', '.join(map(str, expected))}); got {tuple(seismic.shape)}."
            )

    def _encode_seismic_raw(self, seismic: torch.Tensor) -> torch.Tensor:
        self._check_seismic(seismic)
        padding = self.config.seismic_receiver_padding
        if padding:
            seismic = F.pad(seismic, (padding, padding, 0, 0), mode="replicate")
        x = F.interpolate(
            seismic,
            size=tuple(self.config.seismic_working_shape),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        return self.encoder(x)

    @apply_forward_hook
    def encode(
        self, seismic: torch.Tensor, velocity: torch.Tensor | None = None, return_dict: bool = True
    ) -> JointVQEncoderOutput | tuple:
        r"""
        Args:
            seismic (`torch.Tensor` of shape `(batch_size, 5, 1000, 70)`): Normalised seismic.
            velocity (`torch.Tensor` of shape `(batch_size, 1, 70, 70)`, *optional*): Normalised
                velocity; needed (and only read) when `config.velocity_encoder` is set.

        Returns:
            `JointVQEncoderOutput` with the continuous `latents`, `(batch_size, latent_channels, 16, 16)`.
        """
        if self.velocity_map_encoder is None:
            latents = self.quant_conv(self._encode_seismic_raw(seismic))
        else:
            expected = (seismic.shape[0], 1, *self.config.velocity_shape)
            if velocity is None or tuple(velocity.shape) != expected:
                got = None if velocity is None else tuple(velocity.shape)
                raise ValueError(
                    f"A model with a velocity encoder encodes pairs: velocity must have shape {expected}; got {got}."
                )
            raw = torch.cat([self._encode_seismic_raw(seismic), self._encode_velocity_raw(velocity)], dim=1)
            latents = self.quant_conv(raw)
        if not return_dict:
            return (latents,)
        return JointVQEncoderOutput(latents=latents)

    @apply_forward_hook
    def encode_seismic(self, seismic: torch.Tensor) -> torch.Tensor:
        r"""
        The seismic half of the latent, for a model with a velocity encoder (inversion's known part).

        Args:
            seismic (`torch.Tensor` of shape `(batch_size, 5, 1000, 70)`): Normalised seismic.

        Returns:
            `torch.Tensor` of shape `(batch_size, latent_channels // 2, *latent_shape)` (16 x 16 for the
            default grid, 20 x 20 for the padded one): continuous latents.
        """
        if self.velocity_map_encoder is None:
            raise ValueError("encode_seismic needs a model with a velocity encoder; use encode().")
        return self._quant_conv_half(self._encode_seismic_raw(seismic), seismic_half=True)

    @apply_forward_hook
    def encode_velocity(self, velocity: torch.Tensor) -> torch.Tensor:
        r"""
        The velocity half of the latent, for a model with a velocity encoder (no seismic needed).

        Args:
            velocity (`torch.Tensor` of shape `(batch_size, 1, 70, 70)`): Normalised velocity.

        Returns:
            `torch.Tensor` of shape `(batch_size, latent_channels // 2, *latent_shape)` (16 x 16 for the
            default grid, 20 x 20 for the padded one): continuous latents.
        """
        if self.velocity_map_encoder is None:
            raise ValueError("encode_velocity needs a model with a velocity encoder; use encode().")
        expected = (1, *self.config.velocity_shape)
        if velocity.ndim != 4 or tuple(velocity.shape[1:]) != expected:
            raise ValueError(
                f"velocity must have shape (B, {', '.join(map(str, expected))}); got {tuple(velocity.shape)}."
            )
        return self._quant_conv_half(self._encode_velocity_raw(velocity), seismic_half=False)

    def _encode_velocity_raw(self, velocity: torch.Tensor) -> torch.Tensor:
        size = (self.config.velocity_working_size,) * 2
        v = F.interpolate(velocity, size=size, mode="bilinear", align_corners=False, antialias=True)
        return self.velocity_map_encoder(v)

    def _quant_conv_half(self, raw: torch.Tensor, seismic_half: bool) -> torch.Tensor:
        """One modality's half of `quant_conv` (grouped, so each half reads only its encoder)."""
        half = self.config.latent_channels // 2
        part = slice(None, half) if seismic_half else slice(half, None)
        return F.conv2d(raw, self.quant_conv.weight[part], self.quant_conv.bias[part])

    @apply_forward_hook
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

    def _latent_statistics(self, latents: torch.Tensor) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        if self.config.latents_mean is None:
            return 0.0, 1.0
        shape = (1, -1, 1, 1)
        mean = torch.tensor(self.config.latents_mean, dtype=latents.dtype, device=latents.device)
        std = torch.tensor(self.config.latents_std, dtype=latents.dtype, device=latents.device)
        return mean.view(shape), std.view(shape)

    def scale_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents `(B, latent_channels, h, w)` -> the diffusion model's space:
        `(latents - latents_mean) * scaling_factor / latents_std` (mean 0, std 1 without statistics)."""
        mean, std = self._latent_statistics(latents)
        return (latents - mean) * self.config.scaling_factor / std

    def unscale_latents(self, scaled: torch.Tensor) -> torch.Tensor:
        """The inverse of `scale_latents`: diffusion samples -> latents `decode` takes."""
        mean, std = self._latent_statistics(scaled)
        return scaled * std / self.config.scaling_factor + mean

    @apply_forward_hook
    def decode(
        self, latents: torch.Tensor, force_not_quantize: bool = False, return_dict: bool = True
    ) -> JointVQDecoderOutput | tuple:
        r"""
        Decode latents to both modalities at their real shapes.

        Args:
            latents (`torch.Tensor` of shape `(batch_size, latent_channels, 16, 16)`): Latents
                (unscaled: pass diffusion samples through `unscale_latents` first).
            force_not_quantize (`bool`, defaults to `False`): Decode the latents as they are,
                without snapping them to the codebook.
            return_dict (`bool`, defaults to `True`): Return a `JointVQDecoderOutput`.
        """
        commit_loss = indices = None
        if not force_not_quantize:
            latents, commit_loss, indices = self.quantize(latents)
        z = self.post_quant_conv(latents)
        z_seismic, z_velocity = z.chunk(2, dim=1) if self.velocity_map_encoder is not None else (z, z)
        seismic = self.seismic_decoder(z_seismic)
        padding = self.config.seismic_receiver_padding
        if padding:
            seismic = seismic[..., padding:-padding]
        seismic = F.interpolate(
            seismic,
            size=tuple(self.config.seismic_shape[1:]),
            mode="bilinear",
            align_corners=False,
        )
        velocity = F.interpolate(
            self.velocity_decoder(z_velocity),
            size=tuple(self.config.velocity_shape),
            mode="bilinear",
            align_corners=False,
        )
        if not return_dict:
            return (velocity, seismic, commit_loss, indices)
        return JointVQDecoderOutput(
            velocity=velocity, seismic=seismic, commit_loss=commit_loss, indices=indices
        )

    def forward(
        self, seismic: torch.Tensor, velocity: torch.Tensor | None = None, return_dict: bool = True
    ) -> JointVQDecoderOutput | tuple:
        r"""Encode normalised seismic (and velocity, with a velocity encoder), quantise, and decode both (stage-1 training)."""
        return self.decode(self.encode(seismic, velocity).latents, return_dict=return_dict)


@torch.no_grad()
def encode_paired_dataset(vqvae: JointVQModel, dataset, batch_size: int = 32) -> torch.Tensor:
    """Quantised latents `(N, latent_channels, h, w)`, unscaled, on the CPU, of every pair of a paired
    dataset (items with `"seismic"` and `"velocity"` in raw units, e.g. `data.open_paired_folders`):
    its seismic code, and its velocity code too when the autoencoder has a velocity encoder. An
    empty dataset gives `(0, latent_channels, h, w)`."""
    from tqdm.auto import tqdm

    latents = [torch.zeros(0, vqvae.config.latent_channels, *vqvae.latent_shape)]
    for start in tqdm(range(0, len(dataset), batch_size), desc="encode", leave=False):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        seismic = torch.stack([item["seismic"] for item in items]).to(vqvae.device, vqvae.dtype)
        velocity = torch.stack([item["velocity"] for item in items]).to(vqvae.device, vqvae.dtype)
        encoded = vqvae.encode(vqvae.normalize_seismic(seismic), vqvae.normalize_velocity(velocity)).latents
        latents.append(vqvae.quantize(encoded)[0].float().cpu())
    return torch.cat(latents)

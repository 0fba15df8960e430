"""A denoiser that scales the short-time Fourier transform of a seismogram by a predicted mask."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models import UNet2DModel
from diffusers.models.modeling_utils import ModelMixin

from .unet_1d_denoiser import SeismogramUNet1DOutput


class SeismogramSpectralMaskModel(ModelMixin, ConfigMixin):
    r"""
    Predicts the clean signal `x0` from a degraded seismogram by masking its STFT, cell by cell.

    Each component's STFT (periodic Hann window of `n_fft` samples, hop `hop_length`, centred
    frames) is cut to its lowest `frequency_bins` bins; their log magnitudes (centred per window)
    and a frequency coordinate go into a [`~diffusers.UNet2DModel`] over (frequency, frame), whose
    three outputs are sigmoid masks in (0, 1). The masked transform is inverted; bins above
    `frequency_bins` are set to zero. This is the form of the ideal time-frequency mask
    (`metrics.oracle_mask_estimate`), the ceiling the benchmark reports, and of DeepDenoiser: the
    model only chooses, per cell, how much of the input to keep, so it cannot invent signal, and a
    mask of ones passes a clean input through unchanged. With the defaults at 100 Hz: 2.56 s
    windows, 0.64 s hop, 0-24.6 Hz (the processor's 1-20 Hz band with its roll-off).

    It is a drop-in for [`SeismogramUNet1DModel`] in [`ColdDiffusionDenoisePipeline`]: same call,
    same output, conditioned on the cold-diffusion timestep through the U-Net's own embedding.

    Args:
        in_channels (`int`, defaults to 3): Components in and out (E, N, Z by default).
        n_fft (`int`, defaults to 256): STFT window in samples.
        hop_length (`int`, defaults to 64): STFT hop in samples.
        frequency_bins (`int`, defaults to 64): Lowest bins kept (`n_fft // 2 + 1` keeps all).
        block_out_channels (`tuple[int]`, defaults to `(16, 32, 64)`): U-Net widths per level.
        layers_per_block (`int`, defaults to 1): ResNet blocks per U-Net level.
        norm_num_groups (`int`, defaults to 8): GroupNorm groups (divides every width).
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        n_fft: int = 256,
        hop_length: int = 64,
        frequency_bins: int = 64,
        block_out_channels: tuple[int, ...] = (16, 32, 64),
        layers_per_block: int = 1,
        norm_num_groups: int = 8,
    ):
        super().__init__()
        if not 0 < hop_length <= n_fft:
            raise ValueError(f"`hop_length` must be in (0, n_fft={n_fft}], got {hop_length}.")
        if not 0 < frequency_bins <= n_fft // 2 + 1:
            raise ValueError(f"`frequency_bins` must be in (0, {n_fft // 2 + 1}], got {frequency_bins}.")
        levels = len(block_out_channels)
        if not block_out_channels or any(w <= 0 or w % norm_num_groups for w in block_out_channels):
            raise ValueError(
                f"`block_out_channels` must be positive multiples of `norm_num_groups` ({norm_num_groups}), "
                f"got {tuple(block_out_channels)}."
            )
        if frequency_bins % 2 ** (levels - 1):
            raise ValueError(
                f"`frequency_bins` ({frequency_bins}) must be a multiple of 2 ** (levels - 1) = {2 ** (levels - 1)}."
            )
        self.unet = UNet2DModel(
            in_channels=in_channels + 1,  # log magnitudes and the frequency coordinate
            out_channels=in_channels,
            block_out_channels=tuple(block_out_channels),
            layers_per_block=layers_per_block,
            down_block_types=("DownBlock2D",) * levels,
            up_block_types=("UpBlock2D",) * levels,
            norm_num_groups=norm_num_groups,
        )
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(
        self, sample: torch.Tensor, timestep: torch.Tensor | float | int, return_dict: bool = True
    ) -> SeismogramUNet1DOutput | tuple:
        r"""
        Args:
            sample (`torch.Tensor` of shape `(batch, in_channels, samples)`): Degraded, normalised
                seismograms; any length (shorter than `n_fft` is zero-padded and cropped back).
            timestep (`torch.Tensor` of shape `(batch,)`, or a number): Degradation step.
            return_dict (`bool`, defaults to `True`): Return a `SeismogramUNet1DOutput`.

        Returns:
            The clean estimate, `(batch, in_channels, samples)`, in the input's dtype.
        """
        config = self.config
        batch, channels, length = sample.shape
        x = sample.float()
        if length < config.n_fft:
            x = F.pad(x, (0, config.n_fft - length))
        window = self.window.to(x.device)
        spectrum = torch.stft(
            x.reshape(batch * channels, -1),
            config.n_fft,
            config.hop_length,
            window=window,
            return_complex=True,
        )
        spectrum = spectrum.reshape(batch, channels, *spectrum.shape[-2:])
        kept = spectrum[:, :, : config.frequency_bins]
        frames = kept.shape[-1]
        log_magnitude = torch.log(kept.abs() + 1e-4)
        log_magnitude = log_magnitude - log_magnitude.mean(dim=(1, 2, 3), keepdim=True)
        frequency = torch.linspace(-1.0, 1.0, config.frequency_bins, device=x.device)
        frequency = frequency[None, None, :, None].expand(batch, 1, -1, frames)
        features = torch.cat([log_magnitude, frequency], dim=1)
        pad = (-frames) % 2 ** (len(config.block_out_channels) - 1)
        features = F.pad(features, (0, pad, 0, 0), mode="replicate") if pad else features
        timesteps = torch.as_tensor(timestep, device=x.device)
        timesteps = (timesteps[None] if timesteps.ndim == 0 else timesteps).expand(batch)
        mask = torch.sigmoid(self.unet(features.to(self.unet.dtype), timesteps).sample[..., :frames].float())
        masked = torch.zeros_like(spectrum)
        masked[:, :, : config.frequency_bins] = kept * mask
        out = torch.istft(
            masked.reshape(batch * channels, *spectrum.shape[-2:]),
            config.n_fft,
            config.hop_length,
            window=window,
            length=x.shape[-1],
        )
        out = out.reshape(batch, channels, -1)[..., :length].to(sample.dtype)
        if not return_dict:
            return (out,)
        return SeismogramUNet1DOutput(sample=out)

"""Spectrogram autoencoders for three-component earthquake waveforms: AE, VAE and conditional VAE.

The architectures follow the Seismic Diffusion Project (diffusion models on Kandilli Observatory
records from the Marmara Sea region).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from diffusers.utils.accelerate_utils import apply_forward_hook
from torch import nn

CONDITION_FEATURES = ("magnitude", "latitude", "longitude", "depth_km")


def normalize_conditions(config, conditions: torch.Tensor) -> torch.Tensor:
    """`(B, 4)` magnitude, latitude, longitude, depth (km) -> [-1, 1] over a model config's ranges."""
    ranges = torch.tensor(
        [config.magnitude_range, config.latitude_range, config.longitude_range, config.depth_range_km],
        dtype=conditions.dtype,
        device=conditions.device,
    )
    return 2.0 * (conditions - ranges[:, 0]) / (ranges[:, 1] - ranges[:, 0]) - 1.0


def check_station_names(station_names, num_stations: int) -> None:
    if station_names is not None and len(station_names) != num_stations:
        raise ValueError(f"Got {len(station_names)} station_names for num_stations={num_stations}.")


def _encoder(in_channels: int, widths: Sequence[int]) -> nn.Sequential:
    """The shared encoder: 3x3 convolutions with stride 2, batch norm and ReLU, one per width."""
    layers, previous = [], in_channels
    for width in widths:
        layers += [nn.Conv2d(previous, width, 3, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        previous = width
    return nn.Sequential(*layers)


def _decoder(out_channels: int, widths: Sequence[int]) -> nn.Sequential:
    """The mirror: 4x4 transposed convolutions with stride 2 (batch norm and ReLU between)."""
    widths = list(widths)[::-1]
    layers = []
    for width, following in zip(widths, widths[1:] + [out_channels], strict=True):
        layers.append(nn.ConvTranspose2d(width, following, 4, stride=2, padding=1))
        if following != out_channels:
            layers += [nn.BatchNorm2d(following), nn.ReLU()]
    return nn.Sequential(*layers)


class _PaddedGrid:
    """Pads `(B, C, H, W)` to multiples of `2 ** levels` and crops back (129 x 110 -> 144 x 112)."""

    def __init__(self, shape: Sequence[int], levels: int):
        factor = 2**levels
        self.shape = tuple(int(s) for s in shape)
        self.padded = tuple(math.ceil(s / factor) * factor for s in self.shape)
        self.latent = tuple(p // factor for p in self.padded)

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.shape:
            raise ValueError(
                f"Expected spectrograms of (..., {self.shape[0]}, {self.shape[1]}); got {tuple(x.shape)}."
            )
        return F.pad(
            x, (0, self.padded[1] - self.shape[1], 0, self.padded[0] - self.shape[0]), mode="replicate"
        )

    def crop(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., : self.shape[0], : self.shape[1]]


@dataclass
class SpectrogramAutoencoderOutput(BaseOutput):
    """
    Args:
        sample (`torch.Tensor` of shape `(B, C, F, T)`): The reconstruction.
        latents (`torch.Tensor`): The code: `(B, 256, F/16, T/16)` for the AE, `(B, 128)` for the VAEs.
        mean, logvar (`torch.Tensor` of shape `(B, latent_dim)`, *optional*): The VAEs' posterior.
        log_peak (`torch.Tensor` of shape `(B,)`, *optional*): Predicted log10 record peak (VAEs
            with `predict_log_peak`), in the units of the training records.
    """

    sample: torch.Tensor
    latents: torch.Tensor
    mean: torch.Tensor | None = None
    logvar: torch.Tensor | None = None
    log_peak: torch.Tensor | None = None


class SpectrogramAutoencoder(ModelMixin, ConfigMixin):
    r"""
    A deterministic autoencoder: four stride-2 convolutions (32 -> 64 -> 128 -> 256) with
    batch norm and ReLU, a spatial latent `(256, F/16, T/16)`, and a mirrored transposed-conv
    decoder; trained with MSE.

    Args:
        in_channels (`int`, defaults to 3): Spectrogram channels (E, N, Z).
        spectrogram_shape (`tuple[int, int]`, defaults to `(129, 110)`): `(frequencies, frames)`;
            padded internally to multiples of 16.
        block_out_channels (`tuple[int]`, defaults to `(32, 64, 128, 256)`).
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        spectrogram_shape: Sequence[int] = (129, 110),
        block_out_channels: Sequence[int] = (32, 64, 128, 256),
    ):
        super().__init__()
        self.grid = _PaddedGrid(spectrogram_shape, len(block_out_channels))
        self.encoder = _encoder(in_channels, block_out_channels)
        self.decoder = _decoder(in_channels, block_out_channels)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.grid.pad(x))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.grid.crop(self.decoder(latents))

    def forward(self, x: torch.Tensor, return_dict: bool = True):
        latents = self.encode(x)
        sample = self.decode(latents)
        return SpectrogramAutoencoderOutput(sample, latents) if return_dict else (sample, latents)


class SpectrogramVAE(ModelMixin, ConfigMixin):
    r"""
    A VAE (`num_stations=0`) or conditional VAE (`num_stations > 0`) over spectrograms.

    The encoder is the autoencoder's conv stack, flattened and projected to a mean and a
    log-variance of `latent_dim` (128); the decoder projects `z` back to `(256, F/16, T/16)` and
    runs the mirrored transposed convolutions. Trained with MSE + beta * KL.

    Conditional (CVAE): the condition is the event magnitude, its latitude, longitude and depth
    (each mapped to [-1, 1] with the ranges in the config) and a learned
    `station_embedding_dim` (16) station embedding; a small network (Linear, SiLU, Linear) turns
    them into a `condition_dim` (64) vector, concatenated to the flattened image features in the
    encoder and to `z` in the decoder. Station index `num_stations` is the "unknown station"
    embedding, trained by dropping the station with probability `station_dropout` (training
    script), so a pipeline can generate for a station it has not seen.

    Amplitude (`predict_log_peak=True`, for spectrograms of peak-normalised records): a head
    (Linear, SiLU, Linear) on `z` and the condition predicts the record's log10 peak, mapped from
    `log_peak_range` to [-1, 1]. The spectrogram carries the shape of the record and the head its
    size, so the magnitude-amplitude law is learnt as a regression on the condition rather than
    through the decoder's log scale. The encoder does not see the peak: if it did, `z` would
    carry it and prior samples of `z` would lose the law.

    Args:
        in_channels (`int`, defaults to 3), spectrogram_shape, block_out_channels: As the AE.
        latent_dim (`int`, defaults to 128).
        num_stations (`int`, defaults to 0): 0 for the unconditional VAE.
        station_embedding_dim (`int`, defaults to 16). condition_dim (`int`, defaults to 64).
        magnitude_range, latitude_range, longitude_range, depth_range_km (`tuple[float, float]`):
            Mapped to [-1, 1] (the training data's span; the pipeline refuses values outside).
        station_names (`list[str]`, *optional*): The station code of each embedding row.
        predict_log_peak (`bool`, defaults to `False`): Predict the record's log10 peak (above).
        log_peak_range (`tuple[float, float]`, defaults to `(-8.0, -3.0)`): log10 peaks mapped to
            [-1, 1] (the training data's span, in its units).
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        spectrogram_shape: Sequence[int] = (129, 110),
        block_out_channels: Sequence[int] = (32, 64, 128, 256),
        latent_dim: int = 128,
        num_stations: int = 0,
        station_embedding_dim: int = 16,
        condition_dim: int = 64,
        magnitude_range: Sequence[float] = (0.5, 5.0),
        latitude_range: Sequence[float] = (40.0, 41.5),
        longitude_range: Sequence[float] = (26.0, 30.5),
        depth_range_km: Sequence[float] = (0.0, 30.0),
        station_names: Sequence[str] | None = None,
        predict_log_peak: bool = False,
        log_peak_range: Sequence[float] = (-8.0, -3.0),
    ):
        super().__init__()
        check_station_names(station_names, num_stations)
        if predict_log_peak and not log_peak_range[1] > log_peak_range[0]:
            raise ValueError(f"Need log_peak_range[1] > log_peak_range[0]; got {tuple(log_peak_range)}.")
        self.grid = _PaddedGrid(spectrogram_shape, len(block_out_channels))
        self.encoder = _encoder(in_channels, block_out_channels)
        self.decoder = _decoder(in_channels, block_out_channels)
        features = block_out_channels[-1] * self.grid.latent[0] * self.grid.latent[1]
        conditioned = condition_dim if num_stations > 0 else 0
        self.to_moments = nn.Linear(features + conditioned, 2 * latent_dim)
        self.from_latent = nn.Linear(latent_dim + conditioned, features)
        if predict_log_peak:
            self.to_log_peak = nn.Sequential(
                nn.Linear(latent_dim + conditioned, condition_dim), nn.SiLU(), nn.Linear(condition_dim, 1)
            )
        if num_stations > 0:
            self.station_embedding = nn.Embedding(num_stations + 1, station_embedding_dim)  # + unknown
            self.condition_net = nn.Sequential(
                nn.Linear(len(CONDITION_FEATURES) + station_embedding_dim, condition_dim),
                nn.SiLU(),
                nn.Linear(condition_dim, condition_dim),
            )

    @property
    def conditional(self) -> bool:
        return self.config.num_stations > 0

    @property
    def unknown_station(self) -> int:
        """Index of the "unknown station" embedding."""
        return self.config.num_stations

    def normalize_conditions(self, conditions: torch.Tensor) -> torch.Tensor:
        """`(B, 4)` magnitude, latitude, longitude, depth (km) -> [-1, 1] over the config ranges."""
        return normalize_conditions(self.config, conditions)

    def condition(self, conditions: torch.Tensor, stations: torch.Tensor) -> torch.Tensor:
        """The `(B, condition_dim)` vector from raw `(B, 4)` conditions and `(B,)` station indices."""
        if not self.conditional:
            raise ValueError("This VAE is unconditional (num_stations=0).")
        features = torch.cat([self.normalize_conditions(conditions), self.station_embedding(stations)], dim=1)
        return self.condition_net(features)

    @apply_forward_hook
    def encode(
        self, x: torch.Tensor, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Spectrograms `(B, C, F, T)` -> posterior `(mean, logvar)`, each `(B, latent_dim)`."""
        features = self.encoder(self.grid.pad(x)).flatten(1)
        if self.conditional:
            features = torch.cat([features, condition], dim=1)
        mean, logvar = self.to_moments(features).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    @apply_forward_hook
    def decode_log_peak(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """`(B, latent_dim)` -> the `(B,)` predicted log10 record peaks (`predict_log_peak` models)."""
        if not self.config.predict_log_peak:
            raise ValueError("This VAE does not predict amplitudes (predict_log_peak=False).")
        if self.conditional:
            z = torch.cat([z, condition], dim=1)
        low, high = self.config.log_peak_range
        return (self.to_log_peak(z)[:, 0] + 1.0) * 0.5 * (high - low) + low

    @apply_forward_hook
    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """`(B, latent_dim)` -> spectrograms `(B, C, F, T)`."""
        if self.conditional:
            z = torch.cat([z, condition], dim=1)
        h = self.from_latent(z).view(z.shape[0], self.config.block_out_channels[-1], *self.grid.latent)
        return self.grid.crop(self.decoder(F.relu(h)))

    def forward(
        self,
        x: torch.Tensor,
        conditions: torch.Tensor | None = None,
        stations: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        sample_posterior: bool = True,
        return_dict: bool = True,
    ):
        condition = self.condition(conditions, stations) if self.conditional else None
        mean, logvar = self.encode(x, condition)
        z = mean
        if sample_posterior:
            noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            z = mean + torch.exp(0.5 * logvar) * noise
        sample = self.decode(z, condition)
        predicted = self.decode_log_peak(z, condition) if self.config.predict_log_peak else None
        output = SpectrogramAutoencoderOutput(sample, z, mean, logvar, predicted)
        return output if return_dict else output.to_tuple()

    @staticmethod
    def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(N(mean, exp(logvar)) || N(0, I)), summed over latent dimensions, averaged over the batch."""
        return (-0.5 * (1 + logvar - mean.pow(2) - logvar.exp()).sum(dim=1)).mean()

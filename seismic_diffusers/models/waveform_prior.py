"""A diffusion prior over a waveform VAE's 128-d latent, conditioned on magnitude, location and station."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

from .waveform_vae import CONDITION_FEATURES, check_station_names, normalize_conditions


@dataclass
class WaveformLatentDenoiserOutput(BaseOutput):
    """
    Args:
        sample (`torch.Tensor` of shape `(B, latent_dim)`): The predicted noise.
    """

    sample: torch.Tensor


class _Block(nn.Module):
    def __init__(self, width: int, embedding_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.inject = nn.Linear(embedding_dim, 2 * width)  # scale and shift from time + condition
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.SiLU(), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        scale, shift = self.inject(embedding).chunk(2, dim=1)
        return x + self.mlp(self.norm(x) * (1 + scale) + shift)


class WaveformLatentDenoiser(ModelMixin, ConfigMixin):
    r"""
    Predicts the noise in a VAE latent `(B, latent_dim)` given the timestep and the event
    condition: magnitude, latitude, longitude, depth (each mapped to [-1, 1] over the config's
    ranges) and a learned station embedding, with an "unknown station" row (index
    `num_stations`) used for classifier-free-style condition dropout in training.

    An MLP of residual blocks whose LayerNorm output is scaled and shifted by the sum of the
    timestep embedding (diffusers' `Timesteps` + `TimestepEmbedding`) and the condition embedding.

    Args:
        latent_dim (`int`, defaults to 128). width (`int`, defaults to 512). num_blocks (`int`, defaults to 4).
        num_stations (`int`, defaults to 8). station_embedding_dim (`int`, defaults to 16).
        embedding_dim (`int`, defaults to 256).
        magnitude_range, latitude_range, longitude_range, depth_range_km, station_names: As
            `SpectrogramVAE`.
    """

    @register_to_config
    def __init__(
        self,
        latent_dim: int = 128,
        width: int = 512,
        num_blocks: int = 4,
        num_stations: int = 8,
        station_embedding_dim: int = 16,
        embedding_dim: int = 256,
        magnitude_range: Sequence[float] = (0.5, 5.0),
        latitude_range: Sequence[float] = (40.0, 41.5),
        longitude_range: Sequence[float] = (26.0, 30.5),
        depth_range_km: Sequence[float] = (0.0, 30.0),
        station_names: Sequence[str] | None = None,
    ):
        super().__init__()
        check_station_names(station_names, num_stations)
        self.time_proj = Timesteps(embedding_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(embedding_dim, embedding_dim)
        self.station_embedding = nn.Embedding(num_stations + 1, station_embedding_dim)
        self.condition_embedding = nn.Sequential(
            nn.Linear(len(CONDITION_FEATURES) + station_embedding_dim, embedding_dim),
            nn.SiLU(),
            nn.Linear(embedding_dim, embedding_dim),
        )
        self.proj_in = nn.Linear(latent_dim, width)
        self.blocks = nn.ModuleList(_Block(width, embedding_dim) for _ in range(num_blocks))
        self.norm_out = nn.LayerNorm(width)
        self.proj_out = nn.Linear(width, latent_dim)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    @property
    def unknown_station(self) -> int:
        return self.config.num_stations

    def normalize_conditions(self, conditions: torch.Tensor) -> torch.Tensor:
        """`(B, 4)` magnitude, latitude, longitude, depth (km) -> [-1, 1] over the config ranges."""
        return normalize_conditions(self.config, conditions)

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | int,
        conditions: torch.Tensor,
        stations: torch.Tensor,
        return_dict: bool = True,
    ):
        r"""
        Args:
            sample (`torch.Tensor` of shape `(B, latent_dim)`): Noisy latents.
            timestep (`torch.Tensor` or `int`): Diffusion step(s).
            conditions (`torch.Tensor` of shape `(B, 4)`): Magnitude, latitude, longitude, depth (km).
            stations (`torch.Tensor` of shape `(B,)`): Station indices (`num_stations` = unknown).
        """
        timesteps = torch.as_tensor(timestep, device=sample.device).reshape(-1).expand(sample.shape[0])
        embedding = self.time_embedding(self.time_proj(timesteps).to(sample.dtype))
        features = torch.cat([self.normalize_conditions(conditions), self.station_embedding(stations)], dim=1)
        embedding = embedding + self.condition_embedding(features.to(sample.dtype))
        x = self.proj_in(sample)
        for block in self.blocks:
            x = block(x, embedding)
        out = self.proj_out(self.norm_out(x))
        return WaveformLatentDenoiserOutput(out) if return_dict else (out,)

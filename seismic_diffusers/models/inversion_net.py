"""An InversionNet-style network (shot gathers in, one velocity map out, trained by regression) and ensembles of it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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


def _hashable(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


class InversionNetEnsembleModel(ModelMixin, ConfigMixin):
    r"""
    Several [`InversionNetModel`]s that read the same gathers; the ensemble's map is the mean of theirs.

    Networks of different widths, trained separately, make partly independent errors, so their mean
    scores better than either (a test-time ensemble). The members are stored in one safetensors file
    and rebuilt from their configs, so the ensemble loads with `from_pretrained` like one network and
    can stand wherever an [`InversionNetModel`] does (e.g. [`VelocityInversionPipeline`]'s
    `inversion_net`).

    Args:
        members (`list[dict]`): Each member's [`InversionNetModel`] config (its `config` without the
            keys starting with `_`). All members must read the same `seismic_shape` and write the same
            `velocity_shape` with the same `v_min` / `v_max`.
        seismic_shape, velocity_shape, v_min, v_max: The members' common values, recorded for
            [`InversionNetModel`]'s readers; filled in from the members when left `None`.
    """

    @register_to_config
    def __init__(
        self,
        members: list[dict] = (),
        seismic_shape: tuple[int, int, int] | None = None,
        velocity_shape: tuple[int, int] | None = None,
        v_min: float | None = None,
        v_max: float | None = None,
    ):
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"An ensemble needs at least two members, got {len(members)}.")
        self.networks = torch.nn.ModuleList(InversionNetModel(**dict(member)) for member in members)
        common = {}
        for key, given in (
            ("seismic_shape", seismic_shape),
            ("velocity_shape", velocity_shape),
            ("v_min", v_min),
            ("v_max", v_max),
        ):
            values = {_hashable(m.config[key]) for m in self.networks}
            if len(values) != 1:
                raise ValueError(f"The members disagree on `{key}`: {sorted(values)}.")
            common[key] = values.pop()
            if given is not None and _hashable(given) != common[key]:
                raise ValueError(f"`{key}`={given!r} differs from the members' {common[key]!r}.")
        self.register_to_config(**common)

    @classmethod
    def from_members(cls, networks: list[InversionNetModel]) -> InversionNetEnsembleModel:
        """An ensemble holding (copies of) trained networks' weights.

        Raises:
            ValueError: if a network is not an [`InversionNetModel`] (an ensemble is not nested).
        """
        for network in networks:
            if not isinstance(network, InversionNetModel):
                raise ValueError(f"Members must be InversionNetModel, got {type(network).__name__}.")
        configs = [{k: v for k, v in network.config.items() if not k.startswith("_")} for network in networks]
        ensemble = cls(members=configs)
        for member, network in zip(ensemble.networks, networks, strict=True):
            member.load_state_dict(network.state_dict())
        return ensemble

    def forward(self, seismic: torch.Tensor, return_dict: bool = True) -> InversionNetOutput | tuple:
        r"""
        Args:
            seismic (`torch.Tensor` of shape `(batch_size, 5, 1000, 70)`): Gathers in raw OpenFWI amplitude.
            return_dict (`bool`, defaults to `True`): Return an [`InversionNetOutput`].

        Returns:
            [`InversionNetOutput`] or `tuple`: the members' mean normalised velocity `(batch_size, 1, 70, 70)`
            (the normalisation is linear and shared, so this is also their mean in m/s).
        """
        velocity = torch.stack([member(seismic).velocity for member in self.networks]).mean(0)
        if not return_dict:
            return (velocity,)
        return InversionNetOutput(velocity=velocity)

    @torch.no_grad()
    def predict_velocity(self, seismic: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """Velocity maps in m/s, `(B, 70, 70)`: the mean of the members' maps, from raw gathers `(B, 5, 1000, 70)`."""
        return torch.stack([member.predict_velocity(seismic, batch_size) for member in self.networks]).mean(0)


def load_inversion_net(folder: str | Path) -> InversionNetModel | InversionNetEnsembleModel:
    """An [`InversionNetModel`] or [`InversionNetEnsembleModel`] folder, by the class its `config.json` names.

    Raises:
        ValueError: if `folder` has no `config.json` of either class.
    """
    config = Path(folder) / "config.json"
    name = json.loads(config.read_text()).get("_class_name") if config.is_file() else None
    classes = {cls.__name__: cls for cls in (InversionNetModel, InversionNetEnsembleModel)}
    if name not in classes:
        raise ValueError(
            f"{folder} holds no InversionNetModel or InversionNetEnsembleModel config.json (found {name!r})."
        )
    return classes[name].from_pretrained(str(folder)).eval()

"""Velocity inversion of shot gathers: the velocity prior's reverse diffusion pulled toward the data by deepwave."""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real

import numpy as np
import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from ..models.inversion_net import InversionNetEnsembleModel, InversionNetModel
from ..models.unet_velocity import VelocityUNet2DModel
from ..physics.fwi import check_gathers, full_waveform_inversion
from ..physics.geometry import OPENFWI, AcquisitionGeometry
from ..processors import VelocityProcessor
from ..schedulers.clean_estimate import clean_from_prediction, prediction_from_clean
from ..schedulers.timestep_spacing import power_timesteps, require_custom_timesteps, supports_custom_timesteps
from .pipeline_utils import SeismicDiffusionPipeline, check_finite_output

logger = logging.getLogger(__name__)

OUTPUT_TYPES = ("np", "pt")

EXAMPLE_DOC_STRING = """
    Examples:
        ```py
        >>> from seismic_diffusers import VelocityInversionPipeline, forward_model, generate_velocity_models
        >>> pipe = VelocityInversionPipeline.from_pretrained("pipelines/openfwi-velocity-inversion")
        >>> out = pipe(forward_model(generate_velocity_models("flatvel-a", 1, seed=300000)))
        >>> out.velocities.shape, out.std.shape, out.samples.shape  # m/s
        ((1, 70, 70), (1, 70, 70), (1, 4, 70, 70))
        ```
"""


@dataclass
class VelocityInversionOutput(BaseOutput):
    """
    Args:
        velocities (`np.ndarray` or `torch.Tensor` of shape `(B, nz, nx)`): Posterior mean, m/s.
        std (`np.ndarray` or `torch.Tensor` of shape `(B, nz, nx)`): The posterior standard
            deviation, m/s: the spread of the samples, calibrated by the pipeline's `std_scale` and
            `std_floor` (with the defaults 1 and 0, the spread itself; zero for `num_samples=1`).
        samples (`np.ndarray` or `torch.Tensor` of shape `(B, num_samples, nz, nx)`): The posterior
            samples, m/s.
        data_misfit (`np.ndarray` or `torch.Tensor` of shape `(B, num_samples)`): Each sample's
            relative gather misfit `sum(m (F(v) - d)^2) / sum(m d^2)` (0 = perfect fit,
            1 = the misfit of predicting silence).
    """

    velocities: np.ndarray | torch.Tensor
    std: np.ndarray | torch.Tensor
    samples: np.ndarray | torch.Tensor
    data_misfit: np.ndarray | torch.Tensor


def mirrors_onto_itself(geometry: AcquisitionGeometry, tolerance_cells: int = 1) -> bool:
    """Whether reversing the shot and receiver axes of a gather gives the gather of the mirrored map.

    True when sources and receivers are listed left to right and sit where their mirror images
    are, within `tolerance_cells` (OpenFWI's middle shot, at x = 34 of 0-69, is one cell off).
    """
    last = geometry.grid_shape[1] - 1
    for positions in (list(geometry.config.source_x), geometry.receiver_x):
        if positions != sorted(positions):
            return False
        if (
            max(abs(a - (last - b)) for a, b in zip(positions, reversed(positions), strict=True))
            > tolerance_cells
        ):
            return False
    return True


def calibrate_spread(spread: torch.Tensor, std_scale: float, std_floor: Sequence[float]) -> torch.Tensor:
    """`sqrt((std_scale * spread)^2 + floor(z)^2)`, m/s, for a spread `(..., nz, nx)` in m/s.

    `floor(z)` runs linearly from `std_floor[0]` at the top row to `std_floor[1]` at the bottom.
    """
    top, bottom = (float(b) for b in std_floor)
    floor = torch.linspace(top, bottom, spread.shape[-2], dtype=spread.dtype, device=spread.device)
    return torch.sqrt((float(std_scale) * spread) ** 2 + floor[:, None] ** 2)


def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return value


def _check_positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive number, got {value!r}.")
    return float(value)


class VelocityInversionPipeline(SeismicDiffusionPipeline):
    r"""Invert shot gathers for velocity maps, with the velocity generator as the prior.

    Sampling (diffusion posterior sampling with proximal data steps, in the style of DiffPIR and
    SDEdit): a starting map, from `inversion_net` when the pipeline has one (averaged with its map of
    the mirrored gathers, `mirror_start`; else the prior's mean depth profile), improved by
    `start_iterations` FWI iterations, is noised to `strength` of the schedule; every reverse step
    then takes the U-Net's clean-map estimate, moves it `data_iterations` Adam steps down the
    gather misfit through deepwave ([`~physics.full_waveform_inversion`]), and lets the scheduler
    step toward the corrected estimate. Each posterior sample ends with `refine_iterations` FWI iterations.

    Cost per gather, in forward + adjoint simulations (0.8 s each for an OpenFWI gather on one CPU
    thread): `start_iterations + num_samples * (num_inference_steps * data_iterations +
    refine_iterations)`, plus `num_samples` forward runs for the final misfit.

    Parameters:
        unet ([`VelocityUNet2DModel`]): The velocity prior's denoiser (class-conditional or not).
        scheduler ([`SchedulerMixin`]): A diffusers scheduler that takes custom timesteps
            (DPM-Solver++, DDPM, Euler).
        processor ([`VelocityProcessor`]): m/s <-> normalised units and the family vocabulary.
        inversion_net ([`InversionNetModel`] or [`InversionNetEnsembleModel`], *optional*): Gives each
            gather's starting map.
        geometry ([`AcquisitionGeometry`], *optional*): How the gathers were recorded; `None` means
            OpenFWI's.
        std_scale (`float`, *optional*, defaults to 1.0) and std_floor (`tuple[float, float]`,
            *optional*, defaults to `(0, 0)`): `std = sqrt((std_scale * spread)^2 + floor(z)^2)`,
            where `spread` is the samples' standard deviation and `floor(z)` runs linearly from
            `std_floor[0]` m/s at the top row to `std_floor[1]` at the bottom. The samples start close
            to one map, so their spread alone is narrower than the error of their mean, and the error
            grows with depth; the shipped folder stores the values that make `mean +- 2 std` hold the
            true map in 95 % of cells of calibration gathers with the narrowest mean `std`
            (`training/calibrate_inversion_std.py`, data seed 200000).

    `from_pretrained` also loads a [`VelocityGenerationPipeline`] folder (the prior alone, no
    `inversion_net`); pass `inversion_net=` and `geometry=` to add them.
    """

    model_cpu_offload_seq = "inversion_net->unet"
    _optional_components = ["inversion_net", "geometry"]

    def __init__(
        self,
        unet: VelocityUNet2DModel,
        scheduler: SchedulerMixin,
        processor: VelocityProcessor,
        inversion_net: InversionNetModel | InversionNetEnsembleModel | None = None,
        geometry: AcquisitionGeometry | None = None,
        std_scale: float = 1.0,
        std_floor: list[float] | tuple[float, float] = (0.0, 0.0),
    ):
        super().__init__()
        if not supports_custom_timesteps(scheduler):
            require_custom_timesteps(scheduler)  # raises, naming the schedulers that work
        std_scale = _check_positive(std_scale, "std_scale")
        try:
            floor = [float(b) for b in std_floor]
        except (TypeError, ValueError):
            floor = []
        if len(floor) != 2 or not all(math.isfinite(b) and b >= 0 for b in floor):
            raise ValueError(
                f"`std_floor` must be two numbers >= 0 (m/s, top and bottom row), got {std_floor!r}."
            )
        self.register_modules(
            unet=unet,
            scheduler=scheduler,
            processor=processor,
            inversion_net=inversion_net,
            geometry=geometry,
        )
        self.register_to_config(std_scale=std_scale, std_floor=floor)

    @classmethod
    def _check_class_name(cls, folder) -> None:
        # the velocity generator's folder holds the prior this pipeline samples from
        from .pipeline_velocity import VelocityGenerationPipeline

        try:
            super()._check_class_name(folder)
        except ValueError:
            VelocityGenerationPipeline._check_class_name(folder)

    @property
    def acquisition(self) -> AcquisitionGeometry:
        """The geometry the gathers are recorded with: `geometry`, or OpenFWI's when none is set."""
        return OPENFWI if self.geometry is None else self.geometry

    def velocity_range(self) -> tuple[float, float]:
        """`(low, high)` m/s the samples are kept in: the prior's range.

        Raises:
            ValueError: If the geometry's grid is not the prior's, or it cannot simulate the prior's
                range (below `min_velocity` the grid disperses; above `max_velocity` the time step
                breaks the CFL condition).
        """
        geometry = self.acquisition
        size = self.unet.config.sample_size
        grid = (size, size) if isinstance(size, int) else tuple(size)
        if tuple(geometry.grid_shape) != grid:
            raise ValueError(
                f"The geometry's grid is {tuple(geometry.grid_shape)} cells but the velocity prior makes "
                f"{grid} maps; use a geometry on the prior's grid ({geometry.config.grid_spacing:g} m cells)."
            )
        low, high = float(self.processor.config.v_min), float(self.processor.config.v_max)
        if high > geometry.config.max_velocity:
            raise ValueError(
                f"CFL: the prior draws maps up to {high:g} m/s but the geometry's max_velocity is "
                f"{geometry.config.max_velocity:g} m/s; give the geometry a smaller dt."
            )
        if low < geometry.min_velocity:
            raise ValueError(
                f"The prior draws maps down to {low:g} m/s but the geometry resolves only "
                f"{geometry.min_velocity:.0f} m/s and faster (numerical dispersion); lower its peak frequency."
            )
        return low, high

    def starting_maps(
        self, seismic: torch.Tensor, mask: torch.Tensor, labels: list[int], mirror: bool = True
    ) -> torch.Tensor:
        """Each gather's starting map, `(B, 1, nz, nx)` in normalised units.

        `inversion_net`'s prediction (dead traces zeroed) when the pipeline has one and it reads
        this geometry's gathers; with `mirror` and a geometry that `mirrors_onto_itself`, averaged
        with its prediction from the mirrored gathers (shots and receivers reversed), mirrored back.
        Otherwise the prior's mean depth profile of each label's family (all families for the null
        label).
        """
        net = self.inversion_net
        if net is not None and tuple(net.config.seismic_shape) == tuple(self.acquisition.data_shape):
            gathers = (seismic * mask).to(net.device, net.dtype)
            velocity = net.predict_velocity(gathers).float()
            if mirror and mirrors_onto_itself(self.acquisition):
                mirrored = net.predict_velocity(gathers.flip(1).flip(3)).float().flip(2)
                velocity = 0.5 * (velocity + mirrored)
            return self.processor.normalize(velocity.cpu())[:, None]
        if net is not None:
            logger.warning(
                "inversion_net reads gathers of shape %s, not this geometry's %s; starting from the prior's "
                "mean profile instead.",
                tuple(net.config.seismic_shape),
                tuple(self.acquisition.data_shape),
            )
        size = self.unet.config.sample_size
        grid = (size, size) if isinstance(size, int) else tuple(size)
        start = self.processor.prior_mean(labels, grid)
        if start is None:
            raise ValueError(
                "This pipeline has no inversion_net and its processor no mean_profiles: there is no starting "
                "map. Pass inversion_net= to from_pretrained."
            )
        return start

    def check_inputs(
        self,
        num_samples,
        num_inference_steps,
        strength,
        start_iterations,
        data_iterations,
        data_learning_rate,
        refine_iterations,
        refine_learning_rate,
        batch_size,
        generator,
        output_type,
        mirror_start=True,
    ) -> None:
        _check_count(start_iterations, "start_iterations", 0)
        _check_count(num_samples, "num_samples", 1)
        _check_count(num_inference_steps, "num_inference_steps", 1)
        if isinstance(strength, bool) or not isinstance(strength, Real) or not 0 < strength <= 1:
            raise ValueError(f"`strength` must be a number in (0, 1], got {strength!r}.")
        _check_count(data_iterations, "data_iterations", 0)
        _check_positive(data_learning_rate, "data_learning_rate")
        _check_count(refine_iterations, "refine_iterations", 0)
        _check_positive(refine_learning_rate, "refine_learning_rate")
        if not isinstance(mirror_start, bool):
            raise ValueError(f"`mirror_start` must be True or False, got {mirror_start!r}.")
        if isinstance(generator, list) and len(generator) != batch_size:
            raise ValueError(
                f"Got {len(generator)} generators for {batch_size} gathers; pass one generator, or one per gather."
            )
        if output_type not in OUTPUT_TYPES:
            raise ValueError(
                f"Unknown `output_type` {output_type!r}. Valid choices: {', '.join(OUTPUT_TYPES)}."
            )

    @torch.no_grad()
    def __call__(
        self,
        seismic: np.ndarray | torch.Tensor,
        family: str | list[str | None] | None = None,
        num_samples: int = 4,
        num_inference_steps: int = 3,
        strength: float = 0.1,
        start_iterations: int = 20,
        data_iterations: int = 1,
        data_learning_rate: float = 20.0,
        refine_iterations: int = 3,
        refine_learning_rate: float = 20.0,
        trace_mask: np.ndarray | torch.Tensor | None = None,
        mirror_start: bool = True,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "np",
        return_dict: bool = True,
    ) -> VelocityInversionOutput | tuple:
        r"""
        Args:
            seismic (`np.ndarray` or `torch.Tensor` of shape `(S, nt, R)` or `(B, S, nt, R)`):
                Observed shot gathers (`geometry.data_shape` each; OpenFWI: 5 shots, 1000 samples
                at 1 ms, 70 receivers), in the amplitude convention of [`~physics.forward_model`].
            family (`str` or `list[str | None]`, *optional*): The gathers' family if known (one
                name, or one per gather); `None` (unknown) samples from the prior's null class.
            num_samples (`int`, *optional*, defaults to 4): Posterior samples per gather.
            num_inference_steps (`int`, *optional*, defaults to 3): Reverse-diffusion steps, spaced
                evenly from `strength` of the schedule down to 0.
            strength (`float`, *optional*, defaults to 0.1): How far up the schedule the starting
                map is noised, in (0, 1]: 1 forgets it, small values keep it.
            start_iterations (`int`, *optional*, defaults to 20): FWI iterations on each gather's
                starting map before it is noised (once per gather, shared by its samples).
            data_iterations (`int`, *optional*, defaults to 1): Adam steps on the gather misfit
                applied to the clean-map estimate at every reverse step (0 = the prior alone).
            data_learning_rate (`float`, *optional*, defaults to 20.0): Their step size, m/s.
            refine_iterations (`int`, *optional*, defaults to 3): FWI iterations on each sample at
                the end.
            refine_learning_rate (`float`, *optional*, defaults to 20.0): Their step size, m/s.
            trace_mask (`np.ndarray` or `torch.Tensor` of shape `(S, R)` or `(B, S, R)`, *optional*):
                0 marks dead or missing traces: they are zeroed for `inversion_net` and left out of
                every misfit.
            mirror_start (`bool`, *optional*, defaults to `True`): Average `inversion_net`'s map with
                its map of the mirrored gathers, mirrored back, when the acquisition is left-right
                symmetric (OpenFWI's is); no simulations. On 32 clean gathers of data seed 200000 it
                raised the network's mean SSIM from 0.668 to 0.688.
            generator (`torch.Generator` or `list[torch.Generator]`, *optional*): One, or one per
                gather, for the noise.
            output_type (`str`, *optional*, defaults to `"np"`): `"np"` or `"pt"`.
            return_dict (`bool`, *optional*, defaults to `True`): Return a [`VelocityInversionOutput`].

        Defaults were chosen on gathers of data seed 200000 (`docs/experiments/velocity-inversion.md`)
        and cost 20 + 4 * (3 + 3) = 44 forward + adjoint simulations per gather.

        Returns:
            [`VelocityInversionOutput`] or `tuple` `(velocities, std, samples, data_misfit)`.

        Raises:
            ValueError: Before any simulation, for gathers of the wrong shape or with NaN or Inf, a
                bad trace mask, a geometry off the prior's grid or range (CFL), an unknown family,
                or a setting out of range.
        """
        # 1. Check inputs (all of them before the first simulation)
        geometry = self.acquisition
        data, mask = check_gathers(seismic, geometry, trace_mask)
        batch_size = data.shape[0]
        self.check_inputs(
            num_samples,
            num_inference_steps,
            strength,
            start_iterations,
            data_iterations,
            data_learning_rate,
            refine_iterations,
            refine_learning_rate,
            batch_size,
            generator,
            output_type,
            mirror_start,
        )
        low, high = self.velocity_range()
        labels = (
            self.processor.family_labels(family, batch_size)
            if self.unet.config.num_class_embeds is not None
            else [self.processor.null_label] * batch_size
        )
        timesteps = power_timesteps(self.scheduler, num_inference_steps, 1.0, strength=float(strength))
        device = self._execution_device

        # 2. Starting maps, noised to the first timestep, num_samples per gather
        start = self.starting_maps(data, mask, labels, mirror=mirror_start)
        if start_iterations:
            with torch.enable_grad():
                start = full_waveform_inversion(
                    self.processor.denormalize(start[:, 0]).clamp(low, high),
                    data,
                    trace_mask=mask[:, :, 0],
                    geometry=geometry,
                    iterations=start_iterations,
                    learning_rate=float(refine_learning_rate),
                    velocity_range=(low, high),
                ).velocity
            start = self.processor.normalize(start)[:, None]
        start = start.to(device)
        maps = batch_size * num_samples
        start = start.repeat_interleave(num_samples, dim=0)
        data = data.repeat_interleave(num_samples, dim=0)
        mask = mask[:, :, 0].repeat_interleave(num_samples, dim=0)
        class_labels = None
        if self.unet.config.num_class_embeds is not None:
            class_labels = torch.tensor(labels, device=device).repeat_interleave(num_samples)
        sample_generator = (
            [g for g in generator for _ in range(num_samples)] if isinstance(generator, list) else generator
        )
        self.scheduler.set_timesteps(timesteps=timesteps, device=device)
        noise = randn_tensor(start.shape, generator=sample_generator, device=device, dtype=torch.float32)
        sample = self.scheduler.add_noise(start, noise, self.scheduler.timesteps[:1].repeat(maps))
        step_kwargs = (
            {"generator": sample_generator}
            if "generator" in inspect.signature(self.scheduler.step).parameters
            else {}
        )

        # 3. Reverse diffusion, each clean-map estimate moved toward the data
        limit = self.processor.sample_range
        for t in self.progress_bar(self.scheduler.timesteps):
            model_input = self.scheduler.scale_model_input(sample, t).to(self.unet.dtype)
            model_output = self.unet(model_input, t, class_labels=class_labels).sample.float()
            clean = clean_from_prediction(self.scheduler, model_output, sample, t).clamp(-limit, limit)
            if data_iterations:
                velocity = self.processor.denormalize(clean[:, 0]).clamp(low, high)
                with torch.enable_grad():
                    velocity = full_waveform_inversion(
                        velocity.cpu(),
                        data,
                        trace_mask=mask,
                        geometry=geometry,
                        iterations=data_iterations,
                        learning_rate=float(data_learning_rate),
                        velocity_range=(low, high),
                    ).velocity
                clean = self.processor.normalize(velocity.to(device))[:, None]
            model_output = prediction_from_clean(self.scheduler, clean, sample, t)
            sample = self.scheduler.step(model_output, t, sample, **step_kwargs).prev_sample

        # 4. Refine each sample with FWI; its final misfit
        velocity = (
            self.processor.denormalize(sample.clamp(-limit, limit)[:, 0].float()).clamp(low, high).cpu()
        )
        check_finite_output(velocity, "velocity maps")
        with torch.enable_grad():  # refine_iterations = 0 gives the misfit alone
            refined = full_waveform_inversion(
                velocity,
                data,
                trace_mask=mask,
                geometry=geometry,
                iterations=refine_iterations,
                learning_rate=float(refine_learning_rate),
                velocity_range=(low, high),
            )
        velocity, misfit = refined.velocity, refined.misfit_history[-1]

        # 5. Posterior mean and spread per gather
        samples = velocity.view(batch_size, num_samples, *velocity.shape[1:])
        mean = samples.mean(dim=1)
        std = calibrate_spread(
            samples.std(dim=1, unbiased=False), self.config.std_scale, self.config.std_floor
        )
        misfit = misfit.view(batch_size, num_samples)
        check_finite_output(torch.cat([samples.flatten(), misfit.flatten()]), "velocity maps or misfits")
        outputs = (mean, std, samples, misfit)
        if output_type == "np":
            outputs = tuple(x.cpu().numpy().astype(np.float32) for x in outputs)
        self.maybe_free_model_hooks()
        if not return_dict:
            return outputs
        return VelocityInversionOutput(*outputs)


VelocityInversionPipeline.__call__.__doc__ += EXAMPLE_DOC_STRING

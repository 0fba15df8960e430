"""Velocity-model generation: a (class-conditional) DDPM over OpenFWI-style 70 x 70 maps."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real

import numpy as np
import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from ..models.unet_velocity import VelocityUNet2DModel
from ..processors import VelocityProcessor, check_guidance_weight
from ..schedulers.clean_estimate import clean_from_prediction, prediction_from_clean, signal_to_noise
from ..schedulers.timestep_spacing import (
    check_power,
    check_timesteps,
    power_timesteps,
    require_custom_timesteps,
    supports_custom_timesteps,
)
from .pipeline_utils import SeismicDiffusionPipeline, check_finite_output

OUTPUT_TYPES = ("np", "pt", "pil")
# What `family=None` means for a class-conditional model (see `__call__`).
UNCONDITIONAL_SAMPLING = ("mixture", "null_class")
# Below this signal-to-noise ratio the clean-map estimate comes from the class prior (`uses_prior_mean`).
PRIOR_MEAN_MAX_SNR = 1e-3

EXAMPLE_DOC_STRING = """
    Examples:
        ```py
        >>> import torch
        >>> from seismic_diffusers import VelocityGenerationPipeline
        >>> pipe = VelocityGenerationPipeline.from_pretrained("pipelines/openfwi-velocity-ddpm")
        >>> out = pipe(batch_size=4, family="curvefault-a", generator=torch.Generator().manual_seed(0))
        >>> out.velocities.shape  # m/s, float32
        (4, 70, 70)
        ```
"""


@dataclass
class VelocityPipelineOutput(BaseOutput):
    """
    Args:
        velocities (`np.ndarray` or `torch.Tensor` of shape `(batch_size, height, width)`):
            Velocity maps in m/s (float32); axis 1 is depth, axis 2 horizontal position, both at
            `processor.config.grid_spacing` metres.
        images (`list[PIL.Image.Image]`, *optional*):
            Colour-mapped maps, only for `output_type="pil"`.
        families (`list[str | None]`, *optional*):
            Each map's family: the one asked for, the one drawn from the training mix for a
            `family=None` sample, or `None` for a null-class sample; `None` for an unconditional
            model.
    """

    velocities: np.ndarray | torch.Tensor
    images: list | None = None
    families: list | None = None


class VelocityGenerationPipeline(SeismicDiffusionPipeline):
    r"""Generate subsurface velocity models, unconditionally or for a named geological family.

    Parameters:
        unet ([`VelocityUNet2DModel`]): Denoiser; class-conditional when `num_class_embeds` is set.
        scheduler ([`SchedulerMixin`]): Any diffusers scheduler (DDPM, DDIM, DPM-Solver++, ...).
        processor ([`VelocityProcessor`]): m/s <-> [-1, 1] constants and the family vocabulary.
        default_num_inference_steps (`int`, *optional*, defaults to 25): Steps used when a call
            passes `num_inference_steps=None`; saved in `model_index.json`.
        default_guidance_scale (`float` or `dict[str, float]`, *optional*, defaults to 1.0): Guidance
            used when a call passes `guidance_scale=None` with a family, one weight for all families
            or a `{family: weight}` mapping (families it leaves out get 1.0); saved in
            `model_index.json`.
        default_timestep_power (`float`, *optional*, defaults to 1.0): Timestep spacing used when a
            call passes `timestep_power=None`; saved in `model_index.json`. 1.0 keeps the
            scheduler's own spacing; see [`~schedulers.timestep_spacing.power_timesteps`].
        default_timesteps (`list[int]`, *optional*): Explicit timesteps for calls that ask for
            `default_num_inference_steps` steps (or pass none) without a `timestep_power` or
            `timesteps` of their own, for models trained on a grid no power spacing gives (a
            step-distilled student); their count must be `default_num_inference_steps`. Saved in
            `model_index.json`; ignored by schedulers that take no custom timesteps.

    Load with `dtype=torch.bfloat16` to run the U-Net in bfloat16, which is faster on CPUs with
    bfloat16 instructions; the sampling trajectory and the output stay float32.
    """

    model_cpu_offload_seq = "unet"

    def __init__(
        self,
        unet: VelocityUNet2DModel,
        scheduler: SchedulerMixin,
        processor: VelocityProcessor,
        default_num_inference_steps: int = 25,
        default_guidance_scale: float | Mapping[str, float] = 1.0,
        default_timestep_power: float = 1.0,
        default_timesteps: list[int] | None = None,
    ):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler, processor=processor)
        if not isinstance(default_num_inference_steps, int) or default_num_inference_steps < 1:
            raise ValueError(
                f"`default_num_inference_steps` must be an integer >= 1, got {default_num_inference_steps!r}."
            )
        if isinstance(default_guidance_scale, Mapping) and self.is_conditional:
            try:
                default_guidance_scale = processor.family_guidance(default_guidance_scale)
            except ValueError as error:
                raise ValueError(f"`default_guidance_scale`: {error}") from None
        elif isinstance(default_guidance_scale, bool) or not isinstance(default_guidance_scale, Real):
            raise ValueError(
                "`default_guidance_scale` must be a number or, for a class-conditional model, a "
                f"{{family: scale}} mapping; got {default_guidance_scale!r}."
            )
        elif default_guidance_scale != 1.0 and not self.is_conditional:
            raise ValueError(
                f"`default_guidance_scale` must be 1.0 for an unconditional model; got {default_guidance_scale}."
            )
        else:
            default_guidance_scale = check_guidance_weight(default_guidance_scale, "`default_guidance_scale`")
        try:
            default_timestep_power = check_power(default_timestep_power)
        except ValueError as error:
            raise ValueError(f"`default_timestep_power`: {error}") from None
        if default_timesteps is not None:
            # schedulers without custom timesteps (DDIM) may drive the model too; they ignore the list
            if supports_custom_timesteps(scheduler):
                try:
                    default_timesteps = check_timesteps(scheduler, default_timesteps)
                except ValueError as error:
                    raise ValueError(f"`default_timesteps`: {error}") from None
            else:
                default_timesteps = [int(t) for t in default_timesteps]
            if len(default_timesteps) != default_num_inference_steps:
                raise ValueError(
                    f"`default_timesteps` has {len(default_timesteps)} entries but default_num_inference_steps="
                    f"{default_num_inference_steps}."
                )
        # Saved in model_index.json: the sampling settings this model was tuned for.
        self.register_to_config(
            default_num_inference_steps=default_num_inference_steps,
            default_guidance_scale=default_guidance_scale,
            default_timestep_power=default_timestep_power,
            default_timesteps=default_timesteps,
        )

    @property
    def sampling_defaults(self) -> dict:
        """The `default_*` sampling settings, as keyword arguments for a new pipeline around the same model."""
        return {key: value for key, value in self.config.items() if key.startswith("default_")}

    @staticmethod
    def describe_guidance(guidance_scale: float | Mapping[str, float]) -> str:
        """A short label for a guidance setting: `"1.5"`, or `"curvefault-a 1.5"` for a per-family one."""
        if not isinstance(guidance_scale, Mapping):
            return f"{guidance_scale:g}"
        guided = [f"{name} {weight:g}" for name, weight in guidance_scale.items() if weight > 1.0]
        return ", ".join(guided) if guided else "1"

    @property
    def is_conditional(self) -> bool:
        return self.unet.config.num_class_embeds is not None

    @property
    def families(self) -> list[str]:
        """Family names this pipeline can be conditioned on (empty for an unconditional model)."""
        return self.processor.families if self.is_conditional else []

    def check_inputs(
        self,
        batch_size,
        family,
        num_inference_steps,
        guidance_scale,
        output_type,
        generator=None,
        unconditional_sampling="mixture",
    ):
        self.check_call_arguments(batch_size, generator, num_inference_steps, output_type, OUTPUT_TYPES)
        if unconditional_sampling not in UNCONDITIONAL_SAMPLING:
            raise ValueError(
                f"`unconditional_sampling` must be one of {UNCONDITIONAL_SAMPLING}, got {unconditional_sampling!r}."
            )
        if isinstance(guidance_scale, Mapping):
            if not self.is_conditional:
                raise ValueError(
                    "A per-family `guidance_scale` needs a class-conditional model; this one is unconditional."
                )
            self.processor.family_guidance(guidance_scale)  # checks the names and the weights
        else:
            check_guidance_weight(guidance_scale)
        if not self.is_conditional:
            given = [family] if family is None or isinstance(family, str) else list(family)
            if any(name is not None for name in given):
                raise ValueError(
                    f"This pipeline's model is unconditional, so `family` must be None (got {family!r}). "
                    "Valid choices: None."
                )
            if guidance_scale > 1.0:
                raise ValueError(
                    "`guidance_scale` > 1 needs a class-conditional model; this one is unconditional."
                )

    def spaced_timesteps(
        self, num_inference_steps: int, timestep_power: float | None = None
    ) -> list[int] | None:
        """The timesteps a call with `timestep_power` samples at, or None for the scheduler's own spacing.

        Args:
            num_inference_steps (`int`): Number of steps.
            timestep_power (`float`, *optional*): Spacing exponent; `None` uses
                `config.default_timesteps` when they hold `num_inference_steps` entries, else
                `config.default_timestep_power`; both only apply where the scheduler takes custom
                timesteps.

        Raises:
            ValueError: for a power <= 0, or an explicit power other than 1.0 with a scheduler that
                takes no custom timesteps (DDIM).
        """
        if timestep_power is not None:
            timestep_power = check_power(timestep_power)
        if not supports_custom_timesteps(self.scheduler):
            if timestep_power not in (None, 1.0):
                require_custom_timesteps(self.scheduler)  # raises, naming the alternatives
            return None
        saved = self.config.get("default_timesteps")
        if timestep_power is None and saved is not None and len(saved) == num_inference_steps:
            return list(saved)
        power = self.config.default_timestep_power if timestep_power is None else timestep_power
        return None if power == 1.0 else power_timesteps(self.scheduler, num_inference_steps, power)

    def clean_estimate(
        self, model_output: torch.Tensor, sample: torch.Tensor, timestep
    ) -> torch.Tensor | None:
        """The clean maps (x0, normalised units) a U-Net output implies at `timestep`.

        [`~schedulers.clean_estimate.clean_from_prediction`] with this pipeline's scheduler.

        Args:
            model_output (`torch.Tensor` of shape `(B, 1, H, W)`): The U-Net's prediction, of the
                scheduler's `prediction_type` (`"epsilon"`, `"v_prediction"` or `"sample"`).
            sample (`torch.Tensor` of shape `(B, 1, H, W)`): The noisy maps at `timestep`.
            timestep (`int` or `torch.Tensor`): The current discrete timestep.

        Returns:
            `torch.Tensor` of shape `(B, 1, H, W)` in float32, or `None` where the scheduler has no
            `alphas_cumprod` or another prediction type.
        """
        return clean_from_prediction(self.scheduler, model_output, sample, timestep)

    def clip_prediction(self, model_output: torch.Tensor, sample: torch.Tensor, timestep) -> torch.Tensor:
        """The model output whose implied clean map is clamped to `+-processor.sample_range`.

        The scheduler's own `thresholding` only serves maps in [-1, 1] (above that it divides the
        estimate), so the clamp is applied here, before `scheduler.step`, for every scheduler that
        exposes `alphas_cumprod`; others get `model_output` back unchanged.

        Args:
            model_output (`torch.Tensor` of shape `(B, 1, H, W)`): The U-Net's prediction.
            sample (`torch.Tensor` of shape `(B, 1, H, W)`): The noisy maps at `timestep`.
            timestep (`int` or `torch.Tensor`): The current discrete timestep.

        Returns:
            `torch.Tensor`: Same shape, dtype and prediction type as `model_output`.
        """
        clean = self.clean_estimate(model_output, sample, timestep)
        if clean is None:
            return model_output
        limit = self.processor.sample_range
        return self.prediction_from_clean(clean.clamp(-limit, limit), sample, timestep).to(model_output.dtype)

    def prediction_from_clean(self, clean: torch.Tensor, sample: torch.Tensor, timestep) -> torch.Tensor:
        """The U-Net output, of the scheduler's `prediction_type`, that implies `clean` at `timestep`.

        The inverse of [`~VelocityGenerationPipeline.clean_estimate`]
        ([`~schedulers.clean_estimate.prediction_from_clean`]); needs a scheduler with
        `alphas_cumprod` unless the prediction type is `"sample"`.

        Args:
            clean (`torch.Tensor` of shape `(B, 1, H, W)`): Clean maps, normalised units.
            sample (`torch.Tensor` of shape `(B, 1, H, W)`): The noisy maps at `timestep`.
            timestep (`int` or `torch.Tensor`): The current discrete timestep.

        Returns:
            `torch.Tensor` of shape `(B, 1, H, W)`, float32.
        """
        return prediction_from_clean(self.scheduler, clean, sample, timestep)

    def drawn_family_labels(
        self, labels: list[int], generator: torch.Generator | list[torch.Generator] | None
    ) -> list[int]:
        """`labels` with every null label replaced by a family drawn from the training mix.

        A single generator draws all of them at once (stratified); with one generator per
        sample, each null sample draws with its own, so a sample does not depend on its batch.
        """
        null = self.processor.null_label
        positions = [i for i, label in enumerate(labels) if label == null]
        if not positions:
            return labels
        if isinstance(generator, list):
            generator = [generator[i] for i in positions]
        drawn = self.processor.draw_family_labels(len(positions), generator)
        labels = list(labels)
        for i, label in zip(positions, drawn, strict=True):
            labels[i] = label
        return labels

    def uses_prior_mean(self, timestep) -> bool:
        """Whether the step at `timestep` takes its clean-map estimate from the class prior, not the U-Net.

        The estimate is the class's mean map, or with saved `profile_components` (and
        `sample_from_prior`) a draw from the class's distribution of depth profiles.

        True where the processor saved `mean_profiles`, the scheduler has `alphas_cumprod`, the
        model predicts epsilon or v, and the signal-to-noise ratio `alpha_bar / (1 - alpha_bar)`
        is below `PRIOR_MEAN_MAX_SNR` (1e-3). There an epsilon model's estimate
        `(x_t - sigma * eps) / alpha` divides its epsilon error by `alpha` < 0.03: on the shipped
        model's first step (SNR 4e-5) the clamped estimate is off by -0.26 (390 m/s) in mean and
        has more than twice the data's spread, and the sampler carries that bias into every map. The exact
        posterior mean at zero SNR is the class's mean map, which the processor holds.
        """
        if self.processor.config.mean_profiles is None:
            return False
        if self.scheduler.config.prediction_type not in ("epsilon", "v_prediction"):
            return False
        # Variance-exploding samplers (Euler, Heun, ...) keep x_t / alpha: the estimate below does not apply.
        if float(getattr(self.scheduler, "init_noise_sigma", 1.0)) != 1.0:
            return False
        snr = signal_to_noise(self.scheduler, timestep)
        return snr is not None and snr < PRIOR_MEAN_MAX_SNR

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        family: str | list[str | None] | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        num_inference_steps: int | None = None,
        timesteps: list[int] | None = None,
        timestep_power: float | None = None,
        guidance_scale: float | Mapping[str, float] | None = None,
        unconditional_sampling: str = "mixture",
        clip_sample: bool = True,
        use_prior_mean: bool = True,
        sample_from_prior: bool = True,
        output_type: str = "np",
        return_dict: bool = True,
    ) -> VelocityPipelineOutput | tuple:
        r"""
        Args:
            batch_size (`int`, *optional*, defaults to 1):
                Number of velocity maps to generate.
            family (`str` or `list[str | None]`, *optional*, defaults to `None`):
                A family name from `pipe.families` for all samples, one per sample, or `None` to
                sample from all families (required for unconditional models). How a
                class-conditional model serves `None` is set by `unconditional_sampling`.
            generator (`torch.Generator` or `list[torch.Generator]`, *optional*):
                Makes generation deterministic; a list gives one generator per sample.
            num_inference_steps (`int`, *optional*):
                Denoising steps; `None` uses `pipe.config.default_num_inference_steps`, the setting
                the model card measured. A DDPM scheduler needs up to `num_train_timesteps` (1000).
            timesteps (`list[int]`, *optional*):
                Custom timesteps, strictly decreasing, for schedulers whose `set_timesteps` takes a
                `timesteps` argument (DDPM, DPM-Solver++, Euler; not DDIM). They replace
                `num_inference_steps` (leave it out, or pass their count) and `timestep_power`
                (leave it out); anything else raises a `ValueError`.
            timestep_power (`float`, *optional*):
                Spacing of the `num_inference_steps` timesteps, `t_i = t_0 (1 - i / n)^power`
                ([`~schedulers.timestep_spacing.power_timesteps`]): 1.0 keeps the scheduler's own
                spacing, larger values spend more steps at low noise, where layer interfaces are
                sharpened. `None` uses `pipe.config.default_timestep_power`, which schedulers
                without custom timesteps (DDIM) ignore; an explicit value other than 1.0 needs one
                that takes them.
            guidance_scale (`float` or `dict[str, float]`, *optional*):
                Classifier-free guidance weight; 1.0 disables it, larger values follow `family`
                more strictly at some cost in diversity. A dict gives one weight per family name
                (families it leaves out get 1.0). `None` uses `pipe.config.default_guidance_scale`.
                Null-class samples are never guided (there is nothing to guide towards). A batch
                with any guided sample costs two U-Net calls per step, else one.
            unconditional_sampling (`str`, *optional*, defaults to `"mixture"`):
                What `family=None` means for a class-conditional model. `"mixture"`: each such
                sample draws its family from the training data's mix
                (`processor.family_proportions`, stratified within a batch, see
                [`~VelocityProcessor.draw_family_labels`]) and is then sampled as that family, with
                its guidance and profile prior; the drawn families come back in
                `output.families`. The maps then follow the mixture of the families, which the
                null class alone does not (its FD is tens of times the data's). `"null_class"`:
                the unguided null class of classifier-free guidance, as trained.
            clip_sample (`bool`, *optional*, defaults to `True`):
                Clamp every step's estimate of the clean map to the processor's range
                (`[v_min, v_max]`), whatever the scheduler. Without it, the first high-noise steps
                of an epsilon-prediction model can push whole maps to `v_min` or `v_max`.
            use_prior_mean (`bool`, *optional*, defaults to `True`):
                At steps with a signal-to-noise ratio below 1e-3 (the first step of the default
                schedule), take each sample's clean-map estimate from its family's prior, saved in
                the processor, instead of the U-Net's, which is noise there (see
                [`~VelocityGenerationPipeline.uses_prior_mean`]): a draw from the family's profile
                distribution (`sample_from_prior`), or its mean map. No effect on pipelines saved
                without `mean_profiles`.
            sample_from_prior (`bool`, *optional*, defaults to `True`):
                With `use_prior_mean`, draw each sample's estimate at those steps from its family's
                distribution of velocity-depth profiles (the processor's `mean_profiles` plus
                `profile_components` times standard normal draws from `generator`) instead of
                taking the mean for every sample. The mean alone collapses the spread of the maps'
                overall velocity: the whole trajectory inherits the step's estimate, and the starting
                noise averaged over a map is too weak to move it (spread between maps of each
                map's mean velocity 170 m/s against 550 in the data). No effect on pipelines saved
                without `profile_components`.
            output_type (`str`, *optional*, defaults to `"np"`):
                `"np"` (numpy), `"pt"` (torch tensor), or `"pil"` (numpy plus colour-mapped images).
            return_dict (`bool`, *optional*, defaults to `True`):
                Return a [`VelocityPipelineOutput`] instead of a tuple.

        Returns:
            [`VelocityPipelineOutput`] or `tuple`: `velocities` of shape `(batch_size, 70, 70)`,
            float32, in m/s within `[processor.config.v_min, processor.config.v_max]`; with
            `return_dict=False`, the tuple `(velocities,)` or `(velocities, images)` for `"pil"`.
        """
        # 1. Check inputs
        if timesteps is not None:
            timesteps = check_timesteps(self.scheduler, timesteps)
            if num_inference_steps not in (None, len(timesteps)) or timestep_power is not None:
                raise ValueError(
                    f"Got {len(timesteps)} `timesteps` with num_inference_steps={num_inference_steps} and "
                    f"timestep_power={timestep_power}; custom `timesteps` replace both, so leave them out."
                )
            num_inference_steps = len(timesteps)
        if num_inference_steps is None:
            num_inference_steps = self.config.default_num_inference_steps
        if guidance_scale is None:
            guidance_scale = self.config.default_guidance_scale
        self.check_inputs(
            batch_size,
            family,
            num_inference_steps,
            guidance_scale,
            output_type,
            generator,
            unconditional_sampling,
        )
        if timesteps is None:
            timesteps = self.spaced_timesteps(num_inference_steps, timestep_power)
        device = self._execution_device
        class_labels = None
        guided = []  # samples with a guidance weight above 1, the only ones that need an unconditional pass
        sample_families = None
        if self.is_conditional:
            labels = self.processor.family_labels(family, batch_size)
            if unconditional_sampling == "mixture":
                labels = self.drawn_family_labels(labels, generator)
            names = [*self.processor.families, None]
            sample_families = [names[label] for label in labels]
            class_labels = torch.tensor(labels, device=device, dtype=torch.long)
            weights = self.processor.guidance_scales(guidance_scale, labels)
            guided = [i for i, weight in enumerate(weights) if weight > 1.0]
            # One weight per guided sample, shaped to broadcast over (G, C, H, W).
            guidance_scales = torch.tensor([weights[i] for i in guided], device=device).view(-1, 1, 1, 1)
        do_guidance = len(guided) > 0

        # 2. Sample Gaussian noise at the native map size
        size = self.unet.config.sample_size
        height, width = (size, size) if isinstance(size, int) else size
        shape = (batch_size, self.unet.config.in_channels, height, width)
        # The trajectory stays in float32 whatever the U-Net's dtype: in bfloat16 the state itself
        # would be quantised to about 6 m/s.
        sample = randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)

        # 3. Set step values
        if timesteps is None:
            self.scheduler.set_timesteps(num_inference_steps, device=device)
        else:
            self.scheduler.set_timesteps(timesteps=timesteps, device=device)
        sample = sample * self.scheduler.init_noise_sigma
        # Not every scheduler's `step` takes a generator (stochastic ones do).
        step_kwargs = (
            {"generator": generator}
            if "generator" in inspect.signature(self.scheduler.step).parameters
            else {}
        )
        prior_estimate = None  # the zero-SNR steps' clean-map estimate
        # only when a step uses it: the draws below take numbers from `generator`
        if use_prior_mean and any(self.uses_prior_mean(t) for t in self.scheduler.timesteps):
            labels_for_prior = labels if self.is_conditional else [self.processor.null_label] * batch_size
            num_components = self.processor.num_profile_components
            if sample_from_prior and num_components:
                draws = randn_tensor((batch_size, num_components), generator=generator, device=device)
                prior_estimate = self.processor.prior_sample(labels_for_prior, (height, width), draws)
            else:
                prior_estimate = self.processor.prior_mean(labels_for_prior, (height, width))
            prior_estimate = None if prior_estimate is None else prior_estimate.to(device)
        if do_guidance:
            guided_rows = torch.tensor(guided, device=device)
            null_labels = torch.full_like(guided_rows, self.processor.null_label)
            class_labels = torch.cat([class_labels, null_labels])

        # 4. Denoising loop
        for t in self.progress_bar(self.scheduler.timesteps):
            if prior_estimate is not None and self.uses_prior_mean(t):
                # 4.1 at (near) zero SNR the clean-map estimate comes from the family prior; no U-Net call
                model_output = self.prediction_from_clean(prior_estimate, sample, t)
            else:
                # every sample conditioned, then the guided ones again with the null class
                model_input = torch.cat([sample, sample[guided_rows]]) if do_guidance else sample
                model_input = self.scheduler.scale_model_input(model_input, t).to(self.unet.dtype)
                # 4.1 predict noise model_output
                model_output = self.unet(model_input, t, class_labels=class_labels).sample.float()
                if do_guidance:
                    model_output, uncond = model_output[:batch_size], model_output[batch_size:]
                    cond = model_output[guided_rows]
                    model_output[guided_rows] = uncond + guidance_scales * (cond - uncond)
                if clip_sample:
                    model_output = self.clip_prediction(model_output, sample, t)
            # 4.2 compute previous sample: x_t -> x_t-1
            sample = self.scheduler.step(model_output, t, sample, **step_kwargs).prev_sample

        # 5. Post-process to m/s
        limit = self.processor.sample_range
        velocities = self.processor.denormalize(sample.clamp(-limit, limit)[:, 0].float())
        check_finite_output(velocities, "velocity maps")
        images = None
        if output_type in ("np", "pil"):
            velocities = velocities.cpu().numpy().astype(np.float32)
        if output_type == "pil":
            images = self.processor.to_pil(velocities)

        # 6. Return
        self.maybe_free_model_hooks()
        if not return_dict:
            return (velocities,) if images is None else (velocities, images)
        return VelocityPipelineOutput(velocities=velocities, images=images, families=sample_families)


VelocityGenerationPipeline.__call__.__doc__ += EXAMPLE_DOC_STRING

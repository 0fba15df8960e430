"""Joint seismic-velocity generation and diffusion-refined inversion in a shared latent (WaveDiffusion)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import torch
from diffusers.models.unets.unet_2d import UNet2DModel
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from ..models.joint_vq import JointVQModel
from ..models.latent_forward_operator import LatentForwardOperator
from ..physics.deviation import pde_deviation
from ..physics.forward import forward_model
from ..physics.geometry import AcquisitionGeometry
from ..schedulers.clean_estimate import clean_from_prediction, prediction_from_clean
from ..schedulers.timestep_spacing import check_num_inference_steps
from ..utils.validation import check_real_numbers
from .pipeline_utils import SeismicDiffusionPipeline, check_finite_output

OUTPUT_TYPES = ("np", "pt")
GENERATION_OUTPUT_TYPES = (*OUTPUT_TYPES, "latent")

EXAMPLE_DOC_STRING = """
    Examples:
        ```py
        >>> import torch
        >>> from seismic_diffusers import JointGenerationPipeline
        >>> pipe = JointGenerationPipeline.from_pretrained("pipelines/openfwi-joint-ldm")
        >>> out = pipe(batch_size=4, generator=torch.Generator().manual_seed(0), return_pde_deviation=True)
        >>> out.velocities.shape, out.seismic.shape, out.pde_deviation.shape
        ((4, 70, 70), (4, 5, 1000, 70), (4,))
        >>> velocity = pipe.invert(out.seismic, generator=torch.Generator().manual_seed(0)).velocities  # m/s
        ```
"""


@dataclass
class JointGenerationOutput(BaseOutput):
    """
    Args:
        velocities (`np.ndarray` or `torch.Tensor` of shape `(batch_size, 70, 70)`): Velocity, m/s.
        seismic (`np.ndarray` or `torch.Tensor` of shape `(batch_size, 5, 1000, 70)`): Shot gathers
            (shots, 1 ms samples, receivers) in OpenFWI's amplitude convention.
        pde_deviation (`np.ndarray` or `torch.Tensor` of shape `(batch_size,)`, *optional*):
            `physics.pde_deviation` of each pair, with `return_pde_deviation=True`.
        pde_deviation_trace (`np.ndarray` or `torch.Tensor` of shape `(num_inference_steps, batch_size)`, *optional*):
            The deviation of the pair decoded from each step's predicted clean latent, with
            `trace_pde_deviation=True` (WaveDiffusion's Figure 5, as data).
        latents (`torch.Tensor` of shape `(batch_size, latent_channels, h, w)`, *optional*): With
            `output_type="latent"` only (then `velocities` and `seismic` are `None`): the final latents
            in the diffusion model's scaled space, not decoded.
    """

    velocities: np.ndarray | torch.Tensor | None
    seismic: np.ndarray | torch.Tensor | None
    pde_deviation: np.ndarray | torch.Tensor | None = None
    pde_deviation_trace: np.ndarray | torch.Tensor | None = None
    latents: torch.Tensor | None = None


@dataclass
class JointInversionOutput(BaseOutput):
    """
    Args:
        velocities (`np.ndarray` or `torch.Tensor` of shape `(batch_size, 70, 70)`): Estimated velocity, m/s.
        seismic_misfit (`np.ndarray` or `torch.Tensor` of shape `(batch_size,)`): Mean squared
            difference, in normalised space, between the given seismic and the seismic decoded from
            the chosen latent (for a two-encoder autoencoder: the gathers forward-modelled from the
            returned velocity).
    """

    velocities: np.ndarray | torch.Tensor
    seismic_misfit: np.ndarray | torch.Tensor


class JointGenerationPipeline(SeismicDiffusionPipeline):
    r"""
    Generate velocity maps and their seismic data together, from one latent; or invert seismic data.

    A diffusion model (`unet`, a diffusers `UNet2DModel`) samples a latent; the stage-1
    autoencoder (`vqvae`) quantises it and decodes a velocity map and five shot gathers from it.
    The pairs approximately satisfy the acoustic wave equation; `return_pde_deviation=True`
    measures how well with the physics module's forward model (`physics.pde_deviation`).

    Parameters:
        vqvae ([`JointVQModel`]): Seismic encoder, shared quantised latent, two decoders.
        unet ([`UNet2DModel`]): Denoiser over `vqvae` latents in the space of `vqvae.scale_latents`.
        scheduler ([`SchedulerMixin`]): Any diffusers scheduler; `invert` needs a stochastic step
            (DDPM, or DDIM with `eta` > 0) to draw distinct candidates.
        geometry ([`AcquisitionGeometry`]): The acquisition the seismic data are recorded with.
        latent_operator ([`LatentForwardOperator`], *optional*): For an autoencoder with a velocity
            encoder (2VQ): predicts the seismic half of a latent from its velocity half. Generated
            pairs then take their seismic data from the prediction (see `__call__`).
    """

    model_cpu_offload_seq = "unet->latent_operator->vqvae"
    _optional_components = ["latent_operator"]

    def __init__(
        self,
        vqvae: JointVQModel,
        unet: UNet2DModel,
        scheduler: SchedulerMixin,
        geometry: AcquisitionGeometry,
        latent_operator: LatentForwardOperator | None = None,
    ):
        super().__init__()
        if latent_operator is not None:
            half = vqvae.config.latent_channels // 2
            if not vqvae.config.velocity_encoder or latent_operator.config.half_channels != half:
                raise ValueError(
                    "A latent_operator maps the velocity half of a two-encoder (velocity_encoder=True) latent to its "
                    f"seismic half; this autoencoder has velocity_encoder={vqvae.config.velocity_encoder} and "
                    f"halves of {half} channels, the operator {latent_operator.config.half_channels}."
                )
        self.register_modules(
            vqvae=vqvae, unet=unet, scheduler=scheduler, geometry=geometry, latent_operator=latent_operator
        )

    # ------------------------------------------------------------------------------------------
    # helpers

    def _step_kwargs(self, generator, eta: float | None = None) -> dict:
        parameters = inspect.signature(self.scheduler.step).parameters
        kwargs = {"generator": generator} if "generator" in parameters else {}
        if eta is not None and "eta" in parameters:
            kwargs["eta"] = eta
        return kwargs

    def _decode(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled latents -> (velocity m/s `(B, 70, 70)`, seismic raw amplitude `(B, 5, 1000, 70)`)."""
        decoded = self.vqvae.decode(self.vqvae.unscale_latents(latents.to(self.vqvae.dtype)))
        velocity = self.vqvae.denormalize_velocity(decoded.velocity[:, 0])
        seismic = self.vqvae.denormalize_seismic(decoded.seismic)
        return velocity, seismic

    @torch.no_grad()
    def predict_seismic_half(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents `(B, C, h, w)` -> the same with the velocity half snapped to its codebook and
        the seismic half predicted from it by `latent_operator`."""
        operator = self.latent_operator
        if operator is None:
            raise ValueError(
                "This pipeline has no latent_operator; train one with training/train_joint_latent_operator.py."
            )
        vqvae, half = self.vqvae, self.vqvae.config.latent_channels // 2
        snapped = vqvae.scale_latents(vqvae.quantize(vqvae.unscale_latents(latents.to(vqvae.dtype)))[0])
        velocity_half = snapped[:, half:]
        seismic_half = operator(velocity_half.to(operator.device, operator.dtype)).sample
        seismic_half = seismic_half.to(snapped.device, snapped.dtype)
        return torch.cat([seismic_half, velocity_half], dim=1)

    def _deviation(self, velocity: torch.Tensor, seismic: torch.Tensor) -> torch.Tensor:
        return pde_deviation(velocity.cpu(), seismic.float().cpu(), geometry=self.geometry)

    def check_geometry(self) -> None:
        """Raise a `ValueError` unless `geometry` records data of the shapes the model makes."""
        model = self.vqvae.config
        if tuple(self.geometry.data_shape) != tuple(model.seismic_shape) or tuple(
            self.geometry.grid_shape
        ) != tuple(model.velocity_shape):
            raise ValueError(
                f"The pipeline's geometry records seismic {tuple(self.geometry.data_shape)} on a "
                f"{tuple(self.geometry.grid_shape)} grid, but the model makes seismic {tuple(model.seismic_shape)} "
                f"and velocity {tuple(model.velocity_shape)}: the physics module cannot forward-model these "
                "pairs, so no PDE deviation can be computed. Give the pipeline the geometry the model was trained "
                "with (e.g. seismic_diffusers.OPENFWI)."
            )

    def check_inputs(
        self,
        batch_size,
        num_inference_steps,
        output_type,
        generator,
        needs_physics,
        eta=0.0,
        return_pde_deviation=False,
    ) -> None:
        self.check_call_arguments(
            batch_size, generator, num_inference_steps, output_type, GENERATION_OUTPUT_TYPES
        )
        if output_type == "latent" and return_pde_deviation:
            raise ValueError(
                'return_pde_deviation needs decoded pairs; it cannot be combined with output_type="latent".'
            )
        if not (np.isfinite(eta) and eta >= 0):
            raise ValueError(
                f"eta must be a finite number >= 0 (0: deterministic DDIM, 1: ancestral); got {eta}."
            )
        if needs_physics:
            self.check_geometry()

    @staticmethod
    def _to_output(tensor: torch.Tensor | None, output_type: str):
        if tensor is None or output_type == "pt":
            return tensor
        return tensor.detach().cpu().numpy().astype(np.float32)

    # ------------------------------------------------------------------------------------------
    # generation

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        num_inference_steps: int = 100,
        eta: float = 1.0,
        output_type: str = "np",
        return_dict: bool = True,
        return_pde_deviation: bool = False,
        trace_pde_deviation: bool = False,
        use_latent_operator: bool = True,
    ) -> JointGenerationOutput | tuple:
        r"""
        Generate velocity-seismic pairs.

        Args:
            batch_size (`int`, *optional*, defaults to 1): Number of pairs.
            generator (`torch.Generator` or `list[torch.Generator]`, *optional*): Makes generation
                deterministic; a list gives one generator per pair.
            num_inference_steps (`int`, *optional*, defaults to 100): Denoising steps.
            eta (`float`, *optional*, defaults to 1.0): DDIM's noise weight (0 is deterministic
                DDIM, 1 is DDPM-like ancestral sampling); ignored by schedulers without `eta`. The
                default is stochastic because deterministic DDIM left samples off the codebook and
                doubled their PDE deviation (docs/experiments/joint-generation.md).
            output_type (`str`, *optional*, defaults to `"np"`): `"np"`, `"pt"`, or `"latent"` (the final
                scaled latents, after the operator's coupling, without decoding).
            return_dict (`bool`, *optional*, defaults to `True`): Return a [`JointGenerationOutput`].
            return_pde_deviation (`bool`, *optional*, defaults to `False`): Also forward-model each
                generated velocity (deepwave) and return each pair's `pde_deviation`.
            trace_pde_deviation (`bool`, *optional*, defaults to `False`): Also return the deviation
                of the pair decoded from every step's predicted clean latent (one forward model per
                pair per step).
            use_latent_operator (`bool`, *optional*, defaults to `True`): With a `latent_operator`,
                keep the sampled velocity half and replace the seismic half by the operator's
                prediction from it before decoding (the diffusion model alone does not couple the
                halves; docs/experiments/joint-generation.md). `False` decodes the sample as drawn.
                Ignored without an operator, and by `trace_pde_deviation` (which traces the sampler).

        Returns:
            [`JointGenerationOutput`] or `tuple` `(velocities, seismic, pde_deviation,
            pde_deviation_trace)`: velocities `(B, 70, 70)` float32 in m/s, seismic
            `(B, 5, 1000, 70)` float32 in OpenFWI's amplitude convention. With `output_type="latent"`
            the output's `latents` (the tuple `(latents, pde_deviation_trace)`).

        Raises:
            ValueError: For bad arguments, or a deviation requested with a geometry that does not
                match the model's shapes.
        """
        # 1. Check inputs
        self.check_inputs(
            batch_size,
            num_inference_steps,
            output_type,
            generator,
            return_pde_deviation or trace_pde_deviation,
            eta,
            return_pde_deviation,
        )
        device = self._execution_device

        # 2. Sample Gaussian latents
        height, width = self.vqvae.latent_shape
        shape = (batch_size, self.unet.config.in_channels, height, width)
        latents = randn_tensor(shape, generator=generator, device=device, dtype=self.unet.dtype)
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        latents = latents * self.scheduler.init_noise_sigma
        step_kwargs = self._step_kwargs(generator, eta)

        # 3. Denoising loop
        trace = []
        for t in self.progress_bar(self.scheduler.timesteps):
            model_input = self.scheduler.scale_model_input(latents, t)
            noise_pred = self.unet(model_input, t).sample
            step = self.scheduler.step(noise_pred, t, latents, **step_kwargs)
            latents = step.prev_sample
            if trace_pde_deviation:
                clean = getattr(step, "pred_original_sample", None)
                trace.append(self._deviation(*self._decode(latents if clean is None else clean)))

        # 4. Couple the halves, then decode both modalities to physical units
        if use_latent_operator and self.latent_operator is not None:
            latents = self.predict_seismic_half(latents)
        deviation_trace = torch.stack(trace) if trace_pde_deviation else None
        if output_type == "latent":
            check_finite_output(latents, "latents")
            self.maybe_free_model_hooks()
            trace_out = self._to_output(deviation_trace, "np")
            if not return_dict:
                return latents, trace_out
            return JointGenerationOutput(None, None, pde_deviation_trace=trace_out, latents=latents)
        velocities, seismic = self._decode(latents)
        check_finite_output(velocities, "velocities")
        check_finite_output(seismic, "seismic data")
        deviation = self._deviation(velocities, seismic) if return_pde_deviation else None

        # 5. Return
        outputs = tuple(
            self._to_output(x, output_type) for x in (velocities, seismic, deviation, deviation_trace)
        )
        self.maybe_free_model_hooks()
        if not return_dict:
            return outputs
        return JointGenerationOutput(*outputs)

    # ------------------------------------------------------------------------------------------
    # inversion

    def _check_seismic(self, seismic) -> torch.Tensor:
        expected = tuple(self.vqvae.config.seismic_shape)
        tensor = check_real_numbers(seismic, "seismic")
        if tensor.ndim == 3:
            tensor = tensor[None]
        if tensor.ndim != 4 or tuple(tensor.shape[1:]) != expected or tensor.shape[0] == 0:
            raise ValueError(
                f"seismic must have shape {expected} or (B, {', '.join(map(str, expected))}) with B >= 1 "
                f"(shots, time samples, receivers); got {tuple(np.shape(seismic))}."
            )
        tensor = tensor.float()
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError("seismic contains NaN or Inf samples.")
        return tensor

    @torch.no_grad()
    def invert(
        self,
        seismic: np.ndarray | torch.Tensor,
        num_candidates: int = 4,
        refine_steps: int | None = None,
        num_inference_steps: int = 50,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "np",
        return_dict: bool = True,
        operator_iterations: int | None = None,
        operator_step_size: float = 1.0,
    ) -> JointInversionOutput | tuple:
        r"""
        Estimate velocity from seismic data: encode, then refine the latent by diffusion (WaveDiffusion §3.3).

        The seismic data are encoded and quantised (the stage-1 inversion). With `refine_steps`
        K > 0, that latent is noised to the K-th last of `num_inference_steps` timesteps, and the
        last K denoising steps run with `num_candidates` N stochastic candidates per sample: at
        each step the candidate whose predicted clean latent decodes to seismic closest to the
        given data (mean squared difference in normalised space) is kept.

        An autoencoder with a velocity encoder (2VQ) has no velocity in its seismic code, so the
        velocity half is sampled instead: the whole schedule runs on `num_candidates` N
        candidates per record, with the seismic half replaced at every step by the encoded seismic
        code noised to that step's level (the replacement method of diffusion inpainting). With a
        `latent_operator`, each step's clean-latent estimate is also pulled toward the data: its
        velocity half takes `operator_iterations` steepest-descent steps on
        `0.5 * |latent_operator(velocity half) - seismic code|^2`, each with an exact line search on
        the linearised operator, before the step continues from it (a latent analogue of the
        velocity inversion pipeline's data-consistency steps; no wave propagation inside the loop).
        Each candidate's velocity is finally forward-modelled (`physics.forward_model`, deepwave;
        N forward models per record) and the one whose gathers fit the given data best is returned.

        Args:
            seismic (`np.ndarray` or `torch.Tensor` of shape `(5, 1000, 70)` or `(B, 5, 1000, 70)`):
                Shot gathers in OpenFWI's amplitude convention.
            num_candidates (`int`, *optional*, defaults to 4): N, candidates per step (>= 1).
            refine_steps (`int`, *optional*): K, refined steps (0 = stage-1 encoding alone; at
                most `num_inference_steps`). Defaults to 10, and to `num_inference_steps` (the only
                value allowed) for an autoencoder with a velocity encoder.
            num_inference_steps (`int`, *optional*, defaults to 50): Length of the schedule the
                last K steps are taken from.
            generator (`torch.Generator` or `list[torch.Generator]`, *optional*): For the noise.
            output_type (`str`, *optional*, defaults to `"np"`): `"np"` or `"pt"`.
            return_dict (`bool`, *optional*, defaults to `True`): Return a [`JointInversionOutput`].
            operator_iterations (`int`, *optional*): Operator-guided steps per denoising step (two
                encoders and a `latent_operator` only; 0 = replacement alone). Defaults to 3 where
                the pipeline has both, else 0. Each costs two operator forwards and one backward per
                candidate.
            operator_step_size (`float`, *optional*, defaults to 1.0): Fraction of the line-search
                step taken (> 0).

        Returns:
            [`JointInversionOutput`] or `tuple` `(velocities, seismic_misfit)`. For a velocity
            encoder `seismic_misfit` compares the given data with the gathers forward-modelled
            from the returned velocity (normalised space).

        Raises:
            ValueError: For seismic of the wrong shape or with NaN/Inf, `num_candidates` < 1,
                `refine_steps` outside `[0, num_inference_steps]` (or, with a velocity encoder,
                other than `num_inference_steps`), `operator_iterations` < 0 or > 0 without two
                encoders and a `latent_operator`, or `operator_step_size` not a positive number.
        """
        # 1. Check inputs
        two_encoders = bool(self.vqvae.config.velocity_encoder)
        if refine_steps is None:
            refine_steps = num_inference_steps if two_encoders else 10
        if two_encoders and refine_steps != num_inference_steps:
            raise ValueError(
                "This pipeline's autoencoder encodes velocity separately (velocity_encoder=True), so the seismic "
                "code holds no velocity to refine: its velocity half is sampled over the whole schedule. Leave "
                f"`refine_steps` unset or equal to num_inference_steps ({num_inference_steps}); got {refine_steps!r}."
            )
        has_operator = two_encoders and self.latent_operator is not None
        if operator_iterations is None:
            operator_iterations = 3 if has_operator else 0
        if not isinstance(operator_iterations, int) or operator_iterations < 0:
            raise ValueError(f"`operator_iterations` must be an integer >= 0, got {operator_iterations!r}.")
        if operator_iterations and not has_operator:
            raise ValueError(
                "`operator_iterations` > 0 needs an autoencoder with a velocity encoder and a latent_operator; "
                "this pipeline has "
                + (
                    "no latent_operator."
                    if two_encoders
                    else "one encoder (its seismic code holds the velocity)."
                )
            )
        if not isinstance(operator_step_size, (int, float)) or not 0 < operator_step_size < float("inf"):
            raise ValueError(f"`operator_step_size` must be a positive number, got {operator_step_size!r}.")
        if two_encoders:
            self.check_geometry()  # its candidates are forward-modelled
        data = self._check_seismic(seismic)
        if not isinstance(num_candidates, int) or num_candidates < 1:
            raise ValueError(f"`num_candidates` must be an integer >= 1, got {num_candidates!r}.")
        check_num_inference_steps(self.scheduler, num_inference_steps)
        if not isinstance(refine_steps, int) or not 0 <= refine_steps <= num_inference_steps:
            raise ValueError(
                f"`refine_steps` must be an integer from 0 to num_inference_steps ({num_inference_steps}); "
                f"got {refine_steps!r}."
            )
        if output_type not in OUTPUT_TYPES:
            raise ValueError(
                f"Unknown `output_type` {output_type!r}. Valid choices: {', '.join(OUTPUT_TYPES)}."
            )
        batch = data.shape[0]
        if isinstance(generator, list) and len(generator) != batch:
            raise ValueError(
                f"Got {len(generator)} generators for {batch} seismic records; pass one per record."
            )
        device = self._execution_device

        # 2. Stage 1: encode and quantise
        target = self.vqvae.normalize_seismic(data.to(device))
        if two_encoders:
            return self._sample_velocity_given_seismic(
                data,
                target,
                num_candidates,
                num_inference_steps,
                generator,
                output_type,
                return_dict,
                operator_iterations,
                operator_step_size,
            )
        latents = self.vqvae.scale_latents(
            self.vqvae.quantize(self.vqvae.encode(target.to(self.vqvae.dtype)).latents)[0]
        ).to(self.unet.dtype)

        # 3. Stage 2: the last K steps, best of N candidates at each
        if refine_steps:
            self.scheduler.set_timesteps(num_inference_steps, device=device)
            timesteps = self.scheduler.timesteps[-refine_steps:]
            noise = randn_tensor(latents.shape, generator=generator, device=device, dtype=latents.dtype)
            latents = self.scheduler.add_noise(latents, noise, timesteps[:1].repeat(batch))
            candidate_generator = (
                [g for g in generator for _ in range(num_candidates)]
                if isinstance(generator, list)
                else generator
            )
            step_kwargs = self._step_kwargs(candidate_generator, eta=1.0)
            for t in self.progress_bar(timesteps):
                candidates = latents.repeat_interleave(num_candidates, dim=0)
                noise_pred = self.unet(self.scheduler.scale_model_input(candidates, t), t).sample
                step = self.scheduler.step(noise_pred, t, candidates, **step_kwargs)
                clean = getattr(step, "pred_original_sample", None)
                decoded = self.vqvae.decode(
                    self.vqvae.unscale_latents(
                        (step.prev_sample if clean is None else clean).to(self.vqvae.dtype)
                    )
                ).seismic
                misfit = (
                    (decoded - target.repeat_interleave(num_candidates, dim=0)).pow(2).mean(dim=(1, 2, 3))
                )
                best = misfit.view(batch, num_candidates).argmin(dim=1)
                chosen = torch.arange(batch, device=device) * num_candidates + best
                latents = step.prev_sample[chosen]

        # 4. Decode the velocity; report the final seismic misfit
        decoded = self.vqvae.decode(self.vqvae.unscale_latents(latents.to(self.vqvae.dtype)))
        velocities = self.vqvae.denormalize_velocity(decoded.velocity[:, 0])
        check_finite_output(velocities, "velocities")
        misfit = (decoded.seismic - target).pow(2).mean(dim=(1, 2, 3))
        outputs = (self._to_output(velocities, output_type), self._to_output(misfit, output_type))
        self.maybe_free_model_hooks()
        if not return_dict:
            return outputs
        return JointInversionOutput(*outputs)

    def _sample_velocity_given_seismic(
        self,
        data,
        target,
        num_candidates,
        num_inference_steps,
        generator,
        output_type,
        return_dict,
        operator_iterations,
        operator_step_size,
    ):
        """`invert` for a two-encoder autoencoder: the velocity half is sampled with the seismic half
        held at the encoded code (noised to each step's level); the best of N candidates, by the fit of
        its forward-modelled gathers to the data, is returned."""
        batch, device, vqvae = data.shape[0], target.device, self.vqvae
        half = vqvae.config.latent_channels // 2
        # The seismic code, quantised with the seismic codebook and scaled as the UNet saw it
        seismic_code = vqvae.quantizers[0](vqvae.encode_seismic(target.to(vqvae.dtype)))[0]
        full = torch.cat([seismic_code, torch.zeros_like(seismic_code)], dim=1)
        known = (
            vqvae.scale_latents(full)[:, :half].to(self.unet.dtype).repeat_interleave(num_candidates, dim=0)
        )
        candidate_generator = (
            [g for g in generator for _ in range(num_candidates)]
            if isinstance(generator, list)
            else generator
        )
        shape = (batch * num_candidates, vqvae.config.latent_channels, *vqvae.latent_shape)
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        latents = randn_tensor(shape, generator=candidate_generator, device=device, dtype=known.dtype)
        latents = latents * self.scheduler.init_noise_sigma
        step_kwargs = self._step_kwargs(candidate_generator, eta=1.0)
        for t in self.progress_bar(self.scheduler.timesteps):
            noise = randn_tensor(known.shape, generator=candidate_generator, device=device, dtype=known.dtype)
            noisy_known = self.scheduler.add_noise(known, noise, t.repeat(known.shape[0]))
            latents = torch.cat([noisy_known, latents[:, half:]], dim=1)
            noise_pred = self.unet(self.scheduler.scale_model_input(latents, t), t).sample
            if operator_iterations:
                clean = clean_from_prediction(self.scheduler, noise_pred, latents, t)
                velocity_half = self._pull_toward_seismic_code(
                    clean[:, half:], known, operator_iterations, operator_step_size
                )
                clean = torch.cat([known.float(), velocity_half], dim=1)
                noise_pred = prediction_from_clean(self.scheduler, clean, latents, t).to(latents.dtype)
            latents = self.scheduler.step(noise_pred, t, latents, **step_kwargs).prev_sample
        latents = torch.cat([known, latents[:, half:]], dim=1)

        # The candidate whose forward-modelled gathers fit the data best
        decoded = vqvae.decode(vqvae.unscale_latents(latents.to(vqvae.dtype)))
        velocities = vqvae.denormalize_velocity(decoded.velocity[:, 0])
        check_finite_output(velocities, "velocities")
        modelled = forward_model(velocities.float(), geometry=self.geometry, device=device)
        normalised = vqvae.normalize_seismic(modelled.to(vqvae.dtype))
        misfit = (normalised - target.repeat_interleave(num_candidates, dim=0)).pow(2).mean(dim=(1, 2, 3))
        best = misfit.view(batch, num_candidates).argmin(dim=1)
        chosen = torch.arange(batch, device=device) * num_candidates + best
        outputs = (
            self._to_output(velocities[chosen], output_type),
            self._to_output(misfit[chosen], output_type),
        )
        self.maybe_free_model_hooks()
        if not return_dict:
            return outputs
        return JointInversionOutput(*outputs)

    def _pull_toward_seismic_code(
        self, velocity_half: torch.Tensor, seismic_code: torch.Tensor, iterations: int, step_size: float
    ) -> torch.Tensor:
        """Steepest-descent steps on `0.5 * |latent_operator(velocity_half) - seismic_code|^2` (per
        sample, scaled latents `(B, C/2, h, w)`), each of `step_size` times the length that minimises
        the linearised misfit: the velocity half moved toward codes whose predicted seismic code is the
        data's."""
        operator = self.latent_operator
        target = seismic_code.to(operator.device, operator.dtype)
        velocity_half = velocity_half.detach().to(operator.device, operator.dtype)
        dims = tuple(range(1, velocity_half.dim()))
        for _ in range(iterations):
            with torch.enable_grad():
                velocity_half.requires_grad_(True)
                predicted = operator(velocity_half).sample
                residual = predicted - target
                (gradient,) = torch.autograd.grad(0.5 * residual.pow(2).sum(), velocity_half)
            velocity_half, predicted, residual = velocity_half.detach(), predicted.detach(), residual.detach()
            # exact line search on the linearised operator: J g by a finite difference
            norm = gradient.pow(2).sum(dim=dims, keepdim=True).sqrt().clamp_min(1e-12)
            epsilon = 1e-2 / norm
            directional = (operator(velocity_half + epsilon * gradient).sample - predicted) / epsilon
            length = (residual * directional).sum(dim=dims, keepdim=True) / directional.pow(2).sum(
                dim=dims, keepdim=True
            ).clamp_min(1e-12)
            velocity_half = velocity_half - step_size * length.clamp_min(0) * gradient
        return velocity_half.float()


JointGenerationPipeline.__call__.__doc__ += EXAMPLE_DOC_STRING

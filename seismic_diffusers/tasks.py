"""Steps of a generation run that the command line and the Gradio Space share.

`seismic-diffusers generate velocity` (`cli.py`) and the Space's velocity tab (`spaces_app/`)
both take a loaded [`VelocityGenerationPipeline`], give it a sampler of its own, draw maps with
one generator per map (map `i` uses `torch.Generator().manual_seed(seed + i)`, so the same seed
gives the same maps in both, whatever the batching) and plot them in the pipeline's units. These
steps live here once; what each caller says about a run (the CLI's `metadata.json` and
messages, the Space's summary and error texts) stays with the caller.

    pipe = velocity_sampling_pipeline(VelocityGenerationPipeline.from_pretrained(folder), "ddpm")
    velocities = generate_velocity_maps(pipe, range(4), seed=0, family="curvefault-a")
    plot_velocity_maps(pipe.processor, velocities, "maps.png", titles=[...], suptitle="...")
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from .utils.scheduler_swap import scheduler_from_name

if TYPE_CHECKING:
    from .pipelines import VelocityGenerationPipeline, VelocityInversionPipeline
    from .processors import VelocityProcessor


def velocity_sampling_pipeline(
    pipe: VelocityGenerationPipeline, scheduler: str | None = None
) -> VelocityGenerationPipeline:
    """A pipeline around `pipe`'s model (U-Net, processor, saved sampling defaults) with a scheduler of its own.

    Schedulers keep state between steps, so a run that may overlap another one on the same
    loaded model (the Space's requests) needs its own; `pipe` and its scheduler are left as they are.

    Args:
        pipe ([`VelocityGenerationPipeline`]): The loaded pipeline; its U-Net and processor are
            shared, not copied (same device and dtype).
        scheduler (`str`, *optional*): `None` for a fresh copy of `pipe`'s own scheduler, or a name
            from [`~utils.scheduler_swap.SCHEDULERS`] (`"dpmsolver++"`, `"ddim"`, `"ddpm"`) built
            from its config, so it samples the same trained model.

    Returns:
        [`VelocityGenerationPipeline`]: A new pipeline of `pipe`'s class, with `pipe.sampling_defaults`
        (`default_num_inference_steps`, `default_guidance_scale`, `default_timestep_power`) and
        the default progress-bar settings.

    Raises:
        ValueError: for a scheduler name not in `SCHEDULERS`.
    """
    if scheduler is None:
        sampler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    else:
        sampler = scheduler_from_name(pipe.scheduler.config, scheduler)
    return type(pipe)(
        unet=pipe.unet,
        scheduler=sampler,
        processor=pipe.processor,
        **pipe.sampling_defaults,
    )


def map_generators(seed: int, indices: Sequence[int]) -> list[torch.Generator]:
    """One CPU generator per map: map `i` of a run uses `torch.Generator().manual_seed(seed + i)`.

    Args:
        seed (`int`): Seed of map 0 of the run.
        indices (`Sequence[int]`): The maps' numbers in the run, e.g. `range(num)` or one chunk.

    Returns:
        `list[torch.Generator]`: `len(indices)` generators, in the order of `indices`.
    """
    return [torch.Generator().manual_seed(seed + i) for i in indices]


def generate_velocity_maps(
    pipe: VelocityGenerationPipeline,
    indices: Sequence[int],
    *,
    seed: int,
    family: str | Sequence[str | None] | None = None,
    num_inference_steps: int | None = None,
    timestep_power: float | None = None,
    guidance_scale: float | Mapping[str, float] | None = None,
) -> np.ndarray:
    """Maps `indices` of a run of velocity maps, in one pipeline call; each map reproducible on its own.

    Map `i` of the run is drawn with its own `torch.Generator().manual_seed(seed + i)`
    ([`map_generators`]), so it
    depends only on `seed + i` and its family, not on which other maps share its batch: a run made
    in chunks (`range(0, 16)`, `range(16, 32)`, ...) gives the maps of a run made at once, up to
    the rounding of batched convolutions.

    Args:
        pipe ([`VelocityGenerationPipeline`]): The pipeline to call, e.g. from
            [`velocity_sampling_pipeline`]; its progress-bar settings apply.
        indices (`Sequence[int]`): Which maps of the run to draw, e.g. `range(num)` for all of
            them or `range(16, 32)` for one chunk.
        seed (`int`): Seed of map 0 of the run.
        family (`str`, `Sequence[str | None]`, *optional*): `None` for any family (each map draws
            its family from the training data's mix; the only choice for an unconditional model),
            one family name for every map, or one entry per map of the whole run (indexed by the
            map's number in `indices`; `None` or `"any"` entries draw from the mix).
        num_inference_steps (`int`, *optional*): Denoising steps; `None` uses the pipeline's default.
        timestep_power (`float`, *optional*): Timestep spacing; `None` uses the pipeline's default.
        guidance_scale (`float` or `dict[str, float]`, *optional*): Classifier-free guidance,
            one weight or `{family: weight}`; `None` uses the pipeline's default.

    Returns:
        `np.ndarray` of shape `(len(indices), nz, nx)` (`(N, 70, 70)` for the OpenFWI-style
        models), float32: P-wave velocity in m/s within the processor's `[v_min, v_max]`; axis 1
        is depth (increasing downwards) and axis 2 horizontal position, both at the processor's
        `grid_spacing` metres.

    Raises:
        ValueError: from the pipeline's checks (unknown family, steps out of range, a timestep
            power the scheduler cannot take, ...) or for non-finite maps.
    """
    if family is not None and not isinstance(family, str):
        family = [family[i] for i in indices]
    output = pipe(
        batch_size=len(indices),
        family=family,
        generator=map_generators(seed, indices),
        num_inference_steps=num_inference_steps,
        timestep_power=timestep_power,
        guidance_scale=guidance_scale,
        output_type="np",
    )
    return np.asarray(output.velocities, dtype=np.float32)


def plot_velocity_maps(
    processor: VelocityProcessor,
    velocities: np.ndarray,
    path: str | os.PathLike,
    *,
    titles: Sequence[str] | None = None,
    suptitle: str | None = None,
) -> str:
    """Save a grid of velocity maps in the units of the pipeline that made them.

    [`~utils.plotting.plot_velocity_grid`] with the processor's cell size for the axes and its
    velocity range for the shared colour bar.

    Args:
        processor ([`VelocityProcessor`]): Gives `grid_spacing` (m) and `v_min`, `v_max` (m/s).
        velocities (`np.ndarray` of shape `(N, nz, nx)`): Velocity in m/s.
        path (`str` or `os.PathLike`): The image to write (PNG).
        titles (`Sequence[str]`, *optional*): One title per map.
        suptitle (`str`, *optional*): The figure's title.

    Returns:
        `str`: The path written.
    """
    from .utils.plotting import plot_velocity_grid

    config = processor.config
    return plot_velocity_grid(
        velocities,
        path,
        titles=titles,
        grid_spacing=config.grid_spacing,
        v_min=config.v_min,
        v_max=config.v_max,
        suptitle=suptitle,
    )


@dataclass
class GatherInversion:
    """What [`invert_gathers`] returns.

    Args:
        output ([`~pipelines.VelocityInversionOutput`]): numpy: `velocities` and `std` `(B, nz, nx)`,
            `samples` `(B, num_samples, nz, nx)` in m/s, `data_misfit` `(B, num_samples)`.
        predicted (`np.ndarray` of shape `(B, shots, nt, receivers)`): Gathers forward-modelled
            (deepwave) from the posterior mean.
        seconds (`float`): Wall time of the inversion.
        scores (`list[dict]`, *optional*): With `truth`: per gather `mae_m_per_s`, `ssim`
            (OpenFWI's definitions) and `coverage_2std` (share of cells whose true value lies
            within the mean +- 2 std).
    """

    output: object
    predicted: np.ndarray
    seconds: float
    scores: list[dict] | None = None


def invert_gathers(
    pipe: VelocityInversionPipeline,
    seismic: np.ndarray,
    *,
    seed: int = 0,
    truth: np.ndarray | None = None,
    figure: str | os.PathLike | None = None,
    **settings,
) -> GatherInversion:
    """Invert gathers with `pipe`, forward-model the mean, score it against `truth`, and plot it.

    Gather `i` is sampled with `torch.Generator().manual_seed(seed + i)` ([`map_generators`]).

    Args:
        pipe ([`VelocityInversionPipeline`]): The loaded pipeline; its progress-bar settings apply.
        seismic (`np.ndarray` of shape `(B, shots, nt, receivers)` or `(shots, nt, receivers)`): Gathers.
        seed (`int`): Seed of gather 0.
        truth (`np.ndarray` of shape `(B, nz, nx)`, *optional*): True maps, m/s, for scores and the figure.
        figure (`str` or `os.PathLike`, *optional*): Write [`~utils.plotting.plot_inversion`]'s PNG here.
        **settings: Passed to the pipeline (`family`, `num_samples`, `num_inference_steps`,
            `strength`, `refine_iterations`, `trace_mask`, ...).

    Returns:
        [`GatherInversion`].

    Raises:
        ValueError: From the pipeline's checks, or for `truth` of a shape other than the maps'.
    """
    import time

    from .metrics import openfwi_map_metrics
    from .physics import forward_model

    seismic = np.asarray(seismic, dtype=np.float32)
    batch = 1 if seismic.ndim == 3 else len(seismic)
    if truth is not None:
        expected = (batch, *pipe.acquisition.grid_shape)
        truth = np.asarray(truth, dtype=np.float32)
        if truth.size != int(np.prod(expected)):
            raise ValueError(f"truth must hold one map per gather, {expected}; got {truth.shape}.")
        truth = truth.reshape(expected)
    started = time.perf_counter()
    output = pipe(seismic, generator=map_generators(seed, range(batch)), output_type="np", **settings)
    seconds = time.perf_counter() - started
    predicted = forward_model(output.velocities, pipe.acquisition)
    scores = None
    if truth is not None:
        scores = []
        for mean, std, true in zip(output.velocities, output.std, truth, strict=True):
            # OpenFWI's SSIM, on maps scaled from 1500-4500 m/s to [-1, 1]
            metrics = openfwi_map_metrics(torch.as_tensor(mean[None]), torch.as_tensor(true[None]))
            scores.append({
                "mae_m_per_s": float(np.abs(mean - true).mean()),
                "ssim": float(metrics["SSIM"]),
                "coverage_2std": float((np.abs(mean - true) <= 2 * std).mean()),
            })  # fmt: skip
    if figure is not None:
        from .utils.plotting import plot_inversion

        titles = [f"misfit {float(np.min(m)):.3f}" for m in output.data_misfit]
        if scores is not None:
            titles = [f"SSIM {s['ssim']:.2f}, MAE {s['mae_m_per_s']:.0f} m/s" for s in scores]
        config = pipe.processor.config
        plot_inversion(
            output.velocities, output.std, seismic.reshape(predicted.shape), predicted, figure, truth=truth,
            titles=titles, grid_spacing=pipe.acquisition.config.grid_spacing, dt=pipe.acquisition.config.dt,
            v_min=config.v_min, v_max=config.v_max,
            suptitle=f"{batch} gather(s), {output.samples.shape[1]} posterior sample(s) each",
        )  # fmt: skip
    return GatherInversion(output=output, predicted=predicted, seconds=seconds, scores=scores)

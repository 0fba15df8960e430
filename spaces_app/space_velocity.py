"""The Space's "Velocity models" tab: VelocityGenerationPipeline maps in m/s.

The generation itself (a private sampler per request, one generator per map, the figure in the
pipeline's units) is `seismic_diffusers.tasks`, which `seismic-diffusers generate velocity` runs
too: the command in the summary reproduces the maps.
"""

from __future__ import annotations

import json
import time

import gradio as gr
import numpy as np
import space_common as common
from space_common import (
    CONCURRENCY_ID,
    card_link,
    card_text,
    check_whole_number,
    new_output_folder,
    user_errors,
)

from seismic_diffusers import VELOCITY_FAMILIES
from seismic_diffusers.tasks import generate_velocity_maps, plot_velocity_maps, velocity_sampling_pipeline
from seismic_diffusers.utils.scheduler_swap import SCHEDULERS

VELOCITY_LIMITS = {"num_samples": (1, 16), "steps": (1, 100), "seed": (0, 2**31 - 1)}
VELOCITY_DEFAULTS = {"family": "any", "num_samples": 4, "steps": 25, "seed": 0, "scheduler": "default"}
VELOCITY_SCHEDULERS = [  # (menu label, value); the notes describe the bundled model's maps
    ("the model's own (SDE-DPM-Solver++)", "default"),
    ("DDPM (stochastic)", "ddpm"),
    ("DPM-Solver++ (deterministic; grainy maps)", "dpmsolver++"),
    ("DDIM (deterministic; grainy maps)", "ddim"),
]
ANY_FAMILY = "any"


def scheduler_label(scheduler) -> str:
    """A sampler's usual name, e.g. "SDE-DPM-Solver++" for `DPMSolverMultistepScheduler`."""
    name = type(scheduler).__name__
    if name == "DPMSolverMultistepScheduler":
        algorithm = scheduler.config.get("algorithm_type", "dpmsolver++")
        return {"sde-dpmsolver++": "SDE-DPM-Solver++", "dpmsolver++": "DPM-Solver++"}.get(algorithm, name)
    return {"DDIMScheduler": "DDIM", "DDPMScheduler": "DDPM"}.get(name, name)


def velocity_default_steps() -> int:
    """The pipeline's tuned step count, read from its model_index.json without loading the model."""
    folder = common.VELOCITY.local_folder
    index = folder / "model_index.json" if folder else None
    if index is not None and index.is_file():
        return int(json.loads(index.read_text()).get("default_num_inference_steps", 25))
    return 25


def velocity_families() -> list[str]:
    """Family names for the menu, read from the processor config without loading the model."""
    folder = common.VELOCITY.local_folder
    config = folder / "processor" / "processor_config.json" if folder else None
    if config is not None and config.is_file():
        return list(json.loads(config.read_text())["families"])
    return list(VELOCITY_FAMILIES)


@user_errors
def generate_velocity(family: str, num_samples: int, steps: int, seed: int, scheduler: str):
    """Generate velocity maps; what the "Generate" button and the `/generate_velocity` endpoint run.

    Args:
        family (`str`): A family name from the pipeline, or `"any"`.
        num_samples (`int`): Maps to generate, 1-16.
        steps (`int`): Denoising steps, 1-100.
        seed (`int`): Map `i` uses `torch.Generator().manual_seed(seed + i)`, as the CLI does.
        scheduler (`str`): `"default"` (the pipeline's own) or a name from `SCHEDULERS`.

    Returns:
        `tuple`: PNG path (shown), `.npy` path (float32 `(N, 70, 70)`, m/s), PNG path (download),
        and a Markdown summary.
    """
    # 1. Check inputs (the UI cannot send bad values; API callers can)
    num_samples = check_whole_number("Number of maps", num_samples, *VELOCITY_LIMITS["num_samples"])
    steps = check_whole_number("Inference steps", steps, *VELOCITY_LIMITS["steps"])
    seed = check_whole_number("Seed", seed, *VELOCITY_LIMITS["seed"])
    if scheduler not in ("default", *SCHEDULERS):
        raise gr.Error(
            f"Unknown scheduler {scheduler!r}; choose one of: default, {', '.join(SCHEDULERS)}.",
            print_exception=False,
        )
    family = (family or ANY_FAMILY).strip().lower()

    # 2. Load the pipeline (once per process) and check the family against it
    started = time.perf_counter()
    shared = common.VELOCITY.get()
    families = shared.families
    if family != ANY_FAMILY and family not in families:
        allowed = ", ".join(families) if families else "none: this model is unconditional"
        raise gr.Error(
            f"Unknown family {family!r}; choose 'any' or one of: {allowed}.", print_exception=False
        )

    # 3. A private scheduler per request: schedulers keep state between steps
    pipe = velocity_sampling_pipeline(shared, None if scheduler == "default" else scheduler)
    pipe.set_progress_bar_config(disable=True)

    # 4. Generate: one generator per map, so map i depends only on seed + i (as in the CLI)
    velocities = generate_velocity_maps(
        pipe,
        range(num_samples),
        seed=seed,
        family=None if family == ANY_FAMILY else family,
        num_inference_steps=steps,
    )

    # 5. Write the files: velocities and a labelled figure
    config = shared.processor.config
    sampler_name = scheduler_label(pipe.scheduler)
    folder = new_output_folder()
    stem = f"velocity_{family}_n{num_samples}_seed{seed}"
    npy_path = folder / f"{stem}.npy"
    png_path = folder / f"{stem}.png"
    np.save(npy_path, velocities)
    label = "any family" if family == ANY_FAMILY else family
    seeds = f"seed {seed}" if num_samples == 1 else f"seeds {seed}-{seed + num_samples - 1}"
    plot_velocity_maps(
        shared.processor,
        velocities,
        png_path,
        titles=[f"#{i + 1} {label}, seed {seed + i}" for i in range(num_samples)],
        suptitle=f"{label}: {steps} steps of {sampler_name}, {seeds}",
    )
    seconds = time.perf_counter() - started

    # 6. Summarise, with the command that reproduces the same maps
    nz, nx = velocities.shape[1:]
    command = (
        f"seismic-diffusers generate velocity --pipeline {common.VELOCITY.source_for_display()} \\\n"
        f"    --num {num_samples} --family {family} --steps {steps} --seed {seed}"
        + (f" --scheduler {scheduler}" if scheduler != "default" else "")
        + " --out samples/"
    )
    summary = (
        f"**{num_samples} map{'s' * (num_samples > 1)}** of {nz} x {nx} cells at {config.grid_spacing:g} m "
        f"({nz * config.grid_spacing:g} m deep, {nx * config.grid_spacing:g} m wide), made in "
        f"**{seconds:.1f} s** with {sampler_name}, {steps} steps.  \n"
        f"Velocity {velocities.min():.0f}-{velocities.max():.0f} m/s (mean {velocities.mean():.0f} m/s). "
        f"The `.npy` holds float32 `({num_samples}, {nz}, {nx})` in m/s: axis 1 is depth, axis 2 is x.\n\n"
        f"Same maps from the command line:\n\n```bash\n{command}\n```"
    )
    return str(png_path), str(npy_path), str(png_path), summary


VELOCITY_INTRO = """\
### Generate subsurface velocity models

Each map is a 2-D P-wave velocity model in the style of [OpenFWI](https://openfwi-lanl.github.io/):
**70 x 70 cells of 10 m** (700 m deep by 700 m wide), velocity in **m/s** within **1500-4500 m/s**,
depth increasing downwards. Pick a geological *family* or *any*:

- **flatvel** flat layers, **curvevel** folded layers, **flatfault** / **curvefault** the same cut
  by dipping faults;
- **-a** 2-5 layers, velocity increasing with depth; **-b** 5-9 layers, with low-velocity layers.

**The model.** A class-conditional diffusion model (DDPM: a U-Net that removes noise step by
step, told which family to draw) trained on a 2-core CPU on 24,000 synthetic maps, 3000 per
family, made by this project's family generator: no real OpenFWI data was used. It samples with
SDE-DPM-Solver++ in 25 steps. A classifier trained on the synthetic families recognises the
family asked for in most generated maps, but their distribution is still measurably off that of
the training maps (see the card's Quality section). Training data, exact command, duration and
scores: {card_link}.
"""


def velocity_tab() -> None:
    """The "Velocity models" tab: controls, outputs, examples and the model card."""
    families = velocity_families()
    defaults = {**VELOCITY_DEFAULTS, "steps": velocity_default_steps()}
    with gr.Tab("Velocity models", id="velocity"):
        gr.Markdown(VELOCITY_INTRO.format(card_link=card_link(common.VELOCITY)))
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                family = gr.Dropdown(
                    [("any family", ANY_FAMILY), *[(name, name) for name in families]],
                    value=defaults["family"],
                    label="Family",
                    info="Geological family to generate, or any.",
                )
                low, high = VELOCITY_LIMITS["num_samples"]
                num_samples = gr.Slider(
                    low, high, value=defaults["num_samples"], step=1, label="Number of maps",
                    info=f"{low}-{high}; each costs about 0.5 s on a 2-core CPU.",
                )  # fmt: skip
                low, high = VELOCITY_LIMITS["steps"]
                steps = gr.Slider(
                    low, high, value=defaults["steps"], step=1, label="Inference steps",
                    info=f"{low}-{high}; more is slower. {defaults['steps']} is what the model card measured.",
                )  # fmt: skip
                low, high = VELOCITY_LIMITS["seed"]
                seed = gr.Number(
                    value=defaults["seed"], minimum=low, maximum=high, precision=0, label="Seed",
                    info=f"{low}-{high}. Map i uses seed + i, so the same seed gives the same maps.",
                )  # fmt: skip
                scheduler = gr.Dropdown(
                    VELOCITY_SCHEDULERS,
                    value=defaults["scheduler"],
                    label="Sampler (scheduler)",
                    info="Any diffusers scheduler can replace the trained one.",
                )
                button = gr.Button("Generate velocity models", variant="primary")
            with gr.Column(scale=2, min_width=400):
                image = gr.Image(
                    label="Generated velocity models (colour: m/s; axes: m)",
                    show_label=False,  # the label badge would cover the figure's title
                    type="filepath",
                    format="png",
                    interactive=False,
                    buttons=["download", "fullscreen"],
                )
                summary = gr.Markdown(label="Summary")
                with gr.Row():
                    npy_file = gr.File(label="Velocities (.npy, float32, m/s)", interactive=False)
                    png_file = gr.File(label="Figure (.png)", interactive=False)
        inputs = [family, num_samples, steps, seed, scheduler]
        gr.Examples(
            examples=[
                ["curvefault-a", 4, 25, 0, "default"],
                ["flatvel-b", 4, 25, 1, "default"],
                ["any", 9, 25, 42, "default"],
                ["curvevel-a", 4, 25, 7, "ddpm"],
            ],
            inputs=inputs,
            label="Examples (click one, then Generate)",
        )
        card = card_text(common.VELOCITY)
        if card:
            with gr.Accordion("Model card", open=False):
                gr.Markdown(card)
        button.click(
            generate_velocity,
            inputs=inputs,
            outputs=[image, npy_file, png_file, summary],
            api_name="generate_velocity",
            preprocess=False,  # raw values reach generate_velocity, which names the field and range
            concurrency_id=CONCURRENCY_ID,
            concurrency_limit=1,
        )

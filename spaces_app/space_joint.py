"""The Space's "Joint seismic-velocity" tab: JointGenerationPipeline pairs, and inversion of gathers."""

from __future__ import annotations

import time

import gradio as gr
import numpy as np
import space_common as common
import torch
from space_common import (
    CONCURRENCY_ID,
    card_link,
    card_text,
    check_whole_number,
    new_output_folder,
    user_errors,
)

from seismic_diffusers import forward_model, generate_velocity_models, openfwi_map_metrics, pde_deviation
from seismic_diffusers.utils.plotting import plot_joint_pairs

JOINT_LIMITS = {
    "num_pairs": (1, 4),
    "steps": (5, 100),
    "seed": (0, 2**31 - 1),
    "candidates": (1, 8),
    "refine": (0, 50),
}
# 2 candidates: the bundled pipeline's operator-guided inversion costs about 3 s per candidate here (10 s target)
JOINT_DEFAULTS = {"num_pairs": 2, "steps": 50, "seed": 0, "source": "example", "candidates": 2, "refine": 10}
JOINT_MAX_RECORDS = 8
JOINT_INVERT_STEPS = 50  # the schedule the refined steps are taken from (refine_steps <= 50)
JOINT_MAX_UPLOAD_MB = 16
JOINT_EXAMPLE_FAMILY, JOINT_EXAMPLE_SEED = "curvefault-a", 90_000  # a map no training set used
JOINT_SOURCES = [("example: a synthetic curvefault-a map's gathers", "example"), ("my .npy upload", "upload")]


def private_copy(shared):
    """The shared pipeline's components (the latent operator too, where it has one) with a scheduler of
    its own: schedulers keep state between steps, and requests run side by side."""
    sampler = type(shared.scheduler).from_config(shared.scheduler.config)
    return type(shared)(**{**shared.components, "scheduler": sampler})


@user_errors
def generate_joint(num_pairs: int, steps: int, seed: int):
    """Generate velocity-seismic pairs; what the "Generate pairs" button and `/generate_joint` run.

    Args:
        num_pairs (`int`): Pairs, 1-4. steps (`int`): Denoising steps, 5-100.
        seed (`int`): Pair `i` uses `torch.Generator().manual_seed(seed + i)`.

    Returns:
        `tuple`: figure (PNG: each map, its generated gathers, and deepwave's gathers for the map),
        velocities `.npy` (float32 `(N, 70, 70)`, m/s), seismic `.npy` (float32 `(N, 5, 1000, 70)`),
        and a Markdown summary with each pair's PDE deviation.
    """
    num_pairs = check_whole_number("Number of pairs", num_pairs, *JOINT_LIMITS["num_pairs"])
    steps = check_whole_number("Inference steps", steps, *JOINT_LIMITS["steps"])
    seed = check_whole_number("Seed", seed, *JOINT_LIMITS["seed"])
    started = time.perf_counter()
    shared = common.JOINT.get()
    pipe = private_copy(shared)
    pipe.set_progress_bar_config(disable=True)
    out = pipe(
        batch_size=num_pairs,
        generator=[torch.Generator().manual_seed(seed + i) for i in range(num_pairs)],
        num_inference_steps=steps,
    )
    modelled = forward_model(out.velocities, shared.geometry)  # shown, and the deviation's reference
    deviations = pde_deviation(out.velocities, out.seismic, shared.geometry, simulated=modelled)
    folder = new_output_folder()
    stem = f"joint_n{num_pairs}_seed{seed}"
    paths = {name: folder / f"{stem}_{name}" for name in ("velocities.npy", "seismic.npy", "pairs.png")}
    np.save(paths["velocities.npy"], out.velocities.astype(np.float32))
    np.save(paths["seismic.npy"], out.seismic.astype(np.float32))
    plot_joint_pairs(
        out.velocities,
        out.seismic,
        paths["pairs.png"],
        titles=[f"#{i + 1}, seed {seed + i}: PDE deviation {d:.4f}" for i, d in enumerate(deviations)],
        source_x=shared.geometry.config.source_x,
        suptitle=f"{num_pairs} generated pair(s), {steps} steps: map, its generated gathers, and deepwave's",
        modelled=modelled,
    )
    seconds = time.perf_counter() - started
    rows = "\n".join(f"| #{i + 1} | {seed + i} | {d:.4f} |" for i, d in enumerate(deviations))
    summary = (
        f"**{num_pairs} pair(s)** in **{seconds:.1f} s** ({steps} steps, forward modelling included).\n\n"
        "| pair | seed | PDE deviation |\n|---|---:|---:|\n" + rows + "\n\n"
        "PDE deviation: the mean squared difference, in OpenFWI's normalised space (`sign log1p`, then "
        "[-1, 1]), between the generated gathers and those deepwave computes for the generated map; 0 is an "
        "exact solution of the wave equation. The `.npy` files hold velocity `(N, 70, 70)` in m/s and seismic "
        "`(N, 5, 1000, 70)` (shots, 1 ms samples, receivers) in OpenFWI's amplitude convention."
    )
    return str(paths["pairs.png"]), str(paths["velocities.npy"]), str(paths["seismic.npy"]), summary


def _joint_example() -> tuple[np.ndarray, np.ndarray]:
    """Seismic `(1, 5, 1000, 70)` and true velocity `(1, 70, 70)` of the invert tab's example map."""
    velocity = generate_velocity_models(JOINT_EXAMPLE_FAMILY, 1, seed=JOINT_EXAMPLE_SEED)
    return forward_model(velocity, common.JOINT.get().geometry), velocity


@user_errors
def invert_seismic(source: str, upload, num_candidates: int, refine_steps: int, seed: int):
    """Estimate velocity from seismic data; what the "Invert" button and `/invert_seismic` run.

    Args:
        source (`str`): `"example"` (the gathers of a synthetic curvefault-a map) or `"upload"`.
        upload: A `.npy` of shape `(5, 1000, 70)` or `(N, 5, 1000, 70)`, N <= 8, OpenFWI amplitude.
        num_candidates (`int`): Candidates per refined step, 1-8. refine_steps (`int`): 0-50; 0 is
            the stage-1 encoding alone. A two-encoder pipeline (the bundled one) ignores it: it
            samples the velocity half over the whole schedule, best of `num_candidates`.
        seed (`int`): Seed of the refinement noise.

    Returns:
        `tuple`: figure (PNG: estimated map, the given gathers, and deepwave's gathers for the
        estimate), velocities `.npy` (float32 `(N, 70, 70)`, m/s), and a Markdown summary.
    """
    if source not in ("example", "upload"):
        raise gr.Error(f"Unknown source {source!r}; choose 'example' or 'upload'.", print_exception=False)
    num_candidates = check_whole_number("Candidates", num_candidates, *JOINT_LIMITS["candidates"])
    refine_steps = check_whole_number("Refined steps", refine_steps, *JOINT_LIMITS["refine"])
    seed = check_whole_number("Seed", seed, *JOINT_LIMITS["seed"])
    started = time.perf_counter()
    pipe = common.JOINT.get()
    truth = None
    if source == "example":
        seismic, truth = _joint_example()
    else:
        seismic = common.read_gathers_upload(upload, JOINT_MAX_UPLOAD_MB, JOINT_MAX_RECORDS, "records")
    steps = JOINT_INVERT_STEPS
    private = private_copy(pipe)
    private.set_progress_bar_config(disable=True)
    two_encoders = bool(pipe.vqvae.config.velocity_encoder)
    out = private.invert(
        seismic,
        num_candidates=num_candidates,
        refine_steps=None if two_encoders else refine_steps,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(seed),
    )
    seismic = np.asarray(seismic, dtype=np.float32).reshape(-1, *pipe.geometry.data_shape)
    modelled = forward_model(out.velocities, pipe.geometry)
    folder = new_output_folder()
    png_path, npy_path = folder / "inverted_velocity.png", folder / "inverted_velocity.npy"
    np.save(npy_path, out.velocities.astype(np.float32))
    if two_encoders:
        guided = ", pulled toward the data through the latent operator" if pipe.latent_operator else ""
        mode = f"velocity sampled given the seismic over {steps} steps{guided}, best of {num_candidates}"
        misfit_of = "deepwave's gathers for the estimate"
    elif refine_steps == 0:
        mode, misfit_of = "stage-1 encoding", "those decoded from the chosen latent"
    else:
        mode = f"refined: best of {num_candidates} over the last {refine_steps} of {steps} steps"
        misfit_of = "those decoded from the chosen latent"
    plot_joint_pairs(
        out.velocities,
        seismic,
        png_path,
        titles=[f"#{i + 1}: estimate (seismic misfit {m:.4f})" for i, m in enumerate(out.seismic_misfit)],
        source_x=pipe.geometry.config.source_x,
        suptitle=f"Inversion ({mode}): estimated map, the given gathers, and deepwave's for the estimate",
        modelled=modelled,
    )
    seconds = time.perf_counter() - started
    lines = [
        f"**{len(out.velocities)} record(s)** inverted in **{seconds:.1f} s** ({mode}).",
        "",
        "Seismic misfit: mean squared difference, in OpenFWI's normalised space, between the given gathers "
        f"and {misfit_of}. The `.npy` holds velocity `(N, 70, 70)` in m/s. For accuracy, use the "
        "*Invert gathers* tab (the velocity inversion pipeline).",
    ]
    if truth is not None:
        metrics = openfwi_map_metrics(out.velocities, truth)
        lines += [
            "",
            f"Against the example's true map: MAE {metrics['MAE']:.4f}, RMSE {metrics['RMSE']:.4f}, SSIM "
            f"{metrics['SSIM']:.3f} (OpenFWI's definitions on [-1, 1] maps; MAE x 1500 = "
            f"{metrics['MAE'] * 1500:.0f} m/s).",
        ]
    return str(png_path), str(npy_path), "\n".join(lines)


JOINT_INTRO = """\
### Joint seismic-velocity generation (WaveDiffusion-style)

One latent, two outputs: a **velocity map** (70 x 70 cells of 10 m, m/s) and its **five shot gathers**
(1000 samples of 1 ms at 70 receivers, OpenFWI's amplitude convention). Generated pairs only
approximately satisfy the acoustic wave equation, so each is checked: deepwave forward-models the
generated map, and the **PDE deviation** measures how far the generated gathers are from deepwave's.
The second mode, **invert**, goes the other way: seismic gathers in, a velocity estimate out.

**The model.** A VQ autoencoder (a seismic and a velocity encoder, a quantised latent with one codebook
per half, a velocity decoder and a seismic decoder), a latent diffusion model over its latents, and a
latent forward operator that gives each sampled velocity half its seismic half; all trained on a 2-core
CPU on pairs this project made with its synthetic families and deepwave. Commands, data and scores:
{card_link}.
"""


def joint_tab() -> None:
    """The "Joint seismic-velocity" tab: generate pairs, or invert gathers."""
    defaults, limits = JOINT_DEFAULTS, JOINT_LIMITS
    with gr.Tab("Joint seismic-velocity", id="joint"):
        gr.Markdown(JOINT_INTRO.format(card_link=card_link(common.JOINT)))
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                gr.Markdown("**Generate pairs**")
                num_pairs = gr.Slider(
                    *limits["num_pairs"], value=defaults["num_pairs"], step=1, label="Number of pairs"
                )
                steps = gr.Slider(*limits["steps"], value=defaults["steps"], step=1, label="Inference steps")
                seed = gr.Number(
                    value=defaults["seed"], precision=0, label="Seed", info="Pair i uses seed + i."
                )
                generate_button = gr.Button("Generate pairs", variant="primary")
                gr.Markdown("**Invert seismic data**")
                source = gr.Radio(JOINT_SOURCES, value=defaults["source"], label="Gathers")
                upload = gr.File(
                    label=f".npy, (5, 1000, 70) or (N, 5, 1000, 70), N <= {JOINT_MAX_RECORDS}",
                    type="filepath",
                )
                candidates = gr.Slider(
                    *limits["candidates"], value=defaults["candidates"], step=1, label="Candidates per step"
                )
                refine = gr.Slider(
                    *limits["refine"],
                    value=defaults["refine"],
                    step=1,
                    label="Refined steps (0: encoding only; one-encoder models)",
                )
                invert_seed = gr.Number(value=0, precision=0, label="Refinement seed")
                invert_button = gr.Button("Invert", variant="secondary")
            with gr.Column(scale=2, min_width=400):
                image = gr.Image(
                    show_label=False,
                    type="filepath",
                    format="png",
                    interactive=False,
                    buttons=["download", "fullscreen"],
                )
                summary = gr.Markdown()
                with gr.Row():
                    velocity_file = gr.File(label="Velocities (.npy, m/s)", interactive=False)
                    seismic_file = gr.File(label="Seismic (.npy, OpenFWI amplitude)", interactive=False)
        upload.upload(lambda: "upload", outputs=source, queue=False, api_visibility="private")
        gr.Examples(
            examples=[[2, 50, 0], [4, 50, 7], [1, 20, 3]], inputs=[num_pairs, steps, seed], label="Examples"
        )
        card = card_text(common.JOINT)
        if card:
            with gr.Accordion("Model card", open=False):
                gr.Markdown(card)
        generate_button.click(
            generate_joint,
            inputs=[num_pairs, steps, seed],
            outputs=[image, velocity_file, seismic_file, summary],
            api_name="generate_joint",
            preprocess=False,
            concurrency_id=CONCURRENCY_ID,
            concurrency_limit=1,
        )
        invert_button.click(
            invert_seismic,
            inputs=[source, upload, candidates, refine, invert_seed],
            outputs=[image, velocity_file, summary],
            api_name="invert_seismic",
            preprocess=False,
            concurrency_id=CONCURRENCY_ID,
            concurrency_limit=1,
        )

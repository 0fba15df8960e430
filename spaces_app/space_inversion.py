"""The Space's "Invert gathers" tab: VelocityInversionPipeline on an example or uploaded shot gathers."""

from __future__ import annotations

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

from seismic_diffusers import VELOCITY_FAMILIES, forward_model, generate_velocity_models
from seismic_diffusers.tasks import invert_gathers

INVERSION_LIMITS = {"num_samples": (1, 4), "seed": (0, 2**31 - 1), "example": (0, 99)}
INVERSION_DEFAULTS = {
    "source": "example",
    "family": "curvefault-b",
    "example": 0,
    "num_samples": 2,
    "seed": 0,
}
INVERSION_MAX_GATHERS = 2
INVERSION_MAX_UPLOAD_MB = 6  # two gathers in float64
# Example maps come from this data seed plus the example number: no training, tuning or report run uses them.
INVERSION_EXAMPLE_SEED = 90_000
# Pipeline settings the tab passes on top of num_samples; empty keeps the pipeline's defaults (the card's).
INVERSION_SETTINGS: dict = {}
INVERSION_SOURCES = [
    ("example: a held-out map's gathers (deepwave)", "example"),
    ("my .npy upload", "upload"),
]


def _example(family: str, number: int) -> tuple[np.ndarray, np.ndarray]:
    """Gathers `(1, 5, 1000, 70)` and the true map `(1, 70, 70)` of example `number` of `family`."""
    if family not in VELOCITY_FAMILIES:
        raise gr.Error(
            f"Unknown family {family!r}; choose one of {', '.join(VELOCITY_FAMILIES)}.", print_exception=False
        )
    velocity = generate_velocity_models(family, 1, seed=INVERSION_EXAMPLE_SEED + number)
    return np.asarray(forward_model(velocity, common.INVERSION.get().acquisition)), velocity


@user_errors
def invert_gathers_tab(source: str, family: str, example: int, upload, num_samples: int, seed: int):
    """Invert shot gathers; what the "Invert gathers" button and `/invert_gathers` run.

    Args:
        source (`str`): `"example"` (gathers forward-modelled from a held-out map of `family`) or `"upload"`.
        family (`str`): The example's family. example (`int`): Which example map, 0-99.
        upload: A `.npy` of shape `(5, 1000, 70)` or `(N, 5, 1000, 70)`, N <= 2, OpenFWI amplitude.
        num_samples (`int`): Posterior samples per gather, 1-4.
        seed (`int`): Gather i uses seed + i.

    Returns:
        `tuple`: figure (PNG: true map for the example, posterior mean, std, observed, predicted and
        residual gathers), mean `.npy` and std `.npy` (float32 `(N, 70, 70)`, m/s), Markdown summary.
    """
    if source not in ("example", "upload"):
        raise gr.Error(f"Unknown source {source!r}; choose 'example' or 'upload'.", print_exception=False)
    num_samples = check_whole_number("Posterior samples", num_samples, *INVERSION_LIMITS["num_samples"])
    seed = check_whole_number("Seed", seed, *INVERSION_LIMITS["seed"])
    truth = None
    if source == "example":
        example = check_whole_number("Example", example, *INVERSION_LIMITS["example"])
        seismic, truth = _example(family, example)
    else:
        seismic = common.read_gathers_upload(upload, INVERSION_MAX_UPLOAD_MB, INVERSION_MAX_GATHERS)
    pipe = common.INVERSION.get()
    folder = new_output_folder()
    paths = {name: folder / f"inversion_{name}" for name in ("mean.npy", "std.npy", "figure.png")}
    # the family is left unknown even for the example: a user's gathers come without one
    run = invert_gathers(
        pipe,
        seismic,
        seed=seed,
        truth=truth,
        figure=paths["figure.png"],
        num_samples=num_samples,
        **INVERSION_SETTINGS,
    )
    np.save(paths["mean.npy"], run.output.velocities)
    np.save(paths["std.npy"], run.output.std)
    count = len(run.output.velocities)
    lines = [
        f"**{count} gather(s)** inverted in **{run.seconds:.1f} s**, {num_samples} posterior sample(s) each.",
        "",
        "| gather | data misfit (best sample) | mean std (m/s) |"
        + (" SSIM | MAE (m/s) | +-2 std coverage |" if truth is not None else ""),
        "|---|---:|---:|" + ("---:|---:|---:|" if truth is not None else ""),
    ]
    for i in range(count):
        row = f"| #{i + 1} | {run.output.data_misfit[i].min():.3f} | {run.output.std[i].mean():.0f} |"
        if run.scores is not None:
            score = run.scores[i]
            row += f" {score['ssim']:.3f} | {score['mae_m_per_s']:.0f} | {score['coverage_2std']:.0%} |"
        lines.append(row)
    lines += [
        "",
        "Data misfit: `|F(v) - d|^2 / |d|^2` between the given gathers and deepwave's for a sample (0 = exact "
        "fit). The `.npy` files hold the posterior mean and standard deviation, `(N, 70, 70)` in m/s.",
    ]
    return str(paths["figure.png"]), str(paths["mean.npy"]), str(paths["std.npy"]), "\n".join(lines)


INVERSION_INTRO = """\
### Invert shot gathers for a velocity map

Five shot gathers in (1000 samples of 1 ms at 70 receivers, OpenFWI's geometry and amplitude), a
**velocity map** out (70 x 70 cells of 10 m, m/s) with its **uncertainty**: a network's estimate is
noised part of the way up the velocity prior's diffusion schedule, and every reverse step is pulled
toward the data through deepwave's wave equation; each posterior sample ends with a few FWI
iterations. The mean of the samples and its calibrated std are shown beside the gathers deepwave
computes for the mean. Commands, data, scores and limits: {card_link}.
"""


def inversion_tab() -> None:
    """The "Invert gathers" tab."""
    defaults, limits = INVERSION_DEFAULTS, INVERSION_LIMITS
    with gr.Tab("Invert gathers", id="invert"):
        gr.Markdown(INVERSION_INTRO.format(card_link=card_link(common.INVERSION)))
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                source = gr.Radio(INVERSION_SOURCES, value=defaults["source"], label="Gathers")
                family = gr.Dropdown(
                    list(VELOCITY_FAMILIES), value=defaults["family"], label="Example family"
                )
                example = gr.Number(value=defaults["example"], precision=0, label="Example map (0-99)")
                upload = gr.File(
                    label=f".npy, (5, 1000, 70) or (N, 5, 1000, 70), N <= {INVERSION_MAX_GATHERS}",
                    type="filepath",
                )
                num_samples = gr.Slider(
                    *limits["num_samples"], value=defaults["num_samples"], step=1, label="Posterior samples"
                )
                seed = gr.Number(
                    value=defaults["seed"], precision=0, label="Seed", info="Gather i uses seed + i."
                )
                button = gr.Button("Invert gathers", variant="primary")
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
                    mean_file = gr.File(label="Posterior mean (.npy, m/s)", interactive=False)
                    std_file = gr.File(label="Posterior std (.npy, m/s)", interactive=False)
        upload.upload(lambda: "upload", outputs=source, queue=False, api_visibility="private")
        card = card_text(common.INVERSION)
        if card:
            with gr.Accordion("Model card", open=False):
                gr.Markdown(card)
        button.click(
            invert_gathers_tab,
            inputs=[source, family, example, upload, num_samples, seed],
            outputs=[image, mean_file, std_file, summary],
            api_name="invert_gathers",
            preprocess=False,
            concurrency_id=CONCURRENCY_ID,
            concurrency_limit=1,
        )

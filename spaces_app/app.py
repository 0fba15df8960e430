"""seismic-diffusers Space: try the bundled pipelines in a browser.

    python spaces_app/app.py            # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / _PORT change it)

One tab per pipeline that really works; today that is velocity-model generation. Each tab is one
`*_tab()` function plus one plain generation function that the tab's button calls, so a new
pipeline adds a `PipelineSlot`, a generation function and a tab function, and `build_app` lists it.

Pipelines load lazily, once per process, from the local `pipelines/<name>/` folder (resolved from
this file, not the working directory), or from the folder or Hub id in an environment variable
(`SEISMIC_DIFFUSERS_VELOCITY_PIPELINE`). Nothing is downloaded unless such a Hub id is given.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

# On a shared CPU, OpenMP threads that spin while waiting slow everyone down (2.5-6x measured here
# next to a training job). Must be set before torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

# The library is imported at start-up (a few seconds); the pipelines themselves load on first use.
from seismic_diffusers import VELOCITY_FAMILIES, VelocityGenerationPipeline  # noqa: E402
from seismic_diffusers.utils.plotting import plot_velocity_grid  # noqa: E402
from seismic_diffusers.utils.scheduler_swap import SCHEDULERS, scheduler_from_name  # noqa: E402

APP_DIR = Path(__file__).resolve().parent
REPO_ROOT = APP_DIR.parent
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "seismic-diffusers-space"
OUTPUT_MAX_AGE_S = 3600
QUEUE_MAX_SIZE = 32
CONCURRENCY_ID = "cpu"  # every tab shares one CPU: one generation at a time, the rest wait in the queue
HUB_URL = "https://huggingface.co"

logger = logging.getLogger("seismic_diffusers.space")


# ----------------------------------------------------------------------------------------------
# pipelines: where they come from, loaded on first use


class PipelineSlot:
    """One pipeline: found in `pipelines/<folder>/` or named by `$<env_var>`, loaded once on first use.

    Args:
        folder (`str`): Folder name under `pipelines/`, looked up beside the repository root
            (`python spaces_app/app.py` in a checkout) and beside this file (a deployed Space).
        env_var (`str`): Environment variable that overrides the source: a folder or a Hub id.
        loader (`callable`): Takes the source (`str`) and returns the loaded pipeline.
    """

    def __init__(self, folder: str, env_var: str, loader):
        self.folder = folder
        self.env_var = env_var
        self._loader = loader
        self._pipeline = None
        self._lock = threading.Lock()

    @property
    def source(self) -> str | None:
        """The folder or Hub id to load from, or `None` when there is neither."""
        override = os.environ.get(self.env_var, "").strip()
        if override:
            return override
        for base in (REPO_ROOT, APP_DIR):
            candidate = base / "pipelines" / self.folder
            if (candidate / "model_index.json").is_file():
                return str(candidate)
        return None

    @property
    def local_folder(self) -> Path | None:
        """The source as a folder, when it is one (else `None`: a Hub id, or nothing)."""
        source = self.source
        return Path(source) if source and Path(source).is_dir() else None

    @property
    def hub_id(self) -> str | None:
        source = self.source
        return source if source and self.local_folder is None and source.count("/") == 1 else None

    def source_for_display(self) -> str:
        """The source as a user would type it: a Hub id, or a folder relative to the repository."""
        source = self.source or f"pipelines/{self.folder}"
        try:
            return str(Path(source).resolve().relative_to(REPO_ROOT))
        except ValueError:
            return source

    def get(self):
        """The loaded pipeline; the first call loads it, every later call returns the same object."""
        with self._lock:
            if self._pipeline is None:
                source = self.source
                if source is None:
                    raise gr.Error(
                        f"No pipeline found: pipelines/{self.folder}/ is missing and "
                        f"${self.env_var} is not set. Set it to a pipeline folder or Hub id.",
                        print_exception=False,
                    )
                started = time.perf_counter()
                self._pipeline = self._loader(source)
                logger.info("loaded %s in %.1f s", source, time.perf_counter() - started)
            return self._pipeline


def _load_velocity_pipeline(source: str):
    pipe = VelocityGenerationPipeline.from_pretrained(source)
    pipe.set_progress_bar_config(disable=True)
    return pipe


VELOCITY = PipelineSlot(
    "openfwi-velocity-ddpm", "SEISMIC_DIFFUSERS_VELOCITY_PIPELINE", _load_velocity_pipeline
)


# ----------------------------------------------------------------------------------------------
# shared helpers: input ranges, readable errors, output files


def check_range(name: str, value, low, high) -> None:
    """Raise a `gr.Error` naming `name` and the range [`low`, `high`] unless `value` lies in it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise gr.Error(f"{name} must be a number from {low} to {high}; got {value!r}.", print_exception=False)
    if not low <= value <= high:
        raise gr.Error(f"{name} must be from {low} to {high}; got {value}.", print_exception=False)


def user_errors(fn):
    """Turn every failure of `fn` into a short `gr.Error`; the traceback goes to the server log only."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except ValueError as error:  # the pipelines' check_inputs: the message names the fix
            raise gr.Error(str(error), print_exception=False) from None
        except Exception as error:
            logger.exception("%s failed", fn.__name__)
            raise gr.Error(
                f"Generation failed ({type(error).__name__}: {error}). Nothing was produced; "
                "try again, or with fewer samples or steps.",
                print_exception=False,
            ) from None

    return wrapper


def new_output_folder() -> Path:
    """A fresh folder for one request's files; folders older than an hour are removed first."""
    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in OUTPUT_ROOT.iterdir():
        try:
            if now - old.stat().st_mtime > OUTPUT_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass  # another request removed it first
    folder = OUTPUT_ROOT / uuid.uuid4().hex
    folder.mkdir()
    return folder


def _card_text(slot: PipelineSlot) -> str | None:
    """The pipeline's model card (README.md) without its YAML front matter, if it is a local folder."""
    folder = slot.local_folder
    readme = folder / "README.md" if folder else None
    if readme is None or not readme.is_file():
        return None
    text = readme.read_text(encoding="utf-8")
    if text.startswith("---"):
        end = text.find("\n---", 3)
        text = text[end + 4 :] if end != -1 else text
    # Images are relative to the card's folder and would not load here.
    return "\n".join(line for line in text.splitlines() if not line.startswith("![")).strip()


def _card_link(slot: PipelineSlot) -> str:
    if slot.hub_id:
        return f"[model card on the Hub]({HUB_URL}/{slot.hub_id})"
    return f"model card (`pipelines/{slot.folder}/README.md`, shown in full below)"


# ----------------------------------------------------------------------------------------------
# Velocity models

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


def velocity_families() -> list[str]:
    """Family names for the menu, read from the processor config without loading the model."""
    folder = VELOCITY.local_folder
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
    for key, name, value in (
        ("num_samples", "Number of maps", num_samples),
        ("steps", "Inference steps", steps),
        ("seed", "Seed", seed),
    ):
        check_range(name, value, *VELOCITY_LIMITS[key])
        if value != int(value):
            raise gr.Error(f"{name} must be a whole number; got {value:g}.", print_exception=False)
    num_samples, steps, seed = int(num_samples), int(steps), int(seed)
    if scheduler not in ("default", *SCHEDULERS):
        raise gr.Error(
            f"Unknown scheduler {scheduler!r}; choose one of: default, {', '.join(SCHEDULERS)}.",
            print_exception=False,
        )
    family = (family or ANY_FAMILY).strip().lower()

    # 2. Load the pipeline (once per process) and check the family against it
    started = time.perf_counter()
    shared = VELOCITY.get()
    families = shared.families
    if family != ANY_FAMILY and family not in families:
        allowed = ", ".join(families) if families else "none: this model is unconditional"
        raise gr.Error(
            f"Unknown family {family!r}; choose 'any' or one of: {allowed}.", print_exception=False
        )

    # 3. A private scheduler per request: schedulers keep state between steps
    if scheduler == "default":
        sampler = type(shared.scheduler).from_config(shared.scheduler.config)
    else:
        sampler = scheduler_from_name(shared.scheduler.config, scheduler)
    pipe = type(shared)(unet=shared.unet, scheduler=sampler, processor=shared.processor)
    pipe.set_progress_bar_config(disable=True)

    # 4. Generate: one generator per map, so map i depends only on seed + i
    output = pipe(
        batch_size=num_samples,
        family=None if family == ANY_FAMILY else family,
        generator=[torch.Generator().manual_seed(seed + i) for i in range(num_samples)],
        num_inference_steps=steps,
        output_type="np",
    )
    velocities = np.asarray(output.velocities, dtype=np.float32)

    # 5. Write the files: velocities and a labelled figure
    config = shared.processor.config
    sampler_name = scheduler_label(sampler)
    folder = new_output_folder()
    stem = f"velocity_{family}_n{num_samples}_seed{seed}"
    npy_path = folder / f"{stem}.npy"
    png_path = folder / f"{stem}.png"
    np.save(npy_path, velocities)
    label = "any family" if family == ANY_FAMILY else family
    seeds = f"seed {seed}" if num_samples == 1 else f"seeds {seed}-{seed + num_samples - 1}"
    plot_velocity_grid(
        velocities,
        png_path,
        titles=[f"#{i + 1} {label}, seed {seed + i}" for i in range(num_samples)],
        grid_spacing=config.grid_spacing,
        v_min=config.v_min,
        v_max=config.v_max,
        suptitle=f"{label}: {steps} steps of {sampler_name}, {seeds}",
    )
    seconds = time.perf_counter() - started

    # 6. Summarise, with the command that reproduces the same maps
    nz, nx = velocities.shape[1:]
    command = (
        f"seismic-diffusers generate velocity --pipeline {VELOCITY.source_for_display()} \\\n"
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
SDE-DPM-Solver++ in 25 steps. Its quality is still being measured (see the card's Quality
section). Training data, exact command, duration and scores: {card_link}.
"""


def velocity_tab() -> None:
    """The "Velocity models" tab: controls, outputs, examples and the model card."""
    families = velocity_families()
    defaults = VELOCITY_DEFAULTS
    with gr.Tab("Velocity models", id="velocity"):
        gr.Markdown(VELOCITY_INTRO.format(card_link=_card_link(VELOCITY)))
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
                    info=f"{low}-{high}; more is slower. 25 suits the default sampler.",
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
        card = _card_text(VELOCITY)
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


# ----------------------------------------------------------------------------------------------
# the app


HEADER = """\
# seismic-diffusers
Diffusion models for seismology, diffusers-style. Everything here runs on a CPU in seconds;
results download in physical units. Library, CLI and training scripts: see the project README.
"""


def build_app() -> gr.Blocks:
    """The Space: one tab per working pipeline, behind one queue."""
    with gr.Blocks(title="seismic-diffusers", analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        gr.Markdown(HEADER)
        with gr.Tabs():
            velocity_tab()
            # Joint seismic-velocity and denoising tabs go here once those pipelines land.
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=1)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own start-up checks
    build_app().launch()  # host and port: $GRADIO_SERVER_NAME, $GRADIO_SERVER_PORT (127.0.0.1:7860)


if __name__ == "__main__":
    main()

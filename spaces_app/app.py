"""seismic-diffusers Space: try the bundled pipelines in a browser.

    python spaces_app/app.py            # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / _PORT change it)

One tab per pipeline that really works: velocity-model generation and seismogram denoising (the
joint seismic-velocity and earthquake-record tabs come with their pipelines). Each tab is one
`*_tab()` function plus one plain generation function that the tab's button calls, so a new
pipeline adds a `PipelineSlot`, a generation function and a tab function, and `build_app` lists it.

Pipelines load lazily, once per process, from the local `pipelines/<name>/` folder (resolved from
this file, not the working directory), or from the folder or Hub id in an environment variable
(`SEISMIC_DIFFUSERS_VELOCITY_PIPELINE`, `SEISMIC_DIFFUSERS_DENOISE_PIPELINE`,
`SEISMIC_DIFFUSERS_JOINT_PIPELINE`, `SEISMIC_DIFFUSERS_WAVEFORM_PIPELINE`). Nothing is downloaded
unless such a Hub id is given.
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
from seismic_diffusers import (  # noqa: E402
    VELOCITY_FAMILIES,
    ColdDiffusionDenoisePipeline,
    ConditionalWaveformPipeline,
    JointGenerationPipeline,
    VelocityGenerationPipeline,
    forward_model,
    generate_velocity_models,
    openfwi_map_metrics,
    pde_deviation,
)
from seismic_diffusers.data import generate_seismic_noise, scale_noise_to_snr  # noqa: E402
from seismic_diffusers.metrics import pick_phases, reconstruction_snr_db, snr_db  # noqa: E402
from seismic_diffusers.utils.plotting import (  # noqa: E402
    plot_joint_pairs,
    plot_records_by_magnitude,
    plot_seismogram_comparison,
    plot_velocity_grid,
)
from seismic_diffusers.utils.scheduler_swap import SCHEDULERS, scheduler_from_name  # noqa: E402
from seismic_diffusers.utils.streams import group_stream  # noqa: E402

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


def quiet_loader(pipeline_class):
    """A `PipelineSlot` loader: `pipeline_class.from_pretrained(source)` with its progress bars off."""

    def load(source: str):
        pipe = pipeline_class.from_pretrained(source)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    return load


VELOCITY = PipelineSlot(
    "openfwi-velocity-ddpm", "SEISMIC_DIFFUSERS_VELOCITY_PIPELINE", quiet_loader(VelocityGenerationPipeline)
)
DENOISER = PipelineSlot(
    "cold-diffusion-denoiser",
    "SEISMIC_DIFFUSERS_DENOISE_PIPELINE",
    quiet_loader(ColdDiffusionDenoisePipeline),
)
JOINT = PipelineSlot(
    "openfwi-joint-ldm", "SEISMIC_DIFFUSERS_JOINT_PIPELINE", quiet_loader(JointGenerationPipeline)
)
WAVEFORM = PipelineSlot(
    "conditional-waveform-vae",
    "SEISMIC_DIFFUSERS_WAVEFORM_PIPELINE",
    quiet_loader(ConditionalWaveformPipeline),
)


# ----------------------------------------------------------------------------------------------
# shared helpers: input ranges, readable errors, output files


def check_range(name: str, value, low, high) -> None:
    """Raise a `gr.Error` naming `name` and the range [`low`, `high`] unless `value` lies in it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise gr.Error(f"{name} must be a number from {low} to {high}; got {value!r}.", print_exception=False)
    if not low <= value <= high:
        raise gr.Error(f"{name} must be from {low} to {high}; got {value}.", print_exception=False)


def check_whole_number(name: str, value, low: int, high: int) -> int:
    """`value` as an `int`, or a `gr.Error` naming `name` and the range [`low`, `high`]."""
    check_range(name, value, low, high)
    if value != int(value):
        raise gr.Error(f"{name} must be a whole number; got {value:g}.", print_exception=False)
    return int(value)


def uploaded_file(upload, max_mb: float, missing: str, kind: str, advice: str = "") -> Path:
    """The server path of an upload (a path, or gradio's file dict), or a readable `gr.Error`
    when none was given (`missing` says what to do), it is gone, or it is over `max_mb`
    (the message names the `kind` of file taken and gives the `advice`)."""
    path = upload.get("path") if isinstance(upload, dict) else upload
    if not path:
        raise gr.Error(f"No file uploaded: {missing}.", print_exception=False)
    path = Path(str(path))
    if not path.is_file():
        raise gr.Error(
            "The uploaded file could not be found on the server; upload it again.", print_exception=False
        )
    size_mb = path.stat().st_size / 2**20
    if size_mb > max_mb:
        raise gr.Error(
            f"The file is {size_mb:.1f} MB; this Space takes {kind} of up to {max_mb} MB. {advice}".strip(),
            print_exception=False,
        )
    return path


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


def velocity_default_steps() -> int:
    """The pipeline's tuned step count, read from its model_index.json without loading the model."""
    folder = VELOCITY.local_folder
    index = folder / "model_index.json" if folder else None
    if index is not None and index.is_file():
        return int(json.loads(index.read_text()).get("default_num_inference_steps", 25))
    return 25


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
    pipe = type(shared)(
        unet=shared.unet,
        scheduler=sampler,
        processor=shared.processor,
        **shared.sampling_defaults,
    )
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
# Denoise a seismogram

DENOISE_LIMITS = {"steps": (1, 20), "seed": (0, 2**31 - 1)}
DENOISE_MAX_UPLOAD_MB = 20
DENOISE_MAX_SAMPLES = 3 * 2 * 3600 * 100  # two hours of three components at 100 Hz
DENOISE_DEFAULTS = {"source": "example", "add_noise": "5", "steps": 1, "seed": 0}
DENOISE_SOURCES = [("ObsPy's example event (BW.RJOB, 30 s)", "example"), ("my miniSEED upload", "upload")]
DENOISE_NOISE_LEVELS = [  # (menu label, value): SNR of the added noise, power over the whole record
    ("none: denoise the recording as it is", "none"),
    ("10 dB", "10"),
    ("5 dB", "5"),
    ("0 dB", "0"),
    ("-5 dB", "-5"),
]
PICK_COMPONENTS = ("E", "N", "Z")


def _read_upload(upload) -> "obspy.Stream":  # noqa: F821 - obspy is imported lazily
    """The uploaded file as a Stream; a readable `gr.Error` for a missing, oversized or non-miniSEED file."""
    import obspy

    path = uploaded_file(
        upload,
        DENOISE_MAX_UPLOAD_MB,
        missing="upload a miniSEED file, or choose the example event as the source",
        kind="miniSEED files",
        advice="Cut it (Stream.trim) or use the CLI: seismic-diffusers denoise.",
    )
    try:
        return obspy.read(str(path), format="MSEED")
    except Exception as error:  # ObsPy raises several types for bytes that are not miniSEED
        raise gr.Error(
            f"{_upload_name(upload)!r} is not a readable miniSEED file ({type(error).__name__}). "
            "Upload miniSEED (.mseed); convert other formats with ObsPy first: st.write(name, format='MSEED').",
            print_exception=False,
        ) from None


def _upload_name(upload) -> str:
    """The uploaded file's own name (gradio keeps it as `orig_name`), else its name on the server."""
    if isinstance(upload, dict):
        return upload.get("orig_name") or Path(str(upload.get("path"))).name
    return Path(str(upload)).name


def _add_noise(stream, snr_in_db: float, seed: int) -> None:
    """Add Peterson-band synthetic noise (`generate_seismic_noise`) at `snr_in_db` to every station, in place."""
    for index, group in enumerate(group_stream(stream, PICK_COMPONENTS)):
        clean, rows = group.to_array(PICK_COMPONENTS)
        clean -= clean.mean(axis=-1, keepdims=True)
        noise = generate_seismic_noise(
            1, seed=seed, sampling_rate=group.sampling_rate, num_samples=group.npts, start=index
        )[0]
        noise[[row for row in range(len(PICK_COMPONENTS)) if row not in rows]] = 0.0
        noise = scale_noise_to_snr(clean, noise, snr_in_db)
        for trace, row, offset in zip(group.traces, rows, group.offsets, strict=True):
            trace.data = (trace.data + noise[row, offset : offset + trace.stats.npts]).astype(np.float64)
            trace.stats.processing = list(getattr(trace.stats, "processing", [])) + [
                f"seismic_diffusers Space: added synthetic Peterson-band noise(snr_db={snr_in_db:g}::seed={seed})"
            ]


def _station_picks(group) -> tuple[dict, str]:
    """P and S pick times (s after the group's start) and the picker used, for one station group."""
    record, _ = group.to_array(PICK_COMPONENTS)
    rate = group.sampling_rate
    if set(group.components) == set(PICK_COMPONENTS):
        method = "ar_pick"
    elif "Z" in group.components:
        method = "aic"  # P only, from the vertical
    else:
        return {"P": None, "S": None}, "none (no vertical component)"
    picks = pick_phases(record, rate, method=method)
    return {
        phase: None if picks[key] is None else picks[key] / rate for phase, key in (("P", "p"), ("S", "s"))
    }, method


def _format_pick(seconds) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


@user_errors
def denoise_seismogram(source: str, upload, add_noise: str, steps: int, seed: int):
    """Denoise a miniSEED recording; what the "Denoise" button and the `/denoise_seismogram` endpoint run.

    Args:
        source (`str`): `"example"` (ObsPy's `obspy.read()` event, BW.RJOB, 100 Hz, 30 s) or `"upload"`.
        upload: The uploaded miniSEED file (path), used when `source` is `"upload"`.
        add_noise (`str`): `"none"`, or an SNR in dB: Peterson-band synthetic noise added first.
        steps (`int`): 1 is the direct mode; 2-20 run the iterative cold-diffusion sampler.
        seed (`int`): Seed of the added noise.

    Returns:
        `tuple`: figure path (PNG: before/after waveforms and spectrograms, picks marked),
        denoised miniSEED path, and a Markdown summary (SNR, picks, timings).
    """
    import obspy

    # 1. Check inputs
    if source not in ("example", "upload"):
        raise gr.Error(f"Unknown source {source!r}; choose 'example' or 'upload'.", print_exception=False)
    steps = check_whole_number("Inference steps", steps, *DENOISE_LIMITS["steps"])
    seed = check_whole_number("Noise seed", seed, *DENOISE_LIMITS["seed"])
    levels = [value for _, value in DENOISE_NOISE_LEVELS]
    if add_noise not in levels:
        raise gr.Error(
            f"Added noise must be one of: {', '.join(levels)} (dB); got {add_noise!r}.", print_exception=False
        )

    # 2. Read the recording, bounded in size; the pipeline's checks name gaps, NaN and channel codes
    started = time.perf_counter()
    stream = obspy.read() if source == "example" else _read_upload(upload)
    if len(stream) == 0:
        raise gr.Error("The file holds no traces: there is nothing to denoise.", print_exception=False)
    total = sum(trace.stats.npts for trace in stream)
    if total > DENOISE_MAX_SAMPLES:
        raise gr.Error(
            f"The recording has {total:,} samples; this Space denoises up to {DENOISE_MAX_SAMPLES:,} "
            "(two hours of 3 components at 100 Hz). Cut it (Stream.trim) or use the CLI.",
            print_exception=False,
        )
    for trace in stream:
        trace.data = np.asarray(trace.data, dtype=np.float64)
    clean = stream.copy() if add_noise != "none" else None
    if clean is not None:
        _add_noise(stream, float(add_noise), seed)

    # 3. Denoise every station; picks and figure for the first
    pipe = DENOISER.get()
    denoised = pipe(stream, num_inference_steps=steps).waveforms
    groups = group_stream(stream, PICK_COMPONENTS)
    denoised_groups = group_stream(denoised, PICK_COMPONENTS)
    shown, shown_out = groups[0], denoised_groups[0]
    picks_in, method = _station_picks(shown)
    picks_out, _ = _station_picks(shown_out)

    # 4. Files: the denoised miniSEED and the figure
    folder = new_output_folder()
    stem = "RJOB_example" if source == "example" else Path(_upload_name(upload)).stem
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60] or "upload"
    mseed_path = folder / f"{stem}_denoised.mseed"
    png_path = folder / f"{stem}_denoised.png"
    denoised.write(str(mseed_path), format="MSEED", encoding="FLOAT32")
    mode = "direct (1 step)" if steps == 1 else f"iterative ({steps} steps)"
    noise_label = "" if clean is None else f" + synthetic noise at {add_noise} dB"
    plot_seismogram_comparison(
        obspy.Stream(shown.traces),
        obspy.Stream(shown_out.traces),
        png_path,
        picks_before=picks_in,
        picks_after=picks_out,
        title=f"{shown.key}{noise_label}: cold-diffusion denoising, {mode}",
        labels=("input" + noise_label, "denoised"),
    )
    seconds = time.perf_counter() - started

    # 5. Summary: SNR around P (STEAD's 2 s windows), picks, reconstruction SNR when noise was added
    p_sample = None if picks_in["P"] is None else int(round(picks_in["P"] * shown.sampling_rate))
    if p_sample is None and picks_out["P"] is not None:
        p_sample = int(round(picks_out["P"] * shown.sampling_rate))
    record_in, rows = shown.to_array(PICK_COMPONENTS)
    record_out, _ = shown_out.to_array(PICK_COMPONENTS)
    lines = [
        f"**{len(denoised)} trace(s)** from {len(groups)} station(s) denoised in **{seconds:.1f} s** "
        f"({mode}). The figure shows {shown.key}; the miniSEED holds every trace with its ids, start time "
        "and sample count unchanged.",
        "",
        "| component | SNR around P, input | SNR around P, denoised |",
        "|---|---:|---:|",
    ]
    if p_sample is not None:
        snr_in = snr_db(record_in, p_sample, shown.sampling_rate)
        snr_out = snr_db(record_out, p_sample, shown.sampling_rate)
        for component, row in sorted(zip(shown.components, rows, strict=True), key=lambda x: x[1]):
            lines.append(f"| {component} | {snr_in[row]:.1f} dB | {snr_out[row]:.1f} dB |")
    else:
        lines.append("| all | no P pick: SNR needs one | |")
    lines += [
        "",
        f"SNR is STEAD's: 2 s after the P pick against 2 s before it. Picks ({method}): "
        f"P {_format_pick(picks_in['P'])} → {_format_pick(picks_out['P'])}, "
        f"S {_format_pick(picks_in['S'])} → {_format_pick(picks_out['S'])} (input → denoised, "
        "seconds after the first sample).",
    ]
    if clean is not None:
        reference, _ = group_stream(clean, PICK_COMPONENTS)[0].to_array(PICK_COMPONENTS)
        reference -= reference.mean(axis=-1, keepdims=True)
        centred_in = record_in - record_in.mean(axis=-1, keepdims=True)
        centred_out = record_out - record_out.mean(axis=-1, keepdims=True)
        before = reconstruction_snr_db(centred_in, reference, per_channel=False)
        after = reconstruction_snr_db(centred_out, reference, per_channel=False)
        lines += [
            "",
            f"Against the recording before the noise was added: reconstruction SNR **{before:.1f} dB** in, "
            f"**{after:.1f} dB** out ({after - before:+.1f} dB). Whatever the model removes from the "
            "original recording itself, such as microseism below 1 Hz, counts against it here.",
        ]
    return str(png_path), str(mseed_path), "\n".join(lines)


DENOISE_INTRO = """\
### Denoise a seismogram

Upload a **miniSEED** recording (one, two or three components per station, channel codes ending in
Z/N/E, 1/2 or UD/NS/EW, any sampling rate, up to {max_mb} MB) or use ObsPy's example event,
BW.RJOB, a local earthquake recorded at 100 Hz. To see what the model removes, add synthetic
noise at a chosen SNR first. You get the waveforms and spectrograms before and after, P and S
picks by ObsPy's `ar_pick`, SNR around the P arrival, and the denoised miniSEED to download.

**The model.** A cold-diffusion denoiser (after CDiffSD): a small 1-D U-Net that maps a noisy
30 s, 100 Hz three-component window straight to the clean signal (direct mode, 1 step) or in
several steps of Bansal et al.'s improved cold-diffusion sampler. Trained on a 2-core CPU on
synthetic local earthquakes with noise between Peterson's low- and high-noise models; it has
never seen a real recording, this one included. Exact command, data and scores: {card_link}.
"""


def denoise_tab() -> None:
    """The "Denoise a seismogram" tab: controls, outputs, examples and the model card."""
    defaults = DENOISE_DEFAULTS
    with gr.Tab("Denoise a seismogram", id="denoise"):
        gr.Markdown(DENOISE_INTRO.format(max_mb=DENOISE_MAX_UPLOAD_MB, card_link=_card_link(DENOISER)))
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                source = gr.Radio(DENOISE_SOURCES, value=defaults["source"], label="Recording")
                upload = gr.File(label=f"miniSEED file (up to {DENOISE_MAX_UPLOAD_MB} MB)", type="filepath")
                add_noise = gr.Dropdown(
                    DENOISE_NOISE_LEVELS,
                    value=defaults["add_noise"],
                    label="Add synthetic noise first (SNR)",
                    info="Power ratio over the whole record; 'none' denoises the recording as it is.",
                )
                low, high = DENOISE_LIMITS["steps"]
                steps = gr.Slider(
                    low, high, value=defaults["steps"], step=1, label="Inference steps",
                    info=f"{low}-{high}; 1 is the direct mode (fastest, best on our benchmark).",
                )  # fmt: skip
                low, high = DENOISE_LIMITS["seed"]
                seed = gr.Number(
                    value=defaults["seed"], minimum=low, maximum=high, precision=0, label="Noise seed",
                    info=f"{low}-{high}; the same seed adds the same noise.",
                )  # fmt: skip
                button = gr.Button("Denoise", variant="primary")
            with gr.Column(scale=2, min_width=400):
                image = gr.Image(
                    label="Before and after (amplitude in counts; spectrograms in dB)",
                    show_label=False,
                    type="filepath",
                    format="png",
                    interactive=False,
                    buttons=["download", "fullscreen"],
                )
                summary = gr.Markdown(label="Summary")
                mseed_file = gr.File(label="Denoised recording (.mseed, float32)", interactive=False)
        upload.upload(lambda: "upload", outputs=source, queue=False, api_visibility="private")
        inputs = [source, upload, add_noise, steps, seed]
        gr.Examples(
            examples=[
                ["example", None, "5", 1, 0],
                ["example", None, "0", 1, 3],
                ["example", None, "none", 1, 0],
                ["example", None, "5", 5, 0],
            ],
            inputs=inputs,
            label="Examples (click one, then Denoise)",
        )
        card = _card_text(DENOISER)
        if card:
            with gr.Accordion("Model card", open=False):
                gr.Markdown(card)
        button.click(
            denoise_seismogram,
            inputs=inputs,
            outputs=[image, mseed_file, summary],
            api_name="denoise_seismogram",
            preprocess=False,  # raw values reach denoise_seismogram, which names the field and range
            concurrency_id=CONCURRENCY_ID,
            concurrency_limit=1,
        )


# ----------------------------------------------------------------------------------------------
# Joint seismic-velocity generation and inversion

JOINT_LIMITS = {
    "num_pairs": (1, 4),
    "steps": (5, 100),
    "seed": (0, 2**31 - 1),
    "candidates": (1, 8),
    "refine": (0, 50),
}
JOINT_DEFAULTS = {"num_pairs": 2, "steps": 50, "seed": 0, "source": "example", "candidates": 4, "refine": 10}
JOINT_MAX_RECORDS = 8
JOINT_INVERT_STEPS = 50  # the schedule the refined steps are taken from (refine_steps <= 50)
JOINT_MAX_UPLOAD_MB = 16
JOINT_EXAMPLE_FAMILY, JOINT_EXAMPLE_SEED = "curvefault-a", 90_000  # a map no training set used
JOINT_SOURCES = [("example: a synthetic curvefault-a map's gathers", "example"), ("my .npy upload", "upload")]


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
    shared = JOINT.get()
    sampler = type(shared.scheduler).from_config(shared.scheduler.config)  # schedulers keep state
    pipe = type(shared)(vqvae=shared.vqvae, unet=shared.unet, scheduler=sampler, geometry=shared.geometry)
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
    return forward_model(velocity, JOINT.get().geometry), velocity


def _read_seismic_upload(upload) -> np.ndarray:
    path = uploaded_file(
        upload,
        JOINT_MAX_UPLOAD_MB,
        missing="upload a .npy of seismic data, or choose the example",
        kind=f".npy files ({JOINT_MAX_RECORDS} records of (5, 1000, 70) float32)",
    )
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as error:  # not .npy, or a pickled object array
        raise gr.Error(
            f"{_upload_name(upload)!r} is not a readable .npy array ({type(error).__name__}). Save one with "
            "numpy.save('gathers.npy', seismic) where seismic has shape (5, 1000, 70) or (N, 5, 1000, 70).",
            print_exception=False,
        ) from None
    if data.ndim == 4 and len(data) > JOINT_MAX_RECORDS:
        raise gr.Error(
            f"The file holds {len(data)} records; this Space inverts up to {JOINT_MAX_RECORDS}.",
            print_exception=False,
        )
    return data


@user_errors
def invert_seismic(source: str, upload, num_candidates: int, refine_steps: int, seed: int):
    """Estimate velocity from seismic data; what the "Invert" button and `/invert_seismic` run.

    Args:
        source (`str`): `"example"` (the gathers of a synthetic curvefault-a map) or `"upload"`.
        upload: A `.npy` of shape `(5, 1000, 70)` or `(N, 5, 1000, 70)`, N <= 8, OpenFWI amplitude.
        num_candidates (`int`): Candidates per refined step, 1-8. refine_steps (`int`): 0-50; 0 is
            the stage-1 encoding alone.
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
    pipe = JOINT.get()
    truth = None
    if source == "example":
        seismic, truth = _joint_example()
    else:
        seismic = _read_seismic_upload(upload)
    steps = JOINT_INVERT_STEPS
    sampler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    private = type(pipe)(vqvae=pipe.vqvae, unet=pipe.unet, scheduler=sampler, geometry=pipe.geometry)
    private.set_progress_bar_config(disable=True)
    out = private.invert(
        seismic,
        num_candidates=num_candidates,
        refine_steps=refine_steps,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(seed),
    )
    seismic = np.asarray(seismic, dtype=np.float32).reshape(-1, *pipe.geometry.data_shape)
    modelled = forward_model(out.velocities, pipe.geometry)
    folder = new_output_folder()
    png_path, npy_path = folder / "inverted_velocity.png", folder / "inverted_velocity.npy"
    np.save(npy_path, out.velocities.astype(np.float32))
    mode = (
        "stage-1 encoding"
        if refine_steps == 0
        else f"refined: best of {num_candidates} over the last {refine_steps} of {steps} steps"
    )
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
        "and those decoded from the chosen latent. The `.npy` holds velocity `(N, 70, 70)` in m/s.",
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

**The model.** A VQ autoencoder (one seismic encoder, a shared quantised latent, a velocity decoder
and a seismic decoder) and a latent diffusion model over its latents, both trained on a 2-core CPU
on pairs this project made with its synthetic families and deepwave. Commands, data and scores:
{card_link}.
"""


def joint_tab() -> None:
    """The "Joint seismic-velocity" tab: generate pairs, or invert gathers."""
    defaults, limits = JOINT_DEFAULTS, JOINT_LIMITS
    with gr.Tab("Joint seismic-velocity", id="joint"):
        gr.Markdown(JOINT_INTRO.format(card_link=_card_link(JOINT)))
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
                    label="Refined steps (0: encoding only)",
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
        card = _card_text(JOINT)
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


# ----------------------------------------------------------------------------------------------
# earthquake records for a magnitude, location and station (ConditionalWaveformPipeline)

WAVEFORM_LIMITS = {"steps": (5, 100), "seed": (0, 2**31 - 1), "records": (1, 8)}
WAVEFORM_DEFAULTS = {"magnitudes": "1.5, 3, 4.5", "latitude": 40.8, "longitude": 28.5, "depth": 10.0,
                     "station": "MR06", "steps": 50, "seed": 0}  # fmt: skip
UNKNOWN_STATION = "unknown station"


def waveform_stations() -> list[str]:
    """Station codes for the dropdown, read from the pipeline's config without loading weights."""
    folder = WAVEFORM.local_folder
    for part in ("prior", "vae"):
        config = folder / part / "config.json" if folder else None
        if config and config.is_file():
            names = json.loads(config.read_text()).get("station_names") or []
            if names:
                return [*names, UNKNOWN_STATION]
    return [UNKNOWN_STATION]


def _parse_magnitudes(text) -> list[float]:
    parts = [part for part in str(text or "").replace(",", " ").split() if part]
    low, high = WAVEFORM_LIMITS["records"]
    if not low <= len(parts) <= high:
        raise gr.Error(
            f"Give {low} to {high} magnitudes, separated by commas (one record each); got {len(parts)}.",
            print_exception=False,
        )
    try:
        return [float(part) for part in parts]
    except ValueError:
        raise gr.Error(
            f"Magnitudes must be numbers, e.g. 1.5, 3, 4.5; got {text!r}.", print_exception=False
        ) from None


@user_errors
def generate_waveforms(magnitudes: str, latitude: float, longitude: float, depth: float, station: str,
                       steps: int, seed: int):  # fmt: skip
    """Generate three-component records; what the "Generate records" button and `/generate_waveforms` run.

    Args:
        magnitudes (`str`): 1-8 magnitudes separated by commas, one record each.
        latitude, longitude (`float`): Epicentre, degrees. depth (`float`): km.
        station (`str`): A station code of the pipeline, or "unknown station".
        steps (`int`): Diffusion-prior steps, 5-100. seed (`int`): Seed of the generator.

    Returns:
        `tuple`: figure (PNG, Z component per record), miniSEED (every record, location code
        `00`, `01`, ... in the order given; ground velocity in m/s), Markdown summary.
    """
    values = _parse_magnitudes(magnitudes)
    check_range("Latitude", latitude, -90, 90)
    check_range("Longitude", longitude, -180, 180)
    check_range("Depth", depth, 0, 700)
    steps = check_whole_number("Inference steps", steps, *WAVEFORM_LIMITS["steps"])
    seed = check_whole_number("Seed", seed, *WAVEFORM_LIMITS["seed"])
    started = time.perf_counter()
    pipe = WAVEFORM.get()
    code = None if station in (None, "", UNKNOWN_STATION) else station
    streams = pipe(
        magnitude=values, latitude=latitude, longitude=longitude, depth=depth, station=code,
        batch_size=len(values), generator=torch.Generator().manual_seed(seed), num_inference_steps=steps,
    ).waveforms  # fmt: skip
    folder = new_output_folder()
    stem = f"records_M{'-'.join(f'{m:g}' for m in values)}_{code or 'unknown'}_seed{seed}"
    paths = {"mseed": folder / f"{stem}.mseed", "png": folder / f"{stem}.png"}
    from obspy import Stream

    combined = Stream()
    for index, stream in enumerate(streams):
        for trace in stream:
            trace.stats.location = f"{index:02d}"
            combined += trace
    combined.write(str(paths["mseed"]), format="MSEED", encoding="FLOAT32")
    plot_records_by_magnitude(
        {f"station {code or 'unknown'}": np.stack([[tr.data for tr in stream] for stream in streams])},
        values, paths["png"],
        title=f"Z component, event at {latitude:g} N {longitude:g} E, {depth:g} km ({steps} steps, seed {seed})",
    )  # fmt: skip
    seconds = time.perf_counter() - started
    peaks = [max(float(np.abs(trace.data).max()) for trace in stream) for stream in streams]
    rows = "\n".join(
        f"| {i:02d} | {m:g} | {p:.2e} |" for i, (m, p) in enumerate(zip(values, peaks, strict=True))
    )
    summary = (
        f"**{len(values)} record(s)** in **{seconds:.1f} s** ({steps} prior steps, Griffin-Lim included).\n\n"
        "| location code | magnitude | peak (m/s) |\n|---|---:|---:|\n" + rows + "\n\n"
        "Three components (HHE, HHN, HHZ), 70 s at 100 Hz, ground velocity in m/s. The miniSEED holds every "
        "record; its location code is the record's row above."
    )
    return str(paths["png"]), str(paths["mseed"]), summary


WAVEFORM_INTRO = """\
### Earthquake records for a magnitude, location and station

Three-component records (**E, N, Z**, 70 s at 100 Hz, ground velocity in m/s) for an earthquake of
the **magnitude** and **hypocentre** you give, as recorded at one **station**. A conditional VAE
over STFT spectrograms and a diffusion prior over its latent, trained on a 2-core CPU on
synthetic Marmara-like events (magnitudes 0.8-4.9, 40.5-41.0 N, 27.2-29.6 E, 4-20 km deep) at
eight invented stations MR01-MR08; values outside those ranges are refused. Amplitudes grow
with magnitude at 0.88 decades per unit (the training law: 1.12). Commands, data and scores:
{card_link}.
"""


def waveform_tab() -> None:
    """The "Earthquake records" tab."""
    defaults, limits = WAVEFORM_DEFAULTS, WAVEFORM_LIMITS
    stations = waveform_stations()
    with gr.Tab("Earthquake records", id="waveforms"):
        gr.Markdown(WAVEFORM_INTRO.format(card_link=_card_link(WAVEFORM)))
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                magnitudes = gr.Textbox(
                    value=defaults["magnitudes"],
                    label="Magnitudes",
                    info="1-8, comma-separated: one record each.",
                )
                latitude = gr.Number(value=defaults["latitude"], label="Latitude (degrees N)")
                longitude = gr.Number(value=defaults["longitude"], label="Longitude (degrees E)")
                depth = gr.Number(value=defaults["depth"], label="Depth (km)")
                station = gr.Dropdown(
                    stations,
                    value=defaults["station"] if defaults["station"] in stations else stations[0],
                    label="Station",
                )
                steps = gr.Slider(*limits["steps"], value=defaults["steps"], step=1, label="Inference steps")
                seed = gr.Number(value=defaults["seed"], precision=0, label="Seed")
                button = gr.Button("Generate records", variant="primary")
            with gr.Column(scale=2, min_width=400):
                image = gr.Image(
                    show_label=False, type="filepath", format="png", interactive=False,
                    buttons=["download", "fullscreen"],
                )  # fmt: skip
                summary = gr.Markdown()
                records = gr.File(label="Records (miniSEED, m/s)", interactive=False)
        gr.Examples(
            examples=[
                ["1.5, 3, 4.5", 40.8, 28.5, 10.0, "MR06", 50, 0],
                ["2, 2, 2, 2", 40.6, 27.5, 15.0, "MR01", 50, 1],
            ],
            inputs=[magnitudes, latitude, longitude, depth, station, steps, seed],
            label="Examples",
        )
        card = _card_text(WAVEFORM)
        if card:
            with gr.Accordion("Model card", open=False):
                gr.Markdown(card)
        button.click(
            generate_waveforms,
            inputs=[magnitudes, latitude, longitude, depth, station, steps, seed],
            outputs=[image, records, summary],
            api_name="generate_waveforms",
            preprocess=False,
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
            denoise_tab()
            if JOINT.source is not None:  # a tab appears only when its pipeline exists
                joint_tab()
            if WAVEFORM.source is not None:
                waveform_tab()
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=1)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own start-up checks
    build_app().launch(
        max_file_size=f"{DENOISE_MAX_UPLOAD_MB}mb"
    )  # host and port: $GRADIO_SERVER_NAME, $GRADIO_SERVER_PORT (127.0.0.1:7860)


if __name__ == "__main__":
    main()

"""The Space's shared pieces: where pipelines come from, input checks, readable errors, output files.

Every tab module (`space_velocity`, `space_denoise`, `space_joint`, `space_inversion`, `space_waveform`) imports this
one; `app.py` puts the folder on `sys.path` first (see its docstring). The pipeline slots are read
as `space_common.VELOCITY` etc. at call time, so replacing one here reaches every tab.
"""

from __future__ import annotations

import functools
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
# next to a training job). Must be set before torch starts its thread pool (app.py sets it too).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import gradio as gr  # noqa: E402

# The library is imported at start-up (a few seconds); the pipelines themselves load on first use.
from seismic_diffusers import (  # noqa: E402
    ColdDiffusionDenoisePipeline,
    ConditionalWaveformPipeline,
    JointGenerationPipeline,
    VelocityGenerationPipeline,
    VelocityInversionPipeline,
)

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
INVERSION = PipelineSlot(
    "openfwi-velocity-inversion",
    "SEISMIC_DIFFUSERS_INVERSION_PIPELINE",
    quiet_loader(VelocityInversionPipeline),
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


def upload_name(upload) -> str:
    """The uploaded file's own name (gradio keeps it as `orig_name`), else its name on the server."""
    if isinstance(upload, dict):
        return upload.get("orig_name") or Path(str(upload.get("path"))).name
    return Path(str(upload)).name


def read_gathers_upload(upload, max_mb: float, max_gathers: int, noun: str = "gathers"):
    """An uploaded `.npy` of shot gathers as an array, or a `gr.Error` saying what to upload.

    Args:
        upload: The `gr.File` value. max_mb (`float`): Largest file accepted.
        max_gathers (`int`): Most gathers `(N, 5, 1000, 70)` the tab takes.
        noun (`str`): What the tab calls one gather in its messages.
    """
    import numpy as np

    path = uploaded_file(
        upload,
        max_mb,
        missing="upload a .npy of seismic data, or choose the example",
        kind=f".npy files ({max_gathers} {noun} of (5, 1000, 70) float32)",
    )
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as error:  # not .npy, or a pickled object array
        raise gr.Error(
            f"{upload_name(upload)!r} is not a readable .npy array ({type(error).__name__}). Save one with "
            "numpy.save('gathers.npy', seismic) where seismic has shape (5, 1000, 70) or (N, 5, 1000, 70).",
            print_exception=False,
        ) from None
    if data.ndim == 4 and len(data) > max_gathers:
        raise gr.Error(
            f"The file holds {len(data)} {noun}; this Space inverts up to {max_gathers}.",
            print_exception=False,
        )
    return data


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


def card_text(slot: PipelineSlot) -> str | None:
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


def card_link(slot: PipelineSlot) -> str:
    if slot.hub_id:
        return f"[model card on the Hub]({HUB_URL}/{slot.hub_id})"
    return f"model card (`pipelines/{slot.folder}/README.md`, shown in full below)"

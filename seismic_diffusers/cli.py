"""`seismic-diffusers` command line: generate samples, inspect and push pipelines.

    seismic-diffusers generate velocity --pipeline pipelines/openfwi-velocity-ddpm --num 16 \\
        --family curvefault-a --steps 25 --seed 0 --out samples/
    seismic-diffusers info --pipeline pipelines/openfwi-velocity-ddpm
    seismic-diffusers push --pipeline pipelines/openfwi-velocity-ddpm --repo-id org/name

Bad input prints one `error: ...` line on stderr and exits with status 2, before anything is
written. `generate` writes its files only after generation succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import uuid
from pathlib import Path

from .utils.scheduler_swap import SCHEDULERS
from .version import __version__

MAX_PLOTTED = 64


DEFAULT_DENOISER = "cold-diffusion-denoiser"
DEFAULT_INVERSION = "openfwi-velocity-inversion"


class UsageError(Exception):
    """Bad input: reported as one `error: ...` line and exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seismic-diffusers", description="Diffusion models for seismology: generate, inspect, publish."
    )
    parser.add_argument("--version", action="version", version=f"seismic-diffusers {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser("generate", help="Generate samples with a pipeline.")
    tasks = generate.add_subparsers(dest="task", required=True, metavar="TASK")
    velocity = tasks.add_parser(
        "velocity",
        help="Velocity models (m/s) from a VelocityGenerationPipeline.",
        description="Writes OUT/velocities.npy (float32, (N, nz, nx), m/s), OUT/metadata.json and "
        "OUT/velocities.png.",
    )
    velocity.add_argument("--pipeline", required=True, help="Pipeline folder or Hub id (org/name).")
    velocity.add_argument("--num", type=int, default=16, help="Number of maps (default: 16).")
    velocity.add_argument(
        "--family",
        nargs="+",
        default=None,
        metavar="NAME",
        help="One family, several (assigned to samples in turn; spaces or commas), or 'any' "
        "(default: any: each map draws its family from the training data's mix).",
    )
    velocity.add_argument(
        "--steps",
        type=int,
        default=None,
        help="Denoising steps (default: the pipeline's own, from its card).",
    )
    velocity.add_argument(
        "--seed",
        type=int,
        default=0,
        help="Sample i uses torch.Generator().manual_seed(seed + i) (default: 0).",
    )
    velocity.add_argument("--out", required=True, help="Output folder (created; existing files replaced).")
    velocity.add_argument(
        "--guidance-scale",
        nargs="+",
        default=None,
        metavar="SCALE | FAMILY=SCALE",
        help="Classifier-free guidance: one scale for every family (1.0 = off), or FAMILY=SCALE pairs "
        "(families left out are unguided). Default: the pipeline's own.",
    )
    velocity.add_argument(
        "--timestep-power",
        type=float,
        default=None,
        help="Timestep spacing t_i = t_0 (1 - i/n)^power; 1.0 = the scheduler's own, larger = more steps "
        "at low noise (default: the pipeline's own).",
    )
    velocity.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        default=None,
        help="Swap the sampler (default: the pipeline's own).",
    )
    velocity.add_argument("--batch-size", type=int, default=16, help="Maps per forward pass (default: 16).")
    velocity.add_argument(
        "--device", choices=("cpu", "cuda"), default=None, help="Default: cuda if available, else cpu."
    )
    velocity.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="U-Net weights (default: float32); bfloat16 is faster on CPUs with bfloat16 instructions.",
    )

    records = tasks.add_parser(
        "waveforms",
        help="Three-component earthquake records (miniSEED) from a ConditionalWaveformPipeline.",
        description="Writes OUT/record_<i>.mseed (one Stream per record: HHE, HHN, HHZ, 100 Hz, m/s) with "
        "a .processing.json sidecar that `seismic_diffusers.waveforms.read_processed` restores into "
        "stats.processing, OUT/metadata.json and OUT/records.png.",
    )
    records.add_argument("--pipeline", required=True, help="Pipeline folder or Hub id (org/name).")
    records.add_argument(
        "--magnitude", type=float, nargs="+", required=True, help="One value, or one per record."
    )
    records.add_argument("--latitude", type=float, required=True, help="Epicentre latitude (degrees).")
    records.add_argument("--longitude", type=float, required=True, help="Epicentre longitude (degrees).")
    records.add_argument("--depth", type=float, required=True, help="Hypocentre depth (km).")
    records.add_argument(
        "--station",
        default=None,
        help="Station code (a wrong one lists the known ones); default: an unknown station.",
    )
    records.add_argument(
        "--num", type=int, default=None, help="Records (default: one per --magnitude value)."
    )
    records.add_argument("--steps", type=int, default=50, help="Diffusion-prior steps (default: 50).")
    records.add_argument("--seed", type=int, default=0, help="Seed of the generator (default: 0).")
    records.add_argument("--out", required=True, help="Output folder (created; existing files replaced).")

    dataset = commands.add_parser(
        "make-dataset",
        help="Write paired velocity/seismic shards in OpenFWI's layout.",
        description="Writes OUT/model/model<k>.npy (N, 1, 70, 70) m/s and OUT/data/data<k>.npy "
        "(N, 5, 1000, 70) with the OPENFWI geometry (one sub-folder per family when several are "
        "given). Resumable: rerun the same command after a crash. Under `accelerate launch` each "
        "process writes its own shards.",
    )
    dataset.add_argument(
        "--family",
        nargs="+",
        required=True,
        metavar="NAME",
        help="One or more families (spaces or commas); random-geology draws maps outside the families.",
    )
    dataset.add_argument("--num", type=int, required=True, help="Pairs per family.")
    dataset.add_argument("--out", required=True, help="Output folder.")
    dataset.add_argument(
        "--shard-size", type=int, default=500, help="Pairs per file (default: 500, as OpenFWI)."
    )
    dataset.add_argument("--seed", type=int, default=0, help="Velocity seed (default: 0).")
    dataset.add_argument("--backend", choices=("deepwave", "reference"), default="deepwave")
    dataset.add_argument(
        "--device", choices=("cpu", "cuda"), default=None, help="Default: cuda if available."
    )
    dataset.add_argument("--batch-size", type=int, default=32, help="Maps per forward-modelling call.")
    dataset.add_argument(
        "--seismic-dtype",
        choices=("float32", "float16"),
        default="float32",
        help="Seismic files' type (default: float32, as OpenFWI); float16 halves them so more fits the page cache.",
    )
    dataset.add_argument(
        "--process-index", type=int, default=None, help="This process's index (default: $RANK or 0)."
    )
    dataset.add_argument(
        "--num-processes", type=int, default=None, help="Number of processes (default: $WORLD_SIZE or 1)."
    )

    waveform = commands.add_parser(
        "build-waveform-dataset",
        help="Catalogue + picks + miniSEED -> quality table, filter, preprocessed miniSEED.",
        description="Reads the catalogue (QuakeML or CSV), the picks (GSE2.0 bulletin or CSV) and every "
        "miniSEED file under --waveforms; computes snr1..3 and gap1..3 per three-component record; keeps "
        "records whose largest SNR exceeds --min-snr and whose gap counts are at most --max-gaps; writes "
        "them demeaned, detrended, tapered and band-passed (by channel and magnitude) to "
        "OUT/waveforms/, with OUT/quality.csv, OUT/metadata.csv and OUT/skipped.csv. Resumable.",
    )
    waveform.add_argument(
        "--catalog", required=True, help="QuakeML or CSV (time, latitude, longitude, depth, magnitude)."
    )
    waveform.add_argument(
        "--picks", required=True, help="GSE2.0 bulletin or CSV (event_id, station, phase, time)."
    )
    waveform.add_argument(
        "--waveforms", required=True, help="Folder of miniSEED files (searched recursively)."
    )
    waveform.add_argument("--out", required=True, help="Output folder.")
    waveform.add_argument(
        "--min-snr", type=float, default=1.5, help="Largest component SNR must exceed this (1.5)."
    )
    waveform.add_argument("--max-gaps", type=int, default=0, help="Most gaps allowed per component (0).")
    waveform.add_argument("--pattern", default="*", help="Glob of the waveform files (default: all).")

    denoise = commands.add_parser(
        "denoise",
        help="Denoise a miniSEED file with a cold-diffusion pipeline.",
        description="Reads INPUT (miniSEED), denoises every station group and writes OUTPUT "
        "(miniSEED, float32) with the same ids, start times and lengths; the processing is recorded "
        "in stats.processing. The output file appears only when complete.",
    )
    denoise.add_argument("input", help="Input miniSEED file.")
    denoise.add_argument("-o", "--output", required=True, help="Output miniSEED file.")
    denoise.add_argument(
        "--pipeline",
        default=None,
        help=f"Pipeline folder or Hub id (default: the bundled {DEFAULT_DENOISER}).",
    )
    denoise.add_argument("--steps", type=int, default=1, help="1 = direct mode (default); more = iterative.")
    denoise.add_argument("--batch-size", type=int, default=64, help="Windows per model call (default: 64).")
    denoise.add_argument("--device", choices=("cpu", "cuda"), default=None)
    denoise.add_argument(
        "--overwrite", action="store_true", help="Allow OUTPUT to be INPUT itself (replaces the raw data)."
    )

    archive = commands.add_parser(
        "denoise-archive",
        help="Denoise an SDS archive or a folder/glob of miniSEED files into an SDS archive, with Dask.",
        description="One Dask task per station-day: reads the day plus a short overlap from its neighbours, "
        "denoises each contiguous segment (gaps stay gaps), writes the SDS day files atomically and records "
        "completion under OUT/.denoise-archive/. A rerun skips finished units; failed units are reported at "
        "the end and the others go on.",
    )
    archive.add_argument("source", help="SDS root, folder of miniSEED files, or a quoted glob.")
    archive.add_argument("--out", required=True, help="SDS root to write.")
    archive.add_argument(
        "--scheduler", default=None, help="Address of a running Dask scheduler (default: a local cluster)."
    )
    archive.add_argument(
        "--workers", type=int, default=None, help="Workers of the local cluster (default: one per core)."
    )
    archive.add_argument(
        "--pipeline",
        default=None,
        help=f"Pipeline folder or Hub id (default: the bundled {DEFAULT_DENOISER}).",
    )
    archive.add_argument("--steps", type=int, default=1, help="1 = direct mode (default); more = iterative.")
    archive.add_argument("--batch-size", type=int, default=64, help="Windows per model call (default: 64).")
    archive.add_argument("--device", choices=("cpu", "cuda"), default=None)

    adapt = commands.add_parser(
        "adapt-denoiser",
        help="Fine-tune a denoiser to one station's own noise (continuous records).",
        description="Scans the records, drops windows that hold events (STA/LTA), fine-tunes the pipeline on "
        "synthetic local events mixed into the station's remaining noise within a time budget, writes a "
        "pipeline folder (with a card saying what it was adapted on) and prints the SNR gain before and after "
        "on a held-back later part of the same records.",
    )
    adapt.add_argument("noise", nargs="+", help="Continuous miniSEED records of one station (no gaps).")
    adapt.add_argument("--out", required=True, help="Folder for the adapted pipeline.")
    adapt.add_argument(
        "--pipeline",
        default=None,
        help=f"Base pipeline folder or Hub id (default: the bundled {DEFAULT_DENOISER}).",
    )
    adapt.add_argument("--minutes", type=float, default=10.0, help="Fine-tuning budget (default: 10).")
    adapt.add_argument(
        "--holdout-fraction",
        type=float,
        default=0.5,
        help="Later share of the records kept for scoring (0.5).",
    )
    adapt.add_argument(
        "--loss",
        choices=("l1", "snr"),
        default=None,
        help="Fine-tuning loss (default: snr, the one the bundled model was trained with).",
    )
    adapt.add_argument(
        "--snr-db-range",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=None,
        help="SNRs of the training mixtures, dB (default: 0 40, the bundled model's last training stage).",
    )

    invert = commands.add_parser(
        "invert",
        help="Invert shot gathers (.npy) for velocity maps with the velocity prior and deepwave.",
        description="Reads GATHERS (.npy, (B, 5, 1000, 70) or (5, 1000, 70) for OpenFWI's geometry), samples "
        "the posterior of each gather's velocity map with VelocityInversionPipeline and writes to OUT: mean.npy "
        "and std.npy (B, 70, 70), samples.npy (B, N, 70, 70), all m/s, data_misfit.npy (B, N), inversion.png "
        "(true map if given, mean, std, observed against predicted gathers) and metadata.json. The folder "
        "appears only when complete.",
    )
    invert.add_argument("gathers", help="Shot gathers, .npy.")
    invert.add_argument("-o", "--out", required=True, help="Output folder.")
    invert.add_argument(
        "--pipeline",
        default=None,
        help=f"Pipeline folder or Hub id (default: the bundled {DEFAULT_INVERSION}).",
    )
    invert.add_argument("--true", default=None, help="True maps (.npy, m/s), to score and plot.")
    invert.add_argument(
        "--mask",
        default=None,
        help="Trace mask (.npy, (shots, receivers) or (B, shots, receivers); 0 = dead).",
    )
    invert.add_argument("--family", default=None, help="The gathers' family, if known (default: unknown).")
    invert.add_argument("--samples", type=int, default=4, help="Posterior samples per gather (4).")
    invert.add_argument("--steps", type=int, default=None, help="Reverse-diffusion steps (pipeline default).")
    invert.add_argument(
        "--refine", type=int, default=None, help="FWI iterations per sample at the end (pipeline default)."
    )
    invert.add_argument("--seed", type=int, default=0, help="Gather i uses seed + i (0).")
    invert.add_argument("--max-gathers", type=int, default=64, help="Refuse files with more gathers (64).")

    info = commands.add_parser("info", help="Show a pipeline's families, scheduler and size.")
    info.add_argument("--pipeline", required=True, help="Pipeline folder or Hub id (org/name).")

    push = commands.add_parser("push", help="Validate a pipeline folder, write its model card, upload it.")
    push.add_argument("--pipeline", required=True, help="Pipeline folder written by save_pretrained.")
    push.add_argument("--repo-id", required=True, help="Target Hub repo, org/name.")
    push.add_argument("--private", action="store_true", help="Create the repo as private.")
    push.add_argument("--tag", action="append", default=None, help="Model card tag (repeatable).")
    push.add_argument("--dataset", action="append", default=None, help="Model card dataset (repeatable).")
    push.add_argument("--metric", action="append", default=None, help="Model card metric (repeatable).")
    push.add_argument("--commit-message", default="Upload seismic_diffusers pipeline")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns 0 on success and raises `SystemExit(2)` on bad input."""
    args = build_parser().parse_args(argv)
    handlers = {
        "generate": _generate_waveforms if getattr(args, "task", None) == "waveforms" else _generate_velocity,
        "make-dataset": _make_dataset,
        "build-waveform-dataset": _build_waveform_dataset,
        "denoise": _denoise,
        "denoise-archive": _denoise_archive,
        "adapt-denoiser": _adapt_denoiser,
        "invert": _invert,
        "info": _info,
        "push": _push,
    }
    try:
        return handlers[args.command](args) or 0
    except UsageError as error:
        message = " ".join(str(error).split())  # one line
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None


# ----------------------------------------------------------------------------------------------
# helpers


def _check_pipeline_argument(name: str) -> None:
    """Reject a missing local folder before it is mistaken for a Hub id (`pipelines/x` has one '/')."""
    path = Path(name).expanduser()
    if path.is_dir():
        return
    looks_local = (
        name.startswith((".", "/", "~"))
        or name.count("/") != 1
        or path.suffix != ""
        or (path.parent != Path(".") and path.parent.is_dir())
    )
    if looks_local:
        raise UsageError(
            f"pipeline folder {name!r} does not exist (give a pipeline folder or a Hub id org/name)."
        )


def _load_pipeline(name: str, device: str | None = None, pipeline_class=None, dtype=None):
    from .pipelines import VelocityGenerationPipeline

    pipeline_class = pipeline_class or VelocityGenerationPipeline
    _check_pipeline_argument(name)
    try:
        pipe = pipeline_class.from_pretrained(name, **({} if dtype is None else {"dtype": dtype}))
    except (ValueError, OSError) as error:
        raise UsageError(f"cannot load pipeline {name!r}: {error}") from error
    if device is not None:
        pipe = pipe.to(device)
    return pipe


def _per_sample_families(family: list[str] | None, num: int) -> list[str | None]:
    """Expand `--family` values (spaces or commas) to one entry per sample; None means any family."""
    names = [part.strip() for item in (family or []) for part in item.split(",") if part.strip()]
    names = [None if name.lower() in ("any", "none") else name for name in names] or [None]
    return [names[i % len(names)] for i in range(num)]


def _canonical(name: str) -> str:
    """Family spelling the processor accepts: case and `_` vs `-` do not matter."""
    return name.strip().lower().replace("_", "-")


def _pid_is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _remove_stale_partials(folder: Path, prefix: str) -> None:
    """Remove `prefix<PID>...` files and folders in `folder` left by runs of ours that were killed."""
    if not folder.is_dir():
        return
    for path in folder.glob(f"{prefix}*"):
        pid = path.name[len(prefix) :].split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_is_running(int(pid)):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _check_writable_folder(folder: Path, flag: str) -> None:
    """Create `folder` (and parents) and prove a file can be written there, before any compute."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as error:
        raise UsageError(f"{flag}: cannot write into {str(folder)!r} ({error.strerror or error}).") from None


def _check_output_folder(out: Path, flag: str = "--out") -> Path:
    """`out` resolved, once it is a folder (or does not exist) whose parent takes files."""
    out = out.expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"{flag} {str(out)!r} exists and is not a folder.")
    _check_writable_folder(out.parent, flag)
    _remove_stale_partials(out.parent, f".{out.name}.tmp-")
    return out


def _check_output_file(target: Path, source: Path | None = None, overwrite: bool = False) -> Path:
    """`target` resolved, once it can be written and, unless `overwrite`, is not `source` itself."""
    target = target.expanduser().resolve()
    if target.is_dir():
        raise UsageError(f"output {str(target)!r} is a folder; give a file name.")
    if (
        source is not None
        and not overwrite
        and (
            target == source.expanduser().resolve() or (target.exists() and os.path.samefile(target, source))
        )
    ):
        raise UsageError(
            f"output {str(target)!r} is the input file: that would replace the raw data. Give another "
            "output name, or --overwrite to replace it on purpose."
        )
    _check_writable_folder(target.parent, "--output")
    _remove_stale_partials(target.parent, f".{target.name}.partial-")
    return target


def _write_atomically(out: Path, writers: dict) -> None:
    """Write `{filename: callable(path)}` into a temp folder beside `out`, then move them in."""
    out = out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()  # unlike mkdtemp, honours the umask, so a renamed `out` gets normal permissions
    try:
        for filename, write in writers.items():
            write(staging / filename)
        if not out.exists():
            staging.rename(out)
            return
        if not out.is_dir():
            raise UsageError(f"--out {str(out)!r} exists and is not a folder.")
        for filename in writers:
            os.replace(staging / filename, out / filename)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _resumable_folder(out: Path, settings: dict) -> Path:
    """The hidden work folder `.OUT.partial/` beside `out` for a run with `settings`.

    A folder left by an interrupted run with the same settings is kept, so its finished chunks
    are not redone; one with other settings is emptied first.
    """
    work = out.parent / f".{out.name}.partial"
    recorded = work / "settings.json"
    text = json.dumps(settings, sort_keys=True, default=str)
    if work.is_dir() and not (recorded.is_file() and recorded.read_text() == text):
        shutil.rmtree(work)
    if not work.is_dir():
        work.mkdir(parents=True)
        recorded.write_text(text)
    elif any(work.glob("chunk-*.npy")):
        print(f"resuming: {len(list(work.glob('chunk-*.npy')))} chunk(s) of an interrupted run are kept")
    return work


def _save_npy_atomically(path: Path, array) -> None:
    import numpy as np

    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    with open(partial, "wb") as handle:
        np.save(handle, array)
    os.replace(partial, path)


# ----------------------------------------------------------------------------------------------
# commands


def _guidance_argument(values: list[str]) -> float | dict[str, float]:
    """`--guidance-scale` as the pipeline takes it: one number, or `{family: scale}` from FAMILY=SCALE pairs."""
    from .utils.arguments import family_scale, family_scales

    if len(values) == 1 and "=" not in values[0]:
        try:
            scale = float(values[0])
        except ValueError:
            raise UsageError(
                f"--guidance-scale takes a number or FAMILY=SCALE pairs, got {values[0]!r}."
            ) from None
        from .processors import check_guidance_weight

        try:
            return check_guidance_weight(scale, "--guidance-scale")
        except ValueError as error:
            raise UsageError(str(error)) from None
    try:
        return family_scales(family_scale(value) for value in values)
    except (argparse.ArgumentTypeError, ValueError) as error:
        raise UsageError(f"--guidance-scale {error}.") from None


def _generate_velocity(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    from .tasks import generate_velocity_maps, map_generators, plot_velocity_maps, velocity_sampling_pipeline

    # 1. Validate everything that needs no model
    for flag, value in (("--num", args.num), ("--steps", args.steps), ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be an integer >= 1, got {value}.")
    if args.guidance_scale is not None:
        args.guidance_scale = _guidance_argument(args.guidance_scale)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was requested but no CUDA device is available; use --device cpu.")
    out = _check_output_folder(Path(args.out))

    # 2. Load the pipeline and validate what depends on it
    pipe = _load_pipeline(args.pipeline, device, dtype=getattr(torch, args.dtype))
    pipe = velocity_sampling_pipeline(pipe, args.scheduler)  # the pipeline's own scheduler, or --scheduler
    if args.steps is None:
        args.steps = pipe.config.default_num_inference_steps
    if args.guidance_scale is None:
        args.guidance_scale = pipe.config.default_guidance_scale
    families = _per_sample_families(args.family, args.num)
    if pipe.is_conditional:
        vocabulary = pipe.families
        unknown = sorted(
            {name for name in families if name is not None and _canonical(name) not in vocabulary}
        )
        if unknown:
            raise UsageError(
                f"unknown family {', '.join(map(repr, unknown))}; valid families: {', '.join(vocabulary)}, or any."
            )
        labels = pipe.processor.family_labels(families, args.num)
        # 'any' maps draw their family from the training mix with their own generator, as the pipeline will
        drawn = pipe.drawn_family_labels(labels, map_generators(args.seed, range(args.num)))
        names = [
            vocabulary[label] if label == asked else f"any: {vocabulary[label]}"
            for asked, label in zip(labels, drawn, strict=True)
        ]
    else:
        if any(name is not None for name in families):
            raise UsageError(
                f"pipeline {args.pipeline!r} is unconditional: --family must be omitted or 'any', got "
                f"{' '.join(args.family)!r}."
            )
        names = ["any"] * args.num
    try:
        pipe.check_inputs(
            min(args.batch_size, args.num), None, args.steps, args.guidance_scale, output_type="np"
        )
        pipe.spaced_timesteps(args.steps, args.timestep_power)
    except ValueError as error:
        raise UsageError(str(error)) from error

    spaced = pipe.spaced_timesteps(args.steps, args.timestep_power)
    if spaced is None:
        pipe.scheduler.set_timesteps(args.steps)
    timesteps = spaced if spaced is not None else pipe.scheduler.timesteps.tolist()

    # 3. Generate in chunks, each saved as it is done: a rerun after a kill resumes, and memory
    #    holds one chunk. Per-sample generators make the result independent of --batch-size.
    chunks = [
        range(start, min(start + args.batch_size, args.num)) for start in range(0, args.num, args.batch_size)
    ]
    settings = {
        "pipeline": str(Path(args.pipeline).expanduser().resolve()) if Path(args.pipeline).is_dir() else args.pipeline,
        "families": families, "seed": args.seed, "steps": args.steps, "timesteps": timesteps,
        "guidance_scale": args.guidance_scale, "scheduler": args.scheduler, "dtype": args.dtype,
        "batch_size": args.batch_size, "num": args.num, "device": device,
    }  # fmt: skip
    work = _resumable_folder(out, settings)
    outer = tqdm(total=args.num, unit="map", desc="generating", disable=len(chunks) == 1)
    pipe.set_progress_bar_config(leave=len(chunks) == 1, desc=f"{args.steps} steps")
    for number, chunk in enumerate(chunks):
        path = work / f"chunk-{number:06d}.npy"
        if not path.is_file():
            try:
                velocities = generate_velocity_maps(
                    pipe,
                    chunk,
                    seed=args.seed,
                    family=families if pipe.is_conditional else None,
                    num_inference_steps=args.steps,
                    timestep_power=args.timestep_power,
                    guidance_scale=args.guidance_scale,
                )
            except ValueError as error:  # e.g. NaN maps from corrupt weights
                raise UsageError(str(error)) from None
            _save_npy_atomically(path, velocities)
        outer.update(len(chunk))
    outer.close()
    shape = (args.num, *np.load(work / "chunk-000000.npy", mmap_mode="r").shape[1:])
    low = min(float(np.load(work / f"chunk-{k:06d}.npy", mmap_mode="r").min()) for k in range(len(chunks)))
    high = max(float(np.load(work / f"chunk-{k:06d}.npy", mmap_mode="r").max()) for k in range(len(chunks)))

    # 4. Write the outputs (only now, and atomically)
    config = pipe.processor.config
    scheduler_name = type(pipe.scheduler).__name__
    if args.scheduler:
        scheduler_name = f"{args.scheduler} ({scheduler_name})"
    metadata = {
        "task": "velocity",
        "pipeline": args.pipeline,
        "num": args.num,
        "families": names,
        "seed": args.seed,
        "seeds": [args.seed + i for i in range(args.num)],
        "steps": args.steps,
        "timesteps": timesteps,
        "scheduler": scheduler_name,
        "guidance_scale": args.guidance_scale,
        "device": device,
        "dtype": args.dtype,
        "units": "m/s",
        "shape": list(shape),
        "grid_spacing_m": config.grid_spacing,
        "v_min": config.v_min,
        "v_max": config.v_max,
        "seismic_diffusers_version": __version__,
    }
    shown = min(args.num, MAX_PLOTTED)
    guidance = pipe.describe_guidance(args.guidance_scale)
    guidance = f", guidance {guidance}" if guidance != "1" else ""
    suptitle = f"{Path(args.pipeline).name}: {args.steps} steps{guidance}, {scheduler_name}, seed {args.seed}"
    if shown < args.num:
        suptitle += f" (first {shown} of {args.num})"

    def write_npy(path: Path) -> None:  # chunk by chunk: never the whole result in memory
        merged = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
        for number, chunk in enumerate(chunks):
            merged[chunk.start : chunk.stop] = np.load(work / f"chunk-{number:06d}.npy")
        merged.flush()
        del merged

    def write_png(path: Path) -> None:
        first = np.concatenate(
            [np.load(work / f"chunk-{k:06d}.npy") for k in range(len(chunks)) if chunks[k].start < shown]
        )
        plot_velocity_maps(
            pipe.processor,
            first[:shown],
            path,
            titles=[f"#{i} {names[i]}" for i in range(shown)],
            suptitle=suptitle,
        )

    _write_atomically(
        out,
        {
            "velocities.npy": write_npy,
            "metadata.json": lambda path: path.write_text(json.dumps(metadata, indent=2) + "\n"),
            "velocities.png": write_png,
        },
    )
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"wrote {args.num} velocity maps {shape[1:]} ({low:.0f}-{high:.0f} "
        f"m/s) to {out}/ (velocities.npy, metadata.json, velocities.png)"
    )
    return 0


def _generate_waveforms(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from .pipelines import ConditionalWaveformPipeline
    from .utils.plotting import plot_records_by_magnitude
    from .waveforms.dataset import processing_history

    # 1. Validate what needs no model
    num = args.num if args.num is not None else len(args.magnitude)
    for flag, value in (("--num", num), ("--steps", args.steps)):
        if value < 1:
            raise UsageError(f"{flag} must be an integer >= 1, got {value}.")
    if len(args.magnitude) not in (1, num):
        raise UsageError(f"give one --magnitude or {num} (one per record); got {len(args.magnitude)}.")
    out = _check_output_folder(Path(args.out))
    magnitudes = np.resize(np.asarray(args.magnitude, dtype=np.float64), num)

    # 2. Generate: the pipeline checks ranges, NaN and the station before any work
    pipe = _load_pipeline(args.pipeline, pipeline_class=ConditionalWaveformPipeline)
    try:
        streams = pipe(
            magnitude=magnitudes, latitude=args.latitude, longitude=args.longitude, depth=args.depth,
            station=args.station, batch_size=num, generator=torch.Generator().manual_seed(args.seed),
            num_inference_steps=args.steps,
        ).waveforms  # fmt: skip
    except ValueError as error:
        raise UsageError(str(error)) from error

    # 3. Write (only now, and atomically)
    names = [f"record_{i:03d}.mseed" for i in range(num)]
    peaks = [max(float(np.abs(trace.data).max()) for trace in stream) for stream in streams]
    metadata = {
        "task": "waveforms",
        "pipeline": args.pipeline,
        "generator": "diffusion prior" if pipe.prior is not None else "CVAE prior",
        "records": [
            {"file": name, "magnitude": float(m), "peak_m_s": peak}
            for name, m, peak in zip(names, magnitudes, peaks, strict=True)
        ],
        "latitude": args.latitude,
        "longitude": args.longitude,
        "depth_km": args.depth,
        "station": args.station or "unknown",
        "seed": args.seed,
        "steps": args.steps,
        "units": "m/s (ground velocity, training-data units)",
        "seismic_diffusers_version": __version__,
    }
    writers = {"metadata.json": lambda path: path.write_text(json.dumps(metadata, indent=2) + "\n")}
    for name, stream in zip(names, streams, strict=True):
        writers[name] = lambda path, stream=stream: stream.write(
            str(path), format="MSEED", encoding="FLOAT32"
        )
        writers[name + ".processing.json"] = lambda path, stream=stream: path.write_text(
            processing_history(stream)
        )
    shown = list(range(min(num, 8)))  # one column each
    writers["records.png"] = lambda path: plot_records_by_magnitude(
        {f"station {args.station or 'unknown'}": np.stack([[tr.data for tr in streams[i]] for i in shown])},
        magnitudes[shown], path,
        title=f"Z component, event at {args.latitude:g} N {args.longitude:g} E, {args.depth:g} km",
    )  # fmt: skip
    _write_atomically(out, writers)
    print(
        f"wrote {num} three-component records ({metadata['generator']}, peaks {min(peaks):.1e}-{max(peaks):.1e} m/s) "
        f"to {out}/ (record_*.mseed, metadata.json, records.png)"
    )
    return 0


def _make_dataset(args: argparse.Namespace) -> int:
    import time

    from .data.paired import make_paired_dataset

    families = [_canonical(f) for item in args.family for f in item.split(",") if f.strip()]
    _check_output_folder(Path(args.out))
    started = time.perf_counter()
    try:
        written = make_paired_dataset(
            args.out,
            families,
            args.num,
            shard_size=args.shard_size,
            seed=args.seed,
            backend=args.backend,
            device=args.device,
            batch_size=args.batch_size,
            process_index=args.process_index,
            num_processes=args.num_processes,
            seismic_dtype=args.seismic_dtype,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    seconds = time.perf_counter() - started
    import numpy as np

    pairs = sum(np.load(p, mmap_mode="r").shape[0] for p in written if p.parent.name == "model")
    rate = f", {pairs / seconds:.1f} pairs/s" if pairs else ""
    print(f"wrote {len(written) // 2} shard(s), {pairs} pairs, in {seconds:.1f} s{rate} -> {args.out}")
    return 0


def _build_waveform_dataset(args: argparse.Namespace) -> int:
    from .waveforms import build_waveform_dataset

    _check_output_folder(Path(args.out))
    try:
        summary = build_waveform_dataset(
            args.catalog,
            args.picks,
            args.waveforms,
            args.out,
            snr_threshold=args.min_snr,
            max_gaps=args.max_gaps,
            pattern=args.pattern,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(
        f"{summary['records']} records from {summary['files']} files: {summary['passed']} kept, "
        f"{summary['skipped']} skipped -> {args.out} (metadata.csv, quality.csv, skipped.csv)"
    )
    return 0


def _denoise(args: argparse.Namespace) -> int:
    import obspy

    from .pipelines import ColdDiffusionDenoisePipeline

    source = Path(args.input)
    if not source.is_file():
        raise UsageError(f"input file {str(source)!r} does not exist.")
    target = _check_output_file(Path(args.output), source, args.overwrite)
    try:
        stream = obspy.read(str(source), format="MSEED")
    except Exception as error:  # ObsPy raises several types for non-miniSEED bytes
        raise UsageError(
            f"{str(source)!r} is not a readable miniSEED file ({type(error).__name__}: {error})."
        ) from None
    pipe = _load_pipeline(
        args.pipeline or _bundled(DEFAULT_DENOISER), args.device, ColdDiffusionDenoisePipeline
    )
    try:
        denoised = pipe(stream, num_inference_steps=args.steps, batch_size=args.batch_size).waveforms
    except ValueError as error:
        raise UsageError(str(error)) from None
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        denoised.write(str(partial), format="MSEED", encoding="FLOAT32")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    mode = "direct" if args.steps == 1 else f"{args.steps} iterative steps"
    print(f"denoised {len(denoised)} trace(s) ({mode}) -> {target}")
    return 0


def _denoise_archive(args: argparse.Namespace) -> int:
    from .archive import denoise_archive, summarize

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be an integer >= 1, got {args.workers}.")
    if args.scheduler and args.workers is not None:
        raise UsageError("--workers sizes the local cluster; with --scheduler the cluster decides.")
    out = _check_output_folder(Path(args.out))
    pipeline = args.pipeline or _bundled(DEFAULT_DENOISER)
    _check_pipeline_argument(pipeline)
    client = None
    if args.scheduler:
        from distributed import Client

        try:
            client = Client(args.scheduler, timeout="20s")
        except OSError as error:
            raise UsageError(f"cannot reach the Dask scheduler at {args.scheduler!r}: {error}") from None
    try:
        result = denoise_archive(
            args.source, out, pipeline=pipeline, client=client, num_workers=args.workers,
            num_inference_steps=args.steps, batch_size=args.batch_size, device=args.device,
        )  # fmt: skip
    except ValueError as error:
        raise UsageError(str(error)) from None
    except ImportError as error:
        raise UsageError(str(error)) from None
    finally:
        if client is not None:
            client.close()
    for line in summarize(result):
        print(line)
    return 1 if result["failed"] else 0


def _adapt_denoiser(args: argparse.Namespace) -> int:
    from .adaptation import adapt_denoiser

    out = _check_output_folder(Path(args.out))
    pipeline = args.pipeline or _bundled(DEFAULT_DENOISER)
    _check_pipeline_argument(pipeline)
    try:
        report = adapt_denoiser(
            args.noise, out, pipeline=pipeline, minutes=args.minutes, holdout_fraction=args.holdout_fraction,
            **({} if args.loss is None else {"loss": args.loss}),
            **({} if args.snr_db_range is None else {"snr_db_range": tuple(args.snr_db_range)}),
        )  # fmt: skip
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(
        f"adapted to {report['station']}: {report['adaptation_event_free_seconds']:.0f} s of event-free noise kept "
        f"(of {report['adaptation_seconds']:.0f} s), {report['steps']} steps in {report['minutes']:.1f} min -> {out}"
    )
    print("SNR gain on the held-back part (median, dB): level | band-pass | before | after")
    for level, row in report["before"].items():
        print(
            f"  {level:>3} dB | {row['band_pass_db']:+.2f} | {row['denoiser_db']:+.2f} | "
            f"{report['after'][level]['denoiser_db']:+.2f}"
        )
    return 0


def _load_npy(path: str, flag: str):
    import numpy as np

    source = Path(path)
    if not source.is_file():
        raise UsageError(f"{flag} file {path!r} does not exist.")
    try:
        return np.load(source, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise UsageError(f"{flag} {path!r} is not a readable .npy array ({error}).") from None


def _invert(args: argparse.Namespace) -> int:
    import numpy as np

    from .pipelines import VelocityInversionPipeline
    from .tasks import invert_gathers

    gathers = _load_npy(args.gathers, "gathers")
    truth = None if args.true is None else _load_npy(args.true, "--true")
    mask = None if args.mask is None else _load_npy(args.mask, "--mask")
    count = 1 if gathers.ndim == 3 else (gathers.shape[0] if gathers.ndim else 0)
    if count > args.max_gathers:
        raise UsageError(
            f"{args.gathers!r} holds {count} gathers, more than --max-gathers {args.max_gathers}."
        )
    out = _check_output_folder(Path(args.out))
    pipe = _load_pipeline(
        args.pipeline or _bundled(DEFAULT_INVERSION), pipeline_class=VelocityInversionPipeline
    )
    settings = {"num_samples": args.samples, "family": args.family, "trace_mask": mask}
    if args.steps is not None:
        settings["num_inference_steps"] = args.steps
    if args.refine is not None:
        settings["refine_iterations"] = args.refine
    staging = out.parent / f".{out.name}.figure-{os.getpid()}.png"
    try:
        run = invert_gathers(pipe, gathers, seed=args.seed, truth=truth, figure=staging, **settings)
    except ValueError as error:
        raise UsageError(str(error)) from None
    output = run.output
    metadata = {
        "gathers": str(Path(args.gathers).resolve()),
        "pipeline": args.pipeline or DEFAULT_INVERSION,
        "settings": {k: v for k, v in settings.items() if k != "trace_mask"} | {"seed": args.seed},
        "masked_traces": 0 if mask is None else int((np.asarray(mask) == 0).sum()),
        "seconds": run.seconds,
        "data_misfit": output.data_misfit.tolist(),
        "scores": run.scores,
    }
    try:
        _write_atomically(
            out,
            {
                "mean.npy": lambda p: np.save(p, output.velocities),
                "std.npy": lambda p: np.save(p, output.std),
                "samples.npy": lambda p: np.save(p, output.samples),
                "data_misfit.npy": lambda p: np.save(p, output.data_misfit),
                "inversion.png": lambda p: shutil.move(staging, p),
                "metadata.json": lambda p: p.write_text(json.dumps(metadata, indent=2)),
            },
        )
    finally:
        staging.unlink(missing_ok=True)
    summary = f"inverted {len(output.velocities)} gather(s) in {run.seconds:.1f} s -> {out}"
    if run.scores:
        summary += " (mean SSIM {:.3f}, MAE {:.0f} m/s, +-2 std coverage {:.0%})".format(
            *(np.mean([s[key] for s in run.scores]) for key in ("ssim", "mae_m_per_s", "coverage_2std"))
        )
    print(summary)
    return 0


def _bundled(name: str) -> str:
    """The repository's `pipelines/<name>` when running from a checkout, else the name itself."""
    folder = Path(__file__).resolve().parents[1] / "pipelines" / name
    return str(folder) if folder.is_dir() else f"pipelines/{name}"


def _info(args: argparse.Namespace) -> int:
    pipe = _load_pipeline(args.pipeline)
    unet, scheduler, processor = pipe.unet, pipe.scheduler, pipe.processor
    params = sum(p.numel() for p in unet.parameters())
    size = unet.config.sample_size
    sched = scheduler.config
    extra = ", ".join(
        f"{key}={sched[key]}"
        for key in ("algorithm_type", "beta_schedule", "prediction_type", "num_train_timesteps")
        if key in sched
    )
    print(f"pipeline:    {args.pipeline} ({type(pipe).__name__})")
    print(f"families:    {', '.join(pipe.families) if pipe.families else 'none (unconditional)'}")
    print(f"scheduler:   {type(scheduler).__name__} ({extra})")
    print(
        f"sampling:    {pipe.config.default_num_inference_steps} steps, "
        f"guidance {pipe.describe_guidance(pipe.config.default_guidance_scale)}, "
        f"timestep spacing power {pipe.config.default_timestep_power:g} (defaults)"
    )
    print(f"unet:        {type(unet).__name__}, {params:,} parameters, sample_size={size}")
    print(
        f"units:       {processor.config.v_min:g}-{processor.config.v_max:g} m/s, "
        f"grid spacing {processor.config.grid_spacing:g} m"
    )
    return 0


def _push(args: argparse.Namespace) -> int:
    from . import hub

    if not Path(args.pipeline).is_dir():
        raise UsageError(f"pipeline folder {args.pipeline!r} does not exist.")
    if args.repo_id.count("/") != 1 or not all(args.repo_id.split("/")):
        raise UsageError(f"--repo-id must look like org/name, got {args.repo_id!r}.")
    try:
        hub.check_pipeline_folder(args.pipeline)
    except ValueError as error:
        raise UsageError(str(error)) from error
    try:
        result = hub.push_pipeline(
            args.pipeline,
            args.repo_id,
            private=args.private,
            commit_message=args.commit_message,
            tags=args.tag,
            datasets=args.dataset,
            metrics=args.metric,
        )
    except Exception as error:  # network, auth or Hub errors: report them, not a traceback
        message = " ".join(f"{type(error).__name__}: {error}".split())
        print(f"error: upload to {args.repo_id} failed: {message}", file=sys.stderr)
        return 1
    url = getattr(result, "commit_url", None) or f"https://huggingface.co/{args.repo_id}"
    print(f"pushed {args.pipeline} to {args.repo_id}: {url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

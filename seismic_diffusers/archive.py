"""Denoise a whole archive (SDS or miniSEED files) into an SDS archive, one Dask task per station-day.

Each unit of work is one (network.station.location.band, day). A task reads its day plus a short
overlap from the neighbouring days (so the day boundary is seamless), denoises every contiguous
segment (gaps stay gaps), writes one SDS day file per channel atomically and then a completion
marker. A rerun skips units with a marker and redoes the others; a unit that fails is recorded
with its error and the rest go on. Dask (`pip install seismic-diffusers[distributed]`) runs the
tasks on a `LocalCluster` by default or on any cluster given by its scheduler address.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .utils.streams import component_of

SDS_TYPE = "D"
SDS_NAME = re.compile(
    r"(?P<network>[^.]*)\.(?P<station>[^.]*)\.(?P<location>[^.]*)\.(?P<channel>[^.]*)\."
    r"(?P<type>[A-Z])\.(?P<year>\d{4})\.(?P<doy>\d{3})"
)
MARKERS = ".denoise-archive"  # completion markers and the run's settings, inside the output root
SECONDS_PER_DAY = 86400

_PIPELINES: dict = {}  # per worker process: the pipeline, loaded once


@dataclass
class Unit:
    """One station-day: the files holding its day, and those of its neighbours (for the overlap)."""

    key: str  # network.station.location.band
    day: str  # YYYY-MM-DD (UTC)
    files: list[str] = field(default_factory=list)
    neighbour_files: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.key}.{self.day}"


def band_key(network: str, station: str, location: str, channel: str) -> str:
    """`NET.STA.LOC.BAND` of a channel: its code without the component letter(s)."""
    band = channel[:-2] if channel.upper()[-2:] in ("UD", "NS", "EW") else channel[:-1]
    return f"{network}.{station}.{location}.{band}"


def _day_start(day: str):
    from obspy import UTCDateTime

    return UTCDateTime(day)


def _days_between(start, end) -> list[str]:
    """The UTC days (YYYY-MM-DD) that the closed interval [start, end] touches."""
    from obspy import UTCDateTime

    first = UTCDateTime(start.date)
    count = int((UTCDateTime(end.date) - first) // SECONDS_PER_DAY) + 1
    return [(first + k * SECONDS_PER_DAY).date.isoformat() for k in range(count)]


def find_units(source: str | os.PathLike) -> tuple[list[Unit], list[dict]]:
    """The units of `source` (an SDS root, a folder or a glob of miniSEED files) and the files that
    could not be indexed (`[{"unit": path, "error": ...}]`).

    SDS day files are indexed by their names (ObsPy's `SDS_FMTSTR`); other files by their headers
    (`obspy.read(headonly=True)`). Tasks then read the files one by one rather than through
    `obspy.clients.filesystem.sds.Client.get_waveforms`, which raises on any unreadable file in
    its span: a corrupt day would otherwise fail its neighbours' units too.
    """
    import glob

    from obspy import UTCDateTime, read

    text = str(source)
    if any(char in text for char in "*?["):
        paths = sorted(Path(p) for p in glob.glob(text, recursive=True))
    elif Path(text).is_dir():
        paths = sorted(p for p in Path(text).rglob("*") if p.is_file() and not p.name.startswith("."))
    else:
        raise ValueError(f"source {text!r} is neither a folder (SDS root or miniSEED files) nor a glob.")
    paths = [p for p in paths if p.is_file() and MARKERS not in p.parts]
    if not paths:
        raise ValueError(f"source {text!r} holds no files.")

    by_day: dict[tuple[str, str], set[str]] = defaultdict(set)
    unreadable = []
    for path in paths:
        match = SDS_NAME.fullmatch(path.name)
        if match:
            day = (UTCDateTime(int(match["year"]), julday=int(match["doy"]))).date.isoformat()
            key = band_key(match["network"], match["station"], match["location"], match["channel"])
            by_day[(key, day)].add(str(path))
            continue
        try:
            headers = read(str(path), headonly=True)
        except Exception as error:  # ObsPy raises many types for a bad file
            unreadable.append({"unit": str(path), "error": f"unreadable ({type(error).__name__}: {error})"})
            continue
        for trace in headers:
            stats = trace.stats
            key = band_key(stats.network, stats.station, stats.location, stats.channel)
            for day in _days_between(stats.starttime, stats.endtime):
                by_day[(key, day)].add(str(path))

    units = []
    for (key, day), files in sorted(by_day.items()):
        start = _day_start(day)
        neighbours = set()
        for other in ((start - SECONDS_PER_DAY).date.isoformat(), (start + SECONDS_PER_DAY).date.isoformat()):
            neighbours |= by_day.get((key, other), set())
        units.append(Unit(key, day, sorted(files), sorted(neighbours - files)))
    return units, unreadable


def overlap_seconds(processor) -> float:
    """Overlap read from each neighbouring day: whole hops covering at least one model window, so the
    unit's windows fall on the same grid as a stream that runs through the boundary."""
    window, hop = int(processor.config.window_length), processor.hop_length
    return math.ceil(window / hop) * hop / float(processor.config.sampling_rate)


def _worker_pipeline(name: str, device: str | None, torch_threads: int):
    """The pipeline, loaded once per worker process (and reused by every later task there)."""
    cached = _PIPELINES.get((name, device))
    if cached is None:
        import torch

        from .pipelines import ColdDiffusionDenoisePipeline

        torch.set_num_threads(torch_threads)
        cached = ColdDiffusionDenoisePipeline.from_pretrained(name)
        if device is not None:
            cached = cached.to(device)
        cached.set_progress_bar_config(disable=True)
        _PIPELINES[(name, device)] = cached
    return cached


def _segments(stream) -> list:
    """Contiguous, time-overlapping pieces of a merged-and-split Stream, each with one trace per id."""
    from obspy import Stream

    pieces: list[Stream] = []
    end = None
    for trace in sorted(stream, key=lambda t: t.stats.starttime):
        ids = {t.id for t in pieces[-1]} if pieces else set()
        if end is None or trace.stats.starttime > end or trace.id in ids:
            pieces.append(Stream())
            end = trace.stats.endtime
        pieces[-1].append(trace)
        end = max(end, trace.stats.endtime)
    return pieces


def read_unit(unit: Unit, overlap_s: float):
    """The unit's traces from `[day - overlap, next day + overlap)`, merged, split at gaps.

    Raises:
        ValueError: if one of the unit's own files cannot be read or a channel code is unknown.
            Neighbouring files that cannot be read only cost the overlap on that side.
    """
    from obspy import Stream, read

    start = _day_start(unit.day)
    window = {"starttime": start - overlap_s, "endtime": start + SECONDS_PER_DAY + overlap_s}
    stream = Stream()
    for path in unit.files + unit.neighbour_files:
        try:
            stream += read(path, format="MSEED", **window)
        except Exception as error:  # ObsPy raises many types for a bad file
            if path in unit.files:
                raise ValueError(f"{path}: unreadable miniSEED ({type(error).__name__}: {error})") from None
    stream = Stream(
        [
            t
            for t in stream
            if band_key(t.stats.network, t.stats.station, t.stats.location, t.stats.channel) == unit.key
        ]
    )
    for trace in stream:
        component_of(trace.stats.channel)  # unknown codes fail the unit, with the reason
    stream.merge(method=1)
    return stream.split()


def sds_path(root: Path, network: str, station: str, location: str, channel: str, day: str) -> Path:
    """Where SDS keeps a channel's day file (ObsPy's `SDS_FMTSTR`, type D)."""
    from obspy.clients.filesystem.sds import SDS_FMTSTR

    start = _day_start(day)
    relative = SDS_FMTSTR.format(
        year=start.year, doy=start.julday, network=network, station=station, location=location,
        channel=channel, sds_type=SDS_TYPE,
    )  # fmt: skip
    return root / relative


def denoise_unit(unit: Unit, out: str, settings: dict) -> dict:
    """Denoise one station-day into the SDS root `out`; returns `{"unit", "status", ...}`.

    Never raises: a failure comes back as `status="failed"` with its error, and is recorded.
    """
    from obspy import Stream

    root = Path(out)
    marker_dir = root / MARKERS / "units"
    started = time.perf_counter()
    try:
        pipe = _worker_pipeline(
            settings["pipeline"], settings.get("device"), settings.get("torch_threads", 1)
        )
        pieces = read_unit(unit, settings["overlap_s"])
        denoised = Stream()
        for piece in _segments(pieces):
            denoised += pipe(
                piece, num_inference_steps=settings["num_inference_steps"], batch_size=settings["batch_size"]
            ).waveforms
        start = _day_start(unit.day)
        last = start + SECONDS_PER_DAY
        by_channel: dict[str, Stream] = defaultdict(Stream)
        for trace in denoised:
            kept = trace.slice(start, last - 0.5 / trace.stats.sampling_rate, nearest_sample=False)
            if kept.stats.npts:
                by_channel[trace.id] += kept
        written = []
        for trace_id, stream in sorted(by_channel.items()):
            target = sds_path(root, *trace_id.split("."), unit.day)
            _write_atomically(stream, target)
            written.append(str(target.relative_to(root)))
        record = {"unit": unit.name, "status": "done", "files": written}
    except Exception as error:  # recorded, and the other units go on
        record = {"unit": unit.name, "status": "failed", "error": f"{type(error).__name__}: {error}"}
    record.update(seconds=round(time.perf_counter() - started, 3), worker_pid=os.getpid(),
                  pipeline_id=id(_PIPELINES.get((settings["pipeline"], settings.get("device")))))  # fmt: skip
    _write_text_atomically(marker_dir / f"{unit.name}.json", json.dumps(record) + "\n")
    return record


def _write_atomically(stream, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.partial-*"):  # left by a killed earlier run
        stale.unlink(missing_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    stream.write(str(partial), format="MSEED", encoding="FLOAT32")
    os.replace(partial, target)


def _write_text_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)


def _check_settings(out: Path, settings: dict) -> None:
    """Refuse to resume an output root made with other settings (its files would mix two runs)."""
    path = out / MARKERS / "settings.json"
    compared = {k: settings[k] for k in ("pipeline", "num_inference_steps", "overlap_s")}
    if path.is_file():
        saved = json.loads(path.read_text())
        differing = [
            f"{k} {saved.get(k)!r} there, {v!r} now" for k, v in compared.items() if saved.get(k) != v
        ]
        if differing:
            raise ValueError(
                f"{out} was written with other settings ({'; '.join(differing)}); rerun with the same "
                "settings to resume, or write to a new --out root."
            )
    else:
        _write_text_atomically(path, json.dumps(compared, indent=2) + "\n")


def finished_units(out: str | os.PathLike) -> set[str]:
    """Names of the units that an earlier run into `out` finished (`status == "done"`)."""
    folder = Path(out) / MARKERS / "units"
    done = set()
    for path in folder.glob("*.json") if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        if record.get("status") == "done":
            done.add(record["unit"])
    return done


def local_cluster(num_workers: int | None = None):
    """A Dask `LocalCluster` of `num_workers` single-threaded worker processes (default: one per core).

    Dask's nanny starts workers with `MALLOC_TRIM_THRESHOLD_=65536`, which hands every freed
    buffer back to the kernel: the denoiser's window batches are then page-faulted in again on
    each model call, which made a worker 1.7x slower than the same work in a plain process. The
    workers here keep glibc's default (the other pre-spawn settings, one BLAS/OpenMP thread, stay),
    and run without Dask's statistical profiler (no dashboard is started to show it).
    """
    import dask
    from distributed import LocalCluster

    settings = {
        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
        "distributed.worker.profile.enabled": False,  # its stack sampling costs a core's share here
    }
    with dask.config.set(settings):
        return LocalCluster(
            n_workers=num_workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
            dashboard_address=None,
        )  # fmt: skip


def denoise_archive(
    source: str | os.PathLike,
    out: str | os.PathLike,
    pipeline: str = "pipelines/cold-diffusion-denoiser",
    client=None,
    num_workers: int | None = None,
    num_inference_steps: int = 1,
    batch_size: int = 64,
    device: str | None = None,
    progress: bool = True,
) -> dict:
    r"""
    Denoise every station-day of `source` into the SDS archive `out`, in parallel with Dask.

    Args:
        source (`str` or `os.PathLike`): An SDS root, a folder of miniSEED files (searched
            recursively), or a glob such as `"data/*.mseed"`.
        out (`str` or `os.PathLike`): SDS root to write (`YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY`,
            FLOAT32 miniSEED, the input's ids, rates and sample times). Completion markers and
            the run's settings go to `out/.denoise-archive/`.
        pipeline (`str`, *optional*): A `ColdDiffusionDenoisePipeline` folder or Hub id; each worker
            loads it once.
        client (`distributed.Client`, *optional*): Where to run. Default: [`local_cluster`] with
            `num_workers` single-threaded worker processes (default: one per core), closed at the end.
        num_workers (`int`, *optional*): Workers of the default cluster.
        num_inference_steps (`int`, *optional*, defaults to 1): 1 is direct mode.
        batch_size (`int`, *optional*, defaults to 64): Windows per model call.
        device (`str`, *optional*): `"cpu"` or `"cuda"` on the workers.
        progress (`bool`, *optional*, defaults to `True`): Show Dask's progress bar.

    Returns:
        `dict`: `units` (total), `done`, `skipped` (finished by an earlier run), `failed`
        (`[{"unit", "error"}]`, unreadable files included) and `seconds`.

    Raises:
        ValueError: Before any work, for a source without files, an `out` that is a file, an
            `out` written with other settings, bad numbers, or a pipeline that does not load.
        ImportError: If Dask's `distributed` is not installed.
    """
    try:
        from distributed import Client
        from distributed import progress as dask_progress
    except ImportError:
        raise ImportError(
            "denoise_archive needs Dask: pip install 'seismic-diffusers[distributed]'"
        ) from None
    from .pipelines import ColdDiffusionDenoisePipeline

    started = time.perf_counter()
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise ValueError(f"out {str(out)!r} exists and is not a folder.")
    for name, value in (("num_inference_steps", num_inference_steps), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
    if num_workers is not None and (
        isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1
    ):
        raise ValueError(f"`num_workers` must be an integer >= 1, got {num_workers!r}.")
    local = Path(str(pipeline)).expanduser()
    name = str(local.resolve()) if local.is_dir() else str(pipeline)
    source_folder = Path(str(source)).expanduser().resolve()
    if source_folder.is_dir() and (out == source_folder or source_folder in out.parents):
        raise ValueError(f"out {str(out)!r} lies inside the source {str(source_folder)!r}; write elsewhere.")
    probe = ColdDiffusionDenoisePipeline.from_pretrained(name)  # fails here, clearly, not on every worker
    probe.check_inputs(num_inference_steps, batch_size, None)
    units, unreadable = find_units(source)
    settings = {
        "pipeline": name,
        "num_inference_steps": num_inference_steps,
        "batch_size": batch_size,
        "device": device,
        "overlap_s": overlap_seconds(probe.processor),
        "torch_threads": 1,
    }
    del probe
    out.mkdir(parents=True, exist_ok=True)
    _check_settings(out, settings)
    done_before = finished_units(out)
    todo = [unit for unit in units if unit.name not in done_before]

    records = []
    if todo:
        own_cluster = client is None
        if own_cluster:
            cluster = local_cluster(num_workers)
            client = Client(cluster)
        else:
            threads = client.nthreads()
            settings["torch_threads"] = max(1, min(threads.values())) if threads else 1
        try:
            futures = [client.submit(denoise_unit, unit, str(out), settings, pure=False) for unit in todo]
            if progress:
                dask_progress(futures)
            records = client.gather(futures)
        finally:
            if own_cluster:
                client.close()
                cluster.close()
    failed = [{"unit": r["unit"], "error": r["error"]} for r in records if r["status"] == "failed"]
    failed += unreadable
    return {
        "units": len(units),
        "done": sum(r["status"] == "done" for r in records),
        "skipped": len(units) - len(todo),
        "failed": failed,
        "records": records,
        "seconds": round(time.perf_counter() - started, 3),
    }


def summarize(result: dict) -> Iterable[str]:
    """Lines for the end of a run: counts, then each failure with its error."""
    yield (
        f"{result['units']} station-day unit(s): {result['done']} denoised, {result['skipped']} already done, "
        f"{len(result['failed'])} failed, in {result['seconds']:.1f} s"
    )
    for failure in result["failed"]:
        yield f"  failed: {failure['unit']}: {failure['error']}"

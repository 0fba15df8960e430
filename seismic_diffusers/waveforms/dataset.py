"""`build-waveform-dataset`: catalogue + picks + miniSEED -> quality table, filter, preprocessed miniSEED."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np
from obspy import Stream, read
from tqdm.auto import tqdm

from .catalog import CatalogEvent, read_catalog, read_picks
from .preprocessing import check_stream, preprocess
from .quality import NOISE_WINDOW_S, SIGNAL_WINDOW_S, component_index, passes_quality, record_quality

PathLike = str | os.PathLike
QUALITY_COLUMNS = (
    "event_id", "magnitude", "latitude", "longitude", "depth_km", "station", "channels",
    "snr1", "snr2", "snr3", "gap1", "gap2", "gap3", "source_file", "passed", "path",
)  # fmt: skip
METADATA_COLUMNS = tuple(c for c in QUALITY_COLUMNS if c not in ("source_file", "passed"))
SKIP_COLUMNS = ("source_file", "station", "reason")


def _groups(stream: Stream) -> dict[str, Stream]:
    """Traces by `NET.STA.LOC.BI` (band + instrument code): one three-component record each."""
    groups: dict[str, Stream] = {}
    for trace in stream:
        stats = trace.stats
        key = f"{stats.network}.{stats.station}.{stats.location}.{stats.channel[:2]}"
        groups.setdefault(key, Stream()).append(trace)
    return groups


def _associate(
    group: Stream, station: str, events: dict[str, CatalogEvent]
) -> tuple[CatalogEvent | None, str]:
    """The catalogue event whose pick at `station` falls inside the record, or a reason why none."""
    start = min(t.stats.starttime for t in group)
    end = max(t.stats.endtime for t in group)
    found = []
    for event in events.values():
        picks = event.picks.get(station, {})
        arrival = picks.get("P") or picks.get("S")
        if arrival is not None and start <= arrival <= end:
            found.append(event)
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, f"no catalogue event has a pick at {station} inside the record ({start} - {end})"
    return (
        None,
        f"ambiguous: picks of events {', '.join(e.event_id for e in found)} at {station} all fall inside",
    )


def _append_rows(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    new = not path.is_file()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        if new:
            writer.writeheader()
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())


def _read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def processing_history(stream: Stream) -> str:
    """The `.processing.json` sidecar text: each trace id's `stats.processing`."""
    return json.dumps({trace.id: list(trace.stats.get("processing", [])) for trace in stream}, indent=1)


def write_processed(stream: Stream, path: Path) -> None:
    """Write float64 miniSEED atomically, with `stats.processing` in a `.processing.json` sidecar
    (miniSEED has no field for it); `read_processed` restores it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name("." + path.name + ".partial")
    stream.write(str(partial), format="MSEED", encoding="FLOAT64")
    sidecar = path.with_name(path.name + ".processing.json")
    sidecar_partial = sidecar.with_name("." + sidecar.name + ".partial")
    sidecar_partial.write_text(processing_history(stream))
    os.replace(sidecar_partial, sidecar)
    os.replace(partial, path)


def read_processed(path: PathLike) -> Stream:
    """Read a file written by `build-waveform-dataset`, with `stats.processing` restored."""
    path = Path(path)
    stream = read(str(path), format="MSEED")
    sidecar = path.with_name(path.name + ".processing.json")
    if sidecar.is_file():
        history = json.loads(sidecar.read_text())
        for trace in stream:
            trace.stats.processing = list(history.get(trace.id, []))
    return stream


def build_waveform_dataset(
    catalog: PathLike,
    picks: PathLike,
    waveforms: PathLike,
    out: PathLike,
    snr_threshold: float = 1.5,
    max_gaps: int = 0,
    noise_window: tuple[float, float] = NOISE_WINDOW_S,
    signal_window: tuple[float, float] = SIGNAL_WINDOW_S,
    pattern: str = "*",
    progress: bool = True,
) -> dict:
    r"""
    Build a quality-filtered, preprocessed waveform dataset from a catalogue, picks and miniSEED.

    1. Read the catalogue (`read_catalog`: QuakeML or CSV) and attach the picks (`read_picks`:
       GSE2.0 bulletin or CSV).
    2. For every miniSEED file under `waveforms` (recursively, sorted), split its traces into
       three-component records by network, station, location and band/instrument code, and
       associate each record with the catalogue event whose pick at that station lies inside it.
    3. Quality metrics (`record_quality`): `snr1..3` around the P pick (else S) and `gap1..3`.
    4. Filter (`passes_quality`): max SNR > `snr_threshold` (1.5) and every gap count <=
       `max_gaps` (0).
    5. Records that pass are merged, run through `preprocess` (demean, linear detrend, 5 %
       cosine taper, band-pass by table) and written to
       `out/waveforms/<event_id>/<NET.STA.LOC.BI>.mseed` (float64, stats intact, processing in a
       `.processing.json` sidecar: `read_processed` restores `stats.processing`).

    Outputs in `out/`: `quality.csv` (every record with its metrics and `passed`),
    `metadata.csv` (the kept records: event id, magnitude, location, station, `snr1..3`,
    `gap1..3`, path), `skipped.csv` (unreadable files and records that could not be associated
    or processed, with the reason), `summary.json`. Rows are appended as records finish, so an
    interrupted run resumes where it stopped; rerunning a finished one does nothing new.

    Args:
        catalog, picks, waveforms (`str` or `os.PathLike`): Catalogue file, pick file, folder of
            miniSEED.
        out (`str` or `os.PathLike`): Output folder (created).
        snr_threshold (`float`, *optional*, defaults to 1.5): Minimum of the largest component SNR.
        max_gaps (`int`, *optional*, defaults to 0): Maximum gaps per component.
        noise_window, signal_window (`tuple[float, float]`): SNR windows, s relative to the pick.
        pattern (`str`, *optional*, defaults to `"*"`): Glob for the waveform files.
        progress (`bool`, *optional*, defaults to `True`): Show a progress bar.

    Returns:
        `dict`: counts (`files`, `records`, `passed`, `skipped`) and the output paths.

    Raises:
        ValueError: bad catalogue or picks (see the readers), a missing waveform folder, an
            `out` that is an existing file, or bad thresholds. Problems with single files or records never stop the run.
    """
    if not (isinstance(snr_threshold, (int, float)) and math.isfinite(snr_threshold)):
        raise ValueError(f"snr_threshold must be a finite number, got {snr_threshold!r}.")
    if int(max_gaps) != max_gaps or max_gaps < 0:
        raise ValueError(f"max_gaps must be an integer >= 0, got {max_gaps!r}.")
    folder = Path(waveforms)
    if not folder.is_dir():
        raise ValueError(f"Waveform folder {folder} does not exist.")
    if Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"Output {str(out)!r} exists and is not a folder; give a folder path.")
    events = read_catalog(catalog)
    read_picks(picks, events)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    quality_path, skipped_path = out / "quality.csv", out / "skipped.csv"

    # Resume: records and files already handled by an earlier run are not redone.
    done_records = {(r["source_file"], r["station"]) for r in _read_rows(quality_path)}
    done_records |= {(r["source_file"], r["station"]) for r in _read_rows(skipped_path)}
    files = sorted(p for p in folder.rglob(pattern) if p.is_file() and not p.name.startswith("."))
    for path in tqdm(files, desc="build-waveform-dataset", disable=not progress):
        source = str(path.relative_to(folder))
        if (source, "") in done_records:
            continue
        try:
            stream = read(str(path), format="MSEED")
        except Exception as error:  # ObsPy raises many types for a bad file
            _append_rows(skipped_path, SKIP_COLUMNS, [{"source_file": source, "station": "",
                         "reason": f"unreadable miniSEED ({type(error).__name__}: {error})"}])  # fmt: skip
            continue
        for key, group in _groups(stream).items():
            if (source, key) in done_records:
                continue
            row = _process_record(group, key, source, events, out, snr_threshold, max_gaps, noise_window,
                                  signal_window)  # fmt: skip
            if "reason" in row:
                _append_rows(skipped_path, SKIP_COLUMNS, [row])
            else:
                _append_rows(quality_path, QUALITY_COLUMNS, [row])

    rows = _read_rows(quality_path)
    kept = [{c: r[c] for c in METADATA_COLUMNS} for r in rows if r["passed"] == "True"]
    partial = out / ".metadata.csv.partial"
    if partial.exists():
        partial.unlink()
    _append_rows(partial, METADATA_COLUMNS, kept)
    os.replace(partial, out / "metadata.csv")
    summary = {
        "files": len(files),
        "records": len(rows),
        "passed": len(kept),
        "skipped": len(_read_rows(skipped_path)),
        "snr_threshold": snr_threshold,
        "max_gaps": max_gaps,
        "quality": str(quality_path),
        "metadata": str(out / "metadata.csv"),
        "skipped_list": str(skipped_path),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _process_record(
    group, key, source, events, out, snr_threshold, max_gaps, noise_window, signal_window
) -> dict:
    """One record's quality row (and processed file when it passes), or a skip row with a reason."""
    station = key.split(".")[1]
    skip = {"source_file": source, "station": key}
    try:
        check_stream(group)  # unmerged: a gappy channel is several traces here, counted below
    except ValueError as error:
        return {**skip, "reason": str(error)}
    event, reason = _associate(group, station, events)
    if event is None:
        return {**skip, "reason": reason}
    picks = event.picks[station]
    quality = record_quality(group, picks.get("P") or picks["S"], noise_window, signal_window)
    passed = passes_quality(quality, snr_threshold, max_gaps)
    row = {
        "event_id": event.event_id, "magnitude": event.magnitude, "latitude": event.latitude,
        "longitude": event.longitude, "depth_km": event.depth_km, "station": key,
        "channels": " ".join(sorted(t.stats.channel for t in group)), **quality, "source_file": source,
        "passed": passed, "path": "",
    }  # fmt: skip
    if passed:
        try:
            # with max_gaps > 0, gaps are filled by linear interpolation before processing
            processed = preprocess(group.copy().merge(method=1, fill_value="interpolate"), event.magnitude)
        except ValueError as error:
            return {**skip, "reason": f"preprocessing failed: {error}"}
        target = out / "waveforms" / event.event_id / f"{key}.mseed"
        write_processed(processed, target)
        row["path"] = str(target.relative_to(out))
    return row


def load_training_records(
    dataset_dir: PathLike | None, num_records: int = 6000, data_seed: int = 0, window_length: int = 7000
) -> dict:
    """Waveforms and their catalogue for the waveform training scripts: synthetic, or a built dataset.

    Args:
        dataset_dir (`str` or `Path`, *optional*): A `build-waveform-dataset` output folder; `None`
            generates `num_records` synthetic Marmara-like records with `data_seed`.
        num_records (`int`, *optional*, defaults to 6000): Synthetic records.
        data_seed (`int`, *optional*, defaults to 0): Seed of the synthetic records.
        window_length (`int`, *optional*, defaults to 7000): Samples per record (70 s at 100 Hz);
            dataset records are cut or zero-padded to it.

    Returns:
        `dict` with `waveforms` `(N, 3, window_length)` (E, N, Z), `magnitude`, `latitude`,
        `longitude`, `depth_km` (arrays of `N`) and `station` (a list of `N` codes).

    Raises:
        ValueError: for a folder without `metadata.csv` or one that lists no records.
    """
    if dataset_dir is None:
        from .synthetic import generate_marmara_records

        records = generate_marmara_records(num_records, seed=data_seed, num_samples=window_length)
        return {
            key: records[key]
            for key in ("waveforms", "magnitude", "latitude", "longitude", "depth_km", "station")
        }
    folder = Path(dataset_dir)
    metadata = folder / "metadata.csv"
    if not metadata.is_file():
        raise ValueError(
            f"{folder} has no metadata.csv: build it with `seismic-diffusers build-waveform-dataset`."
        )
    with open(metadata, newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = {key: [] for key in ("waveforms", "magnitude", "latitude", "longitude", "depth_km", "station")}
    for row in rows:
        stream = read_processed(folder / row["path"])
        window = np.zeros((3, window_length), dtype=np.float32)
        for trace in stream:
            index = component_index(trace.stats.channel)
            if index is not None:
                data = trace.data[:window_length]
                window[index, : len(data)] = data
        out["waveforms"].append(window)
        for key in ("magnitude", "latitude", "longitude", "depth_km"):
            out[key].append(float(row[key]))
        out["station"].append(row["station"].split(".")[1])
    if not rows:
        raise ValueError(f"{metadata} lists no records.")
    return {key: np.asarray(value) if key != "station" else value for key, value in out.items()}

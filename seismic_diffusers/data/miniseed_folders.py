"""Folders of miniSEED files <-> three-component E, N, Z window arrays (read and write).

Windows are arrays of shape `(num_windows, 3, num_samples)` with the components in STEAD's order,
[`~data.stead.COMPONENTS`] = `("E", "N", "Z")`. Samples stay in the files' units (usually counts).
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np

from ..utils.streams import component_of, resample
from .stead import COMPONENTS

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike


def read_miniseed_folder(
    folder: PathLike,
    num_samples: int = 3000,
    sampling_rate: float = 100.0,
    stride: int | None = None,
    pattern: str = "*",
    return_metadata: bool = False,
) -> np.ndarray | tuple[np.ndarray, list[dict]]:
    r"""Cut three-component windows out of a folder of miniSEED files.

    Each file is one recording (an event or a stretch of noise). Inside a file, traces are grouped
    by network, station, location and the channel code without its component (band and
    instrument); a group needs exactly one channel for each of E, N and Z, by the pipeline's own
    channel map (`utils.streams.component_of`: 1 is N, 2 is E, 3 is Z, K-NET's EW/NS/UD). The three traces
    are trimmed to their common time span, resampled to `sampling_rate` if needed (ObsPy's
    Fourier `Trace.resample` on a copy, with a logged warning) and cut into windows: the first
    `num_samples` samples, or every `stride` samples when `stride` is given. Groups shorter than a
    window are skipped with a warning.

    Files are read in sorted order, hidden files are ignored, and every other file matching
    `pattern` must be miniSEED.

    Args:
        folder (`str` or `os.PathLike`): Folder of miniSEED files (not searched recursively).
        num_samples (`int`, *optional*, defaults to 3000): Window length in samples.
        sampling_rate (`float`, *optional*, defaults to 100.0): Output sampling rate in Hz.
        stride (`int`, *optional*): Step between windows in samples; `None` keeps one window per
            group.
        pattern (`str`, *optional*, defaults to `"*"`): Glob pattern of the files to read.
        return_metadata (`bool`, *optional*, defaults to `False`): Also return one dict per window
            (`file`, `network`, `station`, `location`, `channels`, `starttime` (ISO string of the
            first sample), `sampling_rate`).

    Returns:
        `np.ndarray` float32 of shape `(num_windows, 3, num_samples)`, components E, N, Z, in the
        files' units (usually counts); with `return_metadata`, a tuple `(windows, metadata)`.

    Raises:
        `ValueError`: the folder has no files or no complete window, a file is not miniSEED, a
        trace has gaps, overlaps or masked samples, a channel code has no component, a group lacks
        an E, N or Z channel or mixes sampling rates.
    """
    import obspy

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"Not a folder: {folder}.")
    if int(num_samples) < 1:
        raise ValueError(f"`num_samples` must be >= 1, got {num_samples}.")
    if not sampling_rate > 0:
        raise ValueError(f"`sampling_rate` must be positive (Hz), got {sampling_rate}.")
    if stride is not None and int(stride) < 1:
        raise ValueError(f"`stride` must be >= 1 or None, got {stride}.")
    num_samples = int(num_samples)
    files = sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ValueError(f"No files matching {pattern!r} in {folder}.")

    windows, metadata = [], []
    for path in files:
        try:
            stream = obspy.read(str(path), format="MSEED")
        except Exception as err:  # ObsPy raises several types for non-miniSEED input
            raise ValueError(
                f"{path} is not a readable miniSEED file ({type(err).__name__}: {err}); "
                f"move it out of the folder or narrow `pattern` (e.g. '*.mseed')."
            ) from err
        for trace in stream:
            if np.ma.isMaskedArray(trace.data) and np.ma.is_masked(trace.data):
                raise ValueError(
                    f"{path}: trace {trace.id} has masked (missing) samples; nothing is zero-filled."
                )
        gaps = stream.get_gaps()
        if gaps:
            details = "; ".join(f"{'.'.join(g[:4])} {g[4]} -> {g[5]} ({g[6]:.3f} s)" for g in gaps[:5])
            raise ValueError(
                f"{path} has {len(gaps)} gap(s)/overlap(s): {details}. Nothing is zero-filled: either fill "
                "them yourself (Stream.merge(fill_value=...)) and save, or split the file into gap-free "
                "pieces (Stream.split()) and keep the ones you want."
            )
        stream.merge(method=1)
        groups: dict[tuple, dict] = {}
        for trace in stream:
            code = trace.stats.channel
            try:
                component = component_of(code)  # the one channel map: 1/2/3 and UD/NS/EW too
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from None
            band = code[:-2] if code.upper()[-2:] in ("UD", "NS", "EW") else code[:-1]
            key = (trace.stats.network, trace.stats.station, trace.stats.location, band)
            groups.setdefault(key, {})
            if component in groups[key]:
                raise ValueError(f"{path}: two traces for channel {trace.id}; keep one of them.")
            groups[key][component] = trace
        for key, traces in groups.items():
            label = ".".join(key) + "?"
            if sorted(traces) != sorted(COMPONENTS):
                raise ValueError(
                    f"{path}: group {label} has components {sorted(traces)}; one each of E, N and Z is required "
                    "(channel codes ending in Z/N/E, 1/2/3 or K-NET's UD/NS/EW)."
                )
            rates = {float(tr.stats.sampling_rate) for tr in traces.values()}
            if len(rates) > 1:
                raise ValueError(f"{path}: group {label} mixes sampling rates {sorted(rates)} Hz.")
            ordered = [traces[c].copy() for c in COMPONENTS]
            if not math.isclose(rates.pop(), sampling_rate, rel_tol=1e-6):
                logger.warning(
                    "%s: resampling %s from %s Hz to %s Hz.",
                    path,
                    label,
                    ordered[0].stats.sampling_rate,
                    sampling_rate,
                )
                for trace in ordered:  # the pipeline's own resampler, so training sees what inference sees
                    rate_in = float(trace.stats.sampling_rate)
                    trace.data = resample(trace.data.astype(np.float64), rate_in, sampling_rate)
                    trace.stats.sampling_rate = sampling_rate
                    trace.stats.processing = list(getattr(trace.stats, "processing", [])) + [
                        f"seismic_diffusers: resample(rate_in={rate_in:g}::rate_out={sampling_rate:g}::method='resample_poly')"
                    ]
            start = max(tr.stats.starttime for tr in ordered)
            end = min(tr.stats.endtime for tr in ordered)
            if end <= start:
                logger.warning(
                    "%s: the E, N and Z traces of %s do not overlap in time; skipped.", path, label
                )
                continue
            for trace in ordered:
                trace.trim(start, end, nearest_sample=True)
            length = min(len(tr.data) for tr in ordered)
            data = np.stack([np.asarray(tr.data[:length], dtype=np.float64) for tr in ordered])
            if length < num_samples:
                logger.warning(
                    "%s: %s has %d samples, fewer than one window of %d; skipped.",
                    path,
                    label,
                    length,
                    num_samples,
                )
                continue
            starts = [0] if stride is None else range(0, length - num_samples + 1, int(stride))
            for offset in starts:
                windows.append(data[:, offset : offset + num_samples].astype(np.float32))
                metadata.append(
                    {
                        "file": str(path),
                        "network": key[0],
                        "station": key[1],
                        "location": key[2],
                        "channels": [tr.stats.channel for tr in ordered],
                        "starttime": str(ordered[0].stats.starttime + offset / sampling_rate),
                        "sampling_rate": float(sampling_rate),
                    }
                )
    if not windows:
        raise ValueError(f"No complete {num_samples}-sample three-component window found in {folder}.")
    out = np.stack(windows)
    return (out, metadata) if return_metadata else out


def write_miniseed_folder(
    folder: PathLike,
    waveforms: np.ndarray,
    sampling_rate: float = 100.0,
    network: str = "XX",
    station_prefix: str = "S",
    band_code: str = "HH",
    starttime: str = "2024-01-01T00:00:00",
    peak_counts: float | None = 1e5,
) -> list[Path]:
    r"""Write three-component records as one miniSEED file per record (the inverse of
    [`read_miniseed_folder`], e.g. to turn synthetic events into an archive-shaped test folder).

    Args:
        folder (`str` or `os.PathLike`): Created if missing.
        waveforms (`np.ndarray` of shape `(num_records, 3, num_samples)`): Components E, N, Z.
        sampling_rate (`float`, *optional*, defaults to 100.0): Hz.
        network, station_prefix, band_code (`str`): Codes; record `i` is station
            `f"{station_prefix}{i:03d}"`, channels `band_code + "E"`, `"N"`, `"Z"`.
        starttime (`str`, *optional*): ISO time of every record's first sample.
        peak_counts (`float`, *optional*, defaults to 1e5): Scale each record to this peak and
            store int32 counts (as digitisers do); `None` stores float32 samples unscaled.

    Returns:
        `list[Path]`: the files written, `000.mseed`, `001.mseed`, ...

    Raises:
        `ValueError`: wrong shape, non-finite samples, or an all-zero record with `peak_counts`.
    """
    from obspy import Stream, Trace, UTCDateTime

    waveforms = np.asarray(waveforms)
    if waveforms.ndim != 3 or waveforms.shape[1] != 3 or waveforms.shape[2] < 1:
        raise ValueError(f"waveforms must be (num_records, 3, num_samples); got {waveforms.shape}.")
    if not np.isfinite(waveforms).all():
        raise ValueError("waveforms contain NaN or inf.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, record in enumerate(waveforms):
        if peak_counts is not None:
            peak = np.abs(record).max()
            if peak == 0:
                raise ValueError(
                    f"Record {index} is all zeros; it cannot be scaled to {peak_counts:g} counts."
                )
            record = np.round(peak_counts * record / peak).astype(np.int32)
        else:
            record = record.astype(np.float32)
        header = {"network": network, "station": f"{station_prefix}{index:03d}", "sampling_rate": sampling_rate,
                  "starttime": UTCDateTime(starttime)}  # fmt: skip
        stream = Stream(
            [
                Trace(data=data, header={**header, "channel": band_code + c})
                for data, c in zip(record, COMPONENTS, strict=True)
            ]
        )
        path = folder / f"{index:03d}.mseed"
        stream.write(str(path), format="MSEED")
        paths.append(path)
    return paths


__all__ = ["read_miniseed_folder", "write_miniseed_folder"]

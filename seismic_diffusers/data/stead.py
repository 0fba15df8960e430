"""Read STEAD (original and SeisBench layouts) into E, N, Z waveform arrays with their metadata.

`read_stead` returns arrays of shape `(num_traces, 3, samples)` with the components in STEAD's
order, `COMPONENTS = ("E", "N", "Z")`, which the synthetic generators, the miniSEED reader and
the denoising pairs share. Samples stay in the units they are stored in (STEAD: raw counts).
"""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path

import numpy as np

PathLike = str | os.PathLike

COMPONENTS: tuple[str, ...] = ("E", "N", "Z")
"""Component order (STEAD's order) of every seismogram array of `seismic_diffusers.data`: east,
north, vertical."""

_STEAD_COLUMNS = ("trace_name", "trace_category", "p_arrival_sample", "s_arrival_sample", "snr_db")
_SEISBENCH_SIGNATURE = ("trace_p_arrival_sample", "trace_s_arrival_sample", "trace_snr_db")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf", re.IGNORECASE)


def _parse_sample(value) -> int:
    """A CSV arrival cell (`"900.0"`, `""`, `"nan"`, `"[[2896.]]"`) -> int sample, or -1."""
    if value is None:
        return -1
    numbers = _NUMBER.findall(str(value))
    if not numbers:
        return -1
    number = float(numbers[0])
    return int(round(number)) if math.isfinite(number) and number >= 0 else -1


def _parse_floats(value) -> list[float]:
    """A CSV SNR cell (`"[56.8 55.4 47.4]"`, `"12.5"`, `""`) -> list of floats."""
    if value is None:
        return []
    return [float(x) for x in _NUMBER.findall(str(value))]


def _parse_slices(location: str, trace_name: str) -> tuple:
    """SeisBench's block location (`"5,:3,:6000"`) -> tuple of ints and slices."""
    out = []
    for part in location.replace(" ", "").split(","):
        pieces = part.split(":")
        try:
            values = [int(p) if p else None for p in pieces]
        except ValueError as err:
            raise ValueError(
                f"Cannot parse the location {location!r} of SeisBench trace {trace_name!r}."
            ) from err
        if len(values) == 1:
            if values[0] is None:
                raise ValueError(f"Cannot parse the location {location!r} of SeisBench trace {trace_name!r}.")
            out.append(values[0])
        elif len(values) <= 3:
            out.append(slice(*values))
        else:
            raise ValueError(f"Cannot parse the location {location!r} of SeisBench trace {trace_name!r}.")
    return tuple(out)


def _component_indices(order: str, where: str) -> list[int]:
    """Indices that reorder `order` (e.g. "ZNE") to E, N, Z."""
    order = str(order).strip().upper()
    missing = [c for c in COMPONENTS if c not in order]
    if missing or len(order) != 3:
        raise ValueError(
            f"{where}: component order {order!r} must contain exactly E, N and Z; "
            "rotate 1/2 (or other) components to ZNE before reading."
        )
    return [order.index(c) for c in COMPONENTS]


def _decode(value) -> str:
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else value.tolist()
    return value.decode() if isinstance(value, bytes) else str(value)


def read_stead(
    hdf5_path: PathLike,
    csv_path: PathLike,
    category: str | None = None,
    limit: int | None = None,
    layout: str = "auto",
) -> tuple[np.ndarray, list[dict]]:
    r"""Read traces from STEAD, in its original layout or in SeisBench's.

    Supported layouts:

    - **STEAD** (`merge.hdf5` + `merge.csv`, Mousavi et al. 2019): the CSV has `trace_name`,
      `trace_category` (`earthquake_local` or `noise`), `p_arrival_sample`, `s_arrival_sample`
      and `snr_db`; the HDF5 file holds `data/<trace_name>` arrays of shape `(samples, 3)`,
      components E, N, Z, at 100 Hz.
    - **SeisBench** (`waveforms.hdf5` + `metadata.csv`, or one chunk's
      `waveforms<chunk>.hdf5` + `metadata<chunk>.csv`): the CSV has `trace_name` and optionally
      `trace_category`, `trace_p_arrival_sample`, `trace_s_arrival_sample`, `trace_snr_db`,
      `trace_component_order` and `trace_sampling_rate_hz`. A `trace_name` is either the name of
      a dataset under `data/`, or `"<block>$<location>"`, a numpy index into the block array
      `data/<block>` (e.g. `"bucket3$12,:3,:6000"`). The group `data_format` gives
      `component_order` (e.g. `"ZNE"`, required unless the CSV has `trace_component_order`),
      `dimension_order` (`"CW"`, the default, or `"WC"`) and optionally `sampling_rate`.

    `layout="auto"` picks SeisBench when the CSV has any of `trace_p_arrival_sample`,
    `trace_s_arrival_sample`, `trace_snr_db`, or when the HDF5 file has a `data_format` group,
    and STEAD otherwise.

    Args:
        hdf5_path (`str` or `os.PathLike`): The waveform file.
        csv_path (`str` or `os.PathLike`): The metadata file.
        category (`str`, *optional*): Keep only rows whose `trace_category` equals this
            (`"earthquake_local"` or `"noise"`); `None` keeps all rows.
        limit (`int`, *optional*): Read at most this many rows (after the category filter), in
            CSV order; `None` reads all. STEAD is large (1.2 M traces, about 86 GB as float32), so
            set it unless you have the memory.
        layout (`str`, *optional*, defaults to `"auto"`): `"auto"`, `"stead"` or `"seisbench"`.

    Returns:
        `(waveforms, metadata)`: `waveforms` is `np.ndarray` float32 of shape
        `(num_traces, 3, samples)`, components E, N, Z, in the file's units (STEAD: raw counts);
        `metadata` is a list of dicts, one per trace, holding the CSV row (strings) plus parsed
        keys that override same-named columns: `trace_name`, `trace_category` (`str` or `None`),
        `p_arrival_sample` and `s_arrival_sample` (`int`, -1 when absent), `snr_db`
        (`list[float]`, one per component as stored, empty when absent), `sampling_rate`
        (`float`, Hz, NaN when unknown) and `layout` (`"stead"` or `"seisbench"`).

    Raises:
        `ValueError`: a required column, HDF5 group or trace is missing (the message names it),
        a component order is not E/N/Z, or traces differ in length.
    """
    import h5py

    hdf5_path, csv_path = Path(hdf5_path), Path(csv_path)
    if layout not in ("auto", "stead", "seisbench"):
        raise ValueError(f"`layout` must be 'auto', 'stead' or 'seisbench', got {layout!r}.")
    if limit is not None and int(limit) < 0:
        raise ValueError(f"`limit` must be >= 0 or None, got {limit}.")
    for path in (hdf5_path, csv_path):
        if not path.is_file():
            raise ValueError(f"File not found: {path}.")

    with open(csv_path, newline="") as handle, h5py.File(hdf5_path, "r") as h5:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        if layout == "auto":
            seisbench = any(c in columns for c in _SEISBENCH_SIGNATURE) or "data_format" in h5
            layout = "seisbench" if seisbench else "stead"
        if layout == "stead":
            required = list(_STEAD_COLUMNS)
        else:
            required = ["trace_name"] + (["trace_category"] if category is not None else [])
        missing = [c for c in required if c not in columns]
        if missing:
            raise ValueError(
                f"{csv_path.name} is missing column(s) {missing} required for the {layout.upper()} layout "
                f"(found: {columns})."
            )
        if category is not None and "trace_category" not in columns:
            raise ValueError(f"{csv_path.name} has no `trace_category` column to filter on {category!r}.")
        if "data" not in h5:
            raise ValueError(f"{hdf5_path.name} has no `data` group; expected `data/<trace_name>` datasets.")
        data = h5["data"]

        if layout == "seisbench":
            data_format = {}
            if "data_format" in h5:
                data_format = {key: _decode(h5["data_format"][key][()]) for key in h5["data_format"].keys()}
            dimension_order = data_format.get("dimension_order", "CW").strip().upper()
            if dimension_order not in ("CW", "WC"):
                raise ValueError(
                    f"{hdf5_path.name}: data_format/dimension_order {dimension_order!r} is not supported "
                    "(only 'CW' and 'WC')."
                )
            default_order = data_format.get("component_order")
            default_rate = float(data_format.get("sampling_rate", "nan"))
            p_col, s_col, snr_col = "trace_p_arrival_sample", "trace_s_arrival_sample", "trace_snr_db"
        else:
            p_col, s_col, snr_col = "p_arrival_sample", "s_arrival_sample", "snr_db"

        waveforms, metadata = [], []
        for row in reader:
            if limit is not None and len(waveforms) >= int(limit):
                break
            if category is not None and row.get("trace_category") != category:
                continue
            name = row["trace_name"]
            if layout == "stead":
                if name not in data:
                    raise ValueError(f"{hdf5_path.name} has no dataset `data/{name}` for CSV trace {name!r}.")
                trace = np.asarray(data[name][()])
                if trace.ndim != 2 or trace.shape[1] != 3:
                    raise ValueError(
                        f"`data/{name}` has shape {trace.shape}; STEAD traces are (samples, 3) with E, N, Z."
                    )
                trace = trace.T
                rate = 100.0
            else:
                block, _, location = name.partition("$")
                if block not in data:
                    raise ValueError(
                        f"{hdf5_path.name} has no dataset `data/{block}` for CSV trace {name!r}."
                    )
                trace = np.asarray(
                    data[block][_parse_slices(location, name)] if location else data[block][()]
                )
                if trace.ndim != 2:
                    raise ValueError(
                        f"SeisBench trace {name!r} has shape {trace.shape}; expected 2-D (C, W)."
                    )
                if dimension_order == "WC":
                    trace = trace.T
                order = row.get("trace_component_order") or default_order
                if not order:
                    raise ValueError(
                        f"Cannot tell the component order of {name!r}: {hdf5_path.name} has no "
                        "`data_format/component_order` and the CSV no `trace_component_order`."
                    )
                trace = trace[_component_indices(order, f"SeisBench trace {name!r}")]
                rate_cell = _parse_floats(row.get("trace_sampling_rate_hz"))
                rate = rate_cell[0] if rate_cell else default_rate
            waveforms.append(np.asarray(trace, dtype=np.float32))
            entry = dict(row)
            entry.update(
                trace_name=name,
                trace_category=row.get("trace_category") or None,
                p_arrival_sample=_parse_sample(row.get(p_col)),
                s_arrival_sample=_parse_sample(row.get(s_col)),
                snr_db=_parse_floats(row.get(snr_col)),
                sampling_rate=float(rate),
                layout=layout,
            )
            metadata.append(entry)

    if not waveforms:
        return np.zeros((0, 3, 0), dtype=np.float32), []
    lengths = sorted({w.shape[1] for w in waveforms})
    if len(lengths) > 1:
        raise ValueError(
            f"Traces have different lengths {lengths[:5]}; only fixed-length traces (like STEAD's 6000 "
            "samples) can be stacked. Filter the CSV to one length first."
        )
    return np.stack(waveforms), metadata


__all__ = ["COMPONENTS", "read_stead"]

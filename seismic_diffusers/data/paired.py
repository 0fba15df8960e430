"""Paired (velocity, seismic) datasets in OpenFWI's file layout, built in resumable shards."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..utils.configs import public_config
from .openfwi import OpenFWIDataset
from .random_geology import RANDOM_GEOLOGY, generate_random_geology
from .velocity_families import GRID_SHAPE, check_family, generate_velocity_models

PathLike = str | os.PathLike
SEISMIC_DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class Shard:
    """One pair of files: `model/model{number}.npy` and `data/data{number}.npy` under `folder`."""

    family: str
    number: int  # 1-based, as OpenFWI names its files
    start: int  # index of the first map within the family's seeded stream
    size: int
    folder: Path

    @property
    def model_path(self) -> Path:
        return self.folder / "model" / f"model{self.number}.npy"

    @property
    def data_path(self) -> Path:
        return self.folder / "data" / f"data{self.number}.npy"

    def is_complete(self, geometry) -> bool:
        """Both files exist with the shapes `geometry` implies (a header read, no data loaded)."""
        expected = {
            self.model_path: (self.size, 1, *geometry.grid_shape),
            self.data_path: (self.size, *geometry.data_shape),
        }
        for path, shape in expected.items():
            try:
                if np.load(path, mmap_mode="r").shape != shape:
                    return False
            except (OSError, ValueError):
                return False
        return True


def map_kind(name: str) -> str:
    """The canonical name of a kind of map `make_paired_dataset` draws: one of `VELOCITY_FAMILIES`, or
    `RANDOM_GEOLOGY` (maps outside the families, `generate_random_geology`); a `ValueError` otherwise."""
    if str(name).strip().lower().replace("_", "-") == RANDOM_GEOLOGY:
        return RANDOM_GEOLOGY
    try:
        return check_family(name)
    except ValueError as error:
        raise ValueError(f"{error} Or {RANDOM_GEOLOGY!r}, maps outside the families.") from None


def generate_maps(kind: str, num: int, seed: int = 0, start: int = 0) -> np.ndarray:
    """`(num, 70, 70)` maps (m/s) of a family or of random geology (see `map_kind`), seeded as both generators."""
    if map_kind(kind) == RANDOM_GEOLOGY:
        return generate_random_geology(num, seed=seed, start=start)
    return generate_velocity_models(kind, num, seed=seed, start=start)


def plan_shards(out: PathLike, families: Sequence[str], num: int, shard_size: int = 500) -> list[Shard]:
    r"""
    All shards of a dataset, in a fixed global order (family by family).

    One family writes `out/{model,data}/`; several write `out/<family>/{model,data}/`, so each folder
    is one OpenFWI family that `OpenFWIDataset(folder, family=...)` reads.
    """
    families = [map_kind(f) for f in families]
    if not families:
        raise ValueError("Give at least one family.")
    if len(set(families)) != len(families):
        raise ValueError(f"Families are repeated: {families}.")
    if int(num) < 1:
        raise ValueError(f"`num` must be >= 1 (pairs per family), got {num}.")
    if int(shard_size) < 1:
        raise ValueError(f"`shard_size` must be >= 1, got {shard_size}.")
    out = Path(out)
    shards = []
    for family in families:
        folder = out if len(families) == 1 else out / family
        for k, start in enumerate(range(0, int(num), int(shard_size))):
            shards.append(Shard(family, k + 1, start, min(int(shard_size), int(num) - start), folder))
    return shards


def _cast_finite(data: np.ndarray, dtype: str, shard: Shard) -> np.ndarray:
    """`data` as `dtype`; a `ValueError` if any finite value leaves that type's range."""
    with np.errstate(over="ignore"):  # reported below, with the shard's name
        cast = data.astype(dtype)
    if not np.isfinite(cast).all():
        raise ValueError(
            f"Shard {shard.data_path}: seismic values up to {np.abs(data).max():.3g} exceed {dtype}'s range "
            f"({np.finfo(dtype).max:.0f}); use seismic_dtype='float32'."
        )
    return cast


def _save_atomically(path: Path, array: np.ndarray) -> None:
    """Write `path` via a hidden partial file and a rename, so `path` is never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "wb") as handle:
        np.save(handle, array)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _process_from_environment() -> tuple[int, int]:
    """`(index, count)` of this process under `accelerate launch` / torchrun, else `(0, 1)`."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def make_paired_dataset(
    out: PathLike,
    families: str | Sequence[str],
    num: int,
    shard_size: int = 500,
    seed: int = 0,
    geometry=None,
    backend: str = "deepwave",
    device: str | None = None,
    batch_size: int | None = None,
    process_index: int | None = None,
    num_processes: int | None = None,
    progress: bool = True,
    seismic_dtype: str = "float32",
) -> list[Path]:
    r"""
    Generate velocity maps and their forward-modelled seismic data in OpenFWI's layout.

    Shard `k` (1-based) of a family holds maps `(k-1)*shard_size ...` of that family's seeded
    stream (`generate_velocity_models(family, n, seed, start=...)`), so a shard's contents depend
    only on `(family, seed, k, shard_size)`: the same command always writes the same files, on any
    number of processes.

    Resumable: each file is written to a hidden `.NAME.partial` file and renamed into place; shards
    whose two files are already complete are skipped, so a rerun after a crash finishes the job and
    never leaves a half-written `.npy`. A rerun must use the same settings (families, pairs per
    family, shard size, seed, backend, geometry), which `out/dataset.json` records; anything else
    raises a `ValueError` naming the differing settings (`check_resumable`).

    Scales out: process `i` of `n` takes the shards whose global index is `i mod n`. Under
    `accelerate launch` (or torchrun) `i` and `n` come from `RANK` and `WORLD_SIZE`.

    Args:
        out: Output folder.
        families: One family name or several (see `VELOCITY_FAMILIES`); `"random-geology"` adds maps
            outside the families (`generate_random_geology`).
        num: Pairs per family.
        shard_size: Pairs per file (OpenFWI uses 500).
        seed: Seed of the velocity streams.
        geometry: `AcquisitionGeometry` (default `OPENFWI`); written to `out/geometry_config.json`.
        backend, device, batch_size: Passed to `forward_model`.
        process_index, num_processes: This process's share; default from the environment.
        progress: Show a progress bar (pairs).
        seismic_dtype: `"float32"` (OpenFWI's) or `"float16"`, which halves the seismic files (1.4 MB
            -> 0.7 MB per OpenFWI gather) so that a large dataset fits the page cache; its values
            are the float32 ones rounded (relative error <= 2**-11). `OpenFWIDataset` reads both
            as float32. A gather beyond float16's range raises a `ValueError` before its shard is
            written.

    Returns:
        `list[Path]`: the shard files this process wrote (skipped ones excluded).
    """
    from ..physics import OPENFWI, forward_model

    geometry = geometry or OPENFWI
    if geometry.grid_shape != GRID_SHAPE:
        raise ValueError(
            f"The velocity families are {GRID_SHAPE} grids; the geometry's grid is {geometry.grid_shape}."
        )
    if isinstance(families, str):
        families = [families]
    if seismic_dtype not in SEISMIC_DTYPES:
        raise ValueError(f"seismic_dtype must be one of {SEISMIC_DTYPES}, got {seismic_dtype!r}.")
    if Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"out {str(out)!r} exists and is not a folder.")
    shards = plan_shards(out, families, num, shard_size)
    env_index, env_count = _process_from_environment()
    index = env_index if process_index is None else int(process_index)
    count = env_count if num_processes is None else int(num_processes)
    if not 0 <= index < count:
        raise ValueError(f"process_index must be in [0, {count - 1}], got {index}.")
    mine = [s for i, s in enumerate(shards) if i % count == index]

    out = Path(out)
    manifest = {
        "families": [s.family for s in shards if s.number == 1],
        "num_per_family": int(num),
        "shard_size": int(shard_size),
        "seed": int(seed),
        "backend": backend,
        "seismic_dtype": seismic_dtype,
        "geometry": public_config(geometry.config),
        "layout": "model/model<k>.npy (N, 1, nz, nx) m/s; data/data<k>.npy (N, sources, nt, receivers)",
    }
    manifest = json.loads(json.dumps(manifest))  # as saved: tuples become lists
    check_resumable(out, manifest)  # before a single shard is counted as done
    todo = [s for s in mine if not s.is_complete(geometry)]
    out.mkdir(parents=True, exist_ok=True)
    # Every process writes the (identical) manifest before its first shard: a process that starts
    # late must find a shard only beside the manifest that explains it, or it refuses the folder.
    _save_text_atomically(out / "dataset.json", json.dumps(manifest, indent=2) + "\n")
    if index == 0:
        geometry.save_config(out)

    written = []
    chunk = int(batch_size or 32)
    with tqdm(
        total=sum(s.size for s in todo),
        desc=f"make-dataset [{index + 1}/{count}]" if count > 1 else "make-dataset",
        unit="pair",
        disable=not progress,
    ) as bar:
        for shard in todo:
            velocities = generate_maps(shard.family, shard.size, seed=seed, start=shard.start)
            data = np.empty((shard.size, *geometry.data_shape), dtype=np.float32)
            for lo in range(0, shard.size, chunk):
                data[lo : lo + chunk] = forward_model(
                    velocities[lo : lo + chunk], geometry, backend=backend, device=device, batch_size=chunk
                )
                bar.update(min(chunk, shard.size - lo))
            if seismic_dtype != "float32":
                data = _cast_finite(data, seismic_dtype, shard)
            _save_atomically(shard.model_path, velocities[:, None])
            _save_atomically(shard.data_path, data)
            written += [shard.model_path, shard.data_path]
    return written


def check_resumable(out: Path, manifest: dict) -> None:
    """Raise a `ValueError` unless `out` is new, or was started with the same settings as `manifest`.

    A shard's contents depend on the family, seed, shard size and geometry, so resuming with any
    of them changed would mix two datasets (duplicated pairs across shards, or two seeds) while
    skipping the shards that already exist. The message names each differing setting.
    """
    path = out / "dataset.json"
    if not path.is_file():
        stray = [p for p in (out / "model", out / "data") if p.is_dir() and any(p.glob("*.npy"))]
        stray += [p for p in out.glob("*/model") if any(p.glob("*.npy"))] if out.is_dir() else []
        if stray:
            raise ValueError(
                f"{out} already holds shards ({stray[0]}) but no dataset.json saying how they were made; "
                "choose a new --out folder rather than mixing datasets."
            )
        return
    try:
        saved = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); choose a new --out folder.") from None
    saved.setdefault("seismic_dtype", "float32")  # manifests written before the option existed
    settings = ("families", "num_per_family", "shard_size", "seed", "backend", "seismic_dtype", "geometry")
    differing = [
        f"{key} {saved.get(key)!r} there, {manifest[key]!r} now"
        for key in settings
        if key in saved and saved[key] != manifest[key]
    ]
    if differing:
        raise ValueError(
            f"{out} was started with other settings ({'; '.join(differing)}). Rerun with the same settings "
            "to resume, or write to a new --out folder."
        )


def _save_text_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)


def open_paired_folders(folders: Sequence[PathLike]) -> torch.utils.data.Dataset:
    """
    Velocity-seismic pairs from OpenFWI-layout folders, as one dataset.

    Each folder holds `model/modelN.npy` and `data/dataN.npy` (what `make_paired_dataset` and
    OpenFWI write), or sub-folders that do (`make-dataset` with several families). Items are
    `OpenFWIDataset(..., with_seismic=True)` items: `velocity` `(1, 70, 70)` m/s and `seismic`
    `(5, 1000, 70)`.

    Raises:
        FileNotFoundError: For a folder that does not exist or holds no pairs.
    """
    datasets = []
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            raise FileNotFoundError(f"{str(root)!r} is not a folder of OpenFWI-layout pairs.")
        family_folders = (
            sorted(p for p in root.iterdir() if (p / "model").is_dir())
            if not (root / "model").is_dir()
            else [root]
        )
        if not family_folders:
            raise FileNotFoundError(
                f"{str(root)!r} holds neither model/ and data/ nor family sub-folders that do; "
                "make one with `seismic-diffusers make-dataset`."
            )
        datasets += [OpenFWIDataset(path, with_seismic=True) for path in family_folders]
    return datasets[0] if len(datasets) == 1 else torch.utils.data.ConcatDataset(datasets)


def split_paired(dataset: torch.utils.data.Dataset, validation_fraction: float) -> tuple:
    """
    Deterministic train/held-out split: every k-th pair is held out, k = round(1 / fraction).

    Interleaving keeps every family (and every shard) in both parts. Returns two
    `torch.utils.data.Subset`s; a fraction of 0 holds nothing out.
    """
    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}.")
    count = len(dataset)
    if validation_fraction == 0 or count < 2:
        return torch.utils.data.Subset(dataset, range(count)), torch.utils.data.Subset(dataset, [])
    step = max(2, round(1 / validation_fraction))
    held = list(range(step - 1, count, step)) or [count - 1]
    kept = sorted(set(range(count)) - set(held))
    return torch.utils.data.Subset(dataset, kept), torch.utils.data.Subset(dataset, held)

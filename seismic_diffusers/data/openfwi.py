"""Reader for OpenFWI-format velocity models (and, optionally, their seismic data).

OpenFWI (Deng et al., 2022) ships each family as a folder of ``.npy`` files:

- velocity models ``model/model<k>.npy`` (``vel*.npy`` in some families), float32 of shape
  ``(N, 1, 70, 70)`` = ``(sample, channel, z, x)`` in m/s, with ``N = 500`` per file and a 10 m grid;
- seismic data ``data/data<k>.npy`` (``seis*.npy`` in some families), float32 of shape
  ``(N, 5, 1000, 70)`` = ``(sample, shot, time, receiver)``, dt = 1 ms.

Files are memory-mapped, so a dataset of many gigabytes costs almost no RAM until samples are read.
Other float types (``make-dataset --seismic-dtype float16``) are read too, and returned as float32.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

PathLike = str | os.PathLike

VELOCITY_GLOBS = ("model/model*.npy", "model*.npy", "model/vel*.npy", "vel*.npy")
SEISMIC_GLOBS = ("data/data*.npy", "data*.npy", "data/seis*.npy", "seis*.npy")
_PREFIX_RE = re.compile(r"^(model|vel|data|seis)")


def _natural_key(path: Path) -> list:
    """Sort key so that ``model2.npy`` comes before ``model10.npy``."""
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", str(path))]


def _glob_sorted(root: Path, patterns: Sequence[str]) -> list[Path]:
    """Files matching the first pattern that matches anything, in natural order."""
    for pattern in patterns:
        files = sorted((p for p in root.glob(pattern) if p.is_file()), key=_natural_key)
        if files:
            return files
    return []


def _pair_key(path: Path) -> str | None:
    """``model3`` / ``data3`` -> ``3``; ``vel2_1_0`` / ``seis2_1_0`` -> ``2_1_0``; else ``None``."""
    match = _PREFIX_RE.match(path.stem)
    return path.stem[match.end() :] if match else None


def _seismic_counterpart(path: Path) -> Path:
    """Guess the seismic file for a velocity file: ``model/model1.npy`` -> ``data/data1.npy``."""
    stem = path.stem
    if stem.startswith("model"):
        name = "data" + stem[len("model") :] + path.suffix
    elif stem.startswith("vel"):
        name = "seis" + stem[len("vel") :] + path.suffix
    else:
        raise ValueError(
            f"Cannot infer the seismic file for {path}: the name does not start with 'model' or 'vel'. "
            "Pass a directory root (with data/data*.npy or seis*.npy files) instead."
        )
    parent = path.parent.with_name("data") if path.parent.name == "model" else path.parent
    return parent / name


def _load_checked(path: Path, trailing_shape: tuple[int, ...], what: str) -> np.ndarray:
    """Memory-map ``path`` and check it is ``(N, *trailing_shape)``; raise ``ValueError`` otherwise."""
    try:
        array = np.load(path, mmap_mode="r")
    except ValueError as err:  # e.g. object arrays cannot be memory-mapped
        raise ValueError(f"Could not memory-map {what} file {path}: {err}") from err
    expected = "(N, " + ", ".join(str(s) for s in trailing_shape) + ")"
    if array.ndim != 1 + len(trailing_shape) or tuple(array.shape[1:]) != tuple(trailing_shape):
        raise ValueError(
            f"{what.capitalize()} file {path} has shape {tuple(array.shape)}, expected {expected}."
        )
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{what.capitalize()} file {path} has dtype {array.dtype}, expected float32.")
    return array


class OpenFWIDataset(Dataset):
    r"""
    Memory-mapped dataset over OpenFWI velocity files (and optionally their seismic data).

    Args:
        root (`str`, `os.PathLike` or `list` of them):
            A family folder (e.g. ``FlatVel_A/`` holding ``model/model1.npy``, ...), a single ``.npy`` file,
            or an explicit list of velocity ``.npy`` files. In a folder, the first of ``model/model*.npy``,
            ``model*.npy``, ``model/vel*.npy`` and ``vel*.npy`` that matches is used, in natural order.
        family (`str`, *optional*, defaults to `None`):
            Family name, e.g. ``"FlatVel_A"``. If ``root/family`` is a folder, files are read from it;
            the name is also kept as ``dataset.family``.
        label (`int`, *optional*, defaults to `None`):
            Class label returned with every sample (e.g. the family index for class-conditional
            training); ``-1`` when `None`.
        data_glob (`str`, *optional*, defaults to `None`):
            Glob (relative to the folder) for the velocity files, overriding the defaults above.
        with_seismic (`bool`, *optional*, defaults to `False`):
            Also return the seismic data. In a folder, files matching ``data/data*.npy``, ``data*.npy``,
            ``data/seis*.npy`` or ``seis*.npy`` (or `seismic_glob`) are paired with the velocity files in
            sorted order; for a list of files the counterpart is inferred by name
            (``model/model1.npy`` -> ``data/data1.npy``, ``vel2_1_0.npy`` -> ``seis2_1_0.npy``).
        seismic_glob (`str`, *optional*, defaults to `None`):
            Glob for the seismic files, overriding the defaults above.
        expected_shape (`tuple[int, int]`, *optional*, defaults to `(70, 70)`):
            Spatial shape ``(nz, nx)`` every velocity file must have.
        expected_seismic_shape (`tuple[int, int, int]`, *optional*, defaults to `(5, 1000, 70)`):
            Per-sample seismic shape ``(shots, nt, receivers)``.

    Raises:
        FileNotFoundError: If no velocity (or, with `with_seismic`, seismic) files are found.
        ValueError: If a file does not have shape ``(N, 1, nz, nx)`` (or ``(N, shots, nt, receivers)``), or
            if velocity and seismic files do not pair up (count, names or sample counts differ).
            Non-finite values are only detected when the sample is read, in `__getitem__`.

    Example:

    ```py
    >>> from seismic_diffusers.data.openfwi import OpenFWIDataset
    >>> ds = OpenFWIDataset("OpenFWI/FlatVel_A", label=0)  # doctest: +SKIP
    >>> item = ds[0]  # doctest: +SKIP
    >>> item["velocity"].shape, item["label"]  # doctest: +SKIP
    (torch.Size([1, 70, 70]), 0)

    ```
    """

    def __init__(
        self,
        root: PathLike | Sequence[PathLike],
        family: str | None = None,
        label: int | None = None,
        data_glob: str | None = None,
        with_seismic: bool = False,
        seismic_glob: str | None = None,
        expected_shape: tuple[int, int] = (70, 70),
        expected_seismic_shape: tuple[int, int, int] = (5, 1000, 70),
    ):
        self.family = family
        self.label = -1 if label is None else int(label)
        self.with_seismic = with_seismic
        self.expected_shape = tuple(int(s) for s in expected_shape)
        self.expected_seismic_shape = tuple(int(s) for s in expected_seismic_shape)
        if len(self.expected_shape) != 2:
            raise ValueError(f"expected_shape must be (nz, nx), got {expected_shape}.")

        self.files, self.seismic_files = self._find_files(root, family, data_glob, seismic_glob)
        self._open()

    # ------------------------------------------------------------------ discovery
    def _find_files(self, root, family, data_glob, seismic_glob) -> tuple[list[Path], list[Path]]:
        if isinstance(root, (list, tuple)):
            files = [Path(p) for p in root]
            if not files:
                raise FileNotFoundError("OpenFWIDataset got an empty list of velocity files.")
            missing = [str(p) for p in files if not p.is_file()]
            if missing:
                raise FileNotFoundError(f"Velocity file(s) not found: {', '.join(missing)}")
            seismic = [_seismic_counterpart(p) for p in files] if self.with_seismic else []
            return files, seismic

        root = Path(root)
        if root.is_file():
            seismic = [_seismic_counterpart(root)] if self.with_seismic else []
            return [root], seismic
        if not root.is_dir():
            raise FileNotFoundError(f"OpenFWI root {root} does not exist.")
        folder = root / family if family is not None and (root / family).is_dir() else root

        patterns = (data_glob,) if data_glob is not None else VELOCITY_GLOBS
        files = _glob_sorted(folder, patterns)
        if not files:
            raise FileNotFoundError(
                f"No OpenFWI velocity files in {folder}: looked for {', '.join(patterns)}."
            )
        seismic: list[Path] = []
        if self.with_seismic:
            seis_patterns = (seismic_glob,) if seismic_glob is not None else SEISMIC_GLOBS
            seismic = _glob_sorted(folder, seis_patterns)
            if not seismic:
                raise FileNotFoundError(
                    f"with_seismic=True but no seismic files in {folder}: looked for {', '.join(seis_patterns)}."
                )
            if len(seismic) != len(files):
                raise ValueError(
                    f"Found {len(files)} velocity files but {len(seismic)} seismic files in {folder}; "
                    "they are paired in sorted order, so the counts must match."
                )
        return files, seismic

    def _open(self) -> None:
        """Memory-map and validate every file; build the cumulative index."""
        self._velocities = [_load_checked(p, (1, *self.expected_shape), "velocity") for p in self.files]
        self._cumulative = np.cumsum([v.shape[0] for v in self._velocities])
        self._seismic: list[np.ndarray] = []
        if not self.with_seismic:
            return
        for vel_path, seis_path, vel in zip(self.files, self.seismic_files, self._velocities, strict=True):
            if not seis_path.is_file():
                raise FileNotFoundError(f"Seismic file {seis_path} (paired with {vel_path}) not found.")
            vkey, skey = _pair_key(vel_path), _pair_key(seis_path)
            if vkey is not None and skey is not None and vkey != skey:
                raise ValueError(
                    f"Velocity file {vel_path} is paired with seismic file {seis_path}: names differ."
                )
            seis = _load_checked(seis_path, self.expected_seismic_shape, "seismic")
            if seis.shape[0] != vel.shape[0]:
                raise ValueError(
                    f"Seismic file {seis_path} holds {seis.shape[0]} samples but velocity file {vel_path} "
                    f"holds {vel.shape[0]}."
                )
            self._seismic.append(seis)

    # ------------------------------------------------------------------ Dataset API
    def __len__(self) -> int:
        return int(self._cumulative[-1]) if len(self._cumulative) else 0

    def _locate(self, index: int) -> tuple[int, int]:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"Index {index} out of range for OpenFWIDataset of length {n}.")
        file_idx = int(np.searchsorted(self._cumulative, index, side="right"))
        start = int(self._cumulative[file_idx - 1]) if file_idx > 0 else 0
        return file_idx, index - start

    def __getitem__(self, index: int) -> dict:
        r"""
        Read one sample.

        Args:
            index (`int`): Global sample index (negative values count from the end).

        Returns:
            `dict` with
                - ``"velocity"`` (`torch.Tensor` of shape `(1, nz, nx)`, float32, m/s);
                - ``"label"`` (`int`, the dataset's label or ``-1``);
                - ``"seismic"`` (`torch.Tensor` of shape `(shots, nt, receivers)`, float32, OpenFWI amplitude
                  units), only with ``with_seismic=True``.

        Raises:
            ValueError: If the sample holds NaN or infinite values.
        """
        file_idx, local = self._locate(index)
        velocity = np.array(self._velocities[file_idx][local], dtype=np.float32)
        if not np.isfinite(velocity).all():
            raise ValueError(
                f"Velocity sample {local} of {self.files[file_idx]} (dataset index {index}) "
                "contains non-finite values (NaN or inf)."
            )
        item = {"velocity": torch.from_numpy(velocity), "label": self.label}
        if self.with_seismic:
            seismic = np.array(self._seismic[file_idx][local], dtype=np.float32)
            if not np.isfinite(seismic).all():
                raise ValueError(
                    f"Seismic sample {local} of {self.seismic_files[file_idx]} (dataset index {index}) "
                    "contains non-finite values (NaN or inf)."
                )
            item["seismic"] = torch.from_numpy(seismic)
        return item

    # Pickling a memmap would copy the whole file; send paths to DataLoader workers and re-open there.
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("_velocities", "_seismic", "_cumulative"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._open()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(files={len(self.files)}, samples={len(self)}, family={self.family!r}, "
            f"label={self.label}, with_seismic={self.with_seismic})"
        )


def save_openfwi_file(path: PathLike, velocities: np.ndarray | torch.Tensor) -> Path:
    r"""
    Write velocity models as an OpenFWI-format ``.npy`` file.

    Args:
        path (`str` or `os.PathLike`):
            Output file; parent folders are created.
        velocities (`np.ndarray` or `torch.Tensor` of shape `(N, nz, nx)` or `(N, 1, nz, nx)`, m/s):
            Velocity models in physical units.

    Returns:
        `pathlib.Path`: the written file, holding float32 of shape ``(N, 1, nz, nx)``.

    Raises:
        ValueError: If `velocities` is not 3-D or 4-D with one channel.
    """
    if isinstance(velocities, torch.Tensor):
        velocities = velocities.detach().cpu().numpy()
    array = np.asarray(velocities, dtype=np.float32)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or array.shape[1] != 1:
        raise ValueError(
            f"velocities must have shape (N, nz, nx) or (N, 1, nz, nx), got {tuple(np.shape(velocities))}."
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.ascontiguousarray(array))
    return path

"""Velocity maps of any size from a folder of `.npy` files, resampled to a model's grid."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

PathLike = str | os.PathLike


class VelocityFolderDataset(Dataset):
    r"""
    Every velocity map in a folder of `.npy` files, resampled to `grid_shape` (e.g. OpenFWI's 70 x 70).

    Each file holds one map `(nz, nx)` or a stack `(N, nz, nx)` / `(N, 1, nz, nx)`, in m/s, with
    depth along the first map axis; sizes may differ between files. Files are memory-mapped and
    read in sorted order (hidden files ignored).

    Resampling method: `torch.nn.functional.interpolate(mode="bilinear", antialias=True,
    align_corners=False)`, which averages over the source cells a target cell covers when
    shrinking (no aliasing of thin layers) and interpolates linearly when enlarging. The map is
    stretched to the grid, so a map's aspect ratio and cell size are not kept: resample to the
    spacing you want (e.g. 10 m) before writing the files if that matters.

    Args:
        folder (`str` or `os.PathLike`): The folder (not searched recursively).
        grid_shape (`tuple[int, int]`, *optional*, defaults to `(70, 70)`): Output `(nz, nx)`.
        label (`int`, *optional*): Class label returned with every map (`-1` when `None`).
        value_range (`tuple[float, float]`, *optional*): Allowed velocities in m/s (a model's
            normalisation range); a map outside it raises a `ValueError` unless `clip` is set.
        clip (`bool`, *optional*, defaults to `False`): Clip maps to `value_range` instead.
        pattern (`str`, *optional*, defaults to `"*.npy"`): Glob pattern of the files.

    Raises:
        ValueError: no files, an unreadable file, a file of the wrong number of dimensions, or
            (when read) a map with NaN/inf or outside `value_range`.
    """

    def __init__(
        self,
        folder: PathLike,
        grid_shape: Sequence[int] = (70, 70),
        label: int | None = None,
        value_range: tuple[float, float] | None = None,
        clip: bool = False,
        pattern: str = "*.npy",
    ):
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"Not a folder: {folder}.")
        self.grid_shape = tuple(int(s) for s in grid_shape)
        if len(self.grid_shape) != 2 or min(self.grid_shape) < 1:
            raise ValueError(f"grid_shape must be two positive sizes (nz, nx), got {grid_shape}.")
        self.label = -1 if label is None else int(label)
        self.value_range, self.clip = value_range, clip
        self.files = sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))
        if not self.files:
            raise ValueError(f"No files matching {pattern!r} in {folder}.")
        self._open()

    def _open(self) -> None:
        self._maps = []
        for path in self.files:
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except Exception as error:  # numpy raises several types for a bad file
                raise ValueError(
                    f"{path} is not a readable .npy array ({type(error).__name__}: {error})."
                ) from error
            if array.ndim == 4 and array.shape[1] == 1:
                array = array[:, 0]
            elif array.ndim == 2:
                array = array[None]
            if array.ndim != 3 or min(array.shape) < 1:
                raise ValueError(
                    f"{path} has shape {tuple(np.shape(array))}; expected one map (nz, nx) or a stack "
                    "(N, nz, nx) or (N, 1, nz, nx) of velocities in m/s."
                )
            self._maps.append(array)
        self._cumulative = np.cumsum([len(m) for m in self._maps])

    def __len__(self) -> int:
        return int(self._cumulative[-1])

    def __getitem__(self, index: int) -> dict:
        r"""
        Returns:
            `dict` with `"velocity"` (`torch.Tensor` `(1, nz, nx)` at `grid_shape`, float32, m/s)
            and `"label"` (`int`), like `OpenFWIDataset`.
        """
        if not -len(self) <= index < len(self):
            raise IndexError(f"Index {index} out of range for {len(self)} maps.")
        index %= len(self)
        file_index = int(np.searchsorted(self._cumulative, index, side="right"))
        local = index - (int(self._cumulative[file_index - 1]) if file_index else 0)
        where = f"map {local} of {self.files[file_index]}"
        velocity = torch.from_numpy(np.array(self._maps[file_index][local], dtype=np.float32))
        if not bool(torch.isfinite(velocity).all()):
            raise ValueError(f"{where} contains NaN or inf.")
        if self.value_range is not None:
            low, high = self.value_range
            if self.clip:
                velocity = velocity.clamp(low, high)
            elif velocity.min() < low or velocity.max() > high:
                raise ValueError(
                    f"{where} spans {float(velocity.min()):.0f}-{float(velocity.max()):.0f} m/s, outside the "
                    f"model's {low:g}-{high:g} m/s; clip it (clip=True, --clip_velocity in training) or "
                    "rescale the files."
                )
        if tuple(velocity.shape) != self.grid_shape:
            velocity = F.interpolate(
                velocity[None, None],
                size=self.grid_shape,
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )[0, 0]
        return {"velocity": velocity[None].contiguous(), "label": self.label}

    # A memmap pickles as a copy of the file; DataLoader workers re-open the paths instead.
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_maps", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._open()

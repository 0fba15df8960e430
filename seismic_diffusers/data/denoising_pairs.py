"""Denoising training pairs: clean events mixed with independent noise at a random SNR (CDiffSD-style).

Events and noise are arrays of shape `(num_records, channels, num_samples)`, components E, N, Z for
three channels ([`~data.stead.COMPONENTS`]), from [`~data.synthetic_seismograms`] (ground velocity,
m/s), [`read_stead`] (raw counts) or [`read_miniseed_folder`] (the files' units).
`DenoisingPairDataset` normalises every pair, so units do not matter here.

ObsPy's bundled real recordings (`obspy.read()`'s example and ObsPy's test data) are never used
here: they are the project's untouched evaluation set.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from .miniseed_folders import read_miniseed_folder
from .stead import read_stead
from .synthetic_seismograms import generate_local_earthquakes, generate_seismic_noise

PathLike = str | os.PathLike

# Stream tag mixed into the pairing seeds, so pairings are independent of the events and of the
# noise (`synthetic_seismograms._NOISE_STREAM`) generated with the same seed.
_PAIR_STREAM = 0x70616972  # "pair"


def scale_noise_to_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    r"""Scale `noise` so that `clean + noise` has the given whole-record SNR.

    SNR is the power ratio over the whole record, all components together:
    `10 log10(sum(clean^2) / sum(noise^2))`, per record when the inputs are batched.

    Args:
        clean (`np.ndarray` of shape `(C, N)` or `(B, C, N)`): The signal, any units.
        noise (`np.ndarray`, same shape): The noise to scale (not modified).
        snr_db (`float`): Target SNR in dB.

    Returns:
        `np.ndarray`: the scaled noise, float64, same shape.

    Raises:
        ValueError: When the shapes differ, or the clean or noise record is all zeros.
    """
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if clean.shape != noise.shape or clean.ndim not in (2, 3):
        raise ValueError(
            f"clean and noise must both be (C, N) or (B, C, N); got {clean.shape} and {noise.shape}."
        )
    power_clean = np.sum(clean**2, axis=(-2, -1), keepdims=True)
    power_noise = np.sum(noise**2, axis=(-2, -1), keepdims=True)
    if np.any(power_clean == 0) or np.any(power_noise == 0):
        raise ValueError("A clean or noise record is all zeros: its SNR is undefined.")
    return noise * np.sqrt(power_clean / (power_noise * 10.0 ** (float(snr_db) / 10.0)))


_NORMALIZE_MODES = ("peak", "noisy_peak", "none")


def _as_records(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 3 or array.shape[0] == 0:
        raise ValueError(
            f"`{name}` must be a non-empty array of shape (num_records, channels, samples), "
            f"got shape {array.shape}."
        )
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"`{name}` must hold numbers, got dtype {array.dtype}.")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array).reshape(len(array), -1).all(axis=1))[0])
        raise ValueError(f"`{name}` record {bad} contains NaN or Inf samples; remove or repair it.")
    dead = np.flatnonzero(np.abs(array).reshape(len(array), -1).max(axis=1) == 0)
    if dead.size:
        raise ValueError(f"`{name}` records {dead[:10].tolist()} are all zeros; remove them.")
    return array


def _as_arrivals(values, num: int, name: str) -> np.ndarray:
    if values is None:
        return np.full(num, -1, dtype=np.int64)
    values = np.asarray(values)
    if values.shape != (num,):
        raise ValueError(
            f"`{name}` must have shape ({num},) (one sample index per event), got {values.shape}."
        )
    return np.where(np.isfinite(values.astype(np.float64)), values, -1).astype(np.int64)


class DenoisingPairDataset(torch.utils.data.Dataset):
    r"""Clean events paired with independent noise at a random SNR, as in CDiffSD.

    Item `i` takes event `i % num_events`, a noise record and a noise level drawn from
    `np.random.default_rng([seed, i, tag])`: the same `(seed, i)` always gives the same pair, and
    any worker of a `DataLoader` can build it. Per item:

    1. **Crop.** When records are longer than `num_samples`, the event window is placed so that P
       (when known) lies in its first half, at least a tenth of the window from its start;
       otherwise (and for noise) the window start is uniform.
    2. **Noise draw.** A noise record is drawn uniformly (with replacement), and its polarity is
       flipped with probability 0.5.
    3. **Level.** With `snr_db_range` (the default), an SNR is drawn uniformly in dB and the noise
       is scaled so that `10 log10(sum(clean^2) / sum(noise^2))` over all channels and the whole
       window equals it exactly. With `noise_scale_range` instead (CDiffSD's recipe), the clean
       event and the noise are each divided by their own three-component peak and the noise is
       multiplied by r drawn uniformly in the range (CDiffSD: r in 0.40-0.65); the SNR reported
       is then the one achieved.
    4. **Normalisation** (`normalize`), one factor for clean and noise so the SNR is unchanged:
       `"peak"` divides by the clean event's peak absolute value over all three components
       (CDiffSD's per-event peak normalisation: clean lies in [-1, 1]); `"noisy_peak"` divides by
       the peak of clean + noise (how a noisy recording is normalised at inference);
       `"none"` keeps the input units.

    Args:
        events (`np.ndarray` of shape `(num_events, channels, samples)`):
            Clean event records (any units), components E, N, Z for three channels: from
            [`read_stead`], [`read_miniseed_folder`] or [`generate_local_earthquakes`].
        noise (`np.ndarray` of shape `(num_noise, channels, noise_samples)`):
            Noise records in the same channel order, at least `num_samples` long.
        p_arrival_sample (`np.ndarray` of shape `(num_events,)`, *optional*):
            P onset sample of each event (-1 or NaN when unknown).
        s_arrival_sample (`np.ndarray` of shape `(num_events,)`, *optional*):
            S onset sample of each event (-1 or NaN when unknown).
        snr_db_range (`tuple[float, float]`, *optional*, defaults to `(-5.0, 20.0)`):
            SNR range in dB (power ratio over the whole window, all channels).
        noise_scale_range (`tuple[float, float]`, *optional*):
            Peak-relative noise scale range (CDiffSD); use instead of `snr_db_range`, which must
            then be `None`.
        seed (`int`, *optional*, defaults to 0): Pairing seed.
        normalize (`str`, *optional*, defaults to `"peak"`): `"peak"`, `"noisy_peak"` or `"none"`.
        num_samples (`int`, *optional*): Window length in samples; defaults to the events' length.
        augment (`callable`, *optional*): `augment(clean, noise, rng, draw_event) -> (clean, noise)` on
            the cropped `(channels, num_samples)` float64 windows, after the noise draw and before the
            level is set (e.g. [`~data.realism.RealisticRecording`]); `draw_event()` returns another
            random event window. It must draw only from `rng`, so items stay reproducible.
        length (`int`, *optional*): Number of items; defaults to `num_events`. Larger values
            revisit events with fresh noise.

    Items are dicts: `clean`, `noise`, `noisy` (float32 tensors `(channels, num_samples)`, with
    `noisy = clean + noise`), `p_arrival_sample`, `s_arrival_sample` (int, -1 when unknown or
    cropped out), `snr_db` (float, the achieved SNR), `scale` (float, the factor the pair was
    divided by: input units = returned value x scale), `event_index` and `noise_index` (int).

    Example:

    ```py
    >>> from seismic_diffusers.data import synthetic_denoising_dataset
    >>> dataset = synthetic_denoising_dataset(num_events=4, num_noise=4, seed=0)
    >>> item = dataset[0]
    >>> item["noisy"].shape, float(item["clean"].abs().max())
    (torch.Size([3, 3000]), 1.0)

    ```
    """

    def __init__(
        self,
        events: np.ndarray,
        noise: np.ndarray,
        p_arrival_sample: np.ndarray | None = None,
        s_arrival_sample: np.ndarray | None = None,
        snr_db_range: tuple[float, float] | None = (-5.0, 20.0),
        noise_scale_range: tuple[float, float] | None = None,
        seed: int = 0,
        normalize: str = "peak",
        num_samples: int | None = None,
        length: int | None = None,
        augment=None,
    ):
        self.augment = augment
        self.events = _as_records(events, "events")
        self.noise = _as_records(noise, "noise")
        if self.events.shape[1] != self.noise.shape[1]:
            raise ValueError(
                f"`events` have {self.events.shape[1]} channels but `noise` has {self.noise.shape[1]}; "
                "both must be in the same channel order (E, N, Z)."
            )
        self.num_samples = int(num_samples) if num_samples is not None else self.events.shape[2]
        if self.num_samples < 1 or self.num_samples > self.events.shape[2]:
            raise ValueError(
                f"`num_samples` must be between 1 and the events' length {self.events.shape[2]}, got {num_samples}."
            )
        if self.noise.shape[2] < self.num_samples:
            raise ValueError(
                f"Noise records have {self.noise.shape[2]} samples, fewer than the {self.num_samples} "
                "samples of a window; supply longer noise or a smaller `num_samples`."
            )
        if (snr_db_range is None) == (noise_scale_range is None):
            raise ValueError(
                "Give exactly one of `snr_db_range` (dB) and `noise_scale_range` (peak-relative scale, "
                f"CDiffSD); got snr_db_range={snr_db_range}, noise_scale_range={noise_scale_range}."
            )
        if snr_db_range is not None and not snr_db_range[0] <= snr_db_range[1]:
            raise ValueError(f"`snr_db_range` must be (low, high) with low <= high, got {snr_db_range}.")
        if noise_scale_range is not None and not 0 <= noise_scale_range[0] <= noise_scale_range[1]:
            raise ValueError(
                f"`noise_scale_range` must be (low, high) with 0 <= low <= high, got {noise_scale_range}."
            )
        normalize = "none" if normalize is None else str(normalize)
        if normalize not in _NORMALIZE_MODES:
            raise ValueError(f"`normalize` must be one of {_NORMALIZE_MODES}, got {normalize!r}.")
        self.p_arrival_sample = _as_arrivals(p_arrival_sample, len(self.events), "p_arrival_sample")
        self.s_arrival_sample = _as_arrivals(s_arrival_sample, len(self.events), "s_arrival_sample")
        self.snr_db_range = None if snr_db_range is None else (float(snr_db_range[0]), float(snr_db_range[1]))
        self.noise_scale_range = (
            None if noise_scale_range is None else (float(noise_scale_range[0]), float(noise_scale_range[1]))
        )
        self.seed = int(seed)
        self.normalize = normalize
        self.length = len(self.events) if length is None else int(length)
        if self.length < 0:
            raise ValueError(f"`length` must be >= 0, got {length}.")

    @classmethod
    def from_synthetic(
        cls,
        num_events: int,
        num_noise: int,
        seed: int = 0,
        sampling_rate: float = 100.0,
        num_samples: int = 3000,
        transient_probability: float = 0.1,
        **kwargs,
    ) -> DenoisingPairDataset:
        """Pairs built from [`generate_local_earthquakes`] and [`generate_seismic_noise`] with `seed`.

        Events use records `0..num_events - 1` of the event stream and noise records
        `0..num_noise - 1` of the (independent) noise stream; `kwargs` go to the constructor
        (its `seed` is the same `seed`). Use different seeds for training and held-out sets.
        """
        events = generate_local_earthquakes(num_events, seed, sampling_rate, num_samples)
        noise = generate_seismic_noise(
            num_noise, seed, sampling_rate, num_samples, transient_probability=transient_probability
        )
        return cls(
            events["waveforms"],
            noise,
            p_arrival_sample=events["p_arrival_sample"],
            s_arrival_sample=events["s_arrival_sample"],
            seed=seed,
            **kwargs,
        )

    @classmethod
    def from_stead(
        cls,
        hdf5_path: PathLike,
        csv_path: PathLike,
        num_events: int | None = None,
        num_noise: int | None = None,
        **kwargs,
    ) -> DenoisingPairDataset:
        """Pairs from one STEAD (or SeisBench-format STEAD) file pair: `earthquake_local` traces as
        events, `noise` traces as noise, each limited to the first `num_events` / `num_noise`
        rows of the CSV; `kwargs` go to the constructor (e.g. `num_samples=3000`)."""
        events, event_meta = read_stead(hdf5_path, csv_path, category="earthquake_local", limit=num_events)
        noise, _ = read_stead(hdf5_path, csv_path, category="noise", limit=num_noise)
        return cls(
            events,
            noise,
            p_arrival_sample=np.array([m["p_arrival_sample"] for m in event_meta]),
            s_arrival_sample=np.array([m["s_arrival_sample"] for m in event_meta]),
            **kwargs,
        )

    @classmethod
    def from_miniseed_folders(
        cls,
        event_folder: PathLike,
        noise_folder: PathLike,
        num_samples: int = 3000,
        sampling_rate: float = 100.0,
        **kwargs,
    ) -> DenoisingPairDataset:
        """Pairs from two folders of miniSEED files read with [`read_miniseed_folder`] (one window
        per station and file; arrivals unknown); `kwargs` go to the constructor."""
        events = read_miniseed_folder(event_folder, num_samples=num_samples, sampling_rate=sampling_rate)
        noise = read_miniseed_folder(noise_folder, num_samples=num_samples, sampling_rate=sampling_rate)
        return cls(events, noise, **kwargs)

    def __len__(self) -> int:
        return self.length

    def _window_start(self, rng: np.random.Generator, total: int, p_sample: int) -> int:
        n = self.num_samples
        if total == n:
            return 0
        if p_sample >= 0:
            low, high = max(0, p_sample - n // 2), min(total - n, p_sample - n // 10)
            if low <= high:
                return int(rng.integers(low, high + 1))
        return int(rng.integers(0, total - n + 1))

    def __getitem__(self, index: int) -> dict:
        if not -self.length <= index < self.length:
            raise IndexError(f"Index {index} out of range for a dataset of {self.length} items.")
        index = int(index) % self.length
        rng = np.random.default_rng([self.seed, index, _PAIR_STREAM])
        n = self.num_samples
        event_index = index % len(self.events)
        p_sample = int(self.p_arrival_sample[event_index])
        s_sample = int(self.s_arrival_sample[event_index])
        # 1. crop
        offset = self._window_start(rng, self.events.shape[2], p_sample)
        clean = self.events[event_index, :, offset : offset + n].astype(np.float64)
        p_sample = p_sample - offset if 0 <= p_sample - offset < n and p_sample >= 0 else -1
        s_sample = s_sample - offset if 0 <= s_sample - offset < n and s_sample >= 0 else -1
        # 2. noise draw
        noise_index = int(rng.integers(len(self.noise)))
        noise_offset = int(rng.integers(0, self.noise.shape[2] - n + 1))
        noise = self.noise[noise_index, :, noise_offset : noise_offset + n].astype(np.float64)
        noise = noise * rng.choice([-1.0, 1.0])
        if self.augment is not None:  # e.g. RealisticRecording: before the level, so the SNR holds

            def draw_event() -> np.ndarray:
                other = int(rng.integers(len(self.events)))
                start = int(rng.integers(0, self.events.shape[2] - n + 1))
                return self.events[other, :, start : start + n].astype(np.float64)

            clean, noise = self.augment(clean, noise, rng, draw_event)
        clean_peak = np.abs(clean).max()
        if clean_peak == 0 or not np.any(noise):
            raise ValueError(
                f"Item {index}: the cropped event {event_index} or noise {noise_index} window is all zeros."
            )
        # 3. level
        if self.snr_db_range is not None:
            snr = float(rng.uniform(*self.snr_db_range))
            noise = scale_noise_to_snr(clean, noise, snr)
        else:
            ratio = float(rng.uniform(*self.noise_scale_range))
            noise = noise * (ratio * clean_peak / np.abs(noise).max())
        snr = 10.0 * np.log10(np.sum(clean**2) / max(np.sum(noise**2), np.finfo(np.float64).tiny))
        # 4. normalisation
        if self.normalize == "peak":
            scale = clean_peak
        elif self.normalize == "noisy_peak":
            scale = np.abs(clean + noise).max()
        else:
            scale = 1.0
        clean, noise = clean / scale, noise / scale
        clean32, noise32 = clean.astype(np.float32), noise.astype(np.float32)
        return {
            "clean": torch.from_numpy(clean32),
            "noise": torch.from_numpy(noise32),
            "noisy": torch.from_numpy(clean32 + noise32),
            "p_arrival_sample": p_sample,
            "s_arrival_sample": s_sample,
            "snr_db": float(snr),
            "scale": float(scale),
            "event_index": event_index,
            "noise_index": noise_index,
        }


def synthetic_denoising_dataset(
    num_events: int,
    num_noise: int,
    seed: int = 0,
    sampling_rate: float = 100.0,
    num_samples: int = 3000,
    **kwargs,
) -> DenoisingPairDataset:
    """A [`DenoisingPairDataset`] of synthetic events and noise; see
    [`DenoisingPairDataset.from_synthetic`] (`kwargs` go there, e.g. `snr_db_range`)."""
    return DenoisingPairDataset.from_synthetic(
        num_events, num_noise, seed=seed, sampling_rate=sampling_rate, num_samples=num_samples, **kwargs
    )


__all__ = [
    "DenoisingPairDataset",
    "scale_noise_to_snr",
    "synthetic_denoising_dataset",
]

"""An in-memory dataset of the synthetic velocity families, for training and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .velocity_families import VELOCITY_FAMILIES, check_family, generate_velocity_models


class SyntheticVelocityDataset(torch.utils.data.Dataset):
    """`num_per_family` models of each family, generated once with `generate_velocity_models`.

    Args:
        families (`Sequence[str]`, *optional*): Families to include; defaults to all eight.
        num_per_family (`int`, *optional*, defaults to 1000): Models per family.
        seed (`int`, *optional*, defaults to 0): Generation seed; use different seeds for
            train and held-out splits.
        vocabulary (`Sequence[str]`, *optional*): Family list that defines the class labels
            (defaults to `VELOCITY_FAMILIES`), so labels match the model's vocabulary.

    Items are dicts: `velocity` (float32 tensor `(1, 70, 70)`, m/s) and `label` (int).
    """

    def __init__(
        self,
        families: Sequence[str] | None = None,
        num_per_family: int = 1000,
        seed: int = 0,
        vocabulary: Sequence[str] = VELOCITY_FAMILIES,
    ):
        families = [check_family(name) for name in (families or VELOCITY_FAMILIES)]
        vocabulary = list(vocabulary)
        missing = [name for name in families if name not in vocabulary]
        if missing:
            raise ValueError(f"Families {missing} are not in the vocabulary {vocabulary}.")
        self.velocities = np.concatenate(
            [generate_velocity_models(f, num_per_family, seed) for f in families]
        )
        self.labels = np.repeat([vocabulary.index(f) for f in families], num_per_family)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return {"velocity": torch.from_numpy(self.velocities[index][None]), "label": int(self.labels[index])}

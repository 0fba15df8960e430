"""The velocity-family classifier: a `transformers` model whose features drive the velocity FD.

Inception-v3 features (the usual FID) describe natural photographs and need a weight download;
velocity maps are neither. `FamilyClassifier` is a small CNN trained once on the synthetic
families and shipped under `pipelines/openfwi-velocity-classifier/`, so every Fréchet distance
in this project comes from the same frozen extractor, the role Inception plays for FID. Like
diffusers' auxiliary models it is a `transformers.PreTrainedModel` with its own config, and it is
registered with the Auto classes when `seismic_diffusers` is imported:

```py
>>> import seismic_diffusers  # registers the classes
>>> from transformers import AutoModelForImageClassification
>>> clf = AutoModelForImageClassification.from_pretrained("pipelines/openfwi-velocity-classifier")
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForImageClassification,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.utils import ModelOutput


def as_velocity_tensor(velocity: torch.Tensor | np.ndarray, name: str = "velocity") -> torch.Tensor:
    """`(B, H, W)` or `(B, 1, H, W)` array or tensor (m/s) -> float32 tensor `(B, 1, H, W)`."""
    if isinstance(velocity, np.ndarray):
        velocity = np.ascontiguousarray(velocity)  # a reversed view (`maps[::-1]`) has negative strides
    velocity = torch.as_tensor(velocity)
    if velocity.ndim == 3:
        velocity = velocity[:, None]
    if velocity.ndim != 4 or velocity.shape[1] != 1:
        raise ValueError(
            f"`{name}` must have shape (batch, height, width) or (batch, 1, height, width) in m/s, "
            f"got {tuple(velocity.shape)}."
        )
    return velocity.float()


class FamilyClassifierConfig(PretrainedConfig):
    r"""Configuration of a [`FamilyClassifier`].

    Args:
        num_classes (`int`, *optional*, defaults to 8):
            Number of families; logit `i` is family `families[i]`.
        feature_dim (`int`, *optional*, defaults to 128):
            Size of the feature vector returned by [`~FamilyClassifier.features`].
        block_out_channels (`Sequence[int]`, *optional*, defaults to `(16, 32, 64, 128)`):
            Channels of the stride-2 blocks; each must be divisible by `norm_num_groups`.
        norm_num_groups (`int`, *optional*, defaults to 8): Groups of every GroupNorm.
        v_min (`float`, *optional*, defaults to 1500.0): Velocity (m/s) mapped to -1 on input.
        v_max (`float`, *optional*, defaults to 4500.0): Velocity (m/s) mapped to +1 on input.
        families (`list[str]`, *optional*): Family name of each class label (also saved as
            `id2label`); defaults to `family-0`, `family-1`, ...
    """

    model_type = "velocity_family_classifier"

    def __init__(
        self,
        num_classes: int = 8,
        feature_dim: int = 128,
        block_out_channels: Sequence[int] = (16, 32, 64, 128),
        norm_num_groups: int = 8,
        v_min: float = 1500.0,
        v_max: float = 4500.0,
        families: Sequence[str] | None = None,
        **kwargs,
    ):
        if num_classes < 2 or feature_dim < 1:
            raise ValueError(
                f"Need num_classes >= 2 and feature_dim >= 1, got num_classes={num_classes}, "
                f"feature_dim={feature_dim}."
            )
        if not v_max > v_min:
            raise ValueError(f"`v_max` must exceed `v_min`, got v_min={v_min}, v_max={v_max}.")
        channels = [int(c) for c in block_out_channels]
        if not channels or any(c % norm_num_groups for c in channels):
            raise ValueError(
                f"Every entry of block_out_channels={channels} must be divisible by "
                f"norm_num_groups={norm_num_groups}."
            )
        families = list(families) if families is not None else [f"family-{i}" for i in range(num_classes)]
        if len(families) != num_classes:
            raise ValueError(f"Got {len(families)} family names for num_classes={num_classes}.")
        self.num_classes = int(num_classes)
        self.feature_dim = int(feature_dim)
        self.block_out_channels = channels
        self.norm_num_groups = int(norm_num_groups)
        self.v_min = float(v_min)
        self.v_max = float(v_max)
        self.families = families
        kwargs.setdefault("id2label", dict(enumerate(families)))
        kwargs.setdefault("label2id", {name: i for i, name in enumerate(families)})
        super().__init__(**kwargs)


@dataclass
class FamilyClassifierOutput(ModelOutput):
    """
    Args:
        logits (`torch.Tensor` of shape `(batch, num_classes)`): Unnormalised family scores.
        features (`torch.Tensor` of shape `(batch, feature_dim)`): The penultimate features, the
            space the velocity FD is measured in.
        loss (`torch.Tensor`, *optional*): Cross-entropy, when `labels` are given.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    features: torch.Tensor | None = None


class FamilyClassifier(PreTrainedModel):
    r"""A small CNN that tells the velocity families apart; its features drive the Fréchet distance.

    Architecture: two 3 x 3 convolutions at full resolution, then one block per entry of
    `block_out_channels`, each `conv 3x3 stride 2 -> GroupNorm -> SiLU -> conv 3x3 -> GroupNorm ->
    SiLU` (70 -> 35 -> 18 -> 9 -> 5 cells for four blocks), global mean and max pooling
    (concatenated), a linear projection to `feature_dim` with SiLU (the features), and a linear
    head to `num_classes` logits. About 0.33 M parameters with the defaults.

    Build it from a [`FamilyClassifierConfig`] or from the config's keyword arguments
    (`FamilyClassifier(num_classes=2)`).

    Inputs are velocities in **m/s** of shape `(batch, height, width)` or
    `(batch, 1, height, width)` (any size; trained on 70 x 70); normalisation to [-1, 1] happens
    inside with `v_min`/`v_max`.

    Example:

    ```py
    >>> import torch
    >>> from seismic_diffusers.metrics import FamilyClassifier
    >>> clf = FamilyClassifier()
    >>> v = torch.full((2, 70, 70), 3000.0)  # m/s
    >>> clf(v).logits.shape, clf.features(v).shape, clf.num_features
    (torch.Size([2, 8]), torch.Size([2, 128]), 128)
    ```
    """

    config_class = FamilyClassifierConfig
    base_model_prefix = "family_classifier"
    main_input_name = "velocity"

    def __init__(self, config: FamilyClassifierConfig | None = None, **kwargs):
        if config is None:
            config = FamilyClassifierConfig(**kwargs)
        elif kwargs:
            raise ValueError(f"Give either a config or its keyword arguments, not both: {sorted(kwargs)}.")
        super().__init__(config)
        channels, groups = config.block_out_channels, config.norm_num_groups

        def norm_act(c: int) -> list[nn.Module]:
            return [nn.GroupNorm(groups, c), nn.SiLU()]

        # Two convolutions at full resolution: thin layers and fault cuts are a few cells wide.
        layers: list[nn.Module] = [nn.Conv2d(1, channels[0], 3, padding=1), *norm_act(channels[0])]
        layers += [nn.Conv2d(channels[0], channels[0], 3, padding=1), *norm_act(channels[0])]
        previous = channels[0]
        for c in channels:
            layers += [nn.Conv2d(previous, c, 3, stride=2, padding=1), *norm_act(c)]
            layers += [nn.Conv2d(c, c, 3, padding=1), *norm_act(c)]
            previous = c
        self.encoder = nn.Sequential(*layers)
        self.projection = nn.Linear(2 * previous, config.feature_dim)
        self.head = nn.Linear(config.feature_dim, config.num_classes)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # PyTorch's own initialisation, which the classifier was designed and trained with.
        if isinstance(module, (nn.Conv2d, nn.Linear, nn.GroupNorm)):
            module.reset_parameters()

    @property
    def num_features(self) -> int:
        """Length of the feature vector (`feature_dim`); torchmetrics' FID reads this attribute."""
        return int(self.config.feature_dim)

    def normalize(self, velocity: torch.Tensor) -> torch.Tensor:
        """m/s -> [-1, 1] with the config's `v_min`/`v_max` (same shape)."""
        return 2.0 * (velocity - self.config.v_min) / (self.config.v_max - self.config.v_min) - 1.0

    def features(self, velocity: torch.Tensor | np.ndarray) -> torch.Tensor:
        r"""Penultimate features.

        Args:
            velocity (`torch.Tensor` or `np.ndarray` of shape `(batch, height, width)` or
                `(batch, 1, height, width)`): Velocity in m/s.

        Returns:
            `torch.Tensor` of shape `(batch, feature_dim)`, float32, on the model's device.
        """
        x = as_velocity_tensor(velocity).to(device=self.device, dtype=self.dtype)
        x = self.encoder(self.normalize(x))
        # Mean pooling summarises the layering; max pooling keeps small, local cues (fault cuts).
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return F.silu(self.projection(pooled))

    def forward(
        self,
        velocity: torch.Tensor | np.ndarray,
        labels: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> FamilyClassifierOutput | tuple:
        r"""
        Args:
            velocity (`torch.Tensor` or `np.ndarray` of shape `(batch, height, width)` or
                `(batch, 1, height, width)`): Velocity in m/s.
            labels (`torch.Tensor` of shape `(batch,)`, *optional*): Class labels; adds the
                cross-entropy `loss`.
            return_dict (`bool`, *optional*, defaults to `True`): Return a
                [`FamilyClassifierOutput`] instead of the tuple `(loss?, logits, features)`.

        Returns:
            [`FamilyClassifierOutput`] with `logits` `(batch, num_classes)` and `features`
            `(batch, feature_dim)`.
        """
        features = self.features(velocity)
        logits = self.head(features)
        loss = None if labels is None else F.cross_entropy(logits, labels.to(logits.device))
        if not return_dict:
            return (logits, features) if loss is None else (loss, logits, features)
        return FamilyClassifierOutput(loss=loss, logits=logits, features=features)


AutoConfig.register(FamilyClassifierConfig.model_type, FamilyClassifierConfig, exist_ok=True)
AutoModel.register(FamilyClassifierConfig, FamilyClassifier, exist_ok=True)
AutoModelForImageClassification.register(FamilyClassifierConfig, FamilyClassifier, exist_ok=True)

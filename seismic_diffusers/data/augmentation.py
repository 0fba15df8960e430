"""Geometry-aware data augmentation for velocity models, built from `kornia.augmentation`."""

from __future__ import annotations

import kornia.augmentation as K
import torch
from torch import nn


def _check_p(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}.")
    return value


class VelocityAugmentation(nn.Module):
    r"""
    Random flips, small rotations, resized crops and elastic warps for velocity models.

    The operations run in this order, each on its own with its own probability, and each is skipped
    entirely (no random numbers drawn) when its probability is 0:

    1. horizontal flip (`horizontal_flip_p`), which swaps left and right and keeps depth as it is;
    2. vertical flip (`vertical_flip_p`, off by default);
    3. rotation by up to `max_rotation_deg` degrees (`rotation_p`), with border padding;
    4. random resized crop, resampled back to the input size (`crop_p`);
    5. mild elastic warp (`elastic_p`), with border padding.

    Resampling is bilinear, so values are weighted averages of input values. As a safeguard the output
    is also clamped, sample by sample, to the input's ``[min, max]`` range: augmentation must not
    invent velocities that are not in the data. Randomness comes from torch's global generator, so
    ``torch.manual_seed`` makes the output reproducible. All arguments are plain keywords with
    defaults, so the module can be built from a config dict (``VelocityAugmentation(**config)``), and
    ``module.config`` gives them back.

    Args:
        horizontal_flip_p (`float`, *optional*, defaults to 0.5):
            Probability of a left-right flip.
        vertical_flip_p (`float`, *optional*, defaults to 0.0):
            Probability of an up-down flip. **Leave it at 0 for velocity models**: depth has a
            direction (velocity mostly increases downwards and the surface is at the top), so a vertical
            flip produces physically implausible models.
        rotation_p (`float`, *optional*, defaults to 0.5):
            Probability of a rotation.
        max_rotation_deg (`float`, *optional*, defaults to 5.0):
            Rotation angles are drawn from ``[-max_rotation_deg, max_rotation_deg]`` degrees.
        crop_p (`float`, *optional*, defaults to 0.5):
            Probability of a random resized crop.
        crop_scale (`tuple[float, float]`, *optional*, defaults to `(0.8, 1.0)`):
            Range of the crop area as a fraction of the input area.
        crop_ratio (`tuple[float, float]`, *optional*, defaults to `(0.9, 1.1)`):
            Range of the crop aspect ratio (width / height).
        elastic_p (`float`, *optional*, defaults to 0.25):
            Probability of an elastic warp.
        elastic_kernel_size (`tuple[int, int]`, *optional*, defaults to `(63, 63)`):
            Size of the Gaussian kernel that smooths the random displacement field (odd numbers).
        elastic_sigma (`tuple[float, float]`, *optional*, defaults to `(32.0, 32.0)`):
            Standard deviation of that kernel, in pixels; larger is smoother.
        elastic_alpha (`tuple[float, float]`, *optional*, defaults to `(1.0, 1.0)`):
            Scale of the displacement field; larger is stronger.
        clamp (`bool`, *optional*, defaults to `True`):
            Clamp each output sample to its input's ``[min, max]`` range.

    Example:

    ```py
    >>> import torch
    >>> from seismic_diffusers.data.augmentation import VelocityAugmentation
    >>> aug = VelocityAugmentation()
    >>> _ = torch.manual_seed(0)
    >>> x = torch.rand(4, 1, 70, 70) * 2 - 1  # normalised velocity models, (batch, 1, nz, nx)
    >>> aug(x).shape
    torch.Size([4, 1, 70, 70])

    ```
    """

    def __init__(
        self,
        horizontal_flip_p: float = 0.5,
        vertical_flip_p: float = 0.0,
        rotation_p: float = 0.5,
        max_rotation_deg: float = 5.0,
        crop_p: float = 0.5,
        crop_scale: tuple[float, float] = (0.8, 1.0),
        crop_ratio: tuple[float, float] = (0.9, 1.1),
        elastic_p: float = 0.25,
        elastic_kernel_size: tuple[int, int] = (63, 63),
        elastic_sigma: tuple[float, float] = (32.0, 32.0),
        elastic_alpha: tuple[float, float] = (1.0, 1.0),
        clamp: bool = True,
    ):
        super().__init__()
        if max_rotation_deg < 0:
            raise ValueError(f"max_rotation_deg must be >= 0, got {max_rotation_deg}.")
        if not 0.0 < crop_scale[0] <= crop_scale[1] <= 1.0:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {tuple(crop_scale)}.")
        if not 0.0 < crop_ratio[0] <= crop_ratio[1]:
            raise ValueError(f"crop_ratio must satisfy 0 < low <= high, got {tuple(crop_ratio)}.")
        self.config = {
            "horizontal_flip_p": _check_p("horizontal_flip_p", horizontal_flip_p),
            "vertical_flip_p": _check_p("vertical_flip_p", vertical_flip_p),
            "rotation_p": _check_p("rotation_p", rotation_p),
            "max_rotation_deg": float(max_rotation_deg),
            "crop_p": _check_p("crop_p", crop_p),
            "crop_scale": tuple(float(s) for s in crop_scale),
            "crop_ratio": tuple(float(r) for r in crop_ratio),
            "elastic_p": _check_p("elastic_p", elastic_p),
            "elastic_kernel_size": tuple(int(k) for k in elastic_kernel_size),
            "elastic_sigma": tuple(float(s) for s in elastic_sigma),
            "elastic_alpha": tuple(float(a) for a in elastic_alpha),
            "clamp": bool(clamp),
        }
        cfg = self.config
        self.horizontal_flip_p = cfg["horizontal_flip_p"]
        self.vertical_flip_p = cfg["vertical_flip_p"]
        self.clamp = cfg["clamp"]

        # Operations that do not depend on the input size; `None` when disabled.
        self.hflip = (
            K.RandomHorizontalFlip(p=cfg["horizontal_flip_p"]) if cfg["horizontal_flip_p"] > 0 else None
        )
        self.vflip = K.RandomVerticalFlip(p=cfg["vertical_flip_p"]) if cfg["vertical_flip_p"] > 0 else None
        use_rotation = cfg["rotation_p"] > 0 and cfg["max_rotation_deg"] > 0
        self.rotate = (
            K.RandomAffine(degrees=cfg["max_rotation_deg"], padding_mode="border", p=cfg["rotation_p"])
            if use_rotation
            else None
        )
        self.elastic = (
            K.RandomElasticTransform(
                kernel_size=cfg["elastic_kernel_size"],
                sigma=cfg["elastic_sigma"],
                alpha=cfg["elastic_alpha"],
                padding_mode="border",
                p=cfg["elastic_p"],
            )
            if cfg["elastic_p"] > 0
            else None
        )
        # RandomResizedCrop needs the output size, which is only known from the input: built on first use.
        self._crops: dict[tuple[int, int], K.RandomResizedCrop] = {}

    def _crop_for(self, size: tuple[int, int]) -> K.RandomResizedCrop:
        if size not in self._crops:
            self._crops[size] = K.RandomResizedCrop(
                size=size,
                scale=self.config["crop_scale"],
                ratio=self.config["crop_ratio"],
                p=self.config["crop_p"],
            )
        return self._crops[size]

    def forward(self, sample: torch.Tensor) -> torch.Tensor:
        r"""
        Augment a batch.

        Args:
            sample (`torch.Tensor` of shape `(batch, channels, nz, nx)`):
                Velocity models in any units (usually normalised to ``[-1, 1]``); floating point.

        Returns:
            `torch.Tensor`: same shape, dtype and device as `sample`; each sample stays within its input's
            ``[min, max]`` range when `clamp` is set.
        """
        if sample.ndim != 4:
            raise ValueError(
                f"VelocityAugmentation expects (batch, channels, nz, nx), got shape {tuple(sample.shape)}."
            )
        if not sample.is_floating_point():
            raise ValueError(f"VelocityAugmentation expects a floating-point tensor, got {sample.dtype}.")

        x = sample
        for op in (self.hflip, self.vflip, self.rotate):
            if op is not None:
                x = op(x)
        if self.config["crop_p"] > 0:
            x = self._crop_for((int(sample.shape[-2]), int(sample.shape[-1])))(x)
        if self.elastic is not None:
            x = self.elastic(x)

        x = x.to(sample.dtype)
        if self.clamp:
            low = sample.amin(dim=(1, 2, 3), keepdim=True)
            high = sample.amax(dim=(1, 2, 3), keepdim=True)
            x = torch.maximum(torch.minimum(x, high), low)
        return x

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.items())

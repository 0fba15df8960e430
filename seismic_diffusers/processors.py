"""Config-registered, non-neural pipeline components (the audio-diffusion `Mel` pattern)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from .data.velocity_families import VELOCITY_FAMILIES


class VelocityProcessor(ConfigMixin, SchedulerMixin):
    r"""Maps velocity in m/s to the model's [-1, 1] range and family names to class labels.

    OpenFWI's label normalisation: `x = 2 (v - v_min) / (v_max - v_min) - 1`. The constants are
    saved with the pipeline (`processor/processor_config.json`) so they never live in code.
    `SchedulerMixin` is inherited only so `DiffusionPipeline` knows how to save and load it.

    Args:
        v_min (`float`, *optional*, defaults to 1500.0): Velocity (m/s) mapped to -1.
        v_max (`float`, *optional*, defaults to 4500.0): Velocity (m/s) mapped to +1.
        grid_spacing (`float`, *optional*, defaults to 10.0): Cell size (m), for plots and physics.
        families (`list[str]`, *optional*): Family vocabulary; index `i` is class label `i`, and
            label `len(families)` is the null ("any family") class used for unconditional sampling.
    """

    config_name = "processor_config.json"

    @register_to_config
    def __init__(
        self,
        v_min: float = 1500.0,
        v_max: float = 4500.0,
        grid_spacing: float = 10.0,
        families: Sequence[str] = VELOCITY_FAMILIES,
    ):
        if not v_max > v_min:
            raise ValueError(f"`v_max` must exceed `v_min`, got v_min={v_min}, v_max={v_max}.")
        if grid_spacing <= 0:
            raise ValueError(f"`grid_spacing` must be positive (m), got {grid_spacing}.")

    @property
    def families(self) -> list[str]:
        return list(self.config.families)

    @property
    def null_label(self) -> int:
        """Class label meaning "no family" (classifier-free guidance's unconditional class)."""
        return len(self.config.families)

    def normalize(self, velocity: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """m/s -> [-1, 1] (same type and shape as the input)."""
        return 2.0 * (velocity - self.config.v_min) / (self.config.v_max - self.config.v_min) - 1.0

    def denormalize(self, sample: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """[-1, 1] -> m/s (same type and shape as the input)."""
        return (sample + 1.0) * 0.5 * (self.config.v_max - self.config.v_min) + self.config.v_min

    def family_labels(self, family: str | Sequence[str | None] | None, batch_size: int) -> list[int]:
        """Class labels for `family`: one name for all, a list with one entry per sample, or None.

        Raises:
            ValueError: for unknown names or a list whose length differs from `batch_size`.
        """
        if family is None or isinstance(family, str):
            family = [family] * batch_size
        family = list(family)
        if len(family) != batch_size:
            raise ValueError(
                f"Got {len(family)} families for batch_size={batch_size}; give one name or one per sample."
            )
        known = {name: i for i, name in enumerate(self.config.families)}
        labels = []
        for name in family:
            if name is None or str(name).lower() == "any":
                labels.append(self.null_label)
                continue
            key = str(name).strip().lower().replace("_", "-")
            if key not in known:
                raise ValueError(
                    f"Unknown family {name!r}. Valid families: {', '.join(self.config.families)} (or None)."
                )
            labels.append(known[key])
        return labels

    def to_pil(self, velocity: np.ndarray, cmap: str = "viridis") -> list:
        """Colour-map `(B, H, W)` m/s arrays to PIL images, scaled over [v_min, v_max]."""
        from matplotlib import colormaps
        from PIL import Image

        scaled = np.clip((velocity - self.config.v_min) / (self.config.v_max - self.config.v_min), 0.0, 1.0)
        rgb = (colormaps[cmap](scaled)[..., :3] * 255).round().astype(np.uint8)
        return [Image.fromarray(image) for image in rgb]


NORMALIZATIONS = ("joint", "per_trace")


class SeismogramProcessor(ConfigMixin, SchedulerMixin):
    r"""How a denoiser sees seismograms: its sampling rate, window, component order and scaling.

    Saved with the pipeline as `processor/processor_config.json`, so inference uses exactly the
    rate, window and normalisation the model was trained with.

    Args:
        sampling_rate (`float`, defaults to 100.0): The model's rate, Hz. Other rates are resampled.
        window_length (`int`, defaults to 3000): Samples per model window (30 s at 100 Hz).
        overlap (`float`, defaults to 0.25): Fraction of a window shared with the next one when a
            long record is cut into windows; overlaps are blended with a Hann-shaped weight.
        normalization (`str`, defaults to `"joint"`): `"joint"` divides a window by the largest
            absolute value over all its components (keeps the 3-C amplitude ratios);
            `"per_trace"` divides each component by its own peak. Amplitudes are restored after
            the model.
        components (`list[str]`, defaults to `["E", "N", "Z"]`): Channel order of the model's
            input, by the last letter of the SEED channel code.
    """

    config_name = "processor_config.json"

    @register_to_config
    def __init__(
        self,
        sampling_rate: float = 100.0,
        window_length: int = 3000,
        overlap: float = 0.25,
        normalization: str = "joint",
        components: Sequence[str] = ("E", "N", "Z"),
    ):
        if not sampling_rate > 0:
            raise ValueError(f"`sampling_rate` must be positive (Hz), got {sampling_rate}.")
        if int(window_length) < 16:
            raise ValueError(f"`window_length` must be >= 16 samples, got {window_length}.")
        if not 0 <= overlap < 1:
            raise ValueError(f"`overlap` must be in [0, 1), got {overlap}.")
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"Unknown normalization {normalization!r}. Valid choices: {', '.join(NORMALIZATIONS)}."
            )

    @property
    def hop_length(self) -> int:
        return max(1, round(self.config.window_length * (1 - self.config.overlap)))

    def window_scale(self, windows: torch.Tensor) -> torch.Tensor:
        """Per-window divisor, `(B, 1, 1)` (joint) or `(B, C, 1)` (per trace); never zero."""
        dims = (1, 2) if self.config.normalization == "joint" else (2,)
        return windows.abs().amax(dim=dims, keepdim=True).clamp_min(torch.finfo(windows.dtype).tiny)

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

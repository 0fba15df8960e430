"""A `UNet2DModel` that takes native OpenFWI 70 x 70 maps."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.unets.unet_2d import UNet2DModel, UNet2DOutput


class VelocityUNet2DModel(UNet2DModel):
    r"""`UNet2DModel` for velocity maps whose size is not a multiple of its downsampling factor.

    A U-Net with `n` resolution levels needs height and width divisible by `2 ** (n - 1)`;
    OpenFWI maps are 70 x 70. This subclass pads the input on the bottom and right by edge
    replication up to the next multiple, runs the U-Net, and crops the output back, so callers
    always work at the native size (`config.sample_size`, e.g. 70). That is the only change;
    `__init__` is inherited untouched so `save_pretrained`/`from_pretrained` round-trip.
    """

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.config.block_out_channels) - 1)

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        class_labels: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> UNet2DOutput | tuple:
        r"""
        Args:
            sample (`torch.Tensor` of shape `(batch_size, in_channels, height, width)`):
                Noisy normalised velocity maps, any height and width (e.g. 70 x 70).
            timestep (`torch.Tensor` or `float` or `int`): Diffusion timestep(s).
            class_labels (`torch.Tensor` of shape `(batch_size,)`, *optional*):
                Family labels for class-conditional models.
            return_dict (`bool`, *optional*, defaults to `True`): Return a `UNet2DOutput`.

        Returns:
            `UNet2DOutput` (or a tuple) whose `sample` has the input's shape.
        """
        height, width = sample.shape[-2:]
        factor = self.downsample_factor
        pad_h, pad_w = (-height) % factor, (-width) % factor
        if pad_h or pad_w:
            sample = F.pad(sample, (0, pad_w, 0, pad_h), mode="replicate")
        output = super().forward(sample, timestep, class_labels=class_labels, return_dict=False)[0]
        output = output[..., :height, :width]
        if not return_dict:
            return (output,)
        return UNet2DOutput(sample=output)

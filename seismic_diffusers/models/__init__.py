from .unet_1d_denoiser import SeismogramUNet1DModel, SeismogramUNet1DOutput
from .unet_velocity import VelocityUNet2DModel

__all__ = ["SeismogramUNet1DModel", "SeismogramUNet1DOutput", "VelocityUNet2DModel"]

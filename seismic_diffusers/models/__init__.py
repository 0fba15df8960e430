from .unet_velocity import VelocityUNet2DModel

__all__ = ["VelocityUNet2DModel"]

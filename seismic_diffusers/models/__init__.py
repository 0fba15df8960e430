from .family_classifier import FamilyClassifier, FamilyClassifierConfig, FamilyClassifierOutput
from .joint_vq import JointVQDecoderOutput, JointVQEncoderOutput, JointVQModel
from .unet_1d_denoiser import SeismogramUNet1DModel, SeismogramUNet1DOutput
from .unet_velocity import VelocityUNet2DModel
from .waveform_prior import WaveformLatentDenoiser, WaveformLatentDenoiserOutput
from .waveform_vae import SpectrogramAutoencoder, SpectrogramAutoencoderOutput, SpectrogramVAE

__all__ = [
    "FamilyClassifier",
    "FamilyClassifierConfig",
    "FamilyClassifierOutput",
    "JointVQDecoderOutput",
    "JointVQEncoderOutput",
    "JointVQModel",
    "SeismogramUNet1DModel",
    "SeismogramUNet1DOutput",
    "SpectrogramAutoencoder",
    "SpectrogramAutoencoderOutput",
    "SpectrogramVAE",
    "VelocityUNet2DModel",
    "WaveformLatentDenoiser",
    "WaveformLatentDenoiserOutput",
]

"""The networks: diffusers `ModelMixin` U-Nets, autoencoders and priors, and the frozen feature extractor."""

from .family_classifier import FamilyClassifier, FamilyClassifierConfig, FamilyClassifierOutput
from .inversion_net import (
    InversionNetEnsembleModel,
    InversionNetModel,
    InversionNetOutput,
    load_inversion_net,
)
from .joint_vq import JointVQDecoderOutput, JointVQEncoderOutput, JointVQModel
from .latent_forward_operator import LatentForwardOperator, LatentForwardOperatorOutput
from .spectral_mask_denoiser import SeismogramSpectralMaskModel
from .unet_1d_denoiser import SeismogramUNet1DModel, SeismogramUNet1DOutput
from .unet_velocity import VelocityUNet2DModel
from .waveform_prior import WaveformLatentDenoiser, WaveformLatentDenoiserOutput
from .waveform_vae import SpectrogramAutoencoder, SpectrogramAutoencoderOutput, SpectrogramVAE

__all__ = [
    "FamilyClassifier",
    "FamilyClassifierConfig",
    "FamilyClassifierOutput",
    "InversionNetEnsembleModel",
    "InversionNetModel",
    "InversionNetOutput",
    "load_inversion_net",
    "JointVQDecoderOutput",
    "JointVQEncoderOutput",
    "JointVQModel",
    "LatentForwardOperator",
    "LatentForwardOperatorOutput",
    "SeismogramSpectralMaskModel",
    "SeismogramUNet1DModel",
    "SeismogramUNet1DOutput",
    "SpectrogramAutoencoder",
    "SpectrogramAutoencoderOutput",
    "SpectrogramVAE",
    "VelocityUNet2DModel",
    "WaveformLatentDenoiser",
    "WaveformLatentDenoiserOutput",
]

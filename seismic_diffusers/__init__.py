"""seismic_diffusers: diffusers-style pretrained pipelines for seismology."""

__version__ = "0.1.0"

# diffusers resolves `["seismic_diffusers", "<Class>"]` entries in model_index.json by looking
# up these base classes in this namespace, so they must be importable from the package root.
from diffusers import ConfigMixin, ModelMixin, SchedulerMixin  # noqa: F401

from .data import (
    VELOCITY_FAMILIES,
    OpenFWIDataset,
    SyntheticVelocityDataset,
    VelocityAugmentation,
    VelocityFolderDataset,
    generate_velocity_models,
    make_paired_dataset,
)
from .metrics import (
    FamilyClassifier,
    openfwi_map_metrics,
    predict_families,
    train_family_classifier,
    velocity_frechet_distance,
    velocity_map_statistics,
)
from .models import (
    JointVQModel,
    SeismogramUNet1DModel,
    SpectrogramAutoencoder,
    SpectrogramVAE,
    VelocityUNet2DModel,
    WaveformLatentDenoiser,
)
from .physics import OPENFWI, AcquisitionGeometry, forward_model, pde_deviation
from .pipelines import (
    ColdDiffusionDenoisePipeline,
    ConditionalWaveformPipeline,
    JointGenerationOutput,
    JointGenerationPipeline,
    JointInversionOutput,
    SeismogramDenoiseOutput,
    VelocityGenerationPipeline,
    VelocityPipelineOutput,
)
from .processors import SeismogramProcessor, VelocityProcessor, WaveformSpectrogram
from .schedulers import ColdDiffusionScheduler, power_timesteps

__all__ = [
    "ColdDiffusionDenoisePipeline",
    "ConditionalWaveformPipeline",
    "ColdDiffusionScheduler",
    "JointGenerationOutput",
    "JointGenerationPipeline",
    "JointInversionOutput",
    "JointVQModel",
    "SeismogramDenoiseOutput",
    "SeismogramProcessor",
    "SeismogramUNet1DModel",
    "SpectrogramAutoencoder",
    "SpectrogramVAE",
    "OPENFWI",
    "AcquisitionGeometry",
    "VELOCITY_FAMILIES",
    "FamilyClassifier",
    "OpenFWIDataset",
    "SyntheticVelocityDataset",
    "VelocityAugmentation",
    "VelocityFolderDataset",
    "VelocityGenerationPipeline",
    "VelocityPipelineOutput",
    "VelocityProcessor",
    "WaveformSpectrogram",
    "VelocityUNet2DModel",
    "WaveformLatentDenoiser",
    "forward_model",
    "generate_velocity_models",
    "make_paired_dataset",
    "openfwi_map_metrics",
    "pde_deviation",
    "power_timesteps",
    "predict_families",
    "train_family_classifier",
    "velocity_frechet_distance",
    "velocity_map_statistics",
]

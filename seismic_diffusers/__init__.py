"""seismic_diffusers: diffusers-style pretrained pipelines for seismology."""

import os as _os
import sys as _sys

from .version import __version__  # noqa: F401

# The command line (`seismic-diffusers`, `python -m seismic_diffusers`) runs its torch work with a
# passive OpenMP wait policy unless the user chose one: spinning threads made `make-dataset` 100x
# slower beside another torch process on 2 cores (79 s against 0.8 s for 2 pairs). OpenMP reads
# the variable when torch loads, so it is set here, before the imports below load torch.
if _os.path.basename(_sys.argv[0] if _sys.argv else "") in ("seismic-diffusers", "-m"):
    _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
    FamilyClassifierConfig,
    load_family_classifier,
    openfwi_map_metrics,
    predict_families,
    train_family_classifier,
    velocity_frechet_distance,
    velocity_map_statistics,
)
from .models import (
    InversionNetEnsembleModel,
    InversionNetModel,
    JointVQModel,
    LatentForwardOperator,
    SeismogramSpectralMaskModel,
    SeismogramUNet1DModel,
    SpectrogramAutoencoder,
    SpectrogramVAE,
    VelocityUNet2DModel,
    WaveformLatentDenoiser,
)
from .physics import OPENFWI, AcquisitionGeometry, forward_model, full_waveform_inversion, pde_deviation
from .pipelines import (
    ColdDiffusionDenoisePipeline,
    ConditionalWaveformPipeline,
    JointGenerationOutput,
    JointGenerationPipeline,
    JointInversionOutput,
    SeismogramDenoiseOutput,
    VelocityGenerationPipeline,
    VelocityInversionOutput,
    VelocityInversionPipeline,
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
    "InversionNetEnsembleModel",
    "InversionNetModel",
    "JointVQModel",
    "LatentForwardOperator",
    "SeismogramDenoiseOutput",
    "SeismogramProcessor",
    "SeismogramSpectralMaskModel",
    "SeismogramUNet1DModel",
    "SpectrogramAutoencoder",
    "SpectrogramVAE",
    "OPENFWI",
    "AcquisitionGeometry",
    "VELOCITY_FAMILIES",
    "FamilyClassifier",
    "FamilyClassifierConfig",
    "load_family_classifier",
    "OpenFWIDataset",
    "SyntheticVelocityDataset",
    "VelocityAugmentation",
    "VelocityFolderDataset",
    "VelocityGenerationPipeline",
    "VelocityInversionOutput",
    "VelocityInversionPipeline",
    "VelocityPipelineOutput",
    "VelocityProcessor",
    "WaveformSpectrogram",
    "VelocityUNet2DModel",
    "WaveformLatentDenoiser",
    "forward_model",
    "full_waveform_inversion",
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

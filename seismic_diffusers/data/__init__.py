"""Velocity-model data: synthetic OpenFWI-like families, the OpenFWI reader, augmentation."""

from .augmentation import VelocityAugmentation
from .openfwi import OpenFWIDataset, save_openfwi_file
from .paired import make_paired_dataset
from .synthetic import SyntheticVelocityDataset
from .velocity_families import VELOCITY_FAMILIES, check_family, generate_velocity_models

__all__ = [
    "VELOCITY_FAMILIES",
    "OpenFWIDataset",
    "SyntheticVelocityDataset",
    "VelocityAugmentation",
    "check_family",
    "generate_velocity_models",
    "make_paired_dataset",
    "save_openfwi_file",
]

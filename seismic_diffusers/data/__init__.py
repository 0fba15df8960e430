"""Data: synthetic OpenFWI-like velocity families, the OpenFWI reader, augmentation, and
three-component seismograms (synthetic events and noise, STEAD and miniSEED readers, denoising pairs)."""

from .augmentation import VelocityAugmentation
from .denoising_pairs import DenoisingPairDataset, scale_noise_to_snr, synthetic_denoising_dataset
from .miniseed_folders import read_miniseed_folder, write_miniseed_folder
from .openfwi import OpenFWIDataset, save_openfwi_file
from .paired import make_paired_dataset, open_paired_folders, split_paired
from .random_geology import RANDOM_GEOLOGY, generate_random_geology
from .stead import COMPONENTS, read_stead
from .synthetic import SyntheticVelocityDataset
from .synthetic_seismograms import generate_local_earthquakes, generate_seismic_noise, peterson_velocity_psd
from .velocity_families import VELOCITY_FAMILIES, check_family, generate_velocity_models
from .velocity_folder import VelocityFolderDataset

__all__ = [
    "COMPONENTS",
    "RANDOM_GEOLOGY",
    "VELOCITY_FAMILIES",
    "DenoisingPairDataset",
    "OpenFWIDataset",
    "SyntheticVelocityDataset",
    "VelocityAugmentation",
    "VelocityFolderDataset",
    "check_family",
    "generate_local_earthquakes",
    "generate_random_geology",
    "generate_seismic_noise",
    "generate_velocity_models",
    "make_paired_dataset",
    "open_paired_folders",
    "peterson_velocity_psd",
    "read_miniseed_folder",
    "read_stead",
    "save_openfwi_file",
    "scale_noise_to_snr",
    "split_paired",
    "synthetic_denoising_dataset",
    "write_miniseed_folder",
]

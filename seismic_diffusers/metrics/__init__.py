"""Quality metrics: generated and inverted velocity models, and (denoised) seismograms."""

from ..models.family_classifier import FamilyClassifierConfig, FamilyClassifierOutput
from .velocity import (
    FAMILY_CLASSIFIER_PATH,
    FamilyClassifier,
    load_family_classifier,
    openfwi_map_metrics,
    predict_families,
    train_family_classifier,
    velocity_frechet_distance,
    velocity_map_statistics,
)
from .waveform import (
    PICK_METHODS,
    PICKER_PARAMETERS,
    oracle_mask_estimate,
    pearson_correlation,
    pick_error_and_recall,
    pick_phases,
    reconstruction_snr_db,
    snr_db,
)

__all__ = [
    "PICKER_PARAMETERS",
    "PICK_METHODS",
    "FAMILY_CLASSIFIER_PATH",
    "FamilyClassifier",
    "FamilyClassifierConfig",
    "FamilyClassifierOutput",
    "load_family_classifier",
    "openfwi_map_metrics",
    "oracle_mask_estimate",
    "pearson_correlation",
    "pick_error_and_recall",
    "pick_phases",
    "predict_families",
    "reconstruction_snr_db",
    "snr_db",
    "train_family_classifier",
    "velocity_frechet_distance",
    "velocity_map_statistics",
]

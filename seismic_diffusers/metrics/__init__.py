"""Quality metrics: generated and inverted velocity models, and (denoised) seismograms."""

from .velocity import (
    FamilyClassifier,
    openfwi_map_metrics,
    predict_families,
    train_family_classifier,
    velocity_frechet_distance,
    velocity_map_statistics,
)
from .waveform import (
    PICK_METHODS,
    PICKER_PARAMETERS,
    pearson_correlation,
    pick_error_and_recall,
    pick_phases,
    reconstruction_snr_db,
    snr_db,
)

__all__ = [
    "PICKER_PARAMETERS",
    "PICK_METHODS",
    "FamilyClassifier",
    "openfwi_map_metrics",
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

"""Quality metrics for generated and inverted velocity models."""

from .velocity import (
    FamilyClassifier,
    openfwi_map_metrics,
    predict_families,
    train_family_classifier,
    velocity_frechet_distance,
)

__all__ = [
    "FamilyClassifier",
    "openfwi_map_metrics",
    "predict_families",
    "train_family_classifier",
    "velocity_frechet_distance",
]

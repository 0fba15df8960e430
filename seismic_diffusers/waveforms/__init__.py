"""Earthquake waveform datasets: catalogue and picks, quality metrics, preprocessing, synthetic records.

Also the dataset builder behind `seismic-diffusers build-waveform-dataset` and the reconstruction
scores of the spectrogram models."""

from .catalog import CatalogEvent, read_catalog, read_picks
from .dataset import build_waveform_dataset, load_training_records, read_processed, write_processed
from .evaluation import reconstruction_scores
from .preprocessing import BANDPASS_TABLE, MAGNITUDE_BINS, bandpass_for, preprocess
from .quality import passes_quality, record_quality, snr
from .synthetic import SYNTHETIC_STATIONS, generate_marmara_records, hypocentral_distance_km

__all__ = [
    "BANDPASS_TABLE",
    "MAGNITUDE_BINS",
    "SYNTHETIC_STATIONS",
    "CatalogEvent",
    "bandpass_for",
    "build_waveform_dataset",
    "load_training_records",
    "generate_marmara_records",
    "hypocentral_distance_km",
    "passes_quality",
    "preprocess",
    "read_catalog",
    "read_picks",
    "read_processed",
    "reconstruction_scores",
    "record_quality",
    "snr",
    "write_processed",
]

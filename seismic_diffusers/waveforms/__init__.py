"""Earthquake waveforms in the Marmara workflow (seed 003): catalogue and picks, quality metrics,
the preprocessing chain, and the dataset builder behind `seismic-diffusers build-waveform-dataset`."""

from .catalog import CatalogEvent, read_catalog, read_picks
from .dataset import build_waveform_dataset, read_processed, write_processed
from .preprocessing import BANDPASS_TABLE, MAGNITUDE_BINS, bandpass_for, preprocess
from .quality import passes_quality, record_quality, snr

__all__ = [
    "BANDPASS_TABLE",
    "MAGNITUDE_BINS",
    "CatalogEvent",
    "bandpass_for",
    "build_waveform_dataset",
    "passes_quality",
    "preprocess",
    "read_catalog",
    "read_picks",
    "read_processed",
    "record_quality",
    "snr",
    "write_processed",
]

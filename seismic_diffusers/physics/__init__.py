"""Acoustic physics: acquisition geometry, forward modelling (deepwave or OpenFWI's scheme), FWI, PDE deviation."""

from .analytic import homogeneous_trace
from .deviation import pde_deviation
from .forward import BACKENDS, check_velocity, forward_model
from .fwi import FWIResult, check_gathers, full_waveform_inversion, gather_misfit
from .geometry import CRITICAL_COURANT_NUMBER, OPENFWI, AcquisitionGeometry, ricker_wavelet
from .normalization import (
    OPENFWI_DATA_LIMITS,
    POOLED_DATA_LIMITS,
    agc_gain,
    agc_misfit,
    data_limits,
    denormalize_seismic,
    log_transform,
    normalize_seismic,
)

__all__ = [
    "BACKENDS",
    "CRITICAL_COURANT_NUMBER",
    "OPENFWI",
    "OPENFWI_DATA_LIMITS",
    "POOLED_DATA_LIMITS",
    "AcquisitionGeometry",
    "FWIResult",
    "agc_gain",
    "agc_misfit",
    "check_gathers",
    "check_velocity",
    "data_limits",
    "denormalize_seismic",
    "forward_model",
    "full_waveform_inversion",
    "gather_misfit",
    "homogeneous_trace",
    "log_transform",
    "normalize_seismic",
    "pde_deviation",
    "ricker_wavelet",
]

"""OpenFWI's seismic normalisation: published limits map to +-1 and the transform inverts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seismic_diffusers.physics import OPENFWI_DATA_LIMITS, data_limits, denormalize_seismic, normalize_seismic


def test_family_limits_map_to_plus_minus_one():
    low, high = OPENFWI_DATA_LIMITS["flatvel-a"]
    assert (low, high) == (-26.95, 52.77)
    np.testing.assert_allclose(normalize_seismic(np.array([low, 0.0, high]), "flatvel-a")[[0, 2]], [-1, 1])


def test_round_trip_numpy_and_torch():
    x = np.linspace(-30, 60, 101)
    np.testing.assert_allclose(
        denormalize_seismic(normalize_seismic(x, "curvefault-b"), "curvefault-b"), x, atol=1e-9
    )
    t = torch.linspace(-30, 60, 101, dtype=torch.float64)
    back = denormalize_seismic(normalize_seismic(t), None)
    assert isinstance(back, torch.Tensor)
    torch.testing.assert_close(back, t)


def test_unknown_family_lists_choices():
    with pytest.raises(ValueError, match="Valid families: flatvel-a, flatvel-b"):
        data_limits("saltdome")

"""OpenFWI's seismic normalisation: published limits map to +-1 and the transform inverts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seismic_diffusers.physics import (
    OPENFWI_DATA_LIMITS,
    agc_gain,
    agc_misfit,
    data_limits,
    denormalize_seismic,
    normalize_seismic,
)


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


def test_agc_gain_levels_a_strong_early_and_a_weak_late_arrival():
    """After the gain (with a low floor), an arrival 60x weaker than the first has about the same
    peak; silence before the first break stays bounded by the floor (default 0.1 of the RMS)."""
    t = torch.arange(1000.0)
    trace = 60 * torch.exp(-(((t - 150) / 10) ** 2)) + torch.exp(-(((t - 700) / 10) ** 2))
    gather = trace[None, :, None].repeat(2, 1, 3)  # (shots, time, receivers)
    gained = agc_gain(gather, window=51, floor=0.01) * gather
    early, late = gained[0, 100:200, 0].abs().max(), gained[0, 650:750, 0].abs().max()
    assert 0.8 < float(late / early) < 1.25
    assert gained.shape == gather.shape
    rms = float(gather.pow(2).mean().sqrt())
    assert float(agc_gain(gather, window=51)[0, :50].max()) == pytest.approx(1 / (0.1 * rms), rel=1e-4)
    assert torch.equal(agc_gain(torch.zeros(1, 100, 2), window=11), torch.zeros(1, 100, 2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"window": 10}, "odd number"), ({"window": 0}, "odd number"), ({"floor": 0.0}, "floor")],
)
def test_agc_gain_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        agc_gain(torch.ones(1, 100, 2), **kwargs)
    with pytest.raises(ValueError, match="time and receiver axes"):
        agc_gain(torch.ones(100))


def test_agc_misfit_weighs_a_late_error_like_an_early_one():
    """0 for a perfect fit, 1 for silence; missing a reflection 60x weaker than the direct wave costs
    about as much as missing the direct wave (a raw-amplitude misfit would hardly see it)."""
    t = torch.arange(1000.0)
    early, late = 60 * torch.exp(-(((t - 150) / 10) ** 2)), torch.exp(-(((t - 700) / 10) ** 2))
    reference = (early + late)[None, :, None].repeat(2, 1, 3)
    assert float(agc_misfit(reference, reference)) == 0.0
    assert float(agc_misfit(torch.zeros_like(reference), reference)) == pytest.approx(1.0)
    no_late = early[None, :, None].repeat(2, 1, 3)
    no_early = late[None, :, None].repeat(2, 1, 3)
    missed_late = float(agc_misfit(no_late, reference, window=51, floor=0.01))
    missed_early = float(agc_misfit(no_early, reference, window=51, floor=0.01))
    assert 0.6 < missed_late / missed_early < 1.6
    raw = float((no_late - reference).pow(2).sum() / reference.pow(2).sum())
    assert raw < 1e-3 < missed_late
    with pytest.raises(ValueError, match="differ"):
        agc_misfit(reference[:1], reference)

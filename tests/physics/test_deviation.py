"""pde_deviation: zero for true solutions, growing with the size of the violation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seismic_diffusers.data import generate_velocity_models
from seismic_diffusers.physics import AcquisitionGeometry, forward_model, pde_deviation

GEOMETRY = AcquisitionGeometry(nt=400, source_x=[0, 34, 69])


@pytest.fixture(scope="module")
def pairs():
    velocity = generate_velocity_models("curvefault-a", 3, seed=2)
    return velocity, forward_model(velocity, GEOMETRY)


def test_exact_solutions_have_zero_deviation(pairs):
    velocity, seismic = pairs
    deviation = pde_deviation(velocity, seismic, GEOMETRY, family="curvefault-a")
    assert deviation.shape == (3,) and deviation.dtype == np.float32
    assert np.all(deviation < 1e-10)


def test_deviation_grows_with_noise_and_with_a_wrong_velocity(pairs):
    velocity, seismic = pairs
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(seismic.shape).astype(np.float32)
    small, large = (pde_deviation(velocity, seismic + s * noise, GEOMETRY) for s in (0.05, 0.5))
    assert np.all(small > 1e-6) and np.all(large > 5 * small)
    # Seismic of a 10 % slower medium: a physically wrong pair.
    wrong = pde_deviation(velocity * 0.9, seismic, GEOMETRY)
    assert np.all(wrong > 1e-4)


def test_torch_input_gives_torch_output(pairs):
    velocity, seismic = pairs
    deviation = pde_deviation(torch.from_numpy(velocity[:1]), torch.from_numpy(seismic[0]), GEOMETRY)
    assert isinstance(deviation, torch.Tensor) and deviation.shape == (1,)


def test_mismatched_or_bad_seismic_is_refused(pairs):
    velocity, seismic = pairs
    with pytest.raises(ValueError, match=r"seismic must have shape \(3, 400, 70\)"):
        pde_deviation(velocity, seismic[:, :, :100], GEOMETRY)
    with pytest.raises(ValueError, match="velocity holds 2 maps but seismic holds 3"):
        pde_deviation(velocity[:2], seismic, GEOMETRY)
    bad = seismic.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="seismic contains NaN"):
        pde_deviation(velocity, bad, GEOMETRY)
    with pytest.raises(ValueError, match="No OpenFWI data limits for family 'salt'"):
        pde_deviation(velocity, seismic, GEOMETRY, family="salt")


def test_precomputed_simulation_gives_the_same_deviation_and_is_checked():
    from seismic_diffusers import forward_model, generate_velocity_models, pde_deviation

    velocity = generate_velocity_models("flatfault-a", 2, seed=8)
    simulated = forward_model(velocity)
    noisy = simulated + 0.5
    np.testing.assert_allclose(
        pde_deviation(velocity, noisy, simulated=simulated), pde_deviation(velocity, noisy)
    )
    with pytest.raises(ValueError, match=r"simulated must have shape \(B, 5, 1000, 70\)"):
        pde_deviation(velocity, noisy, simulated=simulated[:, :, :10])

"""`full_waveform_inversion` and `gather_misfit`: Adam through deepwave lowers the misfit, masks and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seismic_diffusers.physics import (
    AcquisitionGeometry,
    check_gathers,
    forward_model,
    full_waveform_inversion,
)
from seismic_diffusers.physics.fwi import gather_misfit

SMALL = AcquisitionGeometry(grid_shape=(24, 24), nt=300, source_x=[2, 12, 21], pml_width=10)


def two_layer_map(interface: int = 12, fast: float = 3000.0) -> torch.Tensor:
    velocity = torch.full((24, 24), 2000.0)
    velocity[interface:] = fast
    return velocity


@pytest.fixture(scope="module")
def observed():
    return forward_model(two_layer_map()[None], SMALL)


def test_fwi_lowers_the_misfit_and_moves_towards_the_truth(observed):
    start = torch.full((1, 24, 24), 2000.0)
    result = full_waveform_inversion(start, observed, SMALL, iterations=6, learning_rate=40.0)
    history = result.misfit_history[:, 0]
    assert history.shape == (7,) and result.velocity.shape == (1, 24, 24)
    assert float(history[-1]) < 0.7 * float(history[0])
    # a velocity step appears at the interface's depth (rows 12-14 faster than rows 9-11): the
    # reflection is fitted where it comes from
    rows = result.velocity[0].mean(dim=1)
    assert float(rows[12:15].mean() - rows[9:12].mean()) > 200.0
    assert float(result.velocity.min()) >= SMALL.min_velocity
    assert float(result.velocity.max()) <= SMALL.config.max_velocity


def test_the_true_map_has_zero_misfit_and_numpy_input_works(observed):
    result = full_waveform_inversion(two_layer_map().numpy(), observed.numpy(), SMALL, iterations=0)
    assert float(result.misfit_history[0, 0]) < 1e-10


def test_masked_traces_do_not_count(observed):
    mask = np.ones((3, 24), dtype=bool)
    mask[1, 5] = False  # a dead trace on the second shot
    corrupted = observed.clone()
    corrupted[0, 1, :, 5] = 1e3
    data, weights = check_gathers(corrupted, SMALL, mask)
    clean_data, _ = check_gathers(observed, SMALL, mask)
    start = torch.full((1, 24, 24), 2200.0)
    assert torch.allclose(
        gather_misfit(start, data, weights, SMALL), gather_misfit(start, clean_data, weights, SMALL)
    )
    unmasked_data, all_traces = check_gathers(corrupted, SMALL)
    assert not torch.allclose(
        gather_misfit(start, unmasked_data, all_traces, SMALL), gather_misfit(start, data, weights, SMALL)
    )


def test_maps_go_through_deepwave_a_few_at_a_time_with_the_result_of_one_batch(observed, monkeypatch):
    import seismic_diffusers.physics.fwi as fwi

    count = 5  # two full chunks of two and a partial one
    start = torch.full((count, 24, 24), 2200.0) + torch.arange(count)[:, None, None] * 50.0
    data = observed.expand(count, -1, -1, -1)
    kwargs = dict(iterations=2, learning_rate=30.0)
    whole = full_waveform_inversion(start, data, SMALL, maps_per_simulation=count, **kwargs)
    simulated = []

    def counting_forward_model(velocity, geometry):
        simulated.append(velocity.shape[0])
        return forward_model(velocity, geometry)

    monkeypatch.setattr(fwi, "forward_model", counting_forward_model)
    chunked = full_waveform_inversion(start, data, SMALL, maps_per_simulation=2, **kwargs)
    assert simulated == [2, 2, 1] * 3  # two iterations and the final misfit
    torch.testing.assert_close(chunked.velocity, whole.velocity, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(chunked.misfit_history, whole.misfit_history, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(seismic=torch.zeros(1, 3, 299, 24)), "seismic must have shape"),
        (dict(seismic=torch.full((1, 3, 300, 24), float("nan"))), "NaN or Inf"),
        (dict(seismic=torch.zeros(1, 3, 300, 24)), "no signal"),
        (dict(trace_mask=torch.ones(3, 23)), "trace_mask must have shape"),
        (dict(trace_mask=torch.full((3, 24), 0.5)), "only 0"),
        (dict(trace_mask=torch.zeros(3, 24)), "no signal"),
        (dict(start=torch.full((2, 24, 24), 2000.0)), "2 starting maps for 1 gathers"),
        (dict(start=torch.full((1, 24, 24), 9000.0)), "max_velocity"),
        (dict(iterations=-1), "iterations"),
        (dict(iterations=2.5), "iterations"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(learning_rate=float("nan")), "learning_rate"),
        (dict(learning_rate="20"), "learning_rate"),
        (dict(velocity_range=(1000.0, 3000.0)), "velocity_range"),
        (dict(maps_per_simulation=0), "maps_per_simulation"),
        (dict(maps_per_simulation=1.5), "maps_per_simulation"),
    ],
)
def test_bad_input_is_refused_before_any_simulation(observed, change, message, monkeypatch):
    import seismic_diffusers.physics.fwi as fwi

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated before the input was checked")

    monkeypatch.setattr(fwi, "forward_model", no_simulation)
    arguments = dict(
        start=torch.full((1, 24, 24), 2000.0), seismic=observed, iterations=1, learning_rate=10.0
    )
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        full_waveform_inversion(geometry=SMALL, **arguments)

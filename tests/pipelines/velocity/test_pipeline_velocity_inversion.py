"""VelocityInversionPipeline: shapes, data steps that lower the misfit, masks, loading, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler

import seismic_diffusers.physics.fwi as fwi_module
from seismic_diffusers import (
    OPENFWI,
    AcquisitionGeometry,
    InversionNetEnsembleModel,
    InversionNetModel,
    VelocityInversionPipeline,
    VelocityProcessor,
    forward_model,
)
from seismic_diffusers.pipelines.pipeline_velocity_inversion import mirrors_onto_itself
from seismic_diffusers.utils.configs import public_config

GRID = 24
SMALL = AcquisitionGeometry(grid_shape=(GRID, GRID), nt=300, source_x=[2, 12, 21], pml_width=10)


@pytest.fixture(scope="module")
def tiny_inversion_pipeline(make_tiny_inversion_pipeline):
    # public keys only: saving a pipeline adds `_class_name` and `_diffusers_version` to the shared geometry
    public = [public_config(g.config) for g in (make_tiny_inversion_pipeline.geometry, SMALL)]
    assert public[0] == public[1]
    return make_tiny_inversion_pipeline


def layered_maps(count: int = 2) -> torch.Tensor:
    maps = torch.full((count, GRID, GRID), 2000.0)
    for i in range(count):
        maps[i, 10 + 2 * i :] = 3000.0
    return maps


@pytest.fixture(scope="module")
def pipe(tiny_inversion_pipeline):
    return tiny_inversion_pipeline()


@pytest.fixture(scope="module")
def observed():
    return np.asarray(forward_model(layered_maps(), SMALL))


FAST = dict(num_inference_steps=2, strength=0.3, refine_iterations=1)


def test_outputs_have_the_documented_shapes_and_units(pipe, observed):
    out = pipe(observed, num_samples=3, generator=torch.Generator().manual_seed(0), **FAST)
    assert out.velocities.shape == (2, GRID, GRID) and out.std.shape == (2, GRID, GRID)
    assert out.samples.shape == (2, 3, GRID, GRID) and out.data_misfit.shape == (2, 3)
    assert all(x.dtype == np.float32 for x in (out.velocities, out.std, out.samples, out.data_misfit))
    assert 1500.0 <= out.samples.min() and out.samples.max() <= 4500.0
    np.testing.assert_allclose(out.velocities, out.samples.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(out.std, out.samples.std(axis=1), rtol=1e-4, atol=1e-3)
    assert out.std.mean() > 0  # the samples differ
    assert ((out.data_misfit > 0) & (out.data_misfit < 2)).all()
    single = pipe(observed[0], num_samples=1, output_type="pt", return_dict=False, **FAST)
    assert isinstance(single[0], torch.Tensor) and single[0].shape == (1, GRID, GRID)
    assert float(single[1].abs().max()) == 0.0  # one sample: no spread


def test_same_generator_same_result_and_per_gather_generators(pipe, observed):
    def run(data, seeds):
        generators = [torch.Generator().manual_seed(s) for s in seeds]
        return pipe(data, num_samples=2, generator=generators, **FAST).samples

    both = run(observed, [1, 2])
    np.testing.assert_allclose(both, run(observed, [1, 2]))
    np.testing.assert_allclose(
        both[1:], run(observed[1:], [2]), atol=0.5
    )  # a gather does not depend on its batch


def test_data_steps_lower_the_misfit(pipe, observed):
    settings = dict(num_samples=2, num_inference_steps=3, strength=0.5)
    prior_only = pipe(
        observed,
        data_iterations=0,
        refine_iterations=0,
        generator=torch.Generator().manual_seed(0),
        **settings,
    )
    with_data = pipe(
        observed, data_iterations=2, data_learning_rate=40.0, refine_iterations=3, refine_learning_rate=40.0,
        generator=torch.Generator().manual_seed(0), **settings,
    )  # fmt: skip
    assert float(with_data.data_misfit.mean()) < 0.8 * float(prior_only.data_misfit.mean())


def test_masked_traces_do_not_count(pipe, observed):
    mask = np.ones(SMALL.data_shape[::2], dtype=bool)
    mask[:, ::3] = False
    zeroed = observed * mask[:, None, :]
    garbage = zeroed.copy()
    garbage[:, :, :, ~mask[0]] = 1e3  # every shot has the same dead receivers
    runs = [
        pipe(data, trace_mask=mask, num_samples=1, generator=torch.Generator().manual_seed(0), **FAST)
        for data in (zeroed, garbage)
    ]
    np.testing.assert_allclose(runs[0].samples, runs[1].samples, atol=1e-3)
    np.testing.assert_allclose(runs[0].data_misfit, runs[1].data_misfit, rtol=1e-4)


def test_mirrors_onto_itself_needs_sources_and_receivers_at_their_mirror_images():
    assert mirrors_onto_itself(OPENFWI)  # the middle shot, x = 34 of 0-69, is one cell off
    assert mirrors_onto_itself(SMALL)
    assert not mirrors_onto_itself(OPENFWI, tolerance_cells=0)
    assert not mirrors_onto_itself(AcquisitionGeometry(source_x=[0, 20]))
    assert not mirrors_onto_itself(AcquisitionGeometry(source_x=[69, 0]))  # shots listed right to left
    assert not mirrors_onto_itself(AcquisitionGeometry(receiver_x=list(range(0, 40))))


def test_the_mirrored_start_averages_the_network_over_the_mirrored_gathers(pipe, observed):
    data, mask = torch.as_tensor(observed), torch.ones(2, 3, 1, GRID)
    plain = pipe.starting_maps(data, mask, [8, 8], mirror=False)
    mirrored_data = pipe.starting_maps(data.flip(1).flip(3), mask, [8, 8], mirror=False).flip(3)
    averaged = pipe.starting_maps(data, mask, [8, 8])
    np.testing.assert_allclose(averaged.numpy(), (0.5 * (plain + mirrored_data)).numpy(), atol=1e-5)
    assert float((averaged - plain).abs().max()) > 0  # the untrained network is not symmetric


def test_without_a_network_the_start_is_the_prior_profile(tiny_inversion_pipeline, observed):
    pipe = tiny_inversion_pipeline(with_network=False)
    start = pipe.starting_maps(torch.as_tensor(observed), torch.ones(2, 3, 1, GRID), [8, 8])
    assert start.shape == (2, 1, GRID, GRID)
    profile = pipe.processor.denormalize(start[0, 0, :, 0])
    np.testing.assert_allclose(profile.numpy(), np.linspace(1800.0, 3500.0, GRID), rtol=1e-5)
    out = pipe(observed, num_samples=1, **FAST)
    assert np.isfinite(out.velocities).all()
    no_prior = VelocityInversionPipeline(
        unet=pipe.unet, scheduler=pipe.scheduler, processor=VelocityProcessor(), geometry=SMALL
    )
    with pytest.raises(ValueError, match="no starting map"):
        no_prior(observed, **FAST)


def test_save_and_load_round_trip_and_a_velocity_generation_folder(pipe, observed, tmp_path):
    pipe.save_pretrained(tmp_path / "inversion")
    loaded = VelocityInversionPipeline.from_pretrained(tmp_path / "inversion")
    assert loaded.geometry.config.nt == SMALL.config.nt and loaded.inversion_net is not None
    loaded.set_progress_bar_config(disable=True)
    kwargs = dict(num_samples=1, generator=torch.Generator().manual_seed(3), **FAST)
    np.testing.assert_allclose(
        loaded(observed, **kwargs).samples,
        pipe(observed, **dict(kwargs, generator=torch.Generator().manual_seed(3))).samples,
        atol=1e-3,
    )


def test_an_ensemble_of_networks_gives_the_mean_start_and_loads_back(pipe, observed, tmp_path):
    torch.manual_seed(1)
    other = InversionNetModel.from_config(pipe.inversion_net.config).eval()  # fresh weights
    ensemble = InversionNetEnsembleModel.from_members([pipe.inversion_net, other]).eval()
    both = VelocityInversionPipeline(
        unet=pipe.unet,
        scheduler=pipe.scheduler,
        processor=pipe.processor,
        inversion_net=ensemble,
        geometry=SMALL,
    )
    data, mask = torch.as_tensor(observed), torch.ones(2, 3, 1, GRID)
    starts = [
        VelocityInversionPipeline(
            unet=pipe.unet,
            scheduler=pipe.scheduler,
            processor=pipe.processor,
            inversion_net=net,
            geometry=SMALL,
        ).starting_maps(data, mask, [8, 8])
        for net in (pipe.inversion_net, other)
    ]
    torch.testing.assert_close(both.starting_maps(data, mask, [8, 8]), (starts[0] + starts[1]) / 2)
    both.save_pretrained(tmp_path / "ensemble")
    loaded = VelocityInversionPipeline.from_pretrained(tmp_path / "ensemble")
    assert isinstance(loaded.inversion_net, InversionNetEnsembleModel)
    torch.testing.assert_close(
        loaded.starting_maps(data, mask, [8, 8]), both.starting_maps(data, mask, [8, 8])
    )


def test_std_is_the_spread_calibrated_by_scale_and_depth_floor_and_is_saved(pipe, observed, tmp_path):
    kwargs = dict(num_samples=2, **FAST)
    raw = pipe(observed, generator=torch.Generator().manual_seed(4), **kwargs)
    calibrated = VelocityInversionPipeline(**pipe.components, std_scale=2.5, std_floor=(30.0, 99.0))
    calibrated.set_progress_bar_config(disable=True)
    out = calibrated(observed, generator=torch.Generator().manual_seed(4), **kwargs)
    np.testing.assert_allclose(out.samples, raw.samples, atol=1e-4)
    floor = np.linspace(30.0, 99.0, GRID)[:, None]  # m/s, top row to bottom row
    np.testing.assert_allclose(out.std, np.sqrt((2.5 * raw.std) ** 2 + floor**2), rtol=1e-4, atol=1e-3)
    calibrated.save_pretrained(tmp_path / "calibrated")
    loaded = VelocityInversionPipeline.from_pretrained(tmp_path / "calibrated")
    assert loaded.config.std_scale == 2.5 and list(loaded.config.std_floor) == [30.0, 99.0]
    assert pipe.config.std_scale == 1.0 and list(pipe.config.std_floor) == [0.0, 0.0]  # the raw spread
    bad_settings = [
        dict(std_scale=0.0),
        dict(std_scale=float("nan")),
        dict(std_floor=(-1.0, 0.0)),
        dict(std_floor=(1.0,)),
        dict(std_floor=5.0),
        dict(std_floor=("a", "b")),
    ]
    for bad in bad_settings:
        with pytest.raises(ValueError, match="std_"):
            VelocityInversionPipeline(**pipe.components, **bad)


def test_loads_the_velocity_generators_folder(tiny_velocity_pipeline_dir):
    pipe = VelocityInversionPipeline.from_pretrained(tiny_velocity_pipeline_dir)
    assert pipe.inversion_net is None and pipe.geometry is None
    assert pipe.acquisition.data_shape == (5, 1000, 70)  # OpenFWI's, when no geometry is saved


def test_a_scheduler_without_custom_timesteps_is_refused(pipe):
    with pytest.raises(ValueError, match="timesteps"):
        VelocityInversionPipeline(unet=pipe.unet, scheduler=DDIMScheduler(), processor=pipe.processor)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(seismic=np.full((3, 300, 24), np.nan)), "NaN"),
        (dict(seismic=np.zeros((3, 300, 20))), "shape"),
        (dict(trace_mask=np.ones((3, 5))), "trace_mask"),
        (dict(family="no-such-family"), "family|Family"),
        (dict(num_samples=0), "num_samples"),
        (dict(num_inference_steps=0), "num_inference_steps"),
        (dict(strength=1.5), "strength"),
        (dict(data_iterations=-1), "data_iterations"),
        (dict(start_iterations=1.5), "start_iterations"),
        (dict(refine_learning_rate=float("nan")), "refine_learning_rate"),
        (dict(generator=[torch.Generator()] * 3), "generators"),
        (dict(output_type="pil"), "output_type"),
        (dict(mirror_start="no"), "mirror_start"),
    ],
)
def test_bad_input_is_refused_before_any_simulation(pipe, observed, change, message, monkeypatch):
    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated before the checks")

    monkeypatch.setattr(fwi_module, "forward_model", no_simulation)
    arguments = dict(seismic=observed, **FAST) | change
    with pytest.raises(ValueError, match=message):
        pipe(**arguments)


@pytest.mark.parametrize(
    "geometry, message",
    [
        (AcquisitionGeometry(grid_shape=(30, 30), nt=300, source_x=[2, 12], pml_width=10), "grid"),
        (AcquisitionGeometry(grid_shape=(GRID, GRID), nt=300, source_x=[2, 12], max_velocity=4000.0), "CFL"),
    ],
)
def test_a_geometry_off_the_priors_grid_or_range_is_refused(
    tiny_inversion_pipeline, geometry, message, monkeypatch
):
    pipe = tiny_inversion_pipeline(with_network=False, geometry=geometry)
    monkeypatch.setattr(fwi_module, "forward_model", lambda *a, **k: pytest.fail("simulated"))
    with pytest.raises(ValueError, match=message):
        pipe(np.ones(geometry.data_shape), **FAST)

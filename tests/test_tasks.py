"""`seismic_diffusers.tasks`: the velocity-generation steps the CLI and the Space share (tiny pipeline, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from seismic_diffusers.tasks import (
    generate_velocity_maps,
    map_generators,
    plot_velocity_maps,
    velocity_sampling_pipeline,
)

STEPS = 2


@pytest.fixture
def pipe(tiny_velocity_pipeline):
    sampler = velocity_sampling_pipeline(tiny_velocity_pipeline)
    sampler.set_progress_bar_config(disable=True)
    return sampler


def test_sampling_pipeline_shares_the_model_and_owns_its_scheduler(tiny_velocity_pipeline):
    own = velocity_sampling_pipeline(tiny_velocity_pipeline)
    assert own.unet is tiny_velocity_pipeline.unet and own.processor is tiny_velocity_pipeline.processor
    assert own.sampling_defaults == tiny_velocity_pipeline.sampling_defaults
    assert own.scheduler is not tiny_velocity_pipeline.scheduler
    assert type(own.scheduler) is type(tiny_velocity_pipeline.scheduler)
    assert dict(own.scheduler.config) == dict(tiny_velocity_pipeline.scheduler.config)

    original = tiny_velocity_pipeline.scheduler
    assert isinstance(velocity_sampling_pipeline(tiny_velocity_pipeline, "ddim").scheduler, DDIMScheduler)
    assert isinstance(velocity_sampling_pipeline(tiny_velocity_pipeline, "ddpm").scheduler, DDPMScheduler)
    assert tiny_velocity_pipeline.scheduler is original  # left as it was
    with pytest.raises(ValueError, match="Unknown scheduler 'euler'"):
        velocity_sampling_pipeline(tiny_velocity_pipeline, "euler")


def test_map_i_uses_seed_plus_i():
    generators = map_generators(5, range(2, 4))
    assert [g.initial_seed() for g in generators] == [7, 8]
    assert torch.equal(
        torch.randn(3, generator=generators[0]), torch.randn(3, generator=torch.Generator().manual_seed(7))
    )


def test_maps_are_float32_m_per_s_and_what_the_pipeline_gives_for_those_generators(pipe):
    velocities = generate_velocity_maps(
        pipe, range(2), seed=3, family="curvefault-a", num_inference_steps=STEPS
    )
    assert velocities.shape == (2, 70, 70) and velocities.dtype == np.float32
    config = pipe.processor.config
    assert config.v_min <= velocities.min() and velocities.max() <= config.v_max
    direct = pipe(
        batch_size=2,
        family="curvefault-a",
        generator=[torch.Generator().manual_seed(s) for s in (3, 4)],
        num_inference_steps=STEPS,
        output_type="np",
    ).velocities
    np.testing.assert_array_equal(velocities, direct)


def test_a_chunk_of_a_run_gives_the_run_s_maps(pipe):
    """Chunks index the run's per-map families and seeds: maps 1-2 alone equal maps 1-2 of the whole run."""
    families = ["curvefault-a", "flatvel-a", None]
    whole = generate_velocity_maps(pipe, range(3), seed=0, family=families, num_inference_steps=STEPS)
    chunk = generate_velocity_maps(pipe, range(1, 3), seed=0, family=families, num_inference_steps=STEPS)
    assert chunk.shape == (2, 70, 70)
    # batched convolutions round differently: loosely, as tests/test_cli.py does
    np.testing.assert_allclose(chunk, whole[1:], atol=30.0)
    assert np.abs(chunk - whole[1:]).mean() < 0.1
    again = generate_velocity_maps(pipe, range(3), seed=0, family=families, num_inference_steps=STEPS)
    np.testing.assert_array_equal(again, whole)


def test_pipeline_errors_are_value_errors(pipe):
    with pytest.raises(ValueError, match="Unknown family 'granite'"):
        generate_velocity_maps(pipe, range(1), seed=0, family="granite", num_inference_steps=STEPS)


def test_plot_uses_the_processor_units(pipe, tmp_path, monkeypatch):
    import seismic_diffusers.utils.plotting as plotting

    seen = {}
    original = plotting.plot_velocity_grid

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(plotting, "plot_velocity_grid", spy)
    velocities = np.full((2, 70, 70), 3000.0, np.float32)
    path = plot_velocity_maps(
        pipe.processor, velocities, tmp_path / "maps.png", titles=["a", "b"], suptitle="t"
    )
    assert (tmp_path / "maps.png").read_bytes().startswith(b"\x89PNG") and path == str(tmp_path / "maps.png")
    config = pipe.processor.config
    assert (seen["grid_spacing"], seen["v_min"], seen["v_max"]) == (
        config.grid_spacing,
        config.v_min,
        config.v_max,
    )
    assert seen["titles"] == ["a", "b"] and seen["suptitle"] == "t"

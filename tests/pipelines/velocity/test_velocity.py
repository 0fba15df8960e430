"""Fast tests for `VelocityGenerationPipeline` (diffusers `FastTests` style: tiny seeded U-Net, CPU, 2 steps)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

from seismic_diffusers import (
    VELOCITY_FAMILIES,
    VelocityGenerationPipeline,
    VelocityPipelineOutput,
    VelocityProcessor,
    VelocityUNet2DModel,
)
from seismic_diffusers.schedulers.timestep_spacing import power_timesteps

REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED_PIPELINE = REPO_ROOT / "pipelines" / "openfwi-velocity-ddpm"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
V_MIN, V_MAX = 1500.0, 4500.0
EXPECTED_SLICES = {
    "default": [[4500.0, 4500.0, 4500.0], [4387.60, 4500.0, 4500.0], [4500.0, 4500.0, 4500.0]],
    "ddim": [[4500.0, 4500.0, 4500.0], [2984.87, 4499.55, 4499.56], [4291.20, 3282.09, 3415.27]],
}


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Tiny models run fastest on one thread; two threads on a busy 2-core machine are ~100x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def with_scheduler(pipe: VelocityGenerationPipeline, scheduler, **defaults) -> VelocityGenerationPipeline:
    """A new pipeline sharing `pipe`'s modules and `default_*` settings `defaults` (the session
    fixture must not be mutated)."""
    new = VelocityGenerationPipeline(
        unet=pipe.unet, scheduler=scheduler, processor=pipe.processor, **defaults
    )
    new.set_progress_bar_config(disable=True)
    return new


def generate(pipe, seed=0, **kwargs):
    kwargs.setdefault("num_inference_steps", 2)
    return pipe(generator=torch.Generator("cpu").manual_seed(seed), **kwargs)


def pickle_files(folder) -> list[str]:
    return [
        os.path.join(root, name)
        for root, _, names in os.walk(folder)
        for name in names
        if name.endswith(PICKLE_SUFFIXES)
    ]


@pytest.fixture(scope="module")
def ddim_pipeline(tiny_velocity_pipeline):
    """The tiny pipeline with DDIM on timesteps [500, 0].

    The shipped DPM-Solver++ starts at t = 999, where `squaredcos_cap_v2` has sqrt(alpha_bar) = 5e-5:
    the untrained model's x0 estimate is amplified ~2e4 times, so nearly every cell is clamped and
    float32 noise (thread count, batch composition) moves unclamped cells by several m/s. Starting at
    t = 500 keeps the numbers well conditioned (about 2e-3 m/s between 1 and 2 threads), so
    comparisons below can be tight.
    """
    config = tiny_velocity_pipeline.scheduler.config
    return with_scheduler(
        tiny_velocity_pipeline, DDIMScheduler.from_config(config, timestep_spacing="leading")
    )


def test_scaled_processor_clamps_to_its_own_range(tiny_velocity_pipeline):
    pipe = VelocityGenerationPipeline(
        unet=tiny_velocity_pipeline.unet,
        scheduler=tiny_velocity_pipeline.scheduler,
        processor=VelocityProcessor(scaling_factor=2.0),
    )
    pipe.set_progress_bar_config(disable=True)
    velocities = pipe(4, generator=torch.Generator().manual_seed(0), num_inference_steps=2).velocities
    assert 1500.0 <= velocities.min() and velocities.max() <= 4500.0
    # an untrained model's samples reach past [-1, 1]: a [-1, 1] clamp would pin them to 2250/3750
    assert velocities.min() < 2250.0 or velocities.max() > 3750.0


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_clip_prediction_clamps_the_implied_clean_map(tiny_velocity_pipeline, prediction_type):
    scheduler = DDIMScheduler.from_config(
        tiny_velocity_pipeline.scheduler.config, prediction_type=prediction_type, clip_sample=False
    )
    scheduler.set_timesteps(10)
    pipe = VelocityGenerationPipeline(
        unet=tiny_velocity_pipeline.unet, scheduler=scheduler, processor=VelocityProcessor(scaling_factor=2.0)
    )
    timestep = scheduler.timesteps[0]
    clean = torch.linspace(-3.0, 3.0, 70 * 70).reshape(1, 1, 70, 70)  # half of it inside +-2
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    noisy = scheduler.add_noise(clean, noise, timestep.reshape(1))
    exact = {"epsilon": noise, "sample": clean}.get(prediction_type)
    if exact is None:
        exact = scheduler.get_velocity(clean, noise, timestep.reshape(1))

    torch.testing.assert_close(pipe.clean_estimate(exact, noisy, timestep), clean, atol=1e-2, rtol=0)
    clipped = pipe.clip_prediction(exact, noisy, timestep)

    recovered = scheduler.step(clipped, timestep, noisy).pred_original_sample
    # float32: at high noise the epsilon form divides by alpha_bar ** 0.5 (~0.16 here)
    torch.testing.assert_close(recovered, clean.clamp(-2.0, 2.0), atol=1e-2, rtol=0)


def test_clip_sample_false_lets_maps_leave_the_range_until_the_end(tiny_velocity_pipeline):
    scheduler = DDIMScheduler.from_config(tiny_velocity_pipeline.scheduler.config, clip_sample=False)
    pipe = VelocityGenerationPipeline(
        unet=tiny_velocity_pipeline.unet, scheduler=scheduler, processor=tiny_velocity_pipeline.processor
    )
    pipe.set_progress_bar_config(disable=True)
    clipped = generate(pipe, batch_size=2, family="flatvel-a").velocities
    free = generate(pipe, batch_size=2, family="flatvel-a", clip_sample=False).velocities
    assert not np.allclose(clipped, free)
    assert 1500.0 <= free.min() and free.max() <= 4500.0  # the final clamp still holds


class TestVelocityPipelineFast:
    def test_output_shape_dtype_and_range(self, tiny_velocity_pipeline):
        out = generate(tiny_velocity_pipeline, batch_size=2, family="curvefault-a")
        assert isinstance(out, VelocityPipelineOutput)
        velocities = out.velocities
        assert isinstance(velocities, np.ndarray)
        assert velocities.shape == (2, 70, 70)
        assert velocities.dtype == np.float32
        assert out.images is None
        assert velocities.min() >= V_MIN and velocities.max() <= V_MAX

    @pytest.mark.parametrize("scheduler", ["default", "ddim"])
    def test_expected_slice(self, tiny_velocity_pipeline, ddim_pipeline, scheduler):
        pipe = tiny_velocity_pipeline if scheduler == "default" else ddim_pipeline
        velocities = generate(pipe, batch_size=1, family="flatvel-a").velocities
        # Bottom-right corner: the cells the U-Net sees next to its replicate padding.
        velocity_slice = velocities[0, -3:, -3:]
        # Recorded once with the conftest tiny pipeline (seed-0 weights, 2 steps, generator seed 0).
        # With the default DPM-Solver++ the untrained model saturates (see `ddim_pipeline`), so that
        # slice only pins the clamp; the DDIM slice pins real values.
        expected_slice = np.array(EXPECTED_SLICES[scheduler], dtype=np.float32)
        # Outputs are in m/s over a 3000 m/s range: 1 m/s is 3.3e-4 of the range (diffusers uses
        # 1e-2 on [0, 1] images), far above float32 noise here (~2e-3 m/s) and far below a real change.
        np.testing.assert_allclose(velocity_slice, expected_slice, rtol=0, atol=1.0)

    def test_tuple_output_matches_dict(self, tiny_velocity_pipeline):
        as_dict = generate(tiny_velocity_pipeline, batch_size=2, family="flatvel-b").velocities
        as_tuple = generate(tiny_velocity_pipeline, batch_size=2, family="flatvel-b", return_dict=False)
        assert isinstance(as_tuple, tuple) and len(as_tuple) == 1
        np.testing.assert_array_equal(as_tuple[0], as_dict)

    def test_deterministic_with_seeded_generator(self, tiny_velocity_pipeline):
        first = generate(tiny_velocity_pipeline, seed=3, batch_size=2).velocities
        second = generate(tiny_velocity_pipeline, seed=3, batch_size=2).velocities
        other = generate(tiny_velocity_pipeline, seed=4, batch_size=2).velocities
        np.testing.assert_array_equal(first, second)
        assert np.abs(first - other).max() > 1.0

    def test_bfloat16_weights_keep_a_float32_trajectory(self, tiny_velocity_pipeline_dir, ddim_pipeline):
        loaded = VelocityGenerationPipeline.from_pretrained(tiny_velocity_pipeline_dir, dtype=torch.bfloat16)
        assert loaded.unet.dtype == torch.bfloat16
        pipe = with_scheduler(loaded, ddim_pipeline.scheduler)
        half = generate(pipe, batch_size=2, family="flatvel-a")
        full = generate(ddim_pipeline, batch_size=2, family="flatvel-a")
        assert half.velocities.dtype == np.float32
        assert V_MIN <= half.velocities.min() and half.velocities.max() <= V_MAX
        # Only the U-Net's arithmetic is rounded (about 3 significant digits), not the state.
        assert np.abs(half.velocities - full.velocities).mean() < 10.0

    def test_saved_sampling_defaults_apply_when_none_is_passed(self, ddim_pipeline, tmp_path):
        tuned = with_scheduler(
            ddim_pipeline, ddim_pipeline.scheduler, default_num_inference_steps=3, default_guidance_scale=2.0
        )
        tuned.save_pretrained(str(tmp_path))
        index = json.loads((tmp_path / "model_index.json").read_text())
        assert index["default_num_inference_steps"] == 3 and index["default_guidance_scale"] == 2.0
        reloaded = VelocityGenerationPipeline.from_pretrained(str(tmp_path))  # DDIM was saved with it
        reloaded.set_progress_bar_config(disable=True)
        assert reloaded.config.default_num_inference_steps == 3
        implicit = reloaded(batch_size=2, family="flatvel-b", generator=torch.Generator().manual_seed(0))
        explicit = generate(
            ddim_pipeline, batch_size=2, family="flatvel-b", num_inference_steps=3, guidance_scale=2.0
        )
        np.testing.assert_array_equal(implicit.velocities, explicit.velocities)

    def test_per_family_default_guidance_round_trips_and_applies(self, ddim_pipeline, tmp_path):
        tuned = with_scheduler(
            ddim_pipeline, ddim_pipeline.scheduler, default_guidance_scale={"CurveVel_A": 3.0, "flatvel-b": 1}
        )
        assert tuned.config.default_guidance_scale == {"curvevel-a": 3.0, "flatvel-b": 1.0}  # canonical
        tuned.save_pretrained(str(tmp_path))
        index = json.loads((tmp_path / "model_index.json").read_text())
        assert index["default_guidance_scale"] == {"curvevel-a": 3.0, "flatvel-b": 1.0}
        reloaded = VelocityGenerationPipeline.from_pretrained(str(tmp_path))
        reloaded.set_progress_bar_config(disable=True)
        families = ["curvevel-a", "flatvel-a"]
        implicit = generate(reloaded, batch_size=2, family=families).velocities
        explicit = generate(ddim_pipeline, batch_size=2, family=families, guidance_scale={"curvevel-a": 3.0})
        np.testing.assert_array_equal(implicit, explicit.velocities)
        unguided = generate(ddim_pipeline, batch_size=2, family=families).velocities
        assert np.abs(implicit[0] - unguided[0]).max() > 1.0  # curvevel-a is guided ...
        np.testing.assert_allclose(implicit[1], unguided[1], rtol=0, atol=1e-2)  # ... flatvel-a is not
        assert reloaded.describe_guidance(reloaded.config.default_guidance_scale) == "curvevel-a 3"

    def test_only_guided_samples_get_an_unconditional_pass(self, ddim_pipeline):
        pipe = with_scheduler(ddim_pipeline, ddim_pipeline.scheduler)
        batch_sizes = []
        hook = pipe.unet.register_forward_pre_hook(lambda module, args: batch_sizes.append(len(args[0])))
        try:
            families = ["curvevel-a", "flatvel-a", None, "curvevel-a"]
            null = dict(unconditional_sampling="null_class")
            generate(pipe, batch_size=4, family=families, guidance_scale={"curvevel-a": 2.0}, **null)
            generate(pipe, batch_size=4, family=families, guidance_scale=2.0, **null)
            generate(pipe, batch_size=4, family=families, **null)
            generate(pipe, batch_size=4, family=families, guidance_scale=2.0)  # None draws a family
        finally:
            hook.remove()
        # two U-Net calls per run: 4 + 2 guided, 4 + 3 (the null class is never guided), 4 alone,
        # 4 + 4 (the drawn family is guided like any other)
        assert batch_sizes == [6, 6, 7, 7, 4, 4, 8, 8]

    def test_describe_guidance(self):
        describe = VelocityGenerationPipeline.describe_guidance
        assert describe(1.0) == "1" and describe(2.5) == "2.5"
        assert (
            describe({"curvefault-a": 1.5, "flatvel-a": 1.0, "flatfault-a": 2})
            == "curvefault-a 1.5, flatfault-a 2"
        )
        assert describe({"flatvel-a": 1.0}) == "1"

    def test_sampling_defaults_of_the_plain_constructor(self, tiny_velocity_pipeline):
        assert tiny_velocity_pipeline.sampling_defaults == dict(
            default_num_inference_steps=25,
            default_guidance_scale=1.0,
            default_timestep_power=1.0,
            default_timesteps=None,
        )

    def test_saved_default_timesteps_apply_to_the_default_step_count(self, tiny_velocity_pipeline, tmp_path):
        grid = [995, 814, 420, 124]
        pipe = with_scheduler(
            tiny_velocity_pipeline,
            DPMSolverMultistepScheduler.from_config(tiny_velocity_pipeline.scheduler.config),
            default_num_inference_steps=4,
            default_timestep_power=1.5,
            default_timesteps=grid,
        )
        assert pipe.spaced_timesteps(4) == grid  # the saved grid for the saved count ...
        assert pipe.spaced_timesteps(4, 1.5) == power_timesteps(pipe.scheduler, 4, 1.5)  # ... unless asked
        assert pipe.spaced_timesteps(5) == power_timesteps(pipe.scheduler, 5, 1.5)  # other counts: the power
        generate(pipe, num_inference_steps=None)
        assert pipe.scheduler.timesteps.tolist() == grid
        pipe.save_pretrained(tmp_path)
        assert VelocityGenerationPipeline.from_pretrained(str(tmp_path)).config.default_timesteps == grid
        ddim = with_scheduler(
            pipe, DDIMScheduler.from_config(pipe.scheduler.config), **pipe.sampling_defaults
        )
        assert ddim.spaced_timesteps(4) is None  # DDIM keeps its own spacing
        with pytest.raises(ValueError, match="default_timesteps"):
            with_scheduler(pipe, pipe.scheduler, default_num_inference_steps=3, default_timesteps=grid)
        with pytest.raises(ValueError, match="default_timesteps"):
            with_scheduler(
                pipe, pipe.scheduler, default_num_inference_steps=4, default_timesteps=[1, 2, 3, 4]
            )

    def test_null_class_is_not_guided(self, ddim_pipeline):
        null = dict(batch_size=2, family=None, unconditional_sampling="null_class")
        plain = generate(ddim_pipeline, **null)
        guided = generate(ddim_pipeline, guidance_scale=3.0, **null)
        np.testing.assert_array_equal(guided.velocities, plain.velocities)
        assert plain.families == [None, None]

    def test_family_none_draws_from_the_training_mix(self, ddim_pipeline):
        out = generate(ddim_pipeline, seed=3, batch_size=16, family=None)
        # stratified within the batch: eight equally weighted families, two maps each
        assert sorted(out.families) == sorted(VELOCITY_FAMILIES * 2)
        # each map is sampled as its drawn family: the same as asking for those families by name
        named = generate(ddim_pipeline, seed=3, batch_size=16, family=out.families)
        assert named.families == out.families
        # (the draw consumed numbers from the generator before the noise, so only the families match;
        # the maps agree when the named call skips the same draws)
        generator = torch.Generator("cpu").manual_seed(3)
        ddim_pipeline.processor.draw_family_labels(16, generator)
        again = ddim_pipeline(batch_size=16, family=out.families, generator=generator, num_inference_steps=2)
        np.testing.assert_array_equal(again.velocities, out.velocities)
        # different seeds draw different orders
        assert generate(ddim_pipeline, seed=4, batch_size=16).families != out.families

    def test_family_none_follows_saved_family_weights(self, ddim_pipeline):
        weights = [0, 0, 3, 0, 0, 0, 0, 1]  # curvevel-a three times as often as curvefault-b
        pipe = VelocityGenerationPipeline(
            unet=ddim_pipeline.unet,
            scheduler=ddim_pipeline.scheduler,
            processor=ddim_pipeline.processor.replace(family_weights=weights),
        )
        pipe.set_progress_bar_config(disable=True)
        families = pipe.processor.draw_family_labels(400, torch.Generator().manual_seed(0))
        assert np.bincount(families, minlength=8).tolist() == [0, 0, 300, 0, 0, 0, 0, 100]
        out = generate(pipe, batch_size=4, family=[None, "flatvel-a", None, None])
        assert out.families[1] == "flatvel-a"
        assert sorted(out.families[i] for i in (0, 2, 3)) in (
            ["curvefault-b", "curvevel-a", "curvevel-a"],
            ["curvevel-a", "curvevel-a", "curvevel-a"],
        )

    def test_bad_unconditional_sampling_raises(self, tiny_velocity_pipeline):
        with pytest.raises(ValueError, match="unconditional_sampling"):
            tiny_velocity_pipeline(batch_size=1, unconditional_sampling="null", num_inference_steps=2)

    def test_list_of_generators_matches_individual_runs(self, ddim_pipeline):
        seeds, families = [11, 12, 13], ["flatvel-a", None, "curvevel-b"]
        batched = ddim_pipeline(
            batch_size=3,
            family=families,
            generator=[torch.Generator("cpu").manual_seed(s) for s in seeds],
            num_inference_steps=2,
        ).velocities
        for i, (seed, family) in enumerate(zip(seeds, families, strict=True)):
            single = generate(ddim_pipeline, seed=seed, batch_size=1, family=family).velocities
            np.testing.assert_allclose(batched[i], single[0], rtol=0, atol=1e-2)

    @pytest.mark.parametrize("num_generators", [2, 4])
    def test_wrong_number_of_generators_raises(self, tiny_velocity_pipeline, num_generators):
        generators = [torch.Generator().manual_seed(i) for i in range(num_generators)]
        with pytest.raises(ValueError, match="generators for batch_size=3"):
            tiny_velocity_pipeline(batch_size=3, generator=generators, num_inference_steps=2)

    def test_output_type_pt(self, ddim_pipeline):
        reference = generate(ddim_pipeline, batch_size=2).velocities
        velocities = generate(ddim_pipeline, batch_size=2, output_type="pt").velocities
        assert isinstance(velocities, torch.Tensor)
        assert velocities.shape == (2, 70, 70) and velocities.dtype == torch.float32
        np.testing.assert_allclose(velocities.numpy(), reference, rtol=0, atol=1e-3)

    def test_output_type_pil(self, tiny_velocity_pipeline):
        out = generate(tiny_velocity_pipeline, batch_size=2, output_type="pil")
        assert isinstance(out.velocities, np.ndarray) and out.velocities.shape == (2, 70, 70)
        assert len(out.images) == 2
        assert all(image.size == (70, 70) and image.mode == "RGB" for image in out.images)
        velocities, images = generate(
            tiny_velocity_pipeline, batch_size=2, output_type="pil", return_dict=False
        )
        np.testing.assert_array_equal(velocities, out.velocities)
        assert len(images) == 2

    def test_family_list_with_none_entries(self, ddim_pipeline):
        families, null = [None, "flatfault-b", None], dict(unconditional_sampling="null_class")
        mixed = generate(ddim_pipeline, seed=5, batch_size=3, family=families, **null).velocities
        unconditional = generate(ddim_pipeline, seed=5, batch_size=3, family=None, **null).velocities
        assert mixed.shape == (3, 70, 70)
        # The None entries use the null class, exactly like family=None.
        np.testing.assert_allclose(mixed[[0, 2]], unconditional[[0, 2]], rtol=0, atol=1e-2)
        assert np.abs(mixed[1] - unconditional[1]).max() > 1.0

    def test_guidance_scale_changes_output(self, ddim_pipeline):
        plain = generate(ddim_pipeline, batch_size=2, family="curvevel-a").velocities
        guided = generate(ddim_pipeline, batch_size=2, family="curvevel-a", guidance_scale=3.0).velocities
        assert guided.shape == plain.shape
        assert guided.min() >= V_MIN and guided.max() <= V_MAX
        assert np.abs(guided - plain).max() > 1.0

    def test_per_family_guidance_matches_one_scale_per_call(self, ddim_pipeline):
        seeds, families = [21, 22, 23], ["curvevel-a", "flatfault-b", "flatvel-a"]
        scales = {"curvevel-a": 3.0, "flatfault-b": 1.5}  # flatvel-a is left out: unguided
        mixed = ddim_pipeline(
            batch_size=3,
            family=families,
            generator=[torch.Generator("cpu").manual_seed(s) for s in seeds],
            guidance_scale=scales,
            num_inference_steps=2,
        ).velocities
        for row, (seed, name) in enumerate(zip(seeds, families, strict=True)):
            alone = generate(ddim_pipeline, seed=seed, family=name, guidance_scale=scales.get(name, 1.0))
            np.testing.assert_allclose(mixed[row], alone.velocities[0], rtol=0, atol=1e-2)
        guided = generate(ddim_pipeline, seed=21, family="curvevel-a", guidance_scale=3.0).velocities
        assert (
            np.abs(guided[0] - generate(ddim_pipeline, seed=21, family="curvevel-a").velocities[0]).max()
            > 1.0
        )

    @pytest.mark.parametrize("scheduler_cls", [DDPMScheduler, DDIMScheduler, DPMSolverMultistepScheduler])
    def test_scheduler_swap(self, tiny_velocity_pipeline, scheduler_cls):
        pipe = with_scheduler(
            tiny_velocity_pipeline, scheduler_cls.from_config(tiny_velocity_pipeline.scheduler.config)
        )
        assert isinstance(pipe.scheduler, scheduler_cls)
        first = generate(pipe, seed=1, batch_size=2, family="flatvel-a").velocities
        second = generate(pipe, seed=1, batch_size=2, family="flatvel-a").velocities
        assert first.shape == (2, 70, 70) and first.dtype == np.float32
        assert first.min() >= V_MIN and first.max() <= V_MAX
        # Stochastic schedulers (DDPM) get the generator too, so results repeat.
        np.testing.assert_array_equal(first, second)

    def test_families_match_processor_vocabulary(self, tiny_velocity_pipeline):
        assert tiny_velocity_pipeline.is_conditional
        assert tiny_velocity_pipeline.families == tiny_velocity_pipeline.processor.families
        assert tiny_velocity_pipeline.families == list(VELOCITY_FAMILIES)

    def test_save_load_round_trip(self, tiny_velocity_pipeline, tmp_path):
        tiny_velocity_pipeline.save_pretrained(str(tmp_path))
        index = json.loads((tmp_path / "model_index.json").read_text())
        assert index["_class_name"] == "VelocityGenerationPipeline"
        assert index["unet"] == ["seismic_diffusers", "VelocityUNet2DModel"]
        assert index["processor"] == ["seismic_diffusers", "VelocityProcessor"]
        assert index["scheduler"] == ["diffusers", "DPMSolverMultistepScheduler"]
        assert (tmp_path / "unet" / "diffusion_pytorch_model.safetensors").is_file()
        assert (tmp_path / "processor" / "processor_config.json").is_file()
        assert pickle_files(tmp_path) == []

        loaded = VelocityGenerationPipeline.from_pretrained(str(tmp_path))
        loaded.set_progress_bar_config(disable=True)
        assert isinstance(loaded.unet, VelocityUNet2DModel)
        assert isinstance(loaded.processor, VelocityProcessor)
        assert isinstance(loaded.scheduler, DPMSolverMultistepScheduler)
        before = generate(tiny_velocity_pipeline, seed=2, batch_size=2, family="curvefault-b").velocities
        after = generate(loaded, seed=2, batch_size=2, family="curvefault-b").velocities
        np.testing.assert_array_equal(after, before)

    def test_fixture_folder_has_no_pickle(self, tiny_velocity_pipeline_dir):
        assert pickle_files(tiny_velocity_pipeline_dir) == []


class TestUnconditionalVelocityPipeline:
    def test_families_empty(self, tiny_unconditional_velocity_pipeline):
        assert not tiny_unconditional_velocity_pipeline.is_conditional
        assert tiny_unconditional_velocity_pipeline.families == []

    def test_generates_without_family(self, tiny_unconditional_velocity_pipeline):
        out = generate(tiny_unconditional_velocity_pipeline, batch_size=2)
        assert out.velocities.shape == (2, 70, 70)
        assert out.velocities.min() >= V_MIN and out.velocities.max() <= V_MAX
        same = generate(tiny_unconditional_velocity_pipeline, batch_size=2, family=[None, None]).velocities
        np.testing.assert_array_equal(same, out.velocities)

    @pytest.mark.parametrize("family", ["flatvel-a", [None, "curvevel-b"]])
    def test_family_raises_naming_valid_choices(self, tiny_unconditional_velocity_pipeline, family):
        with pytest.raises(ValueError, match="Valid choices: None"):
            generate(tiny_unconditional_velocity_pipeline, batch_size=2, family=family)

    def test_default_guidance_raises(self, tiny_unconditional_velocity_pipeline):
        modules = dict(
            unet=tiny_unconditional_velocity_pipeline.unet,
            scheduler=tiny_unconditional_velocity_pipeline.scheduler,
            processor=tiny_unconditional_velocity_pipeline.processor,
        )
        with pytest.raises(ValueError, match="unconditional"):
            VelocityGenerationPipeline(**modules, default_guidance_scale=1.5)
        with pytest.raises(ValueError, match="class-conditional model, a \\{family: scale\\} mapping"):
            VelocityGenerationPipeline(**modules, default_guidance_scale={"flatvel-a": 2.0})

    @pytest.mark.parametrize("guidance_scale", [2.0, {"flatvel-a": 2.0}])
    def test_guidance_raises(self, tiny_unconditional_velocity_pipeline, guidance_scale):
        with pytest.raises(ValueError, match="class-conditional"):
            generate(tiny_unconditional_velocity_pipeline, guidance_scale=guidance_scale)


class TestVelocityPipelineBadInput:
    @pytest.mark.parametrize(
        "defaults, message",
        [
            (dict(default_num_inference_steps=0), "default_num_inference_steps"),
            (dict(default_guidance_scale=0.5), "default_guidance_scale"),
            (dict(default_guidance_scale="2"), "must be a number"),
            (dict(default_guidance_scale=True), "must be a number"),
            (
                dict(default_guidance_scale={"saltdome": 2.0}),
                "default_guidance_scale.*Unknown family 'saltdome'",
            ),
            (
                dict(default_guidance_scale={"flatvel-a": 0.5}),
                "default_guidance_scale.*'flatvel-a' must be a number from 1.0",
            ),
            (
                dict(default_guidance_scale={"flatvel-a": "2"}),
                "default_guidance_scale.*must be a number from 1.0",
            ),
            (dict(default_timestep_power=0.0), "default_timestep_power"),
            (dict(default_timestep_power="2"), "default_timestep_power"),
        ],
    )
    def test_bad_sampling_defaults(self, tiny_velocity_pipeline, defaults, message):
        modules = dict(
            unet=tiny_velocity_pipeline.unet,
            scheduler=tiny_velocity_pipeline.scheduler,
            processor=tiny_velocity_pipeline.processor,
        )
        with pytest.raises(ValueError, match=message):
            VelocityGenerationPipeline(**modules, **defaults)

    def test_unknown_family_lists_valid(self, tiny_velocity_pipeline):
        with pytest.raises(ValueError, match="Unknown family 'saltdome'") as info:
            generate(tiny_velocity_pipeline, family="saltdome")
        for name in VELOCITY_FAMILIES:
            assert name in str(info.value)

    def test_family_list_length_mismatch(self, tiny_velocity_pipeline):
        with pytest.raises(ValueError, match="batch_size=3"):
            generate(tiny_velocity_pipeline, batch_size=3, family=["flatvel-a", "flatvel-b"])

    @pytest.mark.parametrize("batch_size", [0, -1, 1.5])
    def test_bad_batch_size(self, tiny_velocity_pipeline, batch_size):
        with pytest.raises(ValueError, match="batch_size"):
            generate(tiny_velocity_pipeline, batch_size=batch_size)

    def test_zero_steps(self, tiny_velocity_pipeline):
        with pytest.raises(ValueError, match="num_inference_steps"):
            generate(tiny_velocity_pipeline, num_inference_steps=0)

    def test_unknown_output_type_lists_valid(self, tiny_velocity_pipeline):
        with pytest.raises(ValueError, match="output_type") as info:
            generate(tiny_velocity_pipeline, output_type="latent")
        for name in ("np", "pt", "pil"):
            assert repr(name)[1:-1] in str(info.value)
        assert "np, pt, pil" in str(info.value)

    @pytest.mark.parametrize("guidance_scale", [0.5, {"curvevel-b": 0.5}])
    def test_guidance_below_one(self, tiny_velocity_pipeline, guidance_scale):
        with pytest.raises(ValueError, match="guidance_scale"):
            generate(tiny_velocity_pipeline, family="flatvel-a", guidance_scale=guidance_scale)

    def test_per_family_guidance_unknown_name_lists_valid(self, tiny_velocity_pipeline):
        with pytest.raises(ValueError, match="Unknown family 'saltdome'") as info:
            generate(tiny_velocity_pipeline, family="flatvel-a", guidance_scale={"saltdome": 2.0})
        for name in VELOCITY_FAMILIES:
            assert name in str(info.value)


def test_shipped_pipeline_generates_physical_velocities():
    if not (SHIPPED_PIPELINE / "model_index.json").is_file():
        pytest.skip(f"{SHIPPED_PIPELINE} has not been trained and saved yet")
    assert pickle_files(SHIPPED_PIPELINE) == []
    pipe = VelocityGenerationPipeline.from_pretrained(str(SHIPPED_PIPELINE))
    pipe.set_progress_bar_config(disable=True)
    family = pipe.families[0] if pipe.families else None
    velocities = generate(pipe, batch_size=1, family=family).velocities
    assert velocities.shape == (1, 70, 70) and velocities.dtype == np.float32
    assert np.isfinite(velocities).all()
    lo, hi = pipe.processor.config.v_min, pipe.processor.config.v_max
    assert velocities.min() >= lo and velocities.max() <= hi


def _profiled_pipeline(tiny_velocity_pipeline, scheduler=None, components=None):
    """The tiny pipeline with a processor holding distinct, known depth profiles per class."""
    depth = np.linspace(0.0, 1.0, 70)
    profiles = [list(1600.0 + 2800.0 * depth**0.5 * (1 + i) / 9) for i in range(len(VELOCITY_FAMILIES) + 1)]
    processor = VelocityProcessor(mean_profiles=profiles, profile_components=components)
    pipe = VelocityGenerationPipeline(
        unet=tiny_velocity_pipeline.unet,
        scheduler=scheduler or tiny_velocity_pipeline.scheduler,
        processor=processor,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe, np.asarray(profiles, dtype=np.float32)


class _CountingUNet(torch.nn.Module):
    """Wraps a U-Net and counts its calls, keeping the attributes the pipeline reads."""

    def __init__(self, unet):
        super().__init__()
        self.unet, self.calls = unet, 0

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.unet, name)

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.unet(*args, **kwargs)


@pytest.mark.parametrize("guidance_scale", [1.0, 2.0])
def test_zero_snr_step_returns_each_family_mean_map(tiny_velocity_pipeline, guidance_scale):
    # One DDIM step from t=999 (SNR ~ 1e-9) lands on its clean-map estimate: the class's mean map.
    scheduler = DDIMScheduler.from_config(
        tiny_velocity_pipeline.scheduler.config, clip_sample=False, timestep_spacing="trailing"
    )
    pipe, profiles = _profiled_pipeline(tiny_velocity_pipeline, scheduler)
    families = ["flatvel-a", "curvefault-b", None]  # None: the null row
    out = generate(
        pipe,
        batch_size=3,
        family=families,
        num_inference_steps=1,
        unconditional_sampling="null_class",
        guidance_scale=guidance_scale,
    )
    for row, label in zip(out.velocities, pipe.processor.family_labels(families, 3), strict=True):
        # float32: the epsilon round trip divides by sqrt(alpha_bar) ~ 1e-3 at t=999
        np.testing.assert_allclose(row, np.repeat(profiles[label][:, None], 70, axis=1), atol=10.0)
    # Without the prior the same call returns the untrained U-Net's clamped estimate instead.
    raw = generate(
        pipe,
        batch_size=3,
        family=families,
        num_inference_steps=1,
        unconditional_sampling="null_class",
        use_prior_mean=False,
    )
    assert np.abs(raw.velocities - out.velocities).max() > 100.0


def test_zero_snr_step_draws_each_map_from_the_profile_prior(tiny_velocity_pipeline):
    # A level shift (150 m/s per unit draw) and a depth tilt, the same for every class.
    depth = np.linspace(-1.0, 1.0, 70)
    components = [[[150.0] * 70, list(80.0 * depth)]] * (len(VELOCITY_FAMILIES) + 1)
    scheduler = DDIMScheduler.from_config(
        tiny_velocity_pipeline.scheduler.config, clip_sample=False, timestep_spacing="trailing"
    )
    pipe, profiles = _profiled_pipeline(tiny_velocity_pipeline, scheduler, components)
    families = ["flatvel-a", "curvefault-b", None, "flatvel-a"]
    out = generate(
        pipe, batch_size=4, family=families, num_inference_steps=1, unconditional_sampling="null_class"
    ).velocities
    # the draws come from the pipeline's generator, right after the starting noise
    generator = torch.Generator().manual_seed(0)
    torch.randn((4, 1, 70, 70), generator=generator)
    draws = torch.randn((4, 2), generator=generator).numpy()
    for row, label, z in zip(out, pipe.processor.family_labels(families, 4), draws, strict=True):
        expected = np.clip(profiles[label] + z[0] * 150.0 + z[1] * 80.0 * depth, 1500.0, 4500.0)
        np.testing.assert_allclose(row, np.repeat(expected[:, None], 70, axis=1), atol=10.0)
    # same family, other draws: other levels
    assert abs(out[0].mean() - out[3].mean()) > 10.0
    np.testing.assert_array_equal(
        out,
        generate(
            pipe, batch_size=4, family=families, num_inference_steps=1, unconditional_sampling="null_class"
        ).velocities,
    )
    mean_only = generate(
        pipe,
        batch_size=4,
        family=families,
        num_inference_steps=1,
        unconditional_sampling="null_class",
        sample_from_prior=False,
    )
    for row, label in zip(mean_only.velocities, pipe.processor.family_labels(families, 4), strict=True):
        np.testing.assert_allclose(row, np.repeat(profiles[label][:, None], 70, axis=1), atol=10.0)
    # one generator per sample: the draws follow each sample's own generator
    generators = [torch.Generator().manual_seed(s) for s in (5, 6)]
    pair = pipe(
        2,
        family="flatvel-a",
        generator=generators,
        num_inference_steps=1,
        unconditional_sampling="null_class",
    ).velocities
    alone = pipe(
        1,
        family="flatvel-a",
        generator=torch.Generator().manual_seed(6),
        num_inference_steps=1,
        unconditional_sampling="null_class",
    ).velocities
    np.testing.assert_allclose(pair[1], alone[0], atol=1e-3)


def test_profile_draws_leave_the_generator_alone_when_no_step_uses_the_prior(tiny_velocity_pipeline):
    # A stochastic sampler takes every step's noise from the generator: a draw nobody uses would shift it.
    scheduler = DPMSolverMultistepScheduler.from_config(
        tiny_velocity_pipeline.scheduler.config, algorithm_type="sde-dpmsolver++"
    )
    pipe, _ = _profiled_pipeline(tiny_velocity_pipeline, scheduler, [[[100.0] * 70]] * 9)
    late = [500, 200, 50]  # all far above the prior's SNR
    assert not any(pipe.uses_prior_mean(t) for t in late)
    runs = [
        generate(
            pipe, batch_size=2, family="flatvel-a", timesteps=late, num_inference_steps=None, **flags
        ).velocities
        for flags in ({}, {"sample_from_prior": False}, {"use_prior_mean": False})
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


def test_prior_mean_replaces_only_the_low_snr_steps_and_skips_their_unet_calls(tiny_velocity_pipeline):
    pipe, _ = _profiled_pipeline(tiny_velocity_pipeline)
    pipe.scheduler.set_timesteps(5)
    low_snr = [int(t) for t in pipe.scheduler.timesteps if pipe.uses_prior_mean(t)]
    assert low_snr == [999]  # the default DPM-Solver++ schedule: only its first step
    counting = _CountingUNet(pipe.unet)
    pipe.unet = counting
    first = generate(pipe, batch_size=2, family="flatvel-b", num_inference_steps=5).velocities
    assert counting.calls == 4
    again = generate(pipe, batch_size=2, family="flatvel-b", num_inference_steps=5).velocities
    np.testing.assert_array_equal(first, again)  # still deterministic per generator
    generate(pipe, batch_size=2, family="flatvel-b", num_inference_steps=5, use_prior_mean=False)
    assert counting.calls == 4 + 4 + 5


def test_pipeline_without_profiles_ignores_use_prior_mean(tiny_velocity_pipeline):
    assert tiny_velocity_pipeline.processor.config.mean_profiles is None
    assert not tiny_velocity_pipeline.uses_prior_mean(999)
    on = generate(tiny_velocity_pipeline, batch_size=2, family="flatvel-a").velocities
    off = generate(tiny_velocity_pipeline, batch_size=2, family="flatvel-a", use_prior_mean=False).velocities
    np.testing.assert_array_equal(on, off)


def test_shipped_pipeline_holds_mean_profiles_of_its_families():
    if not (SHIPPED_PIPELINE / "model_index.json").is_file():
        pytest.skip(f"{SHIPPED_PIPELINE} has not been trained and saved yet")
    from seismic_diffusers.data import generate_velocity_models

    processor = VelocityProcessor.from_pretrained(str(SHIPPED_PIPELINE / "processor"))
    profiles = np.asarray(processor.config.mean_profiles)
    assert profiles.shape == (len(processor.families) + 1, 70)
    # the training data (data seed 0): 3000 maps per family; 200 already pin the profile within ~60 m/s
    sample = generate_velocity_models("curvefault-a", 200, seed=0).mean(axis=(0, 2))
    assert np.abs(profiles[processor.families.index("curvefault-a")] - sample).max() < 100.0
    assert profiles[:, -1].min() > profiles[:, 0].max() - 500.0  # velocity grows with depth on average
    # the profile prior's spread: the first component is the map's overall level (data: ~550 m/s)
    components = np.asarray(processor.config.profile_components)
    assert components.shape == (len(processor.families) + 1, 8, 70)
    level = np.abs(components[:, 0].mean(axis=1))
    assert level.min() > 400.0 and level.max() < 700.0


def test_shipped_pipeline_maps_vary_in_overall_velocity_like_the_data():
    if not (SHIPPED_PIPELINE / "model_index.json").is_file():
        pytest.skip(f"{SHIPPED_PIPELINE} has not been trained and saved yet")
    from seismic_diffusers.data import generate_velocity_models

    pipe = VelocityGenerationPipeline.from_pretrained(str(SHIPPED_PIPELINE))
    pipe.set_progress_bar_config(disable=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # the saved defaults (15 steps), as a user calls it
        drawn = pipe(12, family="curvevel-a", generator=torch.Generator().manual_seed(0)).velocities
        mean_only = pipe(
            12, family="curvevel-a", generator=torch.Generator().manual_seed(0), sample_from_prior=False
        ).velocities
    finally:
        torch.set_num_threads(threads)
    data = generate_velocity_models("curvevel-a", 500, seed=0).mean(axis=(1, 2)).std()  # ~600 m/s
    spread, collapsed = drawn.mean(axis=(1, 2)).std(), mean_only.mean(axis=(1, 2)).std()
    assert spread > 0.5 * data > collapsed, (spread, collapsed, data)
    assert drawn.min() >= 1500.0 and drawn.max() <= 4500.0


class TestVelocityPipelineTimesteps:
    """Custom `timesteps` and power spacing (`timestep_power`, `default_timestep_power`)."""

    def test_power_spacing_equals_its_explicit_timesteps(self, tiny_velocity_pipeline):
        spaced = power_timesteps(tiny_velocity_pipeline.scheduler, 5, 2.0)
        by_power = generate(
            tiny_velocity_pipeline,
            batch_size=2,
            family="flatvel-a",
            num_inference_steps=5,
            timestep_power=2.0,
        )
        assert tiny_velocity_pipeline.scheduler.timesteps.tolist() == spaced
        explicit = generate(
            tiny_velocity_pipeline,
            batch_size=2,
            family="flatvel-a",
            num_inference_steps=None,
            timesteps=spaced,
        )
        np.testing.assert_array_equal(by_power.velocities, explicit.velocities)
        even = generate(tiny_velocity_pipeline, batch_size=2, family="flatvel-a", num_inference_steps=5)
        assert np.abs(even.velocities - by_power.velocities).max() > 1.0

    def test_saved_default_power_applies_and_round_trips(self, tiny_velocity_pipeline, tmp_path):
        tuned = with_scheduler(
            tiny_velocity_pipeline,
            tiny_velocity_pipeline.scheduler,
            default_num_inference_steps=4,
            default_timestep_power=2.0,
        )
        tuned.save_pretrained(str(tmp_path))
        assert json.loads((tmp_path / "model_index.json").read_text())["default_timestep_power"] == 2.0
        reloaded = VelocityGenerationPipeline.from_pretrained(str(tmp_path))
        reloaded.set_progress_bar_config(disable=True)
        assert reloaded.sampling_defaults == tuned.sampling_defaults
        implicit = reloaded(batch_size=2, family="curvevel-b", generator=torch.Generator().manual_seed(0))
        explicit = generate(
            tiny_velocity_pipeline,
            batch_size=2,
            family="curvevel-b",
            num_inference_steps=4,
            timestep_power=2.0,
        )
        np.testing.assert_array_equal(implicit.velocities, explicit.velocities)
        # the spacing a call asks for wins over the saved one
        even = reloaded(
            batch_size=2, family="curvevel-b", generator=torch.Generator().manual_seed(0), timestep_power=1.0
        )
        assert reloaded.scheduler.timesteps.tolist() == [999, 749, 500, 250]  # diffusers "linspace"
        assert np.abs(even.velocities - implicit.velocities).max() > 1.0

    def test_saved_power_is_ignored_by_a_scheduler_without_custom_timesteps(self, ddim_pipeline):
        spaced = with_scheduler(ddim_pipeline, ddim_pipeline.scheduler, default_timestep_power=2.0)
        plain = generate(ddim_pipeline, batch_size=2, family="flatvel-a").velocities
        np.testing.assert_array_equal(generate(spaced, batch_size=2, family="flatvel-a").velocities, plain)

    @pytest.mark.parametrize(
        "kwargs", [dict(timestep_power=2.0), dict(timesteps=[500, 0], num_inference_steps=None)]
    )
    def test_explicit_spacing_with_ddim_raises_naming_alternatives(self, ddim_pipeline, kwargs):
        with pytest.raises(ValueError, match="DDIMScheduler does not take custom timesteps.*DPM-Solver"):
            generate(ddim_pipeline, family="flatvel-a", **kwargs)

    def test_bad_power_with_ddim_names_the_power(self, ddim_pipeline):
        with pytest.raises(ValueError, match="power must be a number > 0"):
            generate(ddim_pipeline, family="flatvel-a", timestep_power=-1.0)

    def test_saved_power_is_ignored_by_a_karras_sigma_schedule(self, tiny_velocity_pipeline):
        # diffusers refuses custom timesteps there; the saved default falls back to its own spacing
        karras = DPMSolverMultistepScheduler.from_config(
            tiny_velocity_pipeline.scheduler.config, use_karras_sigmas=True
        )
        pipe = with_scheduler(tiny_velocity_pipeline, karras, default_timestep_power=2.0)
        assert pipe.spaced_timesteps(4) is None
        with pytest.raises(ValueError, match="does not take custom timesteps.*Karras"):
            pipe.spaced_timesteps(4, 2.0)

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            (dict(timesteps=[999, 500], num_inference_steps=3), "leave them out"),
            (dict(timesteps=[999, 500], num_inference_steps=None, timestep_power=2.0), "leave them out"),
            (dict(timesteps=[500, 999], num_inference_steps=None), "decrease strictly"),
            (dict(timesteps=[], num_inference_steps=None), "non-empty list"),
            (dict(timestep_power=0.0), "power must be a number > 0"),
            (dict(timestep_power=-2.0), "power must be a number > 0"),
        ],
    )
    def test_bad_timesteps_raise(self, tiny_velocity_pipeline, kwargs, message):
        with pytest.raises(ValueError, match=message):
            generate(tiny_velocity_pipeline, family="flatvel-a", **kwargs)


def test_shipped_pipeline_samples_at_power_spaced_timesteps():
    if not (SHIPPED_PIPELINE / "model_index.json").is_file():
        pytest.skip(f"{SHIPPED_PIPELINE} has not been trained and saved yet")
    pipe = VelocityGenerationPipeline.from_pretrained(str(SHIPPED_PIPELINE))
    assert pipe.config.default_timestep_power == 1.5  # MODEL_CARD.md: the timestep spacing probe
    spaced = pipe.spaced_timesteps(pipe.config.default_num_inference_steps)
    assert spaced == [995, 897, 803, 712, 625, 542, 462, 388, 317, 252, 191, 137, 89, 48, 17]
    # the first step still starts at lambda_min_clipped and takes the family mean: 14 U-Net calls
    assert [t for t in spaced if pipe.uses_prior_mean(t)] == [995]

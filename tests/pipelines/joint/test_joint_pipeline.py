"""JointGenerationPipeline mechanics on a tiny untrained model: shapes, units, determinism, deviation, inversion, refusals.

Whether trained pairs satisfy the wave equation is measured by `benchmarks/bench_joint.py`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler

from seismic_diffusers import (
    OPENFWI,
    AcquisitionGeometry,
    JointGenerationPipeline,
    forward_model,
    generate_velocity_models,
    pde_deviation,
)


@pytest.fixture(scope="module")
def pipe(make_tiny_joint_pipeline):
    return make_tiny_joint_pipeline()


@pytest.fixture(scope="module")
def seismic():
    return forward_model(generate_velocity_models("flatvel-b", 2, seed=4))


def generate(pipe, seed=0, **kwargs):
    return pipe(batch_size=2, generator=torch.Generator().manual_seed(seed), num_inference_steps=4, **kwargs)


def test_outputs_in_physical_units(pipe):
    out = generate(pipe)
    assert out.velocities.shape == (2, 70, 70) and out.velocities.dtype == np.float32
    assert out.velocities.min() >= 1500.0 and out.velocities.max() <= 4500.0
    assert out.seismic.shape == (2, 5, 1000, 70) and np.isfinite(out.seismic).all()
    assert out.pde_deviation is None and out.pde_deviation_trace is None


def test_seeded_generator_is_deterministic_and_tuple_matches(pipe):
    a, b = generate(pipe, seed=1), generate(pipe, seed=1, return_dict=False)
    np.testing.assert_array_equal(a.velocities, b[0])
    np.testing.assert_array_equal(a.seismic, b[1])
    assert not np.array_equal(a.seismic, generate(pipe, seed=2).seismic)


def test_pde_deviation_is_the_physics_modules(pipe):
    out = generate(pipe, return_pde_deviation=True, trace_pde_deviation=True, output_type="pt")
    assert out.pde_deviation.shape == (2,) and out.pde_deviation_trace.shape == (4, 2)
    torch.testing.assert_close(out.pde_deviation, pde_deviation(out.velocities, out.seismic))
    assert (out.pde_deviation_trace > 0).all()


def test_invert_stage_one_and_refined(pipe, seismic):
    encoded = pipe.invert(seismic, refine_steps=0)
    refined = pipe.invert(
        seismic,
        num_candidates=3,
        refine_steps=2,
        num_inference_steps=4,
        generator=torch.Generator().manual_seed(0),
    )
    for out in (encoded, refined):
        assert out.velocities.shape == (2, 70, 70) and out.seismic_misfit.shape == (2,)
        assert out.velocities.min() >= 1500.0 and out.velocities.max() <= 4500.0
    again = pipe.invert(
        seismic,
        num_candidates=3,
        refine_steps=2,
        num_inference_steps=4,
        generator=torch.Generator().manual_seed(0),
    )
    np.testing.assert_array_equal(refined.velocities, again.velocities)
    single = pipe.invert(seismic[0], refine_steps=0)  # one record without a batch axis
    np.testing.assert_allclose(
        single.velocities[0], encoded.velocities[0], atol=0.05
    )  # m/s; batch-size rounding


def test_more_candidates_never_fit_worse_at_the_first_step(make_tiny_joint_pipeline, seismic):
    """The best of N candidates, N growing with the same first draw, cannot be a worse fit."""
    pipe = make_tiny_joint_pipeline(scheduler=DDIMScheduler(num_train_timesteps=100))
    misfits = [
        pipe.invert(
            seismic,
            num_candidates=n,
            refine_steps=1,
            num_inference_steps=4,
            generator=torch.Generator().manual_seed(0),
        ).seismic_misfit
        for n in (1, 4)
    ]
    assert (misfits[1] <= misfits[0] + 1e-6).all()


def test_eta_switches_between_deterministic_and_ancestral_sampling(make_tiny_joint_pipeline):
    # the initial noise is the same; eta=0 adds none afterwards, eta=1 draws fresh noise each step
    pipe = make_tiny_joint_pipeline(scheduler=DDIMScheduler(num_train_timesteps=100))
    deterministic = [generate(pipe, eta=0.0).seismic for _ in range(2)]
    np.testing.assert_array_equal(*deterministic)
    assert not np.array_equal(deterministic[0], generate(pipe, eta=1.0).seismic)


def test_save_load_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path)
    loaded = JointGenerationPipeline.from_pretrained(str(tmp_path))
    loaded.set_progress_bar_config(disable=True)
    np.testing.assert_array_equal(generate(pipe).seismic, generate(loaded).seismic)
    assert loaded.geometry.data_shape == OPENFWI.data_shape


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda s: s[:, :, :999], r"seismic must have shape \(5, 1000, 70\)"),
        (lambda s: np.zeros((0, 5, 1000, 70), np.float32), r"with B >= 1"),
        (lambda s: np.where(np.arange(70) == 3, np.nan, s), "NaN or Inf"),
        (lambda s: s.astype(np.complex64) * 1j, "seismic must hold real numbers, got dtype torch.complex64"),
        (lambda s: torch.from_numpy(s.astype(np.complex128)), "seismic must hold real numbers"),
        (lambda s: s > 0, "seismic must hold real numbers, got dtype torch.bool"),
    ],
)
def test_invert_refuses_bad_seismic(pipe, seismic, make, message):
    with pytest.raises(ValueError, match=message):
        pipe.invert(make(np.asarray(seismic)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_candidates": 0}, "`num_candidates` must be an integer >= 1"),
        (
            {"refine_steps": 11, "num_inference_steps": 10},
            r"`refine_steps` must be an integer from 0 to num_inference_steps \(10\)",
        ),
        ({"refine_steps": -1}, "`refine_steps` must be an integer from 0"),
        ({"output_type": "pil"}, "Unknown `output_type`"),
    ],
)
def test_invert_refuses_bad_arguments(pipe, seismic, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipe.invert(seismic, **kwargs)


def test_deviation_needs_a_geometry_the_physics_module_can_model(make_tiny_joint_pipeline):
    other = AcquisitionGeometry(nt=500)  # records 500 samples: not what the model makes
    pipe = make_tiny_joint_pipeline(geometry=other)
    assert generate(pipe).seismic.shape == (2, 5, 1000, 70)  # generation alone still works
    for flag in ("return_pde_deviation", "trace_pde_deviation"):
        with pytest.raises(ValueError, match=r"cannot forward-model these pairs.*seismic_diffusers.OPENFWI"):
            generate(pipe, **{flag: True})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "`batch_size` must be an integer >= 1"),
        ({"num_inference_steps": 0}, "`num_inference_steps` must be an integer from 1 to"),
        ({"output_type": "pil"}, "Unknown `output_type` 'pil'. Valid choices: np, pt"),
        ({"generator": [torch.Generator()]}, "list of 1 generators for batch_size=2"),
        ({"eta": -0.5}, "eta must be a finite number >= 0"),
        ({"eta": float("nan")}, "eta must be a finite number >= 0"),
    ],
)
def test_call_refuses_bad_arguments(pipe, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipe(**{"batch_size": 2, **kwargs})


def test_two_encoder_autoencoder_generates_pairs_and_samples_velocity_given_seismic(
    make_tiny_two_encoder_joint_pipeline, seismic, monkeypatch
):
    """With a velocity encoder the latent's halves decode to one modality each; generation works
    as before, and invert() samples the velocity half with the seismic half held at the data's
    code, returning the candidate whose forward-modelled gathers fit the data best."""
    pipe = make_tiny_two_encoder_joint_pipeline()
    out = generate(pipe)
    assert out.velocities.shape == (2, 70, 70) and np.isfinite(out.seismic).all()

    def invert(num_candidates, records=(0, 1)):
        return pipe.invert(
            seismic[list(records)], num_candidates=num_candidates, num_inference_steps=3,
            generator=[torch.Generator().manual_seed(i) for i in records], output_type="pt",
        )  # fmt: skip

    import seismic_diffusers.pipelines.pipeline_joint as module

    modelled, unet_inputs, noised = [], [], []

    def forward_model_spy(velocity, **kwargs):
        modelled.append((velocity.clone(), forward_model(velocity, **kwargs)))
        return modelled[-1][1]

    unet_forward, add_noise = pipe.unet.forward, pipe.scheduler.add_noise

    def unet_spy(sample, timestep, *args, **kwargs):
        unet_inputs.append((sample[:, :2].clone(), int(timestep)))
        return unet_forward(sample, timestep, *args, **kwargs)

    def add_noise_spy(original, noise, timesteps):
        noised.append((add_noise(original, noise, timesteps), set(timesteps.tolist())))
        return noised[-1][0]

    monkeypatch.setattr(module, "forward_model", forward_model_spy)
    monkeypatch.setattr(pipe.unet, "forward", unet_spy)
    monkeypatch.setattr(pipe.scheduler, "add_noise", add_noise_spy)
    out = invert(3)
    assert out.velocities.shape == (2, 70, 70) and torch.isfinite(out.velocities).all()
    # at every step the UNet's seismic half is the data's code noised to that step's level
    assert len(unet_inputs) == len(noised) == 3
    for (seismic_half, t), (noisy_known, levels) in zip(unet_inputs, noised, strict=True):
        assert levels == {t}
        torch.testing.assert_close(seismic_half, noisy_known)
    # every candidate was forward-modelled, and the one whose gathers fit the data best was kept
    candidates, gathers = modelled[0]
    assert gathers.shape == (6, 5, 1000, 70)
    target = pipe.vqvae.normalize_seismic(torch.as_tensor(seismic)).repeat_interleave(3, dim=0)
    misfits = (pipe.vqvae.normalize_seismic(gathers) - target).pow(2).mean(dim=(1, 2, 3)).view(2, 3)
    best = misfits.argmin(dim=1)
    torch.testing.assert_close(out.seismic_misfit, misfits.min(dim=1).values)
    torch.testing.assert_close(out.velocities, candidates.view(2, 3, 70, 70)[torch.arange(2), best])
    # seeded per record: the same again, and a record alone as in the batch
    torch.testing.assert_close(invert(3).velocities, out.velocities)
    torch.testing.assert_close(invert(3, records=(1,)).velocities[0], out.velocities[1])
    with pytest.raises(ValueError, match="velocity_encoder=True.*Leave `refine_steps` unset"):
        pipe.invert(seismic, refine_steps=0)
    pipe.geometry = AcquisitionGeometry(nt=500)  # its candidates could not be forward-modelled
    with pytest.raises(ValueError, match="cannot forward-model these pairs"):
        pipe.invert(seismic)


def test_per_channel_latent_statistics_apply_on_the_way_in_and_out(make_tiny_joint_pipeline, seismic):
    """With `latents_mean`/`latents_std` the UNet works on standardised latents; decoding and the
    stage-1 inversion undo that exactly, so they match the plain model's."""
    pipe = make_tiny_joint_pipeline()
    plain = pipe.invert(seismic, refine_steps=0, output_type="pt").velocities
    latents = torch.randn(2, 4, 16, 16)
    velocity, decoded = pipe._decode(latents)
    channels = pipe.vqvae.config.latent_channels
    pipe.vqvae.register_to_config(latents_mean=[0.3] * channels, latents_std=[2.0] * channels)
    torch.testing.assert_close(pipe.vqvae.scale_latents(latents), (latents - 0.3) / 2.0)
    again_velocity, again_decoded = pipe._decode(pipe.vqvae.scale_latents(latents))
    torch.testing.assert_close(again_velocity, velocity)
    # compared in normalised space: the untrained decoder's raw amplitudes reach 1e11
    normalize = pipe.vqvae.normalize_seismic
    torch.testing.assert_close(normalize(again_decoded), normalize(decoded), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(pipe.invert(seismic, refine_steps=0, output_type="pt").velocities, plain)


def test_latent_operator_replaces_the_sampled_seismic_half(make_tiny_two_encoder_joint_pipeline, tmp_path):
    """With a latent operator the velocity half is kept as sampled (snapped to its codebook) and the
    seismic data decode from the operator's prediction; `use_latent_operator=False` decodes the
    sample as drawn; the operator saves and loads with the pipeline."""
    from seismic_diffusers import LatentForwardOperator

    torch.manual_seed(1)
    operator = LatentForwardOperator(half_channels=2, width=8, dilations=(1, 2)).eval()
    pipe = make_tiny_two_encoder_joint_pipeline(operator)
    pipe.set_progress_bar_config(disable=True)
    coupled = generate(pipe, output_type="pt")
    drawn = generate(pipe, output_type="pt", use_latent_operator=False)
    # decoding snaps the velocity half too (m/s; scaling there and back rounds in the last bits)
    torch.testing.assert_close(coupled.velocities, drawn.velocities, rtol=1e-5, atol=1e-2)
    assert not torch.allclose(coupled.seismic, drawn.seismic)

    # the seismic data are the decoded prediction from the snapped velocity half
    latents = torch.randn(2, 4, 16, 16)
    predicted = pipe.predict_seismic_half(latents)
    vqvae = pipe.vqvae
    snapped = vqvae.scale_latents(vqvae.quantize(vqvae.unscale_latents(latents))[0])
    torch.testing.assert_close(predicted[:, 2:], snapped[:, 2:])
    torch.testing.assert_close(predicted[:, :2], operator(snapped[:, 2:]).sample)

    pipe.save_pretrained(tmp_path)
    loaded = JointGenerationPipeline.from_pretrained(str(tmp_path))
    loaded.set_progress_bar_config(disable=True)
    assert isinstance(loaded.latent_operator, LatentForwardOperator)
    torch.testing.assert_close(generate(loaded, output_type="pt").seismic, coupled.seismic)


def test_operator_guided_inversion_moves_the_velocity_half_toward_the_data(
    make_tiny_two_encoder_joint_pipeline, seismic
):
    """With a latent operator, invert() by default pulls each step's velocity-half estimate toward the
    data's seismic code through the operator (each line-searched step lowers the operator misfit);
    `operator_iterations=0` is replacement alone, the same as a pipeline without an operator."""
    from seismic_diffusers import LatentForwardOperator

    torch.manual_seed(1)
    operator = LatentForwardOperator(half_channels=2, width=8, dilations=(1, 2)).eval()
    pipe = make_tiny_two_encoder_joint_pipeline(operator)
    pipe.set_progress_bar_config(disable=True)
    velocity_half, code = torch.randn(2, 2, 16, 16), torch.randn(2, 2, 16, 16)

    def misfit(half):
        return (operator(half).sample - code).pow(2).sum(dim=(1, 2, 3))

    moved = velocity_half
    for _ in range(3):
        before, moved = moved, pipe._pull_toward_seismic_code(moved, code, iterations=1, step_size=1.0)
        assert (misfit(moved) < misfit(before)).all()

    def invert(pipeline, **kwargs):
        return pipeline.invert(
            seismic, num_candidates=2, num_inference_steps=3, output_type="pt",
            generator=[torch.Generator().manual_seed(i) for i in range(2)], **kwargs,
        )  # fmt: skip

    guided = invert(pipe)
    assert guided.velocities.shape == (2, 70, 70) and torch.isfinite(guided.velocities).all()
    replacement = invert(pipe, operator_iterations=0)
    assert not torch.allclose(guided.velocities, replacement.velocities)
    without_operator = make_tiny_two_encoder_joint_pipeline()
    without_operator.set_progress_bar_config(disable=True)
    torch.testing.assert_close(invert(without_operator).velocities, replacement.velocities)
    for kwargs, message in (
        ({"operator_iterations": -1}, "`operator_iterations` must be an integer >= 0"),
        ({"operator_iterations": 1.5}, "`operator_iterations` must be an integer >= 0"),
        ({"operator_step_size": 0}, "`operator_step_size` must be a positive number"),
        ({"operator_step_size": float("nan")}, "`operator_step_size` must be a positive number"),
    ):
        with pytest.raises(ValueError, match=message):
            pipe.invert(seismic, **kwargs)
    with pytest.raises(ValueError, match="this pipeline has no latent_operator"):
        without_operator.invert(seismic, operator_iterations=2)


def test_operator_guidance_needs_two_encoders(pipe, seismic):
    with pytest.raises(ValueError, match="this pipeline has one encoder"):
        pipe.invert(seismic, refine_steps=0, operator_iterations=1)


def test_latent_output_is_what_the_pipeline_would_decode(make_tiny_two_encoder_joint_pipeline):
    """`output_type="latent"` returns the final scaled latents (after the operator's coupling) instead
    of decoding them, as diffusers pipelines do."""
    from seismic_diffusers import LatentForwardOperator

    torch.manual_seed(1)
    operator = LatentForwardOperator(half_channels=2, width=8, dilations=(1, 2)).eval()
    pipe = make_tiny_two_encoder_joint_pipeline(operator)
    pipe.set_progress_bar_config(disable=True)
    decoded = generate(pipe, output_type="pt")
    out = generate(pipe, output_type="latent")
    assert out.velocities is None and out.seismic is None and out.latents.shape == (2, 4, 16, 16)
    velocities, seismic = pipe._decode(out.latents)
    torch.testing.assert_close(velocities, decoded.velocities)
    torch.testing.assert_close(seismic, decoded.seismic)
    latents, trace = generate(pipe, output_type="latent", return_dict=False)
    torch.testing.assert_close(latents, out.latents)
    assert trace is None
    with pytest.raises(ValueError, match='cannot be combined with output_type="latent"'):
        generate(pipe, output_type="latent", return_pde_deviation=True)


def test_a_latent_operator_needs_a_two_encoder_autoencoder(
    make_tiny_joint_pipeline, make_tiny_two_encoder_joint_pipeline, tiny_joint_pipeline_dir, tmp_path
):
    from seismic_diffusers import LatentForwardOperator

    pipe = make_tiny_joint_pipeline()  # one encoder: its latent has no velocity half
    with pytest.raises(ValueError, match="velocity_encoder=False"):
        JointGenerationPipeline(
            **{**pipe.components, "latent_operator": LatentForwardOperator(half_channels=2)}
        )
    with pytest.raises(ValueError, match="halves of 2 channels, the operator 3"):
        make_tiny_two_encoder_joint_pipeline(LatentForwardOperator(half_channels=3, width=8))
    # folders saved before the operator existed (no key in model_index.json) load without one
    import json
    import shutil

    old = tmp_path / "old"
    shutil.copytree(tiny_joint_pipeline_dir, old)
    index = json.loads((old / "model_index.json").read_text())
    index.pop("latent_operator", None)
    (old / "model_index.json").write_text(json.dumps(index))
    loaded = JointGenerationPipeline.from_pretrained(str(old))
    assert loaded.latent_operator is None
    with pytest.raises(ValueError, match="has no latent_operator"):
        loaded.predict_seismic_half(torch.randn(1, 4, 16, 16))

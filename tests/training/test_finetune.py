"""Fine-tuning the bundled pipelines with `--pretrained_pipeline` (and `--freeze`).

The proof the weights were loaded: on the same first batch (the scripts re-seed after building
the model), a fine-tuned run's first-step loss is far below a from-scratch run's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from seismic_diffusers import VELOCITY_FAMILIES, ColdDiffusionDenoisePipeline, VelocityGenerationPipeline
from seismic_diffusers.data import generate_velocity_models, save_openfwi_file
from seismic_diffusers.utils.configs import public_config

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED_VELOCITY = REPO_ROOT / "pipelines" / "openfwi-velocity-ddpm"
BUNDLED_DENOISER = REPO_ROOT / "pipelines" / "cold-diffusion-denoiser"
WEIGHTS = "diffusion_pytorch_model.safetensors"


def first_step_loss(output_dir: Path) -> float:
    return json.loads((output_dir / "train_log.jsonl").read_text().splitlines()[0])["loss"]


def weights(folder: Path, component: str = "unet") -> dict[str, torch.Tensor]:
    return load_file(str(folder / component / WEIGHTS))


@pytest.fixture
def basin_folder(tmp_path) -> Path:
    """A user's OpenFWI-format folder of a family the bundled model has never seen."""
    folder = tmp_path / "my-basin"
    save_openfwi_file(folder / "model" / "model1.npy", generate_velocity_models("curvefault-b", 8, seed=3))
    return folder


@pytest.fixture
def basin_npy_folder(tmp_path) -> Path:
    """More of that basin as plain .npy maps on a finer 5 m grid (140 x 140)."""
    folder = tmp_path / "my-basin-npy"
    folder.mkdir()
    maps = generate_velocity_models("curvefault-b", 4, seed=4)
    np.save(folder / "fine_grid.npy", np.repeat(np.repeat(maps, 2, axis=1), 2, axis=2))
    return folder


def test_velocity_fine_tune_adds_a_family_and_keeps_frozen_parts(
    tmp_path, basin_folder, basin_npy_folder, accelerate_launch
):
    data = ["--openfwi_dir", basin_folder, "--openfwi_family", "my-basin", "--velocity_npy_dir", basin_npy_folder,
            "--velocity_npy_family", "my-basin", "--train_batch_size", "4",
            "--max_train_steps", "2", "--logging_steps", "1", "--validation_steps", "0",
            "--num_inference_steps", "2", "--lr_warmup_steps", "0"]  # fmt: skip
    fine, scratch = tmp_path / "fine", tmp_path / "scratch"
    log = accelerate_launch(
        "train_velocity.py", "--output_dir", fine, "--pretrained_pipeline", BUNDLED_VELOCITY,
        "--freeze", "encoder", "class_embedding", "--use_ema", *data,
    )  # fmt: skip
    assert "Fine-tuning from" in log and "new: ['my-basin']" in log and "12 maps" in log
    accelerate_launch(
        "train_velocity.py", "--output_dir", scratch, "--block_out_channels", "8", "16",
        "--layers_per_block", "1", *data,
    )  # fmt: skip
    # the same first batch: a pretrained denoiser already predicts the noise
    assert first_step_loss(fine) < 0.3 * first_step_loss(scratch)

    pipe = VelocityGenerationPipeline.from_pretrained(str(fine / "pipeline"))
    assert pipe.families == VelocityGenerationPipeline.from_pretrained(str(BUNDLED_VELOCITY)).families + [
        "my-basin"
    ]
    pipe.set_progress_bar_config(disable=True)
    velocities = pipe(batch_size=2, family="my-basin", generator=torch.Generator().manual_seed(0),
                      num_inference_steps=2).velocities  # fmt: skip
    assert velocities.shape == (2, 70, 70)
    # scheduler configuration and tuned sampling settings carried over, not rebuilt from defaults
    bundled = VelocityGenerationPipeline.from_pretrained(str(BUNDLED_VELOCITY))
    assert pipe.scheduler.config == bundled.scheduler.config
    for key in ("default_num_inference_steps", "default_guidance_scale"):
        assert pipe.config[key] == bundled.config[key]
    # the profile prior: pretrained rows kept for families without data, the new family fitted
    old_prior, new_prior = bundled.processor.config, pipe.processor.config
    assert new_prior.profile_components[:8] == old_prior.profile_components[:8]
    assert new_prior.mean_profiles[:8] == old_prior.mean_profiles[:8]
    assert np.asarray(new_prior.profile_components).shape == (10, 8, 70)

    before, after = weights(BUNDLED_VELOCITY), weights(fine / "pipeline")
    frozen = [k for k in before if k.startswith(("conv_in.", "time_embedding.", "down_blocks."))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("up_blocks."))
    # the documented class rule: old rows kept, null row moved last, the new family starts from it
    old_rows, new_rows = before["class_embedding.weight"], after["class_embedding.weight"]
    assert new_rows.shape[0] == old_rows.shape[0] + 1
    assert torch.equal(new_rows[:8], old_rows[:8])
    assert torch.equal(new_rows[8], old_rows[8]) and torch.equal(new_rows[9], old_rows[8])
    card = (fine / "pipeline" / "README.md").read_text()
    assert f"Fine-tuned from: `{BUNDLED_VELOCITY}`" in card and "frozen: encoder, class_embedding" in card


def test_denoiser_fine_tune_freezes_the_encoder(tmp_path, accelerate_launch):
    data = ["--num_events", "8", "--num_noise", "8", "--pairs_per_event", "1", "--train_batch_size", "4",
            "--max_train_steps", "2", "--logging_steps", "1", "--validation_pairs", "4",
            "--lr_warmup_steps", "0"]  # fmt: skip
    fine, scratch = tmp_path / "fine", tmp_path / "scratch"
    accelerate_launch(
        "train_denoiser.py", "--output_dir", fine, "--pretrained_pipeline", BUNDLED_DENOISER,
        "--freeze", "encoder", *data,
    )  # fmt: skip
    accelerate_launch("train_denoiser.py", "--output_dir", scratch, "--channel_mults", "1", "2", *data)
    assert first_step_loss(fine) < 0.5 * first_step_loss(scratch)

    pipe = ColdDiffusionDenoisePipeline.from_pretrained(str(fine / "pipeline"))
    bundled = ColdDiffusionDenoisePipeline.from_pretrained(str(BUNDLED_DENOISER))

    assert public_config(pipe.processor.config) == public_config(bundled.processor.config)
    assert public_config(pipe.scheduler.config) == public_config(bundled.scheduler.config)
    assert pipe.unet.config.input_gate == bundled.unet.config.input_gate
    before, after = weights(BUNDLED_DENOISER), weights(fine / "pipeline")
    frozen = [
        k for k in before if k.startswith(("conv_in.", "time_embedding.", "down_blocks.", "downsamplers."))
    ]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("up_blocks."))
    assert "Fine-tuned from" in (fine / "pipeline" / "README.md").read_text()


def corrupt_copy(source: Path, folder: Path) -> Path:
    shutil.copytree(source, folder)
    (folder / "unet" / WEIGHTS).write_bytes(b"not a safetensors file")
    return folder


@pytest.fixture
def reset_accelerate():
    yield
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)


@pytest.mark.parametrize(
    "script, data",
    [
        ("train_velocity", ["--openfwi_dir", "/nonexistent/openfwi"]),
        (
            "train_denoiser",
            ["--stead_hdf5", "/nonexistent/merge.hdf5", "--stead_csv", "/nonexistent/merge.csv"],
        ),
    ],
)
@pytest.mark.parametrize("problem", ["missing", "wrong type", "corrupt"])
def test_bad_pretrained_pipeline_fails_before_reading_data(
    script,
    data,
    problem,
    tmp_path,
    tiny_denoise_pipeline_dir,
    tiny_velocity_pipeline_dir,
    reset_accelerate,
    repo_script,
):
    right, wrong = tiny_velocity_pipeline_dir, tiny_denoise_pipeline_dir
    if script == "train_denoiser":
        right, wrong = wrong, right
    if problem == "missing":
        pipeline, message = (
            tmp_path / "no" / "such" / "pipeline",
            "neither an existing pipeline folder nor a Hub id",
        )
    elif problem == "wrong type":
        pipeline, message = wrong, "but this script fine-tunes a"
    else:
        pipeline, message = corrupt_copy(Path(right), tmp_path / "corrupt"), "Corrupt safetensors file"
    module = repo_script(f"training/{script}.py")
    args = module.parse_args(
        ["--output_dir", str(tmp_path / "out"), "--pretrained_pipeline", str(pipeline), *data]
    )
    with pytest.raises(ValueError, match=message):
        module.main(args)  # the data paths do not exist: reading them would raise something else


def test_freeze_needs_a_pretrained_pipeline(capsys, repo_script):
    with pytest.raises(SystemExit):
        repo_script("training/train_denoiser.py").parse_args(["--freeze", "encoder"])
    assert "--freeze needs --pretrained_pipeline" in capsys.readouterr().err


def test_denoiser_fine_tunes_on_a_miniseed_archive(tmp_path, accelerate_launch):
    from seismic_diffusers.data import (
        generate_local_earthquakes,
        generate_seismic_noise,
        write_miniseed_folder,
    )

    events, noise = tmp_path / "events", tmp_path / "noise"
    write_miniseed_folder(events, generate_local_earthquakes(4, seed=7)["waveforms"], station_prefix="EV")
    write_miniseed_folder(noise, generate_seismic_noise(2, seed=7, num_samples=6000), station_prefix="NO")
    out = tmp_path / "fine"
    log = accelerate_launch(
        "train_denoiser.py", "--pretrained_pipeline", BUNDLED_DENOISER, "--event_mseed_dir", events,
        "--noise_mseed_dir", noise, "--output_dir", out, "--max_train_steps", "2", "--train_batch_size", "4",
        "--validation_pairs", "4", "--logging_steps", "1",
    )  # fmt: skip
    assert "16 pairs" in log  # 4 events x 4 noise draws each
    card = (out / "pipeline" / "README.md").read_text()
    assert f"miniSEED events in {events}, noise in {noise}" in card
    ColdDiffusionDenoisePipeline.from_pretrained(str(out / "pipeline"))


def test_guided_teacher_target_is_the_pipelines_guidance(tiny_velocity_pipeline, repo_script):
    unet = tiny_velocity_pipeline.unet
    null = tiny_velocity_pipeline.processor.null_label
    noisy = torch.randn(3, 1, 70, 70, generator=torch.Generator().manual_seed(0))
    timesteps = torch.tensor([10, 500, 990])
    labels = torch.tensor([0, 5, null])
    target = repo_script("training/train_velocity.py").guided_teacher_target(
        unet, noisy, timesteps, labels, null, 2.5
    )
    with torch.no_grad():
        cond = unet(noisy, timesteps, class_labels=labels).sample
        uncond = unet(noisy, timesteps, class_labels=torch.full_like(labels, null)).sample
    torch.testing.assert_close(target, uncond + 2.5 * (cond - uncond), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(target[2], uncond[2], atol=1e-5, rtol=1e-4)  # null rows stay unguided
    assert not torch.allclose(target[:2], cond[:2], atol=1e-3)
    # One weight per row (per-family distillation): each row follows its own scale.
    per_row = repo_script("training/train_velocity.py").guided_teacher_target(
        unet, noisy, timesteps, labels, null, torch.tensor([2.5, 1.0, 1.0])
    )
    torch.testing.assert_close(per_row[0], target[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(per_row[1], cond[1], atol=1e-5, rtol=1e-4)


def test_guidance_distillation_saves_an_unguided_pipeline(
    tmp_path, tiny_velocity_pipeline_dir, accelerate_launch
):
    out = tmp_path / "distilled"
    accelerate_launch(
        "train_velocity.py", "--output_dir", out, "--pretrained_pipeline", tiny_velocity_pipeline_dir,
        "--distill_guidance_scale", "2.0", "--distill_family_guidance_scale", "curvefault-b=1.0",
        "--num_per_family", "2", "--train_batch_size", "4",
        "--max_train_steps", "2", "--logging_steps", "1", "--validation_steps", "0", "--num_inference_steps", "2",
    )  # fmt: skip
    teacher = VelocityGenerationPipeline.from_pretrained(tiny_velocity_pipeline_dir)
    student = VelocityGenerationPipeline.from_pretrained(str(out / "pipeline"))
    assert student.config["default_guidance_scale"] == 1.0
    assert student.config["default_num_inference_steps"] == teacher.config["default_num_inference_steps"]
    assert student.families == teacher.families
    card = (out / "pipeline" / "README.md").read_text()
    assert "Guidance-distilled" in card and "(scale 2.0; per family: curvefault-b 1.0)" in card
    # The student starts as the teacher, so its first loss is the guidance term alone, not noise error.
    assert 0 < first_step_loss(out) < 1


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--distill_family_guidance_scale", "flatvel-a=3"], "needs --distill_guidance_scale"),
        (["--distill_guidance_scale", "2", "--distill_family_guidance_scale", "flatvel-a"], "FAMILY=SCALE"),
        (
            ["--distill_guidance_scale", "2", "--distill_family_guidance_scale", "flatvel-a=0.5"],
            "from 1 (unguided) to 20",
        ),
        (["--distill_guidance_scale", "2", "--distill_family_guidance_scale", "=2"], "needs a family"),
        (
            [
                "--distill_guidance_scale",
                "2",
                "--distill_family_guidance_scale",
                "flatvel-a=3",
                "FlatVel_A=1.5",
            ],
            "flatvel-a is given twice (3 and 1.5)",
        ),
    ],
)
def test_distill_family_guidance_scale_bad_arguments(
    capsys, tiny_velocity_pipeline_dir, extra, message, repo_script
):
    with pytest.raises(SystemExit):
        repo_script("training/train_velocity.py").parse_args(
            ["--pretrained_pipeline", tiny_velocity_pipeline_dir, *extra]
        )
    assert message in capsys.readouterr().err


def test_guidance_distillation_refuses_what_it_cannot_distil(
    tmp_path, capsys, tiny_velocity_pipeline_dir, reset_accelerate, repo_script
):
    script = repo_script("training/train_velocity.py")
    with pytest.raises(SystemExit):
        script.parse_args(["--distill_guidance_scale", "2"])
    assert "needs --pretrained_pipeline" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.parse_args(
            ["--pretrained_pipeline", tiny_velocity_pipeline_dir, "--distill_guidance_scale", "1"]
        )
    assert "must be > 1" in capsys.readouterr().err
    args = script.parse_args(
        ["--output_dir", str(tmp_path / "out"), "--pretrained_pipeline", tiny_velocity_pipeline_dir,
         "--distill_guidance_scale", "2", "--families", "flatvel-a", "my-basin"]
    )  # fmt: skip
    with pytest.raises(ValueError, match="no new families"):
        script.main(args)
    spelled = script.parse_args(
        ["--pretrained_pipeline", tiny_velocity_pipeline_dir, "--distill_guidance_scale", "2",
         "--distill_family_guidance_scale", "FlatVel_A=3"]
    )  # fmt: skip
    scales = script.distill_guidance_scales(spelled, list(VELOCITY_FAMILIES))
    assert scales["flatvel-a"] == 3.0 and len(scales) == len(VELOCITY_FAMILIES)
    args = script.parse_args(
        ["--output_dir", str(tmp_path / "out2"), "--pretrained_pipeline", tiny_velocity_pipeline_dir,
         "--distill_guidance_scale", "2", "--distill_family_guidance_scale", "saltdome=3"]
    )  # fmt: skip
    with pytest.raises(ValueError, match="Unknown family 'saltdome'"):
        script.main(args)

"""Smoke test for `training/distill_velocity_steps.py` through `accelerate launch` on CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seismic_diffusers import VelocityGenerationPipeline
from seismic_diffusers.schedulers.timestep_spacing import power_timesteps

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "training" / "distill_velocity_steps.py"


def run(*args, timeout=180) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1",
        str(SCRIPT), *map(str, args),
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", HF_HUB_OFFLINE="1")
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_distils_a_tiny_pipeline_into_a_two_step_student(tmp_path, tiny_velocity_pipeline_dir):
    result = run(
        "--teacher_pipeline", tiny_velocity_pipeline_dir, "--output_dir", tmp_path / "run",
        "--num_inference_steps", 2, "--teacher_steps_per_step", 2, "--max_train_steps", 3,
        "--num_per_family", 2, "--train_batch_size", 4, "--validation_steps", 2, "--learning_rate", 1e-3,
        "--logging_steps", 1,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    student = VelocityGenerationPipeline.from_pretrained(str(tmp_path / "run" / "pipeline"))
    teacher = VelocityGenerationPipeline.from_pretrained(tiny_velocity_pipeline_dir)
    assert student.config.default_num_inference_steps == 2
    assert student.config.default_guidance_scale == 1.0  # guidance folded in
    assert student.scheduler.config.solver_order == 1  # DDIM, the step its targets assume
    changed = [
        name
        for name, value in student.unet.state_dict().items()
        if not torch.equal(value, teacher.unet.state_dict()[name])
    ]
    assert changed  # it trained
    student.set_progress_bar_config(disable=True)
    maps = student(2, family="flatvel-a", generator=torch.Generator().manual_seed(0)).velocities
    assert maps.shape == (2, 70, 70) and np.isfinite(maps).all()
    assert (tmp_path / "run" / "samples" / "step-000002.png").is_file()
    assert (tmp_path / "run" / "train_log.jsonl").is_file()


def test_a_hand_picked_student_grid_is_saved_as_the_default_timesteps(tmp_path, tiny_velocity_pipeline_dir):
    result = run(
        "--teacher_pipeline", tiny_velocity_pipeline_dir, "--output_dir", tmp_path / "run",
        "--student_timesteps", 999, 494, 125, "--teacher_steps", 8, "--timestep_power", 1.5,
        "--max_train_steps", 2, "--num_per_family", 2, "--train_batch_size", 4, "--validation_steps", 0,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    student = VelocityGenerationPipeline.from_pretrained(str(tmp_path / "run" / "pipeline"))
    assert student.config.default_timesteps == [999, 494, 125]
    assert student.config.default_num_inference_steps == 3 and student.spaced_timesteps(3) == [999, 494, 125]
    bad = run("--teacher_pipeline", tiny_velocity_pipeline_dir, "--output_dir", tmp_path / "bad",
              "--student_timesteps", 999, 500, "--teacher_steps", 8, "--timestep_power", 1.5, timeout=60)  # fmt: skip
    assert bad.returncode != 0 and "lie on the teacher's grid" in bad.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--num_inference_steps", "1"], "--num_inference_steps must be >= 2"),
        (
            ["--num_inference_steps", "3", "--step_probabilities", "1", "1", "1"],
            "--step_probabilities needs 2 values",
        ),
        (["--student_layers_per_block", "1"], "need --student_block_out_channels"),
        (
            ["--student_block_out_channels", "12", "24", "--student_norm_num_groups", "8"],
            "must divide every width",
        ),
        (
            ["--student_block_out_channels", "8", "16", "--student_init", "teacher"],
            "cannot take --student_init",
        ),
    ],
)
def test_refuses_bad_flags_before_any_work(flags, message, tmp_path, parse_args_error):
    argv = ["--teacher_pipeline", "teacher", "--output_dir", tmp_path / "bad", *flags]
    assert message in parse_args_error("training/distill_velocity_steps.py", argv)
    assert not (tmp_path / "bad").exists()


def test_student_init_starts_from_another_pipelines_unet(
    tmp_path, tiny_velocity_pipeline_dir, tiny_unconditional_velocity_pipeline
):
    earlier = VelocityGenerationPipeline.from_pretrained(tiny_velocity_pipeline_dir)
    with torch.no_grad():
        for value in earlier.unet.parameters():
            value.add_(0.1)
    earlier.save_pretrained(str(tmp_path / "earlier"))
    result = run(
        "--teacher_pipeline", tiny_velocity_pipeline_dir, "--student_init", tmp_path / "earlier",
        "--output_dir", tmp_path / "run", "--student_timesteps", 999, 494, 125, "--teacher_steps", 8,
        "--timestep_power", 1.5, "--max_train_steps", 1, "--learning_rate", 1e-12, "--num_per_family", 2,
        "--train_batch_size", 4, "--validation_steps", 0, "--step_probabilities", 0, 1, "--sampler", "sde",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    student = VelocityGenerationPipeline.from_pretrained(str(tmp_path / "run" / "pipeline"))
    assert student.scheduler.config.algorithm_type == "sde-dpmsolver++"
    assert student.scheduler.config.solver_order == 1
    for name, value in earlier.unet.state_dict().items():
        torch.testing.assert_close(student.unet.state_dict()[name], value, atol=1e-6, rtol=0)

    tiny_unconditional_velocity_pipeline.save_pretrained(str(tmp_path / "other"))
    bad = run("--teacher_pipeline", tiny_velocity_pipeline_dir, "--student_init", tmp_path / "other",
              "--output_dir", tmp_path / "bad", "--max_train_steps", 1, timeout=60)  # fmt: skip
    assert bad.returncode != 0 and "does not fit the teacher's inputs and outputs" in bad.stderr


def test_a_compact_student_learns_the_teachers_whole_grid_from_scratch(tmp_path, tiny_velocity_pipeline_dir):
    teacher = VelocityGenerationPipeline.from_pretrained(tiny_velocity_pipeline_dir)
    grid = power_timesteps(teacher.scheduler, 4, 1.5)
    result = run(
        "--teacher_pipeline", tiny_velocity_pipeline_dir, "--output_dir", tmp_path / "run",
        "--student_timesteps", *grid, "--teacher_steps", 4, "--timestep_power", 1.5,
        "--student_block_out_channels", 4, 8, "--student_norm_num_groups", 4, "--sampler", "teacher",
        "--max_train_steps", 2, "--num_per_family", 2, "--train_batch_size", 4, "--validation_steps", 0,
        "--learning_rate", 1e-3,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    student = VelocityGenerationPipeline.from_pretrained(str(tmp_path / "run" / "pipeline"))
    assert list(student.unet.config.block_out_channels) == [4, 8]
    assert student.unet.config.norm_num_groups == 4 and student.unet.config.num_class_embeds == 9
    assert sum(p.numel() for p in student.unet.parameters()) < sum(
        p.numel() for p in teacher.unet.parameters()
    )
    # sampled with the teacher's own scheduler on the teacher's grid, unguided
    assert student.scheduler.config.algorithm_type == teacher.scheduler.config.algorithm_type
    assert student.scheduler.config.solver_order == teacher.scheduler.config.solver_order
    assert student.config.default_timesteps == grid and student.config.default_guidance_scale == 1.0
    student.set_progress_bar_config(disable=True)
    maps = student(2, family="curvefault-a", generator=torch.Generator().manual_seed(0)).velocities
    assert maps.shape == (2, 70, 70) and np.isfinite(maps).all()

    further = run(
        "--teacher_pipeline", tiny_velocity_pipeline_dir, "--student_init", tmp_path / "run" / "pipeline",
        "--output_dir", tmp_path / "further", "--student_timesteps", *grid, "--teacher_steps", 4,
        "--timestep_power", 1.5, "--sampler", "teacher", "--max_train_steps", 1, "--learning_rate", 1e-12,
        "--num_per_family", 2, "--train_batch_size", 4, "--validation_steps", 0,
    )  # fmt: skip
    assert further.returncode == 0, further.stderr[-4000:]
    trained_further = VelocityGenerationPipeline.from_pretrained(str(tmp_path / "further" / "pipeline"))
    assert list(trained_further.unet.config.block_out_channels) == [4, 8]  # its own architecture kept
    for name, value in student.unet.state_dict().items():
        torch.testing.assert_close(trained_further.unet.state_dict()[name], value, atol=1e-6, rtol=0)


def test_refuses_a_teacher_sampler_off_the_teachers_grid(tmp_path, tiny_velocity_pipeline_dir):
    base = ("--teacher_pipeline", tiny_velocity_pipeline_dir, "--output_dir", tmp_path / "bad")
    sampler = run(
        *base, "--num_inference_steps", 2, "--sampler", "teacher", "--max_train_steps", 1, timeout=60
    )
    assert sampler.returncode != 0 and "--sampler teacher needs the teacher's whole grid" in sampler.stderr
    assert not (tmp_path / "bad" / "pipeline").exists()

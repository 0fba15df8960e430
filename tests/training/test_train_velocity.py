"""Smoke tests for `training/train_velocity.py` through `accelerate launch` on CPU.

The kill-and-resume test SIGKILLs a real run right after its first checkpoint lands, then resumes
it with `--resume_from_checkpoint latest` and checks the finished pipeline folder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from seismic_diffusers import VELOCITY_FAMILIES, VelocityGenerationPipeline, VelocityProcessor
from seismic_diffusers.data import generate_velocity_models, save_openfwi_file

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "training" / "train_velocity.py"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
MAX_STEPS = 16  # 8 batches per epoch: the run crosses an epoch boundary, and is killed at step 2-4
TINY_ARGS = [
    "--block_out_channels", "8", "16",
    "--layers_per_block", "1",
    "--num_per_family", "4",
    "--train_batch_size", "4",
    "--validation_steps", "0",
    "--num_inference_steps", "2",
    "--logging_steps", "1",
]  # fmt: skip
RUN_TIMEOUT_S = 120


def launch_command(*args) -> list[str]:
    return [
        sys.executable, "-m", "accelerate.commands.launch",
        "--num_processes", "1",
        "--num_machines", "1",
        "--mixed_precision", "no",
        "--dynamo_backend", "no",
        "--num_cpu_threads_per_process", "1",
        str(SCRIPT.relative_to(REPO_ROOT)),
        *TINY_ARGS,
        *map(str, args),
    ]  # fmt: skip


def launch(log_path: Path, *args) -> subprocess.Popen:
    """Start a training run in its own process group (so the launcher and its child die together)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            launch_command(*args),
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def run_to_completion(log_path: Path, *args) -> str:
    process = launch(log_path, *args)
    try:
        returncode = process.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    log = log_path.read_text(errors="replace")
    assert returncode == 0, log[-4000:]
    return log


def pickle_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.suffix in PICKLE_SUFFIXES]


def check_pipeline_folder(pipeline_dir: Path, families: list[str]) -> None:
    assert (pipeline_dir / "model_index.json").is_file()
    assert (pipeline_dir / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert (pipeline_dir / "README.md").is_file()
    assert pickle_files(pipeline_dir) == []
    index = json.loads((pipeline_dir / "model_index.json").read_text())
    assert index["unet"] == ["seismic_diffusers", "VelocityUNet2DModel"]
    assert index["processor"] == ["seismic_diffusers", "VelocityProcessor"]

    pipe = VelocityGenerationPipeline.from_pretrained(str(pipeline_dir))
    pipe.set_progress_bar_config(disable=True)
    assert pipe.families == families
    # the training maps' mean velocity-depth profiles, one per family plus the null class
    assert np.asarray(pipe.processor.config.mean_profiles).shape == (len(families) + 1, 70)
    assert np.asarray(pipe.processor.config.profile_components).shape == (len(families) + 1, 8, 70)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        velocities = pipe(
            batch_size=2,
            family=families[0],
            num_inference_steps=2,
            generator=torch.Generator().manual_seed(0),
        ).velocities
    finally:
        torch.set_num_threads(threads)
    assert velocities.shape == (2, 70, 70)
    assert velocities.min() >= 1500.0 and velocities.max() <= 4500.0


def test_kill_mid_run_then_resume_latest(tmp_path):
    output_dir = tmp_path / "run"
    common = [
        "--output_dir",
        output_dir,
        "--max_train_steps",
        MAX_STEPS,
        "--checkpointing_steps",
        2,
        "--use_ema",
    ]

    # 1. Start, wait for the first checkpoint (renamed from `.tmp` only once complete), SIGKILL.
    process = launch(tmp_path / "first.log", *common)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while not (output_dir / "checkpoint-2").is_dir():
            assert process.poll() is None, (tmp_path / "first.log").read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, "no checkpoint-2 within the time limit"
            time.sleep(0.02)
        alive_when_killed = process.poll() is None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert alive_when_killed, "the run finished before it could be killed; raise MAX_STEPS"
    assert process.returncode == -signal.SIGKILL
    assert not (output_dir / "pipeline" / "model_index.json").exists()
    checkpoints = [p.name for p in output_dir.glob("checkpoint-*") if not p.name.endswith(".tmp")]
    assert checkpoints, "the killed run left no complete checkpoint"

    # 2. Resume from the latest complete checkpoint and finish.
    log = run_to_completion(tmp_path / "resume.log", *common, "--resume_from_checkpoint", "latest")
    resumed = re.search(r"Resuming from \S*checkpoint-(\d+)", log)
    assert resumed, log[-4000:]
    resumed_step = int(resumed.group(1))
    assert 2 <= resumed_step < MAX_STEPS

    # 3. A complete, safetensors-only pipeline that generates physical velocities.
    check_pipeline_folder(output_dir / "pipeline", families=list(VELOCITY_FAMILIES))
    # Checkpoints are capped at --checkpoints_total_limit (2) and none is left half-written.
    remaining = sorted(p.name for p in output_dir.glob("checkpoint-*"))
    assert remaining == [f"checkpoint-{MAX_STEPS - 2}", f"checkpoint-{MAX_STEPS}"]
    assert (
        output_dir / f"checkpoint-{MAX_STEPS}" / "unet_ema" / "diffusion_pytorch_model.safetensors"
    ).is_file()
    assert (output_dir / "samples_final.png").is_file()

    # 4. The log has every step; steps after the checkpoint may appear twice (killed, then redone).
    records = [json.loads(line) for line in (output_dir / "train_log.jsonl").read_text().splitlines()]
    steps = [record["step"] for record in records]
    assert max(steps) == MAX_STEPS
    assert set(steps) == set(range(1, MAX_STEPS + 1))
    assert all(np.isfinite(record["loss"]) for record in records)
    # The LR schedule state was restored: still in the 200-step linear warm-up of lr 5e-4.
    for record in records:
        assert record["lr"] == pytest.approx(5e-4 * record["step"] / 200, rel=1e-6)


def test_train_on_openfwi_files(tmp_path):
    data_dir = tmp_path / "FlatVel_A"
    for i in (1, 2):
        # OpenFWI layout: model/model<i>.npy of shape (N, 1, 70, 70), m/s.
        path = save_openfwi_file(
            data_dir / "model" / f"model{i}.npy", generate_velocity_models("flatvel-a", 4, seed=i)
        )
        assert np.load(path).shape == (4, 1, 70, 70)
    output_dir = tmp_path / "run"
    log = run_to_completion(
        tmp_path / "openfwi.log",
        "--output_dir", output_dir,
        "--openfwi_dir", data_dir,
        "--openfwi_family", "flatvel-a",
        "--max_train_steps", 2,
    )  # fmt: skip
    assert "8 maps, 2 steps" in log
    check_pipeline_folder(output_dir / "pipeline", families=list(VELOCITY_FAMILIES))
    processor = VelocityProcessor.from_pretrained(output_dir / "pipeline" / "processor")
    assert (output_dir / "pipeline" / "processor" / "profile_prior.safetensors").is_file()
    profiles = np.asarray(processor.config.mean_profiles)
    assert processor.config.family_weights == [8, 0, 0, 0, 0, 0, 0, 0]  # family=None draws flatvel-a only
    maps = np.concatenate([generate_velocity_models("flatvel-a", 4, seed=i) for i in (1, 2)])
    np.testing.assert_allclose(profiles[0], maps.mean(axis=(0, 2)), atol=1e-2)
    # families without data (all but flatvel-a) get the null row, the mean over every map
    np.testing.assert_allclose(profiles[1:], np.broadcast_to(profiles[0], profiles[1:].shape), atol=1e-2)
    steps = [json.loads(line)["step"] for line in (output_dir / "train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2]


def test_parse_args_defaults_and_errors(capsys, repo_script):
    script = repo_script("training/train_velocity.py")
    args = script.parse_args(["--output_dir", "out"])
    assert args.output_dir == "out"
    assert args.use_ema is False and args.push_to_hub is False and args.unconditional is False
    assert args.block_out_channels == [32, 64, 64, 128]
    assert script.parse_args(["--block_out_channels", "8", "16"]).block_out_channels == [8, 16]

    with pytest.raises(SystemExit):
        script.parse_args(["--push_to_hub"])
    assert "--hub_model_id" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.parse_args(["--openfwi_dir", "a", "b", "--openfwi_family", "flatvel-a"])
    assert "one name per --openfwi_dir" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.parse_args(["--prediction_type", "x0"])
    with pytest.raises(SystemExit):
        script.parse_args(["--snr_gamma", "0"])
    assert "--snr_gamma must be > 0" in capsys.readouterr().err


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_min_snr_weights_cap_the_x0_weight_at_gamma(prediction_type, repo_script):
    from diffusers import DDPMScheduler

    script = repo_script("training/train_velocity.py")
    scheduler = DDPMScheduler(beta_schedule="squaredcos_cap_v2")
    timesteps = torch.tensor([0, 100, 400, 700, 999])
    snr = scheduler.alphas_cumprod[timesteps] / (1 - scheduler.alphas_cumprod[timesteps])
    weights = script.min_snr_weights(scheduler, timesteps, 5.0, prediction_type)
    # Whatever the target, the implied weight on the x0 error is min(SNR, gamma).
    to_x0 = {"epsilon": snr, "v_prediction": snr + 1, "sample": torch.ones_like(snr)}[prediction_type]
    torch.testing.assert_close(weights * to_x0, snr.clamp(max=5.0))
    if prediction_type == "epsilon":
        assert weights[0] < 1e-3 and weights[-1] == 1.0  # clean steps damped, noisy ones untouched


def test_film_attention_and_min_snr_run(tmp_path):
    output_dir = tmp_path / "run"
    run_to_completion(
        tmp_path / "film.log",
        "--output_dir", output_dir,
        "--max_train_steps", 2,
        "--time_scale_shift", "--attention", "--snr_gamma", 5,
    )  # fmt: skip
    config = json.loads((output_dir / "pipeline" / "unet" / "config.json").read_text())
    assert config["resnet_time_scale_shift"] == "scale_shift"
    assert config["down_block_types"][-1] == "AttnDownBlock2D"
    check_pipeline_folder(output_dir / "pipeline", families=list(VELOCITY_FAMILIES))
    losses = [json.loads(line)["loss"] for line in (output_dir / "train_log.jsonl").read_text().splitlines()]
    assert len(losses) == 2 and all(np.isfinite(losses))


def test_with_profile_prior_keeps_pretrained_rows_for_families_without_data(repo_script):
    module = repo_script("training/train_velocity.py")
    pretrained = module.VelocityProcessor(
        mean_profiles=[[2000.0 + 100.0 * i] * 70 for i in range(9)],
        profile_components=[[[float(i)] * 70] * 8 for i in range(9)],
    )
    dataset = [{"velocity": torch.full((1, 70, 70), 3000.0 + 100.0 * k), "label": 2} for k in range(3)]
    fitted = module.with_profile_prior(pretrained, dataset).config
    profiles, components = np.asarray(fitted.mean_profiles), np.asarray(fitted.profile_components)
    np.testing.assert_allclose(profiles[2], 3100.0)  # refitted from the data
    np.testing.assert_allclose(profiles[0], 2000.0)  # no data: the pretrained row stays
    np.testing.assert_allclose(profiles[-1], 3100.0)  # null row: the mean over this data
    # the data's spread: three levels 100 m/s apart (sample std 100) in the first component, nothing else
    np.testing.assert_allclose(np.abs(components[2, 0]), 100.0, atol=0.01)
    np.testing.assert_allclose(components[2, 1:], 0.0, atol=0.01)
    np.testing.assert_allclose(components[0], 0.0)  # no data: the pretrained components stay
    np.testing.assert_allclose(components[1], 1.0)
    # family=None draws only the family the data holds
    assert fitted.family_weights == [0, 0, 3, 0, 0, 0, 0, 0]


def test_with_profile_prior_writes_no_weights_for_balanced_data(repo_script):
    module = repo_script("training/train_velocity.py")
    dataset = [{"velocity": torch.full((1, 70, 70), 3000.0), "label": k % 8} for k in range(16)]
    assert module.with_profile_prior(module.VelocityProcessor(), dataset).config.family_weights is None

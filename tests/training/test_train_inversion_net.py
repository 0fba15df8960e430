"""`train_inversion_net.py` through `accelerate launch` on CPU, on a tiny two-family make-dataset folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seismic_diffusers import InversionNetModel
from seismic_diffusers.data import make_paired_dataset

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCH = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
          "--mixed_precision", "no", "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1"]  # fmt: skip
TINY = ["--block_out_channels", "8", "8", "8", "--latent_channels", "4", "--train_batch_size", "4",
        "--checkpointing_steps", "2", "--logging_steps", "1", "--validation_fraction", "0.25",
        "--validation_pairs", "3", "--use_ema"]  # fmt: skip


def run(*arguments: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    command = [*LAUNCH, "training/train_inversion_net.py", *arguments]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def paired_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    make_paired_dataset(out, ["flatvel-a", "curvefault-b"], num=6, shard_size=6, seed=0, progress=False)
    return out


def test_trains_resumes_and_scores_each_family(paired_folder, tmp_path):
    output = tmp_path / "run"
    first = run(
        "--train_data_dir", str(paired_folder), "--output_dir", str(output), "--max_train_steps", "2", *TINY
    )
    assert first.returncode == 0, first.stderr[-3000:]
    assert (output / "checkpoint-2" / "inversion_net" / "diffusion_pytorch_model.safetensors").is_file()
    second = run("--train_data_dir", str(paired_folder), "--output_dir", str(output), "--max_train_steps", "4",
                 "--resume_from_checkpoint", "latest", *TINY)  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Resuming from" in second.stderr
    steps = [json.loads(line)["step"] for line in (output / "train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    record = json.loads((output / "inversion_net" / "training_record.json").read_text())
    assert record["train_pairs"] == 9 and record["steps"] == 4  # 12 pairs, every 4th held out
    held_out = record["held_out"]
    assert held_out["all"]["pairs"] == 3
    assert {"flatvel-a", "curvefault-b"} <= set(held_out)  # one row per family folder
    assert sum(held_out[f]["pairs"] for f in ("flatvel-a", "curvefault-b")) == 3
    assert 0 < held_out["all"]["mae_m_per_s"] < 3000 and -1 <= held_out["all"]["ssim"] <= 1
    model = InversionNetModel.from_pretrained(str(output / "inversion_net"))
    velocity = model.predict_velocity(torch.zeros(2, 5, 1000, 70))
    assert velocity.shape == (2, 70, 70)
    assert 1500 <= float(velocity.min()) and float(velocity.max()) <= 4500


def test_corrupted_training_gathers_run(paired_folder, tmp_path):
    output = tmp_path / "noisy"
    result = run("--train_data_dir", str(paired_folder), "--output_dir", str(output), "--max_train_steps", "2",
                 "--noise_probability", "1", "--snr_db_range", "5", "20", "--dead_trace_probability", "0.1", *TINY)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((output / "inversion_net" / "training_record.json").read_text())["steps"] == 2


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--snr_db_range", "30", "10", "--noise_probability", "1"], "snr_db_range"),
        (["--pretrained_model", "NOTHING"], "--pretrained_model"),
    ],
)
def test_bad_settings_fail_before_training(flags, message, tmp_path, parse_args_error):
    flags = [tmp_path / "nothing" if flag == "NOTHING" else flag for flag in flags]
    argv = ["--train_data_dir", tmp_path, "--output_dir", tmp_path / "bad", *flags, *TINY]
    assert message in parse_args_error("training/train_inversion_net.py", argv)
    assert not (tmp_path / "bad").exists()


def test_fine_tunes_from_a_pretrained_model(paired_folder, tmp_path):
    base = tmp_path / "base"
    first = run(
        "--train_data_dir", str(paired_folder), "--output_dir", str(base), "--max_train_steps", "2", *TINY
    )
    assert first.returncode == 0, first.stderr[-3000:]
    # A pipeline-style folder (weights in inversion_net/) is accepted; its shapes win over the model options.
    tuned = run("--train_data_dir", str(paired_folder), "--output_dir", str(tmp_path / "tuned"), "--max_train_steps", "1",
                "--pretrained_model", str(base), "--learning_rate", "0", *TINY[:2], "16", *TINY[3:])  # fmt: skip
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    before = InversionNetModel.from_pretrained(str(base / "inversion_net"))
    after = InversionNetModel.from_pretrained(str(tmp_path / "tuned" / "inversion_net"))
    assert after.config.block_out_channels == before.config.block_out_channels == [8, 8, 8]
    for (name, a), b in zip(after.state_dict().items(), before.state_dict().values(), strict=True):
        assert torch.equal(a, b), name  # learning rate 0: the pretrained weights, unchanged
    record = json.loads((tmp_path / "tuned" / "inversion_net" / "training_record.json").read_text())
    assert record["pretrained_model"] == str(base)

"""Several processes (`accelerate launch --multi_gpu --num_processes 2`, gloo on CPU) train like one.

Each process draws the same noise from the same seed (diffusers' convention) but sees its own
shard of every global batch, so the runs are not bit-identical; they match statistically.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TINY_VELOCITY = ["--block_out_channels", "8", "16", "--layers_per_block", "1", "--num_per_family", "8",
                 "--families", "flatvel-a", "curvefault-a", "--max_train_steps", "30", "--logging_steps", "1",
                 "--validation_steps", "0", "--num_inference_steps", "2", "--learning_rate", "2e-3",
                 "--lr_warmup_steps", "0"]  # fmt: skip
TINY_DENOISER = ["--num_events", "8", "--num_noise", "8", "--pairs_per_event", "2", "--train_batch_size", "2",
                 "--logging_steps", "1", "--validation_pairs", "4", "--channel_mults", "1", "2",
                 "--checkpointing_steps", "2", "--use_ema"]  # fmt: skip


def logged(output_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (output_dir / "train_log.jsonl").read_text().splitlines()]


def test_two_processes_train_like_one_with_the_same_global_batch(tmp_path, accelerate_launch):
    one, two = tmp_path / "one", tmp_path / "two"
    accelerate_launch("train_velocity.py", "--output_dir", one, "--train_batch_size", "8", *TINY_VELOCITY)
    log = accelerate_launch(
        "train_velocity.py", "--output_dir", two, "--train_batch_size", "4", *TINY_VELOCITY, num_processes=2
    )
    assert "Distributed environment: DistributedType.MULTI_CPU" in log and "Num processes: 2" in log
    single, double = logged(one), logged(two)
    # the same step budget and LR schedule, whatever the number of processes
    assert [r["step"] for r in double] == [r["step"] for r in single] == list(range(1, 31))
    np.testing.assert_allclose([r["lr"] for r in double], [r["lr"] for r in single])
    first = single[0]["loss"]
    late_single = np.mean([r["loss"] for r in single[-10:]])
    late_double = np.mean([r["loss"] for r in double[-10:]])
    assert late_single < 0.5 * first and late_double < 0.5 * first  # both learnt
    assert abs(late_double - late_single) < 0.3 * late_single  # and about equally well


def test_two_processes_checkpoint_and_resume(tmp_path, accelerate_launch):
    out = tmp_path / "run"
    accelerate_launch("train_denoiser.py", "--output_dir", out, "--max_train_steps", "2", *TINY_DENOISER,
                      num_processes=2)  # fmt: skip
    assert (out / "checkpoint-2" / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    log = accelerate_launch("train_denoiser.py", "--output_dir", out, "--max_train_steps", "4",
                            "--resume_from_checkpoint", "latest", *TINY_DENOISER, num_processes=2)  # fmt: skip
    assert "Resuming from" in log
    assert [r["step"] for r in logged(out)] == [1, 2, 3, 4]
    assert (out / "pipeline" / "unet" / "diffusion_pytorch_model.safetensors").is_file()

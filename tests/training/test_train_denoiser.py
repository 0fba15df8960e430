"""`training/train_denoiser.py` through `accelerate launch` on CPU: train, resume, load the result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import obspy
import pytest

from seismic_diffusers import ColdDiffusionDenoisePipeline

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = ["--num_events", "12", "--num_noise", "12", "--pairs_per_event", "1", "--train_batch_size", "4",
        "--channel_mults", "1", "2", "--checkpointing_steps", "2", "--validation_pairs", "4", "--logging_steps", "1",
        "--use_ema"]  # fmt: skip


def run(output_dir: Path, steps: int, *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1",
        "training/train_denoiser.py", "--output_dir", str(output_dir), "--max_train_steps", str(steps), *TINY, *extra,
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_train_resume_and_load_the_pipeline(tmp_path):
    out = tmp_path / "run"
    first = run(out, 2)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (out / "checkpoint-2" / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    second = run(out, 4, "--resume_from_checkpoint", "latest")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Resuming from" in second.stderr
    steps = [json.loads(line)["step"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]  # the resumed run continued at step 3, it did not restart

    folder = out / "pipeline"
    assert not [p for p in folder.rglob("*") if p.suffix in (".bin", ".pt", ".ckpt", ".pkl")]
    card = (folder / "README.md").read_text()
    assert "train_denoiser.py" in card and "reconstruction SNR" in card
    pipe = ColdDiffusionDenoisePipeline.from_pretrained(str(folder))
    pipe.set_progress_bar_config(disable=True)
    out_stream = pipe(obspy.read()).waveforms
    assert [t.stats.npts for t in out_stream] == [3000] * 3 and np.isfinite(out_stream[0].data).all()


def test_real_noise_and_a_band_reach_the_saved_processor(tmp_path):
    out = tmp_path / "run"
    result = run(
        out, 1, "--real_noise_fraction", "0.5", "--real_event_fraction", "0.25", "--band_hz", "1", "20",
        "--mid_attention_heads", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    pipe = ColdDiffusionDenoisePipeline.from_pretrained(str(out / "pipeline"))
    assert list(pipe.processor.config.band_hz) == [1.0, 20.0]
    assert pipe.unet.config.mid_attention_heads == 2 and pipe.unet.mid_attention is not None


def test_a_spectral_mask_model_trains_and_loads(tmp_path):
    out = tmp_path / "run"
    result = run(
        out, 1, "--architecture", "spectral_mask", "--mask_widths", "8", "16", "--mask_hop_length", "128",
        "--direct_step_fraction", "0.5", "--band_hz", "1", "20",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    pipe = ColdDiffusionDenoisePipeline.from_pretrained(str(out / "pipeline"))
    assert type(pipe.unet).__name__ == "SeismogramSpectralMaskModel"
    assert list(pipe.unet.config.block_out_channels) == [8, 16] and pipe.unet.config.hop_length == 128
    pipe.set_progress_bar_config(disable=True)
    assert np.isfinite(pipe(obspy.read()).waveforms[0].data).all()
    gated = run(tmp_path / "gated", 1, "--pretrained_pipeline", str(out / "pipeline"), "--input_gate")
    assert gated.returncode != 0 and "--input_gate applies to a SeismogramUNet1DModel" in gated.stderr
    assert not (tmp_path / "gated" / "pipeline").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--architecture", "spectral_mask", "--input_gate"], "--architecture spectral_mask builds a new"),
        (["--direct_step_fraction", "1.5"], "--direct_step_fraction must be in [0, 1]"),
        (["--magnitude_range", "5", "1"], "--magnitude_range needs finite LOW < HIGH"),
        (["--distance_range_km", "0", "100"], "--distance_range_km needs finite LOW < HIGH"),
        (["--mid_attention_heads", "3"], "--mid_attention_heads must be 0 or divide the coarsest width (16)"),
        (["--real_noise_fraction", "1.5"], "--real_noise_fraction must be in [0, 1]"),
        (["--real_event_fraction", "-0.1"], "--real_event_fraction must be in [0, 1]"),
    ],
)
def test_bad_flags_are_refused_before_training(flags, message, tmp_path, parse_args_error):
    assert message in parse_args_error(
        "training/train_denoiser.py", ["--output_dir", tmp_path / "bad", *TINY, *flags]
    )
    assert not (tmp_path / "bad").exists()


def test_a_window_shorter_than_a_loss_segment_is_refused_before_training(repo_script, parse_args_error):
    script = repo_script("training/train_denoiser.py")
    refused = parse_args_error(
        "training/train_denoiser.py", ["--loss", "segmental_snr", "--window_length", "64"]
    )
    assert "--loss segmental_snr needs windows of at least 100 samples" in refused
    assert script.parse_args(["--loss", "segmental_snr"]).window_length == 3000


def test_larger_farther_synthetic_events_are_poorer_in_high_frequencies(repo_script):
    script = repo_script("training/train_denoiser.py")

    def median_centroid_hz(*flags: str) -> float:
        args = script.parse_args(
            ["--num_events", "24", "--num_noise", "4", "--real_noise_fraction", "0", *flags]
        )
        events = np.asarray(script.build_dataset(args).events, dtype=np.float64)
        power = (np.abs(np.fft.rfft(events, axis=-1)) ** 2).sum(axis=1)
        frequency = np.fft.rfftfreq(events.shape[-1], 1 / 100.0)
        return float(np.median((power * frequency).sum(-1) / power.sum(-1)))

    default = median_centroid_hz()
    far = median_centroid_hz("--magnitude_range", "2", "6", "--distance_range_km", "30", "300")
    assert far < 0.8 * default

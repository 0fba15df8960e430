"""`training/train_waveform_vae.py` through `accelerate launch` on CPU: AE and CVAE, kill-free resume."""

from __future__ import annotations

import json

import pytest
import torch

from seismic_diffusers import SpectrogramAutoencoder, SpectrogramVAE, WaveformSpectrogram

TINY = ["--num_records", "40", "--train_batch_size", "8", "--logging_steps", "1", "--block_out_channels", "8", "8",
        "16", "16", "--checkpointing_steps", "2", "--use_ema"]  # fmt: skip


@pytest.mark.parametrize("model, cls", [("cvae", SpectrogramVAE), ("ae", SpectrogramAutoencoder)])
def test_train_resume_and_load(tmp_path, accelerate_launch, model, cls):
    out = tmp_path / model
    accelerate_launch(
        "train_waveform_vae.py", "--model", model, "--output_dir", out, "--max_train_steps", "2", *TINY
    )
    log = accelerate_launch("train_waveform_vae.py", "--model", model, "--output_dir", out, "--max_train_steps", "4",
                            "--resume_from_checkpoint", "latest", *TINY)  # fmt: skip
    assert "Resuming from" in log
    steps = [json.loads(line)["step"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    loaded = cls.from_pretrained(str(out / "model"))
    if model == "cvae":
        assert loaded.conditional and loaded.config.num_stations == 8
        assert loaded.config.magnitude_range[0] >= 0.8 and loaded.config.magnitude_range[1] <= 4.9
    spectrogram = WaveformSpectrogram.from_config(WaveformSpectrogram.load_config(str(out / "spectrogram")))
    assert (
        spectrogram.shape == (3, 129, 110)
        and spectrogram.config.log_range[1] > spectrogram.config.log_range[0]
    )
    scores = json.loads((out / "scores.json").read_text())
    assert scores["steps"] == 4 and scores["held_out_records"] == 2 and "spectrogram_snr_db" in scores


def test_cvae_writes_a_pipeline_that_fine_tunes(tmp_path, accelerate_launch):
    from seismic_diffusers import ConditionalWaveformPipeline

    base, fine = tmp_path / "base", tmp_path / "fine"
    accelerate_launch(
        "train_waveform_vae.py", "--model", "cvae", "--output_dir", base, "--max_train_steps", "2", *TINY
    )
    pipe = ConditionalWaveformPipeline.from_pretrained(str(base / "pipeline"))
    assert pipe.stations == [f"MR0{i}" for i in range(1, 9)] and pipe.prior is None
    log = accelerate_launch("train_waveform_vae.py", "--pretrained_pipeline", base / "pipeline", "--freeze", "encoder",
                            "--output_dir", fine, "--max_train_steps", "2", "--data_seed", "3", *TINY)  # fmt: skip
    assert "Fine-tuning from" in log
    from safetensors.torch import load_file

    before = load_file(str(base / "pipeline" / "vae" / "diffusion_pytorch_model.safetensors"))
    after = load_file(str(fine / "pipeline" / "vae" / "diffusion_pytorch_model.safetensors"))
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(("encoder.", "to_moments.")))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    assert "Fine-tuned from" in (fine / "pipeline" / "README.md").read_text()


def test_a_diffusion_prior_over_a_vae_gives_a_pipeline_whose_parts_fine_tune(tmp_path, accelerate_launch):
    from seismic_diffusers import ConditionalWaveformPipeline

    vae_run, ldm = tmp_path / "vae", tmp_path / "ldm"
    accelerate_launch(
        "train_waveform_vae.py", "--model", "vae", "--output_dir", vae_run, "--max_train_steps", "2", *TINY
    )
    accelerate_launch("train_waveform_ldm.py", "--vae_run", vae_run, "--output_dir", ldm, "--num_records", "40",
                      "--train_batch_size", "8", "--max_train_steps", "3", "--width", "32", "--num_blocks", "1",
                      "--num_train_timesteps", "20", "--logging_steps", "1")  # fmt: skip
    pipe = ConditionalWaveformPipeline.from_pretrained(str(ldm / "pipeline"))
    pipe.set_progress_bar_config(disable=True)
    assert pipe.prior is not None and pipe.stations == [f"MR0{i}" for i in range(1, 9)]
    out = pipe(magnitude=3.0, latitude=40.8, longitude=28.5, depth=10.0, station="MR04",
               generator=torch.Generator().manual_seed(0), num_inference_steps=3)  # fmt: skip
    assert out.waveforms[0][0].stats.npts == 7000 and out.waveforms[0][0].stats.station == "MR04"

    # fine-tuning either part of that pipeline keeps a complete pipeline (prior included)
    fine = tmp_path / "fine"
    accelerate_launch("train_waveform_ldm.py", "--pretrained_pipeline", ldm / "pipeline", "--freeze", "embeddings",
                      "--output_dir", tmp_path / "ldm-fine", "--num_records", "40", "--train_batch_size", "8",
                      "--max_train_steps", "1")  # fmt: skip
    accelerate_launch("train_waveform_vae.py", "--pretrained_pipeline", ldm / "pipeline", "--output_dir", fine,
                      "--max_train_steps", "1", *TINY)  # fmt: skip
    for folder in (tmp_path / "ldm-fine" / "pipeline", fine / "pipeline"):
        pipe = ConditionalWaveformPipeline.from_pretrained(str(folder))
        assert pipe.prior is not None and "Fine-tuned from" in (folder / "README.md").read_text()


def test_peak_normalised_cvae_and_its_diffusion_prior_predict_amplitudes(tmp_path, accelerate_launch):
    import numpy as np

    from seismic_diffusers import ConditionalWaveformPipeline

    vae_run, ldm = tmp_path / "cvae", tmp_path / "ldm"
    accelerate_launch("train_waveform_vae.py", "--model", "cvae", "--output_dir", vae_run, "--max_train_steps", "3",
                      "--peak_normalize", "--loud_weight", "4", "--kl_warmup_steps", "2", *TINY)  # fmt: skip
    log = [json.loads(line) for line in (vae_run / "train_log.jsonl").read_text().splitlines()]
    assert all(row["log_peak_mse"] > 0 for row in log)
    scores = json.loads((vae_run / "scores.json").read_text())
    assert {"stft_magnitude_snr_db", "griffin_lim_snr_db", "log_peak_rmse"} <= set(scores)
    vae = SpectrogramVAE.from_pretrained(str(vae_run / "model"))
    low, high = vae.config.log_peak_range
    assert vae.config.predict_log_peak and -9.5 < low < high < -2.0  # training peaks +- half a decade
    accelerate_launch("train_waveform_ldm.py", "--vae_run", vae_run, "--output_dir", ldm, "--num_records", "40",
                      "--train_batch_size", "8", "--max_train_steps", "2", "--width", "32", "--num_blocks", "1",
                      "--num_train_timesteps", "20", "--logging_steps", "1")  # fmt: skip
    for folder in (vae_run / "pipeline", ldm / "pipeline"):
        pipe = ConditionalWaveformPipeline.from_pretrained(str(folder))
        pipe.set_progress_bar_config(disable=True)
        assert pipe.spectrogram.config.peak_normalize
        out = pipe(magnitude=3.0, latitude=40.8, longitude=28.5, depth=10.0, station="MR02", output_type="np",
                   generator=torch.Generator().manual_seed(0), num_inference_steps=3)  # fmt: skip
        assert low <= np.log10(np.abs(out.waveforms).max()) <= high

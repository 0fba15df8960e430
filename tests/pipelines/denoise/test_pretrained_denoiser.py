"""The shipped `pipelines/cold-diffusion-denoiser` really removes noise, on synthetic and real data.

Smaller versions of `benchmarks/bench_denoise.py` (which carries the full comparison): seeds
outside the training range, thresholds well below the benchmark's figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import obspy
import pytest

from seismic_diffusers import ColdDiffusionDenoisePipeline
from seismic_diffusers.cli import main
from seismic_diffusers.data import generate_local_earthquakes, generate_seismic_noise, scale_noise_to_snr
from seismic_diffusers.metrics import pearson_correlation, pick_phases, reconstruction_snr_db

SHIPPED = Path(__file__).resolve().parents[3] / "pipelines" / "cold-diffusion-denoiser"


@pytest.fixture(scope="module")
def shipped():
    pipe = ColdDiffusionDenoisePipeline.from_pretrained(str(SHIPPED))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_folder_is_safetensors_only():
    names = {p.name for p in SHIPPED.rglob("*") if p.is_file()}
    assert "diffusion_pytorch_model.safetensors" in names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".ckpt", ".pkl", ".pth"))]


def gain_db(estimate, clean, noisy):
    return reconstruction_snr_db(estimate, clean, per_channel=False) - reconstruction_snr_db(
        noisy, clean, per_channel=False
    )


def test_held_out_synthetic_events_gain_snr_and_correlation(shipped):
    events = generate_local_earthquakes(16, seed=90_000)
    clean = events["waveforms"].astype(np.float64)
    noisy = clean + scale_noise_to_snr(clean, generate_seismic_noise(16, seed=95_001), 0.0)
    denoised = shipped(noisy.astype(np.float32)).waveforms.astype(np.float64)
    assert denoised.shape == noisy.shape
    assert np.mean(gain_db(denoised, clean, noisy)) > 6.0  # benchmark: +9.0 dB at 0 dB
    assert (
        np.nanmean(pearson_correlation(denoised, clean))
        > np.nanmean(pearson_correlation(noisy, clean)) + 0.15
    )


def test_real_example_event_with_noise_gains_snr_and_keeps_the_p_pick(shipped):
    real = obspy.read()
    record = np.stack([real.select(component=c)[0].data.astype(np.float64) for c in "ENZ"])
    record -= record.mean(axis=-1, keepdims=True)
    clean = np.repeat(record[None], 4, axis=0)
    noisy = clean + scale_noise_to_snr(clean, generate_seismic_noise(4, seed=90_001), 0.0)
    denoised = shipped(noisy, sampling_rate=100.0).waveforms
    assert np.mean(gain_db(denoised, clean, noisy)) > 1.0  # benchmark: +2.65 dB at 0 dB
    true_p = pick_phases(record, 100.0)["p"]
    picks = [pick_phases(x, 100.0)["p"] for x in denoised]
    assert sum(p is not None and abs(p - true_p) <= 50 for p in picks) >= 3  # within 0.5 s


def test_cli_with_the_bundled_default_on_real_data(tmp_path, capsys):
    source, target = tmp_path / "rjob.mseed", tmp_path / "out" / "rjob_denoised.mseed"
    obspy.read().write(str(source), format="MSEED")
    assert main(["denoise", str(source), "-o", str(target)]) == 0
    out, original = obspy.read(str(target)), obspy.read(str(source))
    assert sorted((t.id, t.stats.starttime, t.stats.npts) for t in out) == sorted(
        (t.id, t.stats.starttime, t.stats.npts) for t in original
    )
    assert "denoised 3 trace(s) (direct)" in capsys.readouterr().out

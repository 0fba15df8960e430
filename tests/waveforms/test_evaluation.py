"""`reconstruction_scores`: the held-out reconstruction measures of the AE, VAE and CVAE."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seismic_diffusers import SpectrogramAutoencoder, SpectrogramVAE, WaveformSpectrogram
from seismic_diffusers.models.waveform_vae import SpectrogramAutoencoderOutput
from seismic_diffusers.waveforms import generate_marmara_records, reconstruction_scores

SMALL = {"block_out_channels": (8, 8, 16, 16), "latent_dim": 16}


@pytest.fixture(scope="module")
def records():
    return generate_marmara_records(4, seed=3)


class PerfectAutoencoder(SpectrogramAutoencoder):
    """Returns its input: every SNR is then limited by the clamp and Griffin-Lim alone."""

    def forward(self, x, return_dict: bool = True):
        return SpectrogramAutoencoderOutput(sample=x, latents=x)


def test_a_perfect_reconstruction_scores_high_and_a_random_model_low(records):
    spectrogram = WaveformSpectrogram(peak_normalize=True, griffin_lim_iterations=16)
    spectrogram.fit_log_range(records["waveforms"])
    generator = torch.Generator().manual_seed(0)
    perfect = reconstruction_scores(PerfectAutoencoder(**{"block_out_channels": (8, 8, 16, 16)}).eval(),
                                    spectrogram, records["waveforms"], generator=generator)  # fmt: skip
    assert perfect["spectrogram_snr_db"] > 100 and perfect["stft_magnitude_snr_db"] > 60
    assert 0 < perfect["griffin_lim_snr_db"] < 40 and "log_peak_rmse" not in perfect  # phase is re-estimated
    random = reconstruction_scores(SpectrogramAutoencoder(block_out_channels=(8, 8, 16, 16)).eval(), spectrogram,
                                   records["waveforms"], generator=generator)  # fmt: skip
    assert random["stft_magnitude_snr_db"] < 3 < perfect["griffin_lim_snr_db"]


def test_conditional_vae_with_amplitude_reports_the_log_peak_error(records):
    spectrogram = WaveformSpectrogram(peak_normalize=True, griffin_lim_iterations=2)
    spectrogram.fit_log_range(records["waveforms"])
    model = SpectrogramVAE(num_stations=8, predict_log_peak=True, log_peak_range=(-9.0, -2.0), **SMALL).eval()
    with torch.no_grad():  # the head predicts -5.5 whatever the record
        model.to_log_peak[-1].weight.zero_()
        model.to_log_peak[-1].bias.zero_()
    conditions = torch.tensor(
        np.stack([records[k] for k in ("magnitude", "latitude", "longitude", "depth_km")], axis=1),
        dtype=torch.float32,
    )
    scores = reconstruction_scores(
        model, spectrogram, records["waveforms"], conditions, torch.zeros(4, dtype=torch.long)
    )
    truth = np.log10(np.abs(records["waveforms"]).max(axis=(1, 2)))
    assert scores["log_peak_rmse"] == pytest.approx(np.sqrt(np.mean((truth + 5.5) ** 2)), rel=1e-5)
    assert all(np.isfinite(v) for v in scores.values())

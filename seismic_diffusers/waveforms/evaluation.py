"""How well a spectrogram autoencoder (AE, VAE, CVAE) reconstructs held-out records."""

from __future__ import annotations

import numpy as np
import torch

from ..metrics import reconstruction_snr_db
from ..models import SpectrogramVAE


def _snr(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean per-record SNR (dB) over all components and bins."""

    def flat(x: torch.Tensor) -> np.ndarray:
        return x.detach().double().cpu().numpy().reshape(x.shape[0], 1, -1)

    return float(np.mean(reconstruction_snr_db(flat(estimate), flat(reference), per_channel=False)))


@torch.no_grad()
def reconstruction_scores(
    model,
    spectrogram,
    waveforms,
    conditions: torch.Tensor | None = None,
    stations: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> dict:
    r"""Reconstruction scores of a `SpectrogramAutoencoder` or `SpectrogramVAE` on records.

    VAEs use the posterior mean (no sampling). With a peak-normalising `spectrogram`, all SNRs
    are of the peak-normalised records (the record's shape) and the amplitude is scored apart
    as the log10-peak error of models that predict it.

    Args:
        model: The autoencoder, in eval mode.
        spectrogram ([`WaveformSpectrogram`]): The settings it was trained with.
        waveforms (`(B, 3, window_length)`): Held-out records, training-data units.
        conditions (`torch.Tensor` of shape `(B, 4)`, *optional*): Magnitude, latitude,
            longitude, depth (km); conditional VAEs only. stations (`torch.Tensor` of shape `(B,)`):
            Station indices (the unknown-station row for stations it does not know).
        generator (`torch.Generator`, *optional*): Griffin-Lim's initial phases.

    Returns:
        `dict` of mean per-record values in dB: `spectrogram_snr_db` (normalised log
        spectrogram), `stft_magnitude_snr_db` (linear STFT magnitude of the decoded spectrogram,
        where the loud bins count), `griffin_lim_snr_db` (STFT magnitude of the waveform
        Griffin-Lim makes of it); and `log_peak_rmse` (log10 units) for amplitude-predicting VAEs.
    """
    spec, log_peak = spectrogram.to_spectrogram(waveforms, return_log_peak=True)
    predicted = None
    if not isinstance(model, SpectrogramVAE):  # the deterministic AE
        estimate = model(spec).sample
    else:
        out = model(
            spec,
            conditions if model.conditional else None,
            stations if model.conditional else None,
            sample_posterior=False,
        )
        estimate, predicted = out.sample, out.log_peak
    estimate = estimate.clamp(-1.0, 1.0)
    reference = spectrogram.stft_magnitude(waveforms)
    rebuilt = spectrogram.to_waveform(estimate, generator=generator)  # peak-normalised units if normalising
    scores = {
        "spectrogram_snr_db": _snr(estimate, spec),
        "stft_magnitude_snr_db": _snr(spectrogram.to_magnitude(estimate), reference),
        "griffin_lim_snr_db": _snr(spectrogram._stft(rebuilt).abs(), reference),
    }
    if predicted is not None:
        scores["log_peak_rmse"] = float(torch.sqrt(torch.mean((predicted.double() - log_peak) ** 2)))
    return scores

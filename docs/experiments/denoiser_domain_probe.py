"""Is the denoiser's in-band gap the synthetic-to-real gap? Gain against the ideal mask per domain.

Four combinations of events (the development set's real SEISAN events, or synthetic
`generate_local_earthquakes` events of seed 123456) and in-band noise (the benchmark's own real
in-band mixtures, `development_mixtures`, one draw per noise record and level; or synthetic
`generate_seismic_noise`, two draws per level), both band-passed to 1-20 Hz, mixed per event at 0,
5 and 10 dB, noise seed 5000 (a selection seed).
Prints the median SNR gain of the pipeline's direct mode and of the ideal time-frequency mask
(`metrics.oracle_mask_estimate`, which knows the event). If the model reached a much larger share of
the ideal mask on its own training domain (synthetic events, synthetic noise) than on real data,
the gap would be the domain's; if the share is about the same everywhere, it is the model's.
A third kind of events, synthetic events whose reference carries real in-band noise of its own at
12-28 dB (as the recorded development events do), tests whether that noise, which the ideal mask
keeps and a denoiser removes, is what holds the real-event rows down.

    python docs/experiments/denoiser_domain_probe.py pipelines/cold-diffusion-denoiser
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import torch

from seismic_diffusers import ColdDiffusionDenoisePipeline
from seismic_diffusers.data.denoising_pairs import scale_noise_to_snr
from seismic_diffusers.data.obspy_recordings import (
    development_events,
    development_mixtures,
    training_noise_windows,
)
from seismic_diffusers.data.synthetic_seismograms import generate_local_earthquakes, generate_seismic_noise
from seismic_diffusers.metrics import oracle_mask_estimate, reconstruction_snr_db
from seismic_diffusers.utils.streams import band_pass

RATE = 100.0
LEVELS = (0.0, 5.0, 10.0)
NOISE_SEED = 5000  # a selection seed: the benchmark reports on 1000


def probe_events() -> dict[str, list]:
    """The probe's kinds of events, each a list of `development_events`-like records (1-20 Hz)."""
    real = development_events(RATE, band_hz=(1.0, 20.0))
    synthetic = band_pass(
        generate_local_earthquakes(14, seed=123456)["waveforms"].astype(np.float64), 1.0, 20.0, RATE
    )
    synthetic_events = [replace(real[0], id=f"synthetic {i}", waveforms=w) for i, w in enumerate(synthetic)]
    # Synthetic events whose reference carries real in-band noise of its own, as the development
    # set's recorded events do (pre-event SNR 12-28 dB): bundled training noise, not a development
    # record, at a per-event SNR drawn from that range.
    own_noise = band_pass(
        training_noise_windows(len(synthetic), synthetic.shape[-1], RATE, seed=NOISE_SEED), 1.0, 20.0, RATE
    )
    own_snr = np.random.default_rng(NOISE_SEED).uniform(12.0, 28.0, len(synthetic))
    noisy_references = [
        replace(
            e,
            id=f"synthetic {i} with its own noise",
            waveforms=e.waveforms + scale_noise_to_snr(e.waveforms, n, snr),
        )
        for i, (e, n, snr) in enumerate(zip(synthetic_events, own_noise, own_snr, strict=True))
    ]
    return {
        "real": real,
        "synthetic": synthetic_events,
        "synthetic, own real noise at 12-28 dB": noisy_references,
    }


def real_noise_mixtures(events, condition: str = "in-band"):
    """`(clean, noisy)` batches: the benchmark's own mixtures (`development_mixtures`) on these events."""
    for mixture in development_mixtures(events, LEVELS, 1, NOISE_SEED, RATE):
        if mixture.condition == condition:
            yield mixture.clean, mixture.noisy


def synthetic_noise_mixtures(events):
    """`(clean, noisy)` batches: synthetic noise, 1-20 Hz, two draws per level, SNR per event."""
    clean = np.stack([e.waveforms for e in events])
    for k, level in enumerate(LEVELS):
        for draw in range(2):
            noise = generate_seismic_noise(len(clean), seed=NOISE_SEED + 10 * k + draw).astype(np.float64)
            noise = band_pass(noise[..., : clean.shape[-1]], 1.0, 20.0, RATE)
            yield clean, clean + scale_noise_to_snr(clean, noise, level)


def main(pipeline: str) -> None:
    torch.set_num_threads(1)
    pipe = ColdDiffusionDenoisePipeline.from_pretrained(pipeline)
    pipe.set_progress_bar_config(disable=True)
    print("| events | in-band noise | model, median gain (dB) | ideal mask | share |")
    print("|---|---|---:|---:|---:|")
    for events_name, events in probe_events().items():
        for noise_name, mixtures in (("real", real_noise_mixtures), ("synthetic", synthetic_noise_mixtures)):
            gains: dict[str, list] = {"model": [], "ideal": []}
            for clean, noisy in mixtures(events):
                before = reconstruction_snr_db(noisy, clean, per_channel=False)
                model = pipe(noisy.astype(np.float32), num_inference_steps=1, sampling_rate=RATE).waveforms
                ideal = oracle_mask_estimate(noisy, clean, RATE)
                for key, estimate in (("model", model), ("ideal", ideal)):
                    after = reconstruction_snr_db(np.asarray(estimate, np.float64), clean, per_channel=False)
                    gains[key].extend(after - before)
            model, ideal = np.median(gains["model"]), np.median(gains["ideal"])
            print(
                f"| {events_name} | {noise_name} | {model:+.2f} | {ideal:+.2f} | {model / ideal:.0%} |",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "pipelines/cold-diffusion-denoiser")

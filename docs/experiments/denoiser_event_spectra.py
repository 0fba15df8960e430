"""How do recorded local events differ from the synthetic training events? Per-event gains and spectra.

Per development event (in-band real noise, the benchmark's own mixtures of noise seed 5000, the
mean over 0, 5 and 10 dB): its spectral centroid and 5-95 % energy duration in 1-20 Hz, and the
direct-mode in-band SNR gain of each pipeline given and of the ideal mask. Then the same two
statistics (10th, 50th, 90th percentiles) for the bundled training event records
(`training_event_windows`) and for synthetic events (`generate_local_earthquakes`) at the default
magnitude and distance ranges and at wider ones.

    python docs/experiments/denoiser_event_spectra.py pipelines/cold-diffusion-denoiser [PIPELINE ...]
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from seismic_diffusers import ColdDiffusionDenoisePipeline
from seismic_diffusers.data.obspy_recordings import (
    development_events,
    development_mixtures,
    training_event_windows,
)
from seismic_diffusers.data.synthetic_seismograms import generate_local_earthquakes
from seismic_diffusers.metrics import oracle_mask_estimate, reconstruction_snr_db
from seismic_diffusers.utils.streams import band_pass

RATE = 100.0
RANGES = {
    "M 0.5-4.5, 5-110 km (default)": ((0.5, 4.5), (5.0, 110.0)),
    "M 1-6, 10-300 km": ((1.0, 6.0), (10.0, 300.0)),
}


def centroid_and_duration(record: np.ndarray) -> tuple[float, float]:
    """Spectral centroid (Hz) and 5-95 % energy duration (s) of a (3, N) record."""
    x = np.asarray(record, np.float64)
    power = (np.abs(np.fft.rfft(x, axis=-1)) ** 2).sum(0)
    frequency = np.fft.rfftfreq(x.shape[-1], 1 / RATE)
    energy = np.cumsum((x**2).sum(0)) / (x**2).sum()
    duration = (np.searchsorted(energy, 0.95) - np.searchsorted(energy, 0.05)) / RATE
    return float((frequency * power).sum() / power.sum()), float(duration)


def percentiles(records: np.ndarray) -> str:
    stats = np.array([centroid_and_duration(r) for r in records])
    c, d = (np.percentile(stats[:, k], [10, 50, 90]).round(1) for k in (0, 1))
    return f"centroid {c[0]} / {c[1]} / {c[2]} Hz, duration {d[0]} / {d[1]} / {d[2]} s"


def main(pipelines: list[str]) -> None:
    torch.set_num_threads(1)
    events = development_events(RATE, band_hz=(1.0, 20.0))
    pipes = {p: ColdDiffusionDenoisePipeline.from_pretrained(p) for p in pipelines}
    for pipe in pipes.values():
        pipe.set_progress_bar_config(disable=True)
    gains: dict[str, list] = {name: [] for name in [*pipes, "ideal mask"]}
    for mixture in development_mixtures(events, (0.0, 5.0, 10.0), 1, 5000, RATE):
        if mixture.condition != "in-band":
            continue
        before = reconstruction_snr_db(mixture.noisy, mixture.clean, per_channel=False)
        estimates = {
            name: pipe(mixture.noisy.astype(np.float32), num_inference_steps=1, sampling_rate=RATE).waveforms
            for name, pipe in pipes.items()
        }
        estimates["ideal mask"] = oracle_mask_estimate(mixture.noisy, mixture.clean, RATE)
        for name, estimate in estimates.items():
            gains[name].append(
                reconstruction_snr_db(np.asarray(estimate, np.float64), mixture.clean, per_channel=False)
                - before
            )
    print("| event | centroid (Hz) | duration (s) | " + " | ".join(gains) + " |")
    print("|---|---:|---:|" + "---:|" * len(gains))
    for i, event in enumerate(events):
        centroid, duration = centroid_and_duration(event.waveforms)
        cells = " | ".join(f"{np.mean([g[i] for g in gains[name]]):+.2f}" for name in gains)
        print(f"| {event.id} | {centroid:.1f} | {duration:.1f} | {cells} |")
    real, _ = training_event_windows(20, 3000, RATE, seed=0)
    print(
        "\nbundled training event records:", percentiles(band_pass(real.astype(np.float64), 1.0, 20.0, RATE))
    )
    for name, (magnitudes, distances) in RANGES.items():
        synthetic = generate_local_earthquakes(
            200, seed=1, magnitude_range=magnitudes, distance_range_km=distances
        )
        print(
            f"synthetic, {name}:",
            percentiles(band_pass(synthetic["waveforms"].astype(np.float64), 1.0, 20.0, RATE)),
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["pipelines/cold-diffusion-denoiser"])

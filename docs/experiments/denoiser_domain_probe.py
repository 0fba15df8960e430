"""Is the denoiser's in-band gap the synthetic-to-real gap? Gain against the ideal mask per domain.

Four combinations of events (the development set's real SEISAN events, or synthetic
`generate_local_earthquakes` events of seed 123456) and in-band noise (the development noise
records' evaluation halves, or synthetic `generate_seismic_noise`), both band-passed to 1-20 Hz,
mixed per event at 0, 5 and 10 dB, two draws each (noise generator seed 5000, a selection seed).
Prints the median SNR gain of the pipeline's direct mode and of the ideal time-frequency mask
(`metrics.oracle_mask_estimate`, which knows the event). If the model reached a much larger share of
the ideal mask on its own training domain (synthetic events, synthetic noise) than on real data,
the gap would be the domain's; if the share is about the same everywhere, it is the model's.

    python docs/experiments/denoiser_domain_probe.py pipelines/cold-diffusion-denoiser
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from seismic_diffusers import ColdDiffusionDenoisePipeline
from seismic_diffusers.data.denoising_pairs import scale_noise_to_snr
from seismic_diffusers.data.obspy_recordings import development_events, development_noise
from seismic_diffusers.data.synthetic_seismograms import generate_local_earthquakes, generate_seismic_noise
from seismic_diffusers.metrics import oracle_mask_estimate, reconstruction_snr_db
from seismic_diffusers.utils.streams import band_pass

RATE = 100.0
WINDOW = 3000


def main(pipeline: str) -> None:
    torch.set_num_threads(1)
    pipe = ColdDiffusionDenoisePipeline.from_pretrained(pipeline)
    pipe.set_progress_bar_config(disable=True)
    rng = np.random.default_rng(5000)
    real_events = np.stack([e.waveforms for e in development_events(RATE, band_hz=(1.0, 20.0))])
    synthetic_events = band_pass(
        generate_local_earthquakes(14, seed=123456)["waveforms"].astype(np.float64), 1.0, 20.0, RATE
    )
    spans = [s for record in development_noise(RATE) for s in record.evaluation if len(s) >= WINDOW]

    def real_noise(n: int) -> np.ndarray:
        out = np.empty((n, 3, WINDOW))
        for i in range(n):
            for c in range(3):
                span = spans[rng.integers(len(spans))]
                start = rng.integers(len(span) - WINDOW + 1)
                out[i, c] = span[start : start + WINDOW]
        return band_pass(out, 1.0, 20.0, RATE)

    def synthetic_noise(n: int) -> np.ndarray:
        noise = generate_seismic_noise(n, seed=int(rng.integers(1_000_000))).astype(np.float64)
        return band_pass(noise[..., :WINDOW], 1.0, 20.0, RATE)

    print("| events | in-band noise | model, median gain (dB) | ideal mask | share |")
    print("|---|---|---:|---:|---:|")
    for events_name, events in (("real", real_events), ("synthetic", synthetic_events)):
        for noise_name, draw in (("real", real_noise), ("synthetic", synthetic_noise)):
            gains: dict[str, list] = {"model": [], "ideal": []}
            for level in (0.0, 5.0, 10.0):
                for _ in range(2):
                    noise = draw(len(events))
                    noisy = events + np.stack(
                        [scale_noise_to_snr(c, n, level) for c, n in zip(events, noise, strict=True)]
                    )
                    before = reconstruction_snr_db(noisy, events, per_channel=False)
                    model = pipe(
                        noisy.astype(np.float32), num_inference_steps=1, sampling_rate=RATE
                    ).waveforms
                    ideal = oracle_mask_estimate(noisy, events, RATE)
                    for key, estimate in (("model", model), ("ideal", ideal)):
                        after = reconstruction_snr_db(
                            np.asarray(estimate, np.float64), events, per_channel=False
                        )
                        gains[key].extend(after - before)
            model, ideal = np.median(gains["model"]), np.median(gains["ideal"])
            print(
                f"| {events_name} | {noise_name} | {model:+.2f} | {ideal:+.2f} | {model / ideal:.0%} |",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "pipelines/cold-diffusion-denoiser")

"""Can a time-frequency mask network get closer to the ideal mask than the shipped 1-D U-Net?

The domain probe (`denoiser_domain_probe.py`) found the shipped model at 26-48 % of the ideal mask's
in-band gain in every domain, its own training domain included. The ideal mask scales STFT cells;
a network that predicts exactly such a mask (DeepDenoiser's design) has the ceiling's own form.
This probe trains one, direct mode only (noisy window in, clean window out), on the shipped model's
stage-2 training data (`training/train_denoiser.py`'s `build_dataset`: synthetic and real events in
70 % real station noise, realistic recordings, 1-20 Hz), with the same loss (negative SNR in dB),
then scores it beside the shipped pipeline on the domain probe's (`denoiser_domain_probe.py`) mixtures
of real and synthetic events in real and synthetic in-band noise, and on the development set's
raw-noise mixtures, all of noise seed 5000 (selection draws).

The network: per component the STFT (Hann, 256 samples = 2.56 s, hop 64) of the peak-normalised
window, bins 0-63 (0-24.6 Hz; the input is band-passed to 1-20 Hz), log magnitudes centred per
window plus a frequency coordinate as four input channels; a `diffusers.UNet2DModel` (widths
16-32-64, one layer per block) predicts three sigmoid masks; the masked STFT is inverted.

    python docs/experiments/denoiser_stft_mask_probe.py train runs/stft-mask 4000
    python docs/experiments/denoiser_stft_mask_probe.py score runs/stft-mask [SHIPPED [CANDIDATE]]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import UNet2DModel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))

RATE = 100.0
N_FFT, HOP, BINS = 256, 64, 64


class SpectralMaskNet(torch.nn.Module):
    """(B, 3, N) peak-normalised windows -> (B, 3, N), by a predicted STFT mask."""

    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        self.unet = UNet2DModel(
            in_channels=4,
            out_channels=3,
            block_out_channels=tuple(widths),
            layers_per_block=1,
            down_block_types=("DownBlock2D",) * len(widths),
            up_block_types=("UpBlock2D",) * len(widths),
            norm_num_groups=8,
        )
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, n = x.shape
        spec = torch.stft(x.reshape(b * c, n), N_FFT, HOP, window=self.window, return_complex=True)
        spec = spec.reshape(b, c, *spec.shape[-2:])
        low = spec[:, :, :BINS]
        frames = low.shape[-1]
        pad = (-frames) % 2 ** (len(self.unet.config.block_out_channels) - 1)
        logmag = torch.log(low.abs() + 1e-4)
        logmag = logmag - logmag.mean(dim=(1, 2, 3), keepdim=True)
        freq = torch.linspace(-1, 1, BINS, device=x.device)[None, None, :, None].expand(b, 1, BINS, frames)
        features = torch.nn.functional.pad(torch.cat([logmag, freq], 1), (0, pad))
        logits = self.unet(features, 0).sample[..., :frames]
        masked = torch.zeros_like(spec)
        masked[:, :, :BINS] = low * torch.sigmoid(logits)
        out = torch.istft(masked.reshape(b * c, *spec.shape[-2:]), N_FFT, HOP, window=self.window, length=n)
        return out.reshape(b, c, n)


def denoise(model: SpectralMaskNet, noisy: np.ndarray) -> np.ndarray:
    """(B, 3, N) raw or in-band 100 Hz records -> the model's estimate, 1-20 Hz, float64."""
    from seismic_diffusers.utils.streams import band_pass

    x = torch.as_tensor(band_pass(np.asarray(noisy, np.float64), 1.0, 20.0, RATE), dtype=torch.float32)
    scale = x.abs().amax(dim=(1, 2), keepdim=True).clamp_min(1e-30)
    with torch.no_grad():
        return (model(x / scale) * scale).double().numpy()


def train(out: str, steps: int) -> None:
    from accelerate.utils import set_seed
    from train_denoiser import build_dataset, parse_args

    from seismic_diffusers.utils.training import denoising_loss

    torch.set_num_threads(1)
    set_seed(0)
    args = parse_args(
        ["--output_dir", out, "--realistic_augmentation", "--real_noise_fraction", "0.7",
         "--real_event_fraction", "0.2", "--band_hz", "1", "20", "--snr_db_min", "-5", "--snr_db_max", "35"]
    )  # fmt: skip
    loader = torch.utils.data.DataLoader(build_dataset(args), batch_size=16, shuffle=True, drop_last=True)
    model = SpectralMaskNet()
    print(f"parameters {sum(p.numel() for p in model.parameters()) / 1e6:.3f} M", flush=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 1e-3, total_steps=steps, pct_start=0.05)
    step, start, losses = 0, time.time(), []
    while step < steps:
        for batch in loader:
            clean, noise = batch["clean"], batch["noise"]
            scale = (clean + noise).abs().amax(dim=(1, 2), keepdim=True).clamp_min(1e-30)
            loss = denoising_loss(model((clean + noise) / scale), clean / scale, "snr")
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            losses.append(loss.item())
            if step % 100 == 0:
                print(
                    f"step {step} loss {np.mean(losses[-100:]):.2f} dB, {time.time() - start:.0f} s",
                    flush=True,
                )
                torch.save(model.state_dict(), Path(out) / "mask_net.pt")
            if step >= steps:
                break
    Path(out).mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), Path(out) / "mask_net.pt")


def score(
    out: str, pipeline: str = "pipelines/cold-diffusion-denoiser", candidate: str | None = None
) -> None:
    """The probe's network beside `pipeline` (as shipped and unblended) and, if given, a `candidate`
    pipeline folder (unblended), in the four domains and in raw real noise."""
    from denoiser_domain_probe import probe_events, real_noise_mixtures, synthetic_noise_mixtures

    from seismic_diffusers import ColdDiffusionDenoisePipeline
    from seismic_diffusers.metrics import oracle_mask_estimate, reconstruction_snr_db

    torch.set_num_threads(1)
    model = SpectralMaskNet()
    model.load_state_dict(torch.load(Path(out) / "mask_net.pt"))
    model.eval()
    pipe = ColdDiffusionDenoisePipeline.from_pretrained(pipeline)
    pipe.set_progress_bar_config(disable=True)
    unblended = ColdDiffusionDenoisePipeline.from_pretrained(pipeline)
    unblended.register_to_config(fidelity_db=None)
    unblended.set_progress_bar_config(disable=True)
    other = ColdDiffusionDenoisePipeline.from_pretrained(candidate) if candidate else None
    if other is not None:
        other.register_to_config(fidelity_db=None)
        other.set_progress_bar_config(disable=True)
    kinds = probe_events()
    real, synthetic_events = kinds["real"], kinds["synthetic"]

    rows = []
    domains = [
        ("real", "real, in-band", lambda: real_noise_mixtures(real, "in-band")),
        ("real", "synthetic", lambda: synthetic_noise_mixtures(real)),
        ("synthetic", "real, in-band", lambda: real_noise_mixtures(synthetic_events, "in-band")),
        ("synthetic", "synthetic", lambda: synthetic_noise_mixtures(synthetic_events)),
        ("real", "real, raw", lambda: real_noise_mixtures(real, "raw")),
    ]
    print(
        "| events | noise | shipped (blend) | shipped (no blend) | mask net | candidate | ideal mask | shares |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for events_name, noise_name, mixtures in domains:
        gains: dict[str, list] = {"shipped": [], "unblended": [], "mask": [], "candidate": [], "ideal": []}
        for clean, noisy in mixtures():
            before = reconstruction_snr_db(noisy, clean, per_channel=False)
            estimates = {
                "shipped": pipe(
                    noisy.astype(np.float32), num_inference_steps=1, sampling_rate=RATE
                ).waveforms,
                "unblended": unblended(
                    noisy.astype(np.float32), num_inference_steps=1, sampling_rate=RATE
                ).waveforms,
                "mask": denoise(model, noisy),
                **(
                    {
                        "candidate": other(
                            noisy.astype(np.float32), num_inference_steps=1, sampling_rate=RATE
                        ).waveforms
                    }
                    if other is not None
                    else {}
                ),
                "ideal": oracle_mask_estimate(noisy, clean, RATE),
            }
            for key, estimate in estimates.items():
                after = reconstruction_snr_db(np.asarray(estimate, np.float64), clean, per_channel=False)
                gains[key].extend(after - before)
        medians = {k: float(np.median(v)) if v else float("nan") for k, v in gains.items()}
        rows.append({"events": events_name, "noise": noise_name, **medians})
        shares = " / ".join(
            f"{medians[k] / medians['ideal']:.0%}" for k in ("shipped", "unblended", "mask", "candidate")
        )
        print(
            f"| {events_name} | {noise_name} | {medians['shipped']:+.2f} | {medians['unblended']:+.2f} "
            f"| {medians['mask']:+.2f} | {medians['candidate']:+.2f} | {medians['ideal']:+.2f} | {shares} |",
            flush=True,
        )
    x = torch.randn(16, 3, 3000)
    for threads in (2,):
        torch.set_num_threads(threads)
        with torch.no_grad():
            model(x)
            t0 = time.perf_counter()
            for _ in range(5):
                model(x)
            mask_s = (time.perf_counter() - t0) / 5
            pipe.unet(x, torch.full((16,), pipe.scheduler.config.num_train_timesteps - 1))
            t0 = time.perf_counter()
            for _ in range(5):
                pipe.unet(x, torch.full((16,), pipe.scheduler.config.num_train_timesteps - 1))
            unet_s = (time.perf_counter() - t0) / 5
        # 16 windows of 30 s of 3 components = 8 minutes of 3-component data
        print(
            f"{threads} threads, per hour of data: mask net {mask_s * 7.5:.2f} s, shipped U-Net {unet_s * 7.5:.2f} s"
        )
        rows.append({"threads": threads, "mask_s_per_hour": mask_s * 7.5, "unet_s_per_hour": unet_s * 7.5})
    (Path(out) / "score.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    if sys.argv[1] == "train":
        Path(sys.argv[2]).mkdir(parents=True, exist_ok=True)
        train(sys.argv[2], int(sys.argv[3]))
    else:
        score(sys.argv[2], *sys.argv[3:])

"""Probe: predict the seismic half of a two-encoder (2VQ) latent from its velocity half.

A small dilated convolutional net (a "latent forward operator", 0.34 M parameters) is trained by
regression on the stage-2 training latents (scaled as the pipeline's UNet sees them), then scored
by the PDE deviation (`physics.pde_deviation`, deepwave) of pairs whose seismic code it predicts:
on report pairs (velocity code from the data), and on diffusion samples (velocity half from the
stage-2 sampler, seismic half replaced by the prediction). It tested whether the coupling the
stage-2 UNet fails to learn is learnable at all; `training/train_joint_latent_operator.py` now
trains the same network as a pipeline component.

    python docs/experiments/joint_latent_forward_probe.py runs/joint-2enc-pc-pipeline \
        runs/joint-2enc-ldm-pc/latents.safetensors data/joint-8-report --steps 1500
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from safetensors.torch import load_file

from seismic_diffusers import JointGenerationPipeline, LatentForwardOperator, pde_deviation
from seismic_diffusers.data import open_paired_folders


def summary(values) -> str:
    return f"mean {np.mean(values):.5f}, median {np.median(values):.5f}, n {len(values)}"


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pipeline", help="A JointGenerationPipeline folder with a two-encoder autoencoder.")
    parser.add_argument("latents", help="train_joint_ldm.py's OUTPUT_DIR/latents.safetensors (unscaled).")
    parser.add_argument("report_data", help="Paired folder never used in training.")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    pipe = JointGenerationPipeline.from_pretrained(args.pipeline)
    vqvae = pipe.vqvae
    half = vqvae.config.latent_channels // 2
    latents = vqvae.scale_latents(load_file(args.latents)["latents"])

    # 1. Regression, velocity half -> seismic half
    net = LatentForwardOperator(half_channels=half)  # the same layers the probe first built by hand
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.steps)
    started = time.perf_counter()
    with torch.enable_grad():
        for _ in range(args.steps):
            batch = latents[torch.randint(0, len(latents), (64,))]
            loss = (net(batch[:, half:]).sample - batch[:, :half]).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    print(
        f"regression: {args.steps} steps, last batch MSE {loss.item():.3f}, {time.perf_counter() - started:.0f} s"
    )
    net.eval()

    def deviation(scaled: torch.Tensor) -> list[float]:
        velocity, seismic = pipe._decode(scaled)
        return pde_deviation(velocity, seismic).tolist()

    # 2. Report pairs: the data's code against the same velocity code with a predicted seismic code
    dataset = open_paired_folders([args.report_data])
    rows = {"stage-1 reconstructions": [], "velocity code, seismic code predicted": []}
    for chunk in np.array_split(np.linspace(0, len(dataset) - 1, args.pairs).astype(int), 10):
        seismic = vqvae.normalize_seismic(torch.stack([dataset[i]["seismic"] for i in chunk]))
        velocity = vqvae.normalize_velocity(torch.stack([dataset[i]["velocity"] for i in chunk]))
        scaled = vqvae.scale_latents(vqvae.quantize(vqvae.encode(seismic, velocity).latents)[0])
        rows["stage-1 reconstructions"] += deviation(scaled)
        rows["velocity code, seismic code predicted"] += deviation(
            torch.cat([net(scaled[:, half:]).sample, scaled[:, half:]], 1)
        )

    # 3. Diffusion samples (the pipeline's defaults: 100 DDIM steps, eta 1), then their velocity
    # halves with a predicted seismic half
    generator = torch.Generator().manual_seed(args.seed + 5)
    sample = torch.randn(args.samples, vqvae.config.latent_channels, *vqvae.latent_shape, generator=generator)
    pipe.scheduler.set_timesteps(100)
    for t in pipe.scheduler.timesteps:
        sample = pipe.scheduler.step(
            pipe.unet(sample, t).sample, t, sample, eta=1.0, generator=generator
        ).prev_sample
    snapped = vqvae.scale_latents(vqvae.quantize(vqvae.unscale_latents(sample))[0])
    rows["diffusion samples"] = deviation(snapped)
    rows["diffusion samples, seismic code predicted"] = deviation(
        torch.cat([net(snapped[:, half:]).sample, snapped[:, half:]], 1)
    )
    print("\n| pairs | PDE deviation |\n|---|---|")
    for name, values in rows.items():
        print(f"| {name} | {summary(values)} |")


if __name__ == "__main__":
    main()

"""Where the velocity model's Fréchet-distance gap comes from: lost contrast, and where it is lost.

One run, one machine, three measurements on a velocity pipeline:

1. Per family, statistics of generated maps (the pipeline's default sampler) against held-out
   synthetic maps: mean velocity, in-map standard deviation (contrast), median min and max,
   velocity jumps over 100 m/s met by a vertical line (layer interfaces).
2. One-step denoising of held-out maps noised to timestep t: the slope of the predicted x0 on the
   true x0 (1 = unbiased). This is the U-Net alone, without a sampler.
3. Ancestral DDPM sampling (`--steps`) of one family, from pure noise and from held-out maps
   noised to t (SDEdit): the in-map standard deviation of the final maps. If the U-Net is
   unbiased (2) and SDEdit keeps the contrast, while sampling from noise loses it, then the
   contrast is lost at the high-noise end of the trajectory.
4. What the benchmark's Fréchet distance responds to: FD against held-out maps of the training
   generator's maps after one edit each (contrast, mean, blur, noise), in the feature space of the
   shipped, frozen FD classifier (or `--classifier`).

Edges are measured twice in (1): the share of each column's total variation carried by single
cells jumping over 50 m/s (1.0 for the piecewise-constant synthetic maps; less when interfaces
are smeared or layers carry gradients), and the median horizontal step (0 m/s in flat layers).

    python benchmarks/velocity_contrast.py --pipeline pipelines/openfwi-velocity-ddpm --num 64
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import DDPMScheduler

from seismic_diffusers import VELOCITY_FAMILIES, VelocityGenerationPipeline, generate_velocity_models
from seismic_diffusers.metrics import velocity_map_statistics
from seismic_diffusers.utils import machine_info


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline", default="pipelines/openfwi-velocity-ddpm")
    parser.add_argument("--num", type=int, default=64, help="Maps per family and per set.")
    parser.add_argument("--family", default="flatvel-a", help="Family of measurements 2 and 3.")
    parser.add_argument("--steps", type=int, default=100, help="DDPM steps of measurement 3.")
    parser.add_argument("--heldout_seed", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/velocity-contrast")
    parser.add_argument(
        "--classifier",
        default=None,
        help="FamilyClassifier folder for measurement 4 (default: the shipped one).",
    )
    return parser.parse_args(argv)


def fd_responses(classifier_folder: str | None, num: int, heldout_seed: int) -> dict[str, float]:
    """FD against held-out maps of training-generator maps after one edit each."""
    from scipy.ndimage import gaussian_filter

    from seismic_diffusers.metrics import load_family_classifier, velocity_frechet_distance

    classifier = load_family_classifier(classifier_folder)
    held = np.concatenate([generate_velocity_models(f, num, heldout_seed) for f in VELOCITY_FAMILIES])
    train = np.concatenate([generate_velocity_models(f, num, 0) for f in VELOCITY_FAMILIES])
    means = train.mean(axis=(1, 2), keepdims=True)
    noise = np.random.default_rng(0).normal(0.0, 30.0, train.shape)
    edits = {
        "none": train,
        "contrast x0.75": means + 0.75 * (train - means),
        "means 30 % towards 3000 m/s": train + 0.3 * (3000.0 - means),
        "white noise 30 m/s": train + noise,
        "Gaussian blur 0.7 cell": np.stack([gaussian_filter(m, 0.7) for m in train]),
        "Gaussian blur 1.5 cells": np.stack([gaussian_filter(m, 1.5) for m in train]),
    }
    return {
        name: velocity_frechet_distance(held, maps.astype(np.float32), classifier)
        for name, maps in edits.items()
    }


@torch.no_grad()
def ddpm_final_std(pipe, x0: torch.Tensor | None, start_t: int, labels, steps: int, seed: int = 0) -> float:
    """In-map std (normalised units) after ancestral DDPM from pure noise, or from `x0` noised to `start_t`."""
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    scheduler.set_timesteps(steps)
    generator = torch.Generator().manual_seed(seed)
    timesteps = [t for t in scheduler.timesteps if t <= start_t]
    size = pipe.unet.config.sample_size
    noise = torch.randn((len(labels), 1, size, size), generator=generator)
    if x0 is None:
        sample = noise
    else:
        alpha = scheduler.alphas_cumprod[timesteps[0]]
        sample = alpha.sqrt() * x0 + (1 - alpha).sqrt() * noise
    for t in timesteps:
        output = pipe.unet(sample, t, class_labels=labels).sample
        sample = scheduler.step(output, t, sample, generator=generator).prev_sample
    limit = pipe.processor.sample_range
    return float((sample.clamp(-limit, limit) / limit).std(dim=(2, 3)).mean())


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    pipe = VelocityGenerationPipeline.from_pretrained(args.pipeline)
    pipe.set_progress_bar_config(disable=True)
    results = {"machine": machine_info(), "args": vars(args), "families": {}}

    columns = (
        "mean",
        "std_in_map",
        "std_between_maps",
        "min",
        "max",
        "interfaces",
        "sharp_share",
        "roughness",
    )
    print(
        "| family | mean (m/s) | in-map std | std between maps | min | max | interfaces | sharp share | "
        "roughness (m/s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for index, family in enumerate(VELOCITY_FAMILIES):
        held = velocity_map_statistics(generate_velocity_models(family, args.num, args.heldout_seed))
        generated = pipe(
            args.num, family=family, generator=torch.Generator().manual_seed(1000 * index)
        ).velocities
        gen = velocity_map_statistics(generated)
        results["families"][family] = {"held_out": held, "generated": gen}
        cells = " | ".join(
            f"{held[k]:.0f} -> {gen[k]:.0f}" if k in columns[:5] else f"{held[k]:.2f} -> {gen[k]:.2f}"
            for k in columns
        )
        print(f"| {family} | {cells} |", flush=True)

    labels = torch.full((args.num,), VELOCITY_FAMILIES.index(args.family))
    held = torch.as_tensor(generate_velocity_models(args.family, args.num, args.heldout_seed))
    x0 = pipe.processor.normalize(held)[:, None].float()  # [-s, s]; stds below are reported in [-1, 1]
    alphas = DDPMScheduler.from_config(pipe.scheduler.config).alphas_cumprod
    generator = torch.Generator().manual_seed(0)
    slopes = {}
    with torch.no_grad():
        for t in (50, 200, 400, 600, 800, 950):
            alpha = alphas[t]
            noised = alpha.sqrt() * x0 + (1 - alpha).sqrt() * torch.randn(x0.shape, generator=generator)
            output = pipe.unet(noised, t, class_labels=labels).sample
            predicted = pipe.clean_estimate(output, noised, t)
            centred = x0 - x0.mean()
            slopes[t] = float(((predicted - predicted.mean()) * centred).sum() / centred.pow(2).sum())
    results["one_step_slope"] = slopes
    print(
        f"\n{args.family}: one-step x0 slope by t: " + ", ".join(f"{t}: {s:.3f}" for t, s in slopes.items())
    )

    real_std = float((x0 / pipe.processor.sample_range).std(dim=(2, 3)).mean())
    sampled = {"held-out maps": real_std, "from noise": ddpm_final_std(pipe, None, 999, labels, args.steps)}
    for start in (300, 600, 800):
        sampled[f"SDEdit from t={start}"] = ddpm_final_std(pipe, x0, start, labels, args.steps)
    results["ddpm_in_map_std"] = sampled
    print(f"{args.family}, DDPM {args.steps} steps, in-map std (normalised units): "
          + ", ".join(f"{k} {v:.3f}" for k, v in sampled.items()))  # fmt: skip
    results["fd_responses"] = fd_responses(args.classifier, 100, args.heldout_seed)
    print("FD against held-out maps (100 per family) of training maps after one edit: "
          + ", ".join(f"{k} {v:.2f}" for k, v in results["fd_responses"].items()))  # fmt: skip
    results["run_minutes"] = round((time.perf_counter() - started) / 60, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "velocity_contrast.json").write_text(json.dumps(results, indent=2))
    print(f"run time {results['run_minutes']} min; wrote {out / 'velocity_contrast.json'}")
    return results


if __name__ == "__main__":
    main()

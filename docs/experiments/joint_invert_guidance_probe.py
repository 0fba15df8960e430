"""Probe: does pulling the velocity half toward the data through the latent forward operator make
the two-encoder `JointGenerationPipeline.invert` better than replacement (inpainting) alone?

At every step the clean-latent estimate's velocity half takes `iterations` gradient steps on
`|operator(velocity half) - seismic code|^2` (scaled latent space), then the step continues from
the moved estimate. `iterations=0` is the shipped replacement method. Settings are chosen here on
the training folder's held-out pairs; the report is bench_joint's on data/joint-8-report.

    python docs/experiments/joint_invert_guidance_probe.py runs/joint-3800-op-pipeline data/joint-8 \
        --pairs 16 --settings 0:0 5:0.5 10:0.5
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from seismic_diffusers import JointGenerationPipeline, openfwi_map_metrics
from seismic_diffusers.data.paired import open_paired_folders, split_paired


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pipeline")
    parser.add_argument("data_dir", nargs="+")
    parser.add_argument("--validation_fraction", type=float, default=0.05)
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--num_candidates", type=int, default=4)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--settings", nargs="+", default=["0:0"], help="iterations:step_size")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pipe = JointGenerationPipeline.from_pretrained(args.pipeline)
    pipe.set_progress_bar_config(disable=True)
    _, held_out = split_paired(open_paired_folders(args.data_dir), args.validation_fraction)
    rng = np.random.default_rng(0)
    indices = rng.choice(len(held_out), size=min(args.pairs, len(held_out)), replace=False)
    seismic = torch.stack([held_out[int(i)]["seismic"] for i in indices])
    truth = torch.stack([held_out[int(i)]["velocity"] for i in indices])[:, 0].numpy()
    for setting in args.settings:
        iterations, step_size = setting.split(":")
        started = time.perf_counter()
        velocities = []
        for start in range(0, len(indices), 4):
            out = pipe.invert(
                seismic[start : start + 4],
                num_candidates=args.num_candidates,
                num_inference_steps=args.steps,
                operator_iterations=int(iterations),
                operator_step_size=float(step_size),
                generator=torch.Generator().manual_seed(1000 + start),
            )
            velocities.append(out.velocities)
        metrics = openfwi_map_metrics(np.concatenate(velocities), truth)
        seconds = (time.perf_counter() - started) / len(indices)
        print(
            f"iterations {iterations} step {step_size}: MAE {metrics['MAE']:.3f} RMSE {metrics['RMSE']:.3f} "
            f"SSIM {metrics['SSIM']:.3f} ({seconds:.1f} s per record)",
            flush=True,
        )


if __name__ == "__main__":
    main()

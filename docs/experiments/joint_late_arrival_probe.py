"""Probe: where in time does the joint pipeline's seismic half depart from deepwave?

Relative L2 per time window, (1) of stage-1 reconstructions against the real gathers of report
pairs, and (2) of generated pairs' decoded gathers against deepwave gathers of the same generated
maps (read from a `bench_joint_augmentation.py --generated_cache` file). Explains why decoded
pairs hurt the augmentation bench while re-simulated ones do not: the weak late arrivals.

    python docs/experiments/joint_late_arrival_probe.py pipelines/openfwi-joint-ldm data/joint-8-report \
        --generated_cache runs/aug-generated-500.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from seismic_diffusers import JointGenerationPipeline, JointVQModel
from seismic_diffusers.data import open_paired_folders
from seismic_diffusers.physics import agc_misfit

WINDOWS = ((0, 1000), (0, 250), (250, 500), (500, 1000))  # samples of 1 ms


def relative_l2_by_window(estimate: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """Relative L2 in raw amplitude per window, and the squared relative L2 after the reference's AGC
    (the stage-1 `--seismic_agc_loss`)."""
    row = {
        f"{t0}-{t1} ms": float((estimate - reference)[:, :, t0:t1].norm() / reference[:, :, t0:t1].norm())
        for t0, t1 in WINDOWS
    }
    row["gained, squared"] = float(agc_misfit(estimate, reference))
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pipeline", help="A joint pipeline folder, or a stage-1 `JointVQModel` folder.")
    parser.add_argument("data_dir", nargs="+")
    parser.add_argument("--every", type=int, default=16, help="Use every n-th report pair.")
    parser.add_argument("--generated_cache", default=None)
    parser.add_argument("--generated", type=int, default=50, help="Generated pairs read from the cache.")
    args = parser.parse_args()

    if Path(args.pipeline, "model_index.json").is_file():
        vqvae = JointGenerationPipeline.from_pretrained(args.pipeline).vqvae
    else:  # a stage-1 folder, e.g. a training checkpoint's vqvae_ema
        vqvae = JointVQModel.from_pretrained(args.pipeline)
    dataset = open_paired_folders(args.data_dir)
    items = [dataset[i] for i in range(0, len(dataset), args.every)]
    seismic = torch.stack([item["seismic"] for item in items]).float()
    velocity = torch.stack([item["velocity"] for item in items]).float()
    with torch.no_grad():
        decoded = vqvae(vqvae.normalize_seismic(seismic), vqvae.normalize_velocity(velocity)).seismic
    rows = {f"stage-1 reconstructions ({len(items)} report pairs)": relative_l2_by_window(
        vqvae.denormalize_seismic(decoded), seismic
    )}  # fmt: skip
    if args.generated_cache:
        with np.load(args.generated_cache) as stored:
            generated = torch.from_numpy(stored["seismic"][: args.generated])
            simulated = torch.from_numpy(stored["simulated"][: args.generated])
        rows[f"generated pairs, decoded vs deepwave ({len(generated)})"] = relative_l2_by_window(
            generated, simulated
        )
    columns = next(iter(rows.values()))
    print("| gathers | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{value:.3f}" for value in row.values()) + " |")


if __name__ == "__main__":
    main()

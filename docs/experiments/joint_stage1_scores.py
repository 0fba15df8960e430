"""Stage-1 scores of a `JointVQModel` on every pair of a paired folder (one not used in training).

Velocity MAE (m/s), seismic relative L2 in raw amplitude, and the PDE deviation of the decoded
pairs, as `training/train_joint_vqvae.py` scores its held-out pairs; per family as well.

    python docs/experiments/joint_stage1_scores.py runs/joint-2enc-pad/vqvae data/joint-8-report
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import torch

from seismic_diffusers import JointVQModel
from seismic_diffusers.data import open_paired_folders

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("vqvae")
    parser.add_argument("data")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = importlib.util.spec_from_file_location("train_joint_vqvae", REPO / "training/train_joint_vqvae.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    model = JointVQModel.from_pretrained(args.vqvae).eval()
    scores = {}
    families = sorted(p.name for p in Path(args.data).iterdir() if p.is_dir())
    for family in families:
        dataset = open_paired_folders([str(Path(args.data) / family)])
        scores[family] = script.score_reconstructions(model, dataset, len(dataset))
    keys = ("velocity_mae_m_per_s", "seismic_relative_l2", "pde_deviation_mean")
    scores["all (mean of families)"] = {k: sum(s[k] for s in scores.values()) / len(families) for k in keys}
    print(json.dumps({"vqvae": args.vqvae, "data": args.data, "scores": scores}, indent=1))
    print("\n| family | velocity MAE (m/s) | seismic relative L2 | PDE deviation |\n|---|---:|---:|---:|")
    for name, s in scores.items():
        print(f"| {name} | {s[keys[0]]:.1f} | {s[keys[1]]:.3f} | {s[keys[2]]:.5f} |")


if __name__ == "__main__":
    main()

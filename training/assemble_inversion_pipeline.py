#!/usr/bin/env python
"""Assemble the shipped `VelocityInversionPipeline` folder from trained parts; nothing is trained here.

The velocity prior (U-Net, scheduler, processor) comes unchanged from `--prior` (the velocity
generator's folder: its safetensors are byte-identical, so git stores them once), the starting-map
network from `--inversion_net` (an `InversionNetModel` folder written by `train_inversion_net.py`,
whose `training_record.json` is copied beside it; several folders make an `InversionNetEnsembleModel`,
the mean of their maps, with their records listed in one file), and the geometry is OpenFWI's.

    python training/assemble_inversion_pipeline.py --prior pipelines/openfwi-velocity-ddpm \\
        --inversion_net runs/inversion-net-24k/inversion_net --out pipelines/openfwi-velocity-inversion

The folder's `std` is then the raw spread of the samples (`std_scale` 1, no floor); calibrate it on
held-out gathers with `training/calibrate_inversion_std.py --pipeline <out> --write`.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
from pathlib import Path

from seismic_diffusers import OPENFWI, InversionNetEnsembleModel, InversionNetModel, VelocityInversionPipeline


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prior", default="pipelines/openfwi-velocity-ddpm")
    parser.add_argument(
        "--inversion_net",
        nargs="+",
        required=True,
        help="InversionNetModel folders (two or more: an ensemble).",
    )
    parser.add_argument("--out", default="pipelines/openfwi-velocity-inversion")
    args = parser.parse_args(argv)
    networks = [InversionNetModel.from_pretrained(folder).eval() for folder in args.inversion_net]
    network = networks[0] if len(networks) == 1 else InversionNetEnsembleModel.from_members(networks).eval()
    pipe = VelocityInversionPipeline.from_pretrained(args.prior, inversion_net=network, geometry=OPENFWI)
    out = Path(args.out)
    readme = (out / "README.md").read_text() if (out / "README.md").is_file() else None
    pipe.save_pretrained(out)
    if readme is not None:  # the card is kept; save_pretrained does not write one
        (out / "README.md").write_text(readme)
    records = [Path(folder) / "training_record.json" for folder in args.inversion_net]
    if len(records) == 1 and records[0].is_file():
        shutil.copy(records[0], out / "inversion_net" / "training_record.json")
    elif len(records) > 1:
        members = [json.loads(r.read_text()) if r.is_file() else None for r in records]
        record = {"ensemble_of": args.inversion_net, "members": members}
        (out / "inversion_net" / "training_record.json").write_text(json.dumps(record, indent=1))
    prior_unet = Path(args.prior) / "unet" / "diffusion_pytorch_model.safetensors"
    same = filecmp.cmp(prior_unet, out / "unet" / "diffusion_pytorch_model.safetensors", shallow=False)
    print(f"wrote {out}; U-Net weights {'identical to' if same else 'DIFFERENT from'} {prior_unet}")


if __name__ == "__main__":
    main()

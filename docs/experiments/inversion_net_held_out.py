"""Score InversionNet weights on the held-out pairs of a make-dataset folder, as `train_inversion_net.py` does.

Same split (every k-th pair, `--validation_fraction`) and the same evenly spread pairs as the
training script's `training_record.json`, so two networks trained on folders of different sizes can
be compared on one set of pairs.

    python docs/experiments/inversion_net_held_out.py pipelines/openfwi-velocity-inversion/inversion_net \
        --data data/inversion-8 --pairs 1200
"""

import argparse
import importlib.util
import json
from pathlib import Path

import torch

from seismic_diffusers import InversionNetEnsembleModel
from seismic_diffusers.data import open_paired_folders, split_paired
from seismic_diffusers.models import load_inversion_net

spec = importlib.util.spec_from_file_location(
    "train_inversion_net", Path(__file__).resolve().parents[2] / "training" / "train_inversion_net.py"
)
training = importlib.util.module_from_spec(spec)
spec.loader.exec_module(training)

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("weights", nargs="+", help="InversionNetModel or InversionNetEnsembleModel folders.")
parser.add_argument("--data", default="data/inversion-8")
parser.add_argument("--pairs", type=int, default=1200)
parser.add_argument("--validation_fraction", type=float, default=None, help="Default: the training script's.")
parser.add_argument(
    "--average", action="store_true", help="Also score the mean of the networks' predicted maps."
)
args = parser.parse_args()
if args.validation_fraction is None:
    args.validation_fraction = training.parse_args(["--train_data_dir", args.data]).validation_fraction
torch.set_num_threads(1)
_, held_out = split_paired(open_paired_folders([args.data]), args.validation_fraction)


networks = {folder: load_inversion_net(folder) for folder in args.weights}
if args.average:
    networks["mean of the above"] = InversionNetEnsembleModel.from_members(list(networks.values())).eval()
for name, network in networks.items():
    scores = training.score_held_out(network, held_out, args.pairs)
    print(name, json.dumps({k: round(v["ssim"], 3) for k, v in scores.items()}))
    print("  MAE m/s", json.dumps({k: round(v["mae_m_per_s"]) for k, v in scores.items()}), flush=True)

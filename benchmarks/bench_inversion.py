"""Inversion of held-out shot gathers, every method side by side in one run, clean and at 10 dB SNR.

Maps: `--maps_per_family` per family from data seed `--data_seed` (no training uses it; the
default 300000 is the 12-map report set, 200000 the set to choose settings on, 310000 with
`--maps_per_family 4 --hand_drawn second` the 40-map report set from 2026-12-06), plus maps drawn by
hand that no generator makes (`--hand_drawn first`: dipping layers, a fast lens, a steep fault, a
gradient with a slow layer; `second`: eight others). `--skip_baselines` scores the pipeline alone,
to compare candidates; `--conditions clean` or `noisy` scores one condition (the same gathers and
generators as a run of both, so two processes side by side halve the wall time; `--merge A.json
B.json` then writes the one JSON of both that the card reads). Gathers:
`forward_model` (deepwave, OpenFWI geometry); noisy ones add white Gaussian noise at `--snr_db` of
each gather's mean power (`data.gather_augmentation.gathers_at_snr`, seeded by `--data_seed`).

Methods, each on the same gathers:

- ours, `VelocityInversionPipeline` (`--inversion_pipeline`) at its shipped defaults: posterior
  mean, and the +-2 std coverage of the true map (the share of cells whose true value lies within
  mean +- 2 std); gather i sampled with seed `--data_seed + i`;
- plain FWI (`physics.full_waveform_inversion`: Adam on the map, lr `--fwi_lr` m/s, the relative L2
  gather misfit through deepwave),
  from a family-agnostic start (the velocity prior's all-family mean depth profile, Gaussian-smoothed
  over `--start_smoothing` cells in depth), for each of `--fwi_iterations`;
- the joint pipeline's `invert`: stage-1 encoding (`refine_steps=0`) for a one-encoder autoencoder,
  `invert`'s default (velocity sampled given the seismic) for a two-encoder one;
- an `InversionNetModel` or `InversionNetEnsembleModel` (`--inversion_net`), alone, averaged with its map of the mirrored gathers
  (the pipeline's `mirror_start`), and followed by `--refine_iterations` FWI iterations (lr
  `--refine_lr`).

Reported per family and overall: MAE and RMSE in m/s and SSIM (OpenFWI's definitions,
`openfwi_map_metrics`), the relative data misfit `|F(v) - d|^2 / |d|^2` against the gathers given,
gradient evaluations (forward + adjoint) per gather, and seconds per gather.

    python benchmarks/bench_inversion.py --inversion_pipeline pipelines/openfwi-velocity-inversion \
        --inversion_net pipelines/openfwi-velocity-inversion/inversion_net --data_seed 310000 \
        --maps_per_family 4 --hand_drawn second --fwi_iterations 44 --refine_iterations 10 --threads 2 \
        --out benchmarks/results

(`--fwi_iterations 44`: the pipeline's 44 forward + adjoint runs per gather; add 220 for 5x that,
which costs about 220 s per gather on this CPU. The card's run is this command split over two
processes with `--conditions` and joined with `--merge`: benchmarks/README.md.)
"""

from __future__ import annotations

import argparse
import inspect
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from tqdm.auto import tqdm

from seismic_diffusers import (
    JointGenerationPipeline,
    VelocityInversionPipeline,
    VelocityProcessor,
    openfwi_map_metrics,
)
from seismic_diffusers.data import VELOCITY_FAMILIES, generate_velocity_models
from seismic_diffusers.data.gather_augmentation import gathers_at_snr
from seismic_diffusers.models import load_inversion_net
from seismic_diffusers.physics import check_gathers, forward_model, full_waveform_inversion, gather_misfit
from seismic_diffusers.utils import machine_info

M_S_PER_UNIT = 1500.0  # OpenFWI's metrics are on [-1, 1] maps over 1500-4500 m/s
V_MIN, V_MAX = 1500.0, 4500.0
# Seeds that made training maps: the velocity prior, the joint pipeline and the inversion network (0),
# the family classifier (10000, 15000).
TRAINING_SEEDS = {0, 10_000, 15_000}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_seed", type=int, default=300_000)
    parser.add_argument("--maps_per_family", type=int, default=2)
    parser.add_argument("--snr_db", type=float, default=10.0)
    parser.add_argument(
        "--velocity_pipeline", default="pipelines/openfwi-velocity-ddpm", help="For the FWI start."
    )
    parser.add_argument("--joint_pipeline", default="pipelines/openfwi-joint-ldm")
    parser.add_argument(
        "--inversion_net", default=None, help="An InversionNetModel or InversionNetEnsembleModel folder."
    )
    parser.add_argument("--inversion_pipeline", default=None, help="A VelocityInversionPipeline folder.")
    parser.add_argument("--fwi_iterations", type=int, nargs="+", default=[20])
    parser.add_argument("--fwi_lr", type=float, default=20.0, help="Chosen on data seed 200000 (20 over 50).")
    parser.add_argument("--start_smoothing", type=float, default=5.0, help="Gaussian sigma, cells.")
    parser.add_argument("--refine_iterations", type=int, default=20)
    parser.add_argument("--refine_lr", type=float, default=20.0)
    parser.add_argument(
        "--hand_drawn",
        choices=["first", "second", "none"],
        default="first",
        help="Which hand-drawn maps to add (`hand_drawn_maps`).",
    )
    parser.add_argument(
        "--skip_baselines",
        action="store_true",
        help="Score `--inversion_pipeline` alone (to compare candidates; the card's report runs every method).",
    )
    parser.add_argument(
        "--conditions",
        nargs="+",
        choices=["clean", "noisy"],
        default=["clean", "noisy"],
        help="Which gathers to score: clean, at --snr_db, or both (one process per condition halves the wall time).",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="JSON",
        help="Merge the JSONs of one run split by --conditions into --out/bench_inversion.json, and stop.",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    if args.merge:
        others = [
            f"--{dest}"
            for dest, value in vars(args).items()
            if dest not in ("merge", "out") and value != parser.get_default(dest)
        ]
        if others:
            parser.error(f"--merge joins finished runs and takes only --out; drop {' '.join(others)}.")
        return args
    if args.skip_baselines and not args.inversion_pipeline:
        parser.error("--skip_baselines scores --inversion_pipeline alone; give one.")
    if args.data_seed in TRAINING_SEEDS:
        parser.error(f"--data_seed {args.data_seed} made training maps; pick a held-out seed.")
    return args


def hand_drawn_maps(which: str = "first") -> dict[str, np.ndarray]:
    """Hand-drawn 70 x 70 maps (m/s) that `generate_velocity_models` does not draw.

    `which`: "first", the four maps of every report until 2026-12-06 (dipping layers, a fast lens, a
    steep fault, a gradient with a slow layer); "second", eight more that no run has seen (see
    `_second_hand_drawn_maps`); "none".
    """
    if which == "none":
        return {}
    if which == "second":
        return _second_hand_drawn_maps()
    if which != "first":
        raise ValueError(f"which must be 'first', 'second' or 'none', not {which!r}")
    z, x = np.meshgrid(np.arange(70.0), np.arange(70.0), indexing="ij")
    dipping = np.select([z < 15 + 0.3 * x, z < 35 + 0.3 * x], [1800.0, 2600.0], 3400.0)
    lens = 2000.0 + 25.0 * z
    lens[(z - 35) ** 2 / 8**2 + (x - 35) ** 2 / 18**2 < 1] = 4000.0
    fault = np.select([z < 20, z < 45], [2000.0, 3000.0], 3800.0)
    thrown = np.select([z < 32, z < 55], [2000.0, 3000.0], 3800.0)
    fault = np.where(x > 30 + 0.25 * z, thrown, fault)  # a fault dipping about 76 degrees
    gradient = 1700.0 + 35.0 * z
    gradient[(z >= 30) & (z < 38)] = 1900.0  # a slow layer inside the gradient
    maps = {
        "dipping layers": dipping,
        "fast lens": lens,
        "steep fault": fault,
        "gradient, slow layer": gradient,
    }
    return {name: np.clip(v, V_MIN, V_MAX).astype(np.float32) for name, v in maps.items()}


def _second_hand_drawn_maps() -> dict[str, np.ndarray]:
    """Eight maps drawn on 2026-12-06 for a larger report set, after every start network was trained."""
    z, x = np.meshgrid(np.arange(70.0), np.arange(70.0), indexing="ij")
    bump = 12.0 * np.exp(-(((x - 35) / 16) ** 2))
    anticline = np.select(
        [z < 20 - bump, z < 38 - bump, z < 54 - 0.5 * bump], [1900.0, 2700.0, 3300.0], 4000.0
    )
    # graben: flat layers, the block between two normal faults dropped by 9 cells
    inside = (x > 12 + 0.3 * z) & (x < 58 - 0.3 * z)
    drop = np.where(inside, 9.0, 0.0)
    graben = np.select([z < 16 + drop, z < 36 + drop], [2000.0, 2800.0], 3600.0)
    gas = 1800.0 + 30.0 * z
    gas[(z - 40) ** 2 / 6**2 + (x - 28) ** 2 / 14**2 < 1] = 2000.0  # a slow lens in a gradient
    wedge_base = 15 + np.clip(0.4 * (60 - x), 0, None)  # a fast layer pinching out to the right
    wedge = np.select([z < 15, z < wedge_base, z < 50], [2000.0, 3300.0, 2600.0], 3800.0)
    salt = np.select([z < 20, z < 40], [2000.0, 2600.0], 3200.0)
    salt[z > 25 + 0.06 * (x - 35) ** 2] = 4400.0  # a fast dome piercing the layers
    thin = 2200.0 + 20.0 * z
    beds = (z >= 30) & (z < 50)
    thin[beds] += np.where((z[beds] // 4) % 2 == 0, 300.0, -300.0)  # 40 m beds, alternating
    dip = (z - 0.36 * x) // 12 % 4  # layers dipping 20 degrees below a flat unconformity at 250 m
    unconformity = np.select(
        [z < 12, z < 25], [1800.0, 2200.0], np.choose(dip.astype(int), [2800.0, 3400.0, 3000.0, 3800.0])
    )
    # reverse fault dipping 60 degrees; its hanging wall (left) pushed up 10 cells
    tilted = z - 0.18 * x + np.where(x < 20 + 0.58 * z, 10.0, 0.0)
    reverse = np.select([tilted < 18, tilted < 34, tilted < 50], [2100.0, 2700.0, 3300.0], 3900.0)
    maps = {
        "anticline": anticline,
        "graben": graben,
        "slow lens in a gradient": gas,
        "pinch-out wedge": wedge,
        "fast dome": salt,
        "thin beds": thin,
        "unconformity": unconformity,
        "reverse fault": reverse,
    }
    return {name: np.clip(v, V_MIN, V_MAX).astype(np.float32) for name, v in maps.items()}


def fwi(start: torch.Tensor, data: torch.Tensor, iterations: int, lr: float) -> torch.Tensor:
    return full_waveform_inversion(
        start, data, iterations=iterations, learning_rate=lr, velocity_range=(V_MIN, V_MAX)
    ).velocity


def relative_misfit(velocity: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """`|F(v) - d|^2 / |d|^2` per gather (no trace masked)."""
    data, mask = check_gathers(data)
    return gather_misfit(velocity, data, mask)


def smooth_start(processor: VelocityProcessor, count: int, sigma: float) -> torch.Tensor:
    profile = np.asarray(processor.config.mean_profiles[-1], dtype=np.float64)  # all families
    profile = gaussian_filter1d(profile, sigma, mode="nearest") if sigma > 0 else profile
    return torch.tensor(profile, dtype=torch.float32)[None, :, None].expand(count, -1, 70).clone()


def scores(
    predicted: torch.Tensor, truth: torch.Tensor, groups: list[str], data: torch.Tensor, std=None
) -> dict:
    with torch.no_grad():
        misfit = relative_misfit(predicted, data).numpy()
    out = {}
    for group in ["all", *dict.fromkeys(groups)]:
        rows = [i for i, g in enumerate(groups) if group in ("all", g)]
        m = openfwi_map_metrics(predicted[rows], truth[rows])
        out[group] = {
            "maps": len(rows),
            "mae_m_per_s": m["MAE"] * M_S_PER_UNIT,
            "rmse_m_per_s": m["RMSE"] * M_S_PER_UNIT,
            "ssim": m["SSIM"],
            "ssim_per_map": [
                openfwi_map_metrics(predicted[i : i + 1], truth[i : i + 1])["SSIM"] for i in rows
            ],
            "relative_misfit": float(np.mean(misfit[rows])),
        }
        if std is not None:
            inside = (predicted[rows] - truth[rows]).abs() <= 2 * std[rows]
            out[group]["coverage_2std"] = float(inside.float().mean())
    return out


def method_row(
    condition: str, name: str, predicted, seconds: float, gradients: int, truth, groups, data, std=None
) -> dict:
    """One method's scores on one condition's gathers, printed as it is made."""
    row = {
        "scores": scores(predicted, truth, groups, data, std),
        "seconds_per_gather": seconds / len(groups),
        "gradients_per_gather": gradients,
    }
    overall = row["scores"]["all"]
    coverage = f" | coverage {overall['coverage_2std']:.2f}" if std is not None else ""
    print(f"{condition:>6s} | {name:34s} | SSIM {overall['ssim']:.3f} | MAE {overall['mae_m_per_s']:5.0f} m/s "
          f"| misfit {overall['relative_misfit']:.3f} | {row['seconds_per_gather']:.1f} s{coverage}", flush=True)  # fmt: skip
    return row


def _without(command: str, option: str) -> str:
    """`command` with `option` and its values removed (values: the words up to the next `--`)."""
    words, kept, skipping = shlex.split(command), [], False
    for word in words:
        if word.startswith("--"):
            skipping = word == option
        if not skipping:
            kept.append(word)
    return shlex.join(kept)


def merge_results(parts: list[dict]) -> dict:
    """One result from the JSONs of a run split with `--conditions`.

    Each part must score other conditions of the same run: the same command apart from
    `--conditions` and `--out`, hence the same maps, gathers and generators. The merged `command` is
    that run's command (both conditions), `processes` keeps each part's command and minutes, and
    `run_minutes` is the sum of the parts' run times (not the wall time if they ran side by side).
    """
    if len(parts) < 2:
        raise ValueError("merge needs the JSONs of at least two --conditions runs")
    needed = ("command", "conditions", "groups", "run_minutes")
    for number, part in enumerate(parts, 1):
        missing = [key for key in needed if key not in part] if isinstance(part, dict) else list(needed)
        if missing:
            raise ValueError(f"part {number} is not a bench_inversion.py result: it lacks {missing}")
    same = {_without(_without(p["command"], "--conditions"), "--out") for p in parts}
    if len(same) != 1:
        raise ValueError(f"the parts come from different runs: {sorted(same)}")
    names = [c for p in parts for c in p["conditions"]]
    if len(set(names)) != len(names):
        raise ValueError(f"a condition is scored twice: {names}")
    if any(p["groups"] != parts[0]["groups"] for p in parts):
        raise ValueError("the parts score different maps")
    merged = {
        key: value for key, value in parts[0].items() if key not in ("command", "conditions", "run_minutes")
    }
    merged["command"] = same.pop()
    merged["processes"] = [{"command": p["command"], "run_minutes": p["run_minutes"]} for p in parts]
    merged["conditions"] = {c: rows for p in parts for c, rows in p["conditions"].items()}
    merged["run_minutes"] = sum(p["run_minutes"] for p in parts)
    return merged


PARTIAL_NAME = "bench_inversion.partial.json"


def save_partial(out: Path, results: dict) -> None:
    """Write the rows scored so far to `out/bench_inversion.partial.json`, so a killed run keeps them.

    The file has no `run_minutes`, so `--merge` refuses it; the finished run writes
    `bench_inversion.json` and deletes it.
    """
    (out / PARTIAL_NAME).write_text(json.dumps(results, indent=2))


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.merge:
        parts = []
        for path in args.merge:
            try:
                parts.append(json.loads(Path(path).read_text()))
            except (OSError, json.JSONDecodeError) as error:
                raise SystemExit(f"--merge: cannot read {path}: {error}") from error
        try:
            results = merge_results(parts)
        except ValueError as error:
            raise SystemExit(f"--merge {' '.join(args.merge)}: {error}") from error
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench_inversion.json").write_text(json.dumps(results, indent=2))
        print(
            f"merged {len(args.merge)} runs into {out / 'bench_inversion.json'}: {list(results['conditions'])}"
        )
        return results
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python benchmarks/bench_inversion.py " + shlex.join(sys.argv[1:])
    print(f"command: {command}")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine_info().items()), flush=True)
    started = time.perf_counter()

    families = list(VELOCITY_FAMILIES)
    truth = [generate_velocity_models(f, args.maps_per_family, seed=args.data_seed) for f in families]
    groups = [f for f in families for _ in range(args.maps_per_family)]
    drawn = hand_drawn_maps(args.hand_drawn)
    truth = torch.as_tensor(np.concatenate([*truth, *([np.stack(list(drawn.values()))] if drawn else [])]))
    groups += ["hand-drawn"] * len(drawn)
    clean = torch.as_tensor(forward_model(truth))
    noisy = gathers_at_snr(clean, args.snr_db, seed=args.data_seed)
    named = {"clean": ("clean", clean), "noisy": (f"{args.snr_db:g} dB", noisy)}
    conditions = dict(named[c] for c in ("clean", "noisy") if c in args.conditions)

    processor = VelocityProcessor.from_pretrained(args.velocity_pipeline, subfolder="processor")
    joint = JointGenerationPipeline.from_pretrained(args.joint_pipeline)
    joint.set_progress_bar_config(disable=True)
    network = load_inversion_net(args.inversion_net) if args.inversion_net else None
    ours = None
    if args.inversion_pipeline:
        ours = VelocityInversionPipeline.from_pretrained(args.inversion_pipeline)
        ours.set_progress_bar_config(disable=True)

    results = {
        "command": command,
        "machine": machine_info(),
        "data_seed": args.data_seed,
        "snr_db": args.snr_db,
        "maps": len(groups),
        "groups": groups,
        "hand_drawn": list(drawn),
        "conditions": {},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for condition, data in conditions.items():
        rows, context = {}, (truth, groups, data)
        results["conditions"][condition] = rows

        if ours is not None:
            tic = time.perf_counter()
            generators = [torch.Generator().manual_seed(args.data_seed + i) for i in range(len(groups))]
            output = ours(data, generator=generators, output_type="pt")
            defaults = inspect.signature(ours.__call__).parameters
            samples, steps = defaults["num_samples"].default, defaults["num_inference_steps"].default
            gradients = defaults["start_iterations"].default + samples * (
                steps * defaults["data_iterations"].default + defaults["refine_iterations"].default
            )
            name = f"VelocityInversionPipeline ({samples} samples)"
            rows[name] = method_row(
                condition,
                name,
                output.velocities,
                time.perf_counter() - tic,
                gradients,
                *context,
                std=output.std,
            )
            save_partial(out, results)
        if args.skip_baselines:
            continue

        for iterations in tqdm(args.fwi_iterations, desc=f"{condition}: FWI"):
            tic = time.perf_counter()
            predicted = fwi(
                smooth_start(processor, len(groups), args.start_smoothing), data, iterations, args.fwi_lr
            )
            name = f"plain FWI, {iterations} iterations"
            rows[name] = method_row(
                condition, name, predicted, time.perf_counter() - tic, iterations, *context
            )
            save_partial(out, results)
        tic = time.perf_counter()
        if joint.vqvae.config.velocity_encoder:
            generator = torch.Generator().manual_seed(0)
            predicted = torch.as_tensor(joint.invert(data, generator=generator).velocities)
            name = "joint pipeline, velocity sampled given the seismic"
        else:
            predicted = torch.as_tensor(joint.invert(data, refine_steps=0).velocities)
            name = "joint pipeline, stage-1 encoding"
        rows[name] = method_row(condition, name, predicted, time.perf_counter() - tic, 0, *context)
        save_partial(out, results)
        if network is not None:
            tic = time.perf_counter()
            start = network.predict_velocity(data)
            network_seconds = time.perf_counter() - tic
            rows["InversionNet"] = method_row(condition, "InversionNet", start, network_seconds, 0, *context)
            save_partial(out, results)
            tic = time.perf_counter()
            mirrored = 0.5 * (start + network.predict_velocity(data.flip(1).flip(3)).flip(2))
            name = "InversionNet, mirror-averaged (the pipeline's start)"
            seconds = network_seconds + time.perf_counter() - tic
            rows[name] = method_row(condition, name, mirrored, seconds, 0, *context)
            save_partial(out, results)
            tic = time.perf_counter()
            predicted = fwi(start, data, args.refine_iterations, args.refine_lr)
            name = f"InversionNet + {args.refine_iterations} FWI iterations"
            seconds = network_seconds + time.perf_counter() - tic
            rows[name] = method_row(condition, name, predicted, seconds, args.refine_iterations, *context)
            save_partial(out, results)
    results["run_minutes"] = (time.perf_counter() - started) / 60
    (out / "bench_inversion.json").write_text(json.dumps(results, indent=2))
    (out / PARTIAL_NAME).unlink(missing_ok=True)
    table_groups = ["all", *dict.fromkeys(groups)]
    for condition, rows in results["conditions"].items():
        print(f"\n{condition}: SSIM per group\n| method | " + " | ".join(table_groups) + " | s/gather |")
        print("|---|" + "---:|" * (len(table_groups) + 1))
        for name, row in rows.items():
            cells = " | ".join(f"{row['scores'][g]['ssim']:.3f}" for g in table_groups)
            print(f"| {name} | {cells} | {row['seconds_per_gather']:.1f} |")
    print(f"\nrun time {results['run_minutes']:.1f} min")
    return results


if __name__ == "__main__":
    main()

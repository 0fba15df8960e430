"""Calibrate `VelocityInversionPipeline`'s `std` on held-out gathers, and write the scale into the folder.

The posterior samples of one gather start close to one starting map, so their spread is narrower
than the error of their mean (the inversion benchmark measured +-2 std coverage of 0.39). This
script runs the pipeline at its defaults on calibration gathers (data seed `--data_seed`, never the
benchmark's report seed 300000; clean and at `--snr_db`), and fits the pipeline's rule
`std = sqrt((std_scale * spread)^2 + floor(z)^2)` (`floor` linear in depth, from `std_floor[0]` at
the top row to `std_floor[1]` at the bottom) so that `mean +- 2 std` holds the true velocity in
`--nominal_coverage` of all cells with the smallest mean `std`. `--random_geology N` adds N maps
outside the families (`data.generate_random_geology`) to the gathers. With `--write` it stores
`std_scale` and `std_floor` in the pipeline's `model_index.json`.

    python training/calibrate_inversion_std.py --pipeline pipelines/openfwi-velocity-inversion \
        --maps_per_family 2 --threads 2 --write

Writes `calibration.json` (per condition and family: SSIM and MAE of the mean, coverage and
mean std before and after; the fitted values) and `calibration_samples.npz` (truth, means, samples) to `--out`.

The spread depends on how the samples are drawn, so the sampling settings (`--strength`,
`--num_inference_steps`, `--refine_iterations`) are recorded, and `--write` stores only a calibration
made at the pipeline's defaults. Comparing candidate settings on the calibration gathers: run once
per setting into its own `--out`, then `--reuse --write` the one that became the default.
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

from seismic_diffusers import VelocityInversionPipeline, openfwi_map_metrics
from seismic_diffusers.data import (
    RANDOM_GEOLOGY,
    VELOCITY_FAMILIES,
    generate_random_geology,
    generate_velocity_models,
)
from seismic_diffusers.data.gather_augmentation import gathers_at_snr
from seismic_diffusers.physics import forward_model
from seismic_diffusers.pipelines.pipeline_velocity_inversion import calibrate_spread

REPORT_SEED = 300_000  # the inversion benchmark's report set: never calibrate on it
SAMPLING = ("num_inference_steps", "strength", "refine_iterations")  # settings the spread depends on


def pipeline_defaults() -> dict:
    """`VelocityInversionPipeline.__call__`'s defaults for the `SAMPLING` settings."""
    parameters = inspect.signature(VelocityInversionPipeline.__call__).parameters
    return {name: parameters[name].default for name in SAMPLING}


def sampling_settings(args: argparse.Namespace) -> dict:
    """The `SAMPLING` settings this run uses: the options given, the pipeline's defaults otherwise."""
    given = {name: getattr(args, name) for name in SAMPLING if getattr(args, name) is not None}
    return {**pipeline_defaults(), **given}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pipeline", default="pipelines/openfwi-velocity-inversion")
    parser.add_argument("--data_seed", type=int, default=200_000)
    parser.add_argument("--maps_per_family", type=int, default=2)
    parser.add_argument(
        "--random_geology",
        type=int,
        default=0,
        help="Also this many maps of random geology (`generate_random_geology`, same seed), outside the "
        "families: a selection set for maps no family draws, scored as group 'random-geology'.",
    )
    parser.add_argument("--snr_db", type=float, default=10.0)
    parser.add_argument(
        "--nominal_coverage",
        type=float,
        default=0.95,
        help="Share of cells mean +- 2 std must hold (0.95: what +-2 std of a Gaussian holds).",
    )
    parser.add_argument("--threads", type=int, default=None)
    sampling = parser.add_argument_group(
        "sampling (default: the pipeline's defaults; --write only stores a calibration made at them)"
    )
    sampling.add_argument("--num_inference_steps", type=int, default=None)
    sampling.add_argument("--strength", type=float, default=None)
    sampling.add_argument("--refine_iterations", type=int, default=None)
    parser.add_argument("--out", default="runs/inversion-calibration")
    parser.add_argument("--reuse", action="store_true", help="Refit from --out's calibration_samples.npz.")
    parser.add_argument(
        "--write", action="store_true", help="Store std_scale and std_floor in --pipeline's model_index.json."
    )
    args = parser.parse_args(argv)
    if args.data_seed == REPORT_SEED:
        parser.error(f"--data_seed {REPORT_SEED} is the benchmark's report set; calibrate on another seed.")
    if not 0.0 < args.nominal_coverage < 1.0:
        parser.error("--nominal_coverage must be in (0, 1).")
    if args.maps_per_family < 1:
        parser.error("--maps_per_family must be >= 1.")
    if args.random_geology < 0:
        parser.error("--random_geology must be >= 0.")
    # before the pipeline runs (23 min at the defaults), not after
    if args.write and not (Path(args.pipeline) / "model_index.json").is_file():
        parser.error(f"--write: {args.pipeline} holds no model_index.json to store the calibration in.")
    if args.reuse and not (Path(args.out) / "calibration_samples.npz").is_file():
        parser.error(f"--reuse: {args.out} holds no calibration_samples.npz; run once without --reuse.")
    if args.reuse and any(getattr(args, name) is not None for name in SAMPLING):
        parser.error("--reuse refits saved samples; their sampling settings cannot be changed.")
    if args.write and sampling_settings(args) != pipeline_defaults():
        parser.error(
            f"--write: the pipeline runs at {pipeline_defaults()}; a calibration made at "
            f"{sampling_settings(args)} would not hold for it."
        )
    return args


def coverage(truth: np.ndarray, mean: np.ndarray, std: np.ndarray) -> float:
    """Share of cells with `|truth - mean| <= 2 * std`."""
    return float(np.mean(np.abs(truth - mean) <= 2.0 * std))


def fit_std_calibration(
    truth: np.ndarray, mean: np.ndarray, spread: np.ndarray, nominal: float
) -> tuple[float, tuple[float, float]]:
    """`(std_scale, std_floor)`: the narrowest `calibrate_spread` (in mean) that covers `nominal` of the cells.

    A grid over the scale (0.25-6) and the top floor (0-300 m/s, 10 m/s steps); for each, the
    smallest bottom floor that reaches `nominal`, by bisection (coverage grows with it).
    """
    error = torch.as_tensor(np.abs(truth - mean))
    spread = torch.as_tensor(spread)

    def covered(scale: float, floor: tuple[float, float]) -> float:
        return float((error <= 2.0 * calibrate_spread(spread, scale, floor)).double().mean())

    best = None
    for scale in np.arange(0.25, 6.01, 0.25):
        for top in np.arange(0.0, 301.0, 10.0):
            low, high = 0.0, 4000.0
            if covered(scale, (top, high)) < nominal:
                continue
            for _ in range(14):  # to 0.25 m/s
                middle = 0.5 * (low + high)
                if covered(scale, (top, middle)) >= nominal:
                    high = middle
                else:
                    low = middle
            width = float(calibrate_spread(spread, scale, (top, high)).mean())
            if best is None or width < best[0]:
                best = (width, float(scale), (float(top), round(float(high), 1)))
    if best is None:
        raise ValueError(f"No calibration reaches {nominal:.0%} coverage; raise the grid's floors.")
    return best[1], best[2]


def run_pipeline(args: argparse.Namespace, sampling: dict) -> dict[str, np.ndarray]:
    families = list(VELOCITY_FAMILIES)
    truth = np.concatenate(
        [generate_velocity_models(f, args.maps_per_family, seed=args.data_seed) for f in families]
        + [generate_random_geology(args.random_geology, seed=args.data_seed)]
    )
    clean = torch.as_tensor(forward_model(truth))
    noisy = gathers_at_snr(clean, args.snr_db, seed=args.data_seed)
    pipe = VelocityInversionPipeline.from_pretrained(args.pipeline)
    arrays = {
        "truth": truth,
        "groups": np.array(
            [f for f in families for _ in range(args.maps_per_family)]
            + [RANDOM_GEOLOGY] * args.random_geology
        ),
        "sampling": np.array(json.dumps(sampling)),
    }
    for condition, data in (("clean", clean), ("noisy", noisy)):
        tic = time.perf_counter()
        generators = [torch.Generator().manual_seed(args.data_seed + i) for i in range(len(truth))]
        output = pipe(data, generator=generators, **sampling)
        print(f"{condition}: {(time.perf_counter() - tic) / len(truth):.1f} s per gather", flush=True)
        arrays[f"{condition}_mean"] = output.velocities
        arrays[f"{condition}_samples"] = output.samples
    return arrays


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    cache = out / "calibration_samples.npz"
    if args.reuse:
        arrays = dict(np.load(cache))
        if "sampling" not in arrays:
            raise SystemExit(f"{cache} does not record its sampling settings; run again without --reuse.")
        sampling = json.loads(str(arrays["sampling"]))
        if args.write and sampling != pipeline_defaults():
            raise SystemExit(
                f"--write: {cache} was sampled at {sampling}, the pipeline runs at {pipeline_defaults()}."
            )
    else:
        sampling = sampling_settings(args)
        arrays = run_pipeline(args, sampling)
        out.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, **arrays)
    truth, groups = arrays["truth"], arrays["groups"]
    spreads = {c: arrays[f"{c}_samples"].std(axis=1) for c in ("clean", "noisy")}
    # one calibration for both conditions: a user does not say how noisy the gathers are
    scale, floor = fit_std_calibration(
        np.concatenate([truth, truth]),
        np.concatenate([arrays["clean_mean"], arrays["noisy_mean"]]),
        np.concatenate([spreads["clean"], spreads["noisy"]]),
        args.nominal_coverage,
    )
    report = {
        "command": "python training/calibrate_inversion_std.py "
        + shlex.join(sys.argv[1:] if argv is None else argv),
        "data_seed": args.data_seed,
        "maps": int(len(truth)),
        "sampling": sampling,
        "nominal_coverage": args.nominal_coverage,
        "std_scale": scale,
        "std_floor": list(floor),
        "conditions": {},
    }
    for condition in ("clean", "noisy"):
        mean, spread = arrays[f"{condition}_mean"], spreads[condition]
        rows = {}
        for group in ["all", *dict.fromkeys(groups.tolist())]:
            pick = slice(None) if group == "all" else groups == group
            metrics = openfwi_map_metrics(torch.as_tensor(mean[pick]), torch.as_tensor(truth[pick]))
            std = calibrate_spread(torch.as_tensor(spread[pick]), scale, floor).numpy()
            rows[group] = {
                "ssim": float(metrics["SSIM"]),
                "mean_abs_error_m_per_s": float(np.mean(np.abs(truth[pick] - mean[pick]))),
                "coverage_raw": coverage(truth[pick], mean[pick], spread[pick]),
                "coverage_calibrated": coverage(truth[pick], mean[pick], std),
                "mean_std_raw_m_per_s": float(np.mean(spread[pick])),
                "mean_std_calibrated_m_per_s": float(np.mean(std)),
            }
        report["conditions"][condition] = rows
        print(
            f"{condition}: SSIM {rows['all']['ssim']:.3f}, MAE {rows['all']['mean_abs_error_m_per_s']:.0f} m/s; "
            f"coverage {rows['all']['coverage_raw']:.2f} raw -> {rows['all']['coverage_calibrated']:.2f} "
            f"(mean std {rows['all']['mean_std_raw_m_per_s']:.0f} -> {rows['all']['mean_std_calibrated_m_per_s']:.0f} m/s) "
            f"at std_scale {scale:g}, std_floor {floor[0]:g}-{floor[1]:g} m/s"
        )
    (out / "calibration.json").write_text(json.dumps(report, indent=2) + "\n")
    if args.write:
        # only these two keys change: model_index.json keeps its components and provenance
        index = Path(args.pipeline) / "model_index.json"
        config = json.loads(index.read_text())
        config.update(std_scale=scale, std_floor=list(floor))
        index.write_text(json.dumps(dict(sorted(config.items())), indent=2) + "\n")
        VelocityInversionPipeline.from_pretrained(args.pipeline)  # it still loads
        print(f"std_scale {scale:g}, std_floor {list(floor)} written to {args.pipeline}/model_index.json")
    return report


if __name__ == "__main__":
    main()

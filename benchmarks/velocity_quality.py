"""How close are generated velocity models to the synthetic families? Fréchet distance + family accuracy.

Measured in one run on one machine, with settings chosen on one set of draws and reported on another:

1. Features and family predictions come from the shipped, frozen `FamilyClassifier`
   (`pipelines/openfwi-velocity-classifier`, `--classifier`), the same extractor for every FD in
   the documents.
2. References: `--num_per_family` held-out synthetic maps per family, one set per seed (never
   used for training anything). Every pooled FD is the mean over the sets: at a few hundred maps in
   128 dimensions one reference set alone moves a generated set's FD by about 20 %. Per-family
   figures use the first set.
3. Baseline: as many maps from the diffusion model's own training set (seed `--train_data_seed`).
   FD(train, held-out) is the distance of a perfect generator that reproduced its training data;
   the FD ratio of a generated set is its FD over this one, against the same reference sets.
4. Choose: every candidate setting (each `--guidance_scale`, the `--family_guidance_scale`
   setting if given, each `--timestep_power`, and with `--compare_without_prior_mean` each without
   the prior) is scored on the noise seeds `--choose_seed` against the reference sets
   `--choose_heldout_seeds`; the one with the lowest pooled FD is chosen. With one candidate there
   is nothing to choose and this phase is skipped.
5. Report: the chosen setting, scored again on the disjoint noise seeds `--report_seed` against
   the disjoint reference sets `--report_heldout_seeds`. Only these figures are reported in the
   documents; the two sets of seeds must not overlap.
6. Unconditional (`family=None`, the pipeline's default `unconditional_sampling`): 8 x
   `--num_per_family` maps per report seed, FD against the pooled report references, and the
   family mix the classifier sees against the training mix (`processor.family_proportions`) and
   against what it sees in held-out data.

    python benchmarks/velocity_quality.py --pipeline pipelines/openfwi-velocity-ddpm \
        --num_per_family 100 --report_seed 100 101 102
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

import numpy as np
import torch

from seismic_diffusers import VELOCITY_FAMILIES, VelocityGenerationPipeline, generate_velocity_models
from seismic_diffusers.metrics import (
    FAMILY_CLASSIFIER_PATH,
    load_family_classifier,
    predict_families,
    velocity_frechet_distance,
    velocity_map_statistics,
)
from seismic_diffusers.utils import SCHEDULERS, machine_info, plot_velocity_grid, scheduler_from_name
from seismic_diffusers.utils.arguments import family_scale, family_scales


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--pipeline", default="pipelines/openfwi-velocity-ddpm", help="Pipeline folder or hub id."
    )
    parser.add_argument("--num_per_family", type=int, default=250, help="Maps per family in every set.")
    parser.add_argument(
        "--steps", type=int, default=None, help="num_inference_steps (default: the pipeline's own)."
    )
    parser.add_argument(
        "--scheduler",
        default="default",
        choices=["default", *SCHEDULERS],
        help="Sampler: the pipeline's own (default) or one of seismic_diffusers.utils.SCHEDULERS.",
    )
    parser.add_argument(
        "--guidance_scale",
        type=float,
        nargs="+",
        default=None,
        help="One or more guidance scales to compare (default: the pipeline's own).",
    )
    parser.add_argument(
        "--family_guidance_scale",
        type=family_scale,
        nargs="+",
        default=None,
        metavar="FAMILY=SCALE",
        help="Also score one per-family setting (`pipe(..., guidance_scale={family: scale})`; families "
        "left out are unguided), labelled by its guided families, e.g. `curvefault-a 1.5`.",
    )
    parser.add_argument(
        "--timestep_power",
        type=float,
        nargs="+",
        default=None,
        help="One or more timestep spacings to compare, t_i = t_0 (1 - i/n)^power (default: the pipeline's "
        "own `default_timestep_power`); every guidance setting is scored with each.",
    )
    parser.add_argument(
        "--compare_without_prior_mean",
        action="store_true",
        help="Also score every setting with `use_prior_mean=False` (the U-Net's own estimate at zero SNR).",
    )
    parser.add_argument(
        "--choose_seed",
        type=int,
        nargs="+",
        default=[0, 1, 2, 3, 4, 5],
        help="Noise seeds the candidate settings are compared on (only with more than one candidate).",
    )
    parser.add_argument(
        "--choose_heldout_seeds",
        type=int,
        nargs="+",
        default=[20_000, 30_000, 40_000, 50_000],
        help="Reference sets the candidate settings are compared against.",
    )
    parser.add_argument(
        "--report_seed",
        type=int,
        nargs="+",
        default=[100, 101, 102, 103, 104, 105],
        help="Noise seeds of the reported figures; disjoint from --choose_seed. FDs are means over them "
        "(one draw of 100 maps per family moves the FD by tens of percent).",
    )
    parser.add_argument(
        "--report_heldout_seeds",
        type=int,
        nargs="+",
        default=[60_000, 70_000, 80_000, 90_000],
        help="Reference sets of the reported figures (the first also serves the per-family figures); "
        "disjoint from --choose_heldout_seeds.",
    )
    parser.add_argument("--out", default="benchmarks/results", help="Folder for the JSON and PNG results.")
    parser.add_argument(
        "--batch_size", type=int, default=16, help="Maps per pipeline call (small batches run faster on CPU)."
    )
    parser.add_argument(
        "--train_data_seed", type=int, default=0, help="Data seed the diffusion model was trained on."
    )
    parser.add_argument(
        "--classifier",
        default=None,
        help=f"FD feature extractor folder (default: the shipped one, {FAMILY_CLASSIFIER_PATH.name}).",
    )
    parser.add_argument("--skip_unconditional", action="store_true", help="Skip the family=None run.")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads.")
    parser.add_argument(
        "--device",
        default="cpu",
        help="Device of the diffusion model (the classifier and FD stay on the CPU).",
    )
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "bfloat16"],
        help="Weights of the diffusion model (`from_pretrained(..., dtype=...)`); sampling stays float32.",
    )
    args = parser.parse_args(argv)
    for choose, report in (("choose_seed", "report_seed"), ("choose_heldout_seeds", "report_heldout_seeds")):
        shared = set(getattr(args, choose)) & set(getattr(args, report))
        if shared:
            parser.error(
                f"--{choose} and --{report} share {sorted(shared)}: settings must be reported on other draws."
            )
    # the generator's training data, and the classifier's training and evaluation data (its training record)
    reserved = {args.train_data_seed} | classifier_seeds(args.classifier or FAMILY_CLASSIFIER_PATH)
    used = set(args.choose_heldout_seeds) | set(args.report_heldout_seeds)
    if used & reserved:
        parser.error(
            f"Reference seeds {sorted(used & reserved)} are training data (diffusion model or classifier)."
        )
    if args.family_guidance_scale:
        try:
            args.family_guidance_scale = family_scales(args.family_guidance_scale)
        except ValueError as error:
            parser.error(f"--family_guidance_scale: {error}.")
    return args


def classifier_seeds(folder) -> set[int]:
    """The data seeds a classifier folder's `training_record.json` names (none without a record)."""
    path = os.path.join(str(folder), "training_record.json")
    if not os.path.isfile(path):
        return set()
    with open(path) as f:
        settings = json.load(f).get("settings", {})
    return {int(settings[key]) for key in ("data_seed", "eval_seed") if key in settings}


def generate(
    pipe, family, count, seed, steps, guidance_scale, batch_size, use_prior_mean=True, timestep_power=None
) -> tuple[np.ndarray, float]:
    """`count` maps (m/s) of one family (or None) from one seeded generator; returns (maps, s/sample)."""
    generator = torch.Generator().manual_seed(seed)
    chunks, start = [], time.perf_counter()
    for first in range(0, count, batch_size):
        n = min(batch_size, count - first)
        out = pipe(
            n,
            family=family,
            generator=generator,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            use_prior_mean=use_prior_mean,
            timestep_power=timestep_power,
        )
        chunks.append(out.velocities)
    return np.concatenate(chunks), (time.perf_counter() - start) / count


def spread_between_maps(draws: list[dict[str, np.ndarray]]) -> float:
    """Standard deviation of the maps' mean velocities (m/s) within each family, averaged over families and draws."""
    return float(
        np.mean([velocity_map_statistics(maps)["std_between_maps"] for d in draws for maps in d.values()])
    )


def accuracy_per_family(classifier, maps_by_family: dict[str, np.ndarray]) -> dict[str, float]:
    return {
        name: float((predict_families(classifier, maps) == VELOCITY_FAMILIES.index(name)).mean())
        for name, maps in maps_by_family.items()
    }


def reference_sets(seeds: list[int], n: int) -> list[dict[str, np.ndarray]]:
    """One {family: maps} held-out set per seed."""
    return [{name: generate_velocity_models(name, n, seed) for name in VELOCITY_FAMILIES} for seed in seeds]


class Scorer:
    """FDs of generated sets against a list of reference sets, and their ratios to the baseline."""

    def __init__(self, classifier, references: list[dict[str, np.ndarray]], families: list[str], train: dict):
        self.classifier, self.references, self.families = classifier, references, families
        self.pooled_references = [np.concatenate([ref[name] for name in families]) for ref in references]
        train_all = np.concatenate([train[name] for name in families])
        self.baseline = dict(
            **self.pooled_fd(train_all),
            fd_per_family={name: self.fd(references[0][name], train[name]) for name in families},
            accuracy_heldout=accuracy_per_family(classifier, references[0]),
            accuracy_train=accuracy_per_family(classifier, train),
            edges=velocity_map_statistics(train_all),
            spread_between_maps=spread_between_maps([{name: train[name] for name in families}]),
        )
        self.baseline["accuracy_heldout_mean"] = float(
            np.mean(list(self.baseline["accuracy_heldout"].values()))
        )

    def fd(self, real, fake) -> float:
        return velocity_frechet_distance(real, fake, self.classifier)

    def pooled_fd(self, fake_all) -> dict:
        """FD of a pooled set against every reference set: their mean and each one."""
        each = [self.fd(reference, fake_all) for reference in self.pooled_references]
        return dict(fd=float(np.mean(each)), fd_per_reference=each)

    def add_ratios(self, row: dict) -> None:
        row["fd_ratio"] = row["fd"] / self.baseline["fd"]
        row["fd_ratio_per_reference"] = [
            a / b for a, b in zip(row["fd_per_reference"], self.baseline["fd_per_reference"], strict=True)
        ]

    def score_setting(self, pipe, args, setting, seeds) -> tuple[dict, dict]:
        """Generate every family once per noise seed with `setting`; the row and the first draw."""
        label, scale, power, use_prior_mean = setting
        draws, seconds = [], []  # one {family: maps} per noise seed
        for seed in seeds:
            generated = {}
            for index, name in enumerate(self.families):
                generated[name], per_sample = generate(
                    pipe, name, args.num_per_family, seed + 1000 * index, args.steps, scale,
                    args.batch_size, use_prior_mean, power,
                )  # fmt: skip
                seconds.append(per_sample)
            draws.append(generated)
        pooled = [self.pooled_fd(np.concatenate([g[name] for name in self.families])) for g in draws]
        per_family = [
            {name: self.fd(self.references[0][name], g[name]) for name in self.families} for g in draws
        ]
        accuracy = [accuracy_per_family(self.classifier, g) for g in draws]
        row = dict(
            guidance_scale=scale,
            guidance_label=label,
            timestep_power=power,
            timesteps=pipe.scheduler.timesteps.tolist(),
            use_prior_mean=use_prior_mean,
            seeds=list(seeds),
            fd=float(np.mean([p["fd"] for p in pooled])),
            fd_per_seed=[p["fd"] for p in pooled],
            fd_per_reference=np.mean([p["fd_per_reference"] for p in pooled], axis=0).tolist(),
            fd_per_family={name: float(np.mean([f[name] for f in per_family])) for name in self.families},
            accuracy={name: float(np.mean([a[name] for a in accuracy])) for name in self.families},
            edges=velocity_map_statistics(np.concatenate([m for g in draws for m in g.values()])),
            spread_between_maps=spread_between_maps(draws),
            seconds_per_sample=float(np.mean(seconds)),
        )
        self.add_ratios(row)
        row["fd_ratio_per_seed"] = [value / self.baseline["fd"] for value in row["fd_per_seed"]]
        row["accuracy_mean"] = float(np.mean(list(row["accuracy"].values())))
        return row, draws[0]


def describe_row(row: dict) -> str:
    per_seed = ", ".join(
        f"{seed}: x{r:.2f}" for seed, r in zip(row["seeds"], row["fd_ratio_per_seed"], strict=True)
    )
    return (
        f"guidance {row['guidance_label']}: FD {row['fd']:.3f} (x{row['fd_ratio']:.2f} baseline; per reference set "
        + ", ".join(f"x{r:.2f}" for r in row["fd_ratio_per_reference"])
        + f"; per noise seed {per_seed}), family accuracy {row['accuracy_mean']:.3f}, sharp share "
        f"{row['edges']['sharp_share']:.3f}, spread between maps {row['spread_between_maps']:.0f} m/s, "
        f"{row['seconds_per_sample']:.3f} s/sample"
    )


def main(args):
    torch.set_num_threads(args.threads)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    info = machine_info()
    print(f"command: {command}")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), flush=True)
    os.makedirs(args.out, exist_ok=True)
    run_start = time.perf_counter()

    pipe = VelocityGenerationPipeline.from_pretrained(args.pipeline, dtype=getattr(torch, args.dtype))
    pipe = pipe.to(args.device)
    pipe.set_progress_bar_config(disable=True)
    if args.scheduler != "default":
        pipe.scheduler = scheduler_from_name(pipe.scheduler.config, args.scheduler)
    args.steps = args.steps or pipe.config.default_num_inference_steps
    args.guidance_scale = args.guidance_scale or [pipe.config.default_guidance_scale]
    # None: the pipeline's saved spacing, which a scheduler without custom timesteps (DDIM) ignores
    args.timestep_power = args.timestep_power or [None]
    guidance = [(pipe.describe_guidance(scale), scale) for scale in args.guidance_scale]
    if args.family_guidance_scale:
        guidance.append((pipe.describe_guidance(args.family_guidance_scale), args.family_guidance_scale))
    # (label, guidance, timestep power, prior mean); an explicit --timestep_power is named in the label
    settings = [
        (label if power is None else f"{label} power {power:g}", scale, power, True)
        for label, scale in guidance
        for power in args.timestep_power
    ]
    if args.compare_without_prior_mean:
        settings += [(f"{label} no prior", scale, power, False) for label, scale, power, _ in settings]
    for power in args.timestep_power:
        pipe.spaced_timesteps(args.steps, power)  # a bad power fails here, not after the first setting
    print(
        f"sampler: {type(pipe.scheduler).__name__}, {args.steps} steps, timestep power "
        f"{', '.join('saved default' if p is None else f'{p:g}' for p in args.timestep_power)}, "
        f"{args.dtype} weights",
        flush=True,
    )
    families = [name for name in pipe.families if name in VELOCITY_FAMILIES]
    if not pipe.is_conditional:
        print("pipeline is unconditional: only the family=None run applies")
    classifier = load_family_classifier(args.classifier)
    classifier_name = args.classifier or str(
        FAMILY_CLASSIFIER_PATH.relative_to(FAMILY_CLASSIFIER_PATH.parents[1])
    )
    n = args.num_per_family
    pooled_families = families or list(VELOCITY_FAMILIES)
    train = {name: generate_velocity_models(name, n, args.train_data_seed) for name in VELOCITY_FAMILIES}

    # 1. Choose among the candidate settings on their own draws.
    choice = None
    if pipe.is_conditional and len(settings) > 1:
        chooser = Scorer(classifier, reference_sets(args.choose_heldout_seeds, n), pooled_families, train)
        candidates = []
        for setting in settings:
            row, _ = chooser.score_setting(pipe, args, setting, args.choose_seed)
            print("choose: " + describe_row(row), flush=True)
            candidates.append(row)
        best = int(np.argmin([row["fd"] for row in candidates]))
        choice = dict(
            seeds=list(args.choose_seed), heldout_seeds=list(args.choose_heldout_seeds),
            baseline_fd=chooser.baseline["fd"], candidates=candidates, chosen=settings[best][0],
        )  # fmt: skip
        settings = [settings[best]]
        print(f"chosen on seeds {args.choose_seed}: {settings[0][0]}", flush=True)

    # 2. Report the chosen setting on other noise seeds and other reference sets.
    scorer = Scorer(classifier, reference_sets(args.report_heldout_seeds, n), pooled_families, train)
    baseline = scorer.baseline
    print(
        f"baseline FD(train set, held-out) = {baseline['fd']:.3f} (mean of {len(scorer.references)} report "
        "reference sets: "
        + ", ".join(f"{v:.3f}" for v in baseline["fd_per_reference"])
        + f"); classifier held-out accuracy {baseline['accuracy_heldout_mean']:.3f}",
        flush=True,
    )
    results, grid_maps, grid_titles = [], [], []
    for setting in settings if pipe.is_conditional else []:
        row, generated = scorer.score_setting(pipe, args, setting, args.report_seed)
        results.append(row)
        print("report: " + describe_row(row), flush=True)
        # Sample grid: four maps per family, titled with what the classifier thinks they are.
        maps = np.concatenate([generated[name][:4] for name in families])
        predicted = predict_families(classifier, maps)
        titles = [
            f"{families[i // 4]} -> {VELOCITY_FAMILIES[p]}"
            if VELOCITY_FAMILIES[p] != families[i // 4]
            else families[i // 4]
            for i, p in enumerate(predicted)
        ]
        grid_maps, grid_titles = list(maps), titles

    unconditional = None
    if not args.skip_unconditional:
        count = n * len(pooled_families)
        draws, seconds = [], []
        for seed in args.report_seed:
            maps, per_sample = generate(pipe, None, count, seed + 99_000, args.steps, None, args.batch_size)
            draws.append(maps)
            seconds.append(per_sample)
        pooled = [scorer.pooled_fd(maps) for maps in draws]
        predicted = predict_families(classifier, np.concatenate(draws))
        mix = np.bincount(predicted, minlength=len(VELOCITY_FAMILIES)) / len(predicted)
        heldout_predicted = predict_families(classifier, np.concatenate(scorer.pooled_references))
        heldout_mix = np.bincount(heldout_predicted, minlength=len(VELOCITY_FAMILIES)) / len(
            heldout_predicted
        )
        training_mix = (
            dict(zip(pipe.families, pipe.processor.family_proportions.tolist(), strict=True))
            if pipe.is_conditional
            else {}
        )
        unconditional = dict(
            unconditional_sampling="mixture" if pipe.is_conditional else "unconditional model",
            seeds=[seed + 99_000 for seed in args.report_seed],
            fd=float(np.mean([p["fd"] for p in pooled])),
            fd_per_seed=[p["fd"] for p in pooled],
            fd_per_reference=np.mean([p["fd_per_reference"] for p in pooled], axis=0).tolist(),
            seconds_per_sample=float(np.mean(seconds)),
            predicted_mix=dict(zip(VELOCITY_FAMILIES, mix.tolist(), strict=True)),
            predicted_mix_heldout=dict(zip(VELOCITY_FAMILIES, heldout_mix.tolist(), strict=True)),
            training_mix=training_mix,
        )
        if training_mix:
            unconditional["largest_mix_deviation"] = float(
                max(abs(unconditional["predicted_mix"][name] - share) for name, share in training_mix.items())
            )
        scorer.add_ratios(unconditional)
        unconditional["fd_ratio_per_seed"] = [v / baseline["fd"] for v in unconditional["fd_per_seed"]]
        print(
            f"unconditional: FD {unconditional['fd']:.3f} (x{unconditional['fd_ratio']:.2f} baseline; per noise seed "
            + ", ".join(f"x{r:.2f}" for r in unconditional["fd_ratio_per_seed"])
            + ")"
            + (
                f", largest family-mix deviation {unconditional['largest_mix_deviation']:.3f}"
                if training_mix
                else ""
            ),
            flush=True,
        )
        grid_maps += list(draws[0][:8])
        grid_titles += [f"any -> {VELOCITY_FAMILIES[p]}" for p in predicted[:8]]
    if grid_maps:
        path = os.path.join(args.out, "velocity_quality_samples.png")
        first = f"guidance {settings[0][0]}" if results else "unconditional"
        plot_velocity_grid(
            np.stack(grid_maps), path, titles=grid_titles, ncols=8,
            suptitle=f"{args.pipeline}: {first}, {args.steps} steps (title: asked -> classified)",
        )  # fmt: skip
        print(f"wrote {path}")

    minutes = (time.perf_counter() - run_start) / 60
    print_tables(args, n, pooled_families, families, scorer, results, unconditional, choice, minutes)
    path = os.path.join(args.out, "velocity_quality.json")
    with open(path, "w") as f:
        json.dump(
            dict(
                command=command, machine=info, pipeline=args.pipeline, args=vars(args),
                classifier=dict(path=classifier_name, accuracy_heldout_mean=baseline["accuracy_heldout_mean"]),
                baseline=baseline, choice=choice, conditional=results, unconditional=unconditional,
                run_minutes=round(minutes, 2),
            ),
            f,
            indent=2,
        )  # fmt: skip
    print(f"\nwrote {path}")


def print_tables(args, n, pooled_families, families, scorer, results, unconditional, choice, minutes) -> None:
    baseline = scorer.baseline
    print()
    chosen = (
        f"setting chosen on noise seeds {args.choose_seed} and reference sets {args.choose_heldout_seeds}"
        if choice
        else "one setting, nothing chosen in this run"
    )
    print(
        f"{n} maps per family ({n * len(pooled_families)} pooled) per set, {args.steps} steps; {chosen}; reported "
        f"on noise seeds {args.report_seed}; FD in the frozen FamilyClassifier's feature space (lower is better), "
        f"mean over {len(scorer.references)} held-out reference sets (seeds "
        f"{', '.join(map(str, args.report_heldout_seeds))}); per-family columns use the first; run time {minutes:.1f} min."
    )
    print(
        "| samples | setting | FD vs held-out (mean) | FD / baseline (target <= 2) | family accuracy "
        "| sharp share | roughness | spread between maps | s/sample |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| synthetic train set (baseline) | - | {baseline['fd']:.3f} | 1.00 | "
        f"{np.mean(list(baseline['accuracy_train'].values())):.3f} | "
        f"{baseline['edges']['sharp_share']:.2f} | {baseline['edges']['roughness']:.1f} | "
        f"{baseline['spread_between_maps']:.0f} | - |"
    )
    for row in results:
        print(
            f"| generated, per family | {row['guidance_label']} | {row['fd']:.3f} | {row['fd_ratio']:.2f} | "
            f"{row['accuracy_mean']:.3f} | {row['edges']['sharp_share']:.2f} | {row['edges']['roughness']:.1f} | "
            f"{row['spread_between_maps']:.0f} | {row['seconds_per_sample']:.3f} |"
        )
    if unconditional:
        print(
            f"| generated, family=None | {unconditional['unconditional_sampling']} | {unconditional['fd']:.3f} | "
            f"{unconditional['fd_ratio']:.2f} | - | - | - | - | {unconditional['seconds_per_sample']:.3f} |"
        )
    if results:
        print()
        print("| family | acc held-out | FD train (baseline) | acc generated | FD generated |")
        print("|---|---:|---:|---:|---:|")
        row = results[0]
        for name in families:
            print(
                f"| {name} | {baseline['accuracy_heldout'][name]:.3f} | {baseline['fd_per_family'][name]:.3f} | "
                f"{row['accuracy'][name]:.3f} | {row['fd_per_family'][name]:.3f} |"
            )
    if unconditional:
        print()
        print("| family | training mix | classified, family=None samples | classified, held-out maps |")
        print("|---|---:|---:|---:|")
        for name in VELOCITY_FAMILIES:
            print(
                f"| {name} | {unconditional['training_mix'].get(name, float('nan')):.3f} | "
                f"{unconditional['predicted_mix'][name]:.3f} | {unconditional['predicted_mix_heldout'][name]:.3f} |"
            )


if __name__ == "__main__":
    main(parse_args())

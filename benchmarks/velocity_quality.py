"""How close are generated velocity models to the synthetic families? Fréchet distance + family accuracy.

Measured in one run on one machine:

1. A `FamilyClassifier` trained on its own synthetic data (seed `--classifier_seed`, cached under
   `<out>/family_classifier/`, safetensors) supplies the features and the family predictions.
2. References: `--num_per_family` held-out synthetic maps per family, one set per seed in
   `--heldout_seeds` (never used for training anything). Every pooled FD below is the mean over
   these sets: at a few hundred maps in 128 dimensions one reference set alone moves a generated
   set's FD by about 20 % (0.36 standard deviation at FD 1.7 over eight sets). Per-family figures
   use the first set.
3. Baseline: as many maps from the diffusion model's own training set (seed `--train_data_seed`,
   the first maps of each family). FD(train, held-out) is the distance of a perfect generator
   that reproduced its training data; it is not zero because of the finite sample. Its ratio is
   taken against the same reference sets.
4. For each `--guidance_scale` (and a `--family_guidance_scale` setting, if given) and each
   `--timestep_power`: `--num_per_family` generated maps per family, conditioned on it, once per
   noise seed in `--seed`. `--compare_without_prior_mean` repeats each setting with
   `use_prior_mean=False` (the same noise draws), labelled `... no prior`.
   Reported: FD(generated, held-out) over all families pooled, its ratio to the baseline
   (target <= 2), per-family FD, and the classifier's accuracy on each family's samples (did the
   model draw the family it was asked for?), each the mean over the noise seeds: one draw of 100
   maps per family moves the pooled FD by tens of percent, more than most settings differ.
5. Unconditional (`family=None`): 8 x `--num_per_family` maps, FD against the pooled held-out set
   and the predicted family mix.

    python benchmarks/velocity_quality.py --pipeline pipelines/openfwi-velocity-ddpm \
        --num_per_family 100 --seed 0 1 2 --timestep_power 1 1.5 --skip_unconditional
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time

import numpy as np
import torch

from seismic_diffusers import VELOCITY_FAMILIES, VelocityGenerationPipeline, generate_velocity_models
from seismic_diffusers.metrics import (
    FamilyClassifier,
    predict_families,
    train_family_classifier,
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
        "--seed",
        type=int,
        nargs="+",
        default=[0],
        help="Seeds of the generation noise; with several, every setting is generated once per seed and its "
        "FD is the mean over seeds (one draw of 100 maps per family moves the FD by tens of percent).",
    )
    parser.add_argument(
        "--out", default="benchmarks/results", help="Folder for JSON, PNG and the cached classifier."
    )
    parser.add_argument(
        "--batch_size", type=int, default=16, help="Maps per pipeline call (small batches run faster on CPU)."
    )
    parser.add_argument(
        "--train_data_seed", type=int, default=0, help="Data seed the diffusion model was trained on."
    )
    parser.add_argument(
        "--heldout_seeds",
        type=int,
        nargs="+",
        default=[20_000, 30_000, 40_000, 50_000],
        help="Seeds of the held-out reference sets; pooled FDs are means over them (the first also "
        "serves the per-family figures).",
    )
    parser.add_argument("--classifier_seed", type=int, default=10_000, help="Seed of the classifier's data.")
    parser.add_argument("--classifier_steps", type=int, default=2000)
    parser.add_argument("--classifier_num_per_family", type=int, default=1500)
    parser.add_argument(
        "--classifier_noise_std", type=float, default=40.0, help="Training noise of the classifier (m/s)."
    )
    parser.add_argument("--retrain_classifier", action="store_true", help="Ignore the cached classifier.")
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
    if args.family_guidance_scale:
        try:
            args.family_guidance_scale = family_scales(args.family_guidance_scale)
        except ValueError as error:
            parser.error(f"--family_guidance_scale: {error}.")
    return args


def load_or_train_classifier(args) -> tuple[FamilyClassifier, dict]:
    """The cached classifier if it was trained with the same settings, else a freshly trained one."""
    folder = os.path.join(args.out, "family_classifier")
    settings = dict(
        families=list(VELOCITY_FAMILIES),
        seed=args.classifier_seed,
        steps=args.classifier_steps,
        num_per_family=args.classifier_num_per_family,
        noise_std=args.classifier_noise_std,
        edge_blur=True,
    )
    settings_path = os.path.join(folder, "training_settings.json")
    if not args.retrain_classifier and os.path.exists(settings_path):
        with open(settings_path) as f:
            cached = json.load(f)
        if cached.get("settings") == settings:
            print(f"classifier: loaded from {folder}", flush=True)
            return FamilyClassifier.from_pretrained(folder).eval(), cached
    start = time.perf_counter()
    classifier = train_family_classifier(**settings)
    minutes = (time.perf_counter() - start) / 60
    print(f"classifier: trained in {minutes:.1f} min, saved to {folder}", flush=True)
    classifier.save_pretrained(folder)
    record = dict(settings=settings, train_minutes=round(minutes, 2), machine=machine_info())
    with open(settings_path, "w") as f:
        json.dump(record, f, indent=2)
    return classifier, record


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
    classifier, classifier_record = load_or_train_classifier(args)
    n = args.num_per_family

    # Reference and baseline sets (m/s), equal sizes.
    pooled = families or VELOCITY_FAMILIES
    references = [
        {name: generate_velocity_models(name, n, seed) for name in VELOCITY_FAMILIES}
        for seed in args.heldout_seeds
    ]
    heldout = references[0]
    train = {name: generate_velocity_models(name, n, args.train_data_seed) for name in VELOCITY_FAMILIES}
    train_all = np.concatenate([train[name] for name in pooled])

    def fd(real, fake) -> float:
        return velocity_frechet_distance(real, fake, classifier)

    references_pooled = [np.concatenate([ref[name] for name in pooled]) for ref in references]

    def pooled_fd(fake_all) -> dict:
        """FD of a pooled set against every reference set: their mean and each one."""
        each = [fd(reference, fake_all) for reference in references_pooled]
        return dict(fd=float(np.mean(each)), fd_per_reference=each)

    def add_ratios(row: dict) -> None:
        """FD / baseline: of the means, and per reference set."""
        row["fd_ratio"] = row["fd"] / baseline["fd"]
        row["fd_ratio_per_reference"] = [
            a / b for a, b in zip(row["fd_per_reference"], baseline["fd_per_reference"], strict=True)
        ]

    baseline = dict(
        **pooled_fd(train_all),
        fd_per_family={name: fd(heldout[name], train[name]) for name in families},
        accuracy_heldout=accuracy_per_family(classifier, heldout),
        accuracy_train=accuracy_per_family(classifier, train),
        edges=velocity_map_statistics(train_all),
        spread_between_maps=spread_between_maps([{name: train[name] for name in pooled}]),
    )
    baseline["accuracy_heldout_mean"] = float(np.mean(list(baseline["accuracy_heldout"].values())))
    print(
        f"baseline FD(train set, held-out) = {baseline['fd']:.3f} (mean of {len(references)} reference sets: "
        + ", ".join(f"{v:.3f}" for v in baseline["fd_per_reference"])
        + f"); classifier held-out accuracy "
        f"{baseline['accuracy_heldout_mean']:.3f}",
        flush=True,
    )

    results, grid_maps, grid_titles = [], [], []
    for label, scale, power, use_prior_mean in settings if pipe.is_conditional else []:
        draws, seconds = [], []  # one {family: maps} per noise seed
        for seed in args.seed:
            generated = {}
            for index, name in enumerate(families):
                generated[name], per_sample = generate(
                    pipe,
                    name,
                    n,
                    seed + 1000 * index,
                    args.steps,
                    scale,
                    args.batch_size,
                    use_prior_mean,
                    power,
                )
                seconds.append(per_sample)
            draws.append(generated)
        pooled = [pooled_fd(np.concatenate([generated[name] for name in families])) for generated in draws]
        per_family = [{name: fd(heldout[name], generated[name]) for name in families} for generated in draws]
        accuracy = [accuracy_per_family(classifier, generated) for generated in draws]
        row = dict(
            guidance_scale=scale,
            guidance_label=label,
            timestep_power=power,
            timesteps=pipe.scheduler.timesteps.tolist(),
            use_prior_mean=use_prior_mean,
            seeds=list(args.seed),
            fd=float(np.mean([p["fd"] for p in pooled])),
            fd_per_seed=[p["fd"] for p in pooled],
            fd_per_reference=np.mean([p["fd_per_reference"] for p in pooled], axis=0).tolist(),
            fd_per_family={name: float(np.mean([f[name] for f in per_family])) for name in families},
            accuracy={name: float(np.mean([a[name] for a in accuracy])) for name in families},
            edges=velocity_map_statistics(np.concatenate([m for g in draws for m in g.values()])),
            spread_between_maps=spread_between_maps(draws),
            seconds_per_sample=float(np.mean(seconds)),
        )
        add_ratios(row)
        row["fd_ratio_per_seed"] = [value / baseline["fd"] for value in row["fd_per_seed"]]
        row["accuracy_mean"] = float(np.mean(list(row["accuracy"].values())))
        results.append(row)
        per_seed = ""
        if len(args.seed) > 1:
            per_seed = "; per noise seed " + ", ".join(
                f"{seed}: x{r:.2f}" for seed, r in zip(args.seed, row["fd_ratio_per_seed"], strict=True)
            )
        print(
            f"guidance {label}: FD {row['fd']:.3f} (x{row['fd_ratio']:.2f} baseline; per reference set "
            + ", ".join(f"x{r:.2f}" for r in row["fd_ratio_per_reference"])
            + per_seed
            + "), "
            f"family accuracy {row['accuracy_mean']:.3f}, sharp share {row['edges']['sharp_share']:.3f}, "
            f"spread between maps {row['spread_between_maps']:.0f} m/s, {row['seconds_per_sample']:.3f} s/sample",
            flush=True,
        )
        generated = draws[0]
        # Sample grid: four maps per family, titled with what the classifier thinks they are.
        maps = np.concatenate([generated[name][:4] for name in families])
        predicted = predict_families(classifier, maps)
        titles = [
            f"{families[i // 4]} -> {VELOCITY_FAMILIES[p]}"
            if VELOCITY_FAMILIES[p] != families[i // 4]
            else families[i // 4]
            for i, p in enumerate(predicted)
        ]
        filename_label = re.sub(r"[^\w.-]+", "_", label)
        path = os.path.join(args.out, f"velocity_quality_samples_gs{filename_label}.png")
        plot_velocity_grid(
            maps, path, titles=titles, ncols=8, suptitle=f"generated, guidance {label}, {args.steps} steps"
        )
        if not grid_maps:
            grid_maps, grid_titles = list(maps), titles

    unconditional = None
    if not args.skip_unconditional:
        count = n * len(families or VELOCITY_FAMILIES)
        maps, per_sample = generate(
            pipe, None, count, args.seed[0] + 99_000, args.steps, 1.0, args.batch_size
        )
        predicted = predict_families(classifier, maps)
        unconditional = dict(
            **pooled_fd(maps),
            seconds_per_sample=per_sample,
            predicted_mix={name: float((predicted == i).mean()) for i, name in enumerate(VELOCITY_FAMILIES)},
        )
        add_ratios(unconditional)
        print(
            f"unconditional: FD {unconditional['fd']:.3f} (x{unconditional['fd_ratio']:.2f} baseline)",
            flush=True,
        )
        grid_maps += list(maps[:8])
        grid_titles += [f"any -> {VELOCITY_FAMILIES[p]}" for p in predicted[:8]]
    if grid_maps:
        path = os.path.join(args.out, "velocity_quality_samples.png")
        first = f"guidance {settings[0][0]}" if results else "unconditional"
        plot_velocity_grid(
            np.stack(grid_maps),
            path,
            titles=grid_titles,
            ncols=8,
            suptitle=f"{args.pipeline}: {first}, {args.steps} steps (title: asked -> classified)",
        )
        print(f"wrote {path}")

    minutes = (time.perf_counter() - run_start) / 60
    # Tables.
    print()
    print(
        f"{n} maps per family ({n * len(families or VELOCITY_FAMILIES)} pooled) per set, {args.steps} steps; "
        f"FD in FamilyClassifier feature space (lower is better), mean over {len(references)} held-out "
        f"reference sets (seeds {', '.join(map(str, args.heldout_seeds))}); per-family columns use the "
        f"first; run time {minutes:.1f} min."
    )
    print(
        "Sharp share: the share of vertical variation in one-cell jumps over 50 m/s (1.0 for the "
        "synthetic layers); roughness: median horizontal one-cell change (m/s); spread between maps: "
        "standard deviation of the maps' mean velocities within each family, averaged over families (m/s)."
    )
    print(
        "| samples | setting (guidance, spacing) | FD vs held-out (mean) | FD / baseline (target <= 2) | family accuracy "
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
            f"| generated, family=None | 1 | {unconditional['fd']:.3f} | {unconditional['fd_ratio']:.2f} | - | "
            f"- | - | - | {unconditional['seconds_per_sample']:.3f} |"
        )
    if results:
        print()
        scales = " | ".join(
            f"acc gs={row['guidance_label']} | FD gs={row['guidance_label']}" for row in results
        )
        print(f"| family | acc held-out | FD train (baseline) | {scales} |")
        print("|---|---:|---:|" + "---:|---:|" * len(results))
        for name in families:
            cells = " | ".join(
                f"{row['accuracy'][name]:.3f} | {row['fd_per_family'][name]:.3f}" for row in results
            )
            print(
                f"| {name} | {baseline['accuracy_heldout'][name]:.3f} | {baseline['fd_per_family'][name]:.3f} | {cells} |"
            )
    if unconditional:
        print()
        mix = ", ".join(f"{name} {share:.2f}" for name, share in unconditional["predicted_mix"].items())
        print(f"unconditional samples classified as: {mix} (uniform = {1 / len(VELOCITY_FAMILIES):.3f} each)")

    path = os.path.join(args.out, "velocity_quality.json")
    with open(path, "w") as f:
        json.dump(
            dict(
                command=command,
                machine=info,
                pipeline=args.pipeline,
                args=vars(args),
                classifier=classifier_record,
                baseline=baseline,
                conditional=results,
                unconditional=unconditional,
                run_minutes=round(minutes, 2),
            ),
            f,
            indent=2,
        )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main(parse_args())

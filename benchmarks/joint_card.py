"""Regenerate the joint pipeline's Hub card scores from `bench_joint.py`'s JSON: nothing is copied by hand.

Rewrites `<pipeline>/README.md`: the front matter (`ModelCardData`, with the headline figures as
`eval_results`, the Hub's `model-index`) and the block between the `<!-- scores -->` markers. With
`--model_card MODEL_CARD.md` the same block is filled there too.

    python benchmarks/joint_card.py --pipeline pipelines/openfwi-joint-ldm \
        --results benchmarks/results/bench_joint.json --model_card MODEL_CARD.md \
        [--augmentation_results benchmarks/results/bench_joint_augmentation.json]
"""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import EvalResult

from seismic_diffusers.hub import GENERATED_BLOCK_END as END
from seismic_diffusers.hub import card_script_parser, generated_block_start, write_card_scores

# OpenFWI's metrics are on maps scaled to [-1, 1] over 1500-4500 m/s: one unit is 1500 m/s.
M_S_PER_UNIT = 1500.0
DATASET = dict(
    dataset_type="synthetic-held-out", dataset_name="held-out synthetic pairs (bench_joint --data_dir)"
)


def start_marker(name: str) -> str:
    return generated_block_start(name, "benchmarks/joint_card.py")


def parse_args(argv=None):
    parser = card_script_parser(
        __doc__.split("\n")[0], "pipelines/openfwi-joint-ldm", "benchmarks/results/bench_joint.json"
    )
    parser.add_argument(
        "--augmentation_results",
        default=None,
        help="Also report bench_joint_augmentation.py's JSON (generated pairs as extra training data).",
    )
    args = parser.parse_args(argv)
    if args.augmentation_results and not Path(args.augmentation_results).is_file():
        parser.error(f"--augmentation_results {args.augmentation_results}: no such file.")
    return args


def inversion_rows(results: dict) -> list[tuple[str, str]]:
    """(key, label) of each inversion row in bench_joint's JSON: stage-1 encoding and diffusion-refined
    ("refined_N4_K10"), or, for a two-encoder autoencoder, the velocity sampled given the seismic
    ("sampled_given_seismic_N4")."""
    rows = []
    for key in results["inversion"]:
        if key == "stage1_encoding":
            rows.append((key, "stage-1 encoding (`refine_steps=0`)"))
        elif key.startswith("refined_"):
            candidates, steps = (part[1:] for part in key.split("_")[1:])
            rows.append((key, f"diffusion-refined (`num_candidates={candidates}, refine_steps={steps}`)"))
        elif key.startswith("sampled_given_seismic_"):
            candidates = key.rsplit("_N", 1)[1]
            rows.append(
                (key, f"velocity sampled given the seismic, best of {candidates} by forward modelling")
            )
        elif key.startswith("operator_guided_"):
            candidates = key.rsplit("_N", 1)[1]
            rows.append(
                (
                    key,
                    f"the same, pulled toward the data through the latent operator (`invert`'s default), "
                    f"best of {candidates}",
                )
            )
    return rows


def headline_inversion(results: dict) -> str:
    """The inversion row the card's `eval_results` report: stage-1 encoding, or `invert`'s default for
    two encoders (operator-guided where scored)."""
    keys = [key for key, _ in inversion_rows(results)]
    if not keys:
        raise ValueError("bench_joint's JSON has no inversion rows (run it with --invert_pairs > 0).")
    preferred = [key for key in keys if key.startswith(("stage1_encoding", "operator_guided_"))]
    return (preferred or keys)[0]


def operator_rows(results: dict) -> list[str]:
    """With a latent forward operator, bench_joint also scores random latents through it and samples
    without it (their decoded seismic half): both rows, so neither comparison hides the other."""
    rows = []
    for key, label in (
        ("b_random_latents_with_operator", "decoded random latents, seismic half from the operator"),
        ("c_diffusion_samples_without_operator", "diffusion samples, decoded seismic half (no operator)"),
    ):
        if key in results:
            row = results[key]
            rows.append(f"| {label} | {row['median']:.4f} | {row['mean']:.4f} | {row['n']} |")
    return rows


def fd_line(results: dict) -> list[str]:
    """The Frechet distance of the generated velocity maps over the training maps' baseline, if scored."""
    if "fd" not in results:
        return []
    fd = results["fd"]
    return [
        "",
        f"Velocity maps, Frechet distance in the velocity benchmark's classifier features ({fd['maps']} maps): "
        f"{fd['ratio']:.2f}x the baseline of held-out against training maps (decoded random latents: "
        f"{fd['random_latents_ratio']:.2f}x).",
    ]


def augmentation_lines(augmentation: dict | None) -> list[str]:
    """bench_joint_augmentation's rows: an inversion network trained on a tenth of the real pairs,
    alone and with generated pairs added (and how they were mixed in), scored on held-out or report
    pairs (mean over training seeds)."""
    if augmentation is None:
        return []
    rows = augmentation["rows"]
    seeds = len(augmentation["training_seeds"])
    baseline = next(iter(rows))
    evaluated_on = augmentation.get("evaluated_on")
    scored_on = (
        f"{augmentation['held_out_pairs']} pairs of {', '.join(evaluated_on)}"
        if isinstance(evaluated_on, list)
        else f"{augmentation['held_out_pairs']} held-out pairs"
    )
    mixing = []
    if augmentation.get("real_weight") is not None:
        mixing.append(f"{100 * augmentation['real_weight']:g}% of each batch real")
    if augmentation.get("finetune_fraction"):
        mixing.append(
            f"the last {100 * augmentation['finetune_fraction']:g}% of steps on the real pairs alone"
        )
    lines = [
        "",
        f"`{augmentation['command']}` ({augmentation['run_minutes']:.0f} min): an InversionNet trained on "
        f"{baseline}, alone and with generated pairs added"
        + (f" ({'; '.join(mixing)})" if mixing else "")
        + f"; {scored_on}, mean of {seeds} training seeds.",
        "",
        f"| training data | pairs | MAE (m/s) | SSIM | seeds better than {baseline} on MAE and SSIM |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, row in rows.items():
        better = "" if label == baseline else f"{row['seeds_better_than_real_subset']} of {seeds}"
        lines.append(
            f"| {label} | {row['training_pairs']} | {row['MAE'] * M_S_PER_UNIT:.0f} | {row['SSIM']:.3f} | {better} |"
        )
    return lines


def scores_block(name: str, results: dict, augmentation: dict | None = None) -> str:
    a, b, c = (results[k] for k in ("a_reconstruction", "b_random_latents", "c_diffusion_samples"))
    inversion = results["inversion"]
    lines = [
        start_marker(name),
        f"`{results['command']}` ({results['run_minutes']:.0f} min). PDE deviation: forward-model the decoded "
        "velocity with deepwave and take the mean squared difference to the decoded seismic, in OpenFWI's "
        "normalised space (`pde_deviation`); lower is more physical.",
        "",
        "| pairs | PDE deviation, median | mean | n |",
        "|---|---:|---:|---:|",
        f"| stage-1 reconstructions of held-out pairs | {a['median']:.4f} | {a['mean']:.4f} | {a['n']} |",
        f"| decoded random latents (training latents' mean and std, no diffusion) | {b['median']:.4f} | "
        f"{b['mean']:.4f} | {b['n']} |",
        f"| **diffusion samples** | **{c['median']:.4f}** | **{c['mean']:.4f}** | {c['n']} |",
        *operator_rows(results),
        "",
        f"Random latents over samples: {results['ratio_b_over_c']:.2f}x (WaveDiffusion: about 6x); samples over "
        f"reconstructions {results['ratio_c_over_a']:.2f}x. {results['c_seconds_per_pair_with_deviation']:.2f} s "
        "per sampled pair, with its deviation.",
        *fd_line(results),
        "",
        f"| inversion of {inversion['pairs']} held-out pairs | MAE (m/s) | RMSE (m/s) | SSIM |",
        "|---|---:|---:|---:|",
    ]
    for key, label in inversion_rows(results):
        m = inversion[key]
        lines.append(
            f"| {label} | {m['MAE'] * M_S_PER_UNIT:.0f} | {m['RMSE'] * M_S_PER_UNIT:.0f} | {m['SSIM']:.3f} |"
        )
    lines += augmentation_lines(augmentation)
    lines.append(END)
    return "\n".join(lines)


def eval_results(results: dict) -> list[EvalResult]:
    generation = dict(task_type="unconditional-image-generation", task_name="joint generation")
    inversion = dict(task_type="image-to-image", task_name="seismic inversion")
    pairs = results["inversion"]["pairs"]
    return [
        EvalResult(**generation, **DATASET, metric_type="pde_deviation",
                   metric_value=round(results["c_diffusion_samples"]["median"], 4),
                   metric_name="PDE deviation of generated pairs, median"),
        EvalResult(**inversion, **DATASET, metric_type="ssim",
                   metric_value=round(results["inversion"][headline_inversion(results)]["SSIM"], 3),
                   metric_name=f"inversion SSIM, {pairs} held-out pairs"),
    ]  # fmt: skip


def main(argv=None) -> None:
    args = parse_args(argv)
    results = json.loads(Path(args.results).read_text())
    augmentation = (
        json.loads(Path(args.augmentation_results).read_text()) if args.augmentation_results else None
    )
    name = Path(args.pipeline).name
    write_card_scores(
        args.pipeline, scores_block(name, results, augmentation), start_marker(name), eval_results(results),
        tags=["full-waveform-inversion", "latent-diffusion", "openfwi", "wavediffusion"], model_card=args.model_card,
    )  # fmt: skip


if __name__ == "__main__":
    main()

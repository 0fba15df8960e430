"""Regenerate the inversion pipeline's Hub card scores from `bench_inversion.py`'s JSON: nothing is copied by hand.

Rewrites `<pipeline>/README.md`: the front matter (`ModelCardData`, with the pipeline's mean SSIM
clean and noisy as `eval_results`, the Hub's `model-index`) and the block between the
`<!-- scores -->` markers. With `--model_card MODEL_CARD.md` the same block is filled there too.

    python benchmarks/inversion_card.py --pipeline pipelines/openfwi-velocity-inversion \
        --results benchmarks/results/bench_inversion.json --model_card MODEL_CARD.md
"""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import EvalResult

from seismic_diffusers.hub import GENERATED_BLOCK_END as END
from seismic_diffusers.hub import card_script_parser, generated_block_start, write_card_scores

OURS = "VelocityInversionPipeline"
REPORT_SEED_BEFORE_IT_WAS_RECORDED = 300_000  # JSONs before 2026-12-07 lack "data_seed"; all used this


def dataset(results: dict) -> dict:
    """The held-out set the JSON scored, for `EvalResult`."""
    seed = results.get("data_seed", REPORT_SEED_BEFORE_IT_WAS_RECORDED)
    drawn = results["groups"].count("hand-drawn")
    families = len(dict.fromkeys(results["groups"])) - (1 if drawn else 0)
    name = f"{families} families (data seed {seed}) and {drawn} hand-drawn maps"
    return dict(dataset_type="synthetic-held-out", dataset_name=name)


def start_marker(name: str) -> str:
    return generated_block_start(name, "benchmarks/inversion_card.py")


def parse_args(argv=None):
    parser = card_script_parser(
        __doc__.split("\n")[0],
        "pipelines/openfwi-velocity-inversion",
        "benchmarks/results/bench_inversion.json",
    )
    return parser.parse_args(argv)


def ours_key(rows: dict) -> str:
    return next(key for key in rows if key.startswith(OURS))


def scores_block(name: str, results: dict) -> str:
    groups = list(dict.fromkeys(results["groups"]))
    drawn = results["groups"].count("hand-drawn")
    if "processes" in results:  # a run split by --conditions and merged with --merge
        minutes = " and ".join(f"{process['run_minutes']:.0f}" for process in results["processes"])
        timing = (
            f"{len(results['processes'])} processes, one per condition (`--conditions`, joined with `--merge`), "
            f"{minutes} min"
        )
    else:
        timing = f"{results['run_minutes']:.0f} min"
    lines = [
        start_marker(name),
        f"`{results['command']}` ({timing}; one run, every method on the same "
        f"{results['maps']} gathers: {len(groups) - (1 if drawn else 0)} families x "
        f"{results['groups'].count(groups[0])} maps of a data seed no training used, and {drawn} hand-drawn "
        "maps no generator makes). MAE, RMSE and SSIM are "
        "OpenFWI's; misfit is `|F(v) - d|^2 / |d|^2` against the gathers given; coverage is the share of cells "
        "whose true value lies within mean +- 2 std; deepwave runs are forward + adjoint per gather.",
        "",
        "| gathers | method | MAE (m/s) | RMSE (m/s) | SSIM | misfit | coverage | deepwave runs | s/gather |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for condition, rows in results["conditions"].items():
        for method, row in rows.items():
            m = row["scores"]["all"]
            coverage = f"{m['coverage_2std']:.2f}" if "coverage_2std" in m else "-"
            label = f"**{method}**" if method.startswith(OURS) else method
            lines.append(
                f"| {condition} | {label} | {m['mae_m_per_s']:.0f} | {m['rmse_m_per_s']:.0f} | {m['ssim']:.3f} | "
                f"{m['relative_misfit']:.3f} | {coverage} | {row['gradients_per_gather']} | "
                f"{row['seconds_per_gather']:.1f} |"
            )
    lines += ["", "SSIM per group:", "", "| gathers | method | " + " | ".join(groups) + " |"]
    lines.append("|---|---|" + "---:|" * len(groups))
    for condition, rows in results["conditions"].items():
        for method, row in rows.items():
            cells = " | ".join(f"{row['scores'][g]['ssim']:.2f}" for g in groups)
            lines.append(f"| {condition} | {method} | {cells} |")
    lines.append(END)
    return "\n".join(lines)


def eval_results(results: dict) -> list[EvalResult]:
    task = dict(task_type="image-to-image", task_name="seismic inversion")
    held_out = dataset(results)
    out = []
    for condition, rows in results["conditions"].items():
        m = rows[ours_key(rows)]["scores"]["all"]
        out += [
            EvalResult(**task, **held_out, metric_type="ssim", metric_value=round(m["ssim"], 3),
                       metric_name=f"mean SSIM, {condition} gathers"),
            EvalResult(**task, **held_out, metric_type="mae", metric_value=round(m["mae_m_per_s"]),
                       metric_name=f"MAE (m/s), {condition} gathers"),
        ]  # fmt: skip
        if "coverage_2std" in m:
            out.append(
                EvalResult(**task, **held_out, metric_type="coverage", metric_value=round(m["coverage_2std"], 2),
                           metric_name=f"share of cells within mean +- 2 std, {condition} gathers")
            )  # fmt: skip
    return out


def main(argv=None) -> None:
    args = parse_args(argv)
    results = json.loads(Path(args.results).read_text())
    name = Path(args.pipeline).name
    write_card_scores(
        args.pipeline, scores_block(name, results), start_marker(name), eval_results(results),
        tags=["full-waveform-inversion", "diffusion-posterior-sampling", "openfwi", "deepwave"],
        model_card=args.model_card,
    )  # fmt: skip


if __name__ == "__main__":
    main()

"""Regenerate the waveform pipeline's Hub card scores from `bench_waveform.py`'s JSON: nothing is copied by hand.

Rewrites `<pipeline>/README.md`: the front matter (`ModelCardData`, with the headline figures as
`eval_results`, the Hub's `model-index`) and the block between the `<!-- scores -->` markers, from
a `bench_waveform.py --pipeline <pipeline>` run. With `--model_card MODEL_CARD.md` the same block is
filled there too.

    python benchmarks/waveform_card.py --pipeline pipelines/conditional-waveform-vae \
        --results benchmarks/results/bench_waveform.json --model_card MODEL_CARD.md
"""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import EvalResult

from seismic_diffusers.hub import GENERATED_BLOCK_END as END
from seismic_diffusers.hub import card_script_parser, generated_block_start, write_card_scores

DATASET = dict(dataset_type="synthetic-held-out", dataset_name="held-out synthetic Marmara-like records")
DEFAULT_GENERATOR = "diffusion prior"
LABELS = {"CVAE prior": "CVAE prior, `z ~ N(0, I)`"}


def start_marker(name: str) -> str:
    return generated_block_start(name, "benchmarks/waveform_card.py")


def parse_args(argv=None):
    parser = card_script_parser(
        __doc__.split("\n")[0], "pipelines/conditional-waveform-vae", "benchmarks/results/bench_waveform.json"
    )
    return parser.parse_args(argv)


def scores_block(name: str, results: dict) -> str:
    floor = results["simulator_redrawn"]
    lines = [
        start_marker(name),
        f"`{results['command']}`, on {floor['records']} held-out synthetic records (a seed no training "
        "used). Magnitude slope: log10 peak amplitude against magnitude at one hypocentre and station. "
        "Log-spectral distance: RMS dB difference of the Welch spectra of each held-out record and a "
        "record generated for its condition; its floor is the simulator drawn again for each condition.",
        "",
        f"| generator | magnitude slope (simulator {results['data_slope']:.2f}) | log-spectral distance, mean (dB) |",
        "|---|---:|---:|",
        f"| simulator, drawn again for each condition (the floor) | {results['data_slope']:.2f} | "
        f"{floor['lsd_db_mean']:.1f} |",
    ]
    for generator, row in results["generators"].items():
        label = LABELS.get(generator, generator)
        label = f"**{label} (this pipeline's default)**" if generator == DEFAULT_GENERATOR else label
        slope, lsd = f"{row['magnitude_slope']:.2f}", f"{row['lsd_db_mean']:.1f}"
        if generator == DEFAULT_GENERATOR:
            slope, lsd = f"**{slope}**", f"**{lsd}**"
        lines.append(f"| {label} | {slope} | {lsd} |")
    cvae = results["reconstruction"].get("CVAE")
    if cvae:
        lines += [
            "",
            f"CVAE reconstruction of the held-out records: {cvae['stft_magnitude_snr_db']:.1f} dB SNR in STFT "
            f"magnitude ({cvae['griffin_lim_snr_db']:.1f} dB after Griffin-Lim), "
            f"{cvae['log_peak_rmse']:.3f} log10-peak RMSE; on ObsPy's real NZ.CRLZ event (never used for "
            f"training) {cvae['obspy_example_stft_magnitude_snr_db']:.1f} dB "
            f"({cvae['obspy_example_griffin_lim_snr_db']:.1f} dB after Griffin-Lim).",
        ]
    lines.append(END)
    return "\n".join(lines)


def eval_results(results: dict) -> list[EvalResult]:
    task = dict(task_type="audio-to-audio", task_name="waveform generation")
    row = results["generators"][DEFAULT_GENERATOR]
    return [
        EvalResult(**task, **DATASET, metric_type="log_spectral_distance", metric_value=round(row["lsd_db_mean"], 1),
                   metric_name="log-spectral distance, mean (dB)"),
        EvalResult(**task, **DATASET, metric_type="magnitude_slope", metric_value=round(row["magnitude_slope"], 2),
                   metric_name=f"log10 peak vs magnitude slope (simulator {results['data_slope']:.2f})"),
    ]  # fmt: skip


def main(argv=None) -> None:
    args = parse_args(argv)
    results = json.loads(Path(args.results).read_text())
    name = Path(args.pipeline).name
    write_card_scores(
        args.pipeline, scores_block(name, results), start_marker(name), eval_results(results),
        tags=["earthquake", "latent-diffusion", "obspy", "vae", "waveform-generation"],
        metrics=["log_spectral_distance"], model_card=args.model_card,
    )  # fmt: skip


if __name__ == "__main__":
    main()

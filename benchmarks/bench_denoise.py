"""Seismogram denoising: ours (shipped, direct and iterative; station-adapted) vs an ObsPy band-pass.

Two test sets, neither seen in training:

- **Real development set** (`seismic_diffusers.data.obspy_recordings`): the event windows of
  ObsPy's bundled SEISAN event files (7 stations, 3-C, resampled to 100 Hz) mixed with real
  station noise from two other bundled records (BW.UH4 EHZ, a 1 Hz geophone; NZ.CRLZ HHZ,
  broadband), taken from the second half of each record with its events cut out by STA/LTA.
  Each component gets its own noise window. Two noise conditions: **in-band** (the noise
  band-passed to 1-20 Hz, the event band, where a filter cannot help) and **raw** (microseism
  and all). The reference is the event band-passed to 1-20 Hz (the recordings carry their own
  noise outside that band), and its `ar_pick` P and S are the true picks. `--draws` noise draws
  per event, noise record and level. ObsPy's files reserved for an independent evaluation
  (its default example and two others, `obspy_recordings.RESERVED`) are not used.
- **Held-out synthetic**: `--synthetic_events` events from `generate_local_earthquakes` (seed
  90000, outside the training seeds) with their true P/S, in synthetic noise; the reference is
  the event band-passed to 1-20 Hz, as on the real set.

Methods: the noisy input; `obspy.signal.filter.bandpass` 1-20 Hz, 4 corners, zero phase; that
band-pass followed by power spectral subtraction (`utils.streams.spectral_gating`, a classical
peer with no model); the pipeline in direct mode (1 step) and iterative mode
(`--iterative_steps`); and, on the real set, the pipeline adapted to each noise record's first
half (`adapt_denoiser`, `--adapt_minutes` of fine-tuning; skipped with `--adapt_minutes 0`).
Beside them, on the real set, a ceiling rather than a method: the ideal time-frequency Wiener
mask, which knows the event (`metrics.oracle_mask_estimate`); no filter or mask network can gain
more on the same mixtures. Metrics: SNR gain (reconstruction SNR out minus
in, against the reference), Pearson correlation (mean over components), and P/S pick error and
recall within 0.1 s / 0.5 s (`ar_pick`). Throughput: one hour of 3-component 100 Hz data as an
ObsPy Stream.

    python benchmarks/bench_denoise.py --pipeline pipelines/cold-diffusion-denoiser --draws 4 \
        --adapt_minutes 10 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import obspy
import torch

from seismic_diffusers import ColdDiffusionDenoisePipeline
from seismic_diffusers.data import generate_local_earthquakes, generate_seismic_noise, scale_noise_to_snr
from seismic_diffusers.metrics import (
    oracle_mask_estimate,
    pearson_correlation,
    pick_error_and_recall,
    pick_phases,
    reconstruction_snr_db,
)
from seismic_diffusers.utils import machine_info, streams

RATE = 100.0
SPECTRAL_GATING = "band-pass 1-20 Hz + spectral gating"  # a classical peer, no model
# Not a method: it knows the clean event (`metrics.oracle_mask_estimate`); it bounds every mask.
ORACLE_CEILING = "ceiling: ideal time-frequency mask (knows the event)"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline", default="pipelines/cold-diffusion-denoiser")
    parser.add_argument(
        "--draws", type=int, default=4, help="Noise draws per event, noise record and level (real set)."
    )
    parser.add_argument("--synthetic_events", type=int, default=100)
    parser.add_argument("--snr_db", type=float, nargs="+", default=[0.0, 5.0, 10.0])
    parser.add_argument(
        "--adapt_minutes", type=float, default=10.0, help="Fine-tuning budget per noise record (0: skip)."
    )
    parser.add_argument("--iterative_steps", type=int, default=10, help="0: skip the iterative mode.")
    parser.add_argument(
        "--noise_seed",
        type=int,
        default=1000,
        help="Seed of the real-noise draws. Settings are chosen with another seed (5000) than the one "
        "reported (1000).",
    )
    parser.add_argument("--hours", type=float, default=1.0, help="Length of the throughput record (0: skip).")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="benchmarks/results")
    return parser.parse_args(argv)


def band_pass(records: np.ndarray) -> np.ndarray:
    return streams.band_pass(records, 1.0, 20.0, RATE)


def score(estimate: np.ndarray, clean: np.ndarray, noisy: np.ndarray, p_true, s_true) -> dict:
    gain = reconstruction_snr_db(estimate, clean, per_channel=False) - reconstruction_snr_db(
        noisy, clean, per_channel=False
    )
    correlation = np.nanmean(pearson_correlation(estimate, clean), axis=-1)
    picks = [pick_phases(x, RATE, method="ar_pick") for x in estimate]
    p = pick_error_and_recall([k["p"] for k in picks], p_true, RATE)
    s = pick_error_and_recall([k["s"] for k in picks], s_true, RATE)
    return {
        "snr_gain_db": float(np.mean(gain)),
        "snr_gain_db_each": [float(g) for g in np.atleast_1d(gain)],
        "correlation": float(np.mean(correlation)),
        "p_mae_s": p["mae_s"],
        "p_recall_0.1s": p["recall_0.1s"],
        "p_recall_0.5s": p["recall_0.5s"],
        "s_mae_s": s["mae_s"],
        "s_recall_0.1s": s["recall_0.1s"],
        "s_recall_0.5s": s["recall_0.5s"],
    }


def evaluate(methods: dict, clean: np.ndarray, noisy: np.ndarray, p_true, s_true) -> dict:
    """`{method: scores}` of each `methods[name](noisy)` against `clean`."""
    rows = {}
    for name, fn in methods.items():
        estimate = np.asarray(fn(noisy), dtype=np.float64)
        rows[name] = score(estimate, clean, noisy, p_true, s_true)
    return rows


def shipped_methods(pipe, steps: int) -> dict:
    methods = {
        "noisy input": lambda x: x,
        "ObsPy band-pass 1-20 Hz": band_pass,
        SPECTRAL_GATING: lambda x: streams.spectral_gating(band_pass(x), RATE),
        "ours, direct (1 step)": lambda x: (
            pipe(x.astype(np.float32), num_inference_steps=1, sampling_rate=RATE).waveforms
        ),
    }
    if steps > 1:
        methods[f"ours, iterative ({steps} steps)"] = lambda x: (
            pipe(x.astype(np.float32), num_inference_steps=steps, sampling_rate=RATE).waveforms
        )
    return methods


def real_set(pipe, args, adapted: dict) -> tuple[dict, dict]:
    """Scores on the development set: `{condition: {level: {method: scores}}}` and the reference picks."""
    from seismic_diffusers.data.obspy_recordings import development_events, development_mixtures

    events = development_events(RATE, band_hz=(1.0, 20.0))  # the reference: each event in its band
    clean = np.stack([e.waveforms for e in events])
    picks = [pick_phases(c, RATE, method="ar_pick") for c in clean]
    p_true, s_true = [p["p"] for p in picks], [p["s"] for p in picks]
    results: dict = {"in-band": {}, "raw": {}}
    methods_of: dict = {}
    for mixture in development_mixtures(events, args.snr_db, args.draws, args.noise_seed, RATE):
        if mixture.record_id not in methods_of:
            methods = shipped_methods(pipe, args.iterative_steps)
            if mixture.record_id in adapted:
                model = adapted[mixture.record_id]
                methods["ours, adapted to the station (1 step)"] = lambda x, m=model: (
                    m(x.astype(np.float32), num_inference_steps=1, sampling_rate=RATE).waveforms
                )
            methods_of[mixture.record_id] = methods
        rows = evaluate(methods_of[mixture.record_id], clean, mixture.noisy, p_true, s_true)
        ceiling = oracle_mask_estimate(mixture.noisy, clean, RATE)
        rows[ORACLE_CEILING] = score(ceiling, clean, mixture.noisy, p_true, s_true)
        bucket = results[mixture.condition].setdefault(f"{mixture.snr_db:g}", {})
        for name, row in rows.items():
            bucket.setdefault(name, []).append(row)
    # means over draws and noise records; the per-draw rows are kept for the medians
    summary = {
        condition: {
            level: {
                name: {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
                for name, rows in methods_.items()
            }
            for level, methods_ in levels.items()
        }
        for condition, levels in results.items()
    }
    return summary, {
        "events": [e.id for e in events],
        "picks_s": [{k: (None if v is None else v / RATE) for k, v in p.items()} for p in picks],
        "per_draw": results,
    }


def adapt_to_records(args) -> dict:
    """The pipeline adapted to each development noise record's first half (written to `--out`)."""
    from seismic_diffusers.adaptation import adapt_denoiser
    from seismic_diffusers.data.obspy_recordings import NOISE_FILES, obspy_data_file

    adapted = {}
    for relative in NOISE_FILES:
        folder = Path(args.out) / f"adapted-{Path(relative).name.replace('.', '_')}-{args.adapt_minutes:g}min"
        # adapted afresh each run: a cached folder could hold another base model's adaptation
        report = adapt_denoiser(
            obspy_data_file(relative),
            folder,
            pipeline=args.pipeline,
            minutes=args.adapt_minutes,
            progress=False,
        )
        print(
            f"adapted to {report['station']}: {report['steps']} steps in {report['minutes']:.1f} min",
            flush=True,
        )
        model = ColdDiffusionDenoisePipeline.from_pretrained(str(folder))
        model.set_progress_bar_config(disable=True)
        station = json.loads((folder / "adaptation.json").read_text())["station"]
        adapted[station.replace("?", "Z")] = model
    return adapted


def medians(per_draw: dict) -> dict:
    """Median SNR gain per condition and method over events, draws, records and levels, and the
    worst per-level difference of the method's mean gain from the band-pass's."""
    out = {}
    for condition, levels in per_draw.items():
        names = next(iter(levels.values())).keys()
        out[condition] = {}
        for name in names:
            gains = [g for level in levels.values() for r in level[name] for g in r["snr_gain_db_each"]]
            worst = min(
                np.mean([r["snr_gain_db"] for r in level[name]])
                - np.mean([r["snr_gain_db"] for r in level["ObsPy band-pass 1-20 Hz"]])
                for level in levels.values()
            )
            out[condition][name] = {
                "median_gain_db": float(np.median(gains)),
                "worst_level_vs_band_pass_db": float(worst),
            }
    return out


def print_table(title: str, results: dict) -> None:
    print(f"\n{title}")
    print(
        "| SNR in | method | SNR gain (dB) | correlation | P MAE (s) | P recall 0.1/0.5 s | S MAE (s) | S recall 0.1/0.5 s |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for level, rows in results.items():
        for name, r in rows.items():
            print(
                f"| {level} dB | {name} | {r['snr_gain_db']:+.2f} | {r['correlation']:.3f} | {r['p_mae_s']:.3f} | "
                f"{r['p_recall_0.1s']:.2f} / {r['p_recall_0.5s']:.2f} | {r['s_mae_s']:.3f} | "
                f"{r['s_recall_0.1s']:.2f} / {r['s_recall_0.5s']:.2f} |"
            )


def throughput(pipe, hours: float, steps: int) -> dict:
    npts = int(hours * 3600 * RATE)
    rng = np.random.default_rng(0)
    stream = obspy.Stream(
        [
            obspy.Trace(
                rng.standard_normal(npts).astype(np.float32),
                header={"station": "TPUT", "channel": f"HH{c}", "sampling_rate": RATE},
            )
            for c in "ENZ"
        ]
    )
    out = {}
    pipe(stream.slice(stream[0].stats.starttime, stream[0].stats.starttime + 60))  # warm-up
    for name, fn in (
        (
            "ObsPy band-pass 1-20 Hz",
            lambda st: st.copy().filter("bandpass", freqmin=1.0, freqmax=20.0, corners=4, zerophase=True),
        ),
        ("ours, direct (1 step)", lambda st: pipe(st, num_inference_steps=1).waveforms),
        *(
            [(f"ours, iterative ({steps} steps)", lambda st: pipe(st, num_inference_steps=steps).waveforms)]
            if steps > 1
            else []
        ),
    ):
        start = time.perf_counter()
        fn(stream)
        out[name] = time.perf_counter() - start
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    pipe = ColdDiffusionDenoisePipeline.from_pretrained(args.pipeline)
    pipe.set_progress_bar_config(disable=True)

    adapted = adapt_to_records(args) if args.adapt_minutes > 0 else {}
    real_results, real_info = real_set(pipe, args, adapted)
    print(f"real development set done ({time.perf_counter() - started:.0f} s)", flush=True)

    syn_results = {}
    if args.synthetic_events:
        events = generate_local_earthquakes(args.synthetic_events, seed=90_000)
        # the reference is the event in its 1-20 Hz band, as on the real set
        clean_syn = band_pass(events["waveforms"].astype(np.float64))
    for k, level in enumerate(args.snr_db if args.synthetic_events else []):
        noise = generate_seismic_noise(args.synthetic_events, seed=95_000 + k).astype(np.float64)
        noisy = clean_syn + scale_noise_to_snr(clean_syn, noise, level)
        syn_results[f"{level:g}"] = evaluate(
            shipped_methods(pipe, args.iterative_steps), clean_syn, noisy,
            events["p_arrival_sample"], events["s_arrival_sample"],
        )  # fmt: skip
        print(f"synthetic SNR {level:g} dB done ({time.perf_counter() - started:.0f} s)", flush=True)
    speed = throughput(pipe, args.hours, args.iterative_steps) if args.hours > 0 else {}

    result = {
        "command": "python benchmarks/bench_denoise.py " + shlex.join(sys.argv[1:]),
        "machine": machine_info(),
        "pipeline": args.pipeline,
        "real_development_set": real_results,
        "real_development_set_info": {k: v for k, v in real_info.items() if k != "per_draw"},
        "real_medians": medians(real_info["per_draw"]),
        "synthetic": syn_results,
        "throughput_seconds": speed,
        "throughput_hours": args.hours,
        "run_minutes": (time.perf_counter() - started) / 60,
    }
    print(f"\ncommand: {result['command']}")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in result["machine"].items()))
    for condition, table in real_results.items():
        print_table(
            f"Real development set, {condition} real noise ({len(real_info['events'])} events x 2 noise records x "
            f"{args.draws} draws per level; means)",
            table,
        )
    print("\nMedians over events, draws and levels (SNR gain, dB):")
    print(
        "| condition | method | median SNR gain (dB) | worst level vs band-pass (dB) |\n|---|---|---:|---:|"
    )
    for condition, rows in result["real_medians"].items():
        for name, row in rows.items():
            print(
                f"| {condition} | {name} | {row['median_gain_db']:+.2f} | {row['worst_level_vs_band_pass_db']:+.2f} |"
            )
    print_table(f"Held-out synthetic events ({args.synthetic_events}), true picks", syn_results)
    print(f"\nThroughput, {args.hours:g} h of 3-component 100 Hz data (ObsPy Stream in and out):")
    print("| method | seconds |\n|---|---:|")
    for name, seconds in speed.items():
        print(f"| {name} | {seconds:.2f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_denoise.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    return result


if __name__ == "__main__":
    main()

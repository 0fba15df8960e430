"""Seismogram denoising: ours (direct, iterative) vs an ObsPy band-pass vs the noisy input, side by side.

Two test sets, both never seen in training:

- **Real event**: ObsPy's example recording (`obspy.read()`, BW.RJOB, 100 Hz, 30 s) as the
  reference, plus synthetic Peterson-band noise (`generate_seismic_noise`, seeds >= 90000) scaled
  to a whole-window SNR of -5, 0, 5 and 10 dB, `--draws` noise draws per level. The recording has
  no catalogue picks, so the "true" P and S are `ar_pick` on the noise-free recording.
- **Held-out synthetic**: `--synthetic_events` events from `generate_local_earthquakes` (seed
  90000, outside the training seeds) with their true P/S, noise at the same levels.

Methods: the noisy input; `obspy.signal.filter.bandpass` 1-20 Hz, 4 corners, zero phase; our
pipeline in direct mode (1 step) and iterative mode (`--iterative_steps`). Metrics: SNR gain
(reconstruction SNR out minus in, against the reference), Pearson correlation with the reference
(mean over components), and P/S pick error and recall within 0.1 s / 0.5 s (`ar_pick`).
Throughput: one hour of 3-component 100 Hz data as an ObsPy Stream.

    python benchmarks/bench_denoise.py --pipeline pipelines/cold-diffusion-denoiser --draws 25
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
from obspy.signal.filter import bandpass

from seismic_diffusers import ColdDiffusionDenoisePipeline
from seismic_diffusers.data import generate_local_earthquakes, generate_seismic_noise, scale_noise_to_snr
from seismic_diffusers.metrics import (
    pearson_correlation,
    pick_error_and_recall,
    pick_phases,
    reconstruction_snr_db,
)
from seismic_diffusers.utils import machine_info

RATE = 100.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline", default="pipelines/cold-diffusion-denoiser")
    parser.add_argument("--draws", type=int, default=25, help="Noise draws per SNR level on the real event.")
    parser.add_argument("--synthetic_events", type=int, default=100)
    parser.add_argument("--snr_db", type=float, nargs="+", default=[-5.0, 0.0, 5.0, 10.0])
    parser.add_argument("--iterative_steps", type=int, default=10)
    parser.add_argument("--hours", type=float, default=1.0, help="Length of the throughput record.")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="benchmarks/results")
    return parser.parse_args(argv)


def band_pass(records: np.ndarray) -> np.ndarray:
    return np.stack([[bandpass(c, 1.0, 20.0, RATE, corners=4, zerophase=True) for c in r] for r in records])


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
        "correlation": float(np.mean(correlation)),
        "p_mae_s": p["mae_s"],
        "p_recall_0.1s": p["recall_0.1s"],
        "p_recall_0.5s": p["recall_0.5s"],
        "s_mae_s": s["mae_s"],
        "s_recall_0.1s": s["recall_0.1s"],
        "s_recall_0.5s": s["recall_0.5s"],
    }


def evaluate(pipe, clean: np.ndarray, noise: np.ndarray, p_true, s_true, snr_db: float, steps: int) -> dict:
    noisy = (clean + scale_noise_to_snr(clean, noise, snr_db)).astype(np.float32)
    rows = {}
    timings = {}
    for name, fn in (
        ("noisy input", lambda x: x),
        ("ObsPy band-pass 1-20 Hz", band_pass),
        ("ours, direct (1 step)", lambda x: pipe(x, num_inference_steps=1).waveforms),
        (f"ours, iterative ({steps} steps)", lambda x: pipe(x, num_inference_steps=steps).waveforms),
    ):
        start = time.perf_counter()
        estimate = np.asarray(fn(noisy), dtype=np.float64)
        timings[name] = time.perf_counter() - start
        rows[name] = score(estimate, clean, noisy, p_true, s_true)
    return rows


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
        (f"ours, iterative ({steps} steps)", lambda st: pipe(st, num_inference_steps=steps).waveforms),
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

    # Real event, E, N, Z order as the model expects; evaluation only.
    real = obspy.read()
    real = np.stack([real.select(component=c)[0].data.astype(np.float64) for c in "ENZ"])
    real -= real.mean(axis=-1, keepdims=True)
    reference_picks = pick_phases(real, RATE, method="ar_pick")
    clean_real = np.repeat(real[None], args.draws, axis=0)
    p_real = [reference_picks["p"]] * args.draws
    s_real = [reference_picks["s"]] * args.draws

    events = generate_local_earthquakes(args.synthetic_events, seed=90_000)
    clean_syn = events["waveforms"].astype(np.float64)

    real_results, syn_results = {}, {}
    for k, level in enumerate(args.snr_db):
        noise = generate_seismic_noise(args.draws, seed=90_000 + k).astype(np.float64)
        real_results[f"{level:g}"] = evaluate(
            pipe, clean_real, noise, p_real, s_real, level, args.iterative_steps
        )
        noise = generate_seismic_noise(args.synthetic_events, seed=95_000 + k).astype(np.float64)
        syn_results[f"{level:g}"] = evaluate(
            pipe,
            clean_syn,
            noise,
            events["p_arrival_sample"],
            events["s_arrival_sample"],
            level,
            args.iterative_steps,
        )
        print(f"SNR {level:g} dB done ({time.perf_counter() - started:.0f} s)", flush=True)
    speed = throughput(pipe, args.hours, args.iterative_steps)

    result = {
        "command": "python benchmarks/bench_denoise.py " + shlex.join(sys.argv[1:]),
        "machine": machine_info(),
        "pipeline": args.pipeline,
        "reference_picks_real_event_s": {
            k: (None if v is None else v / RATE) for k, v in reference_picks.items()
        },
        "real_event": real_results,
        "synthetic": syn_results,
        "throughput_seconds": speed,
        "throughput_hours": args.hours,
        "run_minutes": (time.perf_counter() - started) / 60,
    }
    print(f"\ncommand: {result['command']}")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in result["machine"].items()))
    print(
        f"reference picks on the noise-free BW.RJOB record (ar_pick): {result['reference_picks_real_event_s']}"
    )
    print_table(f"Real event BW.RJOB + synthetic noise, {args.draws} draws per level", real_results)
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

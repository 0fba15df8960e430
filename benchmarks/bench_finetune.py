"""Fine-tuning a bundled pipeline against training the same script from scratch, side by side.

For the velocity model (a user's OpenFWI folder: 200 curvefault-b maps under a new family name)
and the denoiser (a user's miniSEED archive: 200 synthetic events and 50 noise files), runs the
README's `accelerate launch` command twice with identical data, seed and step budget: once with
`--pretrained_pipeline`, once from scratch. The scripts re-seed after building the model, so both
runs see the same first batch. Reports first-step and final losses, time per step and, for the
denoiser, the reconstruction SNR the script scores at the end.

    python benchmarks/bench_finetune.py --steps 100 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from seismic_diffusers.data import (
    generate_local_earthquakes,
    generate_seismic_noise,
    generate_velocity_models,
    save_openfwi_file,
    write_miniseed_folder,
)
from seismic_diffusers.utils import machine_info

REPO_ROOT = Path(__file__).resolve().parents[1]
LAUNCH = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
          "--mixed_precision", "no", "--dynamo_backend", "no"]  # fmt: skip


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work_dir", default="runs/bench-finetune", help="Data and runs (not committed).")
    parser.add_argument("--out", default="benchmarks/results")
    return parser.parse_args(argv)


def launch(script: str, output_dir: Path, arguments: list[str], threads: int) -> dict:
    command = [*LAUNCH, "--num_cpu_threads_per_process", str(threads), f"training/{script}",
               "--output_dir", str(output_dir), *arguments]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1")
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{shlex.join(command)} failed:\n{done.stderr[-3000:]}")
    losses = [json.loads(line)["loss"] for line in (output_dir / "train_log.jsonl").read_text().splitlines()]
    result = {
        "first_step_loss": losses[0],
        "last_10_loss": float(np.mean(losses[-10:])),
        "seconds_per_step": json.loads((output_dir / "train_log.jsonl").read_text().splitlines()[-1])[
            "elapsed_s"
        ]
        / len(losses),
        "wall_seconds": time.perf_counter() - started,
    }
    for line in done.stderr.splitlines():  # the denoiser's end-of-run score
        if "val_snr_out_db" in line:
            summary = line[line.index("{") :].replace("'", '"')
            scores = json.loads(summary)
            result.update(snr_in_db=scores["val_snr_in_db"], snr_out_db=scores["val_snr_out_db"])
    return result


def main(argv=None) -> dict:
    args = parse_args(argv)
    work = Path(args.work_dir)
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine_info().items()), flush=True)
    basin = work / "basin"
    if not (basin / "model" / "model1.npy").is_file():
        save_openfwi_file(
            basin / "model" / "model1.npy", generate_velocity_models("curvefault-b", 200, seed=11)
        )
    events, noise = work / "events", work / "noise"
    if not events.is_dir():
        write_miniseed_folder(
            events, generate_local_earthquakes(200, seed=21)["waveforms"], station_prefix="EV"
        )
        write_miniseed_folder(
            noise, generate_seismic_noise(50, seed=21, num_samples=30000), station_prefix="NO"
        )

    common = ["--max_train_steps", str(args.steps), "--logging_steps", "1", "--use_ema", "--checkpointing_steps",
              str(10 * args.steps)]  # fmt: skip
    jobs = {
        "velocity": ("train_velocity.py", "pipelines/openfwi-velocity-ddpm",
                     ["--openfwi_dir", str(basin), "--openfwi_family", "my-basin", "--train_batch_size", "16",
                      "--validation_steps", "0", "--learning_rate", "1e-4", *common]),
        "denoiser": ("train_denoiser.py", "pipelines/cold-diffusion-denoiser",
                     ["--event_mseed_dir", str(events), "--noise_mseed_dir", str(noise), "--train_batch_size", "32",
                      "--learning_rate", "2e-4", "--validation_pairs", "64", *common]),
    }  # fmt: skip
    results = {
        "command": "python benchmarks/bench_finetune.py " + shlex.join(sys.argv[1:]),
        "machine": machine_info(),
    }
    for name, (script, pretrained, arguments) in jobs.items():
        results[name] = {
            "fine_tuned": launch(
                script, work / f"{name}-fine", ["--pretrained_pipeline", pretrained, *arguments], args.threads
            ),  # fmt: skip
            "from_scratch": launch(script, work / f"{name}-scratch", arguments, args.threads),
        }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_finetune.json").write_text(json.dumps(results, indent=2))

    print(f"\n{args.steps} steps each, {args.threads} thread(s)")
    print("| pipeline | run | first-step loss | mean loss, last 10 steps | s/step | recon SNR (dB) |")
    print("|---|---|---:|---:|---:|---:|")
    for name in jobs:
        for run, row in results[name].items():
            snr = f"{row['snr_in_db']:.1f} -> {row['snr_out_db']:.1f}" if "snr_out_db" in row else "-"
            print(f"| {name} | {run} | {row['first_step_loss']:.4f} | {row['last_10_loss']:.4f} | "
                  f"{row['seconds_per_step']:.2f} | {snr} |")  # fmt: skip
    return results


if __name__ == "__main__":
    main()

"""Archive denoising throughput: the plain pipeline vs `denoise_archive` on 1 and 2 Dask workers.

One synthetic SDS archive (`--stations` stations, one day each, `--hours` hours of 3-component
100 Hz data per station: one station-day unit each) is denoised three ways, one after another in
one process, with the shipped denoiser in direct mode:

(a) plain pipeline, 1 torch thread: for each unit read the files, `pipe(stream)`, write the SDS
    day files, in a loop (what a script without Dask does);
(b) the same loop with torch's default threads (what a user gets by default);
(c) `denoise_archive` on `local_cluster(1)`: 1 single-threaded worker;
(d) `denoise_archive` on `local_cluster(2)`: 2 single-threaded workers.

Cluster start-up is outside the timed call (a cluster is started once per session and reused),
and so is each worker's first pipeline load (one untimed warm-up unit per worker); the
start-up time is reported on its own. Throughput is hours of 3-component data per second.
Targets: (c) within 10 % of (a); (d) >= 1.7x (c).

    python benchmarks/bench_denoise_archive.py --stations 8 --hours 2 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from obspy import Stream, Trace, UTCDateTime

from seismic_diffusers import ColdDiffusionDenoisePipeline
from seismic_diffusers.archive import (
    denoise_archive,
    find_units,
    local_cluster,
    overlap_seconds,
    read_unit,
    sds_path,
)
from seismic_diffusers.utils import machine_info

DAY = UTCDateTime(2024, 6, 1)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline", default="pipelines/cold-diffusion-denoiser")
    parser.add_argument("--stations", type=int, default=8, help="Station-day units (one day each).")
    parser.add_argument("--hours", type=float, default=2.0, help="Hours of 3-C 100 Hz data per unit.")
    parser.add_argument("--out", default="benchmarks/results", help="Folder for bench_denoise_archive.json.")
    return parser.parse_args(argv)


def build_archive(root: Path, stations: int, hours: float, offset_days: int = 0) -> None:
    rng = np.random.default_rng(0)
    start = DAY + offset_days * 86400
    for number in range(stations):
        for channel in ("HHE", "HHN", "HHZ"):
            data = rng.standard_normal(int(hours * 3600 * 100)).astype(np.float32) * 100
            header = {"network": "BM", "station": f"S{number:03d}", "channel": channel,
                      "sampling_rate": 100.0, "starttime": start + 3600}  # fmt: skip
            path = sds_path(root, "BM", f"S{number:03d}", "", channel, start.date.isoformat())
            path.parent.mkdir(parents=True, exist_ok=True)
            Stream([Trace(data, header=header)]).write(str(path), format="MSEED", encoding="FLOAT32")


def plain_loop(pipe, source: Path, out: Path) -> None:
    """Read, denoise and write every unit in this process: the same I/O as a task, no Dask."""
    units, _ = find_units(source)
    overlap = overlap_seconds(pipe.processor)
    for unit in units:
        denoised = pipe(read_unit(unit, overlap)).waveforms
        for trace in denoised:
            target = sds_path(out, *trace.id.split("."), unit.day)
            target.parent.mkdir(parents=True, exist_ok=True)
            Stream([trace]).write(str(target), format="MSEED", encoding="FLOAT32")


def main(argv=None) -> dict:
    from distributed import Client

    args = parse_args(argv)
    print("command: python benchmarks/bench_denoise_archive.py " + shlex.join(sys.argv[1:]))
    hours = args.stations * args.hours
    work = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    try:
        source, warm = work / "sds", work / "warm"
        build_archive(source, args.stations, args.hours)
        build_archive(warm, 2, 0.05, offset_days=-10)  # one small unit per worker, untimed
        pipe = ColdDiffusionDenoisePipeline.from_pretrained(args.pipeline)
        pipe.set_progress_bar_config(disable=True)
        rows = {}
        default_threads = torch.get_num_threads()
        for label, threads in (
            ("(a) plain pipeline, 1 thread", 1),
            (f"(b) plain pipeline, {default_threads} threads", default_threads),
        ):
            torch.set_num_threads(threads)
            plain_loop(pipe, warm, work / "plain-warm")
            started = time.perf_counter()
            plain_loop(pipe, source, work / f"plain-{threads}")
            rows[label] = time.perf_counter() - started
            print(f"{label}: {rows[label]:.2f} s", flush=True)
        torch.set_num_threads(default_threads)
        startup = {}
        for workers in (1, 2):
            started = time.perf_counter()
            cluster = local_cluster(workers)
            client = Client(cluster)
            startup[workers] = time.perf_counter() - started
            try:
                denoise_archive(
                    warm, work / f"warm-{workers}", pipeline=args.pipeline, client=client, progress=False
                )
                started = time.perf_counter()
                result = denoise_archive(
                    source, work / f"archive-{workers}", pipeline=args.pipeline, client=client, progress=False
                )
                label = f"({'c' if workers == 1 else 'd'}) denoise_archive, {workers} worker(s)"
                rows[label] = time.perf_counter() - started
                assert result["done"] == args.stations and not result["failed"], result["failed"]
                print(f"{label}: {rows[label]:.2f} s (cluster start {startup[workers]:.1f} s)", flush=True)
            finally:
                client.close()
                cluster.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    plain, one, two = (
        rows["(a) plain pipeline, 1 thread"],
        rows["(c) denoise_archive, 1 worker(s)"],
        rows["(d) denoise_archive, 2 worker(s)"],
    )
    result = {
        "command": "python benchmarks/bench_denoise_archive.py " + shlex.join(sys.argv[1:]),
        "machine": machine_info(),
        "units": args.stations,
        "hours_of_3c_data": hours,
        "seconds": rows,
        "cluster_startup_s": startup,
        "overhead_1_worker": one / plain - 1,
        "speedup_2_workers": one / two,
    }
    print()
    print("| method | seconds | hours of 3-C data per second |")
    print("|---|---:|---:|")
    for label, seconds in rows.items():
        print(f"| {label} | {seconds:.2f} | {hours / seconds:.1f} |")
    print(
        f"\n1-worker overhead over (a): {100 * (one / plain - 1):+.1f} % (target <= 10 %); "
        f"2 workers vs 1: {one / two:.2f}x (target >= 1.7x); cluster start-up {startup[1]:.1f} / {startup[2]:.1f} s"
    )
    print("machine: " + ", ".join(f"{k}={v}" for k, v in result["machine"].items()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_denoise_archive.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()

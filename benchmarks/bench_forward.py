"""Forward-modelling speed: raw deepwave vs our forward_model (deepwave) vs our reference scheme.

Rows, timed one after another in one process on the same machine, warm-up calls excluded:

(a) raw `deepwave.scalar` with exactly the settings our backend passes (4th order, 20-cell PML at
    15 Hz, max_vel 4500, Courant number 0.636), on inputs built once outside the timer;
(b) `seismic_diffusers.physics.forward_model(..., backend="deepwave")`: input checks, batching,
    polarity and lag calibration included;
(c) `forward_model(..., backend="reference")`: OpenFWI's own scheme in float64 PyTorch;
(d) one forward + adjoint (the gradient of a data misfit with respect to the map), raw
    `deepwave.scalar` with a velocity that requires grad against `forward_model` with one, for
    one OpenFWI gather: what one gradient step of FWI or posterior sampling costs.

Each for one OpenFWI sample (5 shots x 1000 steps) and a batch of 32 (curvefault-b maps). Then
`make-dataset` throughput in pairs per second. Target: (b) <= 1.1 x (a).

    python benchmarks/bench_forward.py --repeats 5 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from seismic_diffusers.data import generate_velocity_models, make_paired_dataset
from seismic_diffusers.physics import OPENFWI, forward_model
from seismic_diffusers.physics.forward import _deepwave_chunk
from seismic_diffusers.utils import machine_info


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32, help="Maps in the batch rows.")
    parser.add_argument("--repeats", type=int, default=5, help="Timed repeats of the deepwave rows (median).")
    parser.add_argument(
        "--reference_repeats", type=int, default=1, help="Timed repeats of the reference rows."
    )
    parser.add_argument(
        "--dataset_pairs", type=int, default=128, help="Pairs written by the make-dataset row."
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
    parser.add_argument("--out", default="benchmarks/results", help="Folder for bench_forward.json.")
    return parser.parse_args(argv)


def raw_deepwave_inputs(velocity: torch.Tensor) -> tuple[tuple, dict]:
    """The exact `deepwave.scalar` call our backend makes, prepared outside the timer."""
    config = OPENFWI.config
    batch, n_src = velocity.shape[0], OPENFWI.n_sources
    models = velocity.repeat_interleave(n_src, dim=0).contiguous()
    sources = torch.as_tensor(OPENFWI.source_locations())[:, None].repeat(batch, 1, 1).contiguous()
    receivers = torch.as_tensor(OPENFWI.receiver_locations())[None].expand(batch * n_src, -1, -1).contiguous()
    wavelet = torch.zeros(int(config.nt) + 1)
    wavelet[: int(config.nt)] = torch.as_tensor(OPENFWI.wavelet())
    amplitudes = wavelet.expand(batch * n_src, 1, -1).contiguous()
    kwargs = dict(
        source_amplitudes=amplitudes,
        source_locations=sources,
        receiver_locations=receivers,
        accuracy=4,
        pml_width=int(config.pml_width),
        pml_freq=float(config.peak_frequency),
        max_vel=float(config.max_velocity),
        courant_number=max(OPENFWI.courant_number * (1 + 1e-6), 0.6),
    )
    return (models, config.grid_spacing, config.dt), kwargs


def timed(fn, repeats: int) -> float:
    """Median wall time of `repeats` calls, after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    import deepwave

    maps = generate_velocity_models("curvefault-b", args.batch, seed=0)
    rows = []
    for label, batch in (("1 sample", 1), (f"batch of {args.batch}", args.batch)):
        velocity = maps[:batch]
        tensor = torch.from_numpy(velocity)
        raw_args, raw_kwargs = raw_deepwave_inputs(tensor)
        with torch.no_grad():
            raw = timed(lambda: deepwave.scalar(*raw_args, **raw_kwargs), args.repeats)  # noqa: B023
        ours = timed(lambda: forward_model(velocity), args.repeats)  # noqa: B023
        # Warm the reference on one map so the batch-32 row does not pay twice.
        forward_model(velocity[:1], backend="reference")
        start = time.perf_counter()
        for _ in range(args.reference_repeats):
            forward_model(velocity, backend="reference")
        reference = (time.perf_counter() - start) / args.reference_repeats
        rows.append(
            {
                "case": label,
                "maps": batch,
                "raw_deepwave_s": raw,
                "ours_deepwave_s": ours,
                "ours_reference_s": reference,
            }
        )
        print(
            f"{label}: raw deepwave {raw:.3f} s, ours (deepwave) {ours:.3f} s ({ours / raw:.3f}x), reference {reference:.2f} s",
            flush=True,
        )

    # (d) forward + adjoint on one gather
    one = torch.from_numpy(maps[:1])
    raw_args, raw_kwargs = raw_deepwave_inputs(one)
    weights = torch.randn(5, 70, int(OPENFWI.config.nt) + 1, generator=torch.Generator().manual_seed(0))

    def raw_gradient():
        models = raw_args[0].detach().requires_grad_(True)
        (deepwave.scalar(models, *raw_args[1:], **raw_kwargs)[-1] * weights).sum().backward()

    def ours_gradient():
        velocity = one.clone().requires_grad_(True)
        (forward_model(velocity) * weights[..., 1:].transpose(1, 2)).sum().backward()

    raw_adjoint, ours_adjoint = timed(raw_gradient, args.repeats), timed(ours_gradient, args.repeats)
    print(
        f"forward + adjoint, 1 gather: raw deepwave {raw_adjoint:.3f} s, ours {ours_adjoint:.3f} s "
        f"({ours_adjoint / raw_adjoint:.3f}x)",
        flush=True,
    )

    # Same arithmetic, so the calibrated output must equal raw deepwave's flipped, shifted traces.
    check_args, check_kwargs = raw_deepwave_inputs(torch.from_numpy(maps[:2]))
    with torch.no_grad():
        raw_traces = deepwave.scalar(*check_args, **check_kwargs)[-1]
    ours_traces = _deepwave_chunk(torch.from_numpy(maps[:2]), OPENFWI)
    identical = bool(torch.equal(-raw_traces[..., 1:].reshape(2, 5, 70, -1).transpose(2, 3), ours_traces))

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        make_paired_dataset(folder, "flatvel-b", args.dataset_pairs, shard_size=64, progress=False)
        dataset_seconds = time.perf_counter() - start
    pairs_per_second = args.dataset_pairs / dataset_seconds

    result = {
        "command": "python benchmarks/bench_forward.py " + shlex.join(sys.argv[1:]),
        "machine": machine_info(),
        "deepwave": deepwave.__version__,
        "rows": rows,
        "forward_adjoint_1_gather": {"raw_deepwave_s": raw_adjoint, "ours_s": ours_adjoint},
        "calibrated_equals_raw": identical,
        "make_dataset_pairs_per_second": pairs_per_second,
        "make_dataset_pairs": args.dataset_pairs,
    }
    print()
    print(
        "| case | raw deepwave.scalar (s) | ours, deepwave backend (s) | ours / raw (target <= 1.1) | ours, reference backend (s) | reference / raw |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        raw, ours, ref = row["raw_deepwave_s"], row["ours_deepwave_s"], row["ours_reference_s"]
        print(f"| {row['case']} | {raw:.3f} | {ours:.3f} | {ours / raw:.3f} | {ref:.2f} | {ref / raw:.0f}x |")
    print(
        f"| forward + adjoint, 1 gather | {raw_adjoint:.3f} | {ours_adjoint:.3f} | {ours_adjoint / raw_adjoint:.3f} | - | - |"
    )
    print(
        f"\nmake-dataset: {pairs_per_second:.1f} pairs/s ({args.dataset_pairs} flatvel-b pairs, deepwave, shards of 64)"
    )
    print(f"calibrated output == -raw[t + 1] exactly: {identical}")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in result["machine"].items()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_forward.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()

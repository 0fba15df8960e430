"""Seconds per generated velocity map: our pipeline vs stock DDPM vs the 2DseisvelGenerator setup.

Rows measured one after another in one process on the same machine:

(a) ours: `VelocityGenerationPipeline` at its saved defaults (`pipe.config.default_*`: for the
    shipped, guidance-distilled pipeline SDE-DPM-Solver++, 15 steps, guidance 2.5 for
    curvefault-a and 1.5 for flatfault-a), on a batch that cycles through the pipeline's families.
(b) peer: stock `diffusers.DDPMPipeline`, 1000 DDPM steps, with a stock `UNet2DModel` of the same
    architecture (no class embedding, `sample_size=72`, the padded size our UNet runs at) and the
    shipped weights copied in where the shapes match. Timing only: its samples are not meaningful.
(c) 2DseisvelGenerator: the sampling configuration of Ankur Kumar's 2DseisvelGenerator, a public
    unconditional DDPM of velocity models: its `UNet2DModel` (64 x 64, six levels, 64-256
    channels, attention at 8 x 8) with random weights, stock `DDPMPipeline`, 1000 DDPM steps.
    Timing only.

(d) optional (`--compare_pipelines`): other `VelocityGenerationPipeline` folders at their own saved
    defaults, float32, e.g. the guided teacher of a guidance-distilled pipeline.

(a') and (c') repeat (a) and (c) with the weights in bfloat16 (`--bfloat16`, on by default): ours
    via `from_pretrained(..., dtype=torch.bfloat16)` (its trajectory stays in float32),
    2DseisvelGenerator's by `.to(torch.bfloat16)`. The speed-up is reported against
    2DseisvelGenerator in float32, as that project runs it, and against it in the same dtype, so
    that precision and method stay apart.

Each row: one warm-up call, then `--repeats` timed calls of `--batch_size` maps under
`torch.no_grad()`; the row reports their median (and keeps every timing in the JSON), so that one
slow call on a busy machine does not decide a close comparison.
With `--seed_steps_measured N`, the 1000-step rows (b, c) time only N steps and extrapolate
linearly to `--seed_steps` (every DDPM step costs the same: one UNet call plus an elementwise
update); the output says so.

    python benchmarks/velocity_speed.py --pipeline pipelines/openfwi-velocity-ddpm \
        --batch_size 8 --seed_steps 1000 --seed_steps_measured 50
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time

import torch
from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

from seismic_diffusers import VelocityGenerationPipeline
from seismic_diffusers.utils import machine_info
from seismic_diffusers.utils.configs import public_config

SEED_UNET_CONFIG = dict(
    sample_size=64,
    in_channels=1,
    out_channels=1,
    block_out_channels=(64, 64, 128, 128, 256, 256),
    down_block_types=(
        "DownBlock2D",
        "DownBlock2D",
        "DownBlock2D",
        "DownBlock2D",
        "AttnDownBlock2D",
        "DownBlock2D",
    ),
    up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"),
    layers_per_block=2,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--pipeline", default="pipelines/openfwi-velocity-ddpm", help="Shipped pipeline folder."
    )
    parser.add_argument("--batch_size", type=int, default=8, help="Maps per timed call.")
    parser.add_argument(
        "--num_inference_steps",
        type=int,
        default=None,
        help="Steps for row (a); default: the pipeline's own.",
    )
    parser.add_argument("--seed_steps", type=int, default=1000, help="DDPM steps of rows (b) and (c).")
    parser.add_argument(
        "--seed_steps_measured",
        type=int,
        default=None,
        help="Time only this many of the --seed_steps DDPM steps and extrapolate linearly.",
    )
    parser.add_argument(
        "--bfloat16",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Also time ours and the 2DseisvelGenerator setup with bfloat16 weights (rows a' and c').",
    )
    parser.add_argument(
        "--compare_pipelines",
        nargs="*",
        default=[],
        help="Other velocity pipeline folders to time at their own saved defaults (rows d).",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="Timed calls per row after the warm-up; the median is reported.",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results", help="Folder for velocity_speed.json.")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    return args


def count_params(model: torch.nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def time_call(fn, warmup_fn, repeats: int = 1) -> list[float]:
    """Seconds for each of `repeats` calls of `fn()`, after one `warmup_fn()`."""
    with torch.no_grad():
        warmup_fn()
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
    return seconds


def stock_unet_like(unet: torch.nn.Module) -> UNet2DModel:
    """A stock, unconditional `UNet2DModel` with `unet`'s architecture at its padded size."""
    config = public_config(unet.config)
    config.update(num_class_embeds=None, class_embed_type=None)
    config["sample_size"] = unet.config.sample_size + (-unet.config.sample_size) % unet.downsample_factor
    stock = UNet2DModel(**config)
    state = {k: v for k, v in unet.state_dict().items() if not k.startswith("class_embedding")}
    stock.load_state_dict(state, strict=True)
    return stock


def main(args):
    torch.set_num_threads(args.threads)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    info = machine_info()
    print(f"command: {command}")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))

    pipe = VelocityGenerationPipeline.from_pretrained(args.pipeline)
    pipe.set_progress_bar_config(disable=True)
    batch = args.batch_size

    measured = min(args.seed_steps_measured or args.seed_steps, args.seed_steps)
    scale = args.seed_steps / measured
    note = (
        f"timed {measured} of {args.seed_steps} DDPM steps, extrapolated linearly (x{scale:g})"
        if measured < args.seed_steps
        else f"all {args.seed_steps} DDPM steps timed"
    )

    rows = []

    def add_row(name, model, sampler, timings, factor=1.0, comment=""):
        seconds = statistics.median(timings)
        total = seconds * factor
        rows.append(
            dict(
                name=name,
                dtype=str(model.dtype).removeprefix("torch."),
                params_m=round(count_params(model), 3),
                sampler=sampler,
                seconds_measured=round(seconds, 3),
                seconds_each=[round(t, 3) for t in timings],
                seconds_per_batch=round(total, 3),
                seconds_per_sample=round(total / batch, 4),
                comment=comment,
            )
        )
        each = ", ".join(f"{t:.2f}" for t in timings)
        print(f"  {name}: {total / batch:.4f} s/sample (median of {each} s measured)", flush=True)

    # (a) ours, at the pipeline defaults; (a') the same with bfloat16 weights
    def time_ours(name, pipeline, comment, steps=args.num_inference_steps):
        steps = steps or pipeline.config.default_num_inference_steps
        guidance = pipeline.config.default_guidance_scale
        # the families in turn, so that a per-family guidance default costs what it costs on average
        family = (
            [pipeline.families[i % len(pipeline.families)] for i in range(batch)]
            if pipeline.families
            else None
        )
        # Steps that take the family's prior (`use_prior_mean`, the first one) call no U-Net.
        pipeline.scheduler.set_timesteps(steps)
        unet_steps = sum(not pipeline.uses_prior_mean(t) for t in pipeline.scheduler.timesteps)
        # guided samples get a second, unconditional evaluation
        labels = pipeline.processor.family_labels(family, batch) if family else []
        guided = sum(weight > 1.0 for weight in pipeline.processor.guidance_scales(guidance, labels))
        calls = f"{unet_steps} U-Net calls" + (f" on {batch} + {guided} maps" if guided else "")

        def ours(n):
            generator = torch.Generator().manual_seed(args.seed)
            return pipeline(batch, family=family, generator=generator, num_inference_steps=n).velocities

        add_row(
            name,
            pipeline.unet,
            f"{type(pipeline.scheduler).__name__}, {steps} steps, guidance "
            f"{pipeline.describe_guidance(guidance)} ({calls}), 70x70",
            time_call(lambda: ours(steps), lambda: ours(2), args.repeats),
            comment=comment,
        )

    time_ours("(a) ours: VelocityGenerationPipeline", pipe, "shipped weights")
    if args.bfloat16:
        pipe_bf16 = VelocityGenerationPipeline.from_pretrained(args.pipeline, dtype=torch.bfloat16)
        pipe_bf16.set_progress_bar_config(disable=True)
        time_ours(
            "(a') ours, bfloat16 weights",
            pipe_bf16,
            "shipped weights loaded with dtype=torch.bfloat16; float32 trajectory",
        )

    for folder in args.compare_pipelines:
        other = VelocityGenerationPipeline.from_pretrained(folder)
        other.set_progress_bar_config(disable=True)
        time_ours(f"(d) {folder}", other, "compared pipeline, its own saved defaults", steps=None)

    # (b) stock DDPMPipeline, same UNet architecture and weights, 1000 steps
    ddpm_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    stock = DDPMPipeline(unet=stock_unet_like(pipe.unet), scheduler=ddpm_scheduler)
    stock.set_progress_bar_config(disable=True)

    def run_ddpm(p, n):
        return p(
            batch_size=batch,
            generator=torch.Generator().manual_seed(args.seed),
            num_inference_steps=n,
            output_type="pt",  # tensors: a bfloat16 image cannot become numpy
        )

    timings = time_call(lambda: run_ddpm(stock, measured), lambda: run_ddpm(stock, 2), args.repeats)
    add_row(
        "(b) peer: diffusers.DDPMPipeline, same UNet",
        stock.unet,
        f"DDPMScheduler, {args.seed_steps} steps, {stock.unet.config.sample_size}x{stock.unet.config.sample_size}",
        timings,
        scale,
        comment=f"timing only (unconditional copy of the shipped weights); {note}",
    )

    # (c) the 2DseisvelGenerator configuration: random weights, DDPM 1000 steps
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        seed_unet = UNet2DModel(**SEED_UNET_CONFIG)
    seed_per_sample = {}
    for suffix, dtype in [("", torch.float32)] + ([("'", torch.bfloat16)] if args.bfloat16 else []):
        seed_pipe = DDPMPipeline(unet=seed_unet.to(dtype), scheduler=DDPMScheduler(num_train_timesteps=1000))
        seed_pipe.set_progress_bar_config(disable=True)
        timings = time_call(
            lambda p=seed_pipe: run_ddpm(p, measured), lambda p=seed_pipe: run_ddpm(p, 2), args.repeats
        )
        add_row(
            f"(c{suffix}) 2DseisvelGenerator config: UNet2DModel 64x64, 6 levels",
            seed_unet,
            f"DDPMScheduler, {args.seed_steps} steps, 64x64",
            timings,
            scale,
            comment=f"timing only (random weights); {note}",
        )
        seed_per_sample[rows[-1]["dtype"]] = rows[-1]["seconds_per_sample"]

    for row in rows:
        row["speedup_vs_seed"] = round(seed_per_sample["float32"] / row["seconds_per_sample"], 1)
        row["speedup_vs_seed_same_dtype"] = round(
            seed_per_sample[row["dtype"]] / row["seconds_per_sample"], 1
        )

    print()
    print(
        f"Batch {batch}, torch threads {args.threads}, one warm-up call then the median of "
        f"{args.repeats} timed calls per row."
    )
    print(
        "| configuration | weights | params (M) | sampler | s/sample "
        "| speed-up vs 2DseisvelGenerator (float32) | vs 2DseisvelGenerator, same dtype |"
    )
    print("|---|---|---:|---|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['name']} | {row['dtype']} | {row['params_m']:.2f} | {row['sampler']} | "
            f"{row['seconds_per_sample']:.3f} | {row['speedup_vs_seed']:.1f}x | "
            f"{row['speedup_vs_seed_same_dtype']:.1f}x |"
        )
    print()
    for row in rows:
        print(f"- {row['name']}: {row['comment']}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "velocity_speed.json")
    with open(path, "w") as f:
        json.dump(
            dict(
                command=command,
                machine=info,
                batch_size=batch,
                repeats=args.repeats,
                pipeline=args.pipeline,
                rows=rows,
            ),
            f,
            indent=2,
        )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main(parse_args())

#!/usr/bin/env python
"""Train a diffusion prior over a waveform VAE's latent, conditioned on magnitude, location and station.

Run with `accelerate launch training/train_waveform_ldm.py --vae_run runs/waveform-vae ...` after
`train_waveform_vae.py --model vae` (or `cvae`). Same conventions as the other scripts: EMA,
atomic checkpoints with `--resume_from_checkpoint latest`, mixed precision, a
`diffusers.optimization` LR schedule, `--pretrained_pipeline` / `--freeze` for fine-tuning.

The frozen VAE encodes every training record to its posterior mean (with its condition, for a
CVAE); a `WaveformLatentDenoiser` learns to predict the noise added to those latents under a
DDPM schedule, given magnitude, location and station (dropped to the "unknown station" row with
probability `--station_dropout`). The output, OUTPUT_DIR/pipeline, is a complete
`ConditionalWaveformPipeline` (VAE, spectrogram, prior, scheduler) with a model card.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate.logging import get_logger
from accelerate.utils import set_seed
from diffusers import DDPMScheduler

from seismic_diffusers import (
    ConditionalWaveformPipeline,
    SpectrogramVAE,
    WaveformLatentDenoiser,
    WaveformSpectrogram,
)
from seismic_diffusers.utils.arguments import add_waveform_record_arguments
from seismic_diffusers.utils.finetune import (
    WAVEFORM_PRIOR_PARTS,
    add_finetune_arguments,
    check_finetune_arguments,
    fine_tune_summary,
    freeze_parts,
    load_pretrained_pipeline,
)
from seismic_diffusers.utils.training import (
    TrainingLog,
    add_training_arguments,
    backward_and_step,
    build_optimization,
    epoch_batches,
    make_accelerator,
    make_ema,
    resume_and_progress,
    trained_model,
)
from seismic_diffusers.waveforms import load_training_records

logger = get_logger(__name__, log_level="INFO")
CONDITION_KEYS = ("magnitude", "latitude", "longitude", "depth_km")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--vae_run", type=str, default=None, help="A train_waveform_vae.py OUTPUT_DIR (model + spectrogram)."
    )
    add_waveform_record_arguments(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--width", type=int, default=512)
    model.add_argument("--num_blocks", type=int, default=4)
    model.add_argument("--num_train_timesteps", type=int, default=1000)
    model.add_argument("--station_dropout", type=float, default=0.1)
    add_training_arguments(parser, output_dir="runs/waveform-ldm", train_batch_size=128, max_train_steps=4000,
                           learning_rate=3e-4)  # fmt: skip
    add_finetune_arguments(parser, WAVEFORM_PRIOR_PARTS)
    args = parser.parse_args(argv)
    if not (args.vae_run or args.pretrained_pipeline):
        parser.error(
            "Give the VAE (--vae_run) or a pipeline with a prior to fine-tune (--pretrained_pipeline)."
        )
    check_finetune_arguments(parser, args)
    return args


def main(args: argparse.Namespace) -> None:
    accelerator = make_accelerator(args)
    # 1. The frozen VAE and its spectrogram; a pretrained prior when fine-tuning (before any data)
    pretrained = None
    if args.pretrained_pipeline:
        pretrained, _ = load_pretrained_pipeline(
            args.pretrained_pipeline, ConditionalWaveformPipeline, logger
        )
        if pretrained.prior is None:
            raise ValueError(
                f"--pretrained_pipeline {args.pretrained_pipeline!r} has no diffusion prior to fine-tune."
            )
    if args.vae_run:
        vae = SpectrogramVAE.from_pretrained(os.path.join(args.vae_run, "model"))
        spectrogram = WaveformSpectrogram.from_config(
            WaveformSpectrogram.load_config(os.path.join(args.vae_run, "spectrogram"))
        )
    else:
        vae, spectrogram = pretrained.vae, pretrained.spectrogram
    vae = vae.eval().requires_grad_(False)
    args.window_length = spectrogram.config.window_length

    # 2. Posterior means of every training record
    set_seed(args.seed)
    records = load_training_records(args.dataset_dir, args.num_records, args.data_seed, args.window_length)
    count = len(records["waveforms"])
    train = slice(0, count - max(1, int(round(args.validation_fraction * count))))
    conditions = torch.tensor(np.stack([records[k] for k in CONDITION_KEYS], axis=1), dtype=torch.float32)[
        train
    ]
    prior = pretrained.prior.train() if pretrained is not None else None
    stations = list((prior.config if prior is not None else vae.config).station_names or []) or sorted(
        set(records["station"])
    )
    station_index = torch.tensor(
        [stations.index(s) if s in stations else len(stations) for s in records["station"]]
    )[train]
    with torch.no_grad():
        latents = []
        for start in range(0, len(conditions), 128):
            spec = spectrogram.to_spectrogram(records["waveforms"][train][start : start + 128])
            part = slice(start, start + 128)
            condition = vae.condition(conditions[part], station_index[part]) if vae.conditional else None
            latents.append(vae.encode(spec, condition)[0])
        latents = torch.cat(latents)
    logger.info(f"{len(latents)} latents, std {latents.std():.3f}")

    # 3. The prior and its schedule
    if prior is None:
        span = {
            k: (float(conditions[:, i].min()), float(conditions[:, i].max()))
            for i, k in enumerate(CONDITION_KEYS)
        }
        prior = WaveformLatentDenoiser(
            latent_dim=vae.config.latent_dim, width=args.width, num_blocks=args.num_blocks, num_stations=len(stations),
            station_names=stations, magnitude_range=span["magnitude"], latitude_range=span["latitude"],
            longitude_range=span["longitude"], depth_range_km=span["depth_km"],
        )  # fmt: skip
        noise_scheduler = DDPMScheduler(
            num_train_timesteps=args.num_train_timesteps, beta_schedule="squaredcos_cap_v2"
        )
    else:
        noise_scheduler = DDPMScheduler.from_config(pretrained.scheduler.config)
    frozen = freeze_parts(prior, args.freeze, WAVEFORM_PRIOR_PARTS)
    ema_model = make_ema(accelerator, prior, WaveformLatentDenoiser, args, subfolder="prior")
    set_seed(args.seed)
    dataloader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(latents, conditions, station_index),
        batch_size=args.train_batch_size, shuffle=True, drop_last=len(latents) >= args.train_batch_size,
    )  # fmt: skip
    optimizer, lr_scheduler = build_optimization(accelerator, prior, args)
    prior, optimizer, dataloader, lr_scheduler = accelerator.prepare(
        prior, optimizer, dataloader, lr_scheduler
    )
    if ema_model is not None:
        ema_model.to(accelerator.device)
    global_step, first_epoch, resume_step, num_epochs, progress = resume_and_progress(
        accelerator, args, dataloader, logger
    )
    log = TrainingLog(accelerator, args, progress, logger)
    core = accelerator.unwrap_model(prior)

    # 4. Train: predict the noise added to the latents, given the condition
    for epoch in range(first_epoch, num_epochs):
        prior.train()
        for clean, condition, station in epoch_batches(
            accelerator, dataloader, epoch, first_epoch, resume_step
        ):
            if global_step >= args.max_train_steps:
                break
            drop = torch.rand(station.shape, device=station.device) < args.station_dropout
            station = torch.where(drop, torch.full_like(station, core.unknown_station), station)
            noise = torch.randn_like(clean)
            t = torch.randint(
                0, noise_scheduler.config.num_train_timesteps, (clean.shape[0],), device=clean.device
            )
            with accelerator.accumulate(prior):
                loss = F.mse_loss(
                    prior(noise_scheduler.add_noise(clean, noise, t), t, condition, station).sample, noise
                )
                backward_and_step(accelerator, loss, prior, optimizer, lr_scheduler, args.max_grad_norm)
            if not accelerator.sync_gradients:
                continue
            if ema_model is not None:
                ema_model.step(prior.parameters())
            global_step += 1
            log.step(global_step, lr_scheduler.get_last_lr()[0], loss=loss)

    # 5. The pipeline folder
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        pipeline_dir = Path(args.output_dir, "pipeline")
        pipeline = ConditionalWaveformPipeline(
            vae=vae,
            spectrogram=spectrogram,
            prior=trained_model(accelerator, prior, ema_model),
            scheduler=noise_scheduler,
        )
        pipeline.save_pretrained(pipeline_dir, safe_serialization=True)
        command = "accelerate launch " + " ".join([sys.argv[0]] + sys.argv[1:])
        data = (
            args.dataset_dir or f"{args.num_records} synthetic Marmara-like records (seed {args.data_seed})"
        )
        (pipeline_dir / "README.md").write_text(
            "---\nlibrary_name: seismic_diffusers\nlicense: mit\ntags: [seismology, earthquake, waveform-generation, "
            "latent-diffusion, seismic_diffusers]\n---\n\n# Conditional waveform generator: VAE + latent diffusion prior\n\n"
            + fine_tune_summary(args, frozen)
            + f"- Command: `{command}`\n- VAE: {args.vae_run or args.pretrained_pipeline}\n- Data: {data}\n"
            f"- Steps: {global_step}, {log.minutes:.1f} min; final loss {log.means()['loss']:.4f}\n"
            f"- Stations: {', '.join(stations)}\n"
        )
        logger.info(f"Saved {pipeline_dir}")
    accelerator.end_training()


if __name__ == "__main__":
    main(parse_args())

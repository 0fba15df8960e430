#!/usr/bin/env python
"""Train a cold-diffusion seismogram denoiser (CDiffSD) with Accelerate.

Run with `accelerate launch training/train_denoiser.py --output_dir runs/denoiser ...`.
Same conventions as `train_velocity.py`: EMA, atomic checkpoints with `--resume_from_checkpoint
latest`, mixed precision, gradient accumulation, a `diffusers.optimization` LR schedule, and a
complete pipeline folder (safetensors) at the end.

Data: the synthetic local-earthquake and noise generators (default), STEAD
(`--stead_hdf5 merge.hdf5 --stead_csv merge.csv`), or folders of miniSEED events and noise
(`--event_mseed_dir events/ --noise_mseed_dir noise/`, read with `read_miniseed_folder`). Each training pair is a peak-normalised clean
event plus an independent noise record scaled to a random SNR; the window is divided by the
noisy record's peak (as at inference), degraded with the scheduler's schedule, and the U-Net
learns to predict the clean window with an L1 loss (plus CDiffSD's optional second pass on a
re-degraded prediction, `--second_pass_weight`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch
from accelerate.logging import get_logger
from accelerate.utils import set_seed

from seismic_diffusers import (
    ColdDiffusionDenoisePipeline,
    ColdDiffusionScheduler,
    SeismogramProcessor,
    SeismogramSpectralMaskModel,
    SeismogramUNet1DModel,
)
from seismic_diffusers.data import DenoisingPairDataset, generate_local_earthquakes, generate_seismic_noise
from seismic_diffusers.data.realism import BandPassedPair, RealisticRecording
from seismic_diffusers.metrics import reconstruction_snr_db
from seismic_diffusers.utils.configs import public_config
from seismic_diffusers.utils.finetune import (
    SEISMOGRAM_UNET_PARTS,
    add_finetune_arguments,
    check_finetune_arguments,
    fine_tune_summary,
    freeze_parts,
    load_pretrained_pipeline,
)
from seismic_diffusers.utils.training import (
    DENOISING_LOSSES,
    SEGMENT_SAMPLES,
    TrainingLog,
    add_training_arguments,
    backward_and_step,
    build_optimization,
    denoising_loss,
    epoch_batches,
    make_accelerator,
    make_ema,
    resume_and_progress,
    trained_model,
)

logger = get_logger(__name__, log_level="INFO")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--stead_hdf5", type=str, default=None, help="STEAD merge.hdf5 (default: synthetic data)."
    )
    data.add_argument("--stead_csv", type=str, default=None, help="STEAD merge.csv.")
    data.add_argument(
        "--event_mseed_dir",
        type=str,
        default=None,
        help="Folder of miniSEED event recordings (one 3-C window from the start of each), paired with "
        "--noise_mseed_dir.",
    )
    data.add_argument(
        "--noise_mseed_dir",
        type=str,
        default=None,
        help="Folder of miniSEED noise recordings, cut into consecutive 3-C windows.",
    )
    data.add_argument("--num_events", type=int, default=6000, help="Synthetic clean events.")
    data.add_argument("--num_noise", type=int, default=6000, help="Synthetic noise records.")
    data.add_argument("--data_seed", type=int, default=0)
    data.add_argument(
        "--pairs_per_event", type=int, default=4, help="Each event meets this many noise draws per epoch."
    )
    data.add_argument(
        "--realistic_augmentation",
        action="store_true",
        help="Make pairs look like real recordings (seismic_diffusers.data.realism.RealisticRecording: "
        "microseism, lines, bursts, spikes, steps, geophone/accelerometer responses, band limits, second events).",
    )
    data.add_argument(
        "--real_noise_fraction",
        type=float,
        default=0.0,
        help="Share of the synthetic noise records replaced by real noise windows from ObsPy's bundled "
        "training records (seismic_diffusers.data.obspy_recordings.TRAINING_NOISE_FILES; no development "
        "or reserved file).",
    )
    data.add_argument(
        "--real_event_fraction",
        type=float,
        default=0.0,
        help="Share of the synthetic events replaced by windows of real single-component events from ObsPy's "
        "bundled training records (obspy_recordings.training_event_windows).",
    )
    data.add_argument(
        "--band_hz",
        type=float,
        nargs=2,
        default=None,
        metavar=("LOW", "HIGH"),
        help="Train on pairs band-passed to this band and save it in the processor, so the pipeline "
        "band-passes its input the same way (default: the pretrained pipeline's band, or none).",
    )
    data.add_argument(
        "--magnitude_range",
        type=float,
        nargs=2,
        default=[0.5, 4.5],
        metavar=("LOW", "HIGH"),
        help="Moment magnitudes of the synthetic events (generate_local_earthquakes); larger events "
        "have lower corner frequencies.",
    )
    data.add_argument(
        "--distance_range_km",
        type=float,
        nargs=2,
        default=[5.0, 110.0],
        metavar=("LOW", "HIGH"),
        help="Hypocentral distances of the synthetic events, km; farther events are longer and poorer "
        "in high frequencies.",
    )
    data.add_argument("--snr_db_min", type=float, default=-5.0, help="Lowest training SNR (dB).")
    data.add_argument("--snr_db_max", type=float, default=20.0, help="Highest training SNR (dB).")

    model = parser.add_argument_group("model")
    model.add_argument(
        "--architecture",
        choices=("unet_1d", "spectral_mask"),
        default="unet_1d",
        help="unet_1d: SeismogramUNet1DModel (CDiffSD's, on the waveform; the options below); "
        "spectral_mask: SeismogramSpectralMaskModel (a 2-D U-Net predicts an STFT mask; --mask_widths).",
    )
    model.add_argument(
        "--mask_widths",
        type=int,
        nargs="+",
        default=[16, 32, 64],
        help="SeismogramSpectralMaskModel's U-Net widths per level (--architecture spectral_mask).",
    )
    model.add_argument(
        "--mask_hop_length",
        type=int,
        default=64,
        help="SeismogramSpectralMaskModel's STFT hop in samples (window 256); 128 halves its cost.",
    )
    model.add_argument("--base_channels", type=int, default=8, help="CDiffSD's dim 8.")
    model.add_argument("--channel_mults", type=int, nargs="+", default=[1, 2, 4, 8])
    model.add_argument("--kernel_size", type=int, default=5)
    model.add_argument("--num_train_timesteps", type=int, default=50)
    model.add_argument("--beta_schedule", type=str, default="cosine", choices=["linear", "cosine"])
    model.add_argument(
        "--noise_scale_range",
        type=float,
        nargs=2,
        default=[1.0, 1.0],
        help="Scheduler r range. The pair dataset already draws the noise level as an SNR, so 1 1 "
        "keeps that SNR; CDiffSD's own is 0.40 0.65 on peak-normalised noise.",
    )
    model.add_argument(
        "--input_gate",
        action="store_true",
        help="A U-Net that can pass its input through a learned gate (SeismogramUNet1DModel(input_gate=True)); "
        "with --pretrained_pipeline, the pretrained weights are kept and the gate starts almost closed.",
    )
    model.add_argument(
        "--input_gate_init",
        type=float,
        default=None,
        help="Initial opening of a new input gate, in (0, 1) (default: the model's, about 0.02).",
    )
    model.add_argument(
        "--mid_attention_heads",
        type=int,
        default=0,
        help="Self-attention heads after the middle block, so the model sees the whole window "
        "(SeismogramUNet1DModel(mid_attention_heads=...)); 0: none.",
    )
    model.add_argument("--sampling_rate", type=float, default=100.0)
    model.add_argument("--window_length", type=int, default=3000)
    model.add_argument("--normalization", type=str, default="joint", choices=["joint", "per_trace"])

    train = add_training_arguments(parser, output_dir="runs/denoiser", learning_rate=1e-3)
    train.add_argument("--pipeline_dir", type=str, default=None, help="Default: OUTPUT_DIR/pipeline.")
    train.add_argument(
        "--loss",
        choices=DENOISING_LOSSES,
        default="l1",
        help="l1 (CDiffSD's); snr: the negative reconstruction SNR in dB per window; segmental_snr: "
        "half that, half the same in 1 s segments, so weak onsets count "
        "(seismic_diffusers.utils.training.denoising_loss).",
    )
    train.add_argument("--second_pass_weight", type=float, default=0.0, help="CDiffSD uses 3.0.")
    train.add_argument(
        "--direct_step_fraction",
        type=float,
        default=0.0,
        help="Share of rows trained at the last step (t = T - 1), the only one direct mode "
        "(num_inference_steps=1) uses; the rest draw t uniformly.",
    )
    train.add_argument("--dataloader_num_workers", type=int, default=0)
    train.add_argument(
        "--validation_pairs", type=int, default=64, help="Held-out synthetic pairs scored at the end."
    )
    add_finetune_arguments(parser, SEISMOGRAM_UNET_PARTS)
    args = parser.parse_args(argv)
    if bool(args.stead_hdf5) != bool(args.stead_csv):
        parser.error("--stead_hdf5 and --stead_csv go together.")
    if bool(args.event_mseed_dir) != bool(args.noise_mseed_dir):
        parser.error("--event_mseed_dir and --noise_mseed_dir go together.")
    if args.stead_hdf5 and args.event_mseed_dir:
        parser.error("Train on STEAD or on miniSEED folders, not both.")
    for name in ("real_noise_fraction", "real_event_fraction"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            parser.error(f"--{name} must be in [0, 1].")
        if getattr(args, name) and (args.stead_hdf5 or args.event_mseed_dir):
            parser.error(f"--{name} mixes real recordings into the synthetic data only.")
    width = args.base_channels * args.channel_mults[-1]
    if args.mid_attention_heads < 0 or (args.mid_attention_heads and width % args.mid_attention_heads):
        parser.error(f"--mid_attention_heads must be 0 or divide the coarsest width ({width}).")
    if args.mid_attention_heads and args.pretrained_pipeline:
        parser.error("--mid_attention_heads builds a new U-Net; a --pretrained_pipeline keeps its own.")
    for name in ("magnitude_range", "distance_range_km"):
        low, high = getattr(args, name)
        if not (np.isfinite([low, high]).all() and low < high) or (name == "distance_range_km" and low <= 0):
            parser.error(f"--{name} needs finite LOW < HIGH (distances above 0 km).")
    if not 0.0 <= args.direct_step_fraction <= 1.0:
        parser.error("--direct_step_fraction must be in [0, 1].")
    if args.architecture == "spectral_mask" and (
        args.input_gate or args.mid_attention_heads or args.freeze or args.pretrained_pipeline
    ):
        parser.error(
            "--architecture spectral_mask builds a new SeismogramSpectralMaskModel: no --input_gate, "
            "--mid_attention_heads, --freeze or --pretrained_pipeline (a pretrained pipeline keeps its own model)."
        )
    if args.loss == "segmental_snr" and args.window_length < SEGMENT_SAMPLES:
        parser.error(f"--loss segmental_snr needs windows of at least {SEGMENT_SAMPLES} samples.")
    check_finetune_arguments(parser, args)
    return args


def build_dataset(args: argparse.Namespace, seed_offset: int = 0, num_events=None, num_noise=None):
    """Clean events and independent noise, paired at random SNR."""
    if args.stead_hdf5:
        from seismic_diffusers.data import read_stead

        events, event_meta = read_stead(args.stead_hdf5, args.stead_csv, category="earthquake_local")
        noise, _ = read_stead(args.stead_hdf5, args.stead_csv, category="noise")
        events, noise = events[..., : args.window_length], noise[..., : args.window_length]
        p = np.array([m.get("p_arrival_sample", -1) for m in event_meta])
        s = np.array([m.get("s_arrival_sample", -1) for m in event_meta])
    elif args.event_mseed_dir:
        from seismic_diffusers.data import read_miniseed_folder

        window = {"num_samples": args.window_length, "sampling_rate": args.sampling_rate}
        events = read_miniseed_folder(args.event_mseed_dir, **window)
        noise = read_miniseed_folder(args.noise_mseed_dir, stride=args.window_length, **window)
        p = s = None
    else:
        generated = generate_local_earthquakes(
            num_events or args.num_events,
            seed=args.data_seed + seed_offset,
            sampling_rate=args.sampling_rate,
            num_samples=args.window_length,
            magnitude_range=tuple(args.magnitude_range),
            distance_range_km=tuple(args.distance_range_km),
        )
        events, p, s = generated["waveforms"], generated["p_arrival_sample"], generated["s_arrival_sample"]
        # training pairs only: five source records would make held-out pairs look better than they are
        num_real_events = 0 if seed_offset else int(round(args.real_event_fraction * len(events)))
        if num_real_events:
            from seismic_diffusers.data.obspy_recordings import training_event_windows

            real, real_p = training_event_windows(
                num_real_events, args.window_length, args.sampling_rate, seed=args.data_seed + seed_offset
            )
            keep = len(events) - num_real_events
            events = np.concatenate([events[:keep, :, : args.window_length].astype(np.float32), real])
            p = np.concatenate([p[:keep], real_p])
            s = np.concatenate([s[:keep], np.full(num_real_events, -1)])
        total = num_noise or args.num_noise
        num_real = int(round(args.real_noise_fraction * total))
        noise = generate_seismic_noise(
            total - num_real,
            seed=args.data_seed + seed_offset,
            sampling_rate=args.sampling_rate,
            num_samples=args.window_length,
        ) if total > num_real else np.zeros((0, 3, args.window_length), np.float32)  # fmt: skip
        if num_real:
            from seismic_diffusers.data.obspy_recordings import training_noise_windows

            real = training_noise_windows(
                num_real, args.window_length, args.sampling_rate, seed=args.data_seed + seed_offset
            )
            noise = np.concatenate([noise.astype(np.float32), real])
    augment = (
        RealisticRecording(args.sampling_rate) if args.realistic_augmentation and not seed_offset else None
    )
    if args.band_hz:  # held-out pairs too: the pipeline band-passes every input
        augment = BandPassedPair(tuple(args.band_hz), args.sampling_rate, augment)
    return DenoisingPairDataset(
        events,
        noise,
        snr_db_range=(args.snr_db_min, args.snr_db_max),
        seed=args.data_seed + seed_offset,
        p_arrival_sample=p,
        s_arrival_sample=s,
        length=len(events) * args.pairs_per_event,
        # held-out pairs (seed_offset > 0) stay unaugmented, so validation scores compare across runs
        augment=augment,
    )


def write_model_card(pipeline_dir: str, args: argparse.Namespace, summary: dict, frozen=()) -> None:
    command = "accelerate launch " + " ".join([sys.argv[0]] + sys.argv[1:])
    data = (
        f"STEAD ({args.stead_hdf5})"
        if args.stead_hdf5
        else f"miniSEED events in {args.event_mseed_dir}, noise in {args.noise_mseed_dir}"
        if args.event_mseed_dir
        else f"synthetic local earthquakes ({args.num_events}; {args.real_event_fraction:.0%} replaced by real "
        f"event windows) and noise records ({args.num_noise}; {args.real_noise_fraction:.0%} replaced by real "
        f"noise windows), data seed {args.data_seed}, SNR {args.snr_db_min:g} to {args.snr_db_max:g} dB"
    )
    if args.band_hz:
        data += f", band-passed to {args.band_hz[0]:g}-{args.band_hz[1]:g} Hz"
    card = f"""---
library_name: seismic_diffusers
license: mit
tags: [seismology, denoising, cold-diffusion, obspy, diffusers, seismic_diffusers]
---

# Cold-diffusion seismogram denoiser

Removes noise from three-component seismograms (100 Hz, 30 s windows); ObsPy Streams in and out.

- Training command: `{command}`
{fine_tune_summary(args, frozen)}- Data: {data}
- Steps: {summary["global_step"]} (batch {args.train_batch_size} x accumulation {args.gradient_accumulation_steps})
- Training time: {summary["train_minutes"]:.1f} min on {summary["device"]}
- Final training loss ({args.loss}, last {args.logging_steps} steps): {summary["loss"]:.4f}
- Held-out synthetic pairs ({args.validation_pairs}): reconstruction SNR {summary["val_snr_in_db"]:.2f} dB in,
  {summary["val_snr_out_db"]:.2f} dB after direct-mode denoising
"""
    Path(pipeline_dir, "README.md").write_text(card)


def main(args: argparse.Namespace) -> None:
    accelerator = make_accelerator(args)
    pipeline_dir = args.pipeline_dir or os.path.join(args.output_dir, "pipeline")

    # 1. Model, processor and degradation schedule: from scratch, or from a pretrained pipeline
    if args.pretrained_pipeline:
        pretrained, _ = load_pretrained_pipeline(
            args.pretrained_pipeline, ColdDiffusionDenoisePipeline, logger
        )
        unet, scheduler, processor = pretrained.unet, pretrained.scheduler, pretrained.processor
        # the data must match what the model was trained on
        args.sampling_rate = processor.config.sampling_rate
        args.window_length = processor.config.window_length
        if args.input_gate and not isinstance(unet, SeismogramUNet1DModel):
            raise ValueError(f"--input_gate applies to a SeismogramUNet1DModel, not a {type(unet).__name__}.")
        if args.input_gate and not unet.config.input_gate:
            gated = SeismogramUNet1DModel(**{**public_config(unet.config), "input_gate": True})
            missing, unexpected = gated.load_state_dict(unet.state_dict(), strict=False)
            if set(missing) != {"conv_gate.weight", "conv_gate.bias"} or unexpected:
                raise ValueError(f"Could not add the input gate: missing {missing}, unexpected {unexpected}.")
            unet = gated
        if args.band_hz:
            processor = SeismogramProcessor(
                **{**public_config(processor.config), "band_hz": list(args.band_hz)}
            )
        elif processor.config.band_hz is not None:
            args.band_hz = list(processor.config.band_hz)
    else:
        processor = SeismogramProcessor(
            sampling_rate=args.sampling_rate,
            window_length=args.window_length,
            normalization=args.normalization,
            band_hz=list(args.band_hz) if args.band_hz else None,
        )
        scheduler = ColdDiffusionScheduler(
            num_train_timesteps=args.num_train_timesteps,
            beta_schedule=args.beta_schedule,
            noise_scale_range=tuple(args.noise_scale_range),
        )
    if args.architecture == "spectral_mask":
        unet = SeismogramSpectralMaskModel(
            hop_length=args.mask_hop_length, block_out_channels=tuple(args.mask_widths)
        )
    elif not args.pretrained_pipeline:
        unet = SeismogramUNet1DModel(
            base_channels=args.base_channels,
            channel_mults=tuple(args.channel_mults),
            kernel_size=args.kernel_size,
            input_gate=args.input_gate,
            mid_attention_heads=args.mid_attention_heads,
        )
    if args.input_gate_init is not None:
        if not (getattr(unet.config, "input_gate", False) and 0 < args.input_gate_init < 1):
            raise ValueError("--input_gate_init needs --input_gate and a value in (0, 1).")
        from seismic_diffusers.models.unet_1d_denoiser import GATE_LOGIT_SCALE

        logit = float(np.log(args.input_gate_init / (1 - args.input_gate_init)))
        torch.nn.init.constant_(unet.conv_gate.bias, logit / GATE_LOGIT_SCALE)
    frozen = freeze_parts(unet, args.freeze, SEISMOGRAM_UNET_PARTS)
    logger.info(
        f"U-Net parameters: {sum(p.numel() for p in unet.parameters()) / 1e6:.3f} M ({len(frozen)} frozen tensors)"
    )
    ema_model = make_ema(accelerator, unet, type(unet), args)

    # 2. Data; re-seeded so batches and noise draws do not depend on how the model was made
    set_seed(args.seed)
    dataset = build_dataset(args)
    dataloader = torch.utils.data.DataLoader(
        dataset,
        batch_size=args.train_batch_size,
        shuffle=True,
        num_workers=args.dataloader_num_workers,
        drop_last=True,
    )
    optimizer, lr_scheduler = build_optimization(accelerator, unet, args)
    unet, optimizer, dataloader, lr_scheduler = accelerator.prepare(unet, optimizer, dataloader, lr_scheduler)
    if ema_model is not None:
        ema_model.to(accelerator.device)

    global_step, first_epoch, resume_step, num_epochs, progress = resume_and_progress(
        accelerator, args, dataloader, logger
    )
    logger.info(f"{len(dataset)} pairs, {args.max_train_steps} steps, batch {args.train_batch_size}")
    log = TrainingLog(accelerator, args, progress, logger)
    timesteps_total = scheduler.config.num_train_timesteps

    for epoch in range(first_epoch, num_epochs):
        unet.train()
        for batch in epoch_batches(accelerator, dataloader, epoch, first_epoch, resume_step):
            if global_step >= args.max_train_steps:
                break
            clean = batch["clean"].to(accelerator.device)
            noise = batch["noise"].to(accelerator.device)
            # Scale by the noisy record's peak, exactly as the pipeline does at inference.
            scale = processor.window_scale(clean + noise)
            clean, noise = clean / scale, noise / scale
            batch_size = clean.shape[0]
            timesteps = torch.randint(0, timesteps_total, (batch_size,), device=clean.device)
            if args.direct_step_fraction:
                direct = torch.rand(batch_size, device=clean.device) < args.direct_step_fraction
                timesteps = torch.where(direct, timesteps_total - 1, timesteps)
            r = scheduler.sample_noise_scale(batch_size).to(clean.device)
            degraded = scheduler.add_noise(clean, noise, timesteps, r)
            with accelerator.accumulate(unet):
                estimate = unet(degraded, timesteps).sample
                loss = denoising_loss(estimate, clean, args.loss)
                if args.second_pass_weight > 0:
                    # CDiffSD's second pass: re-degrade the estimate at another step and denoise again.
                    again = torch.randint(0, timesteps_total, (batch_size,), device=clean.device)
                    redegraded = scheduler.add_noise(estimate, noise, again, r)
                    loss = loss + args.second_pass_weight * denoising_loss(
                        unet(redegraded, again).sample, clean, args.loss
                    )
                backward_and_step(accelerator, loss, unet, optimizer, lr_scheduler, args.max_grad_norm)
            if not accelerator.sync_gradients:
                continue
            if ema_model is not None:
                ema_model.step(unet.parameters())
            global_step += 1
            log.step(global_step, lr_scheduler.get_last_lr()[0], loss=loss)

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        model = trained_model(accelerator, unet, ema_model)
        pipeline = ColdDiffusionDenoisePipeline(unet=model, scheduler=scheduler, processor=processor)
        pipeline.save_pretrained(pipeline_dir, safe_serialization=True)
        # Score held-out synthetic pairs (other seeds; also for STEAD/miniSEED runs, whose own
        # records were all trained on) through the real pipeline, direct mode.
        synthetic = argparse.Namespace(**{**vars(args), "stead_hdf5": None, "event_mseed_dir": None})
        held_out = build_dataset(
            synthetic, seed_offset=10_000, num_events=args.validation_pairs, num_noise=args.validation_pairs
        )
        pairs = [held_out[i] for i in range(args.validation_pairs)]
        clean = torch.stack([p["clean"] for p in pairs])
        noisy = clean + torch.stack([p["noise"] for p in pairs])
        pipeline.set_progress_bar_config(disable=True)
        denoised = torch.as_tensor(pipeline(noisy.numpy()).waveforms)
        summary = {
            "global_step": global_step,
            "train_minutes": log.minutes,
            "device": f"{accelerator.device} ({torch.get_num_threads()} threads), mixed precision {accelerator.mixed_precision}",
            "loss": log.means()["loss"],
            "val_snr_in_db": float(
                reconstruction_snr_db(noisy.numpy(), clean.numpy(), per_channel=False).mean()
            ),
            "val_snr_out_db": float(
                reconstruction_snr_db(denoised.numpy(), clean.numpy(), per_channel=False).mean()
            ),
        }
        write_model_card(pipeline_dir, args, summary, frozen)
        logger.info(f"Saved pipeline to {pipeline_dir}: {summary}")
    accelerator.end_training()


if __name__ == "__main__":
    main(parse_args())

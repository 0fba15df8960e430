#!/usr/bin/env python
"""Stage 2 of joint generation (WaveDiffusion): a latent diffusion model over the stage-1 latents.

Run with `accelerate launch training/train_joint_ldm.py --vqvae runs/joint-vqvae/vqvae
--train_data_dir data/joint/... --pipeline_dir pipelines/openfwi-joint-ldm ...`. Same conventions
as `train_velocity.py`: EMA, atomic checkpoints with `--resume_from_checkpoint latest`, mixed
precision, gradient accumulation, a `diffusers.optimization` LR schedule.

The frozen stage-1 `JointVQModel` encodes and quantises every training pair's seismic data once
(the same held-out split as stage 1). Each latent channel is standardised to mean 0 and std 1
(`--latent_scaling per_channel`, saved as the autoencoder's `latents_mean`/`latents_std`; or one
scalar `scaling_factor` for the whole latent, `global`), and a diffusers `UNet2DModel` learns to
predict their noise under a DDPM schedule (the paper's: 1000 steps, betas 0.0015 to 0.0155 on a
square-root-linear schedule). The output is a complete `JointGenerationPipeline` folder
(safetensors; DDIM for sampling, OpenFWI geometry) with a model card giving the command, data,
time and the PDE deviation of generated pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate.logging import get_logger
from accelerate.utils import set_seed
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel

from seismic_diffusers import OPENFWI, JointGenerationPipeline, JointVQModel
from seismic_diffusers.data import open_paired_folders, split_paired
from seismic_diffusers.models.joint_vq import check_latent_statistics, encode_paired_dataset
from seismic_diffusers.utils.arguments import add_joint_pipeline_output_arguments, add_paired_data_arguments
from seismic_diffusers.utils.finetune import (
    UNET2D_PARTS,
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
    cached_tensor,
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
    parser.add_argument(
        "--vqvae",
        type=str,
        default=None,
        help="Stage-1 folder (train_joint_vqvae.py's OUTPUT_DIR/vqvae), kept frozen. Default with "
        "--pretrained_pipeline: that pipeline's autoencoder.",
    )
    add_paired_data_arguments(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--block_out_channels", type=int, nargs="+", default=[64, 128, 128])
    model.add_argument("--layers_per_block", type=int, default=2)
    model.add_argument("--attention", action="store_true", help="Self-attention in the lowest blocks.")
    model.add_argument("--num_train_timesteps", type=int, default=1000)
    model.add_argument("--beta_start", type=float, default=0.0015)
    model.add_argument("--beta_end", type=float, default=0.0155)
    model.add_argument(
        "--latent_scaling",
        choices=("per_channel", "global"),
        default=None,
        help="Standardise each latent channel (the channels of a two-codebook latent differ in std "
        "over 10x), or scale the whole latent by one factor. Default per_channel; fine-tuning keeps the "
        "pretrained pipeline's scaling and refuses this flag.",
    )

    train = add_training_arguments(
        parser,
        output_dir="runs/joint-ldm",
        train_batch_size=64,
        max_train_steps=4000,
        learning_rate=2e-4,
        lr_warmup_steps=200,
        ema_max_decay=0.9999,
    )
    add_joint_pipeline_output_arguments(train)
    add_finetune_arguments(parser, {k: v for k, v in UNET2D_PARTS.items() if k != "class_embedding"})
    args = parser.parse_args(argv)
    if not (args.vqvae or args.pretrained_pipeline):
        parser.error(
            "Give the stage-1 autoencoder (--vqvae) or a pipeline to fine-tune (--pretrained_pipeline)."
        )
    check_finetune_arguments(parser, args)
    if args.pretrained_pipeline and args.latent_scaling:
        parser.error(
            "--latent_scaling sets how a new UNet sees the latents; fine-tuning keeps the pretrained "
            "pipeline's scaling (the one its UNet learnt). Drop the flag."
        )
    return args


def latent_statistics(latents: torch.Tensor, latent_scaling: str, pretrained=None) -> dict:
    """The autoencoder config entries that scale `latents` `(N, C, h, w)` for the diffusion model:
    `scaling_factor`, `latents_mean`, `latents_std` (the pretrained pipeline's when fine-tuning, the
    scale its UNet learnt)."""
    if pretrained is not None:
        config = pretrained.vqvae.config
        statistics = {
            "scaling_factor": float(config.scaling_factor),
            "latents_mean": config.get("latents_mean"),
            "latents_std": config.get("latents_std"),
        }
    elif latent_scaling == "global":
        statistics = {"scaling_factor": float(1.0 / latents.std()), "latents_mean": None, "latents_std": None}
    else:
        statistics = {
            "scaling_factor": 1.0,
            "latents_mean": [float(v) for v in latents.mean(dim=(0, 2, 3))],
            "latents_std": [float(v) for v in latents.std(dim=(0, 2, 3)).clamp_min(1e-6)],
        }
    check_latent_statistics(statistics["latents_mean"], statistics["latents_std"], latents.shape[1])
    return statistics


def build_unet(args: argparse.Namespace, vqvae: JointVQModel, channels: int) -> tuple:
    """A new `UNet2DModel` over the latent grid and its DDPM training schedule."""
    levels = len(args.block_out_channels)
    attention_from = levels - 1 if args.attention else levels
    unet = UNet2DModel(
        sample_size=vqvae.latent_shape[0],
        in_channels=channels,
        out_channels=channels,
        block_out_channels=tuple(args.block_out_channels),
        layers_per_block=args.layers_per_block,
        down_block_types=tuple(
            "AttnDownBlock2D" if i >= attention_from else "DownBlock2D" for i in range(levels)
        ),
        up_block_types=tuple(
            "AttnUpBlock2D" if i < levels - attention_from else "UpBlock2D" for i in range(levels)
        ),
        norm_num_groups=min(32, args.block_out_channels[0]),
    )
    noise_scheduler = DDPMScheduler(
        num_train_timesteps=args.num_train_timesteps,
        beta_start=args.beta_start,
        beta_end=args.beta_end,
        beta_schedule="scaled_linear",
        clip_sample=False,
    )
    return unet, noise_scheduler


def write_model_card(pipeline_dir: str, args: argparse.Namespace, summary: dict, frozen=()) -> None:
    command = "accelerate launch " + " ".join([sys.argv[0]] + sys.argv[1:])
    stage1 = summary.get("stage1", {})
    operator_note = (
        "- The latent forward operator is the pretrained pipeline's, kept (the autoencoder is frozen in"
        " stage 2); the generated pairs above take their seismic half from it.\n"
        if summary.get("latent_operator")
        else ""
    )
    card = f"""---
library_name: seismic_diffusers
license: mit
tags: [seismology, full-waveform-inversion, openfwi, latent-diffusion, wavediffusion, diffusers, seismic_diffusers]
---

# Joint seismic-velocity latent diffusion (WaveDiffusion-style)

Generates velocity maps (70 x 70, 10 m cells, m/s) together with their five shot gathers
(1000 x 1 ms x 70 receivers, OpenFWI amplitude) from one shared latent, and inverts seismic data.

{fine_tune_summary(args, frozen)}- Stage 2 command: `{command}`
- Stage 1 (`{args.vqvae or args.pretrained_pipeline}`): {stage1.get("steps", "?")} steps, {stage1.get("train_minutes", "?")} min; held-out
  velocity MAE {stage1.get("velocity_mae_m_per_s", float("nan")):.1f} m/s, PDE deviation of reconstructions
  {stage1.get("pde_deviation_mean", float("nan")):.4f}
- Data: {summary["train_pairs"]} pairs from {", ".join(args.train_data_dir)}
- Stage 2 steps: {summary["global_step"]} (batch {args.train_batch_size}); {summary["train_minutes"]:.1f} min on {summary["device"]}
- Latent {tuple(summary["latent_shape"])}, {summary["latent_scaling"]}
- Generated pairs ({args.validation_samples}, DDIM {args.validation_steps_inference} steps): PDE deviation
  {summary["pde_deviation_mean"]:.4f} +- {summary["pde_deviation_std"]:.4f}
{operator_note}"""
    Path(pipeline_dir, "README.md").write_text(card)


def main(args: argparse.Namespace) -> None:
    accelerator = make_accelerator(args)
    pipeline_dir = args.pipeline_dir or os.path.join(args.output_dir, "pipeline")

    # 1. A pretrained pipeline to start from, and the frozen stage 1
    pretrained, vqvae_dir = None, args.vqvae
    if args.pretrained_pipeline:
        pretrained, folder = load_pretrained_pipeline(
            args.pretrained_pipeline, JointGenerationPipeline, logger
        )
        vqvae_dir = vqvae_dir or os.path.join(folder, "vqvae")
    vqvae = JointVQModel.from_pretrained(vqvae_dir)
    vqvae = vqvae.eval().requires_grad_(False)

    # 2. The latents of every training pair (cached: encoding is the slow part)
    set_seed(args.seed)
    train_set, _ = split_paired(open_paired_folders(args.train_data_dir), args.validation_fraction)
    latents = cached_tensor(
        os.path.join(args.output_dir, "latents.safetensors"),
        lambda: encode_paired_dataset(vqvae, train_set, args.encode_batch_size),
        accelerator.is_main_process,
    )
    statistics = latent_statistics(latents, args.latent_scaling, pretrained)
    vqvae.register_to_config(**statistics)
    latents = vqvae.scale_latents(latents)
    scaling_factor = statistics["scaling_factor"]
    logger.info(f"{len(latents)} latents {tuple(latents.shape[1:])}, scaling {statistics}")

    # 3. The denoiser and its schedule: new, or the pretrained pipeline's
    channels = latents.shape[1]
    if pretrained is not None:
        unet, sampler = pretrained.unet.train(), pretrained.scheduler
        noise_scheduler = DDPMScheduler.from_config(sampler.config)
        if unet.config.in_channels != channels:
            raise ValueError(
                f"The pretrained UNet takes {unet.config.in_channels}-channel latents but --vqvae makes {channels}."
            )
    else:
        unet, noise_scheduler = build_unet(args, vqvae, channels)
        sampler = DDIMScheduler.from_config(noise_scheduler.config)
    frozen = freeze_parts(unet, args.freeze, UNET2D_PARTS)
    logger.info(
        f"UNet2DModel parameters: {sum(p.numel() for p in unet.parameters()) / 1e6:.2f} M ({len(frozen)} frozen tensors)"
    )
    ema_model = make_ema(accelerator, unet, UNet2DModel, args)
    set_seed(args.seed)
    num_train_timesteps = noise_scheduler.config.num_train_timesteps

    dataloader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(latents),
        batch_size=args.train_batch_size,
        shuffle=True,
        drop_last=len(latents) >= args.train_batch_size,
    )
    optimizer, lr_scheduler = build_optimization(accelerator, unet, args)
    unet, optimizer, dataloader, lr_scheduler = accelerator.prepare(unet, optimizer, dataloader, lr_scheduler)
    if ema_model is not None:
        ema_model.to(accelerator.device)

    global_step, first_epoch, resume_step, num_epochs, progress = resume_and_progress(
        accelerator, args, dataloader, logger
    )
    log = TrainingLog(accelerator, args, progress, logger)

    # 4. Train: predict the noise added to scaled latents
    for epoch in range(first_epoch, num_epochs):
        unet.train()
        for (clean,) in epoch_batches(accelerator, dataloader, epoch, first_epoch, resume_step):
            if global_step >= args.max_train_steps:
                break
            noise = torch.randn_like(clean)
            timesteps = torch.randint(0, num_train_timesteps, (clean.shape[0],), device=clean.device)
            noisy = noise_scheduler.add_noise(clean, noise, timesteps)
            with accelerator.accumulate(unet):
                loss = F.mse_loss(unet(noisy, timesteps).sample.float(), noise.float())
                backward_and_step(accelerator, loss, unet, optimizer, lr_scheduler, args.max_grad_norm)
            if not accelerator.sync_gradients:
                continue
            if ema_model is not None:
                ema_model.step(unet.parameters())
            global_step += 1
            log.step(global_step, lr_scheduler.get_last_lr()[0], loss=loss)

    # 5. The pipeline folder, scored on freshly generated pairs
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        model = trained_model(accelerator, unet, ema_model)
        pipeline = JointGenerationPipeline(
            vqvae=vqvae,
            unet=model,
            scheduler=sampler,
            geometry=OPENFWI if pretrained is None else pretrained.geometry,
            # the autoencoder is frozen in stage 2, so a pretrained operator's codes are unchanged
            latent_operator=None if pretrained is None else pretrained.latent_operator,
        )
        pipeline.save_pretrained(pipeline_dir, safe_serialization=True)
        pipeline.set_progress_bar_config(disable=True)
        pipeline.to(accelerator.device)  # autoencoder loaded on the CPU, UNet trained on the device
        generated = pipeline(
            batch_size=args.validation_samples,
            generator=torch.Generator().manual_seed(args.seed),
            num_inference_steps=args.validation_steps_inference,
            return_pde_deviation=True,
        )
        stage1_path = Path(vqvae_dir, "stage1_scores.json")
        summary = {
            "global_step": global_step,
            "train_minutes": log.minutes,
            "device": f"{accelerator.device} ({torch.get_num_threads()} threads), mixed precision {accelerator.mixed_precision}",
            "train_pairs": len(latents),
            "latent_shape": tuple(latents.shape[1:]),
            "scaling_factor": scaling_factor,
            "latent_scaling": "standardised per channel"
            if statistics["latents_mean"] is not None
            else f"scaling factor {scaling_factor:.4f}",
            "pde_deviation_mean": float(generated.pde_deviation.mean()),
            "pde_deviation_std": float(generated.pde_deviation.std()),
            "stage1": json.loads(stage1_path.read_text()) if stage1_path.is_file() else {},
            "latent_operator": pipeline.latent_operator is not None,
        }
        write_model_card(pipeline_dir, args, summary, frozen)
        logger.info(f"Saved pipeline to {pipeline_dir}: {summary}")
    accelerator.end_training()


if __name__ == "__main__":
    main(parse_args())

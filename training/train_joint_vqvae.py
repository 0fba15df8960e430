#!/usr/bin/env python
"""Stage 1 of joint generation (WaveDiffusion): train the `JointVQModel` autoencoder with Accelerate.

Run with `accelerate launch training/train_joint_vqvae.py --train_data_dir data/joint/flatvel-a ...`.
Same conventions as `train_velocity.py`: EMA, atomic checkpoints with `--resume_from_checkpoint
latest`, mixed precision, gradient accumulation, a `diffusers.optimization` LR schedule.

Data: OpenFWI-layout folders (`data/dataN.npy` + `model/modelN.npy`), from `seismic-diffusers
make-dataset` or real OpenFWI files; the last `--validation_fraction` of the pairs is held out.
The encoder reads normalised seismic data; the latent is quantised and decoded to both
normalised seismic and normalised velocity. Loss: L1 on velocity + `--seismic_loss_weight` x MSE
on seismic (the PDE deviation is an MSE too; an L1 loss left the sparse gathers at their
background value in a first run) + the VQ commitment loss; optionally the gathers' relative L2 in raw
amplitude (`--seismic_amplitude_loss_weight`) and after automatic gain control
(`--seismic_agc_loss_weight`, which weighs late reflections as much as the direct wave). (The paper adds a perceptual and an adversarial loss; both
need pretrained networks or long schedules that a CPU budget does not allow.)

The result, `OUTPUT_DIR/vqvae` (safetensors), is the `--vqvae` of `train_joint_ldm.py`;
`OUTPUT_DIR/vqvae/stage1_scores.json` gives held-out velocity MAE (m/s), seismic error and the
PDE deviation of reconstructed pairs.
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

from seismic_diffusers import JointGenerationPipeline, JointVQModel
from seismic_diffusers.data import open_paired_folders, split_paired
from seismic_diffusers.physics import agc_misfit, pde_deviation
from seismic_diffusers.utils.arguments import add_paired_data_arguments
from seismic_diffusers.utils.finetune import (
    JOINT_VQ_PARTS,
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

logger = get_logger(__name__, log_level="INFO")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_paired_data_arguments(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--block_out_channels", type=int, nargs="+", default=[16, 32, 64, 64])
    model.add_argument("--layers_per_block", type=int, default=1)
    model.add_argument("--latent_channels", type=int, default=8)
    model.add_argument("--num_vq_embeddings", type=int, default=512)
    model.add_argument("--num_codebooks", type=int, default=1, choices=[1, 2], help="1 = 1VQ, 2 = 2VQ.")
    model.add_argument(
        "--velocity_encoder",
        action="store_true",
        help="2VQ with two encoders: the velocity map gets its own encoder, codebook and half of the "
        "latent (needs --num_codebooks 2).",
    )
    model.add_argument("--seismic_working_shape", type=int, nargs=2, default=[256, 64])
    model.add_argument(
        "--seismic_receiver_padding",
        type=int,
        default=0,
        help="Edge-pad each side of the receiver axis by this many instead of resampling it (the working "
        "shape's receivers must be 70 + 2 x this); resampling 70 receivers to 64 costs 0.16 relative L2.",
    )
    model.add_argument(
        "--velocity_working_size", type=int, default=64, help="Side of the velocity decoder's output."
    )
    model.add_argument("--norm_num_groups", type=int, default=8)
    model.add_argument(
        "--seismic_loss",
        type=str,
        default="mse",
        choices=["mse", "l1"],
        help="MSE (default) follows the arrivals; L1 pulls sparse gathers to their background value.",
    )
    model.add_argument(
        "--seismic_loss_weight", type=float, default=20.0, help="Balances the two losses at the start."
    )
    model.add_argument(
        "--seismic_amplitude_loss_weight",
        type=float,
        default=0.0,
        help="Weight of a loss on the gathers in raw amplitude: the batch's squared relative L2 error "
        "after undoing the log normalisation. The MSE in normalised space weighs the direct wave, most "
        "of the raw energy, as little as the late reflections, so it leaves the raw error (the "
        "stage-1 target) high.",
    )
    model.add_argument(
        "--seismic_agc_loss_weight",
        type=float,
        default=0.0,
        help="Weight of a loss on the gathers after automatic gain control (`physics.agc_misfit`: the "
        "squared relative L2 of both gathers times the true gather's gain). Neither the normalised "
        "MSE nor the raw-amplitude loss sees the reflections after 0.5 s, which are 60x weaker than the "
        "direct wave; this loss weighs every arrival alike.",
    )
    model.add_argument(
        "--seismic_agc_window", type=int, default=251, help="AGC window, time samples (odd; 1 ms each)."
    )
    model.add_argument(
        "--codebook_refresh_steps",
        type=int,
        default=100,
        help="Every N steps of the first half of training, point codebook entries unused in those steps "
        "at current latents (0: never). A fresh run also initialises the codebook from the first batches.",
    )

    train = add_training_arguments(
        parser,
        output_dir="runs/joint-vqvae",
        train_batch_size=16,
        max_train_steps=2000,
        adam_weight_decay=0.0,
    )
    train.add_argument("--dataloader_num_workers", type=int, default=0)
    train.add_argument("--validation_pairs", type=int, default=32, help="Held-out pairs scored at the end.")
    add_finetune_arguments(parser, JOINT_VQ_PARTS)
    args = parser.parse_args(argv)
    check_finetune_arguments(parser, args)
    if args.seismic_amplitude_loss_weight < 0:
        parser.error(
            f"--seismic_amplitude_loss_weight must be >= 0; got {args.seismic_amplitude_loss_weight}."
        )
    if args.seismic_agc_loss_weight < 0:
        parser.error(f"--seismic_agc_loss_weight must be >= 0; got {args.seismic_agc_loss_weight}.")
    if args.seismic_agc_window < 1 or args.seismic_agc_window % 2 == 0:
        parser.error(
            f"--seismic_agc_window must be an odd number of samples >= 1; got {args.seismic_agc_window}."
        )
    if args.velocity_encoder and args.num_codebooks != 2:
        parser.error("--velocity_encoder needs --num_codebooks 2 (one codebook per modality).")
    return args


@torch.no_grad()
def score_reconstructions(model: JointVQModel, dataset, num: int) -> dict:
    """Held-out velocity MAE (m/s), seismic relative L2, and the PDE deviation of the decoded pairs."""
    items = [dataset[i] for i in range(min(num, len(dataset)))]
    if not items:
        return {}
    velocity = torch.stack([item["velocity"][0] for item in items])
    seismic = torch.stack([item["seismic"] for item in items])
    latents = model.encode(
        model.normalize_seismic(seismic), model.normalize_velocity(velocity[:, None])
    ).latents
    codes = model.quantize(latents)[2]
    decoded = model.decode(latents)
    velocity_out = model.denormalize_velocity(decoded.velocity[:, 0])
    seismic_out = model.denormalize_seismic(decoded.seismic)
    deviation = pde_deviation(velocity_out, seismic_out)
    return {
        "pairs": len(items),
        "velocity_mae_m_per_s": float((velocity_out - velocity).abs().mean()),
        "seismic_relative_l2": float((seismic_out - seismic).norm() / seismic.norm()),
        "seismic_agc_relative_l2": float(agc_misfit(seismic_out, seismic).sqrt()),
        "pde_deviation_mean": float(deviation.mean()),
        "pde_deviation_std": float(deviation.std()) if len(items) > 1 else 0.0,
        "codes_used": int(codes.unique().numel()),
        "codebook_size": model.config.num_vq_embeddings * model.config.num_codebooks,
    }


def save_fine_tuned_pipeline(pretrained, vqvae: JointVQModel, args, scores: dict, frozen) -> None:
    """OUTPUT_DIR/pipeline: the pretrained pipeline with the fine-tuned autoencoder, and its card."""
    pipeline_dir = os.path.join(args.output_dir, "pipeline")
    pretrained.vqvae = vqvae
    same_latents = {"encoder", "codebook"} <= set(args.freeze)
    operator_note = ""
    if getattr(pretrained, "latent_operator", None) is not None:
        if same_latents:
            operator_note = (
                "\n- The latent forward operator is the pretrained one: the codes it maps are unchanged."
            )
        else:  # it maps codes of the old encoders and codebooks
            pretrained.register_modules(latent_operator=None)
            operator_note = (
                "\n- The pretrained latent forward operator was dropped (it maps the old codes): train a new one"
                " with `train_joint_latent_operator.py` after stage 2."
            )
    pretrained.save_pretrained(pipeline_dir, safe_serialization=True)
    command = "accelerate launch " + " ".join([sys.argv[0]] + sys.argv[1:])
    card = f"""---
library_name: seismic_diffusers
license: mit
tags: [seismology, full-waveform-inversion, openfwi, latent-diffusion, wavediffusion, diffusers, seismic_diffusers]
---

# Joint seismic-velocity latent diffusion, stage 1 fine-tuned

{fine_tune_summary(args, frozen)}- Command: `{command}`
- Data: {scores["train_pairs"]} pairs from {", ".join(args.train_data_dir)}; {scores["steps"]} steps, {scores["train_minutes"]} min
- Held-out velocity MAE {scores.get("velocity_mae_m_per_s", float("nan")):.1f} m/s, PDE deviation of reconstructions
  {scores.get("pde_deviation_mean", float("nan")):.4f}
- The latent diffusion model is the pretrained one, unchanged. {"The encoder and codebook were frozen, so the latents it learnt are unchanged." if same_latents else "The encoder or codebook changed: fine-tune stage 2 on these latents next (`train_joint_ldm.py --pretrained_pipeline` this folder)."}{operator_note}
"""
    Path(pipeline_dir, "README.md").write_text(card)
    logger.info(f"Saved the fine-tuned pipeline to {pipeline_dir}")


def main(args: argparse.Namespace) -> None:
    accelerator = make_accelerator(args)

    # 1. The autoencoder: from scratch, or a pretrained pipeline's (its units and codebook included)
    pretrained = None
    if args.pretrained_pipeline:
        pretrained, _ = load_pretrained_pipeline(args.pretrained_pipeline, JointGenerationPipeline, logger)
        model = pretrained.vqvae.train()
    else:
        model = JointVQModel(
            block_out_channels=tuple(args.block_out_channels),
            layers_per_block=args.layers_per_block,
            latent_channels=args.latent_channels,
            num_vq_embeddings=args.num_vq_embeddings,
            num_codebooks=args.num_codebooks,
            velocity_encoder=args.velocity_encoder,
            seismic_working_shape=tuple(args.seismic_working_shape),
            seismic_receiver_padding=args.seismic_receiver_padding,
            velocity_working_size=args.velocity_working_size,
            norm_num_groups=args.norm_num_groups,
        )
    frozen = freeze_parts(model, args.freeze, JOINT_VQ_PARTS)
    # a pretrained or frozen codebook is neither re-initialised from data nor refreshed
    refresh_steps = 0 if "codebook" in args.freeze else args.codebook_refresh_steps
    logger.info(
        f"JointVQModel parameters: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M ({len(frozen)} frozen tensors)"
    )
    ema_model = make_ema(accelerator, model, JointVQModel, args, subfolder="vqvae")

    # 2. Data; re-seeded so batches do not depend on how the model was made
    set_seed(args.seed)
    train_set, val_set = split_paired(open_paired_folders(args.train_data_dir), args.validation_fraction)

    dataloader = torch.utils.data.DataLoader(
        train_set,
        batch_size=args.train_batch_size,
        shuffle=True,
        num_workers=args.dataloader_num_workers,
        drop_last=len(train_set) >= args.train_batch_size,
    )
    optimizer, lr_scheduler = build_optimization(accelerator, model, args)
    model, optimizer, dataloader, lr_scheduler = accelerator.prepare(
        model, optimizer, dataloader, lr_scheduler
    )
    if ema_model is not None:
        ema_model.to(accelerator.device)
    core = accelerator.unwrap_model(model)

    global_step, first_epoch, resume_step, num_epochs, progress = resume_and_progress(
        accelerator, args, dataloader, logger
    )
    logger.info(f"{len(train_set)} training pairs, {len(val_set)} held out; {args.max_train_steps} steps")
    log = TrainingLog(accelerator, args, progress, logger)
    num_codebooks, codebook_size = core.config.num_codebooks, core.config.num_vq_embeddings
    usage = torch.zeros(num_codebooks, codebook_size, device=accelerator.device)
    if global_step == 0 and refresh_steps and pretrained is None:
        with torch.no_grad():
            first = [batch for _, batch in zip(range(4), dataloader, strict=False)]
            latents = core.encode(
                core.normalize_seismic(torch.cat([b["seismic"] for b in first]).to(accelerator.device)),
                core.normalize_velocity(torch.cat([b["velocity"] for b in first]).to(accelerator.device)),
            ).latents
        generator = torch.Generator().manual_seed(args.seed)
        logger.info(
            f"Codebook initialised from data: {core.refresh_codebooks(latents, generator=generator)} entries"
        )

    for epoch in range(first_epoch, num_epochs):
        model.train()
        for batch in epoch_batches(accelerator, dataloader, epoch, first_epoch, resume_step):
            if global_step >= args.max_train_steps:
                break
            seismic = core.normalize_seismic(batch["seismic"])
            velocity = core.normalize_velocity(batch["velocity"])
            with accelerator.accumulate(model):
                decoded = model(seismic, velocity)
                velocity_loss = F.l1_loss(decoded.velocity.float(), velocity.float())
                seismic_loss = (F.mse_loss if args.seismic_loss == "mse" else F.l1_loss)(
                    decoded.seismic.float(), seismic.float()
                )
                loss = velocity_loss + args.seismic_loss_weight * seismic_loss + decoded.commit_loss.float()
                # raw-amplitude and gained losses: logged always, in the graph only when weighted;
                # clamped far outside the data's [-1, 1] so expm1 cannot overflow on a wild output
                raw = batch["seismic"].float()
                with torch.set_grad_enabled(
                    bool(args.seismic_amplitude_loss_weight or args.seismic_agc_loss_weight)
                ):
                    raw_estimate = core.denormalize_seismic(decoded.seismic.clamp(-3, 3))
                with torch.set_grad_enabled(bool(args.seismic_amplitude_loss_weight)):
                    amplitude_loss = (raw_estimate - raw).pow(2).sum() / raw.pow(2).sum().clamp_min(1e-12)
                with torch.set_grad_enabled(bool(args.seismic_agc_loss_weight)):
                    agc_loss = agc_misfit(raw_estimate, raw, args.seismic_agc_window)
                loss = loss + args.seismic_amplitude_loss_weight * amplitude_loss
                loss = loss + args.seismic_agc_loss_weight * agc_loss
                backward_and_step(accelerator, loss, model, optimizer, lr_scheduler, args.max_grad_norm)
            if not accelerator.sync_gradients:
                continue
            for book in range(num_codebooks):
                usage[book] += torch.bincount(decoded.indices[:, book].flatten(), minlength=codebook_size)
            # Refresh in the first half only, so the EMA of the codebook settles before the end.
            refresh_now = refresh_steps and (global_step + 1) % refresh_steps == 0
            if refresh_now and global_step < args.max_train_steps // 2:
                with torch.no_grad():
                    latents = core.encode(seismic, velocity).latents
                refreshed = core.refresh_codebooks(latents, usage)
                if refreshed:
                    logger.info(f"step {global_step + 1}: {refreshed} unused codebook entries refreshed")
            if refresh_now:
                usage.zero_()
            if ema_model is not None:
                ema_model.step(model.parameters())
            global_step += 1
            log.step(
                global_step,
                lr_scheduler.get_last_lr()[0],
                loss=loss,
                velocity_l1=velocity_loss,
                seismic_loss=seismic_loss,
                seismic_amplitude_loss=amplitude_loss,
                seismic_agc_loss=agc_loss,
            )

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        core = trained_model(accelerator, model, ema_model)
        vqvae_dir = os.path.join(args.output_dir, "vqvae")
        core.save_pretrained(vqvae_dir, safe_serialization=True)
        scores = score_reconstructions(core, val_set, args.validation_pairs)
        scores.update(
            steps=global_step,
            train_minutes=round(log.minutes, 1),
            loss=log.means()["loss"],
            train_pairs=len(train_set),
            data=list(args.train_data_dir),
        )
        with open(os.path.join(vqvae_dir, "stage1_scores.json"), "w") as handle:
            json.dump(scores, handle, indent=2)
        logger.info(f"Saved {vqvae_dir}: {scores}")
        if pretrained is not None:
            save_fine_tuned_pipeline(pretrained, core, args, scores, frozen)
    accelerator.end_training()


if __name__ == "__main__":
    main(parse_args())

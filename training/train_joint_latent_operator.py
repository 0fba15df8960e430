#!/usr/bin/env python
"""Train a joint pipeline's `LatentForwardOperator`: the seismic half of a two-encoder latent from its velocity half.

Run with `accelerate launch training/train_joint_latent_operator.py --pipeline runs/joint-ldm/pipeline
--train_data_dir data/joint-8 --latents_cache runs/joint-ldm/latents.safetensors ...`. Same
conventions as `train_joint_ldm.py`: EMA, atomic checkpoints with `--resume_from_checkpoint latest`,
a `diffusers.optimization` LR schedule.

The pipeline's frozen two-encoder (2VQ) autoencoder encodes and quantises every training pair (the
same split as both stages; `--latents_cache` reuses `train_joint_ldm.py`'s
`OUTPUT_DIR/latents.safetensors`, which holds exactly these latents). The operator regresses the
seismic half of each latent on its velocity half, both in the diffusion model's scaled space (mean
squared error). With `--physics_targets` the target is instead the seismic code of deepwave's gathers
over the map the velocity half decodes to (`physics.forward_model`): the pair the operator learns to
produce then satisfies the wave equation for the decoded velocity, not only for the true one (which
the velocity decoder reproduces with some error). Such targets need no recorded seismic data, so
`--extra_velocity_maps N` adds N maps drawn by `generate_velocity_models` to the training set, and
`--generated_samples N` the velocity codes of N of the pipeline's own diffusion samples (the codes
the operator meets at sampling time). The output is the input pipeline with the operator added, written to
`--pipeline_dir`; its card gains a section with the command, the held-out error and the PDE
deviation (deepwave) of generated pairs with and without the operator.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate.logging import get_logger
from accelerate.utils import set_seed

from seismic_diffusers import JointGenerationPipeline, LatentForwardOperator, forward_model
from seismic_diffusers.data import (
    VELOCITY_FAMILIES,
    generate_velocity_models,
    open_paired_folders,
    split_paired,
)
from seismic_diffusers.models.joint_vq import encode_paired_dataset
from seismic_diffusers.utils.arguments import add_joint_pipeline_output_arguments, add_paired_data_arguments
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
CARD_SECTION = "## Latent forward operator"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pipeline",
        type=str,
        required=True,
        help="A JointGenerationPipeline folder whose autoencoder has a velocity encoder (2VQ).",
    )
    add_paired_data_arguments(parser)
    parser.add_argument(
        "--latents_cache",
        type=str,
        default=None,
        help="Unscaled training latents of this pipeline's autoencoder (train_joint_ldm.py's "
        "OUTPUT_DIR/latents.safetensors); written here when missing. Default OUTPUT_DIR/latents.safetensors.",
    )
    parser.add_argument(
        "--physics_targets",
        action="store_true",
        help="Regress on the seismic code of deepwave gathers over each decoded velocity half (cached in "
        "OUTPUT_DIR/physics_targets.safetensors) instead of the encoded data's seismic code.",
    )
    parser.add_argument(
        "--extra_velocity_maps",
        type=int,
        default=0,
        help="With --physics_targets: also train on this many velocity maps drawn by generate_velocity_models "
        "(spread over the eight families; no seismic data needed, the targets come from deepwave), cached in "
        "OUTPUT_DIR/extra_physics_targets.safetensors.",
    )
    parser.add_argument(
        "--extra_maps_seed",
        type=int,
        default=500000,
        help="Data seed of the extra maps (default 500000, used by no dataset or benchmark).",
    )
    parser.add_argument(
        "--generated_samples",
        type=int,
        default=0,
        help="With --physics_targets: also train on the velocity codes of this many of the pipeline's own "
        "diffusion samples (what the operator sees at sampling time), cached in "
        "OUTPUT_DIR/generated_physics_targets.safetensors.",
    )
    parser.add_argument("--generated_steps", type=int, default=50, help="DDIM steps of those samples.")
    parser.add_argument(
        "--generated_seed",
        type=int,
        default=200000,
        help="Generator seed of the first batch of those samples (each batch adds 1); the final check uses --seed.",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--width", type=int, default=96)
    model.add_argument("--dilations", type=int, nargs="+", default=[1, 1, 2, 4, 1])
    model.add_argument(
        "--attention_layers", type=int, default=0, help="Transformer blocks after the convolutions."
    )
    model.add_argument("--attention_heads", type=int, default=4)
    train = add_training_arguments(
        parser,
        output_dir="runs/joint-latent-operator",
        train_batch_size=64,
        max_train_steps=3000,
        learning_rate=1e-3,
        lr_warmup_steps=50,
        ema_max_decay=0.999,
    )
    add_joint_pipeline_output_arguments(train)
    args = parser.parse_args(argv)
    if args.validation_samples < 1 or args.validation_steps_inference < 1:
        parser.error("--validation_samples and --validation_steps_inference must be >= 1.")
    for flag, count in (
        ("--extra_velocity_maps", args.extra_velocity_maps),
        ("--generated_samples", args.generated_samples),
    ):
        if count < 0 or (count and not args.physics_targets):
            parser.error(f"{flag} must be >= 0 and needs --physics_targets (its targets come from deepwave).")
    if args.generated_steps < 1:
        parser.error("--generated_steps must be >= 1.")
    folders = {os.path.abspath(p) for p in (args.output_dir, args.pipeline)}
    if os.path.abspath(args.pipeline_dir or os.path.join(args.output_dir, "pipeline")) in folders:
        parser.error(
            "--pipeline_dir must differ from --output_dir and --pipeline: it is replaced when written."
        )
    return args


def load_two_encoder_pipeline(folder: str) -> JointGenerationPipeline:
    """The pipeline to add an operator to; a `ValueError` unless its autoencoder has a velocity encoder."""
    pipeline = JointGenerationPipeline.from_pretrained(folder)
    if not pipeline.vqvae.config.velocity_encoder:
        raise ValueError(
            f"{folder}'s autoencoder encodes only seismic data (velocity_encoder=False): its latent has no "
            "velocity half to predict from. Train a two-encoder stage 1 (train_joint_vqvae.py --velocity_encoder "
            "--num_codebooks 2) and its stage 2 first."
        )
    return pipeline


def training_latents(vqvae, dataset, cache: str, batch_size: int, is_main: bool) -> torch.Tensor:
    """The unscaled latents of `dataset`, from `cache` when it exists (checked against the autoencoder's
    latent shape), else encoded and written there."""
    latents = cached_tensor(cache, lambda: encode_paired_dataset(vqvae, dataset, batch_size), is_main)
    expected = (vqvae.config.latent_channels, *vqvae.latent_shape)
    if tuple(latents.shape[1:]) != expected or len(latents) != len(dataset):
        raise ValueError(
            f"{cache} holds {len(latents)} latents of shape {tuple(latents.shape[1:])}, but this autoencoder "
            f"and --train_data_dir give {len(dataset)} of shape {expected}: it was made with other data or "
            "another autoencoder. Point --latents_cache at a new path to encode afresh."
        )
    return latents


@torch.no_grad()
def physics_seismic_codes(pipeline, latents: torch.Tensor, batch_size: int) -> torch.Tensor:
    """`latents` `(N, C, h, w)` (unscaled) with the seismic half replaced by the quantised seismic code
    of `physics.forward_model`'s gathers over the velocity each latent decodes to."""
    from tqdm.auto import tqdm

    vqvae, half, coupled = pipeline.vqvae, pipeline.vqvae.config.latent_channels // 2, []
    for start in tqdm(range(0, len(latents), batch_size), desc="deepwave targets", leave=False):
        chunk = latents[start : start + batch_size]
        velocity = vqvae.denormalize_velocity(
            vqvae.decode(chunk.to(vqvae.device, vqvae.dtype)).velocity[:, 0]
        )
        gathers = forward_model(velocity.float(), geometry=pipeline.geometry, device=vqvae.device)
        code = vqvae.quantizers[0](vqvae.encode_seismic(vqvae.normalize_seismic(gathers.to(vqvae.dtype))))[0]
        coupled.append(torch.cat([code.float().cpu(), chunk[:, half:]], dim=1))
    return torch.cat(coupled) if coupled else latents


@torch.no_grad()
def velocity_map_latents(vqvae, count: int, seed: int, batch_size: int) -> torch.Tensor:
    """Unscaled latents `(count, C, h, w)` of maps drawn by `generate_velocity_models` (about
    `count / 8` per family): the quantised velocity code, and zeros for the seismic half
    (`physics_seismic_codes` fills it in)."""
    per_family = [
        count // len(VELOCITY_FAMILIES) + (i < count % len(VELOCITY_FAMILIES))
        for i in range(len(VELOCITY_FAMILIES))
    ]
    maps = torch.cat(
        [
            torch.as_tensor(generate_velocity_models(f, n, seed=seed))
            for f, n in zip(VELOCITY_FAMILIES, per_family, strict=True)
            if n
        ]
    )
    codes = []
    for start in range(0, len(maps), batch_size):
        velocity = vqvae.normalize_velocity(
            maps[start : start + batch_size, None].to(vqvae.device, vqvae.dtype)
        )
        codes.append(vqvae.quantizers[1](vqvae.encode_velocity(velocity))[0].float().cpu())
    velocity_half = torch.cat(codes)
    return torch.cat([torch.zeros_like(velocity_half), velocity_half], dim=1)


@torch.no_grad()
def generated_velocity_latents(pipeline, count: int, steps: int, batch_size: int, seed: int) -> torch.Tensor:
    """Unscaled latents `(count, C, h, w)` of the pipeline's own diffusion samples (DDIM, `steps`
    steps): the velocity half as sampled, snapped to its codebook as the pipeline does before the
    operator, and zeros for the seismic half (`physics_seismic_codes` fills it in). The operator sees
    such codes at sampling time, and they lie off the data's distribution."""
    from tqdm.auto import tqdm

    vqvae, half, codes = pipeline.vqvae, pipeline.vqvae.config.latent_channels // 2, []
    pipeline.set_progress_bar_config(disable=True)
    for index, start in enumerate(tqdm(range(0, count, batch_size), desc="generated samples", leave=False)):
        scaled = pipeline(
            batch_size=min(batch_size, count - start),
            generator=torch.Generator().manual_seed(seed + index),
            num_inference_steps=steps,
            output_type="latent",
            use_latent_operator=False,
        ).latents
        velocity_half = vqvae.quantizers[1](vqvae.unscale_latents(scaled.to(vqvae.dtype))[:, half:])[0]
        codes.append(velocity_half.float().cpu())
    velocity_half = torch.cat(codes)
    return torch.cat([torch.zeros_like(velocity_half), velocity_half], dim=1)


@torch.no_grad()
def held_out_error(operator, scaled: torch.Tensor, half: int) -> float:
    """Mean squared error of the predicted seismic half on held-out scaled latents (per element)."""
    if len(scaled) == 0:
        return float("nan")
    return float(F.mse_loss(operator(scaled[:, half:]).sample, scaled[:, :half]))


def write_card_section(source_dir: str, pipeline_dir: str, args, summary: dict) -> None:
    """The source pipeline's card, with this run's section appended (replacing an earlier one)."""
    source = Path(source_dir, "README.md")
    card = source.read_text() if source.is_file() else "# Joint seismic-velocity latent diffusion\n"
    card = card.split(CARD_SECTION)[0].rstrip() + "\n\n"
    command = "accelerate launch " + " ".join([sys.argv[0]] + sys.argv[1:])
    card += f"""{CARD_SECTION}

Generated pairs keep the sampled velocity half and take their seismic half from a
`LatentForwardOperator` ({summary["parameters"] / 1e6:.2f} M parameters) trained by regression on
the training latents.

- Command: `{command}`
- Steps: {summary["global_step"]} (batch {args.train_batch_size}); {summary["train_minutes"]:.1f} min on {summary["device"]}
- Targets: {"the seismic code of deepwave gathers over each decoded velocity half" if args.physics_targets else "the encoded data's seismic code"}{f"; training set plus {args.extra_velocity_maps} maps drawn by generate_velocity_models (seed {args.extra_maps_seed})" if args.extra_velocity_maps else ""}{f"; plus the velocity codes of {args.generated_samples} of the pipeline's own samples (DDIM {args.generated_steps} steps, seed {args.generated_seed})" if args.generated_samples else ""}
- Held-out latent error (MSE, scaled space, {summary["held_out_pairs"]} pairs): {summary["held_out_mse"]:.4f}
  (predicting zeros: {summary["held_out_zero_mse"]:.4f})
- Generated pairs ({args.validation_samples}, DDIM {args.validation_steps_inference} steps), PDE deviation mean:
  {summary["pde_deviation_with"]:.5f} with the operator, {summary["pde_deviation_without"]:.5f} without
"""
    Path(pipeline_dir, "README.md").write_text(card)


def main(args: argparse.Namespace) -> None:
    accelerator = make_accelerator(args)
    pipeline_dir = args.pipeline_dir or os.path.join(args.output_dir, "pipeline")

    # 1. The frozen pipeline, checked before any heavy work, and the operator
    pipeline = load_two_encoder_pipeline(args.pipeline)
    pipeline.check_geometry()  # generated pairs are scored with deepwave at the end
    pipeline.to(accelerator.device)
    vqvae = pipeline.vqvae.eval().requires_grad_(False)
    half = vqvae.config.latent_channels // 2
    set_seed(args.seed)
    operator = LatentForwardOperator(
        half_channels=half,
        width=args.width,
        dilations=tuple(args.dilations),
        attention_layers=args.attention_layers,
        attention_heads=args.attention_heads,
        sample_size=vqvae.latent_shape[0],
    )
    if args.attention_layers and vqvae.latent_shape[0] != vqvae.latent_shape[1]:
        raise ValueError(f"--attention_layers needs a square latent grid; this one is {vqvae.latent_shape}.")
    logger.info(
        f"LatentForwardOperator parameters: {sum(p.numel() for p in operator.parameters()) / 1e6:.2f} M"
    )

    # 2. The scaled latents of the training and held-out pairs
    train_set, held_set = split_paired(open_paired_folders(args.train_data_dir), args.validation_fraction)
    cache = args.latents_cache or os.path.join(args.output_dir, "latents.safetensors")
    latents = training_latents(vqvae, train_set, cache, args.encode_batch_size, accelerator.is_main_process)
    held_out = encode_paired_dataset(vqvae, held_set, args.encode_batch_size)
    if args.physics_targets:
        targets = os.path.join(args.output_dir, "physics_targets.safetensors")
        physics = cached_tensor(
            targets,
            lambda: physics_seismic_codes(pipeline, latents, args.encode_batch_size),
            accelerator.is_main_process,
        )
        if physics.shape != latents.shape or not torch.equal(physics[:, half:], latents[:, half:]):
            raise ValueError(
                f"{targets} was made from other latents (another autoencoder, data or --latents_cache); "
                "delete it to recompute."
            )
        latents = physics
        held_out = physics_seismic_codes(pipeline, held_out, args.encode_batch_size)
    extra_sources = (
        ("extra_physics_targets", args.extra_velocity_maps, lambda: velocity_map_latents(
            vqvae, args.extra_velocity_maps, args.extra_maps_seed, args.encode_batch_size)),
        ("generated_physics_targets", args.generated_samples, lambda: generated_velocity_latents(
            pipeline, args.generated_samples, args.generated_steps, args.encode_batch_size, args.generated_seed)),
    )  # fmt: skip
    for name, count, make in extra_sources:
        if not count:
            continue
        path = os.path.join(args.output_dir, f"{name}.safetensors")
        extra = cached_tensor(
            path,
            lambda make=make: physics_seismic_codes(pipeline, make(), args.encode_batch_size),
            accelerator.is_main_process,
        )
        if tuple(extra.shape) != (count, *latents.shape[1:]):
            raise ValueError(
                f"{path} holds {tuple(extra.shape)}, not {count} latents of shape "
                f"{tuple(latents.shape[1:])}: it was made for another run; delete it to recompute."
            )
        latents = torch.cat([latents, extra])
    latents, held_out = vqvae.scale_latents(latents), vqvae.scale_latents(held_out)
    logger.info(f"{len(latents)} training latents {tuple(latents.shape[1:])}, {len(held_out)} held out")

    # 3. The training loop's parts
    ema_model = make_ema(accelerator, operator, LatentForwardOperator, args, subfolder="latent_operator")
    dataloader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(latents),
        batch_size=args.train_batch_size,
        shuffle=True,
        drop_last=len(latents) >= args.train_batch_size,
    )
    optimizer, lr_scheduler = build_optimization(accelerator, operator, args)
    operator, optimizer, dataloader, lr_scheduler = accelerator.prepare(
        operator, optimizer, dataloader, lr_scheduler
    )
    if ema_model is not None:
        ema_model.to(accelerator.device)
    global_step, first_epoch, resume_step, num_epochs, progress = resume_and_progress(
        accelerator, args, dataloader, logger
    )
    log = TrainingLog(accelerator, args, progress, logger)

    # 4. Train: regress the seismic half on the velocity half
    for epoch in range(first_epoch, num_epochs):
        operator.train()
        for (batch,) in epoch_batches(accelerator, dataloader, epoch, first_epoch, resume_step):
            if global_step >= args.max_train_steps:
                break
            with accelerator.accumulate(operator):
                loss = F.mse_loss(operator(batch[:, half:]).sample.float(), batch[:, :half].float())
                backward_and_step(accelerator, loss, operator, optimizer, lr_scheduler, args.max_grad_norm)
            if not accelerator.sync_gradients:
                continue
            if ema_model is not None:
                ema_model.step(operator.parameters())
            global_step += 1
            log.step(global_step, lr_scheduler.get_last_lr()[0], loss=loss)

    # 5. The pipeline with its operator, scored on held-out latents and freshly generated pairs
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        model = trained_model(accelerator, operator, ema_model)
        coupled = JointGenerationPipeline(**{**pipeline.components, "latent_operator": model})
        coupled.set_progress_bar_config(disable=True)
        deviations = {}
        for use in (True, False):
            generated = coupled(
                batch_size=args.validation_samples,
                generator=torch.Generator().manual_seed(args.seed),
                num_inference_steps=args.validation_steps_inference,
                return_pde_deviation=True,
                use_latent_operator=use,
            )
            deviations[use] = float(generated.pde_deviation.mean())
        summary = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "global_step": global_step,
            "train_minutes": log.minutes,
            "device": f"{accelerator.device} ({torch.get_num_threads()} threads)",
            "held_out_pairs": len(held_out),
            "held_out_mse": held_out_error(model, held_out.to(model.device), half),
            "held_out_zero_mse": float(held_out[:, :half].pow(2).mean()) if len(held_out) else float("nan"),
            "pde_deviation_with": deviations[True],
            "pde_deviation_without": deviations[False],
        }
        partial = pipeline_dir.rstrip("/") + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        coupled.save_pretrained(partial, safe_serialization=True)
        write_card_section(args.pipeline, partial, args, summary)
        previous = pipeline_dir.rstrip("/") + ".previous"
        shutil.rmtree(previous, ignore_errors=True)
        if os.path.exists(pipeline_dir):
            os.replace(pipeline_dir, previous)
        os.replace(partial, pipeline_dir)
        shutil.rmtree(previous, ignore_errors=True)
        logger.info(f"Saved pipeline to {pipeline_dir}: {summary}")
    accelerator.end_training()


if __name__ == "__main__":
    main(parse_args())

#!/usr/bin/env python
"""Train a (class-conditional) velocity-model DDPM with Accelerate.

Run with `accelerate launch training/train_velocity.py --output_dir runs/velocity ...`.
Follows diffusers' `train_unconditional.py`: EMA, checkpoints with `--resume_from_checkpoint
latest`, mixed precision, gradient accumulation, a `diffusers.optimization` LR schedule, and a
complete pipeline folder (safetensors) at the end.

With `--pretrained_pipeline P --distill_guidance_scale W` it instead distils P's classifier-free
guidance at scale W into a copy of P's U-Net (one call per step instead of two).
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate.logging import get_logger
from accelerate.utils import set_seed
from diffusers import DDPMScheduler, DPMSolverMultistepScheduler
from diffusers.training_utils import compute_snr
from tqdm.auto import tqdm

from seismic_diffusers import (
    VELOCITY_FAMILIES,
    OpenFWIDataset,
    SyntheticVelocityDataset,
    VelocityAugmentation,
    VelocityFolderDataset,
    VelocityGenerationPipeline,
    VelocityProcessor,
    VelocityUNet2DModel,
)
from seismic_diffusers.data.profile_prior import fit_profile_prior
from seismic_diffusers.utils import plot_velocity_grid
from seismic_diffusers.utils.arguments import family_scale, family_scales
from seismic_diffusers.utils.finetune import (
    UNET2D_PARTS,
    add_finetune_arguments,
    check_finetune_arguments,
    extend_class_embedding,
    fine_tune_summary,
    freeze_parts,
    load_pretrained_pipeline,
)
from seismic_diffusers.utils.training import (
    TrainingLog,
    add_training_arguments,
    backward_and_step,
    build_optimization,
    check_finite_weights,
    epoch_batches,
    make_accelerator,
    make_ema,
    resume_and_progress,
)

logger = get_logger(__name__, log_level="INFO")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--openfwi_dir",
        type=str,
        nargs="*",
        default=None,
        help="OpenFWI folders (with model/model*.npy). Default: train on the synthetic families.",
    )
    data.add_argument(
        "--openfwi_family",
        type=str,
        nargs="*",
        default=None,
        help="Family name for each --openfwi_dir (class labels); omit for unconditional data.",
    )
    data.add_argument(
        "--velocity_npy_dir",
        type=str,
        nargs="*",
        default=None,
        help="Folders of .npy velocity maps (m/s) of any size, resampled to 70 x 70 (VelocityFolderDataset: "
        "anti-aliased bilinear).",
    )
    data.add_argument(
        "--velocity_npy_family",
        type=str,
        nargs="*",
        default=None,
        help="Family name for each --velocity_npy_dir.",
    )
    data.add_argument(
        "--clip_velocity",
        action="store_true",
        help="Clip --velocity_npy_dir maps to the model's velocity range instead of refusing them.",
    )
    data.add_argument(
        "--families",
        type=str,
        nargs="*",
        default=list(VELOCITY_FAMILIES),
        help="Synthetic families to train on (and the class vocabulary).",
    )
    data.add_argument("--num_per_family", type=int, default=3000, help="Synthetic models per family.")
    data.add_argument("--data_seed", type=int, default=0, help="Seed of the synthetic training set.")
    data.add_argument(
        "--augment", action="store_true", help="Apply VelocityAugmentation (kornia) to batches."
    )

    model = parser.add_argument_group("model")
    model.add_argument("--block_out_channels", type=int, nargs="+", default=[32, 64, 64, 128])
    model.add_argument("--layers_per_block", type=int, default=2)
    model.add_argument("--attention", action="store_true", help="Self-attention at the lowest resolution.")
    model.add_argument("--unconditional", action="store_true", help="Train without family labels.")
    model.add_argument(
        "--time_scale_shift",
        action="store_true",
        help="Time and family embedding as a scale and shift of each ResNet block (FiLM) instead of an offset.",
    )
    model.add_argument(
        "--cond_drop_prob",
        type=float,
        default=0.1,
        help="Probability of replacing a label with the null class (classifier-free guidance).",
    )
    model.add_argument("--num_train_timesteps", type=int, default=1000)
    model.add_argument("--beta_schedule", type=str, default="squaredcos_cap_v2")
    model.add_argument(
        "--prediction_type", type=str, default="epsilon", choices=["epsilon", "v_prediction", "sample"]
    )
    model.add_argument("--v_min", type=float, default=1500.0, help="m/s mapped to -1.")
    model.add_argument("--v_max", type=float, default=4500.0, help="m/s mapped to +1.")
    model.add_argument(
        "--scaling_factor",
        type=float,
        default=1.0,
        help="Multiply the [-1, 1] maps by this (2 makes the synthetic families about unit variance).",
    )

    train = add_training_arguments(
        parser, output_dir="runs/velocity", max_train_steps=None, lr_warmup_steps=200, ema_max_decay=0.9999
    )
    train.add_argument(
        "--pipeline_dir",
        type=str,
        default=None,
        help="Where the final pipeline is saved (default: OUTPUT_DIR/pipeline).",
    )
    train.add_argument("--num_epochs", type=int, default=100)
    train.add_argument("--ema_inv_gamma", type=float, default=1.0)
    train.add_argument("--ema_power", type=float, default=3 / 4)
    train.add_argument("--dataloader_num_workers", type=int, default=0)
    train.add_argument("--validation_steps", type=int, default=1000, help="Save a sample grid every N steps.")
    train.add_argument(
        "--num_inference_steps", type=int, default=25, help="Sampler steps for validation grids."
    )

    train.add_argument(
        "--snr_gamma",
        type=float,
        default=None,
        help="Min-SNR-gamma loss weighting (Hang et al. 2023; 5 is their choice); default: plain MSE.",
    )

    finetune = add_finetune_arguments(parser, UNET2D_PARTS)
    finetune.add_argument(
        "--distill_guidance_scale",
        type=float,
        default=None,
        help="Guidance distillation (Meng et al. 2023, stage 1): train the model to give, in one call, "
        "the --pretrained_pipeline's classifier-free-guided prediction at this scale; the saved "
        "pipeline then samples unguided at half the U-Net calls.",
    )
    finetune.add_argument(
        "--distill_family_guidance_scale",
        type=family_scale,
        nargs="+",
        default=None,
        metavar="FAMILY=SCALE",
        help="Per-family overrides of --distill_guidance_scale, e.g. curvefault-b=1.0 flatvel-a=3.0 "
        "(each >= 1; 1.0 distils that family unguided).",
    )

    hub = parser.add_argument_group("hub")
    hub.add_argument("--push_to_hub", action="store_true")
    hub.add_argument("--hub_model_id", type=str, default=None)

    args = parser.parse_args(argv)
    for kind in ("openfwi", "velocity_npy"):
        folders, families = getattr(args, f"{kind}_dir"), getattr(args, f"{kind}_family")
        if families and len(families) != len(folders or []):
            parser.error(f"--{kind}_family needs one name per --{kind}_dir.")
    if args.push_to_hub and not args.hub_model_id:
        parser.error("--push_to_hub needs --hub_model_id.")
    if args.snr_gamma is not None and args.snr_gamma <= 0:
        parser.error(f"--snr_gamma must be > 0 (5 is the paper's choice), got {args.snr_gamma}.")
    check_finetune_arguments(parser, args)
    if args.distill_guidance_scale is not None:
        if not args.pretrained_pipeline:
            parser.error("--distill_guidance_scale needs --pretrained_pipeline (the guided teacher).")
        if args.distill_guidance_scale <= 1.0:
            parser.error(
                f"--distill_guidance_scale must be > 1 (1 is the unguided model), got {args.distill_guidance_scale}."
            )
    if args.distill_family_guidance_scale is not None:
        if args.distill_guidance_scale is None:
            parser.error(
                "--distill_family_guidance_scale needs --distill_guidance_scale (the other families' scale)."
            )
        try:
            args.distill_family_guidance_scale = family_scales(args.distill_family_guidance_scale)
        except ValueError as error:
            parser.error(f"--distill_family_guidance_scale: {error}.")
    return args


def distill_guidance_scales(args: argparse.Namespace, families: list[str]) -> dict[str, float]:
    """`{family: scale}` for guidance distillation: --distill_guidance_scale with the per-family overrides."""
    return {name: args.distill_guidance_scale for name in families} | (
        args.distill_family_guidance_scale or {}
    )


def user_folders(args: argparse.Namespace) -> list[tuple[str, str, str | None]]:
    """`(kind, folder, family or None)` for every --openfwi_dir and --velocity_npy_dir."""
    folders = []
    for kind in ("openfwi", "velocity_npy"):
        dirs = getattr(args, f"{kind}_dir") or []
        families = getattr(args, f"{kind}_family") or [None] * len(dirs)
        folders += [(kind, folder, family) for folder, family in zip(dirs, families, strict=True)]
    return folders


def build_dataset(
    args: argparse.Namespace, vocabulary: list[str], processor: VelocityProcessor
) -> torch.utils.data.Dataset:
    """The user's folders (OpenFWI files, or .npy maps resampled to the grid), else the synthetic families."""
    folders = user_folders(args)
    if not folders:
        return SyntheticVelocityDataset(
            args.families, args.num_per_family, args.data_seed, vocabulary=vocabulary
        )
    parts = []
    for kind, folder, family in folders:
        label = None if family is None else vocabulary.index(family)
        if kind == "openfwi":
            parts.append(OpenFWIDataset(folder, family=family, label=label))
        else:
            parts.append(
                VelocityFolderDataset(
                    folder,
                    grid_shape=(70, 70),
                    label=label,
                    value_range=(processor.config.v_min, processor.config.v_max),
                    clip=args.clip_velocity,
                )
            )
    return torch.utils.data.ConcatDataset(parts)


def with_profile_prior(processor: VelocityProcessor, dataset: torch.utils.data.Dataset) -> VelocityProcessor:
    """The processor with `mean_profiles`, `profile_components` and `family_weights` fitted to the training maps.

    One pass over `dataset`. Families the data lacks keep what `processor` already had
    (fine-tuning a pretrained pipeline on some families), else get the null row's, fitted to
    every map. `family_weights` counts each family's maps (`None` when the counts are equal), so
    `family=None` samples draw families as often as the data holds them.
    """
    previous = processor.config.mean_profiles
    previous_components = processor.config.profile_components
    counts = np.zeros(len(processor.families), dtype=np.int64)

    def maps_and_labels():
        for i in tqdm(range(len(dataset)), desc="Velocity-depth profiles", leave=False):
            item = dataset[i]
            label = int(item["label"])
            if 0 <= label < len(counts):
                counts[label] += 1
            yield item["velocity"][0].numpy(), label

    profiles, components = fit_profile_prior(
        maps_and_labels(),
        num_families=len(processor.families),
        fallback=list(previous[:-1]) if previous is not None else None,
        fallback_components=list(previous_components[:-1]) if previous_components is not None else None,
    )
    weights = None if counts.sum() == 0 or (counts == counts[0]).all() else counts.tolist()
    return processor.replace(mean_profiles=profiles, profile_components=components, family_weights=weights)


def build_unet(args: argparse.Namespace, num_families: int) -> VelocityUNet2DModel:
    levels = len(args.block_out_channels)
    down = ["DownBlock2D"] * levels
    up = ["UpBlock2D"] * levels
    if args.attention:
        down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
    return VelocityUNet2DModel(
        sample_size=70,
        in_channels=1,
        out_channels=1,
        block_out_channels=tuple(args.block_out_channels),
        layers_per_block=args.layers_per_block,
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        add_attention=args.attention,
        norm_num_groups=min(32, args.block_out_channels[0]),
        resnet_time_scale_shift="scale_shift" if args.time_scale_shift else "default",
        num_class_embeds=None if args.unconditional else num_families + 1,  # + the null class
    )


def min_snr_weights(
    noise_scheduler: DDPMScheduler, timesteps: torch.Tensor, gamma: float, prediction_type: str
) -> torch.Tensor:
    """Per-map loss weights of Min-SNR-gamma (Hang et al. 2023), shape `(B,)`.

    The weight is `min(SNR, gamma)` on the x0 error; expressed for the epsilon or v target it is
    divided by `SNR` or `SNR + 1`. Low-noise steps, which are easy, stop dominating the gradient.
    """
    snr = compute_snr(noise_scheduler, timesteps)
    clipped = snr.clamp(max=gamma)
    if prediction_type == "epsilon":
        return clipped / snr
    if prediction_type == "v_prediction":
        return clipped / (snr + 1)
    return clipped


@torch.no_grad()
def guided_teacher_target(
    teacher: VelocityUNet2DModel,
    noisy: torch.Tensor,
    timesteps: torch.Tensor,
    labels: torch.Tensor,
    null_label: int,
    guidance_scale: float | torch.Tensor,
) -> torch.Tensor:
    """The teacher's classifier-free-guided prediction, the target of guidance distillation.

    Args:
        teacher ([`VelocityUNet2DModel`]): The frozen class-conditional model being distilled.
        noisy (`torch.Tensor` of shape `(B, 1, H, W)`): Noised maps, normalised units.
        timesteps (`torch.Tensor` of shape `(B,)`): Their discrete timesteps.
        labels (`torch.Tensor` of shape `(B,)`): Family labels; `null_label` rows get the teacher's
            unconditional prediction, so the student keeps an unguided unconditional mode.
        null_label (`int`): The null class.
        guidance_scale (`float` or `torch.Tensor` of shape `(B,)`): `w` in `uncond + w * (cond - uncond)`,
            as in the pipeline; a tensor gives one weight per row.

    Returns:
        `torch.Tensor` of shape `(B, 1, H, W)`, float32, of the teacher's prediction type.
    """
    null = torch.full_like(labels, null_label)
    both = teacher(
        torch.cat([noisy, noisy]), torch.cat([timesteps, timesteps]), class_labels=torch.cat([null, labels])
    ).sample.float()
    uncond, cond = both.chunk(2)
    if isinstance(guidance_scale, torch.Tensor):
        guidance_scale = guidance_scale.to(cond).view(-1, *([1] * (cond.ndim - 1)))
    return uncond + guidance_scale * (cond - uncond)


def make_pipeline(
    unet, noise_scheduler: DDPMScheduler, processor: VelocityProcessor, sampler=None, sampling=None
) -> VelocityGenerationPipeline:
    """The pipeline to save: `sampler` and `sampling` (a fine-tuned pipeline keeps its own scheduler
    and `default_*` sampling settings), else the default below."""
    if sampler is not None:
        return VelocityGenerationPipeline(
            unet=unet, scheduler=sampler, processor=processor, **(sampling or {})
        )
    # Train with DDPM; ship the same noise schedule driven by a fast multistep solver.
    # SDE-DPM-Solver++: with epsilon prediction the deterministic DPM-Solver++ and DDIM leave
    # visible pixel noise in 25-50 steps (mean |dv/dx| 170-270 m/s vs 11 m/s in the data); the
    # SDE variant's injected noise corrects it (20 m/s). lambda_min_clipped=-5.1 is diffusers'
    # guard for the cosine schedule. Each step's x0 estimate is clamped to the processor's range by
    # the pipeline (`clip_sample`), not by diffusers' thresholding, which only serves [-1, 1].
    sampler = DPMSolverMultistepScheduler.from_config(
        noise_scheduler.config, algorithm_type="sde-dpmsolver++", lambda_min_clipped=-5.1
    )
    return VelocityGenerationPipeline(unet=unet, scheduler=sampler, processor=processor)


def save_sample_grid(pipeline: VelocityGenerationPipeline, path: str, steps: int, seed: int) -> None:
    families = pipeline.families
    names = [name for name in families for _ in range(2)] if families else [None] * 8
    generator = torch.Generator("cpu").manual_seed(seed)
    velocities = pipeline(
        batch_size=len(names),
        family=names if families else None,
        generator=generator,
        num_inference_steps=steps,
    ).velocities
    titles = [name or "unconditional" for name in names]
    plot_velocity_grid(
        velocities, path, titles=titles, ncols=4, grid_spacing=pipeline.processor.config.grid_spacing
    )


def write_model_card(pipeline_dir: str, args: argparse.Namespace, summary: dict, frozen=()) -> None:
    command = "accelerate launch " + " ".join([sys.argv[0]] + sys.argv[1:])
    data = (
        "folders "
        + ", ".join(
            f"{folder} ({kind}{', ' + family if family else ''})"
            for kind, folder, family in user_folders(args)
        )
        if user_folders(args)
        else f"synthetic families {', '.join(args.families)}: {args.num_per_family} maps each (data seed {args.data_seed})"
    )
    overrides = args.distill_family_guidance_scale or {}
    per_family = "; per family: " + ", ".join(f"{k} {v}" for k, v in overrides.items()) if overrides else ""
    distillation = (
        f"- Guidance-distilled: trained to give the pretrained pipeline's classifier-free-guided prediction "
        f"(scale {args.distill_guidance_scale}{per_family}) in one U-Net call; it samples unguided\n"
        if args.distill_guidance_scale
        else ""
    )
    card = f"""---
library_name: seismic_diffusers
license: mit
tags: [seismology, velocity-model, openfwi, diffusers, seismic_diffusers]
---

# Velocity-model DDPM

Generates OpenFWI-style 70 x 70 subsurface velocity maps (10 m cells) in m/s.

- Training command: `{command}`
{fine_tune_summary(args, frozen)}{distillation}- Data: {data}
- Steps: {summary["global_step"]} (batch {args.train_batch_size} x accumulation {args.gradient_accumulation_steps})
- Training time: {summary["train_minutes"]:.1f} min on {summary["device"]}
- Final training loss (last {args.logging_steps} steps): {summary["loss"]:.4f}
"""
    Path(pipeline_dir, "README.md").write_text(card)


def main(args: argparse.Namespace) -> None:
    accelerator = make_accelerator(args)
    pipeline_dir = args.pipeline_dir or os.path.join(args.output_dir, "pipeline")

    # 1. Model, processor and noise schedule: from scratch, or from a pretrained pipeline
    folders = user_folders(args)
    data_families = [family for _, _, family in folders if family] if folders else list(args.families)
    sampler, sampling, teacher = None, None, None
    if args.pretrained_pipeline:
        pretrained, _ = load_pretrained_pipeline(args.pretrained_pipeline, VelocityGenerationPipeline, logger)
        unet, sampler = pretrained.unet, pretrained.scheduler
        sampling = dict(pretrained.sampling_defaults)
        old_families = pretrained.processor.families
        vocabulary = list(dict.fromkeys(old_families + data_families))
        # new families start from the null row's profile prior; refitted on the data below
        added_rows = len(vocabulary) - len(old_families)
        profiles, components = (
            None if rows is None else [*rows[:-1], *[rows[-1]] * added_rows, rows[-1]]
            for rows in (
                pretrained.processor.config.mean_profiles,
                pretrained.processor.config.profile_components,
            )
        )
        processor = pretrained.processor.replace(
            families=vocabulary, mean_profiles=profiles, profile_components=components
        )
        args.unconditional = unet.config.num_class_embeds is None
        if not args.unconditional:
            extend_class_embedding(unet, old_families, vocabulary)
            added = vocabulary[len(old_families) :]
            logger.info(f"Class vocabulary {vocabulary}" + (f" (new: {added})" if added else ""))
        noise_scheduler = DDPMScheduler.from_config(sampler.config)
        if args.distill_guidance_scale is not None:
            if args.unconditional or vocabulary != old_families:
                raise ValueError(
                    "--distill_guidance_scale needs a class-conditional --pretrained_pipeline and no new "
                    f"families (the teacher knows {old_families}; the data asks for {vocabulary})."
                )
            # The student starts as the teacher and learns its guided prediction; it samples unguided.
            teacher = copy.deepcopy(unet).requires_grad_(False).eval()
            # One weight per class label (the null class last, unguided), indexed by each batch's labels.
            distill_scales = torch.tensor(
                processor.guidance_scales(
                    distill_guidance_scales(args, vocabulary), range(processor.null_label + 1)
                )
            )
            sampling["default_guidance_scale"] = 1.0
    else:
        vocabulary = list(dict.fromkeys(list(args.families) + data_families))
        processor = VelocityProcessor(
            v_min=args.v_min, v_max=args.v_max, families=vocabulary, scaling_factor=args.scaling_factor
        )
        unet = build_unet(args, len(vocabulary))
        noise_scheduler = DDPMScheduler(
            num_train_timesteps=args.num_train_timesteps,
            beta_schedule=args.beta_schedule,
            prediction_type=args.prediction_type,
        )
    frozen = freeze_parts(unet, args.freeze, UNET2D_PARTS)
    num_train_timesteps = noise_scheduler.config.num_train_timesteps
    prediction_type = noise_scheduler.config.prediction_type
    augmentation = VelocityAugmentation() if args.augment else None
    logger.info(
        f"UNet parameters: {sum(p.numel() for p in unet.parameters()) / 1e6:.2f} M ({len(frozen)} frozen tensors)"
    )

    ema_model = make_ema(accelerator, unet, VelocityUNet2DModel, args)

    # 2. Data; re-seeded so batches and noise draws do not depend on how the model was made
    set_seed(args.seed)
    dataset = build_dataset(args, vocabulary, processor)
    processor = with_profile_prior(processor, dataset)
    dataloader = torch.utils.data.DataLoader(
        dataset,
        batch_size=args.train_batch_size,
        shuffle=True,
        num_workers=args.dataloader_num_workers,
        drop_last=True,
    )
    # --num_epochs counts passes over the data: each of N processes sees 1/N of the batches
    batches_per_process = math.ceil(len(dataloader) / accelerator.num_processes)
    updates_per_epoch = math.ceil(batches_per_process / args.gradient_accumulation_steps)
    max_train_steps = args.max_train_steps or args.num_epochs * updates_per_epoch
    optimizer, lr_scheduler = build_optimization(accelerator, unet, args, max_train_steps)
    unet, optimizer, dataloader, lr_scheduler = accelerator.prepare(unet, optimizer, dataloader, lr_scheduler)
    if ema_model is not None:
        ema_model.to(accelerator.device)
    if teacher is not None:
        teacher.to(accelerator.device)

    global_step, first_epoch, resume_step, num_epochs, progress = resume_and_progress(
        accelerator, args, dataloader, logger, max_train_steps
    )

    logger.info(
        f"{len(dataset)} maps, {max_train_steps} steps, batch {args.train_batch_size}, {num_epochs} epochs"
    )
    log = TrainingLog(accelerator, args, progress, logger)
    null_label = processor.null_label

    for epoch in range(first_epoch, num_epochs):
        unet.train()
        # A fresh, seed-determined shuffle each epoch that resumes in the same order.
        for batch in epoch_batches(accelerator, dataloader, epoch, first_epoch, resume_step):
            if global_step >= max_train_steps:
                break
            clean = processor.normalize(batch["velocity"].to(accelerator.device))
            if augmentation is not None:
                clean = augmentation(clean)
            labels = None
            if not args.unconditional:
                labels = batch["label"].to(accelerator.device).long()
                labels = torch.where(labels < 0, torch.full_like(labels, null_label), labels)
                drop = torch.rand(labels.shape, device=labels.device) < args.cond_drop_prob
                labels = torch.where(drop, torch.full_like(labels, null_label), labels)
            noise = torch.randn_like(clean)
            timesteps = torch.randint(0, num_train_timesteps, (clean.shape[0],), device=clean.device).long()
            noisy = noise_scheduler.add_noise(clean, noise, timesteps)

            with accelerator.accumulate(unet):
                prediction = unet(noisy, timesteps, class_labels=labels).sample
                if teacher is not None:
                    with accelerator.autocast():
                        target = guided_teacher_target(
                            teacher,
                            noisy,
                            timesteps,
                            labels,
                            null_label,
                            distill_scales.to(labels.device)[labels],
                        )
                elif prediction_type == "epsilon":
                    target = noise
                elif prediction_type == "v_prediction":
                    target = noise_scheduler.get_velocity(clean, noise, timesteps)
                else:
                    target = clean
                if args.snr_gamma is None:
                    loss = F.mse_loss(prediction.float(), target.float())
                else:
                    weights = min_snr_weights(noise_scheduler, timesteps, args.snr_gamma, prediction_type)
                    errors = F.mse_loss(prediction.float(), target.float(), reduction="none")
                    loss = (weights * errors.mean(dim=(1, 2, 3))).mean()
                backward_and_step(accelerator, loss, unet, optimizer, lr_scheduler, args.max_grad_norm)

            if not accelerator.sync_gradients:
                continue
            if ema_model is not None:
                ema_model.step(unet.parameters())
            global_step += 1
            log.step(global_step, lr_scheduler.get_last_lr()[0], loss=loss)
            if (
                accelerator.is_main_process
                and args.validation_steps
                and global_step % args.validation_steps == 0
            ):
                save_validation(
                    accelerator,
                    unet,
                    ema_model,
                    make_pipeline_for=lambda m: make_pipeline(
                        m, noise_scheduler, processor, sampler, sampling
                    ),
                    args=args,
                    step=global_step,
                )

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        model = accelerator.unwrap_model(unet)
        if ema_model is not None:
            ema_model.store(model.parameters())
            ema_model.copy_to(model.parameters())
        check_finite_weights(model)
        pipeline = make_pipeline(model, noise_scheduler, processor, sampler, sampling)
        pipeline.save_pretrained(pipeline_dir, safe_serialization=True)
        save_sample_grid(
            pipeline, os.path.join(args.output_dir, "samples_final.png"), args.num_inference_steps, args.seed
        )
        summary = {
            "global_step": global_step,
            "train_minutes": log.minutes,
            "device": f"{accelerator.device} ({torch.get_num_threads()} threads), mixed precision {accelerator.mixed_precision}",
            "loss": log.means()["loss"],
        }
        write_model_card(pipeline_dir, args, summary, frozen)
        if ema_model is not None:
            ema_model.restore(model.parameters())
        logger.info(f"Saved pipeline to {pipeline_dir}: {summary}")
        if args.push_to_hub:
            from seismic_diffusers.hub import push_pipeline

            push_pipeline(pipeline_dir, args.hub_model_id)
    accelerator.end_training()


def save_validation(accelerator, unet, ema_model, make_pipeline_for, args, step: int) -> None:
    """Sample a grid with the EMA weights (store -> copy_to -> restore) through the real pipeline."""
    model = accelerator.unwrap_model(unet)
    if ema_model is not None:
        ema_model.store(model.parameters())
        ema_model.copy_to(model.parameters())
    model.eval()
    pipeline = make_pipeline_for(model)
    pipeline.set_progress_bar_config(disable=True)
    os.makedirs(os.path.join(args.output_dir, "samples"), exist_ok=True)
    save_sample_grid(
        pipeline,
        os.path.join(args.output_dir, "samples", f"step-{step:06d}.png"),
        args.num_inference_steps,
        args.seed,
    )
    if ema_model is not None:
        ema_model.restore(model.parameters())
    model.train()


if __name__ == "__main__":
    main(parse_args())

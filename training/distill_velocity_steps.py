#!/usr/bin/env python
"""Distil a velocity pipeline into a few-step one (progressive distillation), with Accelerate.

    accelerate launch training/distill_velocity_steps.py --teacher_pipeline pipelines/openfwi-velocity-ddpm \
        --num_inference_steps 4 --teacher_steps_per_step 4 --output_dir runs/velocity-4step

Progressive distillation (Salimans & Ho 2022; stage 2 of Meng et al. 2023): the student starts as
a copy of the teacher's U-Net and learns, at each of its `n` timesteps, the clean-map estimate
whose single DDIM step lands where `k` steps of the teacher's deterministic DPM-Solver++ (of the
teacher's own order) land (`seismic_diffusers.schedulers.step_distillation`). The teacher runs with its saved per-family
guidance, so the student folds it in and samples unguided: one U-Net call per step. Run it again
with the student as the teacher to halve the steps once more.

Training batches share one student step (so the teacher can use a diffusers scheduler); the step
is drawn uniformly from those that call the U-Net: the first, zero-SNR step takes its estimate
from the processor's profile prior in both pipelines. Maps come from the synthetic families the
teacher was trained on; `--cond_drop_prob` of the labels are the null class, taught the teacher's
unguided null prediction so that `unconditional_sampling="null_class"` keeps working.

A compact student (`--student_block_out_channels`, trained from scratch) takes the other road to
speed: the same steps, each call cheaper. Give it the teacher's whole grid as `--student_timesteps`
(then each student step is one teacher step, and its target is the teacher's guided prediction
itself) and save it with `--sampler teacher`.
"""

from __future__ import annotations

import argparse
import os

import torch
from accelerate.logging import get_logger
from accelerate.utils import set_seed
from diffusers import DPMSolverMultistepScheduler

from seismic_diffusers import SyntheticVelocityDataset, VelocityGenerationPipeline, VelocityUNet2DModel
from seismic_diffusers.schedulers.clean_estimate import alpha_sigma
from seismic_diffusers.schedulers.step_distillation import (
    ddim_clean_target,
    distillation_timesteps,
    student_positions,
    teacher_interval,
    teacher_interval_between,
)
from seismic_diffusers.schedulers.timestep_spacing import power_timesteps
from seismic_diffusers.utils import plot_velocity_grid
from seismic_diffusers.utils.configs import public_config
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

logger = get_logger(__name__)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    train = add_training_arguments(
        parser, output_dir="runs/velocity-steps", max_train_steps=1000, learning_rate=5e-5,
        lr_warmup_steps=50, train_batch_size=16, ema_max_decay=0.999,
    )  # fmt: skip
    train.add_argument("--teacher_pipeline", required=True, help="Pipeline folder to distil.")
    train.add_argument(
        "--pipeline_dir", default=None, help="Where the student is saved (OUTPUT_DIR/pipeline)."
    )
    train.add_argument("--num_inference_steps", type=int, default=4, help="The student's steps, n.")
    train.add_argument(
        "--teacher_steps_per_step", type=int, default=2, help="Teacher steps per student step, k."
    )
    train.add_argument(
        "--timestep_power", type=float, default=None, help="Spacing of both grids (default: the teacher's)."
    )
    train.add_argument(
        "--student_timesteps",
        type=int,
        nargs="+",
        default=None,
        help="A hand-picked student grid on the teacher's --teacher_steps power grid, e.g. 995 814 420 124: "
        "a short first jump from the zero-SNR prior and the fine low-noise end (replaces "
        "--num_inference_steps and --teacher_steps_per_step; saved as the pipeline's default_timesteps).",
    )
    train.add_argument(
        "--teacher_steps", type=int, default=16, help="Teacher grid size with --student_timesteps."
    )
    train.add_argument(
        "--student_init",
        default=None,
        help="Pipeline folder whose U-Net starts the student (default: the teacher's), e.g. an earlier "
        "student whose grid shares timesteps with this one, as in progressive distillation's rounds, or a "
        "compact student trained further (its architecture is kept).",
    )
    train.add_argument(
        "--student_block_out_channels",
        type=int,
        nargs="+",
        default=None,
        help="A smaller student U-Net, trained from scratch (knowledge distillation), e.g. 16 32 32 64 "
        "with --student_timesteps set to the teacher's whole grid: the same steps, each call cheaper. "
        "Default: the teacher's architecture, started from its weights.",
    )
    train.add_argument(
        "--student_layers_per_block", type=int, default=None, help="With --student_block_out_channels."
    )
    train.add_argument(
        "--student_norm_num_groups",
        type=int,
        default=None,
        help="With --student_block_out_channels (must divide every width; default: the teacher's if it does, "
        "else the largest of 32, 16, 8, 4, 2, 1 that does).",
    )
    train.add_argument("--num_per_family", type=int, default=3000, help="Synthetic maps per family.")
    train.add_argument(
        "--data_seed", type=int, default=0, help="Seed of the maps (the teacher's training data)."
    )
    train.add_argument("--cond_drop_prob", type=float, default=0.1, help="Share of null-class labels.")
    train.add_argument(
        "--step_probabilities",
        type=float,
        nargs="+",
        default=None,
        help="How often each trained student step (all but the first, the prior) is drawn, e.g. 0.15 0.15 "
        "0.25 0.45 to train the last, finest denoising step most (default: uniform). Normalised.",
    )
    train.add_argument(
        "--sampler",
        choices=("ddim", "sde", "teacher"),
        default="ddim",
        help="The scheduler saved with the student: ddim (first-order DPM-Solver++, the update its targets "
        "assume), sde (first-order SDE-DPM-Solver++: the same clean estimates, fresh noise each step) or "
        "teacher (the teacher's own scheduler; for a compact student on the teacher's whole grid, whose "
        "targets are the teacher's guided predictions themselves).",
    )
    train.add_argument("--validation_steps", type=int, default=250, help="Save a sample grid every N steps.")
    args = parser.parse_args(argv)
    if args.student_timesteps is not None:
        args.num_inference_steps = len(args.student_timesteps)
    if args.num_inference_steps < 2:
        parser.error("--num_inference_steps must be >= 2 (the first step is the zero-SNR prior).")
    if args.teacher_steps_per_step < 2:
        parser.error("--teacher_steps_per_step must be >= 2.")
    if args.student_block_out_channels is None:
        if args.student_layers_per_block is not None or args.student_norm_num_groups is not None:
            parser.error(
                "--student_layers_per_block/--student_norm_num_groups need --student_block_out_channels."
            )
    else:
        if args.student_init is not None:
            parser.error("--student_block_out_channels starts a new student; it cannot take --student_init.")
        if len(args.student_block_out_channels) < 2 or min(args.student_block_out_channels) < 1:
            parser.error("--student_block_out_channels needs at least two positive widths.")
        if args.student_layers_per_block is not None and args.student_layers_per_block < 1:
            parser.error("--student_layers_per_block must be >= 1.")
        groups = args.student_norm_num_groups
        if groups is not None and (groups < 1 or any(w % groups for w in args.student_block_out_channels)):
            parser.error(
                f"--student_norm_num_groups {groups} must divide every width {args.student_block_out_channels}."
            )
    if not 0.0 <= args.cond_drop_prob < 1.0:
        parser.error(f"--cond_drop_prob must be in [0, 1), got {args.cond_drop_prob}.")
    if args.step_probabilities is not None:
        if len(args.step_probabilities) != args.num_inference_steps - 1:
            parser.error(
                f"--step_probabilities needs {args.num_inference_steps - 1} values (one per student step "
                f"after the prior), got {len(args.step_probabilities)}."
            )
        if min(args.step_probabilities) < 0 or sum(args.step_probabilities) <= 0:
            parser.error("--step_probabilities must be >= 0 with a positive sum.")
    return args


@torch.no_grad()
def guided_prediction(teacher: VelocityGenerationPipeline, sample, timestep, labels, weights) -> torch.Tensor:
    """The teacher pipeline's guided, clamped epsilon for a batch (rows with weight > 1 get a null pass)."""
    unet = teacher.unet
    t = torch.full((len(sample),), int(timestep), device=sample.device, dtype=torch.long)
    output = unet(sample.to(unet.dtype), t, class_labels=labels).sample.float()
    guided = (weights > 1.0).nonzero().flatten()
    if len(guided):
        null = torch.full_like(labels[guided], teacher.processor.null_label)
        uncond = unet(sample[guided].to(unet.dtype), t[guided], class_labels=null).sample.float()
        scale = weights[guided].view(-1, 1, 1, 1)
        output[guided] = uncond + scale * (output[guided] - uncond)
    return teacher.clip_prediction(output, sample, timestep)


@torch.no_grad()
def teacher_steps(
    teacher, solver, sample, labels, weights, timesteps: list[int], final: bool
) -> torch.Tensor:
    """Run the teacher's deterministic DPM-Solver++ over `timesteps` from `sample`.

    Steps `len(timesteps) - 1` times (ending at `timesteps[-1]`), or `len(timesteps)` times to the
    clean map when `final`.
    """
    solver.set_timesteps(timesteps=timesteps, device=sample.device)
    for t in solver.timesteps[: len(timesteps) if final else len(timesteps) - 1]:
        output = guided_prediction(teacher, sample, t, labels, weights)
        sample = solver.step(output, t, sample).prev_sample
    return sample


def main(args: argparse.Namespace) -> None:
    accelerator = make_accelerator(args)
    pipeline_dir = args.pipeline_dir or os.path.join(args.output_dir, "pipeline")
    teacher = VelocityGenerationPipeline.from_pretrained(args.teacher_pipeline)
    if not teacher.is_conditional:
        raise ValueError("--teacher_pipeline must be class-conditional (its guidance is folded in).")
    teacher.unet.requires_grad_(False).eval().to(accelerator.device)
    processor = teacher.processor
    power = args.timestep_power or teacher.config.default_timestep_power
    # The student samples with first-order DPM-Solver++ (DDIM), the update its targets assume.
    student_solver = DPMSolverMultistepScheduler.from_config(
        teacher.scheduler.config, algorithm_type="dpmsolver++", solver_order=1
    )
    # The teacher's own solver order (2 for the shipped pipeline, 1 for a distilled student), deterministic.
    teacher_solver = DPMSolverMultistepScheduler.from_config(
        teacher.scheduler.config, algorithm_type="dpmsolver++"
    )
    if args.student_timesteps is None:
        student_grid, teacher_grid = distillation_timesteps(
            student_solver, args.num_inference_steps, args.teacher_steps_per_step, power
        )
        intervals = [
            teacher_interval(teacher_grid, j, args.teacher_steps_per_step) for j in range(len(student_grid))
        ]
    else:
        teacher_grid = power_timesteps(student_solver, args.teacher_steps, power)
        student_grid = list(args.student_timesteps)
        positions = student_positions(teacher_grid, student_grid)
        intervals = [teacher_interval_between(teacher_grid, positions, j) for j in range(len(student_grid))]
    if args.sampler == "teacher" and list(student_grid) != list(teacher_grid):
        raise ValueError(
            f"--sampler teacher needs the teacher's whole grid as --student_timesteps ({teacher_grid}); with "
            f"{student_grid} the targets assume a DDIM step (--sampler ddim or sde)."
        )
    logger.info(f"student timesteps {student_grid}; teacher {teacher_grid}")
    # Every family's guidance weight from the teacher's saved defaults; the null class is unguided.
    weights_by_label = torch.tensor(
        processor.guidance_scales(teacher.config.default_guidance_scale, range(processor.null_label + 1))
    )
    if args.student_block_out_channels is not None:
        unet = VelocityUNet2DModel.from_config(compact_student_config(teacher.unet.config, args))
        logger.info(
            f"compact student {unet.config.block_out_channels} x {unet.config.layers_per_block}: "
            f"{sum(p.numel() for p in unet.parameters()) / 1e6:.2f} M parameters, from scratch"
        )
    elif args.student_init is None:
        unet = VelocityUNet2DModel.from_config(teacher.unet.config)
        unet.load_state_dict(teacher.unet.state_dict())
    else:  # its own architecture, e.g. a compact student trained further
        unet = VelocityUNet2DModel.from_pretrained(args.student_init, subfolder="unet")
        interface = ("in_channels", "out_channels", "sample_size", "num_class_embeds")
        if any(unet.config[key] != teacher.unet.config[key] for key in interface):
            raise ValueError(
                f"--student_init {args.student_init}: its U-Net does not fit the teacher's inputs and "
                f"outputs ({', '.join(interface)} must match)."
            )
    unet.train()
    ema_model = make_ema(accelerator, unet, VelocityUNet2DModel, args)

    set_seed(args.seed)
    dataset = SyntheticVelocityDataset(
        families=processor.families, num_per_family=args.num_per_family, seed=args.data_seed,
        vocabulary=processor.families,
    )  # fmt: skip
    dataloader = torch.utils.data.DataLoader(
        dataset, batch_size=args.train_batch_size, shuffle=True, drop_last=True
    )
    optimizer, lr_scheduler = build_optimization(accelerator, unet, args, args.max_train_steps)
    unet, optimizer, dataloader, lr_scheduler = accelerator.prepare(unet, optimizer, dataloader, lr_scheduler)
    if ema_model is not None:
        ema_model.to(accelerator.device)
    global_step, first_epoch, resume_step, num_epochs, progress = resume_and_progress(
        accelerator, args, dataloader, logger, args.max_train_steps
    )
    log = TrainingLog(accelerator, args, progress, logger)
    generator = torch.Generator().manual_seed(args.seed + global_step)  # the student step of each batch
    last = args.num_inference_steps - 1
    step_probabilities = torch.tensor(args.step_probabilities or [1.0] * last, dtype=torch.float64)

    for epoch in range(first_epoch, num_epochs):
        for batch in epoch_batches(accelerator, dataloader, epoch, first_epoch, resume_step):
            if global_step >= args.max_train_steps:
                break
            clean = processor.normalize(batch["velocity"].to(accelerator.device))
            labels = batch["label"].to(accelerator.device).long()
            drop = torch.rand(labels.shape, device=labels.device) < args.cond_drop_prob
            labels = torch.where(drop, torch.full_like(labels, processor.null_label), labels)
            index = 1 + int(torch.multinomial(step_probabilities, 1, generator=generator))
            timestep = student_grid[index]
            alpha, sigma = alpha_sigma(student_solver, timestep, clean.device)
            noisy = alpha * clean + sigma * torch.randn_like(clean)
            interval = intervals[index]
            with accelerator.autocast():
                landed = teacher_steps(
                    teacher, teacher_solver, noisy, labels, weights_by_label.to(labels.device)[labels],
                    interval, final=index == last,
                )  # fmt: skip
            if index == last:
                target_clean = landed
            else:
                next_alpha, next_sigma = alpha_sigma(student_solver, student_grid[index + 1], clean.device)
                target_clean = ddim_clean_target(noisy, landed, alpha, sigma, next_alpha, next_sigma)
            target = (noisy - alpha * target_clean) / sigma  # the epsilon that implies it
            # truncated-SNR weighting (Salimans & Ho): an x0 error at low SNR, an epsilon error above
            weight = max(1.0, float(sigma**2 / alpha**2))
            with accelerator.accumulate(unet):
                t = torch.full((len(noisy),), timestep, device=noisy.device, dtype=torch.long)
                prediction = unet(noisy, t, class_labels=labels).sample
                loss = weight * torch.nn.functional.mse_loss(prediction.float(), target.float())
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
                save_samples(
                    accelerator.unwrap_model(unet),
                    ema_model,
                    teacher,
                    student_solver,
                    args,
                    power,
                    global_step,
                )

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        model = trained_model(accelerator, unet, ema_model)
        student = student_pipeline(model, teacher, student_solver, args, power)
        student.save_pretrained(pipeline_dir, safe_serialization=True)
        logger.info(
            f"Saved the {args.num_inference_steps}-step student to {pipeline_dir} ({log.minutes:.1f} min)"
        )
    accelerator.end_training()


def compact_student_config(teacher_config, args: argparse.Namespace) -> dict:
    """The teacher's U-Net config with the student's widths, depth and group count."""
    widths = list(args.student_block_out_channels)
    groups = args.student_norm_num_groups
    if groups is None:
        groups = next(
            g for g in (teacher_config.norm_num_groups, 32, 16, 8, 4, 2, 1) if not any(w % g for w in widths)
        )
    config = dict(public_config(teacher_config))
    config.update(
        block_out_channels=widths, norm_num_groups=groups,
        layers_per_block=args.student_layers_per_block or teacher_config.layers_per_block,
        down_block_types=[teacher_config.down_block_types[0]] * len(widths),
        up_block_types=[teacher_config.up_block_types[0]] * len(widths),
    )  # fmt: skip
    return config


def student_pipeline(unet, teacher, solver, args, power) -> VelocityGenerationPipeline:
    if args.sampler == "teacher":
        solver = DPMSolverMultistepScheduler.from_config(teacher.scheduler.config)
    elif args.sampler == "sde":
        solver = DPMSolverMultistepScheduler.from_config(solver.config, algorithm_type="sde-dpmsolver++")
    return VelocityGenerationPipeline(
        unet=unet, scheduler=solver, processor=teacher.processor,
        default_num_inference_steps=args.num_inference_steps, default_guidance_scale=1.0,
        default_timestep_power=power, default_timesteps=args.student_timesteps,
    )  # fmt: skip


def save_samples(model, ema_model, teacher, solver, args, power: float, step: int) -> None:
    """Two maps per family from the student (EMA weights when there are), as a PNG."""
    if ema_model is not None:
        ema_model.store(model.parameters())
        ema_model.copy_to(model.parameters())
    model.eval()
    pipe = student_pipeline(model, teacher, solver, args, power)
    pipe.set_progress_bar_config(disable=True)
    names = [name for name in pipe.families for _ in range(2)]
    maps = pipe(len(names), family=names, generator=torch.Generator().manual_seed(0)).velocities
    os.makedirs(os.path.join(args.output_dir, "samples"), exist_ok=True)
    plot_velocity_grid(
        maps, os.path.join(args.output_dir, "samples", f"step-{step:06d}.png"), titles=names, ncols=4
    )
    model.train()
    if ema_model is not None:
        ema_model.restore(model.parameters())


if __name__ == "__main__":
    main(parse_args())

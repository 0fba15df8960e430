"""Pieces every `training/train_*.py` script shares: atomic checkpoints, EMA hooks, resume."""

from __future__ import annotations

import json
import math
import os
import re
import shutil

import numpy as np

_CHECKPOINT_NAME = re.compile(r"checkpoint-(\d+)")


class NonFiniteTrainingError(RuntimeError):
    """A loss or a trained weight became NaN or Inf: training stops before anything is saved."""


def list_checkpoints(output_dir: str) -> list[str]:
    """`checkpoint-STEP` folder names in `output_dir`, oldest first.

    Only folders named exactly `checkpoint-<digits>` count: unfinished `.tmp` saves and names
    that are not ours (`checkpoint-best`, a user's copy) are ignored.
    """
    if not os.path.isdir(output_dir):
        return []
    names = [
        d
        for d in os.listdir(output_dir)
        if _CHECKPOINT_NAME.fullmatch(d) and os.path.isdir(os.path.join(output_dir, d))
    ]
    return sorted(names, key=lambda name: int(name.split("-")[1]))


def truncate_training_log(output_dir: str, step: int) -> None:
    """Drop the `train_log.jsonl` records after `step`, so a resumed run does not log steps twice."""
    path = os.path.join(output_dir, "train_log.jsonl")
    if not os.path.isfile(path):
        return
    kept = []
    with open(path) as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill
                continue
            if isinstance(record, dict) and int(record.get("step", 0)) <= step:
                kept.append(json.dumps(record) + "\n")
    partial = f"{path}.partial-{os.getpid()}"
    with open(partial, "w") as handle:
        handle.writelines(kept)
    os.replace(partial, path)


def save_checkpoint_atomically(accelerator, output_dir: str, step: int, limit: int | None) -> str:
    """Write `checkpoint-STEP` via a temporary folder, so a kill mid-save never leaves a half checkpoint."""
    final = os.path.join(output_dir, f"checkpoint-{step}")
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    accelerator.save_state(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    if limit is not None:
        for old in list_checkpoints(output_dir)[:-limit]:
            shutil.rmtree(os.path.join(output_dir, old), ignore_errors=True)
    return final


def register_checkpoint_hooks(accelerator, ema_model, model_cls, subfolder: str = "unet") -> None:
    """Save the model and its EMA as safetensors inside each checkpoint, and load them back
    (diffusers' `train_unconditional.py` hook pattern)."""
    from diffusers.training_utils import EMAModel

    def save_model_hook(models, weights, output_dir):
        if accelerator.is_main_process:
            if ema_model is not None:
                ema_model.save_pretrained(os.path.join(output_dir, f"{subfolder}_ema"))
            for model in models:
                model.save_pretrained(os.path.join(output_dir, subfolder))
                weights.pop()

    def load_model_hook(models, input_dir):
        if ema_model is not None:
            loaded = EMAModel.from_pretrained(os.path.join(input_dir, f"{subfolder}_ema"), model_cls)
            ema_model.load_state_dict(loaded.state_dict())
            ema_model.to(accelerator.device)
        for _ in range(len(models)):
            model = models.pop()
            loaded = model_cls.from_pretrained(input_dir, subfolder=subfolder)
            model.register_to_config(**loaded.config)
            model.load_state_dict(loaded.state_dict())

    accelerator.register_save_state_pre_hook(save_model_hook)
    accelerator.register_load_state_pre_hook(load_model_hook)


def resume_from_checkpoint(accelerator, output_dir: str, resume: str | None, logger=None) -> int:
    """Load `resume` (a checkpoint folder or `"latest"`) and return its global step (0 if none)."""
    if not resume:
        return 0
    path = resume
    if path == "latest":
        found = list_checkpoints(output_dir)
        path = os.path.join(output_dir, found[-1]) if found else None
    if path is None:
        if logger is not None:
            logger.info("No checkpoint found; starting a new run.")
        return 0
    name = os.path.basename(path.rstrip("/"))
    if not _CHECKPOINT_NAME.fullmatch(name) or not os.path.isdir(path):
        raise ValueError(f"--resume_from_checkpoint {resume!r} is not a checkpoint-<step> folder.")
    if logger is not None:
        logger.info(f"Resuming from {path}")
    accelerator.load_state(path)
    step = int(name.split("-")[1])
    if accelerator.is_main_process:
        truncate_training_log(output_dir, step)
    return step


def cached_tensor(path: str, make, is_main_process: bool = True):
    """`make()`'s tensor, read from `path` (safetensors, key `"latents"`) when the file exists, else
    made and written there atomically by the main process (slow encodings are made once per run)."""
    from safetensors.torch import load_file, save_file

    if os.path.isfile(path):
        return load_file(path)["latents"]
    tensor = make()
    if is_main_process:
        save_file({"latents": tensor.contiguous()}, path + ".partial")
        os.replace(path + ".partial", path)
    return tensor


def build_optimization(accelerator, model, args, max_train_steps: int | None = None) -> tuple:
    """AdamW and a `diffusers.optimization` LR schedule from the scripts' common arguments.

    Reads `learning_rate`, `adam_weight_decay`, `gradient_accumulation_steps`, `lr_scheduler`,
    `lr_warmup_steps` and `max_train_steps` (unless `max_train_steps` is given) from `args`.
    The schedule's lengths are multiplied by the number of processes because accelerate steps a
    prepared scheduler once per process (diffusers' training scripts do the same).

    Returns:
        `(optimizer, lr_scheduler)`.
    """
    import torch
    from diffusers.optimization import get_scheduler

    steps = max_train_steps or args.max_train_steps
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=args.learning_rate, weight_decay=args.adam_weight_decay
    )
    lr_scheduler = get_scheduler(
        args.lr_scheduler,
        optimizer=optimizer,
        num_warmup_steps=args.lr_warmup_steps * accelerator.num_processes,
        num_training_steps=steps * accelerator.num_processes,
    )
    return optimizer, lr_scheduler


def epoch_batches(accelerator, dataloader, epoch: int, first_epoch: int, resume_step: int):
    """The epoch's batches; a resumed run's first epoch skips those it already trained on."""
    if epoch == first_epoch and resume_step:
        return accelerator.skip_first_batches(dataloader, resume_step)
    return dataloader


def log_and_checkpoint(
    accelerator, args, global_step: int, values: dict, lr: float, started: float, logger
) -> None:
    """After an optimisation step: log and checkpoint on the scripts' common schedule.

    Every `args.logging_steps`, appends `{"step", **values, "lr", "elapsed_s"}` to
    `OUTPUT_DIR/train_log.jsonl`; every `args.checkpointing_steps`, saves an atomic checkpoint
    (keeping `args.checkpoints_total_limit`).
    """
    import time

    if accelerator.is_main_process and global_step % args.logging_steps == 0:
        record = {"step": global_step, **values, "lr": lr, "elapsed_s": round(time.time() - started, 1)}
        with open(os.path.join(args.output_dir, "train_log.jsonl"), "a") as handle:
            handle.write(json.dumps(record) + "\n")
    if global_step % args.checkpointing_steps == 0:
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            saved = save_checkpoint_atomically(
                accelerator, args.output_dir, global_step, args.checkpoints_total_limit
            )
            logger.info(f"Saved {saved}")


def make_ema(accelerator, model, model_cls, args, subfolder: str = "unet"):
    """`diffusers.training_utils.EMAModel` of `model` when `args.use_ema` (else `None`), with the
    checkpoint hooks that save and restore both (`register_checkpoint_hooks`)."""
    from diffusers.training_utils import EMAModel

    ema_model = None
    if args.use_ema:
        # EMAModel's own warm-up defaults where a script has no option for them.
        ema_model = EMAModel(
            model.parameters(),
            decay=args.ema_max_decay,
            use_ema_warmup=True,
            inv_gamma=getattr(args, "ema_inv_gamma", 1.0),
            power=getattr(args, "ema_power", 2 / 3),
            model_cls=model_cls,
            model_config=model.config,
        )
    register_checkpoint_hooks(accelerator, ema_model, model_cls, subfolder=subfolder)
    return ema_model


def trained_model(accelerator, model, ema_model):
    """The model to save at the end of training: unwrapped from Accelerate's wrappers, with the
    EMA weights copied in when there is an EMA (`make_ema`), in eval mode.

    Raises:
        NonFiniteTrainingError: if any weight is NaN or Inf (nothing should be saved then).
    """
    model = accelerator.unwrap_model(model)
    if ema_model is not None:
        ema_model.copy_to(model.parameters())
    check_finite_weights(model)
    return model.eval()


DENOISING_LOSSES = ("l1", "snr", "segmental_snr")
SEGMENT_SAMPLES = 100  # 1 s at the training rate (100 Hz): about the length of a P onset
SEGMENT_FLOOR = 1e-3  # a segment's floor, relative to the window's mean segment energy (-30 dB)


def denoising_loss(estimate, clean, kind: str = "l1"):
    r"""The denoiser's training loss on `(B, C, N)` windows (already normalised).

    - `"l1"`: mean absolute error (CDiffSD's).
    - `"snr"`: the negative reconstruction SNR in dB, `10 log10(sum((estimate - clean)^2) / sum(clean^2))`
      per window, averaged over windows. Every window weighs the same in dB, whatever its noise
      level, so quiet, nearly clean windows are fitted as closely as noisy ones; with L1 they
      contribute little and the model learns to shrink them. A 1e-6 floor caps a window at 60 dB.
    - `"segmental_snr"`: half `"snr"`, half the same in 1 s segments (`SEGMENT_SAMPLES`):
      `10 log10((e_k + f) / (c_k + f))` averaged over segments `k`, with `e_k`, `c_k` the
      segment's error and clean energy and `f` 0.1 % of the window's mean segment energy
      (`SEGMENT_FLOOR`). A weak P onset weighs as much as the S coda, which the window's SNR
      lets the model drown; a segment with no event asks for an output below `f`. A trailing
      part shorter than a segment counts in the window's half only.
    """
    import torch

    estimate, clean = estimate.float(), clean.float()
    if kind == "l1":
        return torch.nn.functional.l1_loss(estimate, clean)
    if kind == "snr":
        error = (estimate - clean).pow(2).sum(dim=(1, 2))
        power = clean.pow(2).sum(dim=(1, 2)).clamp_min(1e-12)
        return (10.0 * torch.log10(error / power + 1e-6)).mean()
    if kind == "segmental_snr":
        whole = denoising_loss(estimate, clean, "snr")
        usable = clean.shape[-1] - clean.shape[-1] % SEGMENT_SAMPLES
        if usable == 0:
            raise ValueError(
                f"Windows of {clean.shape[-1]} samples are shorter than one {SEGMENT_SAMPLES}-sample segment."
            )
        shape = (*clean.shape[:2], -1, SEGMENT_SAMPLES)
        error = (estimate[..., :usable] - clean[..., :usable]).reshape(shape).pow(2).sum(dim=(1, 3))
        power = clean[..., :usable].reshape(shape).pow(2).sum(dim=(1, 3))
        floor = SEGMENT_FLOOR * power.mean(dim=1, keepdim=True).clamp_min(1e-12)
        return 0.5 * whole + 0.5 * (10.0 * torch.log10((error + floor) / (power + floor))).mean()
    raise ValueError(f"Unknown denoising loss {kind!r}; choose from {', '.join(DENOISING_LOSSES)}.")


def check_finite_weights(model) -> None:
    """Raise `NonFiniteTrainingError` naming the tensors of `model` that hold NaN or Inf."""
    import torch

    bad = [name for name, tensor in model.state_dict().items() if not bool(torch.isfinite(tensor).all())]
    if bad:
        raise NonFiniteTrainingError(
            f"{len(bad)} weight tensor(s) hold NaN or Inf (first: {', '.join(bad[:3])}); the model was not "
            "saved. Lower the learning rate, check the data, or start from finite weights."
        )


class TrainingLog:
    """The running losses of a training loop: the progress bar, `train_log.jsonl` and checkpoints.

    Keeps the losses of the last `args.logging_steps` optimisation steps. `step(...)` advances
    `progress`, shows their means on it and hands them to `log_and_checkpoint`; `means()` and
    `minutes` give the final figures for a script's scores. Each loss keeps the name it is
    passed under, in the log and on the bar.
    """

    def __init__(self, accelerator, args, progress, logger):
        import time

        self.accelerator, self.args, self.progress, self.logger = accelerator, args, progress, logger
        self.started = time.time()
        self.recent: list[dict[str, float]] = []

    def step(self, global_step: int, lr: float, **losses) -> None:
        """Record one optimisation step's `losses` (tensors or numbers) at learning rate `lr`."""
        values = {
            name: float(value.detach() if hasattr(value, "detach") else value)
            for name, value in losses.items()
        }
        diverged = {name: value for name, value in values.items() if not math.isfinite(value)}
        if diverged:
            raise NonFiniteTrainingError(
                f"step {global_step}: loss {diverged} is not finite, so training stopped (nothing more is "
                "saved). Lower the learning rate, check the data for NaN, or start from finite weights; "
                "--resume_from_checkpoint latest restarts from the last good checkpoint."
            )
        self.progress.update(1)
        self.recent = (self.recent + [values])[-self.args.logging_steps :]
        means = self.means()
        self.progress.set_postfix(
            {**{name: f"{mean:.4g}" for name, mean in means.items()}, "lr": f"{lr:.2e}"}
        )
        log_and_checkpoint(self.accelerator, self.args, global_step, means, lr, self.started, self.logger)

    def means(self) -> dict[str, float]:
        """Each loss averaged over the recent steps; NaN for `"loss"` before the first step."""
        if not self.recent:
            return {"loss": float("nan")}
        return {name: float(np.mean([values[name] for values in self.recent])) for name in self.recent[0]}

    @property
    def minutes(self) -> float:
        """Minutes since the log was opened (the start of this run's training loop)."""
        import time

        return (time.time() - self.started) / 60


def backward_and_step(accelerator, loss, model, optimizer, lr_scheduler, max_grad_norm: float) -> None:
    """Backward pass, gradient clipping on the synchronising micro-step, optimiser and LR steps."""
    accelerator.backward(loss)
    if accelerator.sync_gradients:
        accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    lr_scheduler.step()
    optimizer.zero_grad()


def add_training_arguments(parser, **defaults):
    """Add the options every training script shares, as the "training" group, and return the group.

    `defaults` override per script, e.g. `add_training_arguments(parser, output_dir="runs/x",
    learning_rate=1e-3)`; scripts add their own options to the returned group.
    """
    values = dict(
        output_dir="runs/train",
        seed=0,
        train_batch_size=32,
        max_train_steps=3000,
        gradient_accumulation_steps=1,
        learning_rate=5e-4,
        lr_scheduler="cosine",
        lr_warmup_steps=100,
        adam_weight_decay=1e-6,
        max_grad_norm=1.0,
        ema_max_decay=0.999,
        checkpointing_steps=500,
        checkpoints_total_limit=2,
        logging_steps=50,
    )
    unknown = set(defaults) - set(values)
    if unknown:
        raise ValueError(f"No shared training option named {sorted(unknown)}.")
    values.update(defaults)
    train = parser.add_argument_group("training")
    train.add_argument("--output_dir", type=str, default=values["output_dir"], help="Checkpoints and logs.")
    train.add_argument("--seed", type=int, default=values["seed"])
    train.add_argument("--train_batch_size", type=int, default=values["train_batch_size"])
    train.add_argument("--max_train_steps", type=int, default=values["max_train_steps"])
    train.add_argument(
        "--gradient_accumulation_steps", type=int, default=values["gradient_accumulation_steps"]
    )
    train.add_argument("--learning_rate", type=float, default=values["learning_rate"])
    train.add_argument(
        "--lr_scheduler", type=str, default=values["lr_scheduler"], help="A diffusers.optimization name."
    )
    train.add_argument("--lr_warmup_steps", type=int, default=values["lr_warmup_steps"])
    train.add_argument("--adam_weight_decay", type=float, default=values["adam_weight_decay"])
    train.add_argument("--max_grad_norm", type=float, default=values["max_grad_norm"])
    train.add_argument("--use_ema", action="store_true", help="Keep an EMA of the weights and ship it.")
    train.add_argument("--ema_max_decay", type=float, default=values["ema_max_decay"])
    train.add_argument(
        "--mixed_precision",
        type=str,
        default=None,
        choices=["no", "fp16", "bf16"],
        help="Defaults to the `accelerate launch` setting.",
    )
    train.add_argument("--checkpointing_steps", type=int, default=values["checkpointing_steps"])
    train.add_argument("--checkpoints_total_limit", type=int, default=values["checkpoints_total_limit"])
    train.add_argument(
        "--resume_from_checkpoint", type=str, default=None, help='A checkpoint folder, or "latest".'
    )
    train.add_argument("--logging_steps", type=int, default=values["logging_steps"])
    return train


def make_accelerator(args):
    """The `Accelerator` for a training script (accumulation, mixed precision, project folder),
    with logging configured, the seed set and `args.output_dir` created.

    Several processes on a machine without GPUs (`accelerate launch --multi_gpu --num_processes N`
    or `torchrun`) train on CPU over gloo: accelerate only picks its multi-CPU mode when told the
    run is CPU-only, so that is set here when no CUDA device exists and `WORLD_SIZE` > 1.
    """
    import logging

    import torch
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed

    several_cpu_processes = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
    accelerator = Accelerator(
        cpu=several_cpu_processes,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        project_config=ProjectConfiguration(
            project_dir=args.output_dir, logging_dir=os.path.join(args.output_dir, "logs")
        ),
    )
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    if accelerator.is_main_process:
        logging.getLogger(__name__).info(str(accelerator.state))  # distributed type, processes, device
    set_seed(args.seed)
    if accelerator.is_main_process:
        os.makedirs(args.output_dir, exist_ok=True)
    return accelerator


def resume_and_progress(accelerator, args, dataloader, logger, total_steps: int | None = None) -> tuple:
    """Resume from `args.resume_from_checkpoint` (if any) and open the step progress bar.

    Epochs are counted on the *prepared* `dataloader`: with N processes each sees 1/N of the
    batches, so an epoch has fewer optimisation steps than the unprepared loader suggests.

    Returns:
        `(global_step, first_epoch, resume_step, num_epochs, progress)`: the step reached, the
        epoch to start in, the micro-batches of that epoch already trained on, the epochs needed
        to reach the step budget, and a `tqdm` bar.
    """
    import math

    from tqdm.auto import tqdm

    total_steps = total_steps or args.max_train_steps
    updates_per_epoch = max(1, math.ceil(len(dataloader) / args.gradient_accumulation_steps))
    global_step = resume_from_checkpoint(accelerator, args.output_dir, args.resume_from_checkpoint, logger)
    first_epoch = global_step // updates_per_epoch
    resume_step = (global_step % updates_per_epoch) * args.gradient_accumulation_steps
    progress = tqdm(
        total=total_steps,
        initial=global_step,
        disable=not accelerator.is_local_main_process,
        desc="train",
    )
    return global_step, first_epoch, resume_step, math.ceil(total_steps / updates_per_epoch), progress

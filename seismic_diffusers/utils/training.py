"""Pieces every `training/train_*.py` script shares: atomic checkpoints, EMA hooks, resume."""

from __future__ import annotations

import os
import shutil


def list_checkpoints(output_dir: str) -> list[str]:
    """`checkpoint-STEP` folder names in `output_dir`, oldest first (unfinished `.tmp` ones excluded)."""
    if not os.path.isdir(output_dir):
        return []
    names = [d for d in os.listdir(output_dir) if d.startswith("checkpoint-") and not d.endswith(".tmp")]
    return sorted(names, key=lambda name: int(name.split("-")[1]))


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
    if logger is not None:
        logger.info(f"Resuming from {path}")
    accelerator.load_state(path)
    return int(os.path.basename(path.rstrip("/")).split("-")[1])

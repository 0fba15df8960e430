"""Fine-tuning from a pretrained pipeline: the pieces every `training/train_*.py` script shares.

Each script takes `--pretrained_pipeline FOLDER_OR_HUB_ID` and `--freeze PART [PART ...]`. The
pipeline is resolved through the package's hub loader, checked (folder, pipeline type, readable
safetensors) and loaded before any training data is read, so a bad argument fails in seconds.
Training then starts from its weights and configuration (normalisation constants, class
vocabulary, noise schedule) with a fresh EMA, optimizer and learning-rate schedule.
"""

from __future__ import annotations

import argparse
import json
import types
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

# The named parts `--freeze` accepts, as attribute-name prefixes of each model class.
UNET2D_PARTS = {
    "encoder": ("conv_in", "time_proj", "time_embedding", "down_blocks"),
    "mid": ("mid_block",),
    "decoder": ("up_blocks", "conv_norm_out", "conv_out"),
    "class_embedding": ("class_embedding",),
}
SEISMOGRAM_UNET_PARTS = {
    "encoder": ("conv_in", "time_proj", "time_embedding", "down_blocks", "downsamplers"),
    "mid": ("mid_block", "mid_attention"),
    "decoder": ("up_blocks", "upsamplers", "conv_out", "conv_gate"),
}
JOINT_VQ_PARTS = {
    "encoder": ("encoder", "velocity_map_encoder", "quant_conv"),
    "codebook": ("quantizers",),
    "velocity_decoder": ("post_quant_conv", "velocity_decoder"),
    "seismic_decoder": ("post_quant_conv", "seismic_decoder"),
}

WAVEFORM_VAE_PARTS = {
    "encoder": ("encoder", "to_moments"),
    "decoder": ("from_latent", "decoder"),
    "condition": ("station_embedding", "condition_net"),
}
WAVEFORM_PRIOR_PARTS = {
    "embeddings": ("time_proj", "time_embedding", "station_embedding", "condition_embedding"),
    "blocks": ("proj_in", "blocks", "norm_out", "proj_out"),
}


def add_finetune_arguments(parser: argparse.ArgumentParser, parts: Mapping[str, Sequence[str]]):
    """Add `--pretrained_pipeline` and `--freeze` (choices: `parts`) as the "fine-tuning" group."""
    group = parser.add_argument_group("fine-tuning")
    group.add_argument(
        "--pretrained_pipeline",
        type=str,
        default=None,
        help="Start from this pipeline (a local folder or a Hub id): its weights, normalisation, class "
        "vocabulary and noise schedule; model-shape options are then ignored. EMA, optimizer and LR "
        "schedule start fresh.",
    )
    group.add_argument(
        "--freeze",
        type=str,
        nargs="+",
        default=[],
        choices=sorted(parts),
        help="Parts of the model kept fixed (bit-identical) while the rest trains.",
    )
    return group


def check_finetune_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`parser.error` for `--freeze` without `--pretrained_pipeline` (freezing random weights)."""
    if args.freeze and not args.pretrained_pipeline:
        parser.error("--freeze needs --pretrained_pipeline (it keeps pretrained parts fixed).")


def load_pretrained_pipeline(name_or_path: str, pipeline_cls, logger=None):
    """Resolve, check and load a pipeline of class `pipeline_cls` for fine-tuning.

    Args:
        name_or_path (`str`): A local pipeline folder or a Hub id (`org/name`, resolved through
            `seismic_diffusers.hub.resolve_pretrained`, so `HF_HUB_OFFLINE=1` and the cache apply).
        pipeline_cls: The pipeline class the training script fine-tunes.

    Returns:
        `(pipeline, folder)`: the loaded pipeline (on CPU, float32) and the local folder.

    Raises:
        ValueError: the folder or id does not exist, is not a pipeline folder, holds another
            pipeline type, or has missing or corrupt safetensors weights.
    """
    from ..hub import check_pipeline_folder, resolve_pretrained

    try:
        folder = resolve_pretrained(name_or_path)
    except ValueError as error:
        raise ValueError(f"--pretrained_pipeline {name_or_path!r}: {error}") from error
    index_path = Path(folder, "model_index.json")
    if not index_path.is_file():
        raise ValueError(
            f"--pretrained_pipeline {name_or_path!r}: {folder} is not a pipeline folder (no model_index.json)."
        )
    try:
        class_name = json.loads(index_path.read_text()).get("_class_name")
    except json.JSONDecodeError as error:
        raise ValueError(
            f"--pretrained_pipeline {name_or_path!r}: {index_path} is not valid JSON: {error}."
        ) from error
    if class_name != pipeline_cls.__name__:
        raise ValueError(
            f"--pretrained_pipeline {name_or_path!r} holds a {class_name}, but this script fine-tunes a "
            f"{pipeline_cls.__name__}. Pass a {pipeline_cls.__name__} folder (or use the training script "
            f"for {class_name})."
        )
    try:
        check_pipeline_folder(folder)
    except ValueError as error:
        raise ValueError(f"--pretrained_pipeline {name_or_path!r}: {error}") from error
    pipeline = pipeline_cls.from_pretrained(folder)
    if logger is not None:
        logger.info(f"Fine-tuning from {name_or_path} ({folder})")
    return pipeline, folder


def freeze_parts(model: nn.Module, names: Sequence[str], parts: Mapping[str, Sequence[str]]) -> list[str]:
    """Stop gradients to the parameters of the named parts; return the frozen parameter names.

    Frozen parameters get no gradient, so AdamW (weight decay included) leaves them untouched, and
    diffusers' `EMAModel` copies them instead of averaging: they stay bit-identical. Batch-norm
    layers inside a frozen part stay in eval mode (their running statistics would otherwise move).
    """
    unknown = sorted(set(names) - set(parts))
    if unknown:
        raise ValueError(f"Unknown part(s) to freeze {unknown}; valid: {', '.join(sorted(parts))}.")
    prefixes = tuple(f"{prefix}." for name in names for prefix in parts[name])
    frozen = []
    for name, parameter in model.named_parameters():
        if name.startswith(prefixes):
            parameter.requires_grad_(False)
            frozen.append(name)
    if names and not frozen:
        raise ValueError(f"--freeze {' '.join(names)} matched no parameters of {type(model).__name__}.")
    for name, module in model.named_modules():
        if f"{name}.".startswith(prefixes) and isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
            module.train = types.MethodType(_stay_in_eval, module)
    return frozen


def _stay_in_eval(module: nn.Module, mode: bool = True) -> nn.Module:
    return nn.Module.train(module, False)


def extend_class_embedding(unet, old_families: Sequence[str], families: Sequence[str]) -> None:
    """Grow a class-conditional UNet's embedding from `old_families` to `families` (in place).

    The rule: the vocabulary keeps every old family at its index and appends the new ones, then
    the null ("any family") class last. Old rows are copied unchanged, the null row moves to the
    end, and each new family starts from the null row, so before fine-tuning a new family samples
    the model's unconditional distribution.
    """
    old_families, families = list(old_families), list(families)
    if families[: len(old_families)] != old_families:
        raise ValueError(f"The new vocabulary {families} must start with the old one {old_families}.")
    old = unet.class_embedding
    if old.num_embeddings != len(old_families) + 1:
        raise ValueError(
            f"The UNet has {old.num_embeddings} class embeddings, expected {len(old_families)} families + null."
        )
    if len(families) == len(old_families):
        return
    weight = old.weight.detach()
    null_row = weight[len(old_families)]
    new_rows = null_row.expand(len(families) - len(old_families), -1)
    grown = nn.Embedding(len(families) + 1, weight.shape[1])
    with torch.no_grad():
        grown.weight.copy_(torch.cat([weight[: len(old_families)], new_rows, null_row[None]]))
    unet.class_embedding = grown
    unet.register_to_config(num_class_embeds=len(families) + 1)


def fine_tune_summary(args: argparse.Namespace, frozen: Sequence[str] = ()) -> str:
    """The model card's fine-tuning line ("" when training from scratch)."""
    if not getattr(args, "pretrained_pipeline", None):
        return ""
    line = f"- Fine-tuned from: `{args.pretrained_pipeline}` (fresh EMA, optimizer and LR schedule)"
    if args.freeze:
        line += f"; frozen: {', '.join(args.freeze)} ({len(frozen)} tensors)"
    return line + "\n"

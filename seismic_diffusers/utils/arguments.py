"""Command-line argument types and option groups shared by the training scripts and the benchmarks."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from ..processors import MAX_GUIDANCE_SCALE, VelocityProcessor, check_guidance_weight


def family_scale(text: str) -> tuple[str, float]:
    """argparse `type` for `FAMILY=SCALE` (a per-family guidance scale, >= 1).

    Returns `(family, scale)` with the family spelled as the vocabulary spells it (`FlatVel_A=3` ->
    `("flatvel-a", 3.0)`); collect them with `family_scales(args.option)`. Whether the family exists is
    checked later, against the pipeline's own vocabulary.

    Raises:
        argparse.ArgumentTypeError: for text without `=`, a scale that is not a number, or a scale
            outside `[1, MAX_GUIDANCE_SCALE]` (1 is unguided).
    """
    name, _, value = text.partition("=")
    try:
        scale = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes FAMILY=SCALE pairs, got {text!r}") from None
    if not name:
        raise argparse.ArgumentTypeError(f"{text!r}: needs a family before the '='")
    try:
        scale = check_guidance_weight(scale)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the scale must be a number from 1 (unguided) to {MAX_GUIDANCE_SCALE:g}"
        ) from None
    return VelocityProcessor.canonical_family(name), scale


def family_scales(pairs: Iterable[tuple[str, float]]) -> dict[str, float]:
    """`{family: scale}` from `family_scale` pairs, refusing a family given twice.

    `dict(pairs)` would keep the last of two scales for one family without a word (`flatvel-a=3
    FlatVel_A=1.5` spells one family twice); this says which family and both scales.

    Raises:
        ValueError: for a family that appears more than once.
    """
    scales: dict[str, float] = {}
    for family, scale in pairs:
        if family in scales:
            raise ValueError(
                f"{family} is given twice ({scales[family]:g} and {scale:g}); give each family once"
            )
        scales[family] = scale
    return scales


def add_paired_data_arguments(parser: argparse.ArgumentParser) -> None:
    """`--train_data_dir` and `--validation_fraction`, of the joint training scripts (`train_joint_vqvae.py`, `train_joint_ldm.py`)."""
    data = parser.add_argument_group("data")
    data.add_argument(
        "--train_data_dir",
        type=str,
        nargs="+",
        required=True,
        help="OpenFWI-layout folders (data/dataN.npy + model/modelN.npy), e.g. make-dataset outputs.",
    )
    data.add_argument(
        "--validation_fraction", type=float, default=0.05, help="Last share of the pairs, held out."
    )


def add_joint_pipeline_output_arguments(group) -> None:
    """`--pipeline_dir`, `--encode_batch_size` and the end-of-training check's `--validation_samples` and
    `--validation_steps_inference`, of the scripts that write a joint pipeline (`train_joint_ldm.py`,
    `train_joint_latent_operator.py`); `group` is a parser or an argument group."""
    group.add_argument("--pipeline_dir", type=str, default=None, help="Default: OUTPUT_DIR/pipeline.")
    group.add_argument("--encode_batch_size", type=int, default=32)
    group.add_argument(
        "--validation_samples", type=int, default=16, help="Pairs generated and scored at the end."
    )
    group.add_argument(
        "--validation_steps_inference", type=int, default=50, help="DDIM steps for those pairs."
    )


def add_waveform_record_arguments(parser: argparse.ArgumentParser) -> None:
    """The record source options, of the waveform training scripts (`train_waveform_vae.py`, `train_waveform_ldm.py`)."""
    data = parser.add_argument_group("data")
    data.add_argument("--dataset_dir", type=str, default=None, help="A build-waveform-dataset output folder.")
    data.add_argument("--num_records", type=int, default=6000, help="Synthetic records (default data).")
    data.add_argument("--data_seed", type=int, default=0)
    data.add_argument("--window_length", type=int, default=7000, help="Samples per record (70 s at 100 Hz).")
    data.add_argument("--validation_fraction", type=float, default=0.05, help="Last share, held out.")

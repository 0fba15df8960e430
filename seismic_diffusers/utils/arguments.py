"""Command-line argument types shared by the training scripts and the benchmarks."""

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

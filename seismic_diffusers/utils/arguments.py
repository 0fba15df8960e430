"""Command-line argument types shared by the training scripts and the benchmarks."""

from __future__ import annotations

import argparse

from ..processors import VelocityProcessor


def family_scale(text: str) -> tuple[str, float]:
    """argparse `type` for `FAMILY=SCALE` (a per-family guidance scale, >= 1).

    Returns `(family, scale)` with the family spelled as the vocabulary spells it (`FlatVel_A=3` ->
    `("flatvel-a", 3.0)`); use `dict(args.option)` to collect them. Whether the family exists is
    checked later, against the pipeline's own vocabulary.

    Raises:
        argparse.ArgumentTypeError: for text without `=`, a scale that is not a number, or a scale
            below 1 (1 is unguided).
    """
    name, _, value = text.partition("=")
    try:
        scale = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes FAMILY=SCALE pairs, got {text!r}") from None
    if not name or scale < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: needs a family and a scale, not below 1 (1 is unguided)")
    return VelocityProcessor.canonical_family(name), scale

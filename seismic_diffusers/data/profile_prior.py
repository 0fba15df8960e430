"""Fit the velocity pipeline's zero-SNR prior: per-family velocity-depth profile means and spread.

`training/train_velocity.py` fits these to its training maps and saves them in the
`VelocityProcessor` (`mean_profiles`, `profile_components`), which the pipeline samples from at
its first, zero signal-to-noise step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def fit_mean_profiles(
    maps: Iterable[tuple[np.ndarray, int | None]],
    num_families: int,
    fallback: Sequence[Sequence[float] | None] | None = None,
) -> list[list[float]]:
    """Mean velocity-depth profiles for `mean_profiles`, from `(map, label)` pairs.

    The first half of [`fit_profile_prior`], with the same arguments.

    Returns:
        `list[list[float]]`: `num_families + 1` profiles of length `H` in m/s; the last is the
        null row, the mean over every map.
    """
    return fit_profile_prior(maps, num_families, num_components=0, fallback=fallback)[0]


def fit_profile_prior(
    maps: Iterable[tuple[np.ndarray, int | None]],
    num_families: int,
    num_components: int = 8,
    fallback: Sequence[Sequence[float] | None] | None = None,
    fallback_components: Sequence[Sequence[Sequence[float]] | None] | None = None,
) -> tuple[list[list[float]], list[list[list[float]]]]:
    """`mean_profiles` and `profile_components` from `(map, label)` pairs, in one pass.

    Each map's velocity-depth profile is its mean over columns. Per class label this gives
    the profiles' mean and covariance; the components are the covariance's leading
    eigenvectors scaled by the square roots of their eigenvalues (m/s). For the synthetic
    families, 8 components hold 93-99.7 % of the profile variance, most of it (58-83 %) in
    the first, the map's overall velocity level.

    Args:
        maps (`Iterable[tuple[np.ndarray, int | None]]`): Velocity maps of shape `(H, W)` in
            m/s, each with its family label, or `None` (or a negative label) for unlabelled maps.
        num_families (`int`): Size of the family vocabulary; labels run from 0 to
            `num_families - 1`.
        num_components (`int`, *optional*, defaults to 8): Components kept per label (cut to
            `H`); 0 fits the means only (cheaper: no covariances) and returns empty components.
        fallback (`Sequence[Sequence[float] | None]`, *optional*): One mean profile per family,
            used for families without maps (for example a pretrained processor's profiles when
            fine-tuning on some families only); `None` entries, or no `fallback`, give those
            families the null row.
        fallback_components (`Sequence[Sequence[Sequence[float]] | None]`, *optional*): The
            same for the components (cut or zero-padded to `num_components`). A family without
            maps that has a `fallback` mean but no fallback components gets zero components (its
            mean only, as before components existed); one with neither gets the null row's.

    Returns:
        `tuple`: `mean_profiles` (`num_families + 1` rows of length `H`, m/s) and
        `profile_components` (`num_families + 1` lists of `num_components` rows of length `H`,
        m/s); the last entry is the null class, fitted to every map (its spread includes the
        differences between families).

    Raises:
        ValueError: if `maps` is empty, the maps differ in height, a label is not a family, or
        `num_components < 0`.
    """
    if int(num_components) < 0:
        raise ValueError(f"`num_components` must be >= 0, got {num_components}.")
    with_spread = int(num_components) > 0
    moments = {}  # label -> [count, sum, sum of outer products]; -1 pools every map
    for velocity, label in maps:
        profile = np.asarray(velocity, dtype=np.float64).mean(axis=-1)
        if moments and profile.shape != moments[-1][1].shape:
            raise ValueError(
                f"Maps differ in height: {profile.shape[0]} rows after {moments[-1][1].shape[0]}."
            )
        if label is not None and label >= num_families:
            raise ValueError(f"Label {label} is outside the {num_families} families (0-{num_families - 1}).")
        keys = (-1, label) if label is not None and label >= 0 else (-1,)
        for key in keys:
            entry = moments.setdefault(key, [0, np.zeros_like(profile), np.zeros((len(profile),) * 2)])
            entry[0] += 1
            entry[1] += profile
            if with_spread:
                entry[2] += np.outer(profile, profile)
    if not moments:
        raise ValueError("No maps to fit mean profiles to.")
    height = len(moments[-1][1])
    k = min(int(num_components), height)

    def fitted(key):
        count, total, outer = moments[key]
        mean = total / count
        if not with_spread:
            return mean, np.zeros((0, height))
        covariance = (outer - count * np.outer(mean, mean)) / max(count - 1, 1)
        values, vectors = np.linalg.eigh(covariance)  # ascending
        scaled = vectors[:, ::-1][:, :k] * np.sqrt(np.clip(values[::-1][:k], 0.0, None))
        return mean, scaled.T

    def cut(components):
        rows = np.zeros((k, height))
        given = np.asarray(components, dtype=np.float64)[:k]
        rows[: len(given)] = given
        return rows

    null_mean, null_components = fitted(-1)
    fallback = list(fallback) if fallback is not None else [None] * num_families
    fallback_components = (
        list(fallback_components) if fallback_components is not None else [None] * num_families
    )
    means, components = [], []
    for i in range(num_families):
        if i in moments:
            mean, spread = fitted(i)
        elif fallback_components[i] is not None:
            mean = np.asarray(fallback[i]) if fallback[i] is not None else null_mean
            spread = cut(fallback_components[i])
        elif fallback[i] is not None:  # a pretrained mean without spread: keep it a mean
            mean, spread = np.asarray(fallback[i]), np.zeros((k, height))
        else:
            mean, spread = null_mean, null_components
        means.append(mean)
        components.append(spread)
    means.append(null_mean)
    components.append(null_components)
    return (
        [[round(float(v), 3) for v in row] for row in means],
        [[[round(float(v), 2) + 0.0 for v in row] for row in spread] for spread in components],  # no -0.0
    )

"""Quality metrics for velocity models: a family classifier, a Fréchet distance on its features,
and OpenFWI's map metrics (MAE, RMSE, SSIM).

`FamilyClassifier` (a `transformers` model, see `seismic_diffusers.models.family_classifier`) is
trained once by `training/train_family_classifier.py` and shipped frozen under
`pipelines/openfwi-velocity-classifier/`. Its penultimate features play Inception's role in
`velocity_frechet_distance`, which uses the shipped one unless given another, and its predictions
tell whether a class-conditional generator produced the family it was asked for.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.velocity_families import VELOCITY_FAMILIES, check_family, generate_velocity_models
from ..models.family_classifier import FamilyClassifier, as_velocity_tensor

# The frozen FD feature extractor, next to the other shipped pipelines of a source checkout.
FAMILY_CLASSIFIER_PATH = Path(__file__).resolve().parents[2] / "pipelines" / "openfwi-velocity-classifier"


def load_family_classifier(path: str | os.PathLike | None = None) -> FamilyClassifier:
    """The shipped, frozen family classifier (or the one at `path`), in eval mode on the CPU.

    Args:
        path (`str` or `os.PathLike`, *optional*): A folder or Hub id saved by
            `FamilyClassifier.save_pretrained`; defaults to `FAMILY_CLASSIFIER_PATH`
            (`pipelines/openfwi-velocity-classifier` of a source checkout).

    Raises:
        FileNotFoundError: when the default folder is missing (an installed wheel without the
            repository's `pipelines/`): pass `path` or a feature extractor instead.
    """
    if path is None:
        if not (FAMILY_CLASSIFIER_PATH / "config.json").is_file():
            raise FileNotFoundError(
                f"The shipped family classifier is not at {FAMILY_CLASSIFIER_PATH} (it comes with a source "
                "checkout); pass `path` or `feature_extractor=` explicitly."
            )
        return _shipped_family_classifier()
    return FamilyClassifier.from_pretrained(path).eval()


@functools.cache
def _shipped_family_classifier() -> FamilyClassifier:
    return FamilyClassifier.from_pretrained(FAMILY_CLASSIFIER_PATH).eval()


@torch.no_grad()
def predict_families(
    classifier: FamilyClassifier, velocity: torch.Tensor | np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Most likely class label per map.

    Args:
        classifier ([`FamilyClassifier`]): A trained classifier (put in eval mode here).
        velocity (`torch.Tensor` or `np.ndarray` of shape `(N, H, W)` or `(N, 1, H, W)`): m/s.
        batch_size (`int`, *optional*, defaults to 256): Maps per forward pass.

    Returns:
        `np.ndarray` of shape `(N,)`, int64 class labels.
    """
    classifier.eval()
    velocity = as_velocity_tensor(velocity)
    labels = [classifier(chunk).logits.argmax(dim=1).cpu() for chunk in velocity.split(batch_size)]
    return torch.cat(labels).numpy() if labels else np.zeros(0, dtype=np.int64)


def train_family_classifier(
    families: Sequence[str] | None = None,
    num_per_family: int = 1500,
    seed: int = 1,
    steps: int = 2000,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    horizontal_flip: bool = True,
    noise_std: float = 40.0,
    edge_blur: bool = True,
    device: str | torch.device = "cpu",
    feature_dim: int = 128,
) -> FamilyClassifier:
    r"""Train a [`FamilyClassifier`] on freshly generated synthetic families (seeded, deterministic).

    Data: `generate_velocity_models(family, num_per_family, seed)` for each family; label `i` is
    `families[i]`. Training: AdamW (weight decay 1e-4), one-cycle learning-rate schedule,
    cross-entropy, random horizontal flips (a flipped map is as valid as the original for every
    family). The global torch RNG is left untouched.

    Generated maps are never exactly piecewise constant: they carry a few m/s of texture and
    slightly soft interfaces. A classifier trained on clean maps only reads that texture as
    structure (5 m/s of white noise turns a flat-layer map into "curvevel-b"). So, by default,
    training also blurs half of the maps a little (a random blend with a 3 x 3 box blur) and adds
    noise to every map. The noise is white or box-smoothed (3 or 5 cells), with a per-map
    standard deviation drawn from U(0, `noise_std`) m/s. The classifier, and the Fréchet distance
    on its features, then judge structure and family, not texture.

    Without that noise and blur (`noise_std=0, edge_blur=False`, otherwise the defaults, seed
    10000) it trained in 3.0 minutes on 2 CPU threads and reached 96.6 % accuracy on 1600
    held-out maps of the eight families; the augmented default has not yet been timed on an idle
    CPU. The remaining errors are mostly curvevel vs curvefault: some faults barely cut the map,
    so those maps are ambiguous by construction.

    Args:
        families (`Sequence[str]`, *optional*): Families to learn, in label order; defaults to
            `VELOCITY_FAMILIES`.
        num_per_family (`int`, *optional*, defaults to 1500): Training maps per family.
        seed (`int`, *optional*, defaults to 1): Seed for the data, the initial weights and the
            batches. Use a seed different from the sets you evaluate on.
        steps (`int`, *optional*, defaults to 2000): Optimiser steps.
        batch_size (`int`, *optional*, defaults to 64): Maps per step.
        learning_rate (`float`, *optional*, defaults to 3e-3): Peak learning rate.
        horizontal_flip (`bool`, *optional*, defaults to `True`): Flip half of each batch in x.
        noise_std (`float`, *optional*, defaults to 40.0): Largest noise standard deviation (m/s)
            added during training; 0 disables the noise.
        edge_blur (`bool`, *optional*, defaults to `True`): Soften the interfaces of half the maps.
        device (`str` or `torch.device`, *optional*, defaults to `"cpu"`): Where to train.
        feature_dim (`int`, *optional*, defaults to 128): Feature size of the classifier.

    Returns:
        [`FamilyClassifier`] in eval mode, on `device`.
    """
    families = [check_family(name) for name in (families or VELOCITY_FAMILIES)]
    if num_per_family < 1 or steps < 1 or batch_size < 1:
        raise ValueError(
            f"num_per_family, steps and batch_size must be >= 1, got {num_per_family}, {steps}, {batch_size}."
        )
    velocities = torch.from_numpy(
        np.concatenate([generate_velocity_models(name, num_per_family, seed) for name in families])
    )[:, None]
    labels = torch.arange(len(families)).repeat_interleave(num_per_family)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = FamilyClassifier(num_classes=len(families), feature_dim=feature_dim, families=families)
    classifier.to(device).train()
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=learning_rate, weight_decay=1e-4)
    lr_schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        index = torch.randint(len(labels), (batch_size,), generator=generator)
        batch = velocities[index]
        if horizontal_flip:
            flip = torch.rand(batch_size, generator=generator) < 0.5
            batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
        batch = _degrade(batch, generator, noise_std, edge_blur)
        loss = classifier(batch.to(device), labels=labels[index]).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        lr_schedule.step()
    return classifier.eval()


def _degrade(
    batch: torch.Tensor, generator: torch.Generator, noise_std: float, edge_blur: bool
) -> torch.Tensor:
    """Training-time imperfections of generated maps: soft interfaces and (correlated) noise, m/s."""
    size = (batch.shape[0], 1, 1, 1)
    if edge_blur:
        alpha = torch.rand(size, generator=generator) * (torch.rand(size, generator=generator) < 0.5)
        blurred = F.avg_pool2d(F.pad(batch, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        batch = (1.0 - alpha) * batch + alpha * blurred
    if noise_std > 0:
        noise = torch.randn(batch.shape, generator=generator)
        width = int(torch.randint(3, (1,), generator=generator)) * 2 + 1  # 1, 3 or 5 cells
        if width > 1:
            noise = F.avg_pool2d(noise, width, stride=1, padding=width // 2, count_include_pad=False)
            noise = noise / noise.std(dim=(1, 2, 3), keepdim=True)
        batch = batch + torch.rand(size, generator=generator) * noise_std * noise
    return batch


class _FeatureModule(nn.Module):
    """Adapter so torchmetrics' FID accepts a velocity feature extractor (m/s in, float64 out)."""

    def __init__(self, extractor: nn.Module):
        super().__init__()
        self.extractor = extractor
        if hasattr(extractor, "num_features"):
            self.num_features = int(extractor.num_features)
        else:  # infer with one constant 70 x 70 map instead of torchmetrics' (1, 3, 299, 299) dummy
            self.num_features = int(self(torch.full((1, 1, 70, 70), 3000.0)).shape[-1])

    @torch.no_grad()
    def forward(self, velocity: torch.Tensor) -> torch.Tensor:
        self.extractor.eval()
        extract = getattr(self.extractor, "features", self.extractor)
        features = extract(velocity)
        if features.ndim != 2:
            raise ValueError(
                f"The feature extractor must return (batch, features), got {tuple(features.shape)}."
            )
        # float64 features also make torchmetrics return the distance in float64.
        return features.double()


def velocity_frechet_distance(
    real_m_s: torch.Tensor | np.ndarray,
    fake_m_s: torch.Tensor | np.ndarray,
    feature_extractor: nn.Module | None = None,
    batch_size: int = 256,
) -> float:
    r"""Fréchet distance between two sets of velocity maps in a feature space (FID without Inception).

    `d^2 = |mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2))` over the features of each set,
    computed by `torchmetrics.image.fid.FrechetInceptionDistance` with the given extractor as its
    `feature` module (accumulated in float64; nothing is downloaded). Like FID, it is biased by
    the sample count: compare distances only at equal set sizes, ideally well above
    `feature_dim` maps per set.

    Args:
        real_m_s (`torch.Tensor` or `np.ndarray` of shape `(N, H, W)` or `(N, 1, H, W)`):
            Reference velocity maps in m/s (N >= 2).
        fake_m_s (`torch.Tensor` or `np.ndarray` of shape `(M, H, W)` or `(M, 1, H, W)`):
            Maps to judge, in m/s (M >= 2).
        feature_extractor (`torch.nn.Module`, *optional*):
            Defaults to the shipped, frozen [`FamilyClassifier`] ([`load_family_classifier`]),
            which every FD in this project's documents uses. Another extractor's `features`
            method (or, failing that, its `forward`) must map m/s maps `(B, 1, H, W)` to `(B, F)`;
            `num_features` gives `F`.
        batch_size (`int`, *optional*, defaults to 256): Maps per feature pass.

    Returns:
        `float`: the Fréchet distance (squared feature units, >= 0 up to round-off).
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    real = as_velocity_tensor(real_m_s, "real_m_s")
    fake = as_velocity_tensor(fake_m_s, "fake_m_s")
    if len(real) < 2 or len(fake) < 2:
        raise ValueError(f"Need at least 2 maps per set, got {len(real)} real and {len(fake)} fake.")
    if feature_extractor is None:
        feature_extractor = load_family_classifier()
    metric = FrechetInceptionDistance(feature=_FeatureModule(feature_extractor), normalize=False)
    for chunk in real.split(batch_size):
        metric.update(chunk, real=True)
    for chunk in fake.split(batch_size):
        metric.update(chunk, real=False)
    return float(metric.compute())


SSIM_CHUNK = 32  # maps per SSIM call in `openfwi_map_metrics` (memory, not the result)


def openfwi_map_metrics(
    pred_m_s: torch.Tensor | np.ndarray,
    target_m_s: torch.Tensor | np.ndarray,
    v_min: float = 1500.0,
    v_max: float = 4500.0,
) -> dict[str, float]:
    r"""OpenFWI's velocity-map metrics: MAE, RMSE and SSIM on maps scaled to [-1, 1].

    Both inputs are mapped with `x = 2 (v - v_min) / (v_max - v_min) - 1`. MAE and RMSE are means
    over every cell of every map (as OpenFWI's `test.py` does with `nn.L1Loss`/`nn.MSELoss`).
    SSIM uses `torchmetrics.functional.structural_similarity_index_measure` with an 11 x 11
    Gaussian window, sigma 1.5 and `data_range=2`; this equals OpenFWI's SSIM of the maps
    rescaled to [0, 1] with its constants, except at the borders (torchmetrics pads by
    reflection and crops; OpenFWI's `pytorch_ssim` zero-pads).

    Args:
        pred_m_s (`torch.Tensor` or `np.ndarray` of shape `(N, H, W)` or `(N, 1, H, W)`):
            Predicted velocity in m/s.
        target_m_s (`torch.Tensor` or `np.ndarray`, same shape as `pred_m_s`):
            True velocity in m/s.
        v_min (`float`, *optional*, defaults to 1500.0): Velocity (m/s) mapped to -1.
        v_max (`float`, *optional*, defaults to 4500.0): Velocity (m/s) mapped to +1.

    Returns:
        `dict` with `"MAE"`, `"RMSE"` (in normalised units; multiply by `(v_max - v_min) / 2` for
        m/s) and `"SSIM"` (1 for identical maps), as floats.

    Raises:
        ValueError: if the shapes differ, or `v_max <= v_min`.
    """
    if not v_max > v_min:
        raise ValueError(f"`v_max` must exceed `v_min`, got v_min={v_min}, v_max={v_max}.")
    pred = as_velocity_tensor(pred_m_s, "pred_m_s").double()
    target = as_velocity_tensor(target_m_s, "target_m_s").double()
    if pred.shape != target.shape:
        raise ValueError(
            f"`pred_m_s` and `target_m_s` must have the same shape, got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}."
        )
    if len(pred) == 0:
        raise ValueError("`pred_m_s` and `target_m_s` hold no maps.")
    from torchmetrics.functional.image import structural_similarity_index_measure

    pred = 2.0 * (pred - v_min) / (v_max - v_min) - 1.0
    target = 2.0 * (target - v_min) / (v_max - v_min) - 1.0
    # torchmetrics' mean over maps, in chunks: its convolution buffers take about 24 MB per map
    ssim = sum(
        structural_similarity_index_measure(
            p, t, gaussian_kernel=True, sigma=1.5, kernel_size=11, data_range=2.0
        )
        * len(p)
        for p, t in zip(pred.split(SSIM_CHUNK), target.split(SSIM_CHUNK), strict=True)
    ) / len(pred)
    return {
        "MAE": float((pred - target).abs().mean()),
        "RMSE": float((pred - target).square().mean().sqrt()),
        "SSIM": float(ssim),
    }


def velocity_map_statistics(maps_m_s: torch.Tensor | np.ndarray, jump_m_s: float = 50.0) -> dict[str, float]:
    r"""Contrast and edge statistics of a set of velocity maps, for comparing generated with real maps.

    Args:
        maps_m_s (`torch.Tensor` or `np.ndarray` of shape `(N, H, W)` or `(N, 1, H, W)`):
            Velocity in m/s; axis -2 is depth, axis -1 horizontal position.
        jump_m_s (`float`, *optional*, defaults to 50.0): The smallest one-cell vertical change
            (m/s) that counts as a sharp interface.

    Returns:
        `dict` of floats:
        - `"mean"`: mean velocity (m/s);
        - `"std_in_map"`: standard deviation within each map, averaged over maps (m/s);
        - `"std_between_maps"`: standard deviation over maps of each map's mean velocity (m/s):
          how much the overall velocity level varies from map to map;
        - `"min"`, `"max"`: median over maps of each map's extremes (m/s);
        - `"interfaces"`: one-cell vertical jumps over 100 m/s per column;
        - `"sharp_share"`: the share of all vertical variation carried by one-cell jumps over
          `jump_m_s`: 1.0 for piecewise-constant layers, less where interfaces are smeared over
          several cells or layers carry gradients;
        - `"roughness"`: median one-cell horizontal change, averaged over maps (m/s; 0 in flat
          layers).
    """
    maps = as_velocity_tensor(maps_m_s, "maps_m_s")[:, 0].double().cpu().numpy()
    vertical = np.abs(np.diff(maps, axis=1))
    return {
        "mean": float(maps.mean()),
        "std_in_map": float(maps.std(axis=(1, 2)).mean()),
        "std_between_maps": float(maps.mean(axis=(1, 2)).std()),
        "min": float(np.median(maps.min(axis=(1, 2)))),
        "max": float(np.median(maps.max(axis=(1, 2)))),
        "interfaces": float((vertical > 100).sum(axis=1).mean()),
        "sharp_share": float((vertical * (vertical > jump_m_s)).sum() / max(vertical.sum(), 1e-6)),
        "roughness": float(np.median(np.abs(np.diff(maps, axis=2)), axis=(1, 2)).mean()),
    }

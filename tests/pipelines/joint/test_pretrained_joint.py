"""The shipped `pipelines/openfwi-joint-ldm`: pairs that nearly satisfy the wave equation, and
inversion of gathers it never saw. Smaller versions of `benchmarks/bench_joint.py` with thresholds
well inside the benchmark's figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from seismic_diffusers import JointGenerationPipeline, forward_model, openfwi_map_metrics
from seismic_diffusers.data import generate_velocity_models

SHIPPED = Path(__file__).resolve().parents[3] / "pipelines" / "openfwi-joint-ldm"


@pytest.fixture(scope="module")
def shipped():
    pipe = JointGenerationPipeline.from_pretrained(str(SHIPPED))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_folder_is_safetensors_only_and_small():
    files = [p for p in SHIPPED.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".bin", ".pt", ".ckpt", ".pkl", ".pth")]
    assert sum(p.stat().st_size for p in files) < 20e6


def test_generated_pairs_nearly_satisfy_the_wave_equation(shipped):
    out = shipped(batch_size=4, generator=torch.Generator().manual_seed(123), num_inference_steps=50,
                  return_pde_deviation=True)  # fmt: skip
    assert out.velocities.shape == (4, 70, 70) and out.seismic.shape == (4, 5, 1000, 70)
    assert 1500 <= out.velocities.min() and out.velocities.max() <= 4500
    # vertical structure: velocity increases with depth on average, as in every training family
    assert (out.velocities[:, -10:].mean(axis=(1, 2)) > out.velocities[:, :10].mean(axis=(1, 2))).all()
    # random pairs (a velocity map and gathers from another map) sit near 0.03; samples far below
    assert np.median(out.pde_deviation) < 0.006


def test_inverting_unseen_gathers_recovers_the_map(shipped):
    truth = np.concatenate([generate_velocity_models(f, 1, seed=77_000) for f in ("flatvel-a", "curvevel-a")])
    seismic = forward_model(truth, shipped.geometry)
    estimate = shipped.invert(seismic, refine_steps=0).velocities
    metrics = openfwi_map_metrics(estimate, truth)
    assert metrics["MAE"] < 0.2 and metrics["SSIM"] > 0.5

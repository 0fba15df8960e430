"""The shipped `pipelines/openfwi-joint-ldm` (two encoders, 2VQ, latent forward operator): pairs that
nearly satisfy the wave equation because of the operator, and gathers-to-velocity sampling that fits the
data. Smaller versions of `benchmarks/bench_joint.py` with thresholds well inside the benchmark's figures."""

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


def test_folder_is_safetensors_only_and_its_size_is_the_cards():
    files = [p for p in SHIPPED.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".bin", ".pt", ".ckpt", ".pkl", ".pth")]
    # 32.1 MB: over 30 MB because of the operator and the two encoders (card, "Size")
    assert sum(p.stat().st_size for p in files) < 33e6


def test_generated_pairs_satisfy_the_wave_equation_through_the_operator(shipped):
    kwargs = dict(batch_size=8, num_inference_steps=50, return_pde_deviation=True)
    out = shipped(generator=torch.Generator().manual_seed(123), **kwargs)
    assert out.velocities.shape == (8, 70, 70) and out.seismic.shape == (8, 5, 1000, 70)
    assert 1500 <= out.velocities.min() and out.velocities.max() <= 4500
    deeper = out.velocities[:, -10:].mean(axis=(1, 2)) > out.velocities[:, :10].mean(axis=(1, 2))
    assert deeper.mean() >= 0.75
    # at this seed: median 0.0006 with the operator, 0.011 without (bench_joint, report pairs: 0.0007)
    without = shipped(generator=torch.Generator().manual_seed(123), use_latent_operator=False, **kwargs)
    # the operator only writes the seismic half (m/s; snapping rounds in the last bits)
    np.testing.assert_allclose(out.velocities, without.velocities, atol=0.01)
    assert np.median(out.pde_deviation) < 0.002
    assert np.median(without.pde_deviation) > 5 * np.median(out.pde_deviation)


def test_sampling_velocity_given_unseen_gathers_fits_them(shipped):
    truth = np.concatenate(
        [generate_velocity_models(f, 1, seed=77_000) for f in ("flatvel-b", "curvefault-a")]
    )
    seismic = forward_model(truth, shipped.geometry)
    out = shipped.invert(
        seismic, num_candidates=2, num_inference_steps=25, generator=torch.Generator().manual_seed(0)
    )
    assert out.velocities.shape == (2, 70, 70) and np.isfinite(out.seismic_misfit).all()
    # closer to its own map than to the other one (MAE 0.39 against 0.46 at this seed); the velocity
    # inversion pipeline is the one to use for accuracy (the card says so)
    metrics = openfwi_map_metrics(out.velocities, truth)
    assert metrics["MAE"] < 0.45
    assert metrics["MAE"] < openfwi_map_metrics(out.velocities, truth[::-1])["MAE"]

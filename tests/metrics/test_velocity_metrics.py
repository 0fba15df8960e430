"""Tests for the velocity metrics: family classifier, Fréchet distance, OpenFWI map metrics."""

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForImageClassification

from seismic_diffusers import VELOCITY_FAMILIES, generate_velocity_models
from seismic_diffusers.metrics import (
    FAMILY_CLASSIFIER_PATH,
    FamilyClassifier,
    FamilyClassifierConfig,
    load_family_classifier,
    openfwi_map_metrics,
    predict_families,
    train_family_classifier,
    velocity_frechet_distance,
    velocity_map_statistics,
)

# Two families that differ at a glance: 2-5 flat layers vs 5-9 folded, faulted layers.
EASY_PAIR = ("flatvel-a", "curvefault-b")


@pytest.fixture(scope="module")
def easy_classifier():
    """A briefly trained two-family classifier (a few seconds on one CPU thread)."""
    torch.manual_seed(0)
    return train_family_classifier(families=EASY_PAIR, num_per_family=64, steps=40, batch_size=32, seed=3)


def test_classifier_shapes_and_units():
    torch.manual_seed(0)
    clf = FamilyClassifier(num_classes=5, feature_dim=24, block_out_channels=(8, 16))
    v = torch.from_numpy(generate_velocity_models("curvevel-a", 3, seed=0))  # (3, 70, 70) m/s
    assert clf(v).logits.shape == (3, 5)
    assert clf(v[:, None]).logits.shape == (3, 5)  # (B, 1, H, W) is accepted too
    assert clf.features(v).shape == (3, 24)
    assert clf.num_features == 24
    # m/s in, normalised inside: 1500 m/s -> -1 and 4500 m/s -> +1.
    assert torch.allclose(clf.normalize(torch.tensor([1500.0, 4500.0])), torch.tensor([-1.0, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        clf(torch.zeros(2, 3, 70, 70))
    with pytest.raises(ValueError, match="divisible"):
        FamilyClassifier(block_out_channels=(12, 16))


def test_classifier_save_load_roundtrip(tmp_path, easy_classifier):
    easy_classifier.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    loaded = FamilyClassifier.from_pretrained(tmp_path).eval()
    v = generate_velocity_models("flatvel-a", 2, seed=5)
    with torch.no_grad():
        assert torch.allclose(loaded(v).logits, easy_classifier(v).logits, atol=1e-6)
    # registered with transformers' Auto classes by importing seismic_diffusers
    auto = AutoModelForImageClassification.from_pretrained(tmp_path)
    assert isinstance(auto, FamilyClassifier) and isinstance(
        AutoModel.from_pretrained(tmp_path), FamilyClassifier
    )
    assert isinstance(AutoConfig.from_pretrained(tmp_path), FamilyClassifierConfig)
    assert auto.config.id2label == {0: "flatvel-a", 1: "curvefault-b"}
    with torch.no_grad():
        assert torch.equal(auto(v).logits, loaded(v).logits)


def test_classifier_loss_and_config_checks():
    clf = FamilyClassifier(num_classes=2, block_out_channels=(8,), feature_dim=4)
    v = torch.full((3, 70, 70), 2500.0)
    out = clf(v, labels=torch.tensor([0, 1, 1]))
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    loss, logits, features = clf(v, labels=torch.tensor([0, 1, 1]), return_dict=False)
    assert logits.shape == (3, 2) and features.shape == (3, 4)
    with pytest.raises(ValueError, match="v_max"):
        FamilyClassifierConfig(v_min=3000, v_max=2000)
    with pytest.raises(ValueError, match="family names"):
        FamilyClassifierConfig(num_classes=3, families=["a", "b"])
    with pytest.raises(ValueError, match="not both"):
        FamilyClassifier(FamilyClassifierConfig(), num_classes=3)


@pytest.mark.skipif(not (FAMILY_CLASSIFIER_PATH / "config.json").is_file(), reason="no shipped classifier")
def test_shipped_classifier_is_the_default_fd_extractor():
    shipped = load_family_classifier()
    assert shipped is load_family_classifier()  # loaded once
    assert shipped.config.families == list(VELOCITY_FAMILIES)
    # unseen maps (a seed no training or benchmark uses) are told apart
    maps = np.concatenate([generate_velocity_models(name, 12, seed=777) for name in VELOCITY_FAMILIES])
    accuracy = (predict_families(shipped, maps) == np.repeat(np.arange(8), 12)).mean()
    assert accuracy > 0.85
    flat = generate_velocity_models("flatvel-a", 40, seed=11)
    faulted = generate_velocity_models("curvefault-b", 40, seed=11)
    default = velocity_frechet_distance(flat, faulted)
    assert default == pytest.approx(velocity_frechet_distance(flat, faulted, shipped), rel=1e-9)
    assert default > 5 * velocity_frechet_distance(flat, generate_velocity_models("flatvel-a", 40, seed=12))


def test_brief_training_beats_chance(easy_classifier):
    held_out = np.concatenate([generate_velocity_models(name, 50, seed=100) for name in EASY_PAIR])
    labels = np.repeat([0, 1], 50)
    accuracy = (predict_families(easy_classifier, held_out) == labels).mean()
    assert accuracy > 0.75  # chance is 0.5


def test_training_is_deterministic():
    kwargs = dict(families=EASY_PAIR, num_per_family=8, steps=2, batch_size=4, seed=7)
    a, b = train_family_classifier(**kwargs), train_family_classifier(**kwargs)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_frechet_distance_self_vs_other_family(easy_classifier):
    flat = generate_velocity_models("flatvel-a", 64, seed=11)
    flat_other_seed = generate_velocity_models("flatvel-a", 64, seed=12)
    faulted = generate_velocity_models("curvefault-b", 64, seed=11)
    self_distance = velocity_frechet_distance(flat, flat, easy_classifier)
    same_family = velocity_frechet_distance(flat, flat_other_seed, easy_classifier)
    other_family = velocity_frechet_distance(flat, faulted, easy_classifier)
    assert abs(self_distance) < 1e-3 * other_family
    assert other_family > 3 * same_family
    # numpy and torch, (N, H, W) and (N, 1, H, W) all give the same number
    as_tensor = velocity_frechet_distance(torch.from_numpy(flat)[:, None], faulted, easy_classifier)
    assert as_tensor == pytest.approx(other_family, rel=1e-6)


def test_frechet_distance_needs_two_maps(easy_classifier):
    maps = generate_velocity_models("flatvel-a", 2, seed=0)
    with pytest.raises(ValueError, match="at least 2"):
        velocity_frechet_distance(maps[:1], maps, easy_classifier)


def test_map_metrics_identical_and_known_values():
    v = generate_velocity_models("curvefault-a", 4, seed=0)
    metrics = openfwi_map_metrics(v, v.copy())
    assert metrics["MAE"] == 0.0 and metrics["RMSE"] == 0.0
    assert metrics["SSIM"] == pytest.approx(1.0, abs=1e-6)
    # A uniform +300 m/s error is 0.2 in [-1, 1] units (range 3000 m/s spans 2).
    shifted = openfwi_map_metrics(v + 300.0, v)
    assert shifted["MAE"] == pytest.approx(0.2, abs=1e-6)
    assert shifted["RMSE"] == pytest.approx(0.2, abs=1e-6)
    assert shifted["SSIM"] < 1.0
    noisy = v + np.random.default_rng(0).normal(0.0, 300.0, v.shape).astype(np.float32)
    assert openfwi_map_metrics(noisy, v)["SSIM"] < shifted["SSIM"]
    # numpy views with negative strides (maps in reverse order) are accepted
    assert openfwi_map_metrics(v[::-1], v[::-1].copy())["MAE"] == 0.0


def test_map_metrics_of_many_maps_equal_torchmetrics_in_one_call():
    from torchmetrics.functional.image import structural_similarity_index_measure

    from seismic_diffusers.metrics.velocity import SSIM_CHUNK

    truth = generate_velocity_models("curvevel-b", SSIM_CHUNK + 7, seed=0)  # two chunks, the last partial
    pred = truth + np.random.default_rng(1).normal(0.0, 200.0, truth.shape).astype(np.float32)
    scaled = [torch.as_tensor(2.0 * (x - 1500.0) / 3000.0 - 1.0).double()[:, None] for x in (pred, truth)]
    direct = structural_similarity_index_measure(
        *scaled, gaussian_kernel=True, sigma=1.5, kernel_size=11, data_range=2.0
    )
    assert openfwi_map_metrics(pred, truth)["SSIM"] == pytest.approx(float(direct), abs=1e-7)
    assert openfwi_map_metrics(pred[:3], truth[:3])["SSIM"] == pytest.approx(
        float(structural_similarity_index_measure(scaled[0][:3], scaled[1][:3], sigma=1.5, data_range=2.0)),
        abs=1e-7,
    )


def test_map_metrics_reject_bad_shapes():
    v = generate_velocity_models("flatvel-a", 2, seed=0)
    with pytest.raises(ValueError, match="same shape"):
        openfwi_map_metrics(v, v[:1])
    with pytest.raises(ValueError, match="same shape"):
        openfwi_map_metrics(v[:, :, :60], v)
    with pytest.raises(ValueError, match="shape"):
        openfwi_map_metrics(v[0, 0], v[0, 0])
    with pytest.raises(ValueError, match="v_max"):
        openfwi_map_metrics(v, v, v_min=4500.0, v_max=1500.0)
    with pytest.raises(ValueError, match="no maps"):
        openfwi_map_metrics(v[:0], v[:0])


def test_map_statistics_of_two_layers_and_of_a_smeared_interface():
    two_layers = np.full((3, 70, 70), 2000.0, dtype=np.float32)
    two_layers[:, 35:] = 3000.0
    stats = velocity_map_statistics(two_layers)
    assert stats["mean"] == pytest.approx(2500.0) and stats["std_in_map"] == pytest.approx(500.0)
    assert stats["min"] == 2000.0 and stats["max"] == 3000.0
    assert stats["interfaces"] == 1.0 and stats["sharp_share"] == 1.0 and stats["roughness"] == 0.0

    # The same 1000 m/s step spread over 40 cells: 25 m/s per cell, none of it a sharp jump.
    ramp = np.repeat(np.clip(np.arange(70) - 15, 0, 40)[None, :, None] * 25.0 + 2000.0, 70, axis=2)
    smeared = velocity_map_statistics(ramp.astype(np.float32))
    assert smeared["interfaces"] == 0.0 and smeared["sharp_share"] == 0.0

    synthetic = velocity_map_statistics(torch.as_tensor(generate_velocity_models("curvefault-b", 4, seed=0)))
    assert synthetic["sharp_share"] > 0.99 and synthetic["interfaces"] >= 4
    with pytest.raises(ValueError, match="shape"):
        velocity_map_statistics(two_layers[0])

"""Tests for `seismic_diffusers.data.profile_prior`: the velocity pipeline's zero-SNR prior, fitted to maps."""

from __future__ import annotations

import numpy as np
import pytest

from seismic_diffusers.data.profile_prior import fit_mean_profiles, fit_profile_prior


def test_fit_mean_profiles_averages_each_family_and_pools_the_null_row():
    shallow = np.full((4, 3), 2000.0)
    deep = np.tile(np.array([[1800.0], [2200.0], [3000.0], [4000.0]]), (1, 3))
    maps = [(shallow, 0), (deep, 0), (np.full((4, 3), 4000.0), 2), (np.full((4, 3), 3000.0), None)]
    profiles = fit_mean_profiles(maps, num_families=3)
    assert len(profiles) == 4 and all(len(row) == 4 for row in profiles)
    np.testing.assert_allclose(profiles[0], [1900.0, 2100.0, 2500.0, 3000.0])
    np.testing.assert_allclose(profiles[2], [4000.0] * 4)
    pooled = [(2000 + 1800 + 4000 + 3000) / 4, (2000 + 2200 + 4000 + 3000) / 4, 3000.0, 3250.0]
    np.testing.assert_allclose(profiles[3], pooled)  # unlabelled maps count in the null row only
    np.testing.assert_allclose(profiles[1], pooled)  # a family without maps gets the null row
    fallback = [None, [2500.0] * 4, None]
    np.testing.assert_allclose(fit_mean_profiles(maps, 3, fallback=fallback)[1], [2500.0] * 4)


def test_fit_mean_profiles_refuses_no_maps_and_mixed_heights():
    with pytest.raises(ValueError, match="No maps"):
        fit_mean_profiles([], num_families=8)
    with pytest.raises(ValueError, match="differ in height"):
        fit_mean_profiles([(np.full((4, 3), 2000.0), 0), (np.full((5, 3), 2000.0), 0)], 1)
    with pytest.raises(ValueError, match="Label 8 is outside the 8 families"):
        fit_mean_profiles([(np.full((4, 3), 2000.0), 8)], num_families=8)


def test_fit_profile_prior_components_carry_the_profiles_covariance():
    rng = np.random.default_rng(0)
    # profiles = mean + a level shift (std 300 m/s) + a depth trend (std 100 m/s at the ends)
    depth = np.linspace(-1.0, 1.0, 6)
    level, trend = rng.standard_normal(4000) * 300.0, rng.standard_normal(4000) * 100.0
    rows = 3000.0 + level[:, None] + trend[:, None] * depth
    maps = [(np.repeat(row[:, None], 5, axis=1), i % 2) for i, row in enumerate(rows)]
    means, components = fit_profile_prior(maps, num_families=2, num_components=3)
    assert np.asarray(components).shape == (3, 3, 6)
    for label in (0, 1, 2):
        fitted = np.asarray(components[label]).T @ np.asarray(
            components[label]
        )  # sum of scaled outer products
        expected = np.cov(rows[label::2] if label < 2 else rows, rowvar=False)
        np.testing.assert_allclose(fitted, expected, rtol=1e-4)  # components are rounded to 0.01 m/s
        np.testing.assert_allclose(means[label], (rows[label::2] if label < 2 else rows).mean(0), atol=1e-3)
    # the level shift dominates: the first component is flat, ~300 m/s per depth sample
    np.testing.assert_allclose(np.abs(components[0][0]), 300.0, rtol=0.05)
    assert fit_mean_profiles(maps, num_families=2) == means
    with pytest.raises(ValueError, match="num_components"):
        fit_profile_prior(maps, num_families=2, num_components=-1)


def test_fit_profile_prior_fallbacks_for_families_without_maps():
    maps = [(np.full((4, 3), 2000.0 + 100.0 * k), 0) for k in range(3)]
    pretrained = [[[5.0] * 4, [6.0] * 4, [7.0] * 4]] * 2  # three components, two are kept
    means, components = fit_profile_prior(
        maps, 2, num_components=2, fallback=[None, [2500.0] * 4], fallback_components=[None, pretrained[1]]
    )
    assert means[1] == [2500.0] * 4 and components[1] == [[5.0] * 4, [6.0] * 4]
    short = fit_profile_prior(maps, 2, num_components=2, fallback_components=[None, [[5.0] * 4]])
    assert short[1][1] == [[5.0] * 4, [0.0] * 4]  # zero-padded
    # without fallbacks a family without maps gets the null row (here: every map's)
    means, components = fit_profile_prior(maps, 2, num_components=2)
    assert means[1] == means[2] and components[1] == components[2]
    # a pretrained mean without components (a pipeline saved before them) stays a mean: zero spread
    means, components = fit_profile_prior(maps, 2, num_components=2, fallback=[None, [2500.0] * 4])
    assert means[1] == [2500.0] * 4 and components[1] == [[0.0] * 4, [0.0] * 4]
    assert components[0] != components[1]  # the family with maps has its own spread
    # num_components=0: means only
    means_only, empty = fit_profile_prior(maps, 2, num_components=0)
    assert means_only == fit_mean_profiles(maps, 2) and empty == [[], [], []]

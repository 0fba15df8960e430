"""Synthetic Marmara-like records: geometry, magnitude and distance scaling, station effects."""

from __future__ import annotations

import numpy as np
import pytest

from seismic_diffusers.waveforms import SYNTHETIC_STATIONS, generate_marmara_records, hypocentral_distance_km


@pytest.fixture(scope="module")
def records():
    return generate_marmara_records(160, seed=0)


def test_records_carry_their_catalogue_and_are_deterministic(records):
    assert records["waveforms"].shape == (160, 3, 7000) and records["waveforms"].dtype == np.float32
    assert set(records["station"]) == set(SYNTHETIC_STATIONS)
    assert 0.8 <= records["magnitude"].min() and records["magnitude"].max() <= 4.9
    assert (40.5 <= records["latitude"]).all() and (records["longitude"] <= 29.6).all()
    station = SYNTHETIC_STATIONS[records["station"][0]]
    expected = hypocentral_distance_km(
        records["latitude"][0], records["longitude"][0], records["depth_km"][0], *station[:2]
    )
    assert records["distance_km"][0] == pytest.approx(expected, rel=1e-5)
    again = generate_marmara_records(4, seed=0)
    np.testing.assert_array_equal(again["waveforms"], records["waveforms"][:4])


def test_amplitude_scales_with_magnitude_and_distance_like_real_records(records):
    peak = np.log10(np.abs(records["waveforms"]).max(axis=(1, 2)))
    design = np.c_[records["magnitude"], np.log10(records["distance_km"]), np.ones(160)]
    slope_magnitude, slope_distance, _ = np.linalg.lstsq(design, peak, rcond=None)[0]
    assert 0.8 < slope_magnitude < 1.5 and -2.0 < slope_distance < -0.8


def test_hypocentral_distance_includes_depth():
    assert hypocentral_distance_km(41.0, 29.0, 10.0, 41.0, 29.0) == pytest.approx(10.0)
    assert hypocentral_distance_km(40.0, 29.0, 0.0, 41.0, 29.0) == pytest.approx(111.2, abs=0.1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one station"):
        generate_marmara_records(2, stations={})
    with pytest.raises(ValueError, match="`num` must be >= 1"):
        generate_marmara_records(0)


def test_fixed_catalogue_values_override_the_draws():
    sweep = generate_marmara_records(
        3, seed=1, fixed={"magnitude": [2.0, 3.0, 4.0], "latitude": 40.8, "longitude": 28.5, "depth_km": 10.0,
                          "station": ["MR06"] * 3},
    )  # fmt: skip
    assert list(sweep["magnitude"]) == [2.0, 3.0, 4.0] and sweep["station"] == ["MR06"] * 3
    assert len(set(sweep["distance_km"].tolist())) == 1
    peaks = np.log10(np.abs(sweep["waveforms"]).max(axis=(1, 2)))
    assert (np.diff(peaks) > 0.5).all()
    with pytest.raises(ValueError, match="needs 3 codes"):
        generate_marmara_records(3, fixed={"station": ["XX01"] * 3})
    with pytest.raises(ValueError, match="Unknown fixed value 'mag'"):
        generate_marmara_records(3, fixed={"mag": 2.0})

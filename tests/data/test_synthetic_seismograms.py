"""Tests for the synthetic local-earthquake and Peterson-noise generators (`data/synthetic_seismograms.py`)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy.signal import welch

import seismic_diffusers.data.synthetic_seismograms as synthetic_seismograms
from seismic_diffusers.data import (
    COMPONENTS,
    generate_local_earthquakes,
    generate_seismic_noise,
    peterson_velocity_psd,
)

FS = 100.0


@pytest.fixture(scope="module")
def events():
    return generate_local_earthquakes(120, seed=5)


# ------------------------------------------------------------------------------------------------
# Synthetic events
# ------------------------------------------------------------------------------------------------


def test_event_shapes_dtypes_and_order(events):
    assert COMPONENTS == ("E", "N", "Z")
    assert events["waveforms"].shape == (120, 3, 3000) and events["waveforms"].dtype == np.float32
    for key in ("p_arrival_sample", "s_arrival_sample"):
        assert events[key].shape == (120,) and events[key].dtype == np.int64
    for key in ("magnitude", "distance_km"):
        assert events[key].shape == (120,) and events[key].dtype == np.float32
    assert np.isfinite(events["waveforms"]).all()


def test_events_are_deterministic_prefix_stable_and_shardable():
    a = generate_local_earthquakes(6, seed=11)
    b = generate_local_earthquakes(4, seed=11)
    shard = generate_local_earthquakes(2, seed=11, start=4)
    for key in a:
        np.testing.assert_array_equal(a[key][:4], b[key])
        np.testing.assert_array_equal(a[key][4:], shard[key])
    other = generate_local_earthquakes(4, seed=12)
    assert not np.array_equal(other["waveforms"], b["waveforms"])


def test_arrivals_in_window_and_silence_before_p(events):
    p, s, w = events["p_arrival_sample"], events["s_arrival_sample"], events["waveforms"]
    assert (p >= 5.0 * FS - 1).all() and (p <= 15.0 * FS + 1).all()  # 5-15 s of a 30 s window
    assert (s > p).all() and (s <= 3000 - 3.0 * FS).all()  # S at least 3 s before the end
    for i in range(len(w)):
        assert not np.any(w[i, :, : p[i]])  # nothing recorded before P
        assert np.any(w[i, :, p[i] : p[i] + 20])  # but it starts right away


def test_s_minus_p_time_matches_distance(events):
    sp_seconds = (events["s_arrival_sample"] - events["p_arrival_sample"]) / FS
    expected = events["distance_km"].astype(np.float64) * (
        1 / synthetic_seismograms.VS_KM_S - 1 / synthetic_seismograms.VP_KM_S
    )
    np.testing.assert_allclose(sp_seconds, expected, atol=1.0 / FS)
    assert synthetic_seismograms.VP_KM_S == 6.0 and synthetic_seismograms.VS_KM_S == 3.5
    assert events["distance_km"].min() >= 5.0 and events["distance_km"].max() <= 110.0


def test_p_strongest_on_vertical_and_s_on_horizontals(events):
    w, p, s = events["waveforms"].astype(np.float64), events["p_arrival_sample"], events["s_arrival_sample"]
    p_on_z, s_on_h, count = 0, 0, 0
    for i in range(len(w)):
        if s[i] - p[i] < FS:  # need 1 s of P before S
            continue
        count += 1
        p_energy = (w[i, :, p[i] : p[i] + int(FS)] ** 2).sum(axis=1)  # E, N, Z
        s_energy = (w[i, :, s[i] : s[i] + int(FS)] ** 2).sum(axis=1)
        p_on_z += p_energy[2] > max(p_energy[0], p_energy[1])
        s_on_h += s_energy[0] + s_energy[1] > s_energy[2]
    assert count >= 60
    assert p_on_z / count >= 0.95
    assert s_on_h / count >= 0.9


def test_p_is_higher_frequency_than_s(events):
    def centroid(x):
        spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
        freqs = np.fft.rfftfreq(x.size, 1.0 / FS)
        return (freqs * spectrum).sum() / spectrum.sum()

    w, p, s = events["waveforms"].astype(np.float64), events["p_arrival_sample"], events["s_arrival_sample"]
    pairs = [
        (
            centroid(w[i, 2, p[i] : p[i] + 128]),
            centroid(w[i, 0, s[i] : s[i] + 128] + w[i, 1, s[i] : s[i] + 128]),
        )
        for i in range(len(w))
        if s[i] - p[i] >= 128
    ]
    p_centroid, s_centroid = np.array(pairs).T
    assert np.median(p_centroid) > np.median(s_centroid)
    assert np.mean(p_centroid > s_centroid) >= 0.75


def test_amplitudes_are_physical_and_grow_with_magnitude(events):
    pgv = np.abs(events["waveforms"]).max(axis=(1, 2)).astype(np.float64)  # m/s
    assert pgv.min() > 1e-11 and pgv.max() < 0.1  # local M0.5-4.5 events at 5-110 km
    # Remove 1/R spreading, then log amplitude should rise with magnitude.
    corrected = np.log10(pgv * events["distance_km"])
    assert np.corrcoef(corrected, events["magnitude"])[0, 1] > 0.8


def test_coda_decays(events):
    w, s = events["waveforms"].astype(np.float64), events["s_arrival_sample"]
    ratios = []
    for i in range(len(w)):
        early = np.sqrt((w[i, :, s[i] : s[i] + 100] ** 2).mean())
        late = np.sqrt((w[i, :, -100:] ** 2).mean())
        ratios.append(late / early)
    assert np.median(ratios) < 0.3


def test_event_argument_validation():
    with pytest.raises(ValueError, match="num"):
        generate_local_earthquakes(-1)
    with pytest.raises(ValueError, match="at least 8 s"):
        generate_local_earthquakes(1, num_samples=500)
    with pytest.raises(ValueError, match="distance_range_km"):
        generate_local_earthquakes(1, distance_range_km=(50.0, 10.0))


def test_other_sampling_rates():
    out = generate_local_earthquakes(3, seed=0, sampling_rate=40.0, num_samples=1200)
    assert out["waveforms"].shape == (3, 3, 1200)
    sp = (out["s_arrival_sample"] - out["p_arrival_sample"]) / 40.0
    np.testing.assert_allclose(sp, out["distance_km"] * (1 / 3.5 - 1 / 6.0), atol=1 / 40.0)


def test_fixed_magnitude_distance_and_kappa_steer_the_generator():
    drawn = generate_local_earthquakes(3, seed=5)
    fixed = generate_local_earthquakes(
        3, seed=5, magnitude=drawn["magnitude"], distance_km=drawn["distance_km"]
    )
    np.testing.assert_allclose(
        fixed["waveforms"], drawn["waveforms"], atol=1e-6 * np.abs(drawn["waveforms"]).max()
    )
    # amplitude grows about tenfold per magnitude unit at fixed distance, and falls with distance
    peaks = {
        (m, d): np.log10(np.abs(generate_local_earthquakes(12, seed=9, magnitude=np.full(12, m),
                         distance_km=np.full(12, d))["waveforms"]).max(axis=(1, 2))).mean()
        for m in (1.0, 3.0) for d in (20.0, 80.0)
    }  # fmt: skip
    assert 0.8 < (peaks[(3.0, 20.0)] - peaks[(1.0, 20.0)]) / 2 < 1.5
    assert peaks[(3.0, 80.0)] < peaks[(3.0, 20.0)] - 0.4
    # a larger kappa removes high frequencies
    soft = generate_local_earthquakes(4, seed=2, kappa=np.full(4, 0.005))["waveforms"]
    hard = generate_local_earthquakes(4, seed=2, kappa=np.full(4, 0.08))["waveforms"]
    assert np.abs(np.diff(hard, axis=-1)).sum() < 0.7 * np.abs(np.diff(soft, axis=-1)).sum()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"magnitude": [1.0, 2.0]}, "`magnitude` must hold 3 finite values"),
        ({"distance_km": [10.0, float("nan"), 10.0]}, "`distance_km` must hold 3 finite values"),
        ({"distance_km": [10.0, -1.0, 10.0]}, "must be positive"),
        ({"distance_km": [10.0, 500.0, 10.0]}, "puts S past the window"),
        ({"kappa": [0.01, -0.01, 0.02]}, "must be >= 0"),
    ],
)
def test_fixed_values_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_local_earthquakes(3, seed=0, **kwargs)


# ------------------------------------------------------------------------------------------------
# Synthetic noise
# ------------------------------------------------------------------------------------------------


def test_noise_shapes_determinism_and_independence_from_events():
    a = generate_seismic_noise(5, seed=3)
    assert a.shape == (5, 3, 3000) and a.dtype == np.float32
    np.testing.assert_array_equal(a[:3], generate_seismic_noise(3, seed=3))
    np.testing.assert_array_equal(a[3:], generate_seismic_noise(2, seed=3, start=3))
    assert not np.array_equal(a, generate_seismic_noise(5, seed=4))
    # Same seed as the events, but its own random stream: uncorrelated with the event coda.
    ev = generate_local_earthquakes(5, seed=3)["waveforms"]
    corr = [abs(np.corrcoef(a[i, 2, 2000:], ev[i, 2, 2000:])[0, 1]) for i in range(5)]
    assert max(corr) < 0.2


def test_noise_psd_lies_between_peterson_models():
    # Four minutes per record so the Welch estimate is tight; transients on, median averaging.
    noise = generate_seismic_noise(12, seed=1, num_samples=24000, transient_probability=0.5)
    freqs, psd = welch(noise.astype(np.float64), fs=FS, nperseg=2048, axis=-1, average="median")
    band = (freqs >= 0.1) & (freqs <= 20.0)
    measured = 10 * np.log10(psd[..., band])
    low = 10 * np.log10(peterson_velocity_psd(freqs[band], "low"))
    high = 10 * np.log10(peterson_velocity_psd(freqs[band], "high"))
    tolerance = 1.0  # dB, the estimator's own scatter
    assert (measured > low - tolerance).all()
    assert (measured < high + tolerance).all()
    # Levels really vary between records (mid-band, 1-5 Hz).
    mid = (freqs[band] >= 1) & (freqs[band] <= 5)
    levels = measured[:, 2, mid].mean(axis=1)
    assert levels.max() - levels.min() > 10.0


def test_peterson_conversion_to_velocity():
    # NLNM at 1 s period is about -166.7 dB acceleration; velocity divides by (2 pi)^2.
    value = 10 * np.log10(peterson_velocity_psd(np.array([1.0]), "low"))[0]
    assert value == pytest.approx(-166.7 - 10 * np.log10((2 * np.pi) ** 2), abs=0.5)
    assert peterson_velocity_psd(np.array([0.0]), "high")[0] == 0.0
    with pytest.raises(ValueError, match="model"):
        peterson_velocity_psd(np.array([1.0]), "medium")


def test_noise_transients():
    clean = generate_seismic_noise(20, seed=2, transient_probability=0.0)
    spiky = generate_seismic_noise(20, seed=2, transient_probability=1.0)
    # Records share the background noise draw; every record gained one transient.
    changed = [not np.array_equal(clean[i], spiky[i]) for i in range(20)]
    assert all(changed)
    with pytest.raises(ValueError, match="transient_probability"):
        generate_seismic_noise(1, transient_probability=1.5)


def test_doctests():
    result = doctest.testmod(synthetic_seismograms, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0

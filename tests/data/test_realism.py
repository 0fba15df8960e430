"""`RealisticRecording`: each effect does what it says, reproducibly, and the pair dataset applies it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from seismic_diffusers.data import DenoisingPairDataset, generate_local_earthquakes, generate_seismic_noise
from seismic_diffusers.data.realism import RealisticRecording, geophone_response

OFF = {name: 0.0 for name in (
    "second_event_probability", "microseism_probability", "line_probability", "modulation_probability",
    "spike_probability", "step_probability", "geophone_probability", "accelerometer_probability",
    "band_limit_probability",
)}  # fmt: skip


@pytest.fixture(scope="module")
def pair():
    clean = generate_local_earthquakes(1, seed=4)["waveforms"][0].astype(np.float64)
    noise = generate_seismic_noise(1, seed=4)[0].astype(np.float64)
    return clean, noise


def band_power(x: np.ndarray, low: float, high: float) -> float:
    freqs, psd = signal.welch(x, fs=100.0, nperseg=2048, axis=-1)
    return float(psd[..., (freqs >= low) & (freqs <= high)].sum())


def test_everything_off_is_the_identity(pair):
    clean, noise = RealisticRecording(**OFF)(*pair, np.random.default_rng(0))
    np.testing.assert_array_equal(clean, pair[0])
    np.testing.assert_array_equal(noise, pair[1])


def test_microseism_adds_power_below_half_a_hertz_only_to_the_noise(pair):
    clean, noise = RealisticRecording(**{**OFF, "microseism_probability": 1.0})(
        *pair, np.random.default_rng(1)
    )
    np.testing.assert_array_equal(clean, pair[0])
    added = noise - pair[1]
    assert band_power(added, 0.05, 0.6) > 0.95 * band_power(
        added, 0.0, 50.0
    )  # all of it in the microseism band


def test_a_geophone_cuts_the_microseism_in_signal_and_noise_alike(pair):
    clean, noise = RealisticRecording(**{**OFF, "geophone_probability": 1.0})(*pair, np.random.default_rng(2))
    for before, after in ((pair[0], clean), (pair[1], noise)):
        assert band_power(after, 0.1, 0.3) < 0.05 * band_power(before, 0.1, 0.3)
        assert band_power(after, 5, 20) == pytest.approx(band_power(before, 5, 20), rel=0.1)
    z, p, _ = geophone_response(100.0)
    assert np.all(np.abs(p) < 1)  # stable


def test_lines_spikes_and_second_events(pair):
    rng = np.random.default_rng(3)
    lines = RealisticRecording(**{**OFF, "line_probability": 1.0})(*pair, rng)[1]
    freqs, psd = signal.welch(lines[2], fs=100.0, nperseg=2048)
    assert psd.max() > 20 * np.median(psd)  # narrow peaks stand out of the background
    spikes = RealisticRecording(**{**OFF, "spike_probability": 1.0})(*pair, rng)[1]
    assert np.abs(spikes).max() > 4 * np.abs(pair[1]).max()
    other = np.ones_like(pair[0])
    clean, _ = RealisticRecording(**{**OFF, "second_event_probability": 1.0})(*pair, rng, lambda: other)
    added = clean - pair[0]
    assert added[:, :300].max() == 0 and added[:, -1].max() > 0  # shifted by 10-80 % of the window


def test_the_pair_dataset_applies_it_reproducibly_before_the_level():
    events = generate_local_earthquakes(4, seed=1)
    noise = generate_seismic_noise(4, seed=1)
    plain = DenoisingPairDataset(events["waveforms"], noise, seed=0, length=16)
    real = DenoisingPairDataset(events["waveforms"], noise, seed=0, length=16, augment=RealisticRecording())
    items = [real[i] for i in range(16)]
    assert any(
        not np.array_equal(a["noise"], b["noise"])
        for a, b in zip(items, [plain[i] for i in range(16)], strict=True)
    )
    np.testing.assert_array_equal(real[5]["noisy"], real[5]["noisy"])
    for item in items:  # the SNR drawn is the SNR delivered
        clean, noise_ = item["clean"].double().numpy(), item["noise"].double().numpy()
        assert 10 * np.log10((clean**2).sum() / (noise_**2).sum()) == pytest.approx(item["snr_db"], abs=1e-3)


def test_bad_probabilities_are_refused():
    with pytest.raises(ValueError, match="`line_probability` must be in"):
        RealisticRecording(line_probability=1.5)
    with pytest.raises(ValueError, match="must not exceed 1"):
        RealisticRecording(geophone_probability=0.7, accelerometer_probability=0.5)


def test_band_passed_pairs_lose_what_lies_outside_the_band():
    from seismic_diffusers.data.realism import BandPassedPair

    rng = np.random.default_rng(0)
    t = np.arange(3000) / 100.0
    clean = np.stack([np.sin(2 * np.pi * 5 * t)] * 3)
    noise = np.stack([np.sin(2 * np.pi * 0.1 * t) + np.sin(2 * np.pi * 40 * t)] * 3)
    out_clean, out_noise = BandPassedPair((1.0, 20.0), 100.0)(clean, noise, rng, None)
    middle = slice(500, 2500)  # away from the zero-phase filter's edge transients
    assert np.abs(out_noise[:, middle]).max() < 0.05
    np.testing.assert_allclose(out_clean[:, middle], clean[:, middle], atol=0.05)
    with pytest.raises(ValueError, match="band_hz"):
        BandPassedPair((1.0, 60.0), 100.0)

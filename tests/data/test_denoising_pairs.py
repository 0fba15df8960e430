"""Tests for the event + noise pairing dataset and SNR scaling (`data/denoising_pairs.py`)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import seismic_diffusers.data.denoising_pairs as denoising_pairs
from seismic_diffusers.data import (
    DenoisingPairDataset,
    generate_local_earthquakes,
    generate_seismic_noise,
    synthetic_denoising_dataset,
)


@pytest.fixture(scope="module")
def pair_dataset():
    return synthetic_denoising_dataset(num_events=8, num_noise=6, seed=0, length=24)


def test_pair_items_shapes_and_achieved_snr(pair_dataset):
    assert len(pair_dataset) == 24
    for i in range(len(pair_dataset)):
        item = pair_dataset[i]
        for key in ("clean", "noise", "noisy"):
            assert item[key].shape == (3, 3000) and item[key].dtype == torch.float32
        torch.testing.assert_close(item["noisy"], item["clean"] + item["noise"])
        clean, noise = item["clean"].double(), item["noise"].double()
        achieved = 10 * torch.log10((clean**2).sum() / (noise**2).sum()).item()
        assert achieved == pytest.approx(item["snr_db"], abs=1e-3)
        assert -5.0 <= item["snr_db"] <= 20.0
        assert float(clean.abs().max()) == pytest.approx(1.0)  # per-event peak normalisation
        assert item["event_index"] == i % 8 and 0 <= item["noise_index"] < 6
        assert 0 < item["p_arrival_sample"] < item["s_arrival_sample"] < 3000


def test_pair_snr_spreads_over_the_range(pair_dataset):
    snrs = [pair_dataset[i]["snr_db"] for i in range(len(pair_dataset))]
    assert max(snrs) - min(snrs) > 10.0


def test_pair_determinism(pair_dataset):
    again = synthetic_denoising_dataset(num_events=8, num_noise=6, seed=0, length=24)
    for i in (0, 5, 23):
        a, b = pair_dataset[i], again[i]
        torch.testing.assert_close(a["noisy"], b["noisy"], rtol=0, atol=0)
        assert a["snr_db"] == b["snr_db"]
    other = synthetic_denoising_dataset(num_events=8, num_noise=6, seed=1, length=24)
    assert not torch.equal(other[0]["noisy"], pair_dataset[0]["noisy"])
    assert pair_dataset[-1]["snr_db"] == pair_dataset[23]["snr_db"]
    with pytest.raises(IndexError):
        pair_dataset[24]


def test_pair_clean_is_the_synthetic_event():
    ev = generate_local_earthquakes(3, seed=9)
    noise = generate_seismic_noise(3, seed=9)
    dataset = DenoisingPairDataset(
        ev["waveforms"], noise, ev["p_arrival_sample"], ev["s_arrival_sample"], seed=2
    )
    item = dataset[1]
    expected = ev["waveforms"][1] / np.abs(ev["waveforms"][1]).max()
    np.testing.assert_allclose(item["clean"].numpy(), expected, rtol=1e-5, atol=1e-7)
    assert item["scale"] == pytest.approx(float(np.abs(ev["waveforms"][1]).max()), rel=1e-6)
    assert item["p_arrival_sample"] == ev["p_arrival_sample"][1]


def test_pair_noisy_peak_and_no_normalisation():
    ev = generate_local_earthquakes(2, seed=4)
    noise = generate_seismic_noise(2, seed=4)
    noisy_peak = DenoisingPairDataset(ev["waveforms"], noise, normalize="noisy_peak")[0]
    assert float(noisy_peak["noisy"].abs().max()) == pytest.approx(1.0, rel=1e-6)
    raw = DenoisingPairDataset(ev["waveforms"], noise, normalize="none")[0]
    np.testing.assert_allclose(raw["clean"].numpy(), ev["waveforms"][0])
    assert raw["scale"] == 1.0 and raw["p_arrival_sample"] == -1  # arrivals not given


def test_pair_cdiffsd_noise_scale():
    ev = generate_local_earthquakes(4, seed=6)
    noise = generate_seismic_noise(4, seed=6)
    dataset = DenoisingPairDataset(ev["waveforms"], noise, snr_db_range=None, noise_scale_range=(0.4, 0.65))
    for i in range(4):
        item = dataset[i]
        ratio = float(item["noise"].abs().max() / item["clean"].abs().max())
        assert 0.4 - 1e-6 <= ratio <= 0.65 + 1e-6
        achieved = 10 * torch.log10((item["clean"].double() ** 2).sum() / (item["noise"].double() ** 2).sum())
        assert achieved.item() == pytest.approx(item["snr_db"], abs=1e-3)


def test_pair_cropping_keeps_p_in_window():
    ev = generate_local_earthquakes(6, seed=8, num_samples=6000)  # 60 s, like STEAD
    noise = generate_seismic_noise(3, seed=8, num_samples=6000)
    dataset = DenoisingPairDataset(
        ev["waveforms"], noise, ev["p_arrival_sample"], ev["s_arrival_sample"], num_samples=3000
    )
    for i in range(6):
        item = dataset[i]
        assert item["clean"].shape == (3, 3000)
        p = item["p_arrival_sample"]
        assert 300 <= p <= 1500  # first half of the window, at least a tenth in
        full = ev["waveforms"][i] / np.abs(ev["waveforms"][i]).max()
        # The crop is the event shifted by (P_full - P_crop), rescaled by the window's own peak.
        offset = ev["p_arrival_sample"][i] - p
        window = full[:, offset : offset + 3000]
        np.testing.assert_allclose(item["clean"].numpy(), window / np.abs(window).max(), rtol=1e-5, atol=1e-6)
        s = item["s_arrival_sample"]
        assert s == -1 or s == ev["s_arrival_sample"][i] - offset


def test_pair_dataloader_collates():
    dataset = synthetic_denoising_dataset(num_events=4, num_noise=2, seed=0)
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=4)))
    assert batch["noisy"].shape == (4, 3, 3000)
    assert batch["snr_db"].shape == (4,) and batch["p_arrival_sample"].dtype == torch.int64


def test_pair_validation():
    ev = generate_local_earthquakes(2, seed=0)["waveforms"]
    noise = generate_seismic_noise(2, seed=0)
    with pytest.raises(ValueError, match="channels"):
        DenoisingPairDataset(ev, noise[:, :2])
    with pytest.raises(ValueError, match="fewer than"):
        DenoisingPairDataset(ev, noise[:, :, :1000])
    with pytest.raises(ValueError, match="exactly one"):
        DenoisingPairDataset(ev, noise, snr_db_range=(0, 10), noise_scale_range=(0.4, 0.6))
    bad = ev.copy()
    bad[1, 0, 5] = np.nan
    with pytest.raises(ValueError, match="record 1 contains NaN"):
        DenoisingPairDataset(bad, noise)
    with pytest.raises(ValueError, match="all zeros"):
        DenoisingPairDataset(np.zeros_like(ev), noise)
    with pytest.raises(ValueError, match="normalize"):
        DenoisingPairDataset(ev, noise, normalize="rms")
    with pytest.raises(ValueError, match="shape"):
        DenoisingPairDataset(ev[0], noise)
    with pytest.raises(ValueError, match="p_arrival_sample"):
        DenoisingPairDataset(ev, noise, p_arrival_sample=[1, 2, 3])


def test_scale_noise_to_snr_hits_the_target_per_record_and_refuses_silence():
    from seismic_diffusers.data import scale_noise_to_snr

    clean = generate_local_earthquakes(3, seed=5)["waveforms"].astype(np.float64)
    noise = generate_seismic_noise(3, seed=6).astype(np.float64)
    for snr in (-5.0, 0.0, 12.5):
        scaled = scale_noise_to_snr(clean, noise, snr)
        achieved = 10 * np.log10(np.sum(clean**2, axis=(1, 2)) / np.sum(scaled**2, axis=(1, 2)))
        np.testing.assert_allclose(achieved, snr, atol=1e-9)
    np.testing.assert_allclose(
        scale_noise_to_snr(clean[0], noise[0], 0.0), scale_noise_to_snr(clean, noise, 0.0)[0]
    )
    with pytest.raises(ValueError, match="all zeros"):
        scale_noise_to_snr(np.zeros_like(clean), noise, 0.0)
    with pytest.raises(ValueError, match=r"\(C, N\) or \(B, C, N\)"):
        scale_noise_to_snr(clean, noise[:2], 0.0)


def test_doctests():
    result = doctest.testmod(denoising_pairs, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0

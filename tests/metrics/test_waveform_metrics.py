"""Tests for the seismogram metrics: SNR (STEAD windows and reconstruction), correlation, and
phase picking with ObsPy's offline pickers."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import seismic_diffusers.metrics.waveform as waveform_metrics
from seismic_diffusers.data import generate_local_earthquakes, generate_seismic_noise
from seismic_diffusers.metrics import (
    PICK_METHODS,
    PICKER_PARAMETERS,
    oracle_mask_estimate,
    pearson_correlation,
    pick_error_and_recall,
    pick_phases,
    reconstruction_snr_db,
    snr_db,
)

FS = 100.0


@pytest.fixture(scope="module")
def clean_events():
    return generate_local_earthquakes(40, seed=21)


@pytest.fixture(scope="module")
def rjob():
    """ObsPy's bundled example event (BW.RJOB, 100 Hz), reordered to E, N, Z. Evaluation only."""
    import obspy

    stream = obspy.read()
    return np.stack([stream.select(component=c)[0].data for c in "ENZ"]).astype(np.float64)


# ------------------------------------------------------------------------------------------------
# SNR and correlation
# ------------------------------------------------------------------------------------------------


def test_reconstruction_snr_of_a_known_noise_level():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((4, 3, 1000))
    noise = rng.standard_normal((4, 3, 1000))
    target = np.array([0.0, 6.0, 10.0, 20.0])[:, None]  # dB per record, same for each channel
    noise *= np.sqrt((reference**2).sum(-1) / ((noise**2).sum(-1) * 10 ** (target / 10)))[..., None]
    out = reconstruction_snr_db(reference + noise, reference)
    assert out.shape == (4, 3)
    np.testing.assert_allclose(out, np.broadcast_to(target, (4, 3)), atol=1e-9)
    single = reconstruction_snr_db(reference[1] + noise[1], reference[1])
    assert single.shape == (3,)
    np.testing.assert_allclose(single, 6.0, atol=1e-9)
    per_record = reconstruction_snr_db(reference + noise, reference, per_channel=False)
    np.testing.assert_allclose(per_record, target[:, 0], atol=1e-9)
    assert np.isposinf(reconstruction_snr_db(reference, reference)).all()
    with pytest.raises(ValueError, match="same shape"):
        reconstruction_snr_db(reference, reference[:, :2])


def test_pearson_correlation():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 500))
    np.testing.assert_allclose(pearson_correlation(x, x), 1.0)
    np.testing.assert_allclose(pearson_correlation(x, -2 * x + 5), -1.0)
    independent = pearson_correlation(x, rng.standard_normal((2, 3, 500)))
    assert independent.shape == (2, 3) and np.abs(independent).max() < 0.2
    half = x + rng.standard_normal(x.shape)  # equal-power noise: correlation 1/sqrt(2)
    assert np.abs(pearson_correlation(half, x) - 2**-0.5).max() < 0.1
    constant = pearson_correlation(np.ones((3, 10)), x[0, :, :10])
    assert np.isnan(constant).all()


def test_stead_window_snr():
    record = np.tile([1.0, -1.0], (2, 3, 1500))  # zero-mean "noise" of amplitude 1
    record[0, :, 1000:] *= 10.0  # P at sample 1000, 20 dB louder
    record[1, :, 1500:] *= 100.0  # P at 1500, 40 dB louder
    out = snr_db(record, np.array([1000, 1500]), sampling_rate=FS)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out[0], 20.0, atol=1e-6)
    np.testing.assert_allclose(out[1], 40.0, atol=1e-6)
    # Only the 2 s windows around P matter: a burst 3 s after P changes nothing.
    record[0, :, 1300:1400] *= 1000.0
    np.testing.assert_allclose(snr_db(record[0], 1000), 20.0, atol=1e-6)
    # Unknown P -> NaN; P 0.5 s from the start -> both windows shortened to 0.5 s.
    assert np.isnan(snr_db(record[0], -1)).all()
    early = record[0].copy()
    early[:, 50:100] *= 10.0  # amplitude 10 right after P at sample 50 ...
    early[:, 100:1000] *= 1000.0  # ... and 1000 from 1 s on, outside the shortened window
    np.testing.assert_allclose(snr_db(early, 50), 20.0, atol=1e-6)
    # An offset does not matter: each window is demeaned.
    np.testing.assert_allclose(snr_db(record[0] + 1e3, 1000), 20.0, atol=1e-6)


def test_stead_window_snr_on_synthetic_pairs(clean_events):
    # Clean events: the noise window is silent -> +inf. Adding noise gives a finite value that
    # falls as the noise grows.
    w, p = clean_events["waveforms"][:5], clean_events["p_arrival_sample"][:5]
    assert np.isposinf(snr_db(w, p)).all()
    noise = generate_seismic_noise(5, seed=21).astype(np.float64)
    noise *= (np.abs(w).max(axis=(1, 2)) / noise.std(axis=(1, 2)))[:, None, None]  # RMS = event peak
    quiet, loud = snr_db(w + 1e-4 * noise, p), snr_db(w + 1e-1 * noise, p)
    assert np.isfinite(quiet).all() and (quiet > loud + 20.0).all()


# ------------------------------------------------------------------------------------------------
# Picking
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", PICK_METHODS)
def test_pickers_find_p_on_clean_synthetic_events(clean_events, method):
    picks = [pick_phases(w, FS, method=method) for w in clean_events["waveforms"]]
    scores = pick_error_and_recall([p["p"] for p in picks], clean_events["p_arrival_sample"], FS)
    assert scores["num_true"] == 40 and scores["num_picked"] == 40
    assert scores["recall_0.5s"] == 1.0
    assert scores["recall_0.1s"] >= 0.9
    assert scores["median_abs_error_s"] <= 0.05
    if method != "ar_pick":
        assert all(p["s"] is None for p in picks)


def test_ar_pick_finds_s(clean_events):
    picks = [pick_phases(w, FS, method="ar_pick") for w in clean_events["waveforms"]]
    scores = pick_error_and_recall([p["s"] for p in picks], clean_events["s_arrival_sample"], FS)
    assert scores["recall_0.5s"] >= 0.7
    assert all(p["s"] is None or p["s"] > p["p"] for p in picks)


def test_ar_pick_gives_no_s_when_p_is_too_early_for_obspy(clean_events):
    # ObsPy's C picker reads before its buffers when P lies within lta_s - l_p (3.9 s) of the start,
    # so its S changed from call to call (about a quarter of the noisy development records).
    early = []
    for w, p in zip(clean_events["waveforms"], clean_events["p_arrival_sample"], strict=True):
        shift = int(p) - int(1.5 * FS)  # P moved to 1.5 s
        early.append(np.concatenate([w[:, shift:], np.zeros((3, shift))], axis=1))
    first = [pick_phases(w, FS, method="ar_pick") for w in early]
    again = []
    for w in early:
        np.random.default_rng(0).standard_normal(50_000)  # churn the heap between calls
        again.append(pick_phases(w, FS, method="ar_pick"))
    assert first == again
    assert all(p["s"] is None for p in first if p["p"] is not None and p["p"] < 3.9 * FS)
    assert sum(p["p"] is not None and abs(p["p"] - 1.5 * FS) <= 0.1 * FS for p in first) >= 30


def test_pickers_work_with_moderate_noise(clean_events):
    w = clean_events["waveforms"].astype(np.float64)
    noise = generate_seismic_noise(len(w), seed=22).astype(np.float64)
    # 10 dB SNR over the whole window (all channels).
    noise *= np.sqrt((w**2).sum((1, 2)) / ((noise**2).sum((1, 2)) * 10.0))[:, None, None]
    for method in PICK_METHODS:
        picks = [pick_phases(x, FS, method=method)["p"] for x in w + noise]
        assert pick_error_and_recall(picks, clean_events["p_arrival_sample"], FS)["recall_0.5s"] >= 0.9


@pytest.mark.parametrize("rate", [50.0, 200.0])
def test_pickers_scale_to_other_sampling_rates(rate):
    events = generate_local_earthquakes(12, seed=23, sampling_rate=rate, num_samples=int(30 * rate))
    for method in PICK_METHODS:
        picks = [pick_phases(w, rate, method=method)["p"] for w in events["waveforms"]]
        scores = pick_error_and_recall(picks, events["p_arrival_sample"], rate)
        assert scores["recall_0.5s"] >= 0.9, (method, rate, scores)


def test_picks_do_not_depend_on_units(clean_events):
    w = clean_events["waveforms"][0].astype(np.float64)
    for method in PICK_METHODS:
        assert pick_phases(w, FS, method) == pick_phases(w * 1e9, FS, method)


def test_pickers_on_the_obspy_example_event(rjob):
    # BW.RJOB: a clear P onset at 4.70 s; S about a second later on the horizontals.
    for method in PICK_METHODS:
        picks = pick_phases(rjob, FS, method=method)
        assert 4.6 <= picks["p"] / FS <= 4.8, (method, picks)
    s = pick_phases(rjob, FS, method="ar_pick")["s"]
    assert 5.5 <= s / FS <= 6.5
    snr = snr_db(rjob, 470)
    assert snr.shape == (3,) and (snr > 5).all()


def test_picker_input_validation(clean_events):
    w = clean_events["waveforms"][0]
    with pytest.raises(ValueError, match="E, N, Z"):
        pick_phases(w[:2])
    with pytest.raises(ValueError, match="Unknown picking method"):
        pick_phases(w, method="phasenet")
    with pytest.raises(ValueError, match="Unknown ar_pick parameter"):
        pick_phases(w, method="ar_pick", thr1=3.0)
    with pytest.raises(ValueError, match="NaN"):
        pick_phases(np.full((3, 3000), np.nan))
    with pytest.raises(ValueError, match="never be reached"):
        pick_phases(w, method="aic", threshold=20.0)
    assert pick_phases(np.zeros((3, 3000))) == {"p": None, "s": None}
    # The documented defaults are the ones used, and seconds-based.
    assert PICKER_PARAMETERS["pk_baer"]["tupevent"] == 0.6 and PICKER_PARAMETERS["ar_pick"]["sta_p"] == 0.1


def test_pick_error_and_recall():
    scores = pick_error_and_recall(
        [100, 160, None, 500, 40], [100, 100, 300, -1, np.nan], sampling_rate=100.0
    )
    assert scores["num_true"] == 3 and scores["num_picked"] == 2
    assert scores["recall_0.1s"] == pytest.approx(1 / 3)
    assert scores["recall_0.5s"] == pytest.approx(1 / 3)  # 0.6 s off is outside both
    assert scores["mae_s"] == pytest.approx(0.3)
    custom = pick_error_and_recall([100, 160], [100, 100], sampling_rate=100.0, tolerances=(1.0,))
    assert custom["recall_1s"] == 1.0
    empty = pick_error_and_recall([None], [-1])
    assert empty["num_true"] == 0 and np.isnan(empty["mae_s"]) and np.isnan(empty["recall_0.1s"])
    with pytest.raises(ValueError, match="match one to one"):
        pick_error_and_recall([1, 2], [1])


def test_oracle_mask_bounds_a_band_pass_and_keeps_shapes():
    """The ideal mask knows the event: it gains more than a filter, and nothing on a clean record."""
    from seismic_diffusers.utils.streams import band_pass

    clean = generate_local_earthquakes(4, seed=3)["waveforms"].astype(np.float64)
    rng = np.random.default_rng(1)
    noise = band_pass(rng.standard_normal(clean.shape), 1.0, 20.0, 100.0)
    noise *= np.sqrt(np.sum(clean**2) / np.sum(noise**2))  # 0 dB, in the event's band
    noisy = clean + noise
    before = reconstruction_snr_db(noisy, clean, per_channel=False)
    ceiling = oracle_mask_estimate(noisy, clean, 100.0)
    assert ceiling.shape == noisy.shape and np.isfinite(ceiling).all()
    gain = reconstruction_snr_db(ceiling, clean, per_channel=False) - before
    filtered = reconstruction_snr_db(band_pass(noisy, 1.0, 20.0, 100.0), clean, per_channel=False) - before
    assert np.all(gain > 3.0) and np.all(gain > filtered + 2.0)
    # A clean record passes through (the mask is one wherever the noise is zero).
    np.testing.assert_allclose(
        oracle_mask_estimate(clean[0], clean[0]), clean[0], atol=1e-9 * np.abs(clean).max()
    )
    with pytest.raises(ValueError, match="longer than the records"):
        oracle_mask_estimate(noisy[..., :100], clean[..., :100], 100.0)
    with pytest.raises(ValueError, match="`noisy` .* and `reference` .* must have the same shape"):
        oracle_mask_estimate(noisy, clean[..., :-1])
    with pytest.raises(ValueError, match="finite"):
        oracle_mask_estimate(np.where(np.arange(clean.shape[-1]) == 5, np.nan, noisy), clean)


def test_doctests():
    result = doctest.testmod(waveform_metrics, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0

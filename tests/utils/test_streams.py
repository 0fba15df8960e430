"""Stream grouping: station groups, channel-code mapping and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from obspy import Stream, Trace, UTCDateTime

from seismic_diffusers.utils.streams import band_pass, component_of, group_stream, spectral_gating


def trace(channel="HHZ", station="STA", npts=500, rate=100.0, start=0.0, data=None, location=""):
    header = {
        "network": "XX",
        "station": station,
        "location": location,
        "channel": channel,
        "sampling_rate": rate,
        "starttime": UTCDateTime(2020, 1, 1) + start,
    }
    return Trace(np.random.default_rng(0).standard_normal(npts) if data is None else data, header=header)


@pytest.mark.parametrize(
    "code, component",
    [
        ("HHZ", "Z"),
        ("BHN", "N"),
        ("EHE", "E"),
        ("HH1", "N"),
        ("HH2", "E"),
        ("UD", "Z"),
        ("NS", "N"),
        ("EW", "E"),
        ("BH3", "Z"),
    ],
)
def test_channel_codes_map_to_components(code, component):
    assert component_of(code) == component


def test_unknown_channel_code_is_refused_with_the_supported_list():
    with pytest.raises(ValueError, match=r"Supported channel codes end in Z/N/E, 1/2/3 .* UD/NS/EW"):
        component_of("HHR")


def test_groups_by_station_and_aligns_offsets():
    stream = Stream([trace("HHZ"), trace("HHN", start=0.05, npts=490), trace("HHZ", station="OTHER")])
    groups = {g.key: g for g in group_stream(stream)}
    assert set(groups) == {"XX.STA..HH", "XX.OTHER..HH"}
    group = groups["XX.STA..HH"]
    assert group.components == ["Z", "N"] and group.offsets == [0, 5] and group.npts == 500
    array, rows = group.to_array(("E", "N", "Z"))
    assert rows == [2, 1] and np.all(array[0] == 0) and np.all(array[1, :5] == 0)


@pytest.mark.parametrize(
    "stream, message",
    [
        (Stream(), "The Stream is empty"),
        (Stream([trace(), trace(start=10.0)]), "Gaps or overlaps: XX.STA..HHZ"),
        (Stream([trace(data=np.ma.masked_array(np.ones(10), mask=[0] * 5 + [1] * 5))]), "masked"),
        (Stream([trace(data=np.array([1.0, np.nan, 2.0]))]), "NaN or Inf"),
        (Stream([trace("HHZ"), trace("HHN", rate=50.0)]), "Mixed sampling rates in XX.STA..HH"),
        (Stream([trace("HHN"), trace("HH1")]), "both map to component N"),
        (Stream([trace("HHT")]), "Cannot tell which component"),
    ],
)
def test_refusals(stream, message):
    with pytest.raises(ValueError, match=message):
        group_stream(stream)


def test_components_that_do_not_overlap_are_split_not_zero_filled():
    stream = Stream([trace("HHZ"), trace("HHN", start=86400.0), trace("HHE", start=86402.0)])
    groups = group_stream(stream)
    assert [g.key for g in groups] == ["XX.STA..HH (part 1 of 2)", "XX.STA..HH (part 2 of 2)"]
    assert [g.components for g in groups] == [["Z"], ["N", "E"]]
    assert [g.npts for g in groups] == [500, 700]  # never the 86,400 s between them
    assert sum(g.npts for g in groups) <= sum(t.stats.npts for t in stream)


@pytest.mark.parametrize(
    "channel, component", [("HH1", "N"), ("HH2", "E"), ("HH3", "Z"), ("HNE", "E"), ("EW", "E"), ("UD", "Z")]
)
def test_one_channel_map_everywhere(channel, component):
    """Channels 1 and 2 record the same component in the denoiser, the dataset builder's quality table
    and the benchmarks (they once disagreed: 1 was N in one place and E in another)."""
    from seismic_diffusers.waveforms.quality import TABLE_COMPONENTS, component_index

    assert component_of(channel) == component
    assert TABLE_COMPONENTS[component_index(channel)] == component


def test_band_pass_keeps_the_band_and_the_shape():
    from seismic_diffusers.utils.streams import band_pass

    t = np.arange(3000) / 100.0
    records = np.stack([np.sin(2 * np.pi * 5 * t), np.sin(2 * np.pi * 0.1 * t) + np.sin(2 * np.pi * 40 * t)])
    out = band_pass(records[None], 1.0, 20.0, 100.0)
    assert out.shape == (1, 2, 3000) and out.dtype == np.float64
    middle = slice(500, 2500)  # away from the zero-phase filter's edge transients
    np.testing.assert_allclose(out[0, 0, middle], records[0, middle], atol=0.05)
    assert np.abs(out[0, 1, middle]).max() < 0.05


def test_spectral_gating_removes_stationary_noise_and_keeps_a_burst():
    rng = np.random.default_rng(0)
    t = np.arange(3000) / 100.0
    burst = 5.0 * np.sin(2 * np.pi * 6.0 * t) * np.exp(-(((t - 18.0) / 1.5) ** 2))
    noise = band_pass(rng.standard_normal((2, 3000)), 1.0, 20.0, 100.0)
    noisy = burst + noise
    out = spectral_gating(noisy, 100.0)
    assert out.shape == noisy.shape and out.dtype == np.float64 and np.isfinite(out).all()
    quiet = slice(0, 1000)  # noise only; the 20th-percentile floor underestimates it, so part stays
    harder = spectral_gating(noisy, 100.0, over_subtraction=2.0)
    kept = [np.sum(x[:, quiet] ** 2) / np.sum(noisy[:, quiet] ** 2) for x in (out, harder)]
    assert kept[1] < kept[0] < 0.8
    errors = [np.sum((x - burst) ** 2) / np.sum((noisy - burst) ** 2) for x in (out, harder)]
    assert errors[1] < errors[0] < 0.8
    assert np.sum(out[:, 1500:2100] ** 2) > 0.9 * np.sum(burst[1500:2100] ** 2) * 2  # the burst stays
    np.testing.assert_array_equal(spectral_gating(np.zeros((1, 3000)), 100.0), 0.0)  # silence stays silent
    with pytest.raises(ValueError, match="longer than the records"):
        spectral_gating(noisy[:, :100], 100.0)
    with pytest.raises(ValueError, match="NaN or Inf"):
        spectral_gating(np.where(np.arange(3000) == 7, np.inf, noisy), 100.0)
    with pytest.raises(ValueError, match="noise_percentile"):
        spectral_gating(noisy, 100.0, noise_percentile=120.0)

"""Tests for reading and writing folders of miniSEED files (`data/miniseed_folders.py`)."""

from __future__ import annotations

import numpy as np
import pytest

from seismic_diffusers.data import DenoisingPairDataset, generate_local_earthquakes, read_miniseed_folder


def _stream(station="STA", channels=("HHE", "HHN", "HHZ"), npts=3500, rate=100.0, start=0.0, seed=0):
    from obspy import Stream, Trace, UTCDateTime

    rng = np.random.default_rng(seed)
    traces = []
    for k, channel in enumerate(channels):
        header = {
            "network": "XX",
            "station": station,
            "location": "",
            "channel": channel,
            "sampling_rate": rate,
            "starttime": UTCDateTime(2020, 1, 1) + start,
        }
        data = (rng.standard_normal(npts) * 10 + 1000 * (k + 1)).astype(np.int32)
        traces.append(Trace(data=data, header=header))
    return Stream(traces)


def test_read_miniseed_folder_orders_enz_and_windows(tmp_path):
    st = _stream(channels=("HHZ", "HHE", "HHN"))  # file order Z, E, N
    st.write(str(tmp_path / "a.mseed"), format="MSEED")
    _stream(station="STB", npts=7000, seed=1).write(str(tmp_path / "b.mseed"), format="MSEED")
    windows, meta = read_miniseed_folder(tmp_path, num_samples=3000, return_metadata=True)
    assert windows.shape == (2, 3, 3000) and windows.dtype == np.float32
    np.testing.assert_array_equal(windows[0, 0], st.select(channel="HHE")[0].data[:3000])
    np.testing.assert_array_equal(windows[0, 2], st.select(channel="HHZ")[0].data[:3000])
    assert meta[0]["channels"] == ["HHE", "HHN", "HHZ"] and meta[1]["station"] == "STB"
    strided = read_miniseed_folder(tmp_path, num_samples=3000, stride=1500)
    assert strided.shape == (1 + 3, 3, 3000)  # 3500 samples -> 1 window, 7000 -> 3


def test_read_miniseed_folder_refuses_gaps(tmp_path):
    first = _stream(npts=2000)
    second = _stream(npts=2000, start=25.0)  # 20 s of data, then a 5 s gap
    (first + second).write(str(tmp_path / "gappy.mseed"), format="MSEED")
    with pytest.raises(ValueError, match=r"gap.*Nothing is zero-filled"):
        read_miniseed_folder(tmp_path)


def test_read_miniseed_folder_takes_the_pipelines_channel_codes_and_refuses_non_miniseed(tmp_path):
    st = _stream(channels=("HH2", "HH1", "HHZ"))  # 2 is E and 1 is N, as in the denoiser
    st.write(str(tmp_path / "a.mseed"), format="MSEED")
    windows = read_miniseed_folder(tmp_path, num_samples=3000)
    np.testing.assert_array_equal(windows[0, 0], st.select(channel="HH2")[0].data[:3000])
    np.testing.assert_array_equal(windows[0, 1], st.select(channel="HH1")[0].data[:3000])
    knet = tmp_path / "knet"
    knet.mkdir()
    _stream(channels=("EW", "NS", "UD")).write(str(knet / "k.mseed"), format="MSEED")
    assert read_miniseed_folder(knet, num_samples=3000).shape == (1, 3, 3000)
    odd = tmp_path / "odd"
    odd.mkdir()
    _stream(channels=("HHR", "HHT", "HHZ")).write(str(odd / "a.mseed"), format="MSEED")
    with pytest.raises(ValueError, match="Cannot tell which component channel 'HHR'"):
        read_miniseed_folder(odd)
    two = tmp_path / "two"
    two.mkdir()
    _stream(channels=("HHN", "HHZ")).write(str(two / "a.mseed"), format="MSEED")
    with pytest.raises(ValueError, match="one each of E, N and Z is required"):
        read_miniseed_folder(two)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("not a seismogram")
    with pytest.raises(ValueError, match="not a readable miniSEED"):
        read_miniseed_folder(other)


def test_read_miniseed_folder_resamples(tmp_path):
    _stream(npts=7000, rate=200.0).write(str(tmp_path / "a.mseed"), format="MSEED")
    windows = read_miniseed_folder(tmp_path, num_samples=3000, sampling_rate=100.0)
    assert windows.shape == (1, 3, 3000)
    assert windows[0, 2].mean() == pytest.approx(3000.0, rel=0.01)  # HHZ offset survives


def test_dataset_from_miniseed_folders(tmp_path):
    events, noise = tmp_path / "events", tmp_path / "noise"
    events.mkdir()
    noise.mkdir()
    _stream(seed=1).write(str(events / "e.mseed"), format="MSEED")
    _stream(seed=2).write(str(noise / "n.mseed"), format="MSEED")
    dataset = DenoisingPairDataset.from_miniseed_folders(events, noise, num_samples=3000)
    item = dataset[0]
    assert item["noisy"].shape == (3, 3000) and item["p_arrival_sample"] == -1


def test_write_miniseed_folder_round_trips_through_the_reader(tmp_path):
    from seismic_diffusers.data import write_miniseed_folder

    records = generate_local_earthquakes(2, seed=3)["waveforms"]
    paths = write_miniseed_folder(tmp_path, records, station_prefix="EV")
    assert [p.name for p in paths] == ["000.mseed", "001.mseed"]
    windows, meta = read_miniseed_folder(tmp_path, num_samples=records.shape[2], return_metadata=True)
    assert meta[1]["station"] == "EV001" and meta[0]["channels"] == ["HHE", "HHN", "HHZ"]
    scale = np.abs(records).max(axis=(1, 2), keepdims=True) / 1e5
    np.testing.assert_allclose(windows * scale, records, atol=float(scale.max()))  # int32 counts
    with pytest.raises(ValueError, match=r"must be \(num_records, 3, num_samples\)"):
        write_miniseed_folder(tmp_path, records[:, :2])
    with pytest.raises(ValueError, match="all zeros"):
        write_miniseed_folder(tmp_path, np.zeros((1, 3, 10)))

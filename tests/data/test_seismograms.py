"""Tests for the synthetic seismograms, the STEAD/SeisBench and miniSEED readers, and the
event + noise pairing dataset."""

from __future__ import annotations

import csv
import doctest

import numpy as np
import pytest
import torch
from scipy.signal import welch

import seismic_diffusers.data.seismograms as seismograms
from seismic_diffusers.data import (
    COMPONENTS,
    DenoisingPairDataset,
    generate_local_earthquakes,
    generate_seismic_noise,
    peterson_velocity_psd,
    read_miniseed_folder,
    read_stead,
    synthetic_denoising_dataset,
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
    expected = events["distance_km"].astype(np.float64) * (1 / seismograms.VS_KM_S - 1 / seismograms.VP_KM_S)
    np.testing.assert_allclose(sp_seconds, expected, atol=1.0 / FS)
    assert seismograms.VP_KM_S == 6.0 and seismograms.VS_KM_S == 3.5
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


# ------------------------------------------------------------------------------------------------
# DenoisingPairDataset
# ------------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------------
# STEAD readers (tiny fixture files)
# ------------------------------------------------------------------------------------------------

STEAD_FIELDS = [
    "network_code",
    "trace_name",
    "trace_category",
    "p_arrival_sample",
    "s_arrival_sample",
    "snr_db",
]


def _fake_traces(num, samples=6000, seed=0):
    """`(num, 3, samples)` E, N, Z with a distinct offset per component (E=100, N=200, Z=300)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((num, 3, samples)) + np.array([100.0, 200.0, 300.0])[None, :, None]).astype(
        np.float32
    )


def _write_stead(folder, traces, rows, fields=STEAD_FIELDS):
    import h5py

    with h5py.File(folder / "merge.hdf5", "w") as h5:
        group = h5.create_group("data")
        for trace, row in zip(traces, rows, strict=True):
            group.create_dataset(row["trace_name"], data=trace.T)  # STEAD stores (6000, 3)
    with open(folder / "merge.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return folder / "merge.hdf5", folder / "merge.csv"


def _stead_rows():
    return [
        {
            "network_code": "CI",
            "trace_name": "A.EV_1",
            "trace_category": "earthquake_local",
            "p_arrival_sample": "900.0",
            "s_arrival_sample": "1523.0",
            "snr_db": "[56.79999924 55.40000153 47.40000153]",
        },
        {
            "network_code": "CI",
            "trace_name": "B.NO_1",
            "trace_category": "noise",
            "p_arrival_sample": "",
            "s_arrival_sample": "",
            "snr_db": "",
        },
        {
            "network_code": "TA",
            "trace_name": "C.EV_2",
            "trace_category": "earthquake_local",
            "p_arrival_sample": "700.0",
            "s_arrival_sample": "1200.0",
            "snr_db": "[12.1 13.2 14.3]",
        },
    ]


def test_read_stead_original_layout_round_trip(tmp_path):
    traces = _fake_traces(3)
    hdf5, csv_path = _write_stead(tmp_path, traces, _stead_rows())
    waveforms, meta = read_stead(hdf5, csv_path)
    assert waveforms.shape == (3, 3, 6000) and waveforms.dtype == np.float32
    np.testing.assert_array_equal(waveforms, traces)
    assert [m["trace_name"] for m in meta] == ["A.EV_1", "B.NO_1", "C.EV_2"]
    assert meta[0]["p_arrival_sample"] == 900 and meta[0]["s_arrival_sample"] == 1523
    assert meta[0]["snr_db"] == pytest.approx([56.8, 55.4, 47.4], abs=1e-5)
    assert meta[1]["p_arrival_sample"] == -1 and meta[1]["snr_db"] == []
    assert (
        meta[2]["network_code"] == "TA" and meta[0]["layout"] == "stead" and meta[0]["sampling_rate"] == 100.0
    )

    events, event_meta = read_stead(hdf5, csv_path, category="earthquake_local")
    np.testing.assert_array_equal(events, traces[[0, 2]])
    assert [m["trace_category"] for m in event_meta] == ["earthquake_local"] * 2
    noise, _ = read_stead(hdf5, csv_path, category="noise")
    np.testing.assert_array_equal(noise, traces[[1]])
    limited, limited_meta = read_stead(hdf5, csv_path, category="earthquake_local", limit=1)
    assert limited.shape == (1, 3, 6000) and limited_meta[0]["trace_name"] == "A.EV_1"


def test_read_stead_missing_column_and_dataset(tmp_path):
    traces = _fake_traces(3)
    fields = [f for f in STEAD_FIELDS if f != "s_arrival_sample"]
    hdf5, csv_path = _write_stead(tmp_path, traces, _stead_rows(), fields=fields)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['s_arrival_sample'\]"):
        read_stead(hdf5, csv_path)
    rows = _stead_rows()
    hdf5, csv_path = _write_stead(tmp_path, traces[:2], rows[:2])
    with open(csv_path, "a", newline="") as handle:  # a CSV row without waveform
        csv.DictWriter(handle, fieldnames=STEAD_FIELDS).writerow(rows[2])
    with pytest.raises(ValueError, match="data/C.EV_2"):
        read_stead(hdf5, csv_path)
    with pytest.raises(ValueError, match="File not found"):
        read_stead(tmp_path / "nope.hdf5", csv_path)


def _write_seisbench(folder, traces, order="ZNE", with_format=True, name_style="bucket"):
    import h5py

    index = [COMPONENTS.index(c) for c in order]
    stored = traces[:, index]  # E, N, Z -> the file's component order
    names = []
    with h5py.File(folder / "waveforms.hdf5", "w") as h5:
        data = h5.create_group("data")
        if name_style == "bucket":
            data.create_dataset("bucket0", data=stored)  # (n, C, W)
            names = [f"bucket0${i},:3,:{traces.shape[2]}" for i in range(len(traces))]
        else:
            for i, trace in enumerate(stored):
                data.create_dataset(f"trace{i}", data=trace)
                names.append(f"trace{i}")
        if with_format:
            fmt = h5.create_group("data_format")
            fmt.create_dataset("component_order", data=order)
            fmt.create_dataset("dimension_order", data="CW")
            fmt.create_dataset("sampling_rate", data=100)
    fields = [
        "trace_name",
        "trace_category",
        "trace_p_arrival_sample",
        "trace_s_arrival_sample",
        "trace_snr_db",
    ]
    with open(folder / "metadata.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for i, name in enumerate(names):
            event = i % 2 == 0
            writer.writerow(
                {
                    "trace_name": name,
                    "trace_category": "earthquake_local" if event else "noise",
                    "trace_p_arrival_sample": f"{500.0 + i}" if event else "",
                    "trace_s_arrival_sample": f"{900.0 + i}" if event else "",
                    "trace_snr_db": "[10.0 11.0 12.0]" if event else "",
                }
            )
    return folder / "waveforms.hdf5", folder / "metadata.csv"


@pytest.mark.parametrize("name_style", ["bucket", "plain"])
def test_read_seisbench_layout_round_trip(tmp_path, name_style):
    traces = _fake_traces(4, samples=600)
    hdf5, csv_path = _write_seisbench(tmp_path, traces, name_style=name_style)
    waveforms, meta = read_stead(hdf5, csv_path)
    np.testing.assert_array_equal(waveforms, traces)  # reordered ZNE -> ENZ
    assert waveforms[:, 0].mean() == pytest.approx(100.0, abs=0.5)  # E first
    assert meta[0]["layout"] == "seisbench" and meta[0]["sampling_rate"] == 100.0
    assert meta[0]["p_arrival_sample"] == 500 and meta[2]["s_arrival_sample"] == 902
    assert meta[1]["p_arrival_sample"] == -1 and meta[0]["snr_db"] == [10.0, 11.0, 12.0]
    events, _ = read_stead(hdf5, csv_path, category="earthquake_local")
    np.testing.assert_array_equal(events, traces[[0, 2]])


def test_read_seisbench_needs_component_order(tmp_path):
    hdf5, csv_path = _write_seisbench(tmp_path, _fake_traces(2, samples=300), with_format=False)
    with pytest.raises(ValueError, match="component_order"):
        read_stead(hdf5, csv_path, layout="seisbench")


def test_read_seisbench_category_filter_needs_the_column(tmp_path):
    hdf5, csv_path = _write_seisbench(tmp_path, _fake_traces(2, samples=300))
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(csv_path, "w", newline="") as handle:  # keep trace_name and the P column only
        writer = csv.DictWriter(
            handle, fieldnames=["trace_name", "trace_p_arrival_sample"], extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(rows)
    waveforms, _ = read_stead(hdf5, csv_path)  # fine without a filter
    assert waveforms.shape == (2, 3, 300)
    with pytest.raises(ValueError, match="trace_category"):
        read_stead(hdf5, csv_path, category="noise")


def test_read_seisbench_rejects_12_components(tmp_path):
    import h5py

    hdf5, csv_path = _write_seisbench(tmp_path, _fake_traces(2, samples=300))
    with h5py.File(hdf5, "a") as h5:
        del h5["data_format/component_order"]
        h5["data_format"].create_dataset("component_order", data="Z12")
    with pytest.raises(ValueError, match="E, N and Z"):
        read_stead(hdf5, csv_path)


def test_dataset_from_stead(tmp_path):
    traces = _fake_traces(3)
    hdf5, csv_path = _write_stead(tmp_path, traces, _stead_rows())
    dataset = DenoisingPairDataset.from_stead(hdf5, csv_path, num_samples=3000, seed=0)
    assert len(dataset) == 2
    item = dataset[0]
    assert item["clean"].shape == (3, 3000)
    assert 0 <= item["p_arrival_sample"] < 3000
    assert item["s_arrival_sample"] - item["p_arrival_sample"] == 1523 - 900


# ------------------------------------------------------------------------------------------------
# miniSEED folders
# ------------------------------------------------------------------------------------------------


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


def test_doctests():
    result = doctest.testmod(seismograms, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


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

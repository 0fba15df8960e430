"""Tests for the STEAD / SeisBench reader (`data/stead.py`) on tiny fixture files."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from seismic_diffusers.data import COMPONENTS, DenoisingPairDataset, read_stead

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

"""`build-waveform-dataset` end to end on fixture inputs the tests write."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from obspy import read
from waveform_fixtures import record

from seismic_diffusers.cli import main
from seismic_diffusers.waveforms import build_waveform_dataset, read_processed


def rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def build(marmara, out, **kwargs):
    return build_waveform_dataset(marmara.catalog_csv, marmara.bulletin, marmara.waveforms, out, progress=False,
                                  **kwargs)  # fmt: skip


def test_quality_filter_preprocess_and_tables(marmara, tmp_path):
    out = tmp_path / "out"
    summary = build(marmara, out)
    assert summary | {"quality": None, "metadata": None, "skipped_list": None} == {
        "files": 5, "records": 4, "passed": 2, "skipped": 1, "snr_threshold": 1.5, "max_gaps": 0,
        "quality": None, "metadata": None, "skipped_list": None,
    }  # fmt: skip
    quality = {(r["event_id"], r["station"].split(".")[1]): r for r in rows(out / "quality.csv")}
    gappy, quiet = quality[("20210001", "ISK")], quality[("20210002", "BALB")]
    assert (gappy["gap1"], gappy["gap2"], gappy["gap3"], gappy["passed"]) == ("0", "0", "1", "False")
    assert max(float(quiet[f"snr{i}"]) for i in (1, 2, 3)) < 1.5 and quiet["passed"] == "False"
    good = quality[("20210000", "ISK")]
    assert max(float(good[f"snr{i}"]) for i in (1, 2, 3)) > 10 and good["passed"] == "True"

    kept = rows(out / "metadata.csv")
    assert list(kept[0]) == ["event_id", "magnitude", "latitude", "longitude", "depth_km", "station", "channels",
                             "snr1", "snr2", "snr3", "gap1", "gap2", "gap3", "path"]  # fmt: skip
    assert sorted((r["event_id"], r["station"]) for r in kept) == [
        ("20210000", "KO.BALB..HH"),
        ("20210000", "KO.ISK..HH"),
    ]
    skipped = rows(out / "skipped.csv")
    assert skipped[0]["source_file"] == "broken.mseed" and "unreadable miniSEED" in skipped[0]["reason"]

    # the processed file: metadata intact, float64, the chain in stats.processing
    processed = read_processed(out / kept[0]["path"])
    raw = read(str(marmara.waveforms / "20210000_BALB.mseed"))
    assert [t.id for t in processed] == [t.id for t in raw]
    for before, after in zip(raw, processed, strict=True):
        assert after.stats.starttime == before.stats.starttime and after.stats.npts == before.stats.npts
        assert after.stats.sampling_rate == 100.0 and after.data.dtype == np.float64
        assert (
            after.stats.processing[-1]
            == "seismic_diffusers: preprocess(magnitude=1.5, table row HH 1-2, band 1-20 Hz)"
        )
        assert abs(after.data.mean()) < 1e-3 * np.abs(after.data).max()


def test_thresholds_can_be_changed(marmara, tmp_path):
    assert build(marmara, tmp_path / "lenient", snr_threshold=0.0, max_gaps=1)["passed"] == 4
    assert build(marmara, tmp_path / "strict", snr_threshold=1e6)["passed"] == 0


def test_an_interrupted_run_resumes_and_a_finished_one_does_nothing(marmara, tmp_path):
    out = tmp_path / "out"
    build(marmara, out)
    reference = rows(out / "metadata.csv")
    first = out / reference[0]["path"]
    stamp = first.stat().st_mtime_ns
    build(marmara, out)
    assert first.stat().st_mtime_ns == stamp and rows(out / "metadata.csv") == reference
    # as if killed after the first record: keep one quality row, drop the rest and the outputs
    lines = (out / "quality.csv").read_text().splitlines()
    (out / "quality.csv").write_text("\n".join(lines[:2]) + "\n")
    (out / "metadata.csv").unlink()
    for row in reference[1:]:
        (out / row["path"]).unlink()
    assert build(marmara, out)["records"] == 4
    assert rows(out / "metadata.csv") == reference and all((out / r["path"]).is_file() for r in reference)


def test_mixed_sampling_rates_at_one_station_are_skipped_with_the_reason(marmara, tmp_path):
    event = marmara.events[0]
    stream = record("ISK", event.time + 1.0, np.random.default_rng(0).normal(size=(3, 3000)) * 100)
    stream.select(channel="HHE")[0].stats.sampling_rate = 50.0
    stream.write(str(marmara.waveforms / "mixed.mseed"), format="MSEED")
    build(marmara, tmp_path / "out")
    reasons = {r["source_file"]: r["reason"] for r in rows(tmp_path / "out" / "skipped.csv")}
    assert "mixes sampling rates [50.0, 100.0] Hz" in reasons["mixed.mseed"]


def test_records_without_a_catalogue_event_are_skipped(marmara, tmp_path):
    stream = record("ISK", marmara.events[0].time + 86400, np.zeros((3, 3000)) + 5)
    stream.write(str(marmara.waveforms / "orphan.mseed"), format="MSEED")
    build(marmara, tmp_path / "out")
    reasons = {r["source_file"]: r["reason"] for r in rows(tmp_path / "out" / "skipped.csv")}
    assert reasons["orphan.mseed"].startswith("no catalogue event has a pick at ISK inside the record")


def test_cli_builds_and_refuses_bad_catalogues(marmara, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["build-waveform-dataset", "--catalog", str(marmara.catalog_csv), "--picks", str(marmara.bulletin),
            "--waveforms", str(marmara.waveforms), "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    assert "4 records from 5 files: 2 kept, 1 skipped" in capsys.readouterr().out
    assert json.loads((out / "summary.json").read_text())["passed"] == 2
    (tmp_path / "bad.csv").write_text("time,latitude,longitude\n2021-03-01T12:00:00,40,29\n")
    with pytest.raises(SystemExit) as exit_info:
        main([*args[:1], "--catalog", str(tmp_path / "bad.csv"), *args[3:]])
    assert exit_info.value.code == 2
    assert "lacks the column(s) depth, magnitude" in capsys.readouterr().err
    assert not (tmp_path / "bad-out").exists()


def test_out_that_is_a_file_is_refused_before_reading_anything(marmara, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        build(marmara, taken)
    args = ["build-waveform-dataset", "--catalog", str(marmara.catalog_csv), "--picks", str(marmara.bulletin),
            "--waveforms", str(marmara.waveforms), "--out", str(taken)]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "exists and is not a folder" in err and "Traceback" not in err
    assert taken.read_text() == "x"

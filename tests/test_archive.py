"""`seismic_diffusers.archive`: an SDS archive denoised by station-day on a 2-worker Dask cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import obspy
import pytest
from obspy import Stream, Trace, UTCDateTime

distributed = pytest.importorskip("distributed")

from seismic_diffusers import ColdDiffusionDenoisePipeline  # noqa: E402
from seismic_diffusers.archive import (  # noqa: E402
    MARKERS,
    denoise_archive,
    find_units,
    local_cluster,
    overlap_seconds,
    sds_path,
)
from seismic_diffusers.cli import main  # noqa: E402

MIDNIGHT = UTCDateTime(2024, 3, 1)  # day 1 is 2024-02-29, day 2 is 2024-03-01
RATE = 100.0
STATIONS = ("STA1", "STA2", "STA3")


def _trace(station: str, channel: str, start: UTCDateTime, seconds: float, seed: int) -> Trace:
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(int(seconds * RATE)).astype(np.float32) * 100.0
    header = {"network": "XX", "station": station, "location": "", "channel": channel,
              "sampling_rate": RATE, "starttime": start}  # fmt: skip
    return Trace(data, header=header)


def build_sds(root: Path, minutes: float = 6.0) -> dict:
    """3 stations x 2 days of continuous 3-C data across midnight (the last and first `minutes` of
    each day); STA2 has a 20 s gap on day 2 and STA3's day-2 HHZ file is corrupt."""
    continuous = {}
    for number, station in enumerate(STATIONS):
        for k, channel in enumerate(("HHE", "HHN", "HHZ")):
            whole = _trace(station, channel, MIDNIGHT - minutes * 60, 2 * minutes * 60, seed=10 * number + k)
            continuous[whole.id] = whole
            for day_start in (MIDNIGHT - 86400, MIDNIGHT):
                piece = whole.slice(day_start, day_start + 86400 - 0.5 / RATE, nearest_sample=False)
                pieces = Stream([piece])
                if station == "STA2" and day_start == MIDNIGHT:
                    pieces = Stream([piece.slice(endtime=MIDNIGHT + 100), piece.slice(MIDNIGHT + 120)])
                path = sds_path(root, "XX", station, "", channel, day_start.date.isoformat())
                path.parent.mkdir(parents=True, exist_ok=True)
                if station == "STA3" and channel == "HHZ" and day_start == MIDNIGHT:
                    path.write_bytes(b"not miniSEED at all\n" * 100)
                else:
                    pieces.write(str(path), format="MSEED", encoding="FLOAT32")
    return continuous


@pytest.fixture(scope="module")
def client():
    cluster = local_cluster(2)
    with distributed.Client(cluster) as dask_client:
        yield dask_client
    cluster.close()


@pytest.fixture(scope="module")
def archive(tmp_path_factory, tiny_denoise_pipeline_dir, client):
    root = tmp_path_factory.mktemp("archive")
    source, out = root / "sds", root / "denoised"
    continuous = build_sds(source)
    result = denoise_archive(source, out, pipeline=tiny_denoise_pipeline_dir, client=client, progress=False)
    return source, out, continuous, result


def _plain(pipe, stream: Stream) -> Stream:
    """The plain pipeline on each contiguous, time-overlapping piece of `stream`."""
    stream = stream.copy()
    stream.merge(method=1)
    stream = stream.split()
    out, piece, end = Stream(), Stream(), None
    for trace in sorted(stream, key=lambda t: t.stats.starttime):
        if end is not None and trace.stats.starttime > end:
            out += pipe(piece).waveforms
            piece = Stream()
        piece.append(trace)
        end = trace.stats.endtime if end is None else max(end, trace.stats.endtime)
    return out + pipe(piece).waveforms


def test_every_good_unit_is_written_bit_identical_to_the_plain_pipeline(archive, tiny_denoise_pipeline):
    source, out, _, result = archive
    assert result["units"] == 6 and result["done"] == 6 - 1 and result["skipped"] == 0
    overlap = overlap_seconds(tiny_denoise_pipeline.processor)
    for station in STATIONS:
        for day_start in (MIDNIGHT - 86400, MIDNIGHT):
            day = day_start.date.isoformat()
            if station == "STA3" and day_start == MIDNIGHT:
                continue
            span = Stream()
            for path in sorted(source.rglob(f"XX.{station}..HH?.D.*")):
                try:
                    span += obspy.read(
                        str(path), starttime=day_start - overlap, endtime=day_start + 86400 + overlap
                    )
                except Exception:  # STA3's corrupt neighbour: its overlap is simply missing
                    continue
            expected = _plain(tiny_denoise_pipeline, span)
            for channel in ("HHE", "HHN", "HHZ"):
                written = obspy.read(str(sds_path(out, "XX", station, "", channel, day)))
                want = expected.select(channel=channel).slice(
                    day_start, day_start + 86400 - 0.5 / RATE, nearest_sample=False
                )
                assert len(written) == len(want) == (2 if (station, day) == ("STA2", "2024-03-01") else 1)
                for got, ref in zip(written, want, strict=True):
                    assert got.stats.starttime == ref.stats.starttime and got.stats.npts == ref.stats.npts
                    np.testing.assert_array_equal(got.data, ref.data.astype(np.float32))


def test_gaps_stay_gaps(archive):
    _, out, _, _ = archive
    written = obspy.read(str(sds_path(out, "XX", "STA2", "", "HHZ", "2024-03-01")))
    gaps = written.get_gaps()
    assert len(gaps) == 1 and gaps[0][6] == pytest.approx(20.0, abs=0.02)


def test_the_day_boundary_matches_denoising_both_days_as_one_stream(archive, tiny_denoise_pipeline):
    _, out, continuous, _ = archive
    one_stream = tiny_denoise_pipeline(Stream([continuous[f"XX.STA1..HH{c}"] for c in "ENZ"])).waveforms
    for channel in ("HHE", "HHN", "HHZ"):
        days = obspy.read(str(sds_path(out, "XX", "STA1", "", channel, "2024-02-29")))
        days += obspy.read(str(sds_path(out, "XX", "STA1", "", channel, "2024-03-01")))
        days.merge(method=0)
        assert len(days) == 1 and not np.ma.isMaskedArray(days[0].data)  # seamless: no gap, no overlap
        reference = one_stream.select(channel=channel)[0]
        assert (
            days[0].stats.starttime == reference.stats.starttime
            and days[0].stats.npts == reference.stats.npts
        )
        near = slice(
            int((MIDNIGHT - 60 - reference.stats.starttime) * RATE),
            int((MIDNIGHT + 60 - reference.stats.starttime) * RATE),
        )
        scale = np.abs(reference.data).max()
        np.testing.assert_allclose(days[0].data[near], reference.data[near], rtol=0, atol=1e-5 * scale)


def test_the_corrupt_unit_is_reported_and_nothing_else_is_lost(archive):
    _, out, _, result = archive
    assert [f["unit"] for f in result["failed"]] == ["XX.STA3..HH.2024-03-01"]
    assert "unreadable miniSEED" in result["failed"][0]["error"]
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and MARKERS not in p.parts)
    assert len(files) == 5 * 3 and not [f for f in files if ".partial" in f]
    marker = json.loads((out / MARKERS / "units" / "XX.STA3..HH.2024-03-01.json").read_text())
    assert marker["status"] == "failed"


def test_the_pipeline_loads_once_per_worker(archive):
    records = archive[3]["records"]
    pids = {r["worker_pid"] for r in records}
    assert 1 <= len(pids) <= 2
    assert len({(r["worker_pid"], r["pipeline_id"]) for r in records if r["status"] == "done"}) == len(pids)


def test_a_rerun_skips_finished_units_and_other_settings_are_refused(
    archive, tiny_denoise_pipeline_dir, client
):
    source, out, _, _ = archive
    again = denoise_archive(source, out, pipeline=tiny_denoise_pipeline_dir, client=client, progress=False)
    assert (
        again["skipped"] == 5 and again["done"] == 0 and len(again["failed"]) == 1
    )  # the corrupt one, retried
    with pytest.raises(ValueError, match="num_inference_steps 1 there, 2 now"):
        denoise_archive(source, out, pipeline=tiny_denoise_pipeline_dir, client=client, num_inference_steps=2)


def test_units_of_a_plain_folder_come_from_headers(tmp_path):
    trace = _trace("STA1", "HHZ", MIDNIGHT - 30, 60, seed=0)
    Stream([trace]).write(str(tmp_path / "across-midnight.mseed"), format="MSEED")
    (tmp_path / "broken.mseed").write_bytes(b"\x00" * 512)
    units, unreadable = find_units(tmp_path)
    assert [u.name for u in units] == ["XX.STA1..HH.2024-02-29", "XX.STA1..HH.2024-03-01"]
    assert [Path(u["unit"]).name for u in unreadable] == ["broken.mseed"]


def test_bad_input_is_refused_before_any_work(tmp_path, tiny_denoise_pipeline_dir):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no files"):
        denoise_archive(tmp_path / "empty", tmp_path / "out", pipeline=tiny_denoise_pipeline_dir)
    build_sds(tmp_path / "sds", minutes=0.1)
    with pytest.raises(ValueError, match="lies inside the source"):
        denoise_archive(tmp_path / "sds", tmp_path / "sds" / "out", pipeline=tiny_denoise_pipeline_dir)
    with pytest.raises(ValueError, match="`num_inference_steps` must be an integer >= 1"):
        denoise_archive(
            tmp_path / "sds", tmp_path / "out", pipeline=tiny_denoise_pipeline_dir, num_inference_steps=0
        )
    assert not (tmp_path / "out").exists()


def test_a_killed_run_then_rerun_leaves_no_duplicate_missing_or_partial_file(
    tmp_path, tiny_denoise_pipeline_dir
):
    source = tmp_path / "sds"
    build_sds(source, minutes=10.0)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "seismic_diffusers", "denoise-archive", str(source), "--out", str(out),
               "--workers", "1", "--steps", "4", "--pipeline", tiny_denoise_pipeline_dir]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    markers = out / MARKERS / "units"
    deadline = time.time() + 120
    while time.time() < deadline and not (markers.is_dir() and any(markers.glob("*.json"))):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGTERM)  # the CLI and its Dask workers, midway
    process.wait(timeout=60)
    finished = len(list(markers.glob("*.json")))
    assert 1 <= finished < 6, "the run was not interrupted midway"

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 1  # the corrupt unit
    assert "6 station-day unit(s): " in rerun.stdout and "failed: XX.STA3..HH.2024-03-01" in rerun.stdout
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file() and MARKERS not in p.parts)
    assert len(files) == 15 and len(set(files)) == 15
    assert not [p for p in out.rglob("*") if ".partial" in p.name]
    pipe = ColdDiffusionDenoisePipeline.from_pretrained(tiny_denoise_pipeline_dir)
    pipe.set_progress_bar_config(disable=True)
    for path in files:  # every file whole and readable
        assert obspy.read(str(out / path))[0].stats.npts > 0


def test_cli_reports_failures_with_exit_1(tmp_path, tiny_denoise_pipeline_dir, capsys, monkeypatch):
    import seismic_diffusers.archive as archive_module

    build_sds(tmp_path / "sds", minutes=0.5)

    def one_process(source, out, **kwargs):
        cluster = distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        )
        with distributed.Client(cluster) as local:
            kwargs.update(client=local, progress=False)
            return original(source, out, **kwargs)

    original = archive_module.denoise_archive
    monkeypatch.setattr(archive_module, "denoise_archive", one_process)
    code = main(["denoise-archive", str(tmp_path / "sds"), "--out", str(tmp_path / "out"),
                 "--pipeline", tiny_denoise_pipeline_dir])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 1 and "5 denoised, 0 already done, 1 failed" in printed
    assert "failed: XX.STA3..HH.2024-03-01: ValueError:" in printed

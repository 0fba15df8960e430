"""`seismic-diffusers denoise`: miniSEED in, miniSEED out, nothing partial on failure."""

from __future__ import annotations

import subprocess

import numpy as np
import obspy
import pytest

from seismic_diffusers.cli import main


@pytest.fixture()
def example_mseed(tmp_path):
    path = tmp_path / "rjob.mseed"
    obspy.read().write(str(path), format="MSEED")  # the evaluation recording, never trained on
    return path


def test_denoise_round_trips_ids_start_and_length(tiny_denoise_pipeline_dir, example_mseed, tmp_path, capsys):
    out = tmp_path / "out" / "denoised.mseed"
    assert main(["denoise", str(example_mseed), "-o", str(out), "--pipeline", tiny_denoise_pipeline_dir]) == 0
    before, after = obspy.read(str(example_mseed)), obspy.read(str(out))
    assert [t.id for t in after] == [t.id for t in before]
    for b, a in zip(before, after, strict=True):
        assert a.stats.starttime == b.stats.starttime and a.stats.npts == b.stats.npts
        assert a.data.dtype == np.float32 and np.isfinite(a.data).all()
    assert "denoised 3 trace(s) (direct)" in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir()] == ["denoised.mseed"]


def test_non_miniseed_input_exits_2_without_output(tiny_denoise_pipeline_dir, tmp_path, capsys):
    bogus = tmp_path / "notes.mseed"
    bogus.write_text("this is not miniSEED\n" * 50)
    out = tmp_path / "out.mseed"
    with pytest.raises(SystemExit) as info:
        main(["denoise", str(bogus), "-o", str(out), "--pipeline", tiny_denoise_pipeline_dir])
    assert info.value.code == 2 and "is not a readable miniSEED file" in capsys.readouterr().err
    assert not out.exists()


def test_gappy_input_exits_2_with_advice_and_writes_nothing(tiny_denoise_pipeline_dir, tmp_path, capsys):
    trace = obspy.read()[0]
    later = trace.copy()
    later.stats.starttime += 60
    path = tmp_path / "gappy.mseed"
    obspy.Stream([trace, later]).write(str(path), format="MSEED")
    out = tmp_path / "out.mseed"
    with pytest.raises(SystemExit) as info:
        main(["denoise", str(path), "-o", str(out), "--pipeline", tiny_denoise_pipeline_dir])
    assert info.value.code == 2 and "Gaps or overlaps" in capsys.readouterr().err
    assert list(tmp_path.glob("*out*")) == []


def _small_mseed(path):
    trace = obspy.Trace(
        np.random.default_rng(0).normal(size=600), header={"channel": "HHZ", "sampling_rate": 100}
    )
    obspy.Stream([trace]).write(str(path), format="MSEED")
    return path


def test_output_equal_to_input_is_refused_unless_overwrite(tiny_denoise_pipeline_dir, tmp_path, capsys):
    source = _small_mseed(tmp_path / "raw.mseed")
    raw = source.read_bytes()
    for spelling in (str(source), str(tmp_path / "." / "raw.mseed")):
        with pytest.raises(SystemExit) as info:
            main(["denoise", str(source), "-o", spelling, "--pipeline", tiny_denoise_pipeline_dir])
        assert info.value.code == 2 and "is the input file" in capsys.readouterr().err
        assert source.read_bytes() == raw
    assert (
        main(
            [
                "denoise",
                str(source),
                "-o",
                str(source),
                "--overwrite",
                "--pipeline",
                tiny_denoise_pipeline_dir,
            ]
        )
        == 0
    )
    assert source.read_bytes() != raw and obspy.read(str(source))[0].data.dtype == np.float32  # denoised


@pytest.mark.parametrize("where", ["/proc/denoised.mseed", "FOLDER", "/proc/new/denoised.mseed"])
def test_unwritable_outputs_exit_2_before_the_pipeline_loads(tmp_path, capsys, monkeypatch, where):
    import seismic_diffusers.cli as cli

    source = _small_mseed(tmp_path / "raw.mseed")
    monkeypatch.setattr(cli, "_load_pipeline", lambda *a, **k: pytest.fail("loaded the pipeline"))
    target = str(tmp_path) if where == "FOLDER" else where
    with pytest.raises(SystemExit) as info:
        main(["denoise", str(source), "-o", target])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err
    assert ("is a folder" in err) if where == "FOLDER" else ("cannot write into" in err)


def test_a_stale_partial_of_a_killed_run_is_removed_on_the_next(tiny_denoise_pipeline_dir, tmp_path):
    source = _small_mseed(tmp_path / "raw.mseed")
    dead = _dead_pid()
    stale = tmp_path / f".out.mseed.partial-{dead}"
    stale.write_bytes(b"half a file")
    assert (
        main(
            [
                "denoise",
                str(source),
                "-o",
                str(tmp_path / "out.mseed"),
                "--pipeline",
                tiny_denoise_pipeline_dir,
            ]
        )
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mseed", "raw.mseed"]


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid

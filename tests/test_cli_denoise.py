"""`seismic-diffusers denoise`: miniSEED in, miniSEED out, nothing partial on failure."""

from __future__ import annotations

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

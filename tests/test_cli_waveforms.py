"""`seismic-diffusers generate waveforms`: miniSEED records from the shipped conditional pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seismic_diffusers.cli import main
from seismic_diffusers.waveforms import read_processed

SHIPPED = Path(__file__).resolve().parents[1] / "pipelines" / "conditional-waveform-vae"
EVENT = ["--latitude", "40.8", "--longitude", "28.5", "--depth", "10"]


def generate(out, *extra):
    return main(["generate", "waveforms", "--pipeline", str(SHIPPED), "--steps", "10", "--out", str(out), *EVENT,
                 *extra])  # fmt: skip


def test_writes_one_miniseed_per_record_with_its_processing_and_metadata(tmp_path):
    out = tmp_path / "records"
    assert generate(out, "--magnitude", "1.5", "4.5", "--station", "MR06") == 0
    metadata = json.loads((out / "metadata.json").read_text())
    assert [r["magnitude"] for r in metadata["records"]] == [1.5, 4.5] and metadata["station"] == "MR06"
    assert metadata["generator"] == "diffusion prior" and (out / "records.png").stat().st_size > 0
    streams = [read_processed(out / record["file"]) for record in metadata["records"]]
    for stream in streams:
        assert [trace.id for trace in stream] == ["SY.MR06..HHE", "SY.MR06..HHN", "SY.MR06..HHZ"]
        assert stream[0].stats.npts == 7000 and "magnitude=" in stream[0].stats.processing[0]
    peaks = [max(np.abs(trace.data).max() for trace in stream) for stream in streams]
    assert peaks[1] > 30 * peaks[0]  # three magnitude units: about three decades in the training law
    np.testing.assert_allclose(peaks, [r["peak_m_s"] for r in metadata["records"]], rtol=1e-6)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--magnitude", "7"], "`magnitude` 7 is outside the trained range"),
        (["--magnitude", "nan"], "`magnitude` contains NaN"),
        (["--magnitude", "3", "--station", "ISK"], "Unknown station 'ISK'. Known stations: MR01"),
        (["--magnitude", "2", "3", "--num", "3"], "give one --magnitude or 3"),
        (["--magnitude", "3", "--steps", "0"], "--steps must be an integer >= 1"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, extra, message):
    out = tmp_path / "records"
    with pytest.raises(SystemExit) as exit_info:
        generate(out, *extra)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not out.exists()

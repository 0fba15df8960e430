"""The Space's earthquake-records tab through `gradio_client`, on the bundled conditional pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio_client", reason="gradio_client is not installed: pip install -e '.[dev]'")
from gradio_client.exceptions import AppError  # noqa: E402

ENDPOINT = "/generate_waveforms"


def generate(client, magnitudes="1.5, 4.5", latitude=40.8, longitude=28.5, depth=10.0, station="MR06", steps=10,
             seed=0):  # fmt: skip
    return client.predict(magnitudes, latitude, longitude, depth, station, steps, seed, api_name=ENDPOINT)


def test_records_come_back_as_miniseed_with_a_figure(client, space_app):
    import obspy

    if space_app.WAVEFORM.source is None:
        pytest.skip("no conditional waveform pipeline bundled")
    figure, records, summary = generate(client)
    assert Path(figure).read_bytes().startswith(b"\x89PNG")
    stream = obspy.read(records)
    assert sorted({trace.stats.location for trace in stream}) == ["00", "01"]
    assert sorted({trace.stats.channel for trace in stream}) == ["HHE", "HHN", "HHZ"]
    assert {trace.stats.station for trace in stream} == {"MR06"} and stream[0].stats.npts == 7000
    small, large = (max(np.abs(t.data).max() for t in stream.select(location=code)) for code in ("00", "01"))
    assert large > 30 * small  # M4.5 against M1.5
    assert "2 record(s)" in summary and "| 01 | 4.5 |" in summary
    # the same seed gives the same records; the unknown station works
    again = obspy.read(generate(client)[1])
    np.testing.assert_allclose(
        again[0].data, stream[0].data, rtol=0, atol=1e-6 * np.abs(stream[0].data).max()
    )
    assert (
        obspy.read(generate(client, station="unknown station", magnitudes="3")[1])[0].stats.station == "UNKN"
    )


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"magnitudes": "6.5"}, "`magnitude` 6.5 is outside the trained range"),
        ({"magnitudes": ""}, "Give 1 to 8 magnitudes"),
        ({"magnitudes": "1 2 3 4 5 6 7 8 9"}, "Give 1 to 8 magnitudes"),
        ({"magnitudes": "big"}, "Magnitudes must be numbers"),
        ({"depth": 45.0}, "`depth` 45 km is outside the trained range"),
        ({"station": "ISK"}, "Unknown station 'ISK'. Known stations: MR01"),
        ({"latitude": None}, "Latitude must be a number from -90 to 90"),
        ({"steps": 1}, "Inference steps must be from 5 to 100"),
    ],
)
def test_bad_input_is_a_readable_error(client, space_app, inputs, message):
    if space_app.WAVEFORM.source is None:
        pytest.skip("no conditional waveform pipeline bundled")
    with pytest.raises(AppError) as error:
        generate(client, **inputs)
    assert message in str(error.value) and "Traceback" not in str(error.value)

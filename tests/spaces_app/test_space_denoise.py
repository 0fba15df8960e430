"""The Space's "Denoise a seismogram" tab through `gradio_client`, with the bundled denoiser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio_client", reason="gradio_client is not installed: pip install -e '.[dev]'")
import obspy  # noqa: E402
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

ENDPOINT = "/denoise_seismogram"


def denoise(client, source="example", upload=None, add_noise="5", steps=1, seed=0):
    upload = handle_file(str(upload)) if upload is not None else None
    return client.predict(source, upload, add_noise, steps, seed, api_name=ENDPOINT)


def check_same_layout(path, reference: obspy.Stream) -> obspy.Stream:
    """The denoised miniSEED reads back with the input's ids, start times and sample counts."""
    assert Path(path).suffix == ".mseed"
    out = obspy.read(str(path), format="MSEED")
    key = lambda tr: tr.id  # noqa: E731
    assert [(tr.id, tr.stats.starttime, tr.stats.npts) for tr in sorted(out, key=key)] == [
        (tr.id, tr.stats.starttime, tr.stats.npts) for tr in sorted(reference, key=key)
    ]
    for trace in out:
        assert np.all(np.isfinite(trace.data)) and np.abs(trace.data).max() > 0
    return out


def test_endpoint_parameters(client):
    api = client.view_api(print_info=False, return_format="dict")
    parameters = [p["parameter_name"] for p in api["named_endpoints"][ENDPOINT]["parameters"]]
    assert parameters == ["source", "upload", "add_noise", "steps", "seed"]


def test_example_event_with_added_noise(client):
    shown, mseed, summary = denoise(client, add_noise="5", steps=1, seed=0)
    assert Path(shown).read_bytes().startswith(b"\x89PNG") and Path(shown).stat().st_size > 50_000
    check_same_layout(mseed, obspy.read())
    assert "| Z |" in summary and "ar_pick" in summary
    assert "reconstruction SNR **5.0 dB** in" in summary  # the added noise is exactly at 5 dB


def test_iterative_mode_and_no_added_noise(client):
    _, mseed, summary = denoise(client, add_noise="none", steps=3)
    check_same_layout(mseed, obspy.read())
    assert "iterative (3 steps)" in summary and "reconstruction SNR" not in summary


def test_uploaded_two_component_recording_at_another_rate(client, tmp_path):
    """An upload keeps its own ids and length: here 2 components, 50 Hz, 1/2 channel codes."""
    stream = obspy.read().select(component="[NE]")
    stream.resample(50.0)
    for trace, code in zip(stream, ("HH1", "HH2"), strict=True):
        trace.stats.channel = code
        trace.stats.network, trace.stats.station = "XX", "UPLD"
    path = tmp_path / "two_component.mseed"
    stream.write(str(path), format="MSEED")
    shown, mseed, summary = denoise(client, source="upload", upload=path, add_noise="none")
    check_same_layout(mseed, obspy.read(str(path)))
    assert Path(mseed).name == "two_component_denoised.mseed"
    assert "XX.UPLD..HH" in summary and "no vertical component" in summary


def gappy(tmp_path):
    stream = obspy.read().select(component="Z")
    first, second = stream[0].copy(), stream[0].copy()
    first.trim(endtime=first.stats.starttime + 10)
    second.trim(starttime=second.stats.starttime + 15)
    path = tmp_path / "gappy.mseed"
    obspy.Stream([first, second]).write(str(path), format="MSEED")
    return path


def not_miniseed(tmp_path):
    path = tmp_path / "picks.csv"
    path.write_text("station,p,s\nRJOB,4.7,6.2\n")
    return path


def empty_file(tmp_path):
    path = tmp_path / "empty.mseed"
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize(
    "make, inputs, message",
    [
        (not_miniseed, {}, "'picks.csv' is not a readable miniSEED file"),
        (empty_file, {}, "'empty.mseed' is not a readable miniSEED file"),
        (gappy, {}, "Gaps or overlaps: BW.RJOB..EHZ appear in more than one trace"),
        (None, {}, "No file uploaded"),
        (None, {"source": "example", "steps": 0}, "Inference steps must be from 1 to 20; got 0"),
        (None, {"source": "example", "steps": 21}, "Inference steps must be from 1 to 20; got 21"),
        (None, {"source": "example", "seed": -1}, "Noise seed must be from 0 to 2147483647; got -1"),
    ],
)
def test_bad_input_is_a_readable_error(client, tmp_path, make, inputs, message):
    upload = make(tmp_path) if make else None
    with pytest.raises(AppError) as error:
        denoise(client, **{"source": "upload", "upload": upload, **inputs})
    assert message in str(error.value)
    assert "Traceback" not in str(error.value) and 'File "' not in str(error.value)


def test_oversized_upload_is_refused_before_reading(client, space_app, tmp_path, monkeypatch):
    path = tmp_path / "big.mseed"
    obspy.read().write(str(path), format="MSEED")
    monkeypatch.setattr(space_app.space_denoise, "DENOISE_MAX_UPLOAD_MB", 0.001)  # where the tab reads it
    with pytest.raises(AppError, match=r"this Space takes miniSEED files of up to 0.001 MB"):
        denoise(client, source="upload", upload=path)


def test_too_many_samples_is_refused(space_app, monkeypatch):
    import gradio as gr

    monkeypatch.setattr(space_app.space_denoise, "DENOISE_MAX_SAMPLES", 8999)
    with pytest.raises(gr.Error, match=r"9,000 samples; this Space denoises up to 8,999"):
        space_app.denoise_seismogram("example", None, "none", 1, 0)


def test_a_denoise_error_does_not_break_the_velocity_tab(client):
    with pytest.raises(AppError):
        denoise(client, source="upload", upload=None)
    _, npy, _, _ = client.predict("any", 1, 2, 0, "default", api_name="/generate_velocity")
    assert np.load(npy).shape == (1, 70, 70)
    _, mseed, _ = denoise(client)
    check_same_layout(mseed, obspy.read())


def test_denoise_shares_the_one_cpu_queue(space_app):
    demo = space_app.build_app()
    [fn] = [fn for fn in demo.fns.values() if fn.api_name == "denoise_seismogram"]
    assert fn.concurrency_limit == 1 and fn.concurrency_id == space_app.CONCURRENCY_ID

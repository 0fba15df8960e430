"""ColdDiffusionDenoisePipeline mechanics on a tiny untrained model: types, lengths, rates, stats, refusals.

Whether the shipped model actually removes noise is checked in `test_pretrained_denoiser.py`.
"""

from __future__ import annotations

import numpy as np
import obspy
import pytest
import torch
from obspy import Stream, Trace, UTCDateTime

from seismic_diffusers import ColdDiffusionDenoisePipeline


def station(channels=("HHE", "HHN", "HHZ"), npts=1000, rate=100.0, station_code="STA", seed=0):
    rng = np.random.default_rng(seed)
    return Stream(
        [
            Trace(
                rng.standard_normal(npts).astype(np.float32) * 1e3,
                header={
                    "network": "XX",
                    "station": station_code,
                    "channel": c,
                    "sampling_rate": rate,
                    "starttime": UTCDateTime(2021, 5, 1, 12),
                },
            )
            for c in channels
        ]
    )


def test_obspy_example_stream_keeps_ids_times_lengths_and_stats(tiny_denoise_pipeline):
    stream = obspy.read()  # evaluation only: never used for training
    stream[0].stats.response = "kept"  # any stat, the response included, must survive
    out = tiny_denoise_pipeline(stream).waveforms
    assert isinstance(out, Stream) and len(out) == 3
    for before, after in zip(stream, out, strict=True):
        assert after.id == before.id and after.stats.starttime == before.stats.starttime
        assert (
            after.stats.npts == before.stats.npts and after.stats.sampling_rate == before.stats.sampling_rate
        )
        assert (
            after.stats.processing[-1].startswith("seismic_diffusers")
            and "num_inference_steps=1" in after.stats.processing[-1]
        )
        assert np.isfinite(after.data).all() and not np.array_equal(after.data, before.data)
    assert out[0].stats.response == "kept"
    assert "processing" not in stream[0].stats or not any(
        "seismic_diffusers" in p for p in stream[0].stats.processing
    )


def test_trace_in_trace_out_and_return_dict_false(tiny_denoise_pipeline):
    trace = station(channels=("HHZ",))[0]
    (out,) = tiny_denoise_pipeline(trace, return_dict=False)
    assert isinstance(out, Trace) and out.stats.npts == trace.stats.npts


@pytest.mark.parametrize("npts", [1000, 137, 400, 2521])
def test_any_length_numpy_and_torch_come_back_unchanged_in_shape(tiny_denoise_pipeline, npts):
    x = np.random.default_rng(1).standard_normal((2, 3, npts)).astype(np.float32)
    out = tiny_denoise_pipeline(x).waveforms
    assert isinstance(out, np.ndarray) and out.shape == x.shape and out.dtype == np.float32
    single = tiny_denoise_pipeline(torch.from_numpy(x[0])).waveforms
    assert isinstance(single, torch.Tensor) and single.shape == (3, npts)
    np.testing.assert_allclose(single.numpy(), out[0], rtol=1e-5, atol=1e-5)


def test_amplitudes_are_restored_after_window_normalisation(tiny_denoise_pipeline):
    x = np.random.default_rng(2).standard_normal((3, 1000)).astype(np.float32)
    small, large = tiny_denoise_pipeline(x).waveforms, tiny_denoise_pipeline(x * 1e4).waveforms
    np.testing.assert_allclose(large, small * 1e4, rtol=1e-4, atol=1e-4 * np.abs(large).max())


def test_other_sampling_rates_are_resampled_and_returned_at_their_own_rate(tiny_denoise_pipeline):
    stream = station(npts=700, rate=40.0)
    out = tiny_denoise_pipeline(stream).waveforms
    assert [t.stats.npts for t in out] == [700] * 3 and all(t.stats.sampling_rate == 40.0 for t in out)
    array = tiny_denoise_pipeline(np.ones((3, 250), np.float32), sampling_rate=200.0).waveforms
    assert array.shape == (3, 250)


def test_one_two_and_k_net_components_and_several_stations(tiny_denoise_pipeline):
    stream = (
        station(channels=("HHZ",))
        + station(channels=("BH1", "BH2"), station_code="B")
        + station(channels=("UD", "NS", "EW"), station_code="KNET")
    )
    out = tiny_denoise_pipeline(stream).waveforms
    assert [t.id for t in out] == [t.id for t in stream]
    assert "component='N'" in out[1].stats.processing[-1]


def test_iterative_mode_differs_from_direct_and_is_deterministic(tiny_denoise_pipeline):
    x = np.random.default_rng(3).standard_normal((3, 400)).astype(np.float32)
    direct = tiny_denoise_pipeline(x, num_inference_steps=1).waveforms
    iterative = tiny_denoise_pipeline(x, num_inference_steps=5).waveforms
    assert not np.allclose(direct, iterative)
    np.testing.assert_array_equal(iterative, tiny_denoise_pipeline(x, num_inference_steps=5).waveforms)


def test_save_and_reload_give_identical_output(tiny_denoise_pipeline, tmp_path):
    tiny_denoise_pipeline.save_pretrained(tmp_path)
    assert not list(tmp_path.rglob("*.bin"))
    again = ColdDiffusionDenoisePipeline.from_pretrained(str(tmp_path))
    again.set_progress_bar_config(disable=True)
    x = np.random.default_rng(4).standard_normal((3, 900)).astype(np.float32)
    np.testing.assert_array_equal(again(x).waveforms, tiny_denoise_pipeline(x).waveforms)


def gappy():
    stream = station(channels=("HHZ",))
    later = stream[0].copy()
    later.stats.starttime += 20
    return stream + Stream([later])


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda: Stream(), "The Stream is empty"),
        (gappy, "Gaps or overlaps"),
        (lambda: station(channels=("HHZ",)).merge(), None),  # a merged single trace is fine
        (lambda: gappy().merge(), "masked"),
        (
            lambda: station(channels=("HHZ", "HHN"), rate=100.0) + station(channels=("HHE",), rate=50.0),
            "Mixed sampling rates",
        ),
        (lambda: station(channels=("HHX",)), "Cannot tell which component"),
        (lambda: np.full((3, 100), np.nan), "NaN or Inf"),
        (lambda: np.zeros((4, 100)), r"\(C, N\) or \(B, C, N\) with C = 3"),
        (lambda: np.zeros(100), r"\(C, N\) or \(B, C, N\)"),
    ],
)
def test_bad_input_is_refused_clearly(tiny_denoise_pipeline, make_input, message):
    if message is None:
        tiny_denoise_pipeline(make_input())
        return
    with pytest.raises(ValueError, match=message):
        tiny_denoise_pipeline(make_input())


def test_bad_arguments(tiny_denoise_pipeline):
    with pytest.raises(ValueError, match="num_inference_steps` must be >= 1"):
        tiny_denoise_pipeline(np.zeros((3, 10)), num_inference_steps=0)
    with pytest.raises(ValueError, match="batch_size` must be >= 1"):
        tiny_denoise_pipeline(np.zeros((3, 10)), batch_size=0)

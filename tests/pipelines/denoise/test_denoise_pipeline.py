"""ColdDiffusionDenoisePipeline mechanics on a tiny untrained model: types, lengths, rates, stats, refusals.

Whether the shipped model actually removes noise is checked in `test_pretrained_denoiser.py`.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import obspy
import pytest
import torch
from obspy import Stream, Trace, UTCDateTime

from seismic_diffusers import ColdDiffusionDenoisePipeline
from seismic_diffusers.utils.configs import public_config


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
    with pytest.raises(ValueError, match="num_inference_steps` must be an integer from 1"):
        tiny_denoise_pipeline(np.zeros((3, 10)), num_inference_steps=0)
    with pytest.raises(ValueError, match="batch_size` must be an integer >= 1"):
        tiny_denoise_pipeline(np.zeros((3, 10)), batch_size=0)
    with pytest.raises(ValueError, match="batch_size` must be an integer >= 1"):
        tiny_denoise_pipeline(np.zeros((3, 10)), batch_size=True)


@pytest.mark.parametrize("rate", [1e-3, 0.5, 1e6, float("nan")])
def test_rates_outside_the_stated_range_are_refused_before_any_work(tiny_denoise_pipeline, rate):
    message = r"denoises rates from 1 to 10000 Hz"
    with pytest.raises(ValueError, match=message):
        tiny_denoise_pipeline(np.zeros((3, 100)), sampling_rate=rate)
    if rate == rate:  # ObsPy refuses a NaN rate itself
        with pytest.raises(ValueError, match=message):
            tiny_denoise_pipeline(station(channels=("HHZ",), npts=100, rate=rate))


def test_components_recorded_a_day_apart_are_denoised_apart_not_zero_filled(tiny_denoise_pipeline):
    stream = station(channels=("HHZ", "HHN"), npts=100)
    stream[1].stats.starttime += 86400
    calls = []
    original = tiny_denoise_pipeline._denoise_windows

    def counting(windows, steps):
        calls.append(windows.shape[0])
        return original(windows, steps)

    tiny_denoise_pipeline._denoise_windows = counting
    try:
        out = tiny_denoise_pipeline(stream).waveforms
    finally:
        del tiny_denoise_pipeline._denoise_windows
    assert sum(calls) == 2  # one 400-sample window each, not 86,400 s of zeros
    expected = [tiny_denoise_pipeline(Stream([t])).waveforms[0].data for t in stream]
    for after, alone in zip(out, expected, strict=True):
        np.testing.assert_array_equal(after.data, alone)


def test_float64_amplitudes_beyond_float32_are_refused_not_written_as_inf(tiny_denoise_pipeline):
    stream = station(channels=("HHZ",), npts=500)
    stream[0].data = stream[0].data.astype(np.float64) * 1e36
    with pytest.raises(ValueError, match="beyond float32"):
        tiny_denoise_pipeline(stream)
    big = np.full((3, 100), 1e39)
    out = tiny_denoise_pipeline(big).waveforms  # float64 in, float64 out: it fits
    assert out.dtype == np.float64 and np.isfinite(out).all()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.int16])
def test_tensors_of_other_dtypes_come_back_in_their_own_float_dtype(tiny_denoise_pipeline, dtype):
    x = (torch.randn(3, 500, generator=torch.Generator().manual_seed(0)) * 100).to(dtype)
    out = tiny_denoise_pipeline(x).waveforms
    assert out.dtype == (dtype if dtype.is_floating_point else torch.float32) and out.shape == x.shape
    assert bool(torch.isfinite(out.float()).all())


@pytest.mark.parametrize(
    "values",
    [np.ones((3, 100), dtype=complex), torch.ones(3, 100, dtype=torch.complex64), np.ones((3, 100), bool)],
)
def test_complex_and_boolean_arrays_are_refused(tiny_denoise_pipeline, values):
    with pytest.raises(ValueError, match="waveforms must hold real numbers"):
        tiny_denoise_pipeline(values)


def _blend_all_windows_at_once(pipe, records, steps, batch_size):
    """The previous implementation: every window stacked, denoised in batches, then blended."""
    length, hop = int(pipe.processor.config.window_length), pipe.processor.hop_length
    n = records.shape[-1]
    starts = list(range(0, n - length + 1, hop))
    if starts[-1] != n - length:
        starts.append(n - length)
    windows = torch.stack([records[..., s : s + length] for s in starts], dim=1)
    flat = windows.reshape(-1, *windows.shape[2:])
    denoised = torch.empty_like(flat)
    for lo in range(0, flat.shape[0], batch_size):
        denoised[lo : lo + batch_size] = pipe._denoise_windows(flat[lo : lo + batch_size], steps)
    denoised = denoised.reshape(windows.shape)
    weight = pipe._window_weights(length).to(records.dtype)
    total, norm = torch.zeros_like(records), torch.zeros(n, dtype=records.dtype)
    for k, s in enumerate(starts):
        total[..., s : s + length] += denoised[:, k] * weight
        norm[s : s + length] += weight
    return total / norm


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_streaming_windows_give_bit_identical_results(tiny_denoise_pipeline, batch_size):
    records = torch.from_numpy(np.random.default_rng(5).standard_normal((2, 3, 2345)))

    class _Bar:
        def update(self, n):
            pass

    streamed = tiny_denoise_pipeline._denoise_array(records, 2, batch_size, _Bar())
    reference = _blend_all_windows_at_once(tiny_denoise_pipeline, records, 2, batch_size)
    assert torch.equal(streamed, reference)


def test_a_day_at_1_hz_is_denoised_in_bounded_memory(tiny_denoise_pipeline_dir):
    """A day of 3-C data at 1 Hz is 8.6 M samples per component at the model's 100 Hz (207 MB of
    float64 for the three); with every window stacked at once the peak grew by 1.24 GB, now by about 0.55 GB."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import resource, numpy as np, torch
        from obspy import Stream, Trace
        from seismic_diffusers import ColdDiffusionDenoisePipeline
        torch.set_num_threads(1)
        pipe = ColdDiffusionDenoisePipeline.from_pretrained({tiny_denoise_pipeline_dir!r})
        pipe.set_progress_bar_config(disable=True)
        stream = Stream([Trace(np.random.default_rng(0).standard_normal(86400).astype(np.float32),
                               header={{"channel": "LH" + c, "sampling_rate": 1.0}}) for c in "ENZ"])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = pipe(stream, batch_size=256).waveforms
        assert [t.stats.npts for t in out] == [86400] * 3
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    growth_mb = float(result.stdout.strip().splitlines()[-1])
    assert growth_mb < 850, f"peak memory grew by {growth_mb:.0f} MB"


def test_a_band_limited_processor_band_passes_the_input_before_the_model(tiny_denoise_pipeline_dir, tmp_path):
    from seismic_diffusers import SeismogramProcessor

    plain = ColdDiffusionDenoisePipeline.from_pretrained(tiny_denoise_pipeline_dir)
    settings = public_config(plain.processor.config)
    banded = ColdDiffusionDenoisePipeline(
        unet=plain.unet,
        scheduler=plain.scheduler,
        processor=SeismogramProcessor(**{**settings, "band_hz": [1.0, 20.0]}),
    )
    banded.save_pretrained(str(tmp_path))
    banded = ColdDiffusionDenoisePipeline.from_pretrained(str(tmp_path))
    assert list(banded.processor.config.band_hz) == [1.0, 20.0]
    for pipe in (plain, banded):
        pipe.set_progress_bar_config(disable=True)
    t = np.arange(3000) / 100.0
    in_band = np.sin(2 * np.pi * 5 * t)
    records = np.stack([in_band, in_band, in_band])
    # the model sees exactly the band-passed record: same output as the plain pipeline given it
    np.testing.assert_allclose(
        banded(records).waveforms, plain(banded.processor.band_pass(records)).waveforms, rtol=1e-5, atol=1e-6
    )
    # a slow drift far below the band changes nothing in the banded pipeline's output
    drift = 5 * np.sin(2 * np.pi * 0.05 * t)
    middle = slice(1000, 2000)  # away from the zero-phase filter's edge transients
    np.testing.assert_allclose(
        banded(records + drift).waveforms[:, middle], banded(records).waveforms[:, middle], atol=0.02
    )
    stream = banded(station()).waveforms
    assert "band_hz=[1, 20]" in stream[0].stats.processing[-1]


@pytest.mark.parametrize("band", [[0.0, 20.0], [20.0, 1.0], [1.0, 60.0]])
def test_band_outside_zero_to_nyquist_is_refused(band):
    from seismic_diffusers import SeismogramProcessor

    with pytest.raises(ValueError, match="band_hz"):
        SeismogramProcessor(band_hz=band)


def test_blend_toward_input_keeps_the_model_where_the_input_is_noisy_and_the_input_where_it_is_clean():
    from seismic_diffusers.pipelines.pipeline_cold_diffusion_denoise import blend_toward_input

    t = torch.arange(400, dtype=torch.float64) / 100.0
    signal = torch.sin(2 * np.pi * 5 * t).expand(1, 3, 400)
    noise = torch.randn(1, 3, 400, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # the input 0 dB, far noisier than 20 dB fidelity: the model's output stays (weight ~ 0.99)
    noisy = signal + noise * signal.std() / noise.std()
    out = blend_toward_input(signal, noisy, 20.0)
    assert float((out - signal).norm() / (noisy - signal).norm()) < 0.02
    # the input 40 dB, cleaner than the model's fidelity: the input stays (weight ~ 0.01)
    clean_input = signal + 0.01 * noise * signal.std() / noise.std()
    out = blend_toward_input(signal, clean_input, 20.0)
    assert float((out - clean_input).norm() / (signal - clean_input).norm()) < 0.02
    # a clean input and an output distorted by exactly the fidelity: halfway (the rule's midpoint)
    distortion = torch.roll(signal, 3, dims=-1) - signal
    distorted = signal + distortion * 10 ** (-20 / 20) * signal.norm() / distortion.norm()
    out = blend_toward_input(distorted, signal, 20.0)
    weight = float(((out - signal) * (distorted - signal)).sum() / (distorted - signal).square().sum())
    assert weight == pytest.approx(0.5, abs=0.05)
    # nothing removed, or silence: unchanged and finite
    torch.testing.assert_close(blend_toward_input(noisy, noisy, 20.0), noisy)
    zeros = torch.zeros(2, 3, 400)
    assert torch.equal(blend_toward_input(zeros, zeros, 20.0), zeros)


def test_fidelity_db_blends_each_window_and_is_saved_recorded_and_checked(
    tiny_denoise_pipeline_dir, tmp_path
):
    from seismic_diffusers.pipelines.pipeline_cold_diffusion_denoise import blend_toward_input

    # folders saved before the key existed load with None and keep the model's output
    old_folder = tmp_path / "old"
    shutil.copytree(tiny_denoise_pipeline_dir, old_folder)
    index = json.loads((old_folder / "model_index.json").read_text())
    index.pop("fidelity_db", None)
    (old_folder / "model_index.json").write_text(json.dumps(index))
    plain = ColdDiffusionDenoisePipeline.from_pretrained(str(old_folder))
    assert plain.config.fidelity_db is None
    blended = ColdDiffusionDenoisePipeline(
        unet=plain.unet, scheduler=plain.scheduler, processor=plain.processor, fidelity_db=15
    )
    blended.save_pretrained(str(tmp_path / "blended"))
    blended = ColdDiffusionDenoisePipeline.from_pretrained(str(tmp_path / "blended"))
    assert blended.config.fidelity_db == 15.0
    for pipe in (plain, blended):
        pipe.set_progress_bar_config(disable=True)
    x = np.random.default_rng(3).standard_normal((3, 400))  # one window: no overlap to blend
    expected = blend_toward_input(torch.from_numpy(plain(x).waveforms), torch.from_numpy(x), 15.0)
    np.testing.assert_allclose(blended(x).waveforms, expected.numpy(), rtol=1e-5, atol=1e-7)
    assert not np.allclose(blended(x).waveforms, plain(x).waveforms)
    assert "fidelity_db=15" in blended(station()).waveforms[0].stats.processing[-1]
    for bad in (float("nan"), float("inf"), -1.0, 1e4, True, "20"):
        with pytest.raises(ValueError, match="fidelity_db"):
            ColdDiffusionDenoisePipeline(
                unet=plain.unet, scheduler=plain.scheduler, processor=plain.processor, fidelity_db=bad
            )

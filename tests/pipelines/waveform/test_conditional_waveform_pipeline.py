"""`ConditionalWaveformPipeline` on tiny untrained models: outputs, determinism, save/load, errors."""

from __future__ import annotations

import numpy as np
import obspy
import pytest
import torch
from diffusers import DDPMScheduler

from seismic_diffusers import (
    ConditionalWaveformPipeline,
    SpectrogramVAE,
    WaveformLatentDenoiser,
    WaveformSpectrogram,
)

STATIONS = ["MR01", "MR02", "MR03"]
RANGES = {"magnitude_range": (0.8, 4.9), "latitude_range": (40.5, 41.0), "longitude_range": (27.2, 29.6),
          "depth_range_km": (4.0, 20.0)}  # fmt: skip


def build(with_prior: bool) -> ConditionalWaveformPipeline:
    torch.manual_seed(0)
    vae = SpectrogramVAE(block_out_channels=(8, 8, 16, 16), latent_dim=16, num_stations=0 if with_prior else 3,
                         station_names=None if with_prior else STATIONS, **RANGES)  # fmt: skip
    spectrogram = WaveformSpectrogram(griffin_lim_iterations=4, amplitude_floor=1e-6, log_range=(-6.0, -1.0))
    prior = scheduler = None
    if with_prior:
        prior = WaveformLatentDenoiser(latent_dim=16, width=32, num_blocks=2, num_stations=3, station_names=STATIONS,
                                       embedding_dim=32, **RANGES)  # fmt: skip
        torch.nn.init.normal_(prior.proj_out.weight, std=0.1)  # an untrained, non-zero prediction
        scheduler = DDPMScheduler(num_train_timesteps=50)
    pipe = ConditionalWaveformPipeline(
        vae=vae.eval(), spectrogram=spectrogram, prior=prior, scheduler=scheduler
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


EVENT = {"magnitude": 3.0, "latitude": 40.8, "longitude": 28.5, "depth": 10.0}


@pytest.mark.parametrize("with_prior", [False, True], ids=["cvae-prior", "diffusion-prior"])
def test_streams_with_sensible_stats(with_prior):
    pipe = build(with_prior)
    assert pipe.stations == STATIONS
    out = pipe(**EVENT, station="MR02", batch_size=2, generator=torch.Generator().manual_seed(0),
               num_inference_steps=3)  # fmt: skip
    assert len(out.waveforms) == 2 and all(isinstance(st, obspy.Stream) for st in out.waveforms)
    stream = out.waveforms[0]
    assert [tr.stats.channel for tr in stream] == ["HHE", "HHN", "HHZ"]
    assert {tr.stats.station for tr in stream} == {"MR02"} and stream[0].stats.sampling_rate == 100.0
    assert stream[0].stats.npts == 7000 and np.isfinite(stream[0].data).all()
    assert "magnitude=3.00" in stream[0].stats.processing[0]
    assert out.spectrograms.shape == (2, 3, 129, 110)


@pytest.mark.parametrize("with_prior", [False, True], ids=["cvae-prior", "diffusion-prior"])
def test_seeded_generation_is_deterministic_and_survives_save_load(tmp_path, with_prior):
    pipe = build(with_prior)
    # equal up to float rounding in the FFTs of Griffin-Lim (last bits only)
    kwargs = {**EVENT, "station": "MR01", "num_inference_steps": 3, "output_type": "np"}
    first = pipe(generator=torch.Generator().manual_seed(5), **kwargs).waveforms
    np.testing.assert_allclose(first, pipe(generator=torch.Generator().manual_seed(5), **kwargs).waveforms)
    pipe.save_pretrained(tmp_path)
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".bin", ".pt", ".pkl")]
    loaded = ConditionalWaveformPipeline.from_pretrained(str(tmp_path))
    loaded.set_progress_bar_config(disable=True)
    again = loaded(generator=torch.Generator().manual_seed(5), **kwargs).waveforms
    np.testing.assert_allclose(again, first, atol=1e-5 * np.abs(first).max())
    assert (loaded.prior is None) is (not with_prior)


def test_unknown_station_uses_the_unknown_embedding_and_conditions_matter():
    pipe = build(False)
    kwargs = {"generator": torch.Generator().manual_seed(1), "output_type": "np"}
    unknown = pipe(**EVENT, station=None, **kwargs).spectrograms
    known = pipe(
        **EVENT, station="MR03", generator=torch.Generator().manual_seed(1), output_type="np"
    ).spectrograms
    bigger = pipe(**{**EVENT, "magnitude": 4.5}, station="MR03", generator=torch.Generator().manual_seed(1),
                  output_type="np").spectrograms  # fmt: skip
    assert not np.array_equal(unknown, known) and not np.array_equal(known, bigger)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"magnitude": 6.5}, r"`magnitude` 6.5 is outside the trained range 0.8-4.9"),
        ({"depth": 45.0}, r"`depth` 45 km is outside the trained range 4-20 km"),
        ({"latitude": float("nan")}, "`latitude` contains NaN"),
        ({"magnitude": [2.0, 3.0, 4.0]}, "must be one number or 2 numbers"),
        ({"station": "ISK"}, r"Unknown station 'ISK'. Known stations: MR01, MR02, MR03"),
        ({"station": ["MR01"]}, "Got 1 stations for batch_size=2"),
        ({"output_type": "pil"}, "Unknown `output_type` 'pil'. Valid choices: stream, np"),
        ({"batch_size": 0}, "`batch_size` must be an integer >= 1"),
    ],
)
def test_bad_conditions_are_refused(kwargs, message):
    pipe = build(False)
    with pytest.raises(ValueError, match=message):
        pipe(**{**EVENT, "batch_size": 2, **kwargs})


def test_amplitude_predicting_vae_sets_the_record_peak():
    torch.manual_seed(0)
    vae = SpectrogramVAE(block_out_channels=(8, 8, 16, 16), latent_dim=16, num_stations=3, station_names=STATIONS,
                         predict_log_peak=True, log_peak_range=(-8.0, -3.0), **RANGES).eval()  # fmt: skip
    spectrogram = WaveformSpectrogram(griffin_lim_iterations=4, amplitude_floor=1e-6, log_range=(-6.0, 1.0),
                                      peak_normalize=True)  # fmt: skip
    pipe = ConditionalWaveformPipeline(vae=vae, spectrogram=spectrogram)
    out = pipe(
        **EVENT, station="MR01", batch_size=2, generator=torch.Generator().manual_seed(0), output_type="np"
    )
    latents = torch.randn((2, 16), generator=torch.Generator().manual_seed(0))  # what the pipeline drew
    condition = vae.condition(torch.tensor([[3.0, 40.8, 28.5, 10.0]] * 2), torch.tensor([0, 0]))
    expected = 10.0 ** vae.decode_log_peak(latents, condition).detach().double().numpy()
    np.testing.assert_allclose(np.abs(out.waveforms).max(axis=(1, 2)), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="needs a peak-normalising spectrogram"):
        ConditionalWaveformPipeline(vae=vae, spectrogram=WaveformSpectrogram())


@pytest.mark.parametrize("starttime", ["yesterday", 12.5j, [2024]])
def test_a_bad_starttime_is_refused_before_generating(starttime, monkeypatch):
    pipe = build(with_prior=True)
    monkeypatch.setattr(
        pipe.vae, "decode", lambda *a, **k: pytest.fail("generated before checking starttime")
    )
    with pytest.raises(ValueError, match="is not a time ObsPy reads"):
        pipe(**EVENT, station="MR02", num_inference_steps=2, starttime=starttime)


def test_a_utcdatetime_starttime_is_taken():
    start = obspy.UTCDateTime(2020, 2, 3, 4, 5, 6)
    stream = build(with_prior=False)(**EVENT, station="MR02", starttime=start).waveforms[0]
    assert stream[0].stats.starttime == start

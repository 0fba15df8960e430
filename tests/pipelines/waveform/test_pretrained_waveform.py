"""The shipped `pipelines/conditional-waveform-vae`: Streams for a requested event, amplitudes that
grow with magnitude as the training law says, determinism. Smaller versions of
`benchmarks/bench_waveform.py` with thresholds well inside the benchmark's figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import obspy
import pytest
import torch

from seismic_diffusers import ConditionalWaveformPipeline

SHIPPED = Path(__file__).resolve().parents[3] / "pipelines" / "conditional-waveform-vae"
EVENT = {"latitude": 40.8, "longitude": 28.5, "depth": 10.0}


@pytest.fixture(scope="module")
def shipped():
    pipe = ConditionalWaveformPipeline.from_pretrained(str(SHIPPED))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_folder_is_safetensors_only_with_the_diffusion_prior():
    files = [p for p in SHIPPED.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".bin", ".pt", ".ckpt", ".pkl", ".pth")]
    assert sum(p.stat().st_size for p in files) < 45e6  # 40 MB: the conditional VAE is 8.4 M parameters
    assert {p.parent.name for p in SHIPPED.rglob("*.safetensors")} == {"vae", "prior"}


def test_streams_for_a_requested_event(shipped):
    assert shipped.stations == [f"MR0{i}" for i in range(1, 9)]
    out = shipped(
        magnitude=3.0, station="MR03", batch_size=2, generator=torch.Generator().manual_seed(0), **EVENT
    )
    assert len(out.waveforms) == 2 and all(isinstance(stream, obspy.Stream) for stream in out.waveforms)
    stream = out.waveforms[0]
    assert [trace.stats.channel for trace in stream] == ["HHE", "HHN", "HHZ"]
    assert {trace.stats.station for trace in stream} == {"MR03"}
    assert stream[0].stats.npts == 7000 and stream[0].stats.sampling_rate == 100.0
    assert (
        "diffusion prior" in stream[0].stats.processing[0]
        and "magnitude=3.00" in stream[0].stats.processing[0]
    )
    peak = max(float(np.abs(trace.data).max()) for trace in stream)
    assert 1e-8 < peak < 1e-2  # m/s: a M3 at ~20 km, as in the training data


def test_amplitude_grows_with_magnitude_as_the_training_law(shipped):
    out = shipped(magnitude=[1.5] * 8 + [4.0] * 8, station="MR06", batch_size=16, output_type="np",
                  generator=torch.Generator().manual_seed(0), **EVENT)  # fmt: skip
    log_peak = np.log10(np.abs(out.waveforms).max(axis=(1, 2)))
    # the simulator's slope at this geometry is about 1.1 decades per magnitude unit, 2.75 over
    # 2.5 units; the shipped model gives about 2.2 (bench_waveform.py); well inside that:
    assert 1.5 < log_peak[8:].mean() - log_peak[:8].mean() < 3.5


def test_seeded_generation_is_deterministic_and_unknown_stations_work(shipped):
    kwargs = {"magnitude": 2.5, "station": None, "output_type": "np", **EVENT}
    first = shipped(generator=torch.Generator().manual_seed(3), **kwargs).waveforms
    again = shipped(generator=torch.Generator().manual_seed(3), **kwargs).waveforms
    np.testing.assert_allclose(again, first, rtol=0, atol=1e-6 * np.abs(first).max())
    other = shipped(generator=torch.Generator().manual_seed(4), **kwargs).waveforms
    assert not np.allclose(other, first)
    with pytest.raises(ValueError, match="Known stations: MR01"):
        shipped(magnitude=2.5, station="ISK", **EVENT)

"""Fixture inputs for the waveform track, written by the tests: a catalogue (CSV and QuakeML), a
GSE2.0 bulletin and miniSEED records, with one gappy and one low-SNR record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from obspy import Stream, UTCDateTime
from waveform_fixtures import FixtureEvent, record, write_catalog_csv, write_gse2_bulletin

from seismic_diffusers.data import generate_local_earthquakes, generate_seismic_noise


@dataclass
class WaveformFixture:
    root: Path
    events: list[FixtureEvent]
    catalog_csv: Path
    bulletin: Path
    waveforms: Path


@pytest.fixture
def marmara(tmp_path) -> WaveformFixture:
    """Three events, four records: two good, one gappy (EV2 at ISK), one low-SNR (EV3 at BALB);
    plus an unreadable file. Records are 30 s at 100 Hz with P at sample 900 (9 s)."""
    generated = generate_local_earthquakes(3, seed=11, sampling_rate=100.0, num_samples=3000)
    noise = generate_seismic_noise(4, seed=12, num_samples=3000)
    origin = UTCDateTime(2021, 3, 1, 12, 0, 0)
    events, waveforms = [], tmp_path / "waveforms"
    waveforms.mkdir()
    magnitudes = (1.5, 2.5, 3.5)
    stations = (("ISK", "BALB"), ("ISK",), ("BALB",))
    for k, (magnitude, names) in enumerate(zip(magnitudes, stations, strict=True)):
        time = origin + 3600 * k
        p_sample, s_sample = int(generated["p_arrival_sample"][k]), int(generated["s_arrival_sample"][k])
        start = time + 1.0  # the record starts 1 s after the origin, so P at p_sample / 100 s later
        event = FixtureEvent(f"2021{k:04d}", time, 40.7 + 0.05 * k, 28.9 + 0.1 * k, 8.0 + k, magnitude, {})
        for station in names:
            event.picks[station] = {"P": start + p_sample / 100.0, "S": start + s_sample / 100.0}
            signal = (
                generated["waveforms"][k]
                / np.abs(generated["waveforms"][k]).max()
                * 10 ** (3 + magnitude / 2)
            )
            background = noise[k] / np.abs(noise[k]).max() * 50
            if (event.event_id, station) == ("20210002", "BALB"):  # stationary noise alone: SNR about 1
                signal, background = 0.0 * signal, np.random.default_rng(k).normal(size=signal.shape) * 50
            stream = record(station, start, signal + background)
            if (event.event_id, station) == ("20210001", "ISK"):
                z = stream.select(channel="HHZ")[0]
                stream.remove(z)
                stream += Stream(
                    [z.slice(start, start + 12), z.slice(start + 15, start + 29.99)]
                )  # a 3 s gap
            stream.write(str(waveforms / f"{event.event_id}_{station}.mseed"), format="MSEED")
        events.append(event)
    (waveforms / "broken.mseed").write_bytes(b"this is not miniSEED")
    return WaveformFixture(
        tmp_path,
        events,
        write_catalog_csv(tmp_path / "catalog.csv", events),
        write_gse2_bulletin(tmp_path / "picks.gse", events),
        waveforms,
    )

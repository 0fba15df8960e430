"""`seismic_diffusers.waveforms.preprocess` and `bandpass_for`: preprocessing chain and band-pass table."""

from __future__ import annotations

import numpy as np
import pytest
from obspy import Stream, Trace, UTCDateTime

from seismic_diffusers.waveforms import BANDPASS_TABLE, bandpass_for, preprocess


@pytest.mark.parametrize(
    "channel, magnitude, band",
    [
        ("HHZ", 0.5, (2.0, 25.0)), ("HHE", 1.0, (1.0, 20.0)), ("HHN", 2.99, (0.5, 15.0)), ("HHZ", 3.2, (0.3, 10.0)),
        ("HHZ", 4.9, (0.1, 8.0)), ("BHZ", 0.2, (0.5, 10.0)), ("BHZ", 1.5, (0.5, 8.0)), ("BHE", 2.5, (0.5, 5.0)),
        ("BHN", 3.5, (0.3, 5.0)), ("BHZ", 4.0, (0.1, 3.0)), ("EHZ", 0.9, (3.0, 40.0)), ("EHZ", 1.1, (2.0, 35.0)),
        ("EHZ", 2.0, (1.0, 25.0)), ("EHZ", 3.0, (0.5, 20.0)), ("EHZ", 6.1, (0.3, 15.0)),
        ("HH", -0.4, (2.0, 25.0)),  # below 0 uses the 0-1 row; two-letter codes work too
        ("HNZ", 2.5, (0.5, 15.0)), ("BNE", 4.2, (0.1, 3.0)), ("ENN", 0.5, (3.0, 40.0)),  # accelerometers
    ],
)  # fmt: skip
def test_bandpass_for_reads_the_seed_table(channel, magnitude, band):
    assert bandpass_for(channel, magnitude) == band


def test_bandpass_table_by_instrument_and_magnitude():
    assert set(BANDPASS_TABLE) == {"HH", "BH", "EH"} and all(
        len(rows) == 5 for rows in BANDPASS_TABLE.values()
    )


@pytest.mark.parametrize(
    "channel, magnitude, message",
    [
        ("LHZ", 2.0, "outside the band-pass table: it covers HH, BH, EH"),
        ("SHZ", 2.0, "outside the band-pass table"),
        ("Z", 2.0, "too short"),
        ("HHZ", float("nan"), "must be a finite number"),
    ],
)
def test_bandpass_for_refuses_what_the_table_does_not_cover(channel, magnitude, message):
    with pytest.raises(ValueError, match=message):
        bandpass_for(channel, magnitude)


def trace(channel="HHZ", rate=100.0, seconds=60.0, station="ISK", data=None) -> Trace:
    t = np.arange(int(seconds * rate)) / rate
    if data is None:  # an offset, a drift, a 0.05 Hz swell and a 5 Hz signal
        data = 2000 + 3.0 * t + 800 * np.sin(2 * np.pi * 0.05 * t) + 100 * np.sin(2 * np.pi * 5.0 * t)
    header = {"network": "KO", "station": station, "channel": channel, "sampling_rate": rate,
              "starttime": UTCDateTime(2021, 3, 1)}  # fmt: skip
    return Trace(data=np.asarray(data), header=header)


def amplitude_at(tr: Trace, frequency: float) -> float:
    spectrum = np.abs(np.fft.rfft(tr.data * np.hanning(tr.stats.npts)))
    freqs = np.fft.rfftfreq(tr.stats.npts, tr.stats.delta)
    return float(spectrum[np.argmin(np.abs(freqs - frequency))])


def test_preprocess_runs_the_chain_on_a_copy_and_records_it():
    original = Stream([trace("HHZ"), trace("HHE")])
    before = original.copy()
    processed = preprocess(original, magnitude=2.5)  # HH, 2-3: 0.5-15 Hz
    assert original == before  # untouched
    z = processed.select(channel="HHZ")[0]
    assert z.data.dtype == np.float64 and z.stats.npts == before[0].stats.npts
    assert z.stats.starttime == before[0].stats.starttime and z.stats.station == "ISK"
    assert abs(z.data.mean()) < 1.0  # offset and drift gone
    # the swell below the band is suppressed, the 5 Hz signal kept
    assert amplitude_at(z, 0.05) < 0.01 * amplitude_at(before[0], 0.05)
    assert amplitude_at(z, 5.0) == pytest.approx(
        amplitude_at(trace("HHZ", data=100 * np.sin(2 * np.pi * 5.0 * np.arange(6000) / 100)), 5.0), rel=0.1
    )
    steps = z.stats.processing
    assert [s.split("(")[0].split(":")[-1].strip() for s in steps[:4]] == [
        "detrend",
        "detrend",
        "taper",
        "filter",
    ]
    assert "type='demean'" in steps[0] and "type='linear'" in steps[1] and "max_percentage=0.05" in steps[2]
    assert "'freqmin': 0.5, 'freqmax': 15.0, 'corners': 4, 'zerophase': True" in steps[3]
    assert steps[4] == "seismic_diffusers: preprocess(magnitude=2.5, table row HH 2-3, band 0.5-15 Hz)"


def test_a_corner_above_nyquist_is_lowered_and_said_so():
    processed = preprocess(Stream([trace("BHZ", rate=20.0)]), magnitude=0.5)  # row 0.5-10 Hz at 20 Hz
    assert processed[0].stats.processing[-1].endswith("band 0.5-9 Hz)")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Stream(), "The Stream is empty"),
        (lambda: Stream([trace(data=np.array([1.0, np.nan, 2.0] * 100))]), "NaN or inf"),
        (
            lambda: Stream([trace("HHZ", rate=100.0), trace("HHE", rate=50.0)]),
            r"mixes sampling rates \[50.0, 100.0\]",
        ),
        (lambda: Stream([trace("LHZ", rate=1.0)]), "outside the band-pass table"),
    ],
)
def test_preprocess_refuses_bad_streams(make, message):
    with pytest.raises(ValueError, match=message):
        preprocess(make(), 2.0)


def test_preprocess_refuses_gappy_traces():
    first = trace(seconds=30)
    second = first.copy()
    second.stats.starttime += 40
    gappy = Stream([first, second]).merge()  # masked samples in the 10 s gap
    with pytest.raises(ValueError, match="has gaps"):
        preprocess(gappy, 2.0)

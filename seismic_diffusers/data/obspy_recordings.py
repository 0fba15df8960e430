"""ObsPy's bundled real recordings as a denoising development set: events from some, noise from others.

Roles (files inside the installed `obspy` package):

- **Events** (the clean references, 3-component): the SEISAN event files
  `io/seisan/tests/data/9701-30-1048-54S.MVO_21_1` (Montserrat, 7 short-period stations,
  75.19 Hz), `2005-07-23-1452-04S.CER___030` (CER, broadband, 150 Hz) and `90010319.1320J90`
  (JMI and JNW..., 50 Hz). Each station gives one 30 s window that starts `pre_event_s` before
  the STA/LTA trigger on its Z component.
- **Noise** (real station noise, vertical): `signal/tests/data/BW.UH4._.EHZ.D.2010.147.cut.slist.gz`
  (1 Hz geophone, 100 Hz, 230 s) and `signal/tests/data/CRLZ.HHZ.10.NZ.SAC` (broadband, 100 Hz,
  328 s), with their events cut out by STA/LTA ([`~waveforms.quality.event_free_spans`]).
  Each record's first half is for adapting a denoiser to that station, its second half for
  mixing with the events.

**Training noise** (`TRAINING_NOISE_FILES`, [`training_noise_windows`]): real station noise from
other bundled records, none of them a development or reserved file, nor recorded by the development
stations' network on the same day (BW.UH1-UH3 share BW.UH4's day and are left out). Each trace is
resampled to the model's rate and cut into its event-free spans; 20-40 Hz records carry no energy
above their Nyquist, which teaches the model band-limited recorders.

**Training events** (`TRAINING_EVENT_FILES`, [`training_event_windows`]): single-component
recordings of earthquakes with a clear onset in other bundled files (a K-NET record, the MANZ
record ObsPy's picker tests use, a teleseism at II.TLY, a GSE2 local event), again no
development or reserved file and nothing recorded at RJOB.

**Reserved for an independent evaluation, never used here** (`RESERVED`): `obspy.read()`'s
default example (BW.RJOB 2009), `signal/tests/data/loc_RJOB20050801145719850.*` and
`signal/tests/data/BW.KW1._.EHZ.D.2011.090_downsampled.asc.gz`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..utils.streams import band_pass, component_of, resample
from ..waveforms.quality import event_free_spans, first_trigger

EVENT_FILES = (
    "io/seisan/tests/data/9701-30-1048-54S.MVO_21_1",
    "io/seisan/tests/data/2005-07-23-1452-04S.CER___030",
    "io/seisan/tests/data/90010319.1320J90",
)
NOISE_FILES = (
    "signal/tests/data/BW.UH4._.EHZ.D.2010.147.cut.slist.gz",
    "signal/tests/data/CRLZ.HHZ.10.NZ.SAC",
)
TRAINING_NOISE_FILES = (
    "signal/tests/data/ref_STS2",  # CA.STS2 EHZ, broadband, 200 Hz, 1 h
    "signal/tests/data/ref_unknown",  # CA.0438 EHZ, 200 Hz, 1 h
    "io/mseed/tests/data/gaps.mseed",  # BW.BGLD EHE, 200 Hz
    "io/mseed/tests/data/test.mseed",  # NL.HGN BHZ, 40 Hz
    "io/y/tests/data/YAYT_BHZ_20021223.124800",  # AYT BHZ, 100 Hz
    "io/y/tests/data/YAZRSPE.20100119.060433",  # AZR SP E, 50 Hz
    "io/gse2/tests/data/y2000.gse",  # CLZ BZ, 20 Hz
    "io/gse2/tests/data/acc.gse",  # GRB1 BZ, 20 Hz
    "io/gse2/tests/data/boa___00_07a.gse",  # BBOA CPZ, 50 Hz
    "io/seisan/tests/data/2001-01-13-1742-24S.KONO__004",  # KONO B0Z, 20 Hz
    "io/dmx/tests/data/131114_090600.dmx",  # Etna EMFO and EMPL Z, 100 Hz
    "io/win/tests/data/1070533011_1701260003.win",  # three 100 Hz channels
    "io/reftek/tests/data/104800000_000093F8",  # TL01, 100 Hz
    "io/mseed/tests/data/wrong_blockette_numbers_specified.mseed",  # SK.MODS HHZ, 100 Hz
    "clients/fdsn/tests/data/dataselect_example.mseed",  # IU.ANMO BHZ, 20 Hz, before Maule's P
    "io/xseed/tests/data/arclink_full.seed",  # GR.FUR BHE, 20 Hz
)
TRAINING_EVENT_FILES = (
    "io/nied/tests/data/test.knet",  # K-NET AKT013 EW, 100 Hz
    "signal/tests/data/manz_waldk.a01.gz",  # BW.MANZ, 200 Hz, plain text samples
    "realtime/tests/data/II.TLY.BHZ.SAC",  # teleseism, 20 Hz
    "io/gse2/tests/data/loc_RNON20040609200559.z",  # RNON Z, 200 Hz
)
RESERVED = (
    "obspy.read() with no argument (BW.RJOB 2009)",
    "signal/tests/data/loc_RJOB20050801145719850.*",
    "signal/tests/data/BW.KW1._.EHZ.D.2011.090_downsampled.asc.gz",
)


def obspy_data_file(relative: str) -> str:
    """The path of a file ObsPy's wheel ships, e.g. `"signal/tests/data/CRLZ.HHZ.10.NZ.SAC"`."""
    import obspy

    path = os.path.join(os.path.dirname(obspy.__file__), relative)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"ObsPy {obspy.__version__} does not ship {relative}.")
    return path


@dataclass
class DevelopmentEvent:
    """One station's event window: `waveforms` `(3, window)` E, N, Z at `sampling_rate`, demeaned."""

    id: str
    source: str
    waveforms: np.ndarray
    sampling_rate: float


@dataclass
class DevelopmentNoise:
    """One station's event-free noise: `adaptation` and `evaluation` halves, 1-D at `sampling_rate`."""

    id: str
    source: str
    adaptation: list[np.ndarray]
    evaluation: list[np.ndarray]
    sampling_rate: float


def development_events(
    sampling_rate: float = 100.0,
    window_s: float = 30.0,
    pre_event_s: float = 5.0,
    band_hz: tuple[float, float] | None = (1.0, 20.0),
) -> list[DevelopmentEvent]:
    """The development set's event windows, one per station with E, N and Z (see the module doc).

    With `band_hz` (the default, 1-20 Hz), each whole record is band-passed (zero phase, 4 corners)
    before the window is cut, so the window carries no filter transient at its edges: the event
    in its band, as a reference for denoising.
    """
    import obspy

    events = []
    window = int(round(window_s * sampling_rate))
    for relative in EVENT_FILES:
        stream = obspy.read(obspy_data_file(relative))
        stations: dict[str, dict] = {}
        for trace in stream:
            try:
                component = component_of(trace.stats.channel)
            except ValueError:
                continue
            stations.setdefault(trace.stats.station, {})[component] = trace
        for station, traces in sorted(stations.items()):
            if sorted(traces) != ["E", "N", "Z"]:
                continue
            rate = float(traces["Z"].stats.sampling_rate)
            start = max(t.stats.starttime for t in traces.values())
            npts = min(int((t.stats.endtime - start) * rate) for t in traces.values())
            rows = []
            for component in "ENZ":
                trace = traces[component]
                offset = int(round((start - trace.stats.starttime) * rate))
                data = trace.data[offset : offset + npts].astype(np.float64)
                rows.append(resample(data - data.mean(), rate, sampling_rate))
            record = np.stack(rows)
            if band_hz is not None:
                record = band_pass(record, *band_hz, sampling_rate)
            onset = first_trigger(record[2], sampling_rate)
            if onset is None:
                continue
            first = int(min(max(onset - pre_event_s * sampling_rate, 0), record.shape[-1] - window))
            if first < 0:
                continue
            piece = record[:, first : first + window]
            events.append(
                DevelopmentEvent(
                    id=f"{traces['Z'].stats.network}.{station}", source=relative,
                    waveforms=piece - piece.mean(axis=-1, keepdims=True), sampling_rate=sampling_rate,
                )
            )  # fmt: skip
    return events


def development_noise(sampling_rate: float = 100.0, min_span_s: float = 30.0) -> list[DevelopmentNoise]:
    """The development set's real noise: each record's event-free spans, split at its midpoint."""
    import obspy

    records = []
    for relative in NOISE_FILES:
        trace = obspy.read(obspy_data_file(relative))[0]
        rate = float(trace.stats.sampling_rate)
        data = resample(trace.data.astype(np.float64), rate, sampling_rate)
        data -= data.mean()
        middle = data.shape[-1] // 2
        halves = ([], [])
        for start, end in event_free_spans(data, sampling_rate):
            for half, (lo, hi) in enumerate(((start, min(end, middle)), (max(start, middle), end))):
                if hi - lo >= min_span_s * sampling_rate:
                    halves[half].append(data[lo:hi])
        records.append(DevelopmentNoise(trace.id, relative, halves[0], halves[1], sampling_rate))
    return records


@dataclass
class DevelopmentMixture:
    """One draw of the development set: every event with real noise of one record at one level.

    `clean` and `noisy` are `(events, 3, window)`; `condition` is `"in-band"` (the noise band-passed
    to 1-20 Hz, where a filter cannot help) or `"raw"`.
    """

    record_id: str
    snr_db: float
    condition: str
    clean: np.ndarray
    noisy: np.ndarray


def development_mixtures(
    events: list[DevelopmentEvent],
    snr_db: list[float] | tuple[float, ...] = (0.0, 5.0, 10.0),
    draws: int = 4,
    noise_seed: int = 1000,
    sampling_rate: float = 100.0,
):
    """Yield [`DevelopmentMixture`]s: per noise record, level and draw, the in-band and raw mixture.

    Each component of each event gets its own window from the record's `evaluation` half, drawn
    with `numpy.random.default_rng(noise_seed + record index)`, so a seed gives the same draws to
    every caller (`benchmarks/bench_denoise.py` reports on seed 1000; settings are chosen on others).
    """
    from .denoising_pairs import scale_noise_to_snr

    clean = np.stack([e.waveforms for e in events])
    window = clean.shape[-1]
    for record_index, record in enumerate(development_noise(sampling_rate)):
        rng = np.random.default_rng(noise_seed + record_index)
        spans = [s for s in record.evaluation if len(s) >= window]
        for level in snr_db:
            for _ in range(draws):
                noise = np.empty_like(clean)
                for i in range(len(events)):
                    for c in range(clean.shape[1]):
                        span = spans[rng.integers(len(spans))]
                        start = rng.integers(len(span) - window + 1)
                        noise[i, c] = span[start : start + window]
                for condition, raw in (
                    ("in-band", band_pass(noise, 1.0, 20.0, sampling_rate)),
                    ("raw", noise),
                ):
                    noisy = clean + scale_noise_to_snr(clean, raw, level)
                    yield DevelopmentMixture(record.id, float(level), condition, clean, noisy)


def training_noise_spans(
    sampling_rate: float = 100.0, min_span_s: float = 30.0
) -> dict[str, list[np.ndarray]]:
    """`{trace id: [event-free span, ...]}` of `TRAINING_NOISE_FILES`, demeaned, at `sampling_rate`.

    Traces shorter than `min_span_s` or slower than 15 Hz are skipped; so are spans shorter than
    `min_span_s` (STA/LTA, [`~waveforms.quality.event_free_spans`]).
    """
    import warnings

    import obspy

    out: dict[str, list[np.ndarray]] = {}
    for relative in TRAINING_NOISE_FILES:
        with warnings.catch_warnings():  # test files with odd headers; the samples are fine
            warnings.simplefilter("ignore")
            stream = obspy.read(obspy_data_file(relative))
        for trace in stream:
            rate = float(trace.stats.sampling_rate)
            if rate < 15.0 or trace.stats.npts / rate < max(min_span_s, 12.0):
                continue
            data = resample(trace.data.astype(np.float64), rate, sampling_rate)
            data -= data.mean()
            spans = [
                data[lo:hi] - data[lo:hi].mean()
                for lo, hi in event_free_spans(data, sampling_rate)
                if hi - lo >= min_span_s * sampling_rate
            ]
            if spans:
                out.setdefault(f"{trace.id}@{relative}", []).extend(spans)
    return out


def training_noise_windows(
    count: int, window: int, sampling_rate: float = 100.0, seed: int = 0
) -> np.ndarray:
    """`count` three-component real-noise windows `(count, 3, window)`, float32, each of unit RMS.

    Each component is an independent window of a record drawn uniformly over the records of
    [`training_noise_spans`] (so the two hour-long records do not dominate), at a uniform position
    inside one of its spans. Unit RMS per component: the pair dataset sets the level.
    """
    records = list(training_noise_spans(sampling_rate, min_span_s=window / sampling_rate).values())
    if not records:
        raise ValueError(f"No bundled training-noise span is as long as {window} samples.")
    rng = np.random.default_rng(seed)
    out = np.empty((count, 3, window), dtype=np.float32)
    for i in range(count):
        for c in range(3):
            spans = records[rng.integers(len(records))]
            weights = np.array([len(s) - window + 1 for s in spans], dtype=np.float64)
            span = spans[rng.choice(len(spans), p=weights / weights.sum())]
            start = rng.integers(len(span) - window + 1)
            piece = span[start : start + window]
            piece = piece - piece.mean()
            out[i, c] = piece / max(float(np.sqrt(np.mean(piece**2))), 1e-30)
    return out


def _training_event_traces(sampling_rate: float) -> list[tuple[str, np.ndarray]]:
    """`[(id, samples at sampling_rate)]` of `TRAINING_EVENT_FILES`, demeaned, one trace each."""
    import gzip
    import warnings

    import obspy

    out = []
    for relative in TRAINING_EVENT_FILES:
        path = obspy_data_file(relative)
        if relative.endswith("manz_waldk.a01.gz"):  # bare samples at 200 Hz (ObsPy's pk_baer test)
            with gzip.open(path) as handle:
                data, rate, name = np.loadtxt(handle), 200.0, "BW.MANZ"
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stream = obspy.read(path)
            trace = max((t for t in stream if t.stats.sampling_rate >= 15.0), key=lambda t: t.stats.npts)
            data, rate, name = trace.data, float(trace.stats.sampling_rate), trace.id
        data = resample(np.asarray(data, dtype=np.float64), rate, sampling_rate)
        out.append((name, data - data.mean()))
    return out


def training_event_windows(
    count: int, window: int, sampling_rate: float = 100.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`count` pseudo-three-component windows of the real training events, and their P samples.

    Each window takes one event of `TRAINING_EVENT_FILES` (uniformly), stretches it in time by
    a factor drawn in 0.7-1.4 (so corner frequencies and durations vary), cuts it so that its
    STA/LTA onset falls 3-12 s into the window (earlier when the record starts later), and puts it on a random component; the other two
    components are copies scaled by 0.3-1 and delayed by 0-0.5 s, with random polarity. The
    recordings carry their own pre-event noise, which stays in (they are real, not clean).

    Returns:
        `(windows, p_samples)`: `(count, 3, window)` float32 of unit peak, and `(count,)` int.
    """
    rng = np.random.default_rng(seed)
    events = []
    for name, data in _training_event_traces(sampling_rate):
        onset = first_trigger(data, sampling_rate)
        if onset is not None:
            events.append((name, data, int(onset)))
    if not events:
        raise ValueError("No bundled training event has an STA/LTA onset.")
    windows = np.zeros((count, 3, window), dtype=np.float32)
    p_samples = np.empty(count, dtype=np.int64)
    for i in range(count):
        _, data, onset = events[rng.integers(len(events))]
        factor = rng.uniform(0.7, 1.4)
        stretched = resample(data, sampling_rate, sampling_rate * factor)
        onset_here = int(onset * factor)
        # inside the record where it can be: no zero padding before its first sample
        p = int(rng.uniform(min(3.0 * sampling_rate, onset_here), min(12.0 * sampling_rate, onset_here)))
        start = onset_here - p
        piece = np.zeros(window)
        lo, hi = max(start, 0), min(start + window, len(stretched))
        piece[lo - start : hi - start] = stretched[lo:hi]
        main = rng.integers(3)
        for c in range(3):
            if c == main:
                row = piece
            else:
                delay = int(rng.uniform(0.0, 0.5) * sampling_rate)
                row = rng.uniform(0.3, 1.0) * np.concatenate([np.zeros(delay), piece[: window - delay]])
            windows[i, c] = row * rng.choice((-1.0, 1.0))
        windows[i] /= max(float(np.abs(windows[i]).max()), 1e-30)
        p_samples[i] = p
    return windows, p_samples

"""Per-record quality metrics: SNR and gap count of each component."""

from __future__ import annotations

import numpy as np
from obspy import Stream, UTCDateTime

from ..utils.streams import component_of

# Components in table order: snr1/gap1 is E, snr2/gap2 is N, snr3/gap3 is Z; other channel codes
# map to them as `utils.streams.component_of` says (the one map: 1 -> N, 2 -> E, 3 -> Z, K-NET's EW/NS/UD).
TABLE_COMPONENTS = "ENZ"
NOISE_WINDOW_S = (-10.0, -0.5)
SIGNAL_WINDOW_S = (0.0, 10.0)
MIN_WINDOW_S = 1.0


def component_index(channel_code: str) -> int | None:
    """0, 1, 2 for a channel recording E, N, Z (by `component_of`: 1 is N, 2 is E), `None` otherwise."""
    try:
        return TABLE_COMPONENTS.index(component_of(str(channel_code)))
    except ValueError:
        return None


def gap_counts(stream: Stream) -> list[int]:
    """Gaps and overlaps per component `[E, N, Z]` in an unmerged Stream (ObsPy's `get_gaps`)."""
    counts = [0, 0, 0]
    for gap in stream.get_gaps():
        index = component_index(gap[3])
        if index is not None:
            counts[index] += 1
    return counts


def snr(
    data: np.ndarray,
    sampling_rate: float,
    starttime: UTCDateTime,
    arrival: UTCDateTime,
    noise_window: tuple[float, float] = NOISE_WINDOW_S,
    signal_window: tuple[float, float] = SIGNAL_WINDOW_S,
) -> float:
    r"""Amplitude signal-to-noise ratio around an arrival: RMS in `signal_window` over RMS in
    `noise_window` (seconds relative to `arrival`), on the demeaned trace.

    Windows are clipped to the record (records often start only a few seconds before P).
    Returns `nan` when less than `MIN_WINDOW_S` of either window remains or the noise is zero.
    """
    data = np.asarray(data, dtype=np.float64)
    data = data - data.mean()
    pick = (arrival - starttime) * sampling_rate

    def window(bounds):
        start, stop = (min(max(int(round(pick + b * sampling_rate)), 0), len(data)) for b in bounds)
        return data[start:stop] if stop - start >= MIN_WINDOW_S * sampling_rate else None

    noise, signal = window(noise_window), window(signal_window)
    if noise is None or signal is None:
        return float("nan")
    noise_rms = np.sqrt(np.mean(noise**2))
    return float(np.sqrt(np.mean(signal**2)) / noise_rms) if noise_rms > 0 else float("nan")


def record_quality(
    stream: Stream,
    arrival: UTCDateTime,
    noise_window: tuple[float, float] = NOISE_WINDOW_S,
    signal_window: tuple[float, float] = SIGNAL_WINDOW_S,
) -> dict:
    r"""
    `snr1..3` and `gap1..3` of one station's three-component record (components E/1, N/2, Z).

    Gaps are counted on the Stream as read. For the SNR, each component is merged (gaps filled
    with the trace mean, so a gappy record still gets a number; the gap count is what rejects it)
    and `snr` is taken around `arrival` (the P pick, else S). A missing component scores
    `snr = nan` and `gap = -1`.

    Args:
        stream (`obspy.Stream`): One station's traces, unmerged.
        arrival (`obspy.UTCDateTime`): The arrival the windows are relative to.
        noise_window, signal_window (`tuple[float, float]`): Seconds relative to `arrival`.

    Returns:
        `dict` with `snr1`, `snr2`, `snr3` (float) and `gap1`, `gap2`, `gap3` (int).
    """
    gaps = gap_counts(stream)
    quality = {}
    for index in range(3):
        traces = Stream([t for t in stream if component_index(t.stats.channel) == index])
        if not traces:
            quality[f"snr{index + 1}"], gaps[index] = float("nan"), -1
            continue
        merged = traces.copy().merge(method=1)[0]
        data = merged.data
        if np.ma.isMaskedArray(data):
            data = data.filled(data.mean())
        quality[f"snr{index + 1}"] = snr(
            data, merged.stats.sampling_rate, merged.stats.starttime, arrival, noise_window, signal_window
        )
    quality.update({f"gap{index + 1}": gaps[index] for index in range(3)})
    return quality


def passes_quality(quality: dict, snr_threshold: float = 1.5, max_gaps: int = 0) -> bool:
    """Quality filter: the largest component SNR exceeds `snr_threshold` and every component
    has at most `max_gaps` gaps (a missing component, `gap = -1`, fails)."""
    snrs = [quality[f"snr{i}"] for i in (1, 2, 3)]
    gaps = [quality[f"gap{i}"] for i in (1, 2, 3)]
    best = np.nanmax(snrs) if not np.isnan(snrs).all() else float("nan")
    return bool(best > snr_threshold and all(0 <= g <= max_gaps for g in gaps))


def _characteristic_function(
    data: np.ndarray, sampling_rate: float, sta_s: float, lta_s: float
) -> np.ndarray:
    """Classic STA/LTA of the record band-passed to 1-20 Hz (below 0.45 x the sampling rate)."""
    from obspy.signal.filter import bandpass
    from obspy.signal.trigger import classic_sta_lta

    filtered = bandpass(np.asarray(data, dtype=np.float64), 1.0, min(20.0, 0.45 * sampling_rate), sampling_rate,
                        corners=4, zerophase=True)  # fmt: skip
    return classic_sta_lta(filtered, max(1, int(sta_s * sampling_rate)), max(2, int(lta_s * sampling_rate)))


def first_trigger(
    data: np.ndarray, sampling_rate: float, sta_s: float = 1.0, lta_s: float = 10.0, on: float = 4.0
) -> int | None:
    """Sample of the first STA/LTA trigger (ObsPy's `classic_sta_lta` on 1-20 Hz), or `None`."""
    from obspy.signal.trigger import trigger_onset

    onsets = trigger_onset(_characteristic_function(data, sampling_rate, sta_s, lta_s), on, 1.5)
    return int(onsets[0][0]) if len(onsets) else None


def event_free_spans(
    data: np.ndarray,
    sampling_rate: float,
    sta_s: float = 1.0,
    lta_s: float = 10.0,
    on: float = 4.0,
    off: float = 1.5,
    before_s: float = 5.0,
    after_s: float = 30.0,
) -> list[tuple[int, int]]:
    """`[(start, end), ...]` sample spans of a continuous record with no event in them.

    Events are STA/LTA triggers (ObsPy's `classic_sta_lta` on the record band-passed to
    1-20 Hz, `on`/`off` thresholds); each is cut out from `before_s` before its onset to
    `after_s` after its end, which covers the coda of a local event.

    Args:
        data (`np.ndarray` of shape `(N,)`): One component.
        sampling_rate (`float`): Hz.

    Returns:
        `list[tuple[int, int]]`: half-open spans, in order.
    """
    from obspy.signal.trigger import trigger_onset

    n = len(data)
    spans, cursor = [], 0
    for onset, end in trigger_onset(_characteristic_function(data, sampling_rate, sta_s, lta_s), on, off):
        cut_start = max(0, int(onset - before_s * sampling_rate))
        if cut_start > cursor:
            spans.append((cursor, cut_start))
        cursor = max(cursor, min(n, int(end + after_s * sampling_rate)))
    if cursor < n:
        spans.append((cursor, n))
    return spans

"""Waveform preprocessing: demean, linear detrend, 5 % cosine taper, band-pass by magnitude and band."""

from __future__ import annotations

import math

from obspy import Stream, Trace

# Band-pass table of the Seismic Diffusion Project (Kandilli Observatory records from the Marmara Sea
# region): (fmin, fmax) in Hz by band-and-instrument code and magnitude bin.
# Bins are [0, 1), [1, 2), [2, 3), [3, 4) and 4 and above.
BANDPASS_TABLE: dict[str, tuple[tuple[float, float], ...]] = {
    "HH": ((2.0, 25.0), (1.0, 20.0), (0.5, 15.0), (0.3, 10.0), (0.1, 8.0)),
    "BH": ((0.5, 10.0), (0.5, 8.0), (0.5, 5.0), (0.3, 5.0), (0.1, 3.0)),
    "EH": ((3.0, 40.0), (2.0, 35.0), (1.0, 25.0), (0.5, 20.0), (0.3, 15.0)),
}
MAGNITUDE_BINS = ("0-1", "1-2", "2-3", "3-4", "4+")
TAPER_FRACTION = 0.05
FILTER_CORNERS = 4
# Nyquist guard: a corner at or above Nyquist turns ObsPy's band-pass into a high-pass (the BH
# 0-1 row's 10 Hz on a 20 Hz channel); corners are capped at this fraction of the sampling rate.
MAX_CORNER_FRACTION_OF_SAMPLING_RATE = 0.45


def magnitude_bin(magnitude: float) -> int:
    """Row index of `magnitude` in the table: 0 for [0, 1) (and below 0), ..., 4 for 4 and above.

    Raises:
        ValueError: for NaN or infinite magnitudes.
    """
    magnitude = float(magnitude)
    if not math.isfinite(magnitude):
        raise ValueError(f"Magnitude must be a finite number, got {magnitude}.")
    return min(max(int(math.floor(magnitude)), 0), 4)


def table_code(channel_code: str) -> str:
    """The table row for a SEED channel code: its first two letters (band + instrument code).

    Rule for codes outside the table: accelerometers (instrument code `N`, e.g. `HN?`, `BN?`,
    `EN?`) use the row of the seismometer with the same band code (`HN` -> `HH`), because the
    table's rows differ by band, that is by sampling rate. Other band codes (`L`, `S`, `M`, ...)
    are refused.

    Raises:
        ValueError: for codes shorter than two letters or bands outside the table.
    """
    code = str(channel_code).strip().upper()
    if len(code) < 2:
        raise ValueError(f"Channel code {channel_code!r} is too short; expected e.g. 'HHZ'.")
    band, instrument = code[0], code[1]
    if band + instrument in BANDPASS_TABLE:
        return band + instrument
    if instrument == "N" and band + "H" in BANDPASS_TABLE:
        return band + "H"
    raise ValueError(
        f"Channel {channel_code!r} is outside the band-pass table: it covers {', '.join(BANDPASS_TABLE)} "
        f"(and accelerometers {', '.join(k[0] + 'N' for k in BANDPASS_TABLE)}, which use their band's row)."
    )


def bandpass_for(channel_code: str, magnitude: float) -> tuple[float, float]:
    r"""Band-pass corners `(fmin, fmax)` in Hz from `BANDPASS_TABLE` for a channel and a magnitude.

    >>> bandpass_for("HHZ", 2.4)
    (0.5, 15.0)
    >>> bandpass_for("BHN", 4.7)
    (0.1, 3.0)
    >>> bandpass_for("HNE", 0.8)  # an accelerometer uses its band's seismometer row
    (2.0, 25.0)

    Args:
        channel_code (`str`): SEED channel code (`"HHZ"`) or its first two letters (`"HH"`).
        magnitude (`float`): Event magnitude; bins 0-1, 1-2, 2-3, 3-4, 4+ (below 0 uses 0-1).

    Raises:
        ValueError: for a band outside the table (see `table_code`) or a non-finite magnitude.
    """
    return BANDPASS_TABLE[table_code(channel_code)][magnitude_bin(magnitude)]


def check_stream(stream: Stream) -> None:
    """Raise a `ValueError` for an empty Stream, traces without samples or with NaN/inf, masked
    (gappy) data, or one station recorded at several sampling rates."""
    if not isinstance(stream, Stream):
        raise ValueError(f"Expected an obspy Stream, got {type(stream).__name__}.")
    if len(stream) == 0:
        raise ValueError("The Stream is empty: nothing to process.")
    rates: dict[tuple[str, str, str], set[float]] = {}
    for trace in stream:
        if trace.stats.npts == 0:
            raise ValueError(f"Trace {trace.id} has no samples.")
        if hasattr(trace.data, "mask"):
            raise ValueError(
                f"Trace {trace.id} has gaps (masked samples); merge or cut it before processing."
            )
        if not (trace.data == trace.data).all() or abs(trace.data.astype(float)).max() == float("inf"):
            raise ValueError(f"Trace {trace.id} contains NaN or inf samples.")
        key = (trace.stats.network, trace.stats.station, trace.stats.location)
        rates.setdefault(key, set()).add(float(trace.stats.sampling_rate))
    for (network, station, location), found in rates.items():
        if len(found) > 1:
            raise ValueError(
                f"Station {network}.{station}.{location} mixes sampling rates {sorted(found)} Hz; "
                "resample its channels to one rate first."
            )


def preprocess_trace(trace: Trace, magnitude: float) -> Trace:
    """Apply the chain to one trace in place (see `preprocess`) and return it."""
    fmin, fmax = bandpass_for(trace.stats.channel, magnitude)
    limit = MAX_CORNER_FRACTION_OF_SAMPLING_RATE * trace.stats.sampling_rate
    if fmin >= limit:
        raise ValueError(
            f"Trace {trace.id} at {trace.stats.sampling_rate:g} Hz cannot carry the {fmin:g}-{fmax:g} Hz band."
        )
    trace.data = trace.data.astype("float64")
    trace.detrend("demean")
    trace.detrend("linear")
    trace.taper(max_percentage=TAPER_FRACTION, type="cosine")
    trace.filter("bandpass", freqmin=fmin, freqmax=min(fmax, limit), corners=FILTER_CORNERS, zerophase=True)
    trace.stats.processing.append(
        f"seismic_diffusers: preprocess(magnitude={float(magnitude):g}, table row "
        f"{table_code(trace.stats.channel)} {MAGNITUDE_BINS[magnitude_bin(magnitude)]}, "
        f"band {fmin:g}-{min(fmax, limit):g} Hz)"
    )
    return trace


def preprocess(stream: Stream, magnitude: float) -> Stream:
    r"""
    The preprocessing chain, on a copy: per trace, demean, linear detrend, 5 % cosine
    taper at each end, then a zero-phase 4-corner Butterworth band-pass chosen from the table by
    channel and magnitude (`bandpass_for`).

    Zero-phase keeps arrival times where the picks put them. A high corner above 45 % of the
    sampling rate is lowered to it (noted in `stats.processing`). ObsPy records each step in
    `trace.stats.processing`; a last entry names the table row and band used.

    Args:
        stream (`obspy.Stream`): Waveforms in counts (or any unit), any number of traces.
        magnitude (`float`): The event's magnitude.

    Returns:
        `obspy.Stream`: the processed copy, float64, with the same stats otherwise.

    Raises:
        ValueError: an empty Stream, gappy (masked) or NaN traces, mixed sampling rates at one
            station, a channel outside the table, or a non-finite magnitude.
    """
    check_stream(stream)
    magnitude_bin(magnitude)
    processed = stream.copy()
    for trace in processed:
        preprocess_trace(trace, magnitude)
    return processed

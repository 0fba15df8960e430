"""ObsPy Streams <-> component arrays: station grouping, channel-code mapping, strict validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

# Last letter(s) of a channel code -> component. 1/2/3 are the SEED codes for horizontals and
# vertical of unknown or non-geographic orientation; they are treated as N/E/Z and the
# substitution is recorded in stats.processing. K-NET/KiK-net name channels EW, NS and UD.
COMPONENT_ALIASES = {
    "Z": "Z",
    "N": "N",
    "E": "E",
    "1": "N",
    "2": "E",
    "3": "Z",
    "UD": "Z",
    "NS": "N",
    "EW": "E",
}


def component_of(channel: str) -> str:
    """The component (`"E"`, `"N"` or `"Z"`) a channel code records, or a `ValueError`."""
    code = channel.strip().upper()
    for alias in (code[-2:], code[-1:]):
        if alias in COMPONENT_ALIASES and (len(alias) == 2 or code[-2:] not in ("UD", "NS", "EW")):
            return COMPONENT_ALIASES[alias]
    raise ValueError(
        f"Cannot tell which component channel {channel!r} records. Supported channel codes end in "
        "Z/N/E, 1/2/3 (treated as N/E/Z), or are K-NET's UD/NS/EW; rename the channel "
        "(trace.stats.channel) or rotate the data first (Stream.rotate)."
    )


@dataclass
class StationGroup:
    """The traces of one station/location/instrument, aligned on a common sample grid."""

    key: str
    traces: list = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    sampling_rate: float = 0.0
    offsets: list[int] = field(default_factory=list)  # start of each trace on the common grid
    npts: int = 0  # length of the common grid

    def to_array(self, order: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """`(len(order), npts)` float64 array; components the group lacks stay zero.

        Returns the array and, per trace, its row in it.
        """
        array = np.zeros((len(order), self.npts), dtype=np.float64)
        rows = []
        for trace, component, offset in zip(self.traces, self.components, self.offsets, strict=True):
            row = list(order).index(component)
            array[row, offset : offset + trace.stats.npts] = trace.data
            rows.append(row)
        return array, rows


def group_stream(stream, order: Sequence[str] = ("E", "N", "Z")) -> list[StationGroup]:
    r"""
    Group a Stream by network, station, location and band/instrument code, refusing what cannot be
    denoised faithfully.

    Raises:
        ValueError: For an empty Stream; masked arrays; gaps or overlaps (several traces with one
            id); NaN or Inf samples; mixed sampling rates within a group; two traces of the same
            component in a group; channel codes `component_of` cannot map.

    Returns:
        `list[StationGroup]`: one group per station/location/band, or several where its
        components do not overlap in time (they are then denoised apart, see `_split_by_overlap`).
    """
    if stream is None or len(stream) == 0:
        raise ValueError("The Stream is empty: there is nothing to denoise.")
    for trace in stream:
        if np.ma.isMaskedArray(trace.data) and np.ma.count_masked(trace.data):
            raise ValueError(
                f"{trace.id} holds masked (missing) samples, usually from Stream.merge() over a gap. "
                "Denoise the contiguous pieces separately (st.split()), or fill the gap explicitly, "
                "e.g. st.merge(fill_value='interpolate'), if that is acceptable for your data."
            )
        if trace.stats.npts == 0:
            raise ValueError(f"{trace.id} has no samples.")
        if not np.all(np.isfinite(np.asarray(trace.data, dtype=np.float64))):
            raise ValueError(f"{trace.id} contains NaN or Inf samples.")
    ids = [trace.id for trace in stream]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(
            f"Gaps or overlaps: {', '.join(repeated)} appear in more than one trace. Denoise each "
            "contiguous segment on its own (one Stream per segment), or merge them explicitly, "
            "e.g. st.merge(method=1, fill_value='interpolate'); nothing is zero-filled here."
        )

    groups: dict[str, StationGroup] = {}
    for trace in stream:
        stats = trace.stats
        component = component_of(stats.channel)
        band = stats.channel[:-2] if stats.channel.upper()[-2:] in ("UD", "NS", "EW") else stats.channel[:-1]
        key = f"{stats.network}.{stats.station}.{stats.location}.{band}"
        group = groups.setdefault(key, StationGroup(key=key, sampling_rate=float(stats.sampling_rate)))
        if abs(float(stats.sampling_rate) - group.sampling_rate) > 1e-6 * group.sampling_rate:
            raise ValueError(
                f"Mixed sampling rates in {key}: {group.sampling_rate:g} Hz and {stats.sampling_rate:g} Hz "
                f"({trace.id}). Resample them to one rate first (Stream.resample or Trace.interpolate)."
            )
        if component in group.components:
            other = group.traces[group.components.index(component)].id
            raise ValueError(f"{trace.id} and {other} both map to component {component} in {key}.")
        if component not in order:
            raise ValueError(
                f"{trace.id} is component {component}, which this model does not take ({', '.join(order)})."
            )
        group.traces.append(trace)
        group.components.append(component)

    return [part for group in groups.values() for part in _split_by_overlap(group)]


def _split_by_overlap(group: StationGroup) -> list[StationGroup]:
    """The group's traces in runs that overlap in time, each on its own grid.

    Components are only put on one grid where they overlap: components recorded at different
    times are denoised apart, never zero-filled between (that would be gap filling, and would cost
    memory for the whole span between them). So a grid is never longer than the sum of its
    traces' lengths.
    """
    rate = group.sampling_rate
    pairs = sorted(zip(group.traces, group.components, strict=True), key=lambda p: p[0].stats.starttime)
    runs: list[StationGroup] = []
    end = None
    for trace, component in pairs:
        start = trace.stats.starttime
        if end is None or start - end > 0.5 / rate:  # no shared sample with the run so far
            runs.append(StationGroup(key=group.key, sampling_rate=rate))
            end = trace.stats.endtime
        runs[-1].traces.append(trace)
        runs[-1].components.append(component)
        end = max(end, trace.stats.endtime)
    for run in runs:
        start = min(t.stats.starttime for t in run.traces)
        run.offsets = [round((t.stats.starttime - start) * rate) for t in run.traces]
        run.npts = max(o + t.stats.npts for o, t in zip(run.offsets, run.traces, strict=True))
    if len(runs) > 1:
        for number, run in enumerate(runs, 1):
            run.key = f"{group.key} (part {number} of {len(runs)})"
    return runs


def _ratio(rate_in: float, rate_out: float) -> Fraction | None:
    if abs(rate_in - rate_out) <= 1e-9 * rate_out:
        return None
    return Fraction(rate_out / rate_in).limit_denominator(1000)


def resample(array: np.ndarray, rate_in: float, rate_out: float, npts_out: int | None = None) -> np.ndarray:
    """Polyphase resampling along the last axis (`scipy.signal.resample_poly`, anti-aliased).

    The one resampler of the package: the denoiser, its training data and the development set
    all go through it. The rate ratio is approximated by a fraction with a denominator of at
    most 1000. With `npts_out`, the result is cut or zero-padded to that many samples.

    Args:
        array (`np.ndarray` of shape `(..., N)`): Samples at `rate_in` Hz.
        rate_in, rate_out (`float`): Sampling rates, Hz.
        npts_out (`int`, *optional*): Length of the result.

    Returns:
        `np.ndarray` of shape `(..., M)`, float64 where resampled.
    """
    from scipy.signal import resample_poly

    ratio = _ratio(rate_in, rate_out)
    out = array if ratio is None else resample_poly(array, ratio.numerator, ratio.denominator, axis=-1)
    if npts_out is not None:
        out = out[..., :npts_out]
        if out.shape[-1] < npts_out:
            out = np.concatenate([out, np.zeros((*out.shape[:-1], npts_out - out.shape[-1]))], axis=-1)
    return out


def band_pass(records: np.ndarray, low: float, high: float, rate: float) -> np.ndarray:
    """`records` `(..., N)` band-passed along the last axis: ObsPy's `bandpass`, zero phase, 4 corners
    (the filter every denoising band in this project uses). Returns float64, same shape."""
    from obspy.signal.filter import bandpass

    array = np.asarray(records, dtype=np.float64)
    flat = array.reshape(-1, array.shape[-1])
    out = np.stack(
        [bandpass(row, float(low), float(high), float(rate), corners=4, zerophase=True) for row in flat]
    )
    return out.reshape(array.shape)


def stft_pair(rate: float, window_s: float, npts: int) -> tuple:
    """`(forward, inverse)`: SciPy's STFT of `(..., npts)` records (Hann windows of `window_s`, 75 %
    overlap) and its inverse, which returns float64 records of exactly `npts` samples. The transform
    behind [`spectral_gating`] and `metrics.oracle_mask_estimate`. A `ValueError` if the window is
    longer than the records."""
    from scipy.signal import istft, stft

    nperseg = max(4, int(round(window_s * rate)))
    if nperseg > npts:
        raise ValueError(f"window_s={window_s} is longer than the records ({npts} samples).")
    options = {"fs": float(rate), "nperseg": nperseg, "noverlap": nperseg * 3 // 4}

    def inverse(spectrum: np.ndarray) -> np.ndarray:
        out = istft(spectrum, **options)[1][..., :npts]
        return np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, npts - out.shape[-1])])

    return (lambda records: stft(np.asarray(records, dtype=np.float64), **options)[2]), inverse


def spectral_gating(
    records: np.ndarray,
    rate: float,
    noise_percentile: float = 20.0,
    over_subtraction: float = 1.0,
    window_s: float = 2.56,
) -> np.ndarray:
    """`records` `(..., N)` denoised by power spectral subtraction, a classical peer of the denoiser.

    Each record's STFT (Hann windows of `window_s`, 75 % overlap) is scaled cell by cell by
    `max(0, 1 - over_subtraction * P_noise(f) / P(f, t))`, where `P_noise(f)` is the
    `noise_percentile`-th percentile of the record's power at frequency `f` over its frames: the
    quiet frames stand for the noise, so stationary noise is removed wherever it outweighs the
    signal. No model, no training. The defaults were chosen on the denoiser development set's
    selection draws (noise seed 5000): the best mean of the in-band and raw median gains among
    settings within 0.5 dB of the band-pass at every raw level (`docs/experiments/denoiser.md`).
    Returns float64, same shape.
    """
    if not (0.0 <= noise_percentile <= 100.0 and over_subtraction >= 0.0):
        raise ValueError(
            f"noise_percentile must be in [0, 100] and over_subtraction >= 0; got {noise_percentile}, "
            f"{over_subtraction}."
        )
    array = np.asarray(records, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError("records hold NaN or Inf; spectral gating needs finite samples.")
    forward, inverse = stft_pair(rate, window_s, array.shape[-1])
    spectrum = forward(array)
    power = np.abs(spectrum) ** 2
    noise = np.percentile(power, noise_percentile, axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        mask = np.clip(np.nan_to_num(1.0 - over_subtraction * noise / power, nan=0.0), 0.0, 1.0)
    return inverse(mask * spectrum)


def resampled_length(npts: int, rate_in: float, rate_out: float) -> int:
    """Samples `resample` returns for `npts` samples without `npts_out`."""
    ratio = _ratio(rate_in, rate_out)
    return npts if ratio is None else -(-npts * ratio.numerator // ratio.denominator)

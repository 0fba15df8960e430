"""Three-component seismograms for denoising: a synthetic local-earthquake and noise generator,
STEAD/SeisBench and miniSEED readers, and the event + noise pairing dataset used by CDiffSD.

Everything here works on arrays of shape `(num_records, 3, num_samples)` with the components in
STEAD's order, `COMPONENTS = ("E", "N", "Z")`.

Units. The synthetic generators return **ground velocity in m/s** (SI): earthquakes through a
Brune source with physical constants, noise from ObsPy's Peterson models (acceleration PSD in
dB re 1 (m/s^2)^2/Hz) converted to velocity. Both are therefore on the same scale and their ratio
is a meaningful SNR. Real data read from STEAD or miniSEED stay in the units they are stored in
(STEAD: raw counts); `DenoisingPairDataset` normalises every pair, so units do not matter there.

ObsPy's bundled real recordings (`obspy.read()`'s example and ObsPy's test data) are never used
here: they are the project's untouched evaluation set.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import re
from pathlib import Path

import numpy as np
import torch

from ..utils.streams import component_of, resample

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike

COMPONENTS: tuple[str, ...] = ("E", "N", "Z")
"""Component order of every array in this module (STEAD's order): east, north, vertical."""

# Crustal constants of the synthetic generator (SI unless the name says otherwise).
VP_KM_S = 6.0  # P-wave speed, km/s
VS_KM_S = 3.5  # S-wave speed, km/s
DENSITY = 2700.0  # kg/m^3
FREE_SURFACE = 2.0  # free-surface amplification

# Stream tags mixed into the seeds, so events, noise and pairings use independent random streams.
_NOISE_STREAM = 0x6E6F6973  # "nois"
_PAIR_STREAM = 0x70616972  # "pair"


# ----------------------------------------------------------------------------------------------
# Synthetic local earthquakes
# ----------------------------------------------------------------------------------------------


def _band_masks(freqs: np.ndarray, nyquist: float) -> tuple[np.ndarray, np.ndarray]:
    """Octave bands as a smooth partition of unity (sum of squared masks = 1 over 0.2 Hz-0.9 f_N).

    Returns `(masks (n_bands, n_freq), centres (n_bands,) in Hz)`. Neighbouring masks cross-fade
    with cos^2/sin^2 in log2(frequency), so band-limited noise weighted per band has a smooth PSD.
    """
    f_low, f_high = 0.2, 0.9 * nyquist
    n_bands = max(1, int(math.ceil(math.log2(f_high / f_low))))
    centres = f_low * 2.0 ** (np.arange(n_bands) + 0.5)
    octave = np.full_like(freqs, -np.inf)
    positive = freqs > 0
    octave[positive] = np.log2(freqs[positive] / f_low) - 0.5  # band k is centred on octave == k
    masks = np.zeros((n_bands, freqs.size))
    for k in range(n_bands):
        distance = octave - k
        inside = np.abs(distance) < 1.0
        masks[k, inside] = np.cos(0.5 * np.pi * distance[inside]) ** 2
    # Flat ends: everything below the first centre goes to band 0, above the last to the last band.
    in_range = (freqs >= f_low) & (freqs <= f_high)
    masks[0, in_range & (octave < 0)] = 1.0
    masks[-1, in_range & (octave > n_bands - 1)] = 1.0
    masks[:, ~in_range] = 0.0
    norm = np.sqrt(np.maximum((masks**2).sum(axis=0), 1e-12))
    masks = np.where(in_range, masks / norm, 0.0)
    return masks, centres


def _envelopes(
    lapse: np.ndarray,
    rise: float,
    duration: float,
    coda_ratio: float,
    lapse_base: float,
    centres: np.ndarray,
    coda_q: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Direct-wave envelope `(n,)` and per-band coda envelopes `(n_bands, n)` at lapse times (s).

    Direct: `(1 - exp(-t / rise)) exp(-t / duration)`. Coda: `coda_ratio (1 - exp(-t / duration))
    (T / (T + t)) exp(-pi f t / Qc(f))` with `T = lapse_base`. Both are zero before the onset.
    """
    after = lapse >= 0.0
    t = np.where(after, lapse, 0.0)
    direct = np.where(after, (1.0 - np.exp(-t / rise)) * np.exp(-t / duration), 0.0)
    coda = np.where(after, coda_ratio * (1.0 - np.exp(-t / duration)) * lapse_base / (lapse_base + t), 0.0)
    coda = coda[None] * np.exp(-np.pi * centres[:, None] * t[None] / coda_q[:, None])
    return direct, coda


def _one_event(
    rng: np.random.Generator,
    sampling_rate: float,
    num_samples: int,
    magnitude_range: tuple[float, float],
    distance_range_km: tuple[float, float],
    magnitude: float | None = None,
    distance_km: float | None = None,
    kappa: float | None = None,
) -> tuple[np.ndarray, int, int, float, float]:
    fs, n = float(sampling_rate), int(num_samples)
    duration = n / fs
    slowness_diff = 1.0 / VS_KM_S - 1.0 / VP_KM_S  # s/km, S-P time per km

    # 1. Geometry: P at 1/6-1/2 of the window, S at least 3 s before the end.
    p_min, p_max = duration / 6.0, duration / 2.0
    window_cap_km = (duration - 3.0 - p_min) / slowness_diff  # S must arrive 3 s before the end
    d_max = min(distance_range_km[1], window_cap_km)
    d_min = min(distance_range_km[0], d_max)
    distance = float(np.exp(rng.uniform(np.log(d_min), np.log(max(d_max, d_min * 1.0001)))))
    if distance_km is not None:  # drawn above all the same, so the other draws do not shift
        if distance_km > window_cap_km:
            raise ValueError(
                f"distance_km {distance_km:.1f} km puts S past the window ({n} samples leave room for "
                f"{window_cap_km:.1f} km); use a longer num_samples."
            )
        distance = float(distance_km)
    sp_samples = int(round(distance * slowness_diff * fs))
    p_hi = max(p_min, min(p_max, duration - 3.0 - sp_samples / fs))
    p_sample = int(round(rng.uniform(p_min, p_hi) * fs))
    s_sample = p_sample + sp_samples

    # 2. Source: Brune omega-square spectrum (moment from Mw, random stress drop).
    drawn = float(rng.uniform(*magnitude_range))  # always drawn: a fixed value keeps the other draws
    magnitude = drawn if magnitude is None else float(magnitude)
    moment = 10.0 ** (1.5 * magnitude + 9.1)  # N m (Hanks & Kanamori)
    stress_drop = float(np.exp(rng.uniform(np.log(0.5e6), np.log(20e6))))  # Pa
    vs, vp = VS_KM_S * 1e3, VP_KM_S * 1e3  # m/s
    fc_s = 0.4906 * vs * (stress_drop / moment) ** (1.0 / 3.0)  # Hz (Brune 1970)
    fc_p = 1.5 * fc_s  # Madariaga (1976): P corner ~1.5x the S corner
    # 3. Path and site: 1/R spreading, Q(f) = Q0 f^eta (Q_P = 1.5 Q_S), site kappa.
    q0, eta = float(np.exp(rng.uniform(np.log(100.0), np.log(600.0)))), float(rng.uniform(0.3, 0.8))
    drawn = float(rng.uniform(0.01, 0.05))  # s
    kappa = drawn if kappa is None else float(kappa)
    radiation_p, radiation_s = float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.3, 1.0))
    coda_q0 = float(rng.uniform(50.0, 200.0))  # coda Q at 1 Hz, Qc(f) = Qc0 f^0.8
    travel_p, travel_s = distance / VP_KM_S, distance / VS_KM_S  # s
    r_m = distance * 1e3

    # 4. Polarisation: P along the ray (steep incidence, mostly vertical), S perpendicular to it
    #    (SV/SH mix, mostly horizontal); the radial direction points away from the source.
    back_azimuth = rng.uniform(0.0, 2.0 * np.pi)
    azimuth = back_azimuth + np.pi
    radial = np.array([np.sin(azimuth), np.cos(azimuth), 0.0])  # (E, N, Z)
    transverse = np.array([np.cos(azimuth), -np.sin(azimuth), 0.0])
    vertical = np.array([0.0, 0.0, 1.0])
    inc_p, inc_s = np.deg2rad(rng.uniform(5.0, 35.0)), np.deg2rad(rng.uniform(5.0, 30.0))
    pol_p = rng.choice([-1.0, 1.0]) * (np.sin(inc_p) * radial + np.cos(inc_p) * vertical)
    sv = np.cos(inc_s) * radial - np.sin(inc_s) * vertical
    psi = rng.uniform(0.0, 2.0 * np.pi)
    pol_s = np.cos(psi) * sv + np.sin(psi) * transverse

    freqs = np.fft.rfftfreq(n, d=1.0 / fs)
    masks, centres = _band_masks(freqs, 0.5 * fs)
    bandwidth = (masks**2).sum(axis=1) * (fs / n)  # Hz, effective bandwidth of each band
    t = np.arange(n) / fs

    out = np.zeros((3, n))
    phases = (
        (p_sample, fc_p, vp, radiation_p, travel_p, 1.5 * q0, pol_p),
        (s_sample, fc_s, vs, radiation_s, travel_s, q0, pol_s),
    )
    for onset, fc, speed, radiation, travel, q_at_1hz, polarisation in phases:
        # Target Fourier amplitude spectrum of ground velocity at the band centres (m/s * s).
        source = radiation * FREE_SURFACE / (4.0 * np.pi * DENSITY * speed**3) * moment
        spectrum = (
            source
            * 2.0
            * np.pi
            * centres
            / (1.0 + (centres / fc) ** 2)
            / r_m
            * np.exp(-np.pi * centres * travel / (q_at_1hz * centres**eta))
            * np.exp(-np.pi * kappa * centres)
        )
        # Envelopes (dimensionless) versus lapse time after the onset, and the energy of each
        # band's envelope (s), integrated numerically over 60 s of lapse time.
        envelope = {
            "rise": min(0.3, 0.15 / fc + 0.001 * distance),  # s
            "duration": min(4.0, 1.0 / fc + 0.15 * travel),  # s
            "coda_ratio": float(rng.uniform(0.15, 0.4)),
            "lapse_base": max(travel, 1.0),  # s
            "centres": centres,
            "coda_q": coda_q0 * centres**0.8,
        }
        direct_env, coda_env = _envelopes(t - onset / fs, **envelope)
        grid_direct, grid_coda = _envelopes(np.arange(0.0, 60.0, 1.0 / fs), **envelope)
        energy = ((grid_direct**2).sum() + (grid_coda**2).sum(axis=1)) / fs
        band_amp = spectrum * np.sqrt(2.0 * bandwidth / energy)  # m/s

        # Unit-variance band-limited Gaussian noise: 1 direct (shared by E, N, Z) + 3 coda series.
        white = rng.standard_normal((4, freqs.size)) + 1j * rng.standard_normal((4, freqs.size))
        scale = np.sqrt(fs * n / (2.0 * bandwidth))[:, None] / np.sqrt(2.0)  # unit variance per band
        series = np.fft.irfft(white[:, None, :] * (masks * scale)[None], n=n, axis=-1)
        direct = (band_amp[:, None] * series[0]).sum(axis=0) * direct_env
        coda = np.einsum("k,ckt,kt->ct", band_amp, series[1:], coda_env)
        # Coda keeps half of the phase's polarisation: weights sqrt(0.5 p_c^2 + 0.5 / 3).
        coda_weights = np.sqrt(0.5 * polarisation**2 + 0.5 / 3.0)
        out += polarisation[:, None] * direct[None] + coda_weights[:, None] * coda
    return out.astype(np.float32), p_sample, s_sample, magnitude, distance


def _check_generator_args(num: int, sampling_rate: float, num_samples: int, start: int) -> None:
    if int(num) < 0:
        raise ValueError(f"`num` must be >= 0, got {num}.")
    if int(start) < 0:
        raise ValueError(f"`start` must be >= 0, got {start}.")
    if not sampling_rate > 0:
        raise ValueError(f"`sampling_rate` must be positive (Hz), got {sampling_rate}.")
    if int(num_samples) < 8 * sampling_rate:
        raise ValueError(
            f"`num_samples` must cover at least 8 s ({int(8 * sampling_rate)} samples at "
            f"{sampling_rate} Hz) to hold P, S and some coda; got {num_samples}."
        )


def generate_local_earthquakes(
    num: int,
    seed: int = 0,
    sampling_rate: float = 100.0,
    num_samples: int = 3000,
    start: int = 0,
    magnitude_range: tuple[float, float] = (0.5, 4.5),
    distance_range_km: tuple[float, float] = (5.0, 110.0),
    magnitude: np.ndarray | None = None,
    distance_km: np.ndarray | None = None,
    kappa: np.ndarray | None = None,
) -> dict:
    r"""Generate noise-free three-component local-earthquake records (ground velocity, m/s).

    The recipe, per record (a stochastic-method simulation, after Boore 2003, done per octave
    band so that the coda decays faster at high frequency):

    1. **Geometry.** Hypocentral distance R log-uniform in `distance_range_km`, capped so that S
       arrives at least 3 s before the end of the window. P arrives at a uniformly drawn time in
       the first half of the window, no earlier than 1/6 of it (5-15 s of a 30 s window); S
       follows after R (1/vs - 1/vp), with vp = 6.0 km/s and vs = 3.5 km/s (`VP_KM_S`, `VS_KM_S`).
    2. **Source.** Moment magnitude Mw uniform in `magnitude_range`, seismic moment
       M0 = 10^(1.5 Mw + 9.1) N m, stress drop log-uniform in 0.5-20 MPa, Brune (1970)
       omega-square spectrum with S corner frequency fc = 0.4906 vs (stress drop / M0)^(1/3) and
       P corner 1.5 fc (Madariaga 1976). Radiation coefficients are uniform in 0.3-1.0.
    3. **Path and site.** Geometrical spreading 1/R, anelastic attenuation
       exp(-pi f T / Q(f)) with T the phase's travel time, Q_S(f) = Q0 f^eta (Q0 log-uniform in
       100-600, eta in 0.3-0.8) and Q_P = 1.5 Q_S, site kappa exp(-pi kappa f) with kappa in
       0.01-0.05 s, free-surface factor 2, density 2700 kg/m^3. This gives the Fourier amplitude
       spectrum of ground velocity of each phase (m/s x s); P comes out richer in high
       frequencies than S (higher corner, shorter path, higher Q).
    4. **Envelopes.** In each octave band (0.2 Hz up to 0.9 x Nyquist) the phase is unit-variance
       band-limited Gaussian noise times an envelope: a direct pulse with an impulsive onset
       (rise time 0.15 / fc + 0.001 s/km x R, at most 0.3 s) decaying over 1 / fc + 0.15 T
       (at most 4 s), plus a coda (15-40 % of the direct level) that grows over the same time and
       then decays as (T / (T + t)) exp(-pi f t / Qc(f)) with Qc(f) = Qc0 f^0.8, Qc0 in 50-200
       (Aki & Chouet 1975). Band amplitudes are set from the energy of the envelope so that the
       Fourier amplitude spectrum matches step 3 (Parseval).
    5. **Polarisation.** Random back-azimuth. The direct P moves along the ray (incidence 5-35
       degrees from vertical, random polarity): strongest on Z. The direct S moves perpendicular
       to the ray (incidence 5-30 degrees, random SV/SH mix): strongest on the horizontals. The
       coda keeps half of its phase's polarisation and spreads the other half evenly.

    Nothing is recorded before P: samples before `p_arrival_sample` are exactly zero.

    Args:
        num (`int`):
            Number of records, at least 0.
        seed (`int`, *optional*, defaults to 0):
            Seed; record `i` uses `np.random.default_rng([seed, start + i])`, so the first `k`
            records do not depend on `num`.
        sampling_rate (`float`, *optional*, defaults to 100.0):
            Sampling rate in Hz.
        num_samples (`int`, *optional*, defaults to 3000):
            Samples per record (30 s at 100 Hz); at least 8 s worth.
        start (`int`, *optional*, defaults to 0):
            Index of the first record, so `generate_local_earthquakes(n, s, start=k)` equals
            records `k:k + n` of `generate_local_earthquakes(k + n, s)`; used to build shards.
        magnitude_range (`tuple[float, float]`, *optional*, defaults to `(0.5, 4.5)`):
            Moment-magnitude range.
        distance_range_km (`tuple[float, float]`, *optional*, defaults to `(5.0, 110.0)`):
            Hypocentral-distance range in km (the upper end is capped so that S fits the window).
        magnitude, distance_km, kappa (`np.ndarray` of shape `(num,)`, *optional*):
            Fixed per-record Mw, hypocentral distance (km) and site kappa (s) instead of random
            draws (e.g. from a catalogue and station coordinates). The random draws still happen,
            so every other property of record `i` is the same as without them.

    Returns:
        `dict` with
        `waveforms` (`np.ndarray` float32 of shape `(num, 3, num_samples)`, ground velocity in
        m/s, components E, N, Z),
        `p_arrival_sample` / `s_arrival_sample` (`np.ndarray` int64 `(num,)`, sample index of the
        onset), `magnitude` (float32 `(num,)`, Mw) and `distance_km` (float32 `(num,)`,
        hypocentral distance in km).

    Example:

    ```py
    >>> from seismic_diffusers.data import generate_local_earthquakes
    >>> events = generate_local_earthquakes(2, seed=0)
    >>> events["waveforms"].shape, events["waveforms"].dtype
    ((2, 3, 3000), dtype('float32'))
    >>> bool((events["s_arrival_sample"] > events["p_arrival_sample"]).all())
    True

    ```
    """
    _check_generator_args(num, sampling_rate, num_samples, start)
    if not 0 < distance_range_km[0] <= distance_range_km[1]:
        raise ValueError(
            f"`distance_range_km` must be (min, max) with 0 < min <= max, got {distance_range_km}."
        )
    if not magnitude_range[0] <= magnitude_range[1]:
        raise ValueError(f"`magnitude_range` must be (min, max) with min <= max, got {magnitude_range}.")
    num, num_samples = int(num), int(num_samples)
    fixed = {}
    for name, values in (("magnitude", magnitude), ("distance_km", distance_km), ("kappa", kappa)):
        if values is not None:
            values = np.asarray(values, dtype=np.float64).reshape(-1)
            if values.shape != (num,) or not np.isfinite(values).all():
                raise ValueError(f"`{name}` must hold {num} finite values, got {values.shape} (or NaN).")
            fixed[name] = values
    if "distance_km" in fixed and (fixed["distance_km"] <= 0).any():
        raise ValueError("`distance_km` must be positive.")
    if "kappa" in fixed and (fixed["kappa"] < 0).any():
        raise ValueError("`kappa` must be >= 0 s.")
    waveforms = np.empty((num, 3, num_samples), dtype=np.float32)
    p_arrival = np.empty(num, dtype=np.int64)
    s_arrival = np.empty(num, dtype=np.int64)
    magnitudes = np.empty(num, dtype=np.float32)
    distance = np.empty(num, dtype=np.float32)
    for i in range(num):
        rng = np.random.default_rng([int(seed), int(start) + i])
        overrides = {name: float(values[i]) for name, values in fixed.items()}
        waveforms[i], p_arrival[i], s_arrival[i], magnitudes[i], distance[i] = _one_event(
            rng, sampling_rate, num_samples, magnitude_range, distance_range_km, **overrides
        )
    return {
        "waveforms": waveforms,
        "p_arrival_sample": p_arrival,
        "s_arrival_sample": s_arrival,
        "magnitude": magnitudes,
        "distance_km": distance,
    }


# ----------------------------------------------------------------------------------------------
# Synthetic noise between Peterson's NLNM and NHNM
# ----------------------------------------------------------------------------------------------


def peterson_velocity_psd(frequencies: np.ndarray, model: str = "low") -> np.ndarray:
    """Peterson (1993) noise model as a one-sided ground-velocity PSD in (m/s)^2/Hz.

    ObsPy's `get_nlnm` / `get_nhnm` give acceleration PSD in dB re 1 (m/s^2)^2/Hz for periods of
    0.1-100000 s. We interpolate in log-period, divide by (2 pi f)^2 to get velocity, and hold the
    acceleration level of the 0.1 s end constant above 10 Hz (Peterson's models stop there).

    Args:
        frequencies (`np.ndarray`): Frequencies in Hz (positive; zero returns 0).
        model (`str`, *optional*, defaults to `"low"`): `"low"` (NLNM) or `"high"` (NHNM).

    Returns:
        `np.ndarray` of the same shape, velocity PSD in (m/s)^2/Hz.
    """
    from obspy.signal.spectral_estimation import get_nhnm, get_nlnm

    if model not in ("low", "high"):
        raise ValueError(f"`model` must be 'low' (NLNM) or 'high' (NHNM), got {model!r}.")
    periods, acc_db = get_nlnm() if model == "low" else get_nhnm()
    order = np.argsort(periods)
    log_p, acc_db = np.log10(periods[order]), acc_db[order]
    freqs = np.asarray(frequencies, dtype=np.float64)
    out = np.zeros_like(freqs)
    positive = freqs > 0
    log_period = np.clip(-np.log10(freqs[positive]), log_p[0], log_p[-1])
    acc_psd = 10.0 ** (np.interp(log_period, log_p, acc_db) / 10.0)
    out[positive] = acc_psd / (2.0 * np.pi * freqs[positive]) ** 2
    return out


def _one_noise(
    rng: np.random.Generator,
    sampling_rate: float,
    num_samples: int,
    low_db: np.ndarray,
    high_db: np.ndarray,
    log_f: np.ndarray,
    transient_probability: float,
) -> np.ndarray:
    fs, n = float(sampling_rate), int(num_samples)
    n_fft = 2 * n  # generate twice the length and keep the first half: no circular wrap-around
    # Level between the models: a per-record fraction of the dB gap, a tilt across frequency and a
    # small per-component offset, kept inside (0.05, 0.95) of the gap.
    level = 0.05 + 0.9 * rng.beta(2.0, 2.0)
    tilt = rng.uniform(-0.1, 0.1)  # fraction of the gap per decade of frequency
    out = np.empty((3, n))
    for c in range(3):
        fraction = np.clip(level + tilt * log_f + rng.uniform(-0.05, 0.05), 0.05, 0.95)
        psd = 10.0 ** ((low_db + fraction * (high_db - low_db)) / 10.0)  # (m/s)^2/Hz
        psd[0] = 0.0
        # One-sided PSD P(f) -> rfft coefficients with E|X|^2 = P fs n_fft / 2.
        amplitude = np.sqrt(psd * fs * n_fft / 2.0) / np.sqrt(2.0)
        white = rng.standard_normal(amplitude.size) + 1j * rng.standard_normal(amplitude.size)
        out[c] = np.fft.irfft(white * amplitude, n=n_fft)[:n]
    if rng.random() < transient_probability:
        sigma = out.std(axis=1)
        if rng.random() < 0.5:
            # Glitch: a one-sample spike on one component, 10-50 times that component's RMS.
            c, k = int(rng.integers(3)), int(rng.integers(n))
            out[c, k] += rng.choice([-1.0, 1.0]) * rng.uniform(10.0, 50.0) * sigma[c]
        else:
            # Cultural burst: a Gaussian-windowed 5-20 Hz wavelet lasting 0.2-1 s on all components.
            freq = rng.uniform(5.0, min(20.0, 0.4 * fs))
            width = rng.uniform(0.2, 1.0) / 4.0  # s, Gaussian standard deviation
            centre = rng.uniform(0.0, n / fs)
            t = np.arange(n) / fs - centre
            wavelet = np.exp(-0.5 * (t / width) ** 2) * np.sin(
                2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)
            )
            out += (rng.uniform(2.0, 8.0) * sigma * rng.uniform(0.3, 1.0, 3))[:, None] * wavelet[None]
    return out.astype(np.float32)


def generate_seismic_noise(
    num: int,
    seed: int = 0,
    sampling_rate: float = 100.0,
    num_samples: int = 3000,
    start: int = 0,
    transient_probability: float = 0.1,
) -> np.ndarray:
    r"""Generate stationary three-component seismic noise between Peterson's NLNM and NHNM (m/s).

    The recipe, per record:

    1. Draw a level `l` = 0.05 + 0.9 Beta(2, 2) (in 0.05-0.95, mostly mid-range), a tilt in
       -0.1..0.1 per decade of frequency and, per component, an offset in -0.05..0.05. The
       record's PSD in dB is NLNM + l(f) (NHNM - NLNM) with l(f) clipped to 0.05-0.95, so it
       stays strictly between ObsPy's `get_nlnm()` and `get_nhnm()` at every frequency,
       microseism peak included (see [`peterson_velocity_psd`] for the conversion to velocity
       and the extension above 10 Hz).
    2. Shape complex Gaussian white noise by the square root of that PSD in the frequency domain
       (twice the record length, first half kept, so there is no wrap-around).
    3. With probability `transient_probability`, add one transient: half of the time a one-sample
       glitch (10-50 x RMS on one component), otherwise a cultural burst (a Gaussian-windowed
       5-20 Hz wavelet of 0.2-1 s, 2-8 x RMS, on all components).

    Units are ground velocity in m/s, the same as [`generate_local_earthquakes`], so the ratio
    of the two is a physical SNR. Records use the random stream
    `np.random.default_rng([seed, start + i, tag])` with a fixed noise tag, so noise is
    independent of the events generated with the same seed.

    Args:
        num (`int`): Number of records, at least 0.
        seed (`int`, *optional*, defaults to 0): Seed; the first `k` records do not depend on `num`.
        sampling_rate (`float`, *optional*, defaults to 100.0): Sampling rate in Hz.
        num_samples (`int`, *optional*, defaults to 3000): Samples per record; at least 8 s worth.
        start (`int`, *optional*, defaults to 0): Index of the first record (for shards).
        transient_probability (`float`, *optional*, defaults to 0.1):
            Probability (0-1) that a record contains one glitch or burst.

    Returns:
        `np.ndarray` float32 of shape `(num, 3, num_samples)`, ground velocity in m/s, components
        E, N, Z.

    Example:

    ```py
    >>> from seismic_diffusers.data import generate_seismic_noise
    >>> noise = generate_seismic_noise(2, seed=0)
    >>> noise.shape, noise.dtype
    ((2, 3, 3000), dtype('float32'))

    ```
    """
    _check_generator_args(num, sampling_rate, num_samples, start)
    if not 0.0 <= transient_probability <= 1.0:
        raise ValueError(f"`transient_probability` must be in [0, 1], got {transient_probability}.")
    num, num_samples = int(num), int(num_samples)
    freqs = np.fft.rfftfreq(2 * num_samples, d=1.0 / sampling_rate)
    with np.errstate(divide="ignore"):
        low_db = 10.0 * np.log10(peterson_velocity_psd(freqs, "low"))
        high_db = 10.0 * np.log10(peterson_velocity_psd(freqs, "high"))
        log_f = np.log10(np.where(freqs > 0, freqs, 1.0))
    low_db[0] = high_db[0] = 0.0  # DC is zeroed in `_one_noise`
    out = np.empty((num, 3, num_samples), dtype=np.float32)
    for i in range(num):
        rng = np.random.default_rng([int(seed), int(start) + i, _NOISE_STREAM])
        out[i] = _one_noise(rng, sampling_rate, num_samples, low_db, high_db, log_f, transient_probability)
    return out


# ----------------------------------------------------------------------------------------------
# Event + noise pairs (CDiffSD-style)
# ----------------------------------------------------------------------------------------------


def scale_noise_to_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    r"""Scale `noise` so that `clean + noise` has the given whole-record SNR.

    SNR is the power ratio over the whole record, all components together:
    `10 log10(sum(clean^2) / sum(noise^2))`, per record when the inputs are batched.

    Args:
        clean (`np.ndarray` of shape `(C, N)` or `(B, C, N)`): The signal, any units.
        noise (`np.ndarray`, same shape): The noise to scale (not modified).
        snr_db (`float`): Target SNR in dB.

    Returns:
        `np.ndarray`: the scaled noise, float64, same shape.

    Raises:
        ValueError: When the shapes differ, or the clean or noise record is all zeros.
    """
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if clean.shape != noise.shape or clean.ndim not in (2, 3):
        raise ValueError(
            f"clean and noise must both be (C, N) or (B, C, N); got {clean.shape} and {noise.shape}."
        )
    power_clean = np.sum(clean**2, axis=(-2, -1), keepdims=True)
    power_noise = np.sum(noise**2, axis=(-2, -1), keepdims=True)
    if np.any(power_clean == 0) or np.any(power_noise == 0):
        raise ValueError("A clean or noise record is all zeros: its SNR is undefined.")
    return noise * np.sqrt(power_clean / (power_noise * 10.0 ** (float(snr_db) / 10.0)))


_NORMALIZE_MODES = ("peak", "noisy_peak", "none")


def _as_records(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 3 or array.shape[0] == 0:
        raise ValueError(
            f"`{name}` must be a non-empty array of shape (num_records, channels, samples), "
            f"got shape {array.shape}."
        )
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"`{name}` must hold numbers, got dtype {array.dtype}.")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array).reshape(len(array), -1).all(axis=1))[0])
        raise ValueError(f"`{name}` record {bad} contains NaN or Inf samples; remove or repair it.")
    dead = np.flatnonzero(np.abs(array).reshape(len(array), -1).max(axis=1) == 0)
    if dead.size:
        raise ValueError(f"`{name}` records {dead[:10].tolist()} are all zeros; remove them.")
    return array


def _as_arrivals(values, num: int, name: str) -> np.ndarray:
    if values is None:
        return np.full(num, -1, dtype=np.int64)
    values = np.asarray(values)
    if values.shape != (num,):
        raise ValueError(
            f"`{name}` must have shape ({num},) (one sample index per event), got {values.shape}."
        )
    return np.where(np.isfinite(values.astype(np.float64)), values, -1).astype(np.int64)


class DenoisingPairDataset(torch.utils.data.Dataset):
    r"""Clean events paired with independent noise at a random SNR, as in CDiffSD.

    Item `i` takes event `i % num_events`, a noise record and a noise level drawn from
    `np.random.default_rng([seed, i, tag])`: the same `(seed, i)` always gives the same pair, and
    any worker of a `DataLoader` can build it. Per item:

    1. **Crop.** When records are longer than `num_samples`, the event window is placed so that P
       (when known) lies in its first half, at least a tenth of the window from its start;
       otherwise (and for noise) the window start is uniform.
    2. **Noise draw.** A noise record is drawn uniformly (with replacement), and its polarity is
       flipped with probability 0.5.
    3. **Level.** With `snr_db_range` (the default), an SNR is drawn uniformly in dB and the noise
       is scaled so that `10 log10(sum(clean^2) / sum(noise^2))` over all channels and the whole
       window equals it exactly. With `noise_scale_range` instead (CDiffSD's recipe), the clean
       event and the noise are each divided by their own three-component peak and the noise is
       multiplied by r drawn uniformly in the range (CDiffSD: r in 0.40-0.65); the SNR reported
       is then the one achieved.
    4. **Normalisation** (`normalize`), one factor for clean and noise so the SNR is unchanged:
       `"peak"` divides by the clean event's peak absolute value over all three components
       (CDiffSD's per-event peak normalisation: clean lies in [-1, 1]); `"noisy_peak"` divides by
       the peak of clean + noise (how a noisy recording is normalised at inference);
       `"none"` keeps the input units.

    Args:
        events (`np.ndarray` of shape `(num_events, channels, samples)`):
            Clean event records (any units), components E, N, Z for three channels: from
            [`read_stead`], [`read_miniseed_folder`] or [`generate_local_earthquakes`].
        noise (`np.ndarray` of shape `(num_noise, channels, noise_samples)`):
            Noise records in the same channel order, at least `num_samples` long.
        p_arrival_sample (`np.ndarray` of shape `(num_events,)`, *optional*):
            P onset sample of each event (-1 or NaN when unknown).
        s_arrival_sample (`np.ndarray` of shape `(num_events,)`, *optional*):
            S onset sample of each event (-1 or NaN when unknown).
        snr_db_range (`tuple[float, float]`, *optional*, defaults to `(-5.0, 20.0)`):
            SNR range in dB (power ratio over the whole window, all channels).
        noise_scale_range (`tuple[float, float]`, *optional*):
            Peak-relative noise scale range (CDiffSD); use instead of `snr_db_range`, which must
            then be `None`.
        seed (`int`, *optional*, defaults to 0): Pairing seed.
        normalize (`str`, *optional*, defaults to `"peak"`): `"peak"`, `"noisy_peak"` or `"none"`.
        num_samples (`int`, *optional*): Window length in samples; defaults to the events' length.
        augment (`callable`, *optional*): `augment(clean, noise, rng, draw_event) -> (clean, noise)` on
            the cropped `(channels, num_samples)` float64 windows, after the noise draw and before the
            level is set (e.g. [`~data.realism.RealisticRecording`]); `draw_event()` returns another
            random event window. It must draw only from `rng`, so items stay reproducible.
        length (`int`, *optional*): Number of items; defaults to `num_events`. Larger values
            revisit events with fresh noise.

    Items are dicts: `clean`, `noise`, `noisy` (float32 tensors `(channels, num_samples)`, with
    `noisy = clean + noise`), `p_arrival_sample`, `s_arrival_sample` (int, -1 when unknown or
    cropped out), `snr_db` (float, the achieved SNR), `scale` (float, the factor the pair was
    divided by: input units = returned value x scale), `event_index` and `noise_index` (int).

    Example:

    ```py
    >>> from seismic_diffusers.data import synthetic_denoising_dataset
    >>> dataset = synthetic_denoising_dataset(num_events=4, num_noise=4, seed=0)
    >>> item = dataset[0]
    >>> item["noisy"].shape, float(item["clean"].abs().max())
    (torch.Size([3, 3000]), 1.0)

    ```
    """

    def __init__(
        self,
        events: np.ndarray,
        noise: np.ndarray,
        p_arrival_sample: np.ndarray | None = None,
        s_arrival_sample: np.ndarray | None = None,
        snr_db_range: tuple[float, float] | None = (-5.0, 20.0),
        noise_scale_range: tuple[float, float] | None = None,
        seed: int = 0,
        normalize: str = "peak",
        num_samples: int | None = None,
        length: int | None = None,
        augment=None,
    ):
        self.augment = augment
        self.events = _as_records(events, "events")
        self.noise = _as_records(noise, "noise")
        if self.events.shape[1] != self.noise.shape[1]:
            raise ValueError(
                f"`events` have {self.events.shape[1]} channels but `noise` has {self.noise.shape[1]}; "
                "both must be in the same channel order (E, N, Z)."
            )
        self.num_samples = int(num_samples) if num_samples is not None else self.events.shape[2]
        if self.num_samples < 1 or self.num_samples > self.events.shape[2]:
            raise ValueError(
                f"`num_samples` must be between 1 and the events' length {self.events.shape[2]}, got {num_samples}."
            )
        if self.noise.shape[2] < self.num_samples:
            raise ValueError(
                f"Noise records have {self.noise.shape[2]} samples, fewer than the {self.num_samples} "
                "samples of a window; supply longer noise or a smaller `num_samples`."
            )
        if (snr_db_range is None) == (noise_scale_range is None):
            raise ValueError(
                "Give exactly one of `snr_db_range` (dB) and `noise_scale_range` (peak-relative scale, "
                f"CDiffSD); got snr_db_range={snr_db_range}, noise_scale_range={noise_scale_range}."
            )
        if snr_db_range is not None and not snr_db_range[0] <= snr_db_range[1]:
            raise ValueError(f"`snr_db_range` must be (low, high) with low <= high, got {snr_db_range}.")
        if noise_scale_range is not None and not 0 <= noise_scale_range[0] <= noise_scale_range[1]:
            raise ValueError(
                f"`noise_scale_range` must be (low, high) with 0 <= low <= high, got {noise_scale_range}."
            )
        normalize = "none" if normalize is None else str(normalize)
        if normalize not in _NORMALIZE_MODES:
            raise ValueError(f"`normalize` must be one of {_NORMALIZE_MODES}, got {normalize!r}.")
        self.p_arrival_sample = _as_arrivals(p_arrival_sample, len(self.events), "p_arrival_sample")
        self.s_arrival_sample = _as_arrivals(s_arrival_sample, len(self.events), "s_arrival_sample")
        self.snr_db_range = None if snr_db_range is None else (float(snr_db_range[0]), float(snr_db_range[1]))
        self.noise_scale_range = (
            None if noise_scale_range is None else (float(noise_scale_range[0]), float(noise_scale_range[1]))
        )
        self.seed = int(seed)
        self.normalize = normalize
        self.length = len(self.events) if length is None else int(length)
        if self.length < 0:
            raise ValueError(f"`length` must be >= 0, got {length}.")

    @classmethod
    def from_synthetic(
        cls,
        num_events: int,
        num_noise: int,
        seed: int = 0,
        sampling_rate: float = 100.0,
        num_samples: int = 3000,
        transient_probability: float = 0.1,
        **kwargs,
    ) -> DenoisingPairDataset:
        """Pairs built from [`generate_local_earthquakes`] and [`generate_seismic_noise`] with `seed`.

        Events use records `0..num_events - 1` of the event stream and noise records
        `0..num_noise - 1` of the (independent) noise stream; `kwargs` go to the constructor
        (its `seed` is the same `seed`). Use different seeds for training and held-out sets.
        """
        events = generate_local_earthquakes(num_events, seed, sampling_rate, num_samples)
        noise = generate_seismic_noise(
            num_noise, seed, sampling_rate, num_samples, transient_probability=transient_probability
        )
        return cls(
            events["waveforms"],
            noise,
            p_arrival_sample=events["p_arrival_sample"],
            s_arrival_sample=events["s_arrival_sample"],
            seed=seed,
            **kwargs,
        )

    @classmethod
    def from_stead(
        cls,
        hdf5_path: PathLike,
        csv_path: PathLike,
        num_events: int | None = None,
        num_noise: int | None = None,
        **kwargs,
    ) -> DenoisingPairDataset:
        """Pairs from one STEAD (or SeisBench-format STEAD) file pair: `earthquake_local` traces as
        events, `noise` traces as noise, each limited to the first `num_events` / `num_noise`
        rows of the CSV; `kwargs` go to the constructor (e.g. `num_samples=3000`)."""
        events, event_meta = read_stead(hdf5_path, csv_path, category="earthquake_local", limit=num_events)
        noise, _ = read_stead(hdf5_path, csv_path, category="noise", limit=num_noise)
        return cls(
            events,
            noise,
            p_arrival_sample=np.array([m["p_arrival_sample"] for m in event_meta]),
            s_arrival_sample=np.array([m["s_arrival_sample"] for m in event_meta]),
            **kwargs,
        )

    @classmethod
    def from_miniseed_folders(
        cls,
        event_folder: PathLike,
        noise_folder: PathLike,
        num_samples: int = 3000,
        sampling_rate: float = 100.0,
        **kwargs,
    ) -> DenoisingPairDataset:
        """Pairs from two folders of miniSEED files read with [`read_miniseed_folder`] (one window
        per station and file; arrivals unknown); `kwargs` go to the constructor."""
        events = read_miniseed_folder(event_folder, num_samples=num_samples, sampling_rate=sampling_rate)
        noise = read_miniseed_folder(noise_folder, num_samples=num_samples, sampling_rate=sampling_rate)
        return cls(events, noise, **kwargs)

    def __len__(self) -> int:
        return self.length

    def _window_start(self, rng: np.random.Generator, total: int, p_sample: int) -> int:
        n = self.num_samples
        if total == n:
            return 0
        if p_sample >= 0:
            low, high = max(0, p_sample - n // 2), min(total - n, p_sample - n // 10)
            if low <= high:
                return int(rng.integers(low, high + 1))
        return int(rng.integers(0, total - n + 1))

    def __getitem__(self, index: int) -> dict:
        if not -self.length <= index < self.length:
            raise IndexError(f"Index {index} out of range for a dataset of {self.length} items.")
        index = int(index) % self.length
        rng = np.random.default_rng([self.seed, index, _PAIR_STREAM])
        n = self.num_samples
        event_index = index % len(self.events)
        p_sample = int(self.p_arrival_sample[event_index])
        s_sample = int(self.s_arrival_sample[event_index])
        # 1. crop
        offset = self._window_start(rng, self.events.shape[2], p_sample)
        clean = self.events[event_index, :, offset : offset + n].astype(np.float64)
        p_sample = p_sample - offset if 0 <= p_sample - offset < n and p_sample >= 0 else -1
        s_sample = s_sample - offset if 0 <= s_sample - offset < n and s_sample >= 0 else -1
        # 2. noise draw
        noise_index = int(rng.integers(len(self.noise)))
        noise_offset = int(rng.integers(0, self.noise.shape[2] - n + 1))
        noise = self.noise[noise_index, :, noise_offset : noise_offset + n].astype(np.float64)
        noise = noise * rng.choice([-1.0, 1.0])
        if self.augment is not None:  # e.g. RealisticRecording: before the level, so the SNR holds

            def draw_event() -> np.ndarray:
                other = int(rng.integers(len(self.events)))
                start = int(rng.integers(0, self.events.shape[2] - n + 1))
                return self.events[other, :, start : start + n].astype(np.float64)

            clean, noise = self.augment(clean, noise, rng, draw_event)
        clean_peak = np.abs(clean).max()
        if clean_peak == 0 or not np.any(noise):
            raise ValueError(
                f"Item {index}: the cropped event {event_index} or noise {noise_index} window is all zeros."
            )
        # 3. level
        if self.snr_db_range is not None:
            snr = float(rng.uniform(*self.snr_db_range))
            noise = scale_noise_to_snr(clean, noise, snr)
        else:
            ratio = float(rng.uniform(*self.noise_scale_range))
            noise = noise * (ratio * clean_peak / np.abs(noise).max())
        snr = 10.0 * np.log10(np.sum(clean**2) / max(np.sum(noise**2), np.finfo(np.float64).tiny))
        # 4. normalisation
        if self.normalize == "peak":
            scale = clean_peak
        elif self.normalize == "noisy_peak":
            scale = np.abs(clean + noise).max()
        else:
            scale = 1.0
        clean, noise = clean / scale, noise / scale
        clean32, noise32 = clean.astype(np.float32), noise.astype(np.float32)
        return {
            "clean": torch.from_numpy(clean32),
            "noise": torch.from_numpy(noise32),
            "noisy": torch.from_numpy(clean32 + noise32),
            "p_arrival_sample": p_sample,
            "s_arrival_sample": s_sample,
            "snr_db": float(snr),
            "scale": float(scale),
            "event_index": event_index,
            "noise_index": noise_index,
        }


def synthetic_denoising_dataset(
    num_events: int,
    num_noise: int,
    seed: int = 0,
    sampling_rate: float = 100.0,
    num_samples: int = 3000,
    **kwargs,
) -> DenoisingPairDataset:
    """A [`DenoisingPairDataset`] of synthetic events and noise; see
    [`DenoisingPairDataset.from_synthetic`] (`kwargs` go there, e.g. `snr_db_range`)."""
    return DenoisingPairDataset.from_synthetic(
        num_events, num_noise, seed=seed, sampling_rate=sampling_rate, num_samples=num_samples, **kwargs
    )


# ----------------------------------------------------------------------------------------------
# Readers: STEAD (original and SeisBench layouts) and miniSEED folders
# ----------------------------------------------------------------------------------------------

_STEAD_COLUMNS = ("trace_name", "trace_category", "p_arrival_sample", "s_arrival_sample", "snr_db")
_SEISBENCH_SIGNATURE = ("trace_p_arrival_sample", "trace_s_arrival_sample", "trace_snr_db")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf", re.IGNORECASE)


def _parse_sample(value) -> int:
    """A CSV arrival cell (`"900.0"`, `""`, `"nan"`, `"[[2896.]]"`) -> int sample, or -1."""
    if value is None:
        return -1
    numbers = _NUMBER.findall(str(value))
    if not numbers:
        return -1
    number = float(numbers[0])
    return int(round(number)) if math.isfinite(number) and number >= 0 else -1


def _parse_floats(value) -> list[float]:
    """A CSV SNR cell (`"[56.8 55.4 47.4]"`, `"12.5"`, `""`) -> list of floats."""
    if value is None:
        return []
    return [float(x) for x in _NUMBER.findall(str(value))]


def _parse_slices(location: str, trace_name: str) -> tuple:
    """SeisBench's block location (`"5,:3,:6000"`) -> tuple of ints and slices."""
    out = []
    for part in location.replace(" ", "").split(","):
        pieces = part.split(":")
        try:
            values = [int(p) if p else None for p in pieces]
        except ValueError as err:
            raise ValueError(
                f"Cannot parse the location {location!r} of SeisBench trace {trace_name!r}."
            ) from err
        if len(values) == 1:
            if values[0] is None:
                raise ValueError(f"Cannot parse the location {location!r} of SeisBench trace {trace_name!r}.")
            out.append(values[0])
        elif len(values) <= 3:
            out.append(slice(*values))
        else:
            raise ValueError(f"Cannot parse the location {location!r} of SeisBench trace {trace_name!r}.")
    return tuple(out)


def _component_indices(order: str, where: str) -> list[int]:
    """Indices that reorder `order` (e.g. "ZNE") to E, N, Z."""
    order = str(order).strip().upper()
    missing = [c for c in COMPONENTS if c not in order]
    if missing or len(order) != 3:
        raise ValueError(
            f"{where}: component order {order!r} must contain exactly E, N and Z; "
            "rotate 1/2 (or other) components to ZNE before reading."
        )
    return [order.index(c) for c in COMPONENTS]


def _decode(value) -> str:
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else value.tolist()
    return value.decode() if isinstance(value, bytes) else str(value)


def read_stead(
    hdf5_path: PathLike,
    csv_path: PathLike,
    category: str | None = None,
    limit: int | None = None,
    layout: str = "auto",
) -> tuple[np.ndarray, list[dict]]:
    r"""Read traces from STEAD, in its original layout or in SeisBench's.

    Supported layouts:

    - **STEAD** (`merge.hdf5` + `merge.csv`, Mousavi et al. 2019): the CSV has `trace_name`,
      `trace_category` (`earthquake_local` or `noise`), `p_arrival_sample`, `s_arrival_sample`
      and `snr_db`; the HDF5 file holds `data/<trace_name>` arrays of shape `(samples, 3)`,
      components E, N, Z, at 100 Hz.
    - **SeisBench** (`waveforms.hdf5` + `metadata.csv`, or one chunk's
      `waveforms<chunk>.hdf5` + `metadata<chunk>.csv`): the CSV has `trace_name` and optionally
      `trace_category`, `trace_p_arrival_sample`, `trace_s_arrival_sample`, `trace_snr_db`,
      `trace_component_order` and `trace_sampling_rate_hz`. A `trace_name` is either the name of
      a dataset under `data/`, or `"<block>$<location>"`, a numpy index into the block array
      `data/<block>` (e.g. `"bucket3$12,:3,:6000"`). The group `data_format` gives
      `component_order` (e.g. `"ZNE"`, required unless the CSV has `trace_component_order`),
      `dimension_order` (`"CW"`, the default, or `"WC"`) and optionally `sampling_rate`.

    `layout="auto"` picks SeisBench when the CSV has any of `trace_p_arrival_sample`,
    `trace_s_arrival_sample`, `trace_snr_db`, or when the HDF5 file has a `data_format` group,
    and STEAD otherwise.

    Args:
        hdf5_path (`str` or `os.PathLike`): The waveform file.
        csv_path (`str` or `os.PathLike`): The metadata file.
        category (`str`, *optional*): Keep only rows whose `trace_category` equals this
            (`"earthquake_local"` or `"noise"`); `None` keeps all rows.
        limit (`int`, *optional*): Read at most this many rows (after the category filter), in
            CSV order; `None` reads all. STEAD is large (1.2 M traces, about 86 GB as float32), so
            set it unless you have the memory.
        layout (`str`, *optional*, defaults to `"auto"`): `"auto"`, `"stead"` or `"seisbench"`.

    Returns:
        `(waveforms, metadata)`: `waveforms` is `np.ndarray` float32 of shape
        `(num_traces, 3, samples)`, components E, N, Z, in the file's units (STEAD: raw counts);
        `metadata` is a list of dicts, one per trace, holding the CSV row (strings) plus parsed
        keys that override same-named columns: `trace_name`, `trace_category` (`str` or `None`),
        `p_arrival_sample` and `s_arrival_sample` (`int`, -1 when absent), `snr_db`
        (`list[float]`, one per component as stored, empty when absent), `sampling_rate`
        (`float`, Hz, NaN when unknown) and `layout` (`"stead"` or `"seisbench"`).

    Raises:
        `ValueError`: a required column, HDF5 group or trace is missing (the message names it),
        a component order is not E/N/Z, or traces differ in length.
    """
    import h5py

    hdf5_path, csv_path = Path(hdf5_path), Path(csv_path)
    if layout not in ("auto", "stead", "seisbench"):
        raise ValueError(f"`layout` must be 'auto', 'stead' or 'seisbench', got {layout!r}.")
    if limit is not None and int(limit) < 0:
        raise ValueError(f"`limit` must be >= 0 or None, got {limit}.")
    for path in (hdf5_path, csv_path):
        if not path.is_file():
            raise ValueError(f"File not found: {path}.")

    with open(csv_path, newline="") as handle, h5py.File(hdf5_path, "r") as h5:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        if layout == "auto":
            seisbench = any(c in columns for c in _SEISBENCH_SIGNATURE) or "data_format" in h5
            layout = "seisbench" if seisbench else "stead"
        if layout == "stead":
            required = list(_STEAD_COLUMNS)
        else:
            required = ["trace_name"] + (["trace_category"] if category is not None else [])
        missing = [c for c in required if c not in columns]
        if missing:
            raise ValueError(
                f"{csv_path.name} is missing column(s) {missing} required for the {layout.upper()} layout "
                f"(found: {columns})."
            )
        if category is not None and "trace_category" not in columns:
            raise ValueError(f"{csv_path.name} has no `trace_category` column to filter on {category!r}.")
        if "data" not in h5:
            raise ValueError(f"{hdf5_path.name} has no `data` group; expected `data/<trace_name>` datasets.")
        data = h5["data"]

        if layout == "seisbench":
            data_format = {}
            if "data_format" in h5:
                data_format = {key: _decode(h5["data_format"][key][()]) for key in h5["data_format"].keys()}
            dimension_order = data_format.get("dimension_order", "CW").strip().upper()
            if dimension_order not in ("CW", "WC"):
                raise ValueError(
                    f"{hdf5_path.name}: data_format/dimension_order {dimension_order!r} is not supported "
                    "(only 'CW' and 'WC')."
                )
            default_order = data_format.get("component_order")
            default_rate = float(data_format.get("sampling_rate", "nan"))
            p_col, s_col, snr_col = "trace_p_arrival_sample", "trace_s_arrival_sample", "trace_snr_db"
        else:
            p_col, s_col, snr_col = "p_arrival_sample", "s_arrival_sample", "snr_db"

        waveforms, metadata = [], []
        for row in reader:
            if limit is not None and len(waveforms) >= int(limit):
                break
            if category is not None and row.get("trace_category") != category:
                continue
            name = row["trace_name"]
            if layout == "stead":
                if name not in data:
                    raise ValueError(f"{hdf5_path.name} has no dataset `data/{name}` for CSV trace {name!r}.")
                trace = np.asarray(data[name][()])
                if trace.ndim != 2 or trace.shape[1] != 3:
                    raise ValueError(
                        f"`data/{name}` has shape {trace.shape}; STEAD traces are (samples, 3) with E, N, Z."
                    )
                trace = trace.T
                rate = 100.0
            else:
                block, _, location = name.partition("$")
                if block not in data:
                    raise ValueError(
                        f"{hdf5_path.name} has no dataset `data/{block}` for CSV trace {name!r}."
                    )
                trace = np.asarray(
                    data[block][_parse_slices(location, name)] if location else data[block][()]
                )
                if trace.ndim != 2:
                    raise ValueError(
                        f"SeisBench trace {name!r} has shape {trace.shape}; expected 2-D (C, W)."
                    )
                if dimension_order == "WC":
                    trace = trace.T
                order = row.get("trace_component_order") or default_order
                if not order:
                    raise ValueError(
                        f"Cannot tell the component order of {name!r}: {hdf5_path.name} has no "
                        "`data_format/component_order` and the CSV no `trace_component_order`."
                    )
                trace = trace[_component_indices(order, f"SeisBench trace {name!r}")]
                rate_cell = _parse_floats(row.get("trace_sampling_rate_hz"))
                rate = rate_cell[0] if rate_cell else default_rate
            waveforms.append(np.asarray(trace, dtype=np.float32))
            entry = dict(row)
            entry.update(
                trace_name=name,
                trace_category=row.get("trace_category") or None,
                p_arrival_sample=_parse_sample(row.get(p_col)),
                s_arrival_sample=_parse_sample(row.get(s_col)),
                snr_db=_parse_floats(row.get(snr_col)),
                sampling_rate=float(rate),
                layout=layout,
            )
            metadata.append(entry)

    if not waveforms:
        return np.zeros((0, 3, 0), dtype=np.float32), []
    lengths = sorted({w.shape[1] for w in waveforms})
    if len(lengths) > 1:
        raise ValueError(
            f"Traces have different lengths {lengths[:5]}; only fixed-length traces (like STEAD's 6000 "
            "samples) can be stacked. Filter the CSV to one length first."
        )
    return np.stack(waveforms), metadata


def read_miniseed_folder(
    folder: PathLike,
    num_samples: int = 3000,
    sampling_rate: float = 100.0,
    stride: int | None = None,
    pattern: str = "*",
    return_metadata: bool = False,
) -> np.ndarray | tuple[np.ndarray, list[dict]]:
    r"""Cut three-component windows out of a folder of miniSEED files.

    Each file is one recording (an event or a stretch of noise). Inside a file, traces are grouped
    by network, station, location and the channel code without its component (band and
    instrument); a group needs exactly one channel for each of E, N and Z, by the pipeline's own
    channel map (`utils.streams.component_of`: 1 is N, 2 is E, 3 is Z, K-NET's EW/NS/UD). The three traces
    are trimmed to their common time span, resampled to `sampling_rate` if needed (ObsPy's
    Fourier `Trace.resample` on a copy, with a logged warning) and cut into windows: the first
    `num_samples` samples, or every `stride` samples when `stride` is given. Groups shorter than a
    window are skipped with a warning.

    Files are read in sorted order, hidden files are ignored, and every other file matching
    `pattern` must be miniSEED.

    Args:
        folder (`str` or `os.PathLike`): Folder of miniSEED files (not searched recursively).
        num_samples (`int`, *optional*, defaults to 3000): Window length in samples.
        sampling_rate (`float`, *optional*, defaults to 100.0): Output sampling rate in Hz.
        stride (`int`, *optional*): Step between windows in samples; `None` keeps one window per
            group.
        pattern (`str`, *optional*, defaults to `"*"`): Glob pattern of the files to read.
        return_metadata (`bool`, *optional*, defaults to `False`): Also return one dict per window
            (`file`, `network`, `station`, `location`, `channels`, `starttime` (ISO string of the
            first sample), `sampling_rate`).

    Returns:
        `np.ndarray` float32 of shape `(num_windows, 3, num_samples)`, components E, N, Z, in the
        files' units (usually counts); with `return_metadata`, a tuple `(windows, metadata)`.

    Raises:
        `ValueError`: the folder has no files or no complete window, a file is not miniSEED, a
        trace has gaps, overlaps or masked samples, a channel code has no component, a group lacks
        an E, N or Z channel or mixes sampling rates.
    """
    import obspy

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"Not a folder: {folder}.")
    if int(num_samples) < 1:
        raise ValueError(f"`num_samples` must be >= 1, got {num_samples}.")
    if not sampling_rate > 0:
        raise ValueError(f"`sampling_rate` must be positive (Hz), got {sampling_rate}.")
    if stride is not None and int(stride) < 1:
        raise ValueError(f"`stride` must be >= 1 or None, got {stride}.")
    num_samples = int(num_samples)
    files = sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ValueError(f"No files matching {pattern!r} in {folder}.")

    windows, metadata = [], []
    for path in files:
        try:
            stream = obspy.read(str(path), format="MSEED")
        except Exception as err:  # ObsPy raises several types for non-miniSEED input
            raise ValueError(
                f"{path} is not a readable miniSEED file ({type(err).__name__}: {err}); "
                f"move it out of the folder or narrow `pattern` (e.g. '*.mseed')."
            ) from err
        for trace in stream:
            if np.ma.isMaskedArray(trace.data) and np.ma.is_masked(trace.data):
                raise ValueError(
                    f"{path}: trace {trace.id} has masked (missing) samples; nothing is zero-filled."
                )
        gaps = stream.get_gaps()
        if gaps:
            details = "; ".join(f"{'.'.join(g[:4])} {g[4]} -> {g[5]} ({g[6]:.3f} s)" for g in gaps[:5])
            raise ValueError(
                f"{path} has {len(gaps)} gap(s)/overlap(s): {details}. Nothing is zero-filled: either fill "
                "them yourself (Stream.merge(fill_value=...)) and save, or split the file into gap-free "
                "pieces (Stream.split()) and keep the ones you want."
            )
        stream.merge(method=1)
        groups: dict[tuple, dict] = {}
        for trace in stream:
            code = trace.stats.channel
            try:
                component = component_of(code)  # the one channel map: 1/2/3 and UD/NS/EW too
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from None
            band = code[:-2] if code.upper()[-2:] in ("UD", "NS", "EW") else code[:-1]
            key = (trace.stats.network, trace.stats.station, trace.stats.location, band)
            groups.setdefault(key, {})
            if component in groups[key]:
                raise ValueError(f"{path}: two traces for channel {trace.id}; keep one of them.")
            groups[key][component] = trace
        for key, traces in groups.items():
            label = ".".join(key) + "?"
            if sorted(traces) != sorted(COMPONENTS):
                raise ValueError(
                    f"{path}: group {label} has components {sorted(traces)}; one each of E, N and Z is required "
                    "(channel codes ending in Z/N/E, 1/2/3 or K-NET's UD/NS/EW)."
                )
            rates = {float(tr.stats.sampling_rate) for tr in traces.values()}
            if len(rates) > 1:
                raise ValueError(f"{path}: group {label} mixes sampling rates {sorted(rates)} Hz.")
            ordered = [traces[c].copy() for c in COMPONENTS]
            if not math.isclose(rates.pop(), sampling_rate, rel_tol=1e-6):
                logger.warning(
                    "%s: resampling %s from %s Hz to %s Hz.",
                    path,
                    label,
                    ordered[0].stats.sampling_rate,
                    sampling_rate,
                )
                for trace in ordered:  # the pipeline's own resampler, so training sees what inference sees
                    rate_in = float(trace.stats.sampling_rate)
                    trace.data = resample(trace.data.astype(np.float64), rate_in, sampling_rate)
                    trace.stats.sampling_rate = sampling_rate
                    trace.stats.processing = list(getattr(trace.stats, "processing", [])) + [
                        f"seismic_diffusers: resample(rate_in={rate_in:g}::rate_out={sampling_rate:g}::method='resample_poly')"
                    ]
            start = max(tr.stats.starttime for tr in ordered)
            end = min(tr.stats.endtime for tr in ordered)
            if end <= start:
                logger.warning(
                    "%s: the E, N and Z traces of %s do not overlap in time; skipped.", path, label
                )
                continue
            for trace in ordered:
                trace.trim(start, end, nearest_sample=True)
            length = min(len(tr.data) for tr in ordered)
            data = np.stack([np.asarray(tr.data[:length], dtype=np.float64) for tr in ordered])
            if length < num_samples:
                logger.warning(
                    "%s: %s has %d samples, fewer than one window of %d; skipped.",
                    path,
                    label,
                    length,
                    num_samples,
                )
                continue
            starts = [0] if stride is None else range(0, length - num_samples + 1, int(stride))
            for offset in starts:
                windows.append(data[:, offset : offset + num_samples].astype(np.float32))
                metadata.append(
                    {
                        "file": str(path),
                        "network": key[0],
                        "station": key[1],
                        "location": key[2],
                        "channels": [tr.stats.channel for tr in ordered],
                        "starttime": str(ordered[0].stats.starttime + offset / sampling_rate),
                        "sampling_rate": float(sampling_rate),
                    }
                )
    if not windows:
        raise ValueError(f"No complete {num_samples}-sample three-component window found in {folder}.")
    out = np.stack(windows)
    return (out, metadata) if return_metadata else out


def write_miniseed_folder(
    folder: PathLike,
    waveforms: np.ndarray,
    sampling_rate: float = 100.0,
    network: str = "XX",
    station_prefix: str = "S",
    band_code: str = "HH",
    starttime: str = "2024-01-01T00:00:00",
    peak_counts: float | None = 1e5,
) -> list[Path]:
    r"""Write three-component records as one miniSEED file per record (the inverse of
    [`read_miniseed_folder`], e.g. to turn synthetic events into an archive-shaped test folder).

    Args:
        folder (`str` or `os.PathLike`): Created if missing.
        waveforms (`np.ndarray` of shape `(num_records, 3, num_samples)`): Components E, N, Z.
        sampling_rate (`float`, *optional*, defaults to 100.0): Hz.
        network, station_prefix, band_code (`str`): Codes; record `i` is station
            `f"{station_prefix}{i:03d}"`, channels `band_code + "E"`, `"N"`, `"Z"`.
        starttime (`str`, *optional*): ISO time of every record's first sample.
        peak_counts (`float`, *optional*, defaults to 1e5): Scale each record to this peak and
            store int32 counts (as digitisers do); `None` stores float32 samples unscaled.

    Returns:
        `list[Path]`: the files written, `000.mseed`, `001.mseed`, ...

    Raises:
        `ValueError`: wrong shape, non-finite samples, or an all-zero record with `peak_counts`.
    """
    from obspy import Stream, Trace, UTCDateTime

    waveforms = np.asarray(waveforms)
    if waveforms.ndim != 3 or waveforms.shape[1] != 3 or waveforms.shape[2] < 1:
        raise ValueError(f"waveforms must be (num_records, 3, num_samples); got {waveforms.shape}.")
    if not np.isfinite(waveforms).all():
        raise ValueError("waveforms contain NaN or inf.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, record in enumerate(waveforms):
        if peak_counts is not None:
            peak = np.abs(record).max()
            if peak == 0:
                raise ValueError(
                    f"Record {index} is all zeros; it cannot be scaled to {peak_counts:g} counts."
                )
            record = np.round(peak_counts * record / peak).astype(np.int32)
        else:
            record = record.astype(np.float32)
        header = {"network": network, "station": f"{station_prefix}{index:03d}", "sampling_rate": sampling_rate,
                  "starttime": UTCDateTime(starttime)}  # fmt: skip
        stream = Stream(
            [
                Trace(data=data, header={**header, "channel": band_code + c})
                for data, c in zip(record, COMPONENTS, strict=True)
            ]
        )
        path = folder / f"{index:03d}.mseed"
        stream.write(str(path), format="MSEED")
        paths.append(path)
    return paths


__all__ = [
    "write_miniseed_folder",
    "scale_noise_to_snr",
    "COMPONENTS",
    "DenoisingPairDataset",
    "generate_local_earthquakes",
    "generate_seismic_noise",
    "peterson_velocity_psd",
    "read_miniseed_folder",
    "read_stead",
    "synthetic_denoising_dataset",
]

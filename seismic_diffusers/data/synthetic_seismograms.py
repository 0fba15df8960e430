"""Synthetic three-component seismograms: Brune-source local earthquakes and Peterson-model noise.

Both generators return arrays of shape `(num_records, 3, num_samples)` with the components in
STEAD's order E, N, Z ([`~data.stead.COMPONENTS`]).

Units. They return **ground velocity in m/s** (SI): earthquakes through a Brune source with
physical constants, noise from ObsPy's Peterson models (acceleration PSD in dB re 1 (m/s^2)^2/Hz)
converted to velocity. Both are therefore on the same scale and their ratio is a meaningful SNR.

ObsPy's bundled real recordings (`obspy.read()`'s example and ObsPy's test data) are never used
here (only its Peterson noise models are): they are the project's untouched evaluation set.
"""

from __future__ import annotations

import math

import numpy as np

# Crustal constants of the synthetic generator (SI unless the name says otherwise).
VP_KM_S = 6.0  # P-wave speed, km/s
VS_KM_S = 3.5  # S-wave speed, km/s
DENSITY = 2700.0  # kg/m^3
FREE_SURFACE = 2.0  # free-surface amplification

# Stream tag mixed into the noise seeds, so events and noise use independent random streams (the
# pairing dataset has its own tag, `denoising_pairs._PAIR_STREAM`).
_NOISE_STREAM = 0x6E6F6973  # "nois"


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


__all__ = [
    "DENSITY",
    "FREE_SURFACE",
    "VP_KM_S",
    "VS_KM_S",
    "generate_local_earthquakes",
    "generate_seismic_noise",
    "peterson_velocity_psd",
]

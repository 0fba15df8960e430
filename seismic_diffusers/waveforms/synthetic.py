"""Synthetic Marmara-like catalogues: events, stations and their three-component records.

There is no Kandilli data here, so the bundled conditional generator trains on records from the
package's local-earthquake simulator (`data.generate_local_earthquakes`, a Brune-source,
Q-attenuated stochastic method) placed in a Marmara-like geometry: amplitude and frequency
content follow magnitude and hypocentral distance as real records do, and every station has its
own site response, so a station embedding has something to learn.
"""

from __future__ import annotations

import numpy as np

from ..data.synthetic_seismograms import generate_local_earthquakes, generate_seismic_noise

# Invented stations ringing the Sea of Marmara (code: latitude, longitude, site kappa (s), site
# amplification). The codes are not real network stations; the geometry is only Marmara-like.
SYNTHETIC_STATIONS: dict[str, tuple[float, float, float, float]] = {
    "MR01": (41.08, 29.05, 0.020, 1.0),
    "MR02": (41.15, 28.25, 0.035, 1.6),
    "MR03": (40.98, 27.50, 0.028, 1.3),
    "MR04": (40.45, 26.90, 0.040, 0.8),
    "MR05": (40.35, 27.80, 0.015, 0.7),
    "MR06": (40.42, 29.15, 0.030, 1.4),
    "MR07": (40.65, 29.95, 0.022, 1.1),
    "MR08": (40.60, 28.40, 0.045, 1.9),
}
EVENT_BOX = {"latitude": (40.5, 41.0), "longitude": (27.2, 29.6), "depth_km": (4.0, 20.0)}
MAGNITUDE_RANGE = (0.8, 4.9)  # ML 0.8 to 4.9, as in the Kandilli catalogue of the Marmara Sea region
B_VALUE = 0.35  # far flatter than nature's ~1, so magnitude 4+ is 4 % of records, not 0.1 %
NOISE_VELOCITY_M_S = 2e-8  # RMS of the background noise (ground velocity), a quiet station
EARTH_RADIUS_KM = 6371.0


def hypocentral_distance_km(latitude, longitude, depth_km, station_latitude, station_longitude):
    """Great-circle epicentral distance (haversine) combined with depth, km."""
    lat1, lon1, lat2, lon2 = map(np.radians, (latitude, longitude, station_latitude, station_longitude))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    epicentral = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))
    return np.sqrt(epicentral**2 + np.asarray(depth_km) ** 2)


def gutenberg_richter(
    rng: np.random.Generator, num: int, low: float, high: float, b_value: float
) -> np.ndarray:
    """Magnitudes from a truncated Gutenberg-Richter law, by inverse transform sampling."""
    beta = b_value * np.log(10.0)
    u = rng.uniform(size=num)
    return low - np.log(1.0 - u * (1.0 - np.exp(-beta * (high - low)))) / beta


def generate_marmara_records(
    num: int,
    seed: int = 0,
    sampling_rate: float = 100.0,
    num_samples: int = 7000,
    stations: dict[str, tuple[float, float, float, float]] | None = None,
    magnitude_range: tuple[float, float] = MAGNITUDE_RANGE,
    b_value: float = B_VALUE,
    noise_velocity_m_s: float = NOISE_VELOCITY_M_S,
    fixed: dict | None = None,
) -> dict:
    r"""
    Synthetic three-component records of a Marmara-like catalogue.

    Per record: an epicentre uniform in `EVENT_BOX` (40.5-41.0 N, 27.2-29.6 E), depth uniform in
    4-20 km, magnitude from a truncated Gutenberg-Richter law on `magnitude_range` with
    `b_value`, and a station drawn uniformly from `stations`. The hypocentral distance follows
    from the geometry; the waveform is `generate_local_earthquakes` with that magnitude, distance
    and the station's kappa, times the station's site amplification, plus Peterson-band noise
    (`generate_seismic_noise`) scaled to `noise_velocity_m_s` RMS, so the SNR falls with
    distance and rises with magnitude as in real data.

    `fixed` overrides the catalogue draws with per-record arrays, any of `magnitude`,
    `latitude`, `longitude`, `depth_km` (length `num`) and `station` (codes): e.g. a magnitude
    sweep at one hypocentre and station.

    Returns:
        `dict` with `waveforms` float32 `(num, 3, num_samples)` (E, N, Z ground velocity, m/s),
        `magnitude`, `latitude`, `longitude`, `depth_km`, `distance_km` (float32 `(num,)`),
        `station` (list of codes), `p_arrival_sample` (int64 `(num,)`), and `stations` (the
        station table used).
    """
    stations = dict(SYNTHETIC_STATIONS if stations is None else stations)
    if not stations:
        raise ValueError("Give at least one station.")
    if int(num) < 1:
        raise ValueError(f"`num` must be >= 1, got {num}.")
    codes = sorted(stations)
    table = np.array([stations[c] for c in codes], dtype=np.float64)
    # one generator per record, so the first k records do not depend on `num`
    draws = []
    for i in range(int(num)):
        rng = np.random.default_rng([int(seed), 0x4D4152, i])  # "MAR"
        draws.append((
            rng.integers(0, len(codes)),
            rng.uniform(*EVENT_BOX["latitude"]),
            rng.uniform(*EVENT_BOX["longitude"]),
            rng.uniform(*EVENT_BOX["depth_km"]),
            gutenberg_richter(rng, 1, *magnitude_range, b_value)[0],
        ))  # fmt: skip
    pick = np.array([d[0] for d in draws])
    latitude, longitude, depth, magnitude = (np.array([d[k] for d in draws]) for k in range(1, 5))
    for name, values in (fixed or {}).items():
        if name == "station":
            unknown = sorted(set(values) - set(codes))
            if unknown or len(values) != num:
                raise ValueError(
                    f"`fixed['station']` needs {num} codes from {', '.join(codes)}; got {unknown or len(values)}."
                )
            pick = np.array([codes.index(v) for v in values])
            continue
        if name not in ("magnitude", "latitude", "longitude", "depth_km"):
            raise ValueError(
                f"Unknown fixed value {name!r}; use magnitude, latitude, longitude, depth_km or station."
            )
        array = np.broadcast_to(np.asarray(values, dtype=np.float64), (num,)).copy()
        latitude, longitude, depth, magnitude = (
            array if name == key else current
            for key, current in (
                ("latitude", latitude),
                ("longitude", longitude),
                ("depth_km", depth),
                ("magnitude", magnitude),
            )
        )
    distance = hypocentral_distance_km(latitude, longitude, depth, table[pick, 0], table[pick, 1])
    events = generate_local_earthquakes(
        num,
        seed=seed,
        sampling_rate=sampling_rate,
        num_samples=num_samples,
        magnitude=magnitude,
        distance_km=distance,
        kappa=table[pick, 2],
    )
    noise = generate_seismic_noise(num, seed=seed + 1, sampling_rate=sampling_rate, num_samples=num_samples)
    noise = noise / noise.std(axis=(1, 2), keepdims=True) * noise_velocity_m_s
    waveforms = events["waveforms"] * table[pick, 3][:, None, None] + noise
    return {
        "waveforms": waveforms.astype(np.float32),
        "magnitude": magnitude.astype(np.float32),
        "latitude": latitude.astype(np.float32),
        "longitude": longitude.astype(np.float32),
        "depth_km": depth.astype(np.float32),
        "distance_km": distance.astype(np.float32),
        "station": [codes[i] for i in pick],
        "p_arrival_sample": events["p_arrival_sample"],
        "stations": stations,
    }

"""Make synthetic denoising pairs look like real recordings: what Peterson-shaped Gaussian noise lacks.

Real station noise is not stationary Gaussian noise between the Peterson models. Side by side
with ObsPy's bundled records (BW.UH4, NZ.CRLZ, the SEISAN events) it has: a microseism peak whose
frequency and level vary from record to record; narrow-band lines and their harmonics from
machinery; amplitude that swells and fades over seconds, and bursts; spikes and steps; and
the instrument's response (a 1 Hz geophone cuts the microseism, an accelerometer tilts the
spectrum up). Real windows also hold more than one event. `RealisticRecording` adds these to a
(clean event, noise) pair, per pair and at random, and is what `DenoisingPairDataset(augment=...)`
and `train_denoiser.py --realistic_augmentation` use.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import signal


def _band_noise(
    rng: np.random.Generator, shape: tuple, rate: float, centre: float, width: float
) -> np.ndarray:
    """Gaussian noise with a Gaussian spectral bump at `centre` Hz (relative `width`), unit RMS."""
    n = shape[-1]
    freqs = np.fft.rfftfreq(2 * n, 1.0 / rate)
    bump = np.exp(-0.5 * ((np.log(np.maximum(freqs, 1e-6)) - np.log(centre)) / width) ** 2)
    spectrum = rng.standard_normal((*shape[:-1], len(freqs))) + 1j * rng.standard_normal(
        (*shape[:-1], len(freqs))
    )
    out = np.fft.irfft(spectrum * bump, n=2 * n)[..., :n]
    return out / max(float(np.sqrt(np.mean(out**2))), 1e-30)


def _smooth_envelope(
    rng: np.random.Generator, n: int, rate: float, spread: float, seconds: float
) -> np.ndarray:
    """exp of a smooth Gaussian process (correlation `seconds`, std `spread` in natural log units)."""
    step = max(1, int(seconds * rate))
    knots = rng.standard_normal(n // step + 3) * spread
    curve = np.interp(np.arange(n), np.arange(len(knots)) * step - step, knots)
    return np.exp(curve - curve.mean())


def geophone_response(rate: float, natural_hz: float = 1.0, damping: float = 0.707) -> tuple:
    """Digital (bilinear) filter of a geophone's velocity response: poles and zeros of a
    second-order high-pass at `natural_hz`, two zeros at 0."""
    omega = 2 * np.pi * natural_hz
    poles = [
        -damping * omega + 1j * omega * np.sqrt(1 - damping**2),
        -damping * omega - 1j * omega * np.sqrt(1 - damping**2),
    ]
    return signal.bilinear_zpk([0.0, 0.0], poles, 1.0, rate)


class RealisticRecording:
    r"""A callable `(clean, noise, rng, draw_event) -> (clean, noise)` on `(3, n)` float64 windows.

    Each effect is drawn independently with its probability:

    - **second event** (`second_event_probability`): another event, 0.1-1 times as strong, shifted
      by 10-80 % of the window, is added to the clean signal;
    - **microseism** (`microseism_probability`): a band of noise centred on 0.1-0.35 Hz, 0.5-20 times
      the noise's RMS;
    - **lines** (`line_probability`): one to three sinusoids between 1 Hz and 0.45 x the rate, each
      with up to two harmonics, 0.1-3 times the noise RMS, with a slow frequency wobble;
    - **non-stationary amplitude** (`modulation_probability`): the noise multiplied by a smooth
      envelope (about +-6 dB over 2-10 s), and with half that chance one to three bursts of
      1-10 Hz noise lasting 0.5-5 s;
    - **spikes and steps** (`spike_probability`, `step_probability`): one to five one-sample spikes of
      5-50 x RMS; a step of 2-10 x RMS decaying over 1-10 s (an AC-coupled offset);
    - **instrument response**, applied to signal and noise alike: a 1 Hz geophone
      (`geophone_probability`, `geophone_response`) or an accelerometer (`accelerometer_probability`,
      the time derivative); otherwise flat (broadband velocity);
    - **band limit** (`band_limit_probability`): signal and noise low-passed at 0.45 x a rate drawn in
      20-100 Hz, as data recorded at that rate and resampled to the model's.

    Args:
        sampling_rate (`float`, defaults to 100.0): Rate of the windows, Hz.
    """

    def __init__(
        self,
        sampling_rate: float = 100.0,
        second_event_probability: float = 0.3,
        microseism_probability: float = 0.5,
        line_probability: float = 0.4,
        modulation_probability: float = 0.5,
        spike_probability: float = 0.15,
        step_probability: float = 0.1,
        geophone_probability: float = 0.3,
        accelerometer_probability: float = 0.15,
        band_limit_probability: float = 0.3,
    ):
        probabilities = {k: v for k, v in locals().items() if k.endswith("_probability")}
        for name, value in probabilities.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"`{name}` must be in [0, 1], got {value}.")
        if geophone_probability + accelerometer_probability > 1.0:
            raise ValueError("`geophone_probability` + `accelerometer_probability` must not exceed 1.")
        if not sampling_rate > 0:
            raise ValueError(f"`sampling_rate` must be positive (Hz), got {sampling_rate}.")
        self.sampling_rate = float(sampling_rate)
        self.__dict__.update(probabilities)

    def __call__(
        self,
        clean: np.ndarray,
        noise: np.ndarray,
        rng: np.random.Generator,
        draw_event: Callable[[], np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        rate, n = self.sampling_rate, clean.shape[-1]
        clean, noise = clean.copy(), noise.copy()
        rms = max(float(np.sqrt(np.mean(noise**2))), 1e-30)
        # signal side
        if draw_event is not None and rng.random() < self.second_event_probability:
            other = draw_event()
            shift = int(rng.uniform(0.1, 0.8) * n)
            ratio = rng.uniform(0.1, 1.0) * np.abs(clean).max() / max(np.abs(other).max(), 1e-30)
            clean[:, shift:] += ratio * other[:, : n - shift]
        # noise side
        if rng.random() < self.microseism_probability:
            centre = rng.uniform(0.1, 0.35)
            noise += (
                rms
                * np.exp(rng.uniform(np.log(0.5), np.log(20.0)))
                * _band_noise(rng, noise.shape, rate, centre, 0.25)
            )
        if rng.random() < self.line_probability:
            t = np.arange(n) / rate
            for _ in range(rng.integers(1, 4)):
                base = np.exp(rng.uniform(np.log(1.0), np.log(0.45 * rate)))
                wobble = 1 + 0.005 * np.sin(2 * np.pi * t / rng.uniform(5, 30) + rng.uniform(0, 2 * np.pi))
                amplitude = rms * np.exp(rng.uniform(np.log(0.1), np.log(3.0)))
                for harmonic in range(1, rng.integers(1, 4) + 1):
                    if harmonic * base >= 0.45 * rate:
                        break
                    gains = rng.uniform(0.2, 1.0, size=(3, 1)) * amplitude / harmonic
                    phase = rng.uniform(0, 2 * np.pi, size=(3, 1))
                    noise += gains * np.sin(2 * np.pi * harmonic * base * t * wobble + phase)
        if rng.random() < self.modulation_probability:
            noise *= _smooth_envelope(rng, n, rate, 0.7, rng.uniform(2.0, 10.0))
            if rng.random() < 0.5:
                for _ in range(rng.integers(1, 4)):
                    centre, length = rng.integers(n), rng.uniform(0.5, 5.0) * rate
                    window = np.exp(-0.5 * ((np.arange(n) - centre) / (length / 4)) ** 2)
                    band = _band_noise(rng, noise.shape, rate, rng.uniform(1.0, 10.0), 0.3)
                    noise += rms * rng.uniform(2.0, 8.0) * window * band
        if rng.random() < self.spike_probability:
            for _ in range(rng.integers(1, 6)):
                noise[rng.integers(3), rng.integers(n)] += rms * rng.uniform(5, 50) * rng.choice([-1, 1])
        if rng.random() < self.step_probability:
            start, tau = rng.integers(n), rng.uniform(1.0, 10.0) * rate
            decay = np.exp(-np.arange(n - start) / tau)
            noise[rng.integers(3), start:] += rms * rng.uniform(2, 10) * rng.choice([-1, 1]) * decay
        # the recording chain, on signal and noise alike
        draw = rng.random()
        if draw < self.geophone_probability:
            sos = signal.zpk2sos(*geophone_response(rate))
            clean, noise = signal.sosfilt(sos, clean, axis=-1), signal.sosfilt(sos, noise, axis=-1)
        elif draw < self.geophone_probability + self.accelerometer_probability:
            clean, noise = np.gradient(clean, axis=-1) * rate, np.gradient(noise, axis=-1) * rate
        if rng.random() < self.band_limit_probability:
            recorded_at = rng.uniform(20.0, 100.0)
            if 0.45 * recorded_at < 0.5 * rate:
                sos = signal.butter(8, 0.45 * recorded_at, fs=rate, output="sos")
                clean, noise = (
                    signal.sosfiltfilt(sos, clean, axis=-1),
                    signal.sosfiltfilt(sos, noise, axis=-1),
                )
        return clean, noise


class BandPassedPair:
    r"""A pair augmentation that runs `augment` (if any), then band-passes clean and noise to `band_hz`.

    For a model whose processor has the same `band_hz`: the pipeline band-passes its input, so the
    model is trained on band-passed noisy windows and learns the clean signal in that band. Zero
    phase, 4 corners, as `SeismogramProcessor.band_pass`.

    Args:
        band_hz (`tuple[float, float]`): Low and high corners, Hz.
        sampling_rate (`float`): Hz.
        augment (`callable`, *optional*): Applied first, e.g. a [`RealisticRecording`].
    """

    def __init__(self, band_hz: tuple[float, float], sampling_rate: float, augment: Callable | None = None):
        self.low, self.high = (float(f) for f in band_hz)
        if not 0 < self.low < self.high < sampling_rate / 2:
            raise ValueError(f"`band_hz` must lie inside (0, {sampling_rate / 2:g}) Hz, got {list(band_hz)}.")
        self.sampling_rate = float(sampling_rate)
        self.augment = augment

    def __call__(self, clean, noise, rng, draw_event):
        if self.augment is not None:
            clean, noise = self.augment(clean, noise, rng, draw_event)
        from ..utils.streams import band_pass

        band = (self.low, self.high, self.sampling_rate)
        return band_pass(clean, *band), band_pass(noise, *band)

"""Three-component earthquake waveforms for a requested magnitude, location and station."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from diffusers.schedulers import DDPMScheduler
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from ..models.waveform_prior import WaveformLatentDenoiser
from ..models.waveform_vae import SpectrogramVAE
from ..processors import WaveformSpectrogram
from .pipeline_utils import SeismicDiffusionPipeline, check_finite_output

OUTPUT_TYPES = ("stream", "np")
COMPONENTS = "ENZ"


@dataclass
class ConditionalWaveformOutput(BaseOutput):
    """
    Args:
        waveforms (`list[obspy.Stream]` or `np.ndarray` of shape `(B, 3, window_length)`): One
            three-component Stream per record (channels `HHE`, `HHN`, `HHZ`), or the array
            (components E, N, Z), in the training data's units (m/s for the bundled model).
        spectrograms (`np.ndarray` of shape `(B, 3, F, T)`): The generated spectrograms in the
            model's normalised log scale.
    """

    waveforms: list | np.ndarray
    spectrograms: np.ndarray


class ConditionalWaveformPipeline(SeismicDiffusionPipeline):
    r"""
    Generates three-component waveforms of an earthquake of given magnitude and hypocentre, as
    recorded at a given station.

    Two generators, chosen by the components present:

    - with `prior` and `scheduler`: a diffusion prior draws the VAE latent given the condition
      (`WaveformLatentDenoiser`, DDPM-trained), which `vae` decodes;
    - without them: the conditional VAE's own prior, `z ~ N(0, I)`, decoded with the condition.

    The spectrogram is turned into waveforms with `spectrogram.to_waveform` (Griffin-Lim). A VAE
    with `predict_log_peak` works on peak-normalised spectrograms and predicts each record's
    log10 peak from the same latent, which sets the amplitude of the output.

    Args:
        vae ([`SpectrogramVAE`]): A VAE (with a prior) or a conditional VAE.
        spectrogram ([`WaveformSpectrogram`]): The STFT settings the VAE was trained with.
        prior ([`WaveformLatentDenoiser`], *optional*): Conditional diffusion prior.
        scheduler ([`~diffusers.DDPMScheduler`], *optional*): Its noise schedule.
    """

    model_cpu_offload_seq = "prior->vae"
    _optional_components = ["prior", "scheduler"]

    def __init__(
        self,
        vae: SpectrogramVAE,
        spectrogram: WaveformSpectrogram,
        prior: WaveformLatentDenoiser | None = None,
        scheduler: DDPMScheduler | None = None,
    ):
        super().__init__()
        if vae.config.predict_log_peak != spectrogram.config.peak_normalize:
            raise ValueError(
                "A VAE that predicts record amplitudes (predict_log_peak) needs a peak-normalising "
                "spectrogram (peak_normalize=True), and the other way round; got "
                f"predict_log_peak={vae.config.predict_log_peak}, peak_normalize={spectrogram.config.peak_normalize}."
            )
        self.register_modules(vae=vae, spectrogram=spectrogram, prior=prior, scheduler=scheduler)

    @property
    def conditioner(self):
        """The model that reads the condition: the prior if present, else the conditional VAE."""
        return self.prior if self.prior is not None else self.vae

    @property
    def stations(self) -> list[str]:
        """Station codes the model knows."""
        return list(self.conditioner.config.station_names or [])

    # ------------------------------------------------------------------------------------------
    # input checks

    def _condition_tensor(self, magnitude, latitude, longitude, depth, batch_size: int) -> torch.Tensor:
        config = self.conditioner.config
        columns = []
        for name, value, bounds in (
            ("magnitude", magnitude, config.magnitude_range),
            ("latitude", latitude, config.latitude_range),
            ("longitude", longitude, config.longitude_range),
            ("depth", depth, config.depth_range_km),
        ):
            values = np.atleast_1d(np.asarray(value, dtype=np.float64))
            if values.size == 1:
                values = np.repeat(values, batch_size)
            if values.shape != (batch_size,):
                raise ValueError(
                    f"`{name}` must be one number or {batch_size} numbers; got {np.shape(value)}."
                )
            if not np.isfinite(values).all():
                raise ValueError(f"`{name}` contains NaN or inf.")
            low, high = bounds
            if (values < low).any() or (values > high).any():
                unit = " km" if name == "depth" else ""
                raise ValueError(
                    f"`{name}` {values[(values < low) | (values > high)][0]:g}{unit} is outside the trained range "
                    f"{low:g}-{high:g}{unit}; the model does not extrapolate."
                )
            columns.append(values)
        return torch.tensor(np.stack(columns, axis=1), dtype=torch.float32)

    def _station_tensor(self, station, batch_size: int) -> torch.Tensor:
        names = [station] * batch_size if station is None or isinstance(station, str) else list(station)
        if len(names) != batch_size:
            raise ValueError(
                f"Got {len(names)} stations for batch_size={batch_size}; give one or one per record."
            )
        known = self.stations
        indices = []
        for name in names:
            if name is None:
                indices.append(self.conditioner.config.num_stations)  # the "unknown station" row
            elif name in known:
                indices.append(known.index(name))
            else:
                raise ValueError(
                    f"Unknown station {name!r}. Known stations: {', '.join(known)} (or None for an unknown one)."
                )
        return torch.tensor(indices)

    # ------------------------------------------------------------------------------------------

    @torch.no_grad()
    def __call__(
        self,
        magnitude: float | Sequence[float],
        latitude: float | Sequence[float],
        longitude: float | Sequence[float],
        depth: float | Sequence[float],
        station: str | Sequence[str | None] | None = None,
        batch_size: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        num_inference_steps: int = 50,
        output_type: str = "stream",
        return_dict: bool = True,
        starttime: str | object = "2024-01-01T00:00:00",
    ) -> ConditionalWaveformOutput | tuple:
        r"""
        Generate records.

        Args:
            magnitude, latitude, longitude, depth (`float` or a sequence of `batch_size`): The event:
                magnitude, epicentre in degrees, depth in km. Values outside the ranges the model
                was trained on raise a `ValueError`.
            station (`str`, a sequence, or `None`): Station code(s) from `pipe.stations`; `None`
                uses the "unknown station" embedding (trained by dropping the station).
            batch_size (`int`, *optional*, defaults to 1): Records.
            generator (`torch.Generator` or a list, *optional*): Makes generation deterministic.
            num_inference_steps (`int`, *optional*, defaults to 50): Steps of the diffusion prior
                (unused with the CVAE prior).
            output_type (`str`, *optional*, defaults to `"stream"`): `"stream"` or `"np"`.
            return_dict (`bool`, *optional*, defaults to `True`): Return a [`ConditionalWaveformOutput`].
            starttime (`str` or `obspy.UTCDateTime`, *optional*): Start time of the returned Streams;
                anything else `UTCDateTime` cannot read raises a `ValueError` before generation.

        Returns:
            [`ConditionalWaveformOutput`] or `tuple` `(waveforms, spectrograms)`.
        """
        # 1. Check inputs
        self.check_call_arguments(batch_size, generator, num_inference_steps, output_type, OUTPUT_TYPES)
        if self.prior is None and not self.vae.conditional:
            raise ValueError(
                "This pipeline has neither a diffusion prior nor a conditional VAE to condition on."
            )
        if output_type == "stream":
            starttime = self._check_starttime(starttime)
        conditions = self._condition_tensor(magnitude, latitude, longitude, depth, batch_size)
        stations = self._station_tensor(station, batch_size)
        device = self._execution_device
        conditions, stations = conditions.to(device), stations.to(device)

        # 2. Draw latents: the diffusion prior, or the CVAE's N(0, I)
        shape = (batch_size, self.vae.config.latent_dim)
        latents = randn_tensor(shape, generator=generator, device=device, dtype=self.vae.dtype)
        if self.prior is not None:
            self.scheduler.set_timesteps(num_inference_steps, device=device)
            for t in self.progress_bar(self.scheduler.timesteps):
                noise = self.prior(latents, t, conditions, stations).sample
                latents = self.scheduler.step(noise, t, latents, generator=generator).prev_sample
        condition = self.vae.condition(conditions, stations) if self.vae.conditional else None

        # 3. Decode to spectrograms (and amplitudes), then waveforms
        spectrograms = self.vae.decode(latents, condition).clamp(-1.0, 1.0).float().cpu()
        log_peak = None
        if self.vae.config.predict_log_peak:
            log_peak = self.vae.decode_log_peak(latents, condition).double().cpu()
        phase_generator = generator[0] if isinstance(generator, list) else generator
        if phase_generator is not None and phase_generator.device.type != "cpu":
            phase_generator = None
        waveforms = self.spectrogram.to_waveform(spectrograms, generator=phase_generator, log_peak=log_peak)
        check_finite_output(waveforms, "waveforms")
        waveforms = waveforms.float().numpy()

        # 4. Package
        if output_type == "stream":
            names = [self.stations[i] if i < len(self.stations) else "UNKN" for i in stations.tolist()]
            waveforms = [
                self._to_stream(w, name, c, starttime)
                for w, name, c in zip(waveforms, names, conditions.tolist(), strict=True)
            ]
        self.maybe_free_model_hooks()
        output = (waveforms, spectrograms.numpy())
        return ConditionalWaveformOutput(*output) if return_dict else output

    @staticmethod
    def _check_starttime(starttime):
        """`starttime` as an `obspy.UTCDateTime`, checked before any generation."""
        from obspy import UTCDateTime

        try:
            return UTCDateTime(starttime)
        except Exception as error:  # UTCDateTime raises TypeError or ValueError by input
            raise ValueError(
                f"`starttime` {starttime!r} is not a time ObsPy reads ({error}); give an ISO 8601 string "
                "such as '2024-01-01T00:00:00' or an obspy.UTCDateTime."
            ) from None

    def _to_stream(self, record: np.ndarray, station: str, condition: list[float], starttime: str):
        from obspy import Stream, Trace, UTCDateTime

        magnitude, latitude, longitude, depth = condition
        note = (
            f"seismic_diffusers: ConditionalWaveformPipeline(magnitude={magnitude:.2f}, latitude={latitude:.4f}, "
            f"longitude={longitude:.4f}, depth={depth:.1f} km, generator={'diffusion prior' if self.prior is not None else 'CVAE prior'}; "
            "ground velocity, training-data units)"
        )
        traces = []
        for data, component in zip(record, COMPONENTS, strict=True):
            header = {
                "network": "SY",
                "station": station[:5],
                "location": "",
                "channel": f"HH{component}",
                "sampling_rate": float(self.spectrogram.config.sampling_rate),
                "starttime": UTCDateTime(starttime),
            }
            trace = Trace(data=np.ascontiguousarray(data, dtype=np.float32), header=header)
            trace.stats.processing = [note]
            traces.append(trace)
        return Stream(traces)

"""Adapt a denoiser to one station's own noise: fine-tune on events mixed into that station's records.

A denoiser trained on synthetic noise meets, at a real station, noise it has never seen:
machinery lines, wind, traffic, the instrument's own response. `adapt_denoiser` scans the
station's continuous records, drops the windows that hold events (STA/LTA), fine-tunes the
pipeline on synthetic local events mixed into the remaining real noise within a time budget,
and reports the SNR gain before and after on a held-back later part of the same records.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from .utils.streams import band_pass, component_of, resample
from .waveforms.quality import event_free_spans

EVALUATION_SNR_DB = (0.0, 5.0, 10.0)
EVENT_SEED = 7_000_000  # synthetic events for adaptation; held-back scoring uses EVENT_SEED + 1


def _as_stream(noise):
    import obspy

    if isinstance(noise, obspy.Stream):
        return noise.copy()
    if isinstance(noise, obspy.Trace):
        return obspy.Stream([noise.copy()])
    paths = [noise] if isinstance(noise, (str, os.PathLike)) else list(noise)
    if not paths:
        raise ValueError("Give at least one noise record (a miniSEED file or an ObsPy Stream).")
    stream = obspy.Stream()
    for path in paths:
        if not Path(path).is_file():
            raise ValueError(f"noise record {str(path)!r} does not exist.")
        try:
            stream += obspy.read(str(path))
        except Exception as error:  # ObsPy raises many types for a bad file
            raise ValueError(
                f"{path} is not a readable waveform file ({type(error).__name__}: {error})."
            ) from None
    return stream


def station_noise(noise, sampling_rate: float, holdout_fraction: float = 0.5) -> dict:
    """A station's continuous noise split in time, resampled, with its events cut out.

    Args:
        noise: miniSEED path(s) or an ObsPy `Stream` of one station (one network.station.location
            and band, one to three components), continuous (no gaps).
        sampling_rate (`float`): The model's rate, Hz.
        holdout_fraction (`float`): The last part of each record, held back for scoring.

    Returns:
        `dict` with `"id"`, `"components"`, and per part (`"adaptation"`, `"held_back"`) a list of
        event-free spans, each `(C, n)` float64 in the order of `"components"`; plus `"seconds"`
        and `"dropped_seconds"` (cut out as events) per part.

    Raises:
        ValueError: for records of several stations, gaps, unknown channel codes, or empty input.
    """
    stream = _as_stream(noise)
    if not len(stream):
        raise ValueError("The noise records hold no traces.")
    keys = {(t.stats.network, t.stats.station, t.stats.location, t.stats.channel[:-1]) for t in stream}
    if len(keys) != 1:
        raise ValueError(
            f"Give the records of one station and band; got {len(keys)}: "
            f"{', '.join('.'.join(k) + '?' for k in sorted(keys))}."
        )
    stream.merge(method=1)
    gappy = [t.id for t in stream if np.ma.isMaskedArray(t.data) and np.ma.count_masked(t.data)]
    if gappy:
        raise ValueError(
            f"{', '.join(gappy)} have gaps. Give continuous records: cut them at the gaps "
            "(Stream.split()) and pass the pieces as separate files, or fill the gaps yourself."
        )
    by_component = {component_of(t.stats.channel): t for t in stream}
    rates = {float(t.stats.sampling_rate) for t in stream}
    if len(rates) != 1:
        raise ValueError(f"The components have different sampling rates: {sorted(rates)} Hz.")
    rate = rates.pop()
    components = sorted(by_component, key="ENZ".index)
    start = max(t.stats.starttime for t in by_component.values())
    end = min(t.stats.endtime for t in by_component.values())
    npts = int((end - start) * rate) + 1
    if npts < 2:
        raise ValueError("The components do not overlap in time.")
    rows = []
    for component in components:
        trace = by_component[component]
        offset = int(round((start - trace.stats.starttime) * rate))
        data = trace.data[offset : offset + npts].astype(np.float64)
        rows.append(resample(data - data.mean(), rate, sampling_rate))
    record = np.stack(rows)
    split = int(record.shape[-1] * (1.0 - holdout_fraction))
    parts = {"adaptation": record[:, :split], "held_back": record[:, split:]}
    result = {"id": next(iter(by_component.values())).id[:-1] + "?", "components": components}
    for name, part in parts.items():
        spans = []
        if part.shape[-1] > 20 * sampling_rate:
            # an event on any component cuts the span on all of them
            free = np.ones(part.shape[-1], dtype=bool)
            for row in part:
                mask = np.zeros(part.shape[-1], dtype=bool)
                for lo, hi in event_free_spans(row, sampling_rate):
                    mask[lo:hi] = True
                free &= mask
            edges = np.flatnonzero(np.diff(np.concatenate([[0], free.astype(np.int8), [0]])))
            spans = [part[:, lo:hi] for lo, hi in zip(edges[::2], edges[1::2], strict=True)]
        result[name] = spans
        result[f"{name}_seconds"] = part.shape[-1] / sampling_rate
        result[f"{name}_event_free_seconds"] = sum(s.shape[-1] for s in spans) / sampling_rate
    return result


def noise_windows(spans: list[np.ndarray], window: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` three-component noise windows `(count, 3, window)` (E, N, Z) from event-free spans.

    Spans with fewer than three components lend each missing component a window from another
    random position of the station's noise (the model takes E, N and Z).
    """
    usable = [s for s in spans if s.shape[-1] >= window]
    if not usable:
        raise ValueError(f"No event-free noise span is as long as one model window ({window} samples).")
    weights = np.array([s.shape[-1] - window + 1 for s in usable], dtype=np.float64)
    out = np.empty((count, 3, window))
    for i in range(count):
        for c in range(3):
            span = usable[rng.choice(len(usable), p=weights / weights.sum())]
            row = c if span.shape[0] == 3 else rng.integers(span.shape[0])
            start = rng.integers(span.shape[-1] - window + 1)
            out[i, c] = span[row, start : start + window]
    return out


def _gain_db(estimate: np.ndarray, clean: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    from .metrics import reconstruction_snr_db

    return reconstruction_snr_db(estimate, clean, per_channel=False) - reconstruction_snr_db(
        noisy, clean, per_channel=False
    )


def score_on_noise(pipe, windows: np.ndarray, events: np.ndarray, snr_db: float) -> dict:
    """Median SNR gain (dB) of `pipe` and of a 1-20 Hz band-pass on `events` mixed into `windows`."""

    from .data import scale_noise_to_snr

    count = min(len(windows), len(events))
    clean, noise = events[:count], windows[:count]
    noisy = clean + scale_noise_to_snr(clean, noise, snr_db)
    rate = float(pipe.processor.config.sampling_rate)
    denoised = np.asarray(pipe(noisy.astype(np.float32), num_inference_steps=1).waveforms, dtype=np.float64)
    filtered = band_pass(noisy, 1.0, 20.0, rate)
    return {
        "denoiser_db": float(np.median(_gain_db(denoised, clean, noisy))),
        "band_pass_db": float(np.median(_gain_db(filtered, clean, noisy))),
    }


def adapt_denoiser(
    noise,
    out: str | os.PathLike,
    pipeline: str = "pipelines/cold-diffusion-denoiser",
    minutes: float = 10.0,
    holdout_fraction: float = 0.5,
    batch_size: int = 16,
    learning_rate: float = 1e-4,
    max_steps: int | None = None,
    num_events: int = 1000,
    seed: int = 0,
    progress: bool = True,
    loss: str = "snr",
    snr_db_range: tuple[float, float] = (0.0, 40.0),
) -> dict:
    r"""
    Fine-tune a `ColdDiffusionDenoisePipeline` on one station's own noise and save it to `out`.

    1. The records are resampled to the model's rate and split in time: the first
       `1 - holdout_fraction` for adaptation, the rest held back for scoring.
    2. Windows holding events are dropped (STA/LTA, [`~waveforms.quality.event_free_spans`]).
    3. Synthetic local events (`generate_local_earthquakes`, seed 7,000,000) are mixed into random
       30 s windows of the adaptation noise at SNRs drawn from `snr_db_range` (band-passed to the
       processor's `band_hz` when it has one), and the U-Net is fine-tuned on them with `loss` at a
       random degradation step for `minutes` of wall time (or `max_steps`), AdamW at
       `learning_rate`. Use the loss and SNR range the base was last trained with: the defaults are
       the bundled model's (its last stage, 0-40 dB). A lower range than the base's makes the model
       more aggressive on clean windows, where it then removes signal.
    4. Other synthetic events are mixed into the held-back noise at 0, 5 and 10 dB, and the
       direct-mode SNR gain of the base and the adapted pipeline (and of a 1-20 Hz band-pass) is
       reported.

    Args:
        noise: miniSEED path(s) or an ObsPy `Stream` of one station's continuous records.
        out (`str` or `os.PathLike`): Folder for the adapted pipeline (`from_pretrained` loads it);
            its `README.md` records what it was adapted on, and `adaptation.json` the figures.
        pipeline (`str`): The base pipeline folder or Hub id.
        minutes (`float`, defaults to 10): Wall-time budget of the fine-tuning.
        holdout_fraction (`float`, defaults to 0.5): Share of each record held back for scoring.
        batch_size, learning_rate, max_steps, num_events, seed: Fine-tuning settings.
        loss (`str`, defaults to `"snr"`): `"l1"`, `"snr"` or `"segmental_snr"`
            (`utils.training.denoising_loss`).
        snr_db_range (`tuple[float, float]`, defaults to `(0.0, 40.0)`): SNRs of the training
            mixtures, dB (`DenoisingPairDataset`).
        progress (`bool`): Show a progress bar.

    Returns:
        `dict`: what was kept and dropped, steps, minutes, and `before` / `after` SNR gains per level.

    Raises:
        ValueError: before any training, for too little event-free noise (less than one model
            window in the adaptation part or the held-back part), rates the model does not take,
            gaps, several stations, bad settings, or an `out` that is a file.
    """
    from tqdm.auto import tqdm

    from .data import DenoisingPairDataset, generate_local_earthquakes
    from .data.realism import BandPassedPair
    from .pipelines import ColdDiffusionDenoisePipeline
    from .utils.training import DENOISING_LOSSES, check_finite_weights, denoising_loss

    # 1. Check everything before any work
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"out {str(out)!r} exists and is not a folder.")
    if not (isinstance(minutes, (int, float)) and math.isfinite(minutes) and minutes > 0):
        raise ValueError(f"`minutes` must be a positive number, got {minutes!r}.")
    if not 0 < holdout_fraction < 1:
        raise ValueError(f"`holdout_fraction` must be in (0, 1), got {holdout_fraction!r}.")
    try:
        if isinstance(snr_db_range, str):
            raise TypeError
        low, high = (float(v) for v in snr_db_range)
    except (TypeError, ValueError):
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"`snr_db_range` must be two finite dB values (low, high), got {snr_db_range!r}.")
    if loss not in DENOISING_LOSSES:
        raise ValueError(f"`loss` must be one of {', '.join(DENOISING_LOSSES)}, got {loss!r}.")
    for name, value in (("batch_size", batch_size), ("num_events", num_events)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
    base = ColdDiffusionDenoisePipeline.from_pretrained(pipeline)
    base.set_progress_bar_config(disable=True)
    processor, scheduler = base.processor, base.scheduler
    rate, window = float(processor.config.sampling_rate), int(processor.config.window_length)
    stream = _as_stream(noise)
    for trace in stream:
        base.check_sampling_rate(float(trace.stats.sampling_rate), f"The sampling rate of {trace.id}")
    station = station_noise(stream, rate, holdout_fraction)
    for part in ("adaptation", "held_back"):
        longest = max((s.shape[-1] for s in station[part]), default=0)
        if longest < window:
            raise ValueError(
                f"Too little noise: the {part.replace('_', '-')} part has {station[f'{part}_event_free_seconds']:.0f} s "
                f"without events (of {station[f'{part}_seconds']:.0f} s), and its longest event-free span is "
                f"{longest / rate:.0f} s, shorter than one model window ({window / rate:.0f} s). Give longer "
                "continuous records (a few hours is typical)."
            )

    # 2. Data: synthetic events in the station's own noise
    rng = np.random.default_rng(seed)
    length = max(window, int(8 * rate))  # the generator needs room for P, S and some coda
    events = generate_local_earthquakes(num_events, seed=EVENT_SEED, sampling_rate=rate, num_samples=length)
    train_noise = noise_windows(station["adaptation"], window, max(64, num_events // 4), rng)
    band_hz = processor.config.band_hz
    # a band-limited model (its processor band-passes every input) adapts on band-passed pairs
    augment = None if band_hz is None else BandPassedPair(tuple(band_hz), rate)
    dataset = DenoisingPairDataset(
        events["waveforms"], train_noise, seed=seed, p_arrival_sample=events["p_arrival_sample"],
        s_arrival_sample=events["s_arrival_sample"], num_samples=window, augment=augment,
        snr_db_range=(low, high),
    )  # fmt: skip
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, drop_last=True,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    held = generate_local_earthquakes(64, seed=EVENT_SEED + 1, sampling_rate=rate, num_samples=length)
    held_noise = noise_windows(station["held_back"], window, 64, np.random.default_rng(seed + 1))
    # windows that start a tenth of a window before P
    starts = np.clip(held["p_arrival_sample"].astype(int) - window // 10, 0, length - window)
    clean_held = np.stack([w[:, s : s + window] for w, s in zip(held["waveforms"], starts, strict=True)])
    clean_held = processor.band_pass(clean_held.astype(np.float64))
    held_noise = processor.band_pass(held_noise)
    before = {f"{snr:g}": score_on_noise(base, held_noise, clean_held, snr) for snr in EVALUATION_SNR_DB}

    # 3. Fine-tune within the budget
    adapted = ColdDiffusionDenoisePipeline.from_pretrained(pipeline)
    adapted.set_progress_bar_config(disable=True)
    unet = adapted.unet.train()
    optimizer = torch.optim.AdamW(unet.parameters(), lr=learning_rate, weight_decay=1e-6)
    total = scheduler.config.num_train_timesteps
    generator = torch.Generator().manual_seed(seed)
    started, steps, losses = time.perf_counter(), 0, []
    budget = minutes * 60.0
    bar = tqdm(total=round(budget), unit="s", desc="adapting", disable=not progress)
    while True:
        for batch in loader:
            clean, noise_batch = batch["clean"].float(), batch["noise"].float()
            scale = processor.window_scale(clean + noise_batch)
            clean, noise_batch = clean / scale, noise_batch / scale
            timesteps = torch.randint(0, total, (clean.shape[0],), generator=generator)
            r = scheduler.sample_noise_scale(clean.shape[0], generator=generator)
            degraded = scheduler.add_noise(clean, noise_batch, timesteps, r)
            value = denoising_loss(unet(degraded, timesteps).sample, clean, loss)
            if not torch.isfinite(value):
                raise FloatingPointError(
                    f"The adaptation loss became {float(value)} at step {steps}; nothing was saved."
                )
            optimizer.zero_grad()
            value.backward()
            torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
            optimizer.step()
            steps += 1
            losses.append(float(value.detach()))
            elapsed = time.perf_counter() - started
            bar.update(max(0, min(round(budget), round(elapsed)) - bar.n))
            bar.set_postfix(step=steps, loss=f"{np.mean(losses[-20:]):.4f}")
            if elapsed >= budget or (max_steps is not None and steps >= max_steps):
                break
        else:
            continue
        break
    bar.close()
    unet.eval()
    check_finite_weights(unet)
    after = {f"{snr:g}": score_on_noise(adapted, held_noise, clean_held, snr) for snr in EVALUATION_SNR_DB}

    # 4. Save, with a card that says what it was adapted on
    report = {
        "station": station["id"],
        "components": station["components"],
        "base_pipeline": str(pipeline),
        "adaptation_seconds": station["adaptation_seconds"],
        "adaptation_event_free_seconds": station["adaptation_event_free_seconds"],
        "held_back_seconds": station["held_back_seconds"],
        "held_back_event_free_seconds": station["held_back_event_free_seconds"],
        "steps": steps,
        "minutes": (time.perf_counter() - started) / 60.0,
        "loss": loss,
        "snr_db_range": [low, high],
        "final_loss": float(np.mean(losses[-20:])),
        "before": before,
        "after": after,
    }
    out.mkdir(parents=True, exist_ok=True)
    adapted.save_pretrained(str(out), safe_serialization=True)
    (out / "adaptation.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "README.md").write_text(_card(report))
    return report


def _card(report: dict) -> str:
    rows = "\n".join(
        f"| {level} dB | {report['before'][level]['band_pass_db']:+.2f} | {report['before'][level]['denoiser_db']:+.2f} | "
        f"{report['after'][level]['denoiser_db']:+.2f} |"
        for level in report["before"]
    )
    return f"""---
library_name: seismic_diffusers
license: mit
tags: [seismology, denoising, cold-diffusion, obspy, seismic_diffusers, station-adapted]
---

# Cold-diffusion denoiser adapted to {report["station"]}

Fine-tuned from `{report["base_pipeline"]}` on synthetic local events mixed into this station's own
noise (`seismic_diffusers.adaptation.adapt_denoiser`).

- Adaptation noise: {report["adaptation_event_free_seconds"]:.0f} s without events (of {report["adaptation_seconds"]:.0f} s;
  components {", ".join(report["components"])}); events were cut out by STA/LTA.
- Fine-tuning: {report["steps"]} steps in {report["minutes"]:.1f} min on mixtures at {report["snr_db_range"][0]:g} to
  {report["snr_db_range"][1]:g} dB, final {report["loss"]} loss {report["final_loss"]:.4f}.
- Scored on the held-back later {report["held_back_seconds"]:.0f} s of the same records
  ({report["held_back_event_free_seconds"]:.0f} s without events), with other synthetic events mixed in.

| SNR in | band-pass 1-20 Hz (dB) | base denoiser (dB) | adapted (dB) |
|---:|---:|---:|---:|
{rows}

Median SNR gain over 64 windows per level, direct mode. Use it on this station's data only.
"""

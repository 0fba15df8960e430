#!/usr/bin/env python
"""Train a spectrogram autoencoder, VAE or conditional VAE of earthquake waveforms with Accelerate.

Run with `accelerate launch training/train_waveform_vae.py --model cvae --output_dir runs/cvae ...`.
Same conventions as `train_velocity.py`: EMA, atomic checkpoints with `--resume_from_checkpoint
latest`, mixed precision, gradient accumulation, a `diffusers.optimization` LR schedule.

Data: synthetic Marmara-like records (`waveforms.generate_marmara_records`, default) or a
`build-waveform-dataset` output folder (`--dataset_dir`: its metadata.csv and processed
miniSEED; the first `--window_length` samples of each record). Records become log-magnitude STFT
spectrograms (`WaveformSpectrogram`, `nperseg=256`, `noverlap=192`, `nfft=256`, fitted to the
training data). The AE minimises MSE; the VAE and CVAE minimise MSE + beta * KL (KL summed over
the latent, averaged over the batch). The CVAE drops the station to the "unknown station"
embedding with probability `--station_dropout`, so it can generate for stations it has not seen.
Models and STFT settings follow the Seismic Diffusion Project (diffusion models on Kandilli
Observatory records from the Marmara Sea region).

Additions to that project's recipe (all off by default, on in the bundled model's command):
- `--peak_normalize`: records are divided by their peak before the STFT; the VAEs predict the
  log10 peak from the latent and the condition (`SpectrogramVAE(predict_log_peak=True)`), loss
  weight `--log_peak_weight` on its squared error (log10 units).
- `--loud_weight w`: the MSE weights each bin by `1 + w * (x + 1) / 2` (x the target in [-1, 1]),
  so the bins that carry the waveform count more than the noise floor.
- `--kl_warmup_steps n`: beta ramps linearly from 0 over the first n steps.

Writes OUTPUT_DIR/model (the `ModelMixin`), OUTPUT_DIR/spectrogram (its config) and
OUTPUT_DIR/scores.json (held-out reconstruction, `waveforms.reconstruction_scores`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate.logging import get_logger
from accelerate.utils import set_seed

from seismic_diffusers import (
    ConditionalWaveformPipeline,
    SpectrogramAutoencoder,
    SpectrogramVAE,
    WaveformSpectrogram,
)
from seismic_diffusers.utils.arguments import add_waveform_record_arguments
from seismic_diffusers.utils.finetune import (
    WAVEFORM_VAE_PARTS,
    add_finetune_arguments,
    check_finetune_arguments,
    fine_tune_summary,
    freeze_parts,
    load_pretrained_pipeline,
)
from seismic_diffusers.utils.training import (
    TrainingLog,
    add_training_arguments,
    backward_and_step,
    build_optimization,
    epoch_batches,
    make_accelerator,
    make_ema,
    resume_and_progress,
    trained_model,
)
from seismic_diffusers.waveforms import load_training_records, reconstruction_scores

logger = get_logger(__name__, log_level="INFO")
MODELS = ("ae", "vae", "cvae")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_waveform_record_arguments(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--model", choices=MODELS, default="cvae")
    model.add_argument("--block_out_channels", type=int, nargs=4, default=[32, 64, 128, 256])
    model.add_argument("--latent_dim", type=int, default=128)
    model.add_argument("--beta", type=float, default=1e-3, help="Weight of the KL term (VAE, CVAE).")
    model.add_argument(
        "--station_dropout", type=float, default=0.1, help="CVAE: share of unknown-station draws."
    )
    model.add_argument(
        "--peak_normalize",
        action="store_true",
        help="Peak-normalise records; VAEs predict the log10 peak.",
    )
    model.add_argument(
        "--log_peak_weight", type=float, default=1.0, help="Weight of the log10-peak squared error."
    )
    model.add_argument(
        "--loud_weight", type=float, default=0.0, help="MSE bin weight 1 + w * (target + 1) / 2."
    )
    model.add_argument(
        "--kl_warmup_steps", type=int, default=0, help="Steps over which beta ramps up from 0."
    )
    add_training_arguments(parser, output_dir="runs/waveform-vae", max_train_steps=3000, learning_rate=1e-3)
    add_finetune_arguments(parser, WAVEFORM_VAE_PARTS)
    args = parser.parse_args(argv)
    check_finetune_arguments(parser, args)
    return args


def build_model(args: argparse.Namespace, stations: list[str], records: dict, log_peak: torch.Tensor):
    if args.model == "ae":
        return SpectrogramAutoencoder(block_out_channels=tuple(args.block_out_channels))
    span = {
        key: (float(np.min(records[key])), float(np.max(records[key])))
        for key in ("magnitude", "latitude", "longitude", "depth_km")
    }
    amplitude = {}
    if args.peak_normalize:  # half a decade of margin either side of the training peaks
        amplitude = dict(
            predict_log_peak=True,
            log_peak_range=(float(log_peak.min()) - 0.5, float(log_peak.max()) + 0.5),
        )
    return SpectrogramVAE(
        block_out_channels=tuple(args.block_out_channels),
        latent_dim=args.latent_dim,
        num_stations=len(stations) if args.model == "cvae" else 0,
        magnitude_range=span["magnitude"],
        latitude_range=span["latitude"],
        longitude_range=span["longitude"],
        depth_range_km=span["depth_km"],
        station_names=stations if args.model == "cvae" else None,
        **amplitude,
    )


def weighted_mse(estimate: torch.Tensor, target: torch.Tensor, loud_weight: float) -> torch.Tensor:
    """MSE with bin weights `1 + loud_weight * (target + 1) / 2`, normalised to mean weight 1."""
    if loud_weight == 0:
        return F.mse_loss(estimate, target)
    weight = 1.0 + loud_weight * (target + 1.0) * 0.5
    return (weight * (estimate - target).pow(2)).sum() / weight.sum()


def main(args: argparse.Namespace) -> None:
    accelerator = make_accelerator(args)
    pretrained = None
    if args.pretrained_pipeline:  # before any data is read
        pretrained, _ = load_pretrained_pipeline(
            args.pretrained_pipeline, ConditionalWaveformPipeline, logger
        )
        args.model = "cvae" if pretrained.vae.conditional else "vae"
        args.window_length = pretrained.spectrogram.config.window_length
        args.peak_normalize = pretrained.spectrogram.config.peak_normalize
    records = load_training_records(args.dataset_dir, args.num_records, args.data_seed, args.window_length)
    count = len(records["waveforms"])
    held = max(1, int(round(args.validation_fraction * count)))
    train_slice, val_slice = slice(0, count - held), slice(count - held, count)

    if pretrained is not None:
        # the pretrained vocabulary and scales; records from other stations use the unknown-station row
        spectrogram, model = pretrained.spectrogram, pretrained.vae.train()
        stations = list(model.config.station_names or [])
    else:
        stations = sorted(set(records["station"]))
        spectrogram = WaveformSpectrogram(
            window_length=args.window_length, peak_normalize=args.peak_normalize
        )
        spectrogram.fit_log_range(records["waveforms"][train_slice])
    parts = [
        spectrogram.to_spectrogram(records["waveforms"][i : i + 256], return_log_peak=True)
        for i in range(0, count, 256)
    ]
    specs = torch.cat([spec for spec, _ in parts])
    # log10 record peaks: the amplitude the VAEs predict when the spectrograms are peak-normalised
    log_peaks = torch.cat(
        [peak if peak is not None else torch.zeros(len(spec), dtype=torch.float64) for spec, peak in parts]
    ).float()
    conditions = torch.tensor(
        np.stack([records[k] for k in ("magnitude", "latitude", "longitude", "depth_km")], axis=1),
        dtype=torch.float32,
    )
    station_index = torch.tensor(
        [stations.index(s) if s in stations else len(stations) for s in records["station"]]
    )

    if pretrained is None:
        model = build_model(args, stations, records, log_peaks[train_slice])
    frozen = freeze_parts(model, args.freeze, WAVEFORM_VAE_PARTS)
    model_cls = type(model)
    logger.info(
        f"{model_cls.__name__} ({args.model}): {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters"
    )
    ema_model = make_ema(accelerator, model, model_cls, args, subfolder="model")
    set_seed(args.seed)
    dataset = torch.utils.data.TensorDataset(
        specs[train_slice], conditions[train_slice], station_index[train_slice], log_peaks[train_slice]
    )
    dataloader = torch.utils.data.DataLoader(
        dataset, batch_size=args.train_batch_size, shuffle=True, drop_last=True
    )
    optimizer, lr_scheduler = build_optimization(accelerator, model, args)
    model, optimizer, dataloader, lr_scheduler = accelerator.prepare(
        model, optimizer, dataloader, lr_scheduler
    )
    if ema_model is not None:
        ema_model.to(accelerator.device)
    global_step, first_epoch, resume_step, num_epochs, progress = resume_and_progress(
        accelerator, args, dataloader, logger
    )
    log = TrainingLog(accelerator, args, progress, logger)
    core = accelerator.unwrap_model(model)
    for epoch in range(first_epoch, num_epochs):
        model.train()
        for spec, condition, station, log_peak in epoch_batches(
            accelerator, dataloader, epoch, first_epoch, resume_step
        ):
            if global_step >= args.max_train_steps:
                break
            with accelerator.accumulate(model):
                peak_loss = torch.zeros((), device=spec.device)
                if args.model == "ae":
                    out = model(spec)
                    kl = torch.zeros((), device=spec.device)
                else:
                    if args.model == "cvae":
                        unknown = torch.rand(station.shape, device=station.device) < args.station_dropout
                        station = torch.where(
                            unknown, torch.full_like(station, core.unknown_station), station
                        )
                    predicts = core.config.predict_log_peak
                    out = model(spec, condition, station) if args.model == "cvae" else model(spec)
                    kl = SpectrogramVAE.kl_divergence(out.mean.float(), out.logvar.float())
                    if predicts:
                        peak_loss = F.mse_loss(out.log_peak.float(), log_peak.float())
                mse = weighted_mse(out.sample.float(), spec.float(), args.loud_weight)
                warmup = min(1.0, (global_step + 1) / args.kl_warmup_steps) if args.kl_warmup_steps else 1.0
                loss = mse + args.beta * warmup * kl + args.log_peak_weight * peak_loss
                backward_and_step(accelerator, loss, model, optimizer, lr_scheduler, args.max_grad_norm)
            if not accelerator.sync_gradients:
                continue
            if ema_model is not None:
                ema_model.step(model.parameters())
            global_step += 1
            log.step(
                global_step, lr_scheduler.get_last_lr()[0], loss=loss, mse=mse, kl=kl, log_peak_mse=peak_loss
            )

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        core = trained_model(accelerator, model, ema_model)
        core.save_pretrained(os.path.join(args.output_dir, "model"), safe_serialization=True)
        spectrogram.save_config(os.path.join(args.output_dir, "spectrogram"))
        scores = {
            "model": args.model,
            "steps": global_step,
            "train_minutes": round(log.minutes, 1),
            "held_out_records": int(held),
            **reconstruction_scores(
                core.to("cpu"),
                spectrogram,
                records["waveforms"][val_slice],
                conditions[val_slice],
                station_index[val_slice],
                generator=torch.Generator().manual_seed(args.seed),
            ),
            "stations": stations,
            "fine_tuned_from": args.pretrained_pipeline,
            "frozen_tensors": len(frozen),
            "command": "accelerate launch " + " ".join([sys.argv[0]] + sys.argv[1:]),
        }
        (Path(args.output_dir) / "scores.json").write_text(json.dumps(scores, indent=2))
        has_prior = pretrained is not None and pretrained.prior is not None
        if args.model == "cvae" or has_prior:
            # a complete pipeline: the CVAE with its own N(0, I) prior, or, when fine-tuning a
            # pipeline with a diffusion prior, that prior unchanged (fine-tune it next with
            # train_waveform_ldm.py --pretrained_pipeline: the latents have moved)
            pipeline_dir = Path(args.output_dir, "pipeline")
            ConditionalWaveformPipeline(
                vae=core,
                spectrogram=spectrogram,
                prior=pretrained.prior if has_prior else None,
                scheduler=pretrained.scheduler if has_prior else None,
            ).save_pretrained(pipeline_dir)
            data = (
                args.dataset_dir
                or f"{args.num_records} synthetic Marmara-like records (seed {args.data_seed})"
            )
            (pipeline_dir / "README.md").write_text(
                "---\nlibrary_name: seismic_diffusers\nlicense: mit\ntags: [seismology, earthquake, waveform-generation, "
                "vae, seismic_diffusers]\n---\n\n# Conditional waveform VAE\n\n"
                + fine_tune_summary(args, frozen)
                + f"- Command: `{scores['command']}`\n- Data: {data}\n- Steps: {global_step}, {scores['train_minutes']} min\n"
                f"- Held-out ({held} records) reconstruction SNR: spectrogram {scores['spectrogram_snr_db']:.1f} dB, "
                f"STFT magnitude {scores['stft_magnitude_snr_db']:.1f} dB, after Griffin-Lim "
                f"{scores['griffin_lim_snr_db']:.1f} dB\n- Stations: {', '.join(stations)}\n"
            )
        logger.info(f"Saved {args.output_dir}/model: {scores}")
    accelerator.end_training()


if __name__ == "__main__":
    main(parse_args())

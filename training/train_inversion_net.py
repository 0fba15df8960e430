#!/usr/bin/env python
"""Train an `InversionNetModel` (shot gathers -> velocity map, by regression) with Accelerate.

Run with `accelerate launch training/train_inversion_net.py --train_data_dir data/inversion-8 ...`.
Same conventions as `train_joint_vqvae.py`: EMA, atomic checkpoints with `--resume_from_checkpoint
latest`, mixed precision, gradient accumulation, a `diffusers.optimization` LR schedule.

Data: OpenFWI-layout folders (`data/dataN.npy` + `model/modelN.npy`, one sub-folder per family
from `seismic-diffusers make-dataset`); every k-th pair is held out (`--validation_fraction`).
Loss: L1 + MSE on the normalised velocity, as InversionNet. `--noise_probability` and
`--dead_trace_probability` corrupt the training gathers (white noise at an SNR drawn in
`--snr_db_range`, zeroed traces) so that the network meets field-like data; the held-out scores
are on clean gathers. The result, `OUTPUT_DIR/inversion_net`
(safetensors), carries `training_record.json` with the held-out OpenFWI metrics (MAE, RMSE in
m/s, SSIM) per family.
"""

from __future__ import annotations

import argparse
import bisect
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate.logging import get_logger
from accelerate.utils import set_seed

from seismic_diffusers import InversionNetModel, openfwi_map_metrics
from seismic_diffusers.data import open_paired_folders, split_paired
from seismic_diffusers.data.gather_augmentation import corrupt_gathers
from seismic_diffusers.utils.arguments import add_paired_data_arguments
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

logger = get_logger(__name__, log_level="INFO")
M_S_PER_UNIT = 1500.0  # OpenFWI's metrics are on [-1, 1] maps over 1500-4500 m/s


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_paired_data_arguments(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--block_out_channels", type=int, nargs="+", default=[16, 32, 64])
    model.add_argument(
        "--seismic_strides", type=int, nargs="+", default=[2, 2, 2, 2, 2, 1], help="Flat (time, x) pairs."
    )
    model.add_argument("--seismic_working_shape", type=int, nargs=2, default=[128, 64])
    model.add_argument("--layers_per_block", type=int, default=1)
    model.add_argument("--latent_channels", type=int, default=32)
    model.add_argument(
        "--pretrained_model",
        type=str,
        default=None,
        help="Start from these weights: an InversionNetModel folder, or a pipeline folder holding one in "
        "inversion_net/ (e.g. pipelines/openfwi-velocity-inversion). The model options above are then ignored.",
    )
    train = add_training_arguments(
        parser,
        output_dir="runs/inversion-net",
        train_batch_size=16,
        max_train_steps=3000,
        adam_weight_decay=0.0,
    )
    train.add_argument("--dataloader_num_workers", type=int, default=0)
    train.add_argument("--validation_pairs", type=int, default=400, help="Held-out pairs scored at the end.")
    corrupt = parser.add_argument_group("corruption of the training gathers (data.gather_augmentation)")
    corrupt.add_argument("--noise_probability", type=float, default=0.0, help="Share of gathers given noise.")
    corrupt.add_argument("--snr_db_range", type=float, nargs=2, default=[10.0, 40.0], help="SNR drawn in dB.")
    corrupt.add_argument(
        "--dead_trace_probability", type=float, default=0.0, help="Chance of zeroing a trace."
    )
    args = parser.parse_args(argv)
    if len(args.seismic_strides) != 2 * len(args.block_out_channels):
        parser.error("--seismic_strides needs one (time, x) pair per entry of --block_out_channels.")
    try:  # the corruption settings, checked before any data is read
        corrupt_gathers(
            torch.ones(1, 1, 2, 1),
            tuple(args.snr_db_range),
            args.noise_probability,
            args.dead_trace_probability,
        )
    except ValueError as error:
        parser.error(str(error))
    if args.pretrained_model is not None and pretrained_model_folder(args.pretrained_model) is None:
        parser.error(
            f"--pretrained_model {args.pretrained_model}: no InversionNetModel config.json there or in its inversion_net/."
        )
    return args


def pretrained_model_folder(path: str) -> Path | None:
    """The folder holding an InversionNetModel's `config.json`: `path` itself or its `inversion_net/`."""
    for folder in (Path(path), Path(path, "inversion_net")):
        config = folder / "config.json"
        if config.is_file() and json.loads(config.read_text()).get("_class_name") == "InversionNetModel":
            return folder
    return None


def pair_family(subset: torch.utils.data.Subset, index: int) -> str:
    """The family folder (`make-dataset` writes one per family) that pair `index` of `subset` comes from."""
    position, dataset = subset.indices[index], subset.dataset
    if isinstance(dataset, torch.utils.data.ConcatDataset):
        part = bisect.bisect_right(dataset.cumulative_sizes, position)
        dataset = dataset.datasets[part]
    return Path(dataset.files[0]).parent.parent.name


@torch.no_grad()
def score_held_out(model: InversionNetModel, dataset, num: int) -> dict:
    """OpenFWI metrics of `num` held-out pairs spread evenly over `dataset` (so every family folder
    is scored), overall and per family (the folder the pair came from)."""
    count = min(num, len(dataset))
    indices = sorted({round(i * (len(dataset) - 1) / max(count - 1, 1)) for i in range(count)})
    if not indices:
        return {}
    items = [dataset[i] for i in indices]
    truth = torch.stack([item["velocity"][0] for item in items])
    predicted = model.predict_velocity(torch.stack([item["seismic"] for item in items]))
    families = [pair_family(dataset, i) for i in indices]

    def metrics(rows) -> dict:
        m = openfwi_map_metrics(predicted[rows], truth[rows])
        return {
            "pairs": len(rows),
            "mae_m_per_s": m["MAE"] * M_S_PER_UNIT,
            "rmse_m_per_s": m["RMSE"] * M_S_PER_UNIT,
            "ssim": m["SSIM"],
        }

    scores = {"all": metrics(list(range(len(items))))}
    for family in sorted(set(families)):
        scores[family] = metrics([i for i, f in enumerate(families) if f == family])
    return scores


def main(args: argparse.Namespace) -> None:
    accelerator = make_accelerator(args)
    if args.pretrained_model is not None:
        model = InversionNetModel.from_pretrained(str(pretrained_model_folder(args.pretrained_model)))
        logger.info(f"Starting from {args.pretrained_model}")
    else:
        strides = tuple(zip(args.seismic_strides[::2], args.seismic_strides[1::2], strict=True))
        model = InversionNetModel(
            block_out_channels=tuple(args.block_out_channels),
            seismic_strides=strides,
            seismic_working_shape=tuple(args.seismic_working_shape),
            layers_per_block=args.layers_per_block,
            latent_channels=args.latent_channels,
        )
    logger.info(f"InversionNetModel parameters: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M")
    ema_model = make_ema(accelerator, model, InversionNetModel, args, subfolder="inversion_net")

    set_seed(args.seed)
    train_set, val_set = split_paired(open_paired_folders(args.train_data_dir), args.validation_fraction)
    dataloader = torch.utils.data.DataLoader(
        train_set,
        batch_size=args.train_batch_size,
        shuffle=True,
        num_workers=args.dataloader_num_workers,
        drop_last=len(train_set) >= args.train_batch_size,
    )
    optimizer, lr_scheduler = build_optimization(accelerator, model, args)
    model, optimizer, dataloader, lr_scheduler = accelerator.prepare(
        model, optimizer, dataloader, lr_scheduler
    )
    if ema_model is not None:
        ema_model.to(accelerator.device)
    core = accelerator.unwrap_model(model)
    global_step, first_epoch, resume_step, num_epochs, progress = resume_and_progress(
        accelerator, args, dataloader, logger
    )
    logger.info(f"{len(train_set)} training pairs, {len(val_set)} held out; {args.max_train_steps} steps")
    log = TrainingLog(accelerator, args, progress, logger)

    for epoch in range(first_epoch, num_epochs):
        model.train()
        for batch in epoch_batches(accelerator, dataloader, epoch, first_epoch, resume_step):
            if global_step >= args.max_train_steps:
                break
            target = core.normalize_velocity(batch["velocity"]).float()
            seismic = batch["seismic"]
            if args.noise_probability > 0 or args.dead_trace_probability > 0:
                seismic = corrupt_gathers(
                    seismic, tuple(args.snr_db_range), args.noise_probability, args.dead_trace_probability
                )
            with accelerator.accumulate(model):
                predicted = model(seismic).velocity.float()
                l1, l2 = F.l1_loss(predicted, target), F.mse_loss(predicted, target)
                loss = l1 + l2
                backward_and_step(accelerator, loss, model, optimizer, lr_scheduler, args.max_grad_norm)
            if not accelerator.sync_gradients:
                continue
            if ema_model is not None:
                ema_model.step(model.parameters())
            global_step += 1
            log.step(global_step, lr_scheduler.get_last_lr()[0], loss=loss, velocity_l1=l1, velocity_mse=l2)

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        core = trained_model(accelerator, model, ema_model).eval()
        folder = Path(args.output_dir, "inversion_net")
        core.save_pretrained(folder, safe_serialization=True)
        record = {
            "held_out": score_held_out(core, val_set, args.validation_pairs),
            "steps": global_step,
            "train_minutes": round(log.minutes, 1),
            "loss": log.means()["loss"],
            "train_pairs": len(train_set),
            "data": list(args.train_data_dir),
            "pretrained_model": args.pretrained_model,
            "validation_fraction": args.validation_fraction,
        }
        (folder / "training_record.json").write_text(json.dumps(record, indent=2))
        logger.info(f"Saved {folder}: {record['held_out'].get('all')}")
    accelerator.end_training()


if __name__ == "__main__":
    main(parse_args())

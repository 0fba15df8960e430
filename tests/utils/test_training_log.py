"""Tests for the training scripts' shared loop pieces: `TrainingLog` and `trained_model`."""

from __future__ import annotations

import argparse
import io
import json
import logging
import math

import torch
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from seismic_diffusers.utils.training import TrainingLog, trained_model


class _SingleProcess:
    """What the helpers read of an `Accelerator` in a single, unwrapped process."""

    is_main_process = True

    def unwrap_model(self, model):
        return model

    def wait_for_everyone(self):
        pass


def _log(tmp_path, logging_steps=2):
    args = argparse.Namespace(
        logging_steps=logging_steps,
        checkpointing_steps=10**9,
        output_dir=str(tmp_path),
        checkpoints_total_limit=None,
    )
    progress = tqdm(total=10, file=io.StringIO())  # enabled, so that it counts, but silent
    return TrainingLog(_SingleProcess(), args, progress, logging.getLogger("test")), progress


def test_running_means_cover_the_last_logging_steps_and_reach_the_log_file(tmp_path):
    log, progress = _log(tmp_path)
    assert math.isnan(log.means()["loss"])  # nothing trained yet
    for step, (loss, kl) in enumerate([(4.0, 10.0), (2.0, 20.0), (1.0, 30.0)], start=1):
        log.step(step, 1e-4, loss=torch.tensor(loss, requires_grad=True), kl=kl)
    assert progress.n == 3
    assert progress.postfix == "loss=1.5, kl=25, lr=1.00e-04"
    assert log.means() == {"loss": 1.5, "kl": 25.0}  # steps 2 and 3 only
    records = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2]  # every `logging_steps`
    assert records[0]["loss"] == 3.0 and records[0]["kl"] == 15.0 and records[0]["lr"] == 1e-4
    assert log.minutes >= 0


def test_trained_model_copies_the_ema_weights_in_and_sets_eval_mode():
    model = torch.nn.Linear(3, 2)
    ema = EMAModel(model.parameters(), decay=0.5)
    ema_weights = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # training moved the live weights away from the EMA
    final = trained_model(_SingleProcess(), model.train(), ema)
    assert final is model and not final.training
    assert all(torch.equal(p, q) for p, q in zip(final.parameters(), ema_weights, strict=True))

    plain = torch.nn.Linear(3, 2).train()
    before = [p.detach().clone() for p in plain.parameters()]
    assert not trained_model(_SingleProcess(), plain, None).training
    assert all(torch.equal(p, q) for p, q in zip(plain.parameters(), before, strict=True))

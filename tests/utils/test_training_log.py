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


def test_a_nan_loss_stops_training_with_a_clear_error(tmp_path):
    import pytest

    from seismic_diffusers.utils.training import NonFiniteTrainingError

    log, progress = _log(tmp_path, logging_steps=1)
    log.step(1, 1e-4, loss=1.0)
    with pytest.raises(NonFiniteTrainingError, match=r"step 2: loss \{'loss': nan\} is not finite"):
        log.step(2, 1e-4, loss=torch.tensor(float("nan")))
    assert progress.n == 1  # the bad step is neither counted nor logged
    assert [json.loads(line)["step"] for line in (tmp_path / "train_log.jsonl").read_text().splitlines()] == [
        1
    ]


def test_trained_model_refuses_nan_weights_so_nothing_is_saved():
    import pytest

    from seismic_diffusers.utils.training import NonFiniteTrainingError

    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.bias[0] = float("nan")
    with pytest.raises(NonFiniteTrainingError, match=r"1 weight tensor\(s\) hold NaN or Inf \(first: bias\)"):
        trained_model(_SingleProcess(), model, None)


def test_list_checkpoints_ignores_names_that_are_not_ours(tmp_path):
    from seismic_diffusers.utils.training import list_checkpoints

    for name in (
        "checkpoint-500",
        "checkpoint-20",
        "checkpoint-best",
        "checkpoint-30.tmp",
        "checkpoint-7-old",
    ):
        (tmp_path / name).mkdir()
    (tmp_path / "checkpoint-40").write_text("a file, not a checkpoint")
    assert list_checkpoints(str(tmp_path)) == ["checkpoint-20", "checkpoint-500"]


def test_resume_truncates_the_log_to_the_checkpoint_step(tmp_path):
    from seismic_diffusers.utils.training import resume_from_checkpoint

    class _Loads(_SingleProcess):
        def load_state(self, path):
            self.loaded = path

    (tmp_path / "checkpoint-20").mkdir()
    (tmp_path / "checkpoint-best").mkdir()
    lines = [json.dumps({"step": s, "loss": 1.0}) for s in (10, 20, 30, 40)] + [
        '{"step": 50, "lo'
    ]  # cut by a kill
    (tmp_path / "train_log.jsonl").write_text("\n".join(lines))
    accelerator = _Loads()
    assert resume_from_checkpoint(accelerator, str(tmp_path), "latest") == 20
    assert accelerator.loaded.endswith("checkpoint-20")
    records = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20]

#!/usr/bin/env python
"""Train the frozen velocity-family classifier (the FD feature extractor) and write its Hub folder.

    python training/train_family_classifier.py --output_dir pipelines/openfwi-velocity-classifier

Trains [`FamilyClassifier`] on freshly generated synthetic families (`--data_seed`, never used by
a generator's training or a benchmark's reference sets), scores it on `--num_eval_per_family`
maps per family from `--eval_seed`, and writes `config.json`, `model.safetensors` and a README
card whose figures come from that evaluation. A few CPU minutes; the model is small enough that
Accelerate would add nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

import numpy as np
import torch
from huggingface_hub import EvalResult

from seismic_diffusers import VELOCITY_FAMILIES, generate_velocity_models
from seismic_diffusers.hub import render_model_card
from seismic_diffusers.metrics import predict_families, train_family_classifier
from seismic_diffusers.utils import machine_info


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output_dir", default="pipelines/openfwi-velocity-classifier")
    parser.add_argument("--data_seed", type=int, default=10_000, help="Seed of the training maps.")
    parser.add_argument("--num_per_family", type=int, default=1500, help="Training maps per family.")
    parser.add_argument("--steps", type=int, default=2000, help="Optimiser steps (batch 64).")
    parser.add_argument("--noise_std", type=float, default=40.0, help="Largest training noise (m/s).")
    parser.add_argument("--eval_seed", type=int, default=15_000, help="Seed of the evaluation maps.")
    parser.add_argument("--num_eval_per_family", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads.")
    args = parser.parse_args(argv)
    if args.eval_seed == args.data_seed:
        parser.error("--eval_seed must differ from --data_seed (the evaluation maps must be unseen).")
    return args


CARD = """# openfwi-velocity-classifier: the frozen feature extractor of the velocity FD

```python
import seismic_diffusers  # registers the model with transformers' Auto classes
from transformers import AutoModelForImageClassification
clf = AutoModelForImageClassification.from_pretrained("pipelines/openfwi-velocity-classifier")
```

## What it does

A small CNN ({parameters:,} parameters, `FamilyClassifier`, a `transformers.PreTrainedModel`) that
tells the eight synthetic OpenFWI-style velocity families apart. Input: velocity maps in m/s,
`(batch, 70, 70)`; output: `logits` `(batch, 8)` and `features` `(batch, {feature_dim})`.
Its features play Inception's role for FID: `seismic_diffusers.metrics.velocity_frechet_distance`
uses this frozen model by default, so every velocity FD in the project's documents is measured in
the same space. Trained once; retraining it changes every FD, so it is not retrained per benchmark.

## Data and training

{num_per_family} maps per family from `generate_velocity_models` (data seed {data_seed}, used by nothing
else), {steps} AdamW steps of 64 maps, random flips, soft interfaces and up to {noise_std:g} m/s of
(correlated) noise so that it judges structure, not texture; {minutes:.1f} min on this 2-core CPU
({threads} torch thread{plural}):

```bash
{command}
```

## Metrics

Accuracy on {num_eval} maps per family from data seed {eval_seed} (same run): **{accuracy:.3f}** overall.

| family | accuracy |
|---|---:|
{rows}

## Limitations

- It knows only the eight synthetic families; FD values in its space say nothing about real geology.
- The remaining errors are mostly between curved layers with and without a fault: some faults
  barely cut the map, so those maps are ambiguous by construction.
"""


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "python " + " ".join(shlex.quote(a) for a in (sys.argv if argv is None else [__file__, *argv]))
    start = time.perf_counter()
    classifier = train_family_classifier(
        num_per_family=args.num_per_family, seed=args.data_seed, steps=args.steps, noise_std=args.noise_std
    )
    minutes = (time.perf_counter() - start) / 60
    accuracy = {}
    for label, name in enumerate(VELOCITY_FAMILIES):
        maps = generate_velocity_models(name, args.num_eval_per_family, args.eval_seed)
        accuracy[name] = float((predict_families(classifier, maps) == label).mean())
    overall = float(np.mean(list(accuracy.values())))
    print(f"trained in {minutes:.1f} min; held-out accuracy {overall:.3f}", flush=True)

    os.makedirs(args.output_dir, exist_ok=True)
    classifier.save_pretrained(args.output_dir)
    card_text = CARD.format(
        parameters=sum(p.numel() for p in classifier.parameters()),
        feature_dim=classifier.config.feature_dim,
        num_per_family=args.num_per_family,
        data_seed=args.data_seed,
        steps=args.steps,
        noise_std=args.noise_std,
        minutes=minutes,
        threads=args.threads,
        plural="" if args.threads == 1 else "s",
        command=command.replace(
            f"python {os.path.abspath(__file__)}", "python training/train_family_classifier.py"
        ),
        num_eval=args.num_eval_per_family,
        eval_seed=args.eval_seed,
        accuracy=overall,
        rows="\n".join(f"| {name} | {value:.3f} |" for name, value in accuracy.items()),
    )
    result = EvalResult(
        task_type="image-classification", task_name="velocity-family classification",
        dataset_type="synthetic-openfwi-families", dataset_name=f"generate_velocity_models, seed {args.eval_seed}",
        metric_type="accuracy", metric_name="held-out accuracy", metric_value=round(overall, 3),
    )  # fmt: skip
    card = render_model_card(
        args.output_dir, "seismic-diffusers/openfwi-velocity-classifier", card_text=card_text,
        tags=["velocity-model", "openfwi", "frechet-distance", "transformers"], metrics=["accuracy"],
        eval_results=[result], model_name="openfwi-velocity-classifier",
    )  # fmt: skip
    card.save(os.path.join(args.output_dir, "README.md"))
    record = dict(
        command=command, machine=machine_info(), train_minutes=round(minutes, 2),
        accuracy=accuracy, accuracy_mean=overall, settings=vars(args),
    )  # fmt: skip
    with open(os.path.join(args.output_dir, "training_record.json"), "w") as f:
        json.dump(record, f, indent=2)
    print(f"wrote {args.output_dir}")


if __name__ == "__main__":
    main()

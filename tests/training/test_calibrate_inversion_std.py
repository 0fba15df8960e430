"""`training/calibrate_inversion_std.py`: the fitted factor, the report seed refused, the factor written."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from seismic_diffusers import VelocityInversionPipeline
from seismic_diffusers.data import VELOCITY_FAMILIES, generate_random_geology, generate_velocity_models
from seismic_diffusers.pipelines.pipeline_velocity_inversion import calibrate_spread


def test_the_fit_reaches_the_nominal_coverage_and_no_more(repo_script):
    script = repo_script("training/calibrate_inversion_std.py")
    rng = np.random.default_rng(0)
    spread = rng.uniform(10.0, 50.0, size=(4, 30, 30))
    depth = np.linspace(0.0, 1.0, 30)[:, None]
    truth = rng.uniform(1500.0, 4500.0, size=spread.shape)
    # errors: 2x the spread, plus a part that grows with depth and that the spread does not see
    sigma = np.sqrt((2.0 * spread) ** 2 + (20.0 + 100.0 * depth) ** 2)
    mean = truth + sigma * rng.standard_normal(spread.shape)
    scale, floor = script.fit_std_calibration(truth, mean, spread, 0.95)
    std = calibrate_spread(torch.as_tensor(spread), scale, floor).numpy()
    assert script.coverage(truth, mean, std) >= 0.95
    assert script.coverage(truth, mean, 0.97 * std) < 0.95  # no wider than it must be
    assert floor[1] > floor[0]  # the error grows with depth
    assert script.coverage(truth, mean, spread) < 0.5
    # narrower on average than the best pure rescaling of the spread
    ratio = np.abs(truth - mean) / (2.0 * spread)
    assert std.mean() < np.quantile(ratio, 0.95) * spread.mean()
    # the pipeline applies the same rule
    assert std.shape == spread.shape and np.allclose(std[:, 0], np.hypot(scale * spread[:, 0], floor[0]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data_seed", "300000"], "report set"),
        (["--random_geology", "-1"], "--random_geology must be >= 0"),
        (["--write", "--pipeline", "no/such/folder"], "no model_index.json"),
        (["--reuse", "--out", "no/such/folder"], "no calibration_samples.npz"),
        (
            ["--write", "--pipeline", "pipelines/openfwi-velocity-inversion", "--strength", "0.9"],
            "would not hold",
        ),
    ],
)
def test_the_report_seed_and_missing_folders_are_refused_before_any_work(args, message, capsys, repo_script):
    with pytest.raises(SystemExit):
        repo_script("training/calibrate_inversion_std.py").parse_args(args)
    assert message in capsys.readouterr().err


def test_refit_from_saved_samples_writes_std_scale(tiny_inversion_pipeline_dir, tmp_path, repo_script):
    script = repo_script("training/calibrate_inversion_std.py")
    folder = tmp_path / "pipeline"
    shutil.copytree(tiny_inversion_pipeline_dir, folder)
    rng = np.random.default_rng(1)
    truth = rng.uniform(2000.0, 4000.0, size=(2, 24, 24)).astype(np.float32)
    arrays = {
        "truth": truth,
        "groups": np.array(["flatvel-a", "curvefault-b"]),
        "sampling": np.array(json.dumps(script.pipeline_defaults())),
    }
    for condition, error in (("clean", 20.0), ("noisy", 40.0)):
        samples = (
            truth[:, None]
            + rng.normal(0.0, 10.0, size=(2, 4, 24, 24))
            + rng.normal(0.0, error, size=(2, 1, 24, 24))
        )
        arrays[f"{condition}_samples"] = samples.astype(np.float32)
        arrays[f"{condition}_mean"] = samples.mean(axis=1).astype(np.float32)
    out = tmp_path / "calibration"
    out.mkdir()
    np.savez_compressed(out / "calibration_samples.npz", **arrays)

    report = script.main(["--pipeline", str(folder), "--out", str(out), "--reuse", "--write"])
    assert report["std_floor"][1] > 0  # the errors are wider than the samples' spread
    for condition in ("clean", "noisy"):
        rows = report["conditions"][condition]
        assert rows["all"]["coverage_calibrated"] > rows["all"]["coverage_raw"]
        assert set(rows) == {"all", "flatvel-a", "curvefault-b"}
    saved = json.loads((out / "calibration.json").read_text())
    assert saved["std_scale"] == report["std_scale"]
    assert saved["std_floor"] == report["std_floor"]
    config = VelocityInversionPipeline.from_pretrained(folder).config
    assert config.std_scale == report["std_scale"] and list(config.std_floor) == report["std_floor"]
    assert saved["sampling"] == script.pipeline_defaults()


def test_samples_drawn_at_other_settings_are_not_written(tiny_inversion_pipeline_dir, tmp_path, repo_script):
    script = repo_script("training/calibrate_inversion_std.py")
    folder = tmp_path / "pipeline"
    shutil.copytree(tiny_inversion_pipeline_dir, folder)
    before = (folder / "model_index.json").read_text()
    truth = np.full((1, 24, 24), 3000.0, dtype=np.float32)
    arrays = {"truth": truth, "groups": np.array(["flatvel-a"])}
    for condition in ("clean", "noisy"):
        arrays[f"{condition}_samples"] = (
            np.repeat(truth[:, None], 2, axis=1) + np.arange(2.0)[None, :, None, None]
        )
        arrays[f"{condition}_mean"] = arrays[f"{condition}_samples"].mean(axis=1)
    out = tmp_path / "calibration"
    out.mkdir()
    np.savez_compressed(out / "calibration_samples.npz", **arrays)  # no sampling record
    with pytest.raises(SystemExit, match="does not record its sampling"):
        script.main(["--pipeline", str(folder), "--out", str(out), "--reuse", "--write"])
    other = {**script.pipeline_defaults(), "strength": 0.9}
    np.savez_compressed(out / "calibration_samples.npz", **arrays, sampling=np.array(json.dumps(other)))
    with pytest.raises(SystemExit, match="was sampled at"):
        script.main(["--pipeline", str(folder), "--out", str(out), "--reuse", "--write"])
    assert (folder / "model_index.json").read_text() == before
    report = script.main(["--pipeline", str(folder), "--out", str(out), "--reuse"])  # fitting alone is fine
    assert report["sampling"] == other


def test_random_geology_maps_join_the_gathers_as_their_own_group(monkeypatch, repo_script):
    script = repo_script("training/calibrate_inversion_std.py")
    sampling, seen = script.pipeline_defaults(), []

    class EchoPipeline:  # returns the truth it was given gathers of, so only the data assembly is tested
        @classmethod
        def from_pretrained(cls, path):
            return cls()

        def __call__(self, data, generator, **sampling):
            seen.append(data.shape)
            maps = torch.as_tensor(truth)
            return type("Output", (), {"velocities": maps.numpy(), "samples": maps[:, None].numpy()})

    monkeypatch.setattr(script, "VelocityInversionPipeline", EchoPipeline)
    args = script.parse_args(["--maps_per_family", "1", "--random_geology", "2", "--data_seed", "7"])
    truth = np.concatenate(
        [
            np.concatenate([generate_velocity_models(f, 1, seed=7) for f in VELOCITY_FAMILIES]),
            generate_random_geology(2, seed=7),
        ]
    )
    arrays = script.run_pipeline(args, sampling)
    np.testing.assert_array_equal(arrays["truth"], truth)
    assert arrays["groups"].tolist() == [*VELOCITY_FAMILIES, "random-geology", "random-geology"]
    assert seen == [(10, 5, 1000, 70), (10, 5, 1000, 70)]  # clean, then noisy

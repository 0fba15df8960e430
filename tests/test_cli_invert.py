"""`seismic-diffusers invert`: files, figure and scores on the tiny inversion pipeline; bad input exits 2 with nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from seismic_diffusers import forward_model
from seismic_diffusers.cli import main

FAST = ["--samples", "2", "--steps", "2", "--refine", "1"]


@pytest.fixture(scope="module")
def gathers(make_tiny_inversion_pipeline, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gathers")
    truth = torch.full((2, 24, 24), 2000.0)
    truth[:, 12:] = 3000.0
    np.save(folder / "gathers.npy", np.asarray(forward_model(truth, make_tiny_inversion_pipeline.geometry)))
    np.save(folder / "truth.npy", truth.numpy())
    return folder


def test_invert_writes_mean_std_samples_misfit_figure_and_scores(
    tiny_inversion_pipeline_dir, gathers, tmp_path, capsys
):
    out = tmp_path / "result"
    args = ["invert", str(gathers / "gathers.npy"), "-o", str(out), "--pipeline", tiny_inversion_pipeline_dir]
    assert main([*args, "--true", str(gathers / "truth.npy"), *FAST]) == 0
    mean, std = np.load(out / "mean.npy"), np.load(out / "std.npy")
    samples, misfit = np.load(out / "samples.npy"), np.load(out / "data_misfit.npy")
    assert (
        mean.shape == std.shape == (2, 24, 24) and samples.shape == (2, 2, 24, 24) and misfit.shape == (2, 2)
    )
    np.testing.assert_allclose(mean, samples.mean(axis=1), rtol=1e-5)
    assert (out / "inversion.png").stat().st_size > 10_000
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["settings"]["num_samples"] == 2 and len(metadata["scores"]) == 2
    assert {"ssim", "mae_m_per_s", "coverage_2std"} <= set(metadata["scores"][0])
    assert "mean SSIM" in capsys.readouterr().out
    assert not list(tmp_path.glob(".*"))  # no staging left behind


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda g: g[..., :20], "shape"),
        (lambda g: np.where(np.arange(g.shape[-1]) == 3, np.nan, g), "NaN"),
    ],
)
def test_bad_gathers_exit_2_and_write_nothing(
    tiny_inversion_pipeline_dir, gathers, tmp_path, capsys, edit, message
):
    bad = tmp_path / "bad.npy"
    np.save(bad, edit(np.load(gathers / "gathers.npy")))
    out = tmp_path / "result"
    with pytest.raises(SystemExit) as exit_info:
        main(["invert", str(bad), "-o", str(out), "--pipeline", tiny_inversion_pipeline_dir, *FAST])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".result*"))


def test_missing_file_wrong_truth_and_too_many_gathers_exit_2(
    tiny_inversion_pipeline_dir, gathers, tmp_path, capsys
):
    base = ["-o", str(tmp_path / "r"), "--pipeline", tiny_inversion_pipeline_dir, *FAST]
    cases = [
        (["invert", str(tmp_path / "none.npy"), *base], "does not exist"),
        (["invert", str(gathers / "gathers.npy"), "--true", str(gathers / "gathers.npy"), *base], "truth"),
        (["invert", str(gathers / "gathers.npy"), "--max-gathers", "1", *base], "max-gathers"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit):
            main(argv)
        assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()

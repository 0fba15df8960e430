"""`training/choose_denoiser_fidelity.py`: the rule, the report seed refused, the choice written and loaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from seismic_diffusers import ColdDiffusionDenoisePipeline

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = REPO_ROOT / "pipelines" / "cold-diffusion-denoiser"


def test_the_rule_takes_the_least_blending_that_keeps_raw_noise_near_the_band_pass(repo_script):
    choose = repo_script("training/choose_denoiser_fidelity.py").choose
    rows = {
        "none": {"raw_worst_level_vs_band_pass_db": -0.7},
        "10": {"raw_worst_level_vs_band_pass_db": 0.1},
        "20": {"raw_worst_level_vs_band_pass_db": -0.2},
        "30": {"raw_worst_level_vs_band_pass_db": -0.5},
    }
    assert choose(rows, 0.25) == "20"
    assert choose(rows, 0.8) == "none"  # no blend when the model alone is within the margin
    assert choose(rows, 0.0) == "10"
    worse = {
        k: {"raw_worst_level_vs_band_pass_db": v["raw_worst_level_vs_band_pass_db"] - 1}
        for k, v in rows.items()
    }
    assert choose(worse, 0.25) == "10"  # none holds: the closest to the band-pass


def test_the_report_seed_and_bad_settings_are_refused(tmp_path, capsys, repo_script):
    script = repo_script("training/choose_denoiser_fidelity.py")
    shipped = ["--pipeline", str(SHIPPED)]
    for argv, message in (
        ([*shipped, "--noise_seed", "1000"], "report seed"),
        ([*shipped, "--draws", "0"], "--draws"),
        ([*shipped, "--max_deficit_db", "-1"], "--max_deficit_db"),
        ([*shipped, "--snr_db", "inf"], "--snr_db"),
        ([*shipped, "--threads", "0"], "--threads"),
        ([*shipped, "--candidates", "nan"], "--candidates"),
        (["--pipeline", str(tmp_path)], "model_index.json"),
    ):
        with pytest.raises(SystemExit):
            script.parse_args(argv)
        assert message in capsys.readouterr().err


def test_the_choice_is_written_into_the_folder_and_loaded(tmp_path, repo_script):
    folder = tmp_path / "denoiser"
    shutil.copytree(SHIPPED, folder)
    argv = ["--pipeline", str(folder), "--draws", "1", "--snr_db", "10", "--candidates", "15", "25"]
    report = repo_script("training/choose_denoiser_fidelity.py").main(
        [*argv, "--out", str(tmp_path / "out"), "--write"]
    )
    assert report["chosen"] in ("none", "15", "25")
    assert set(report["rows"]) == {"none", "15", "25", "band-pass"}
    written = json.loads((tmp_path / "out" / "fidelity.json").read_text())
    assert written["fidelity_db"] == report["fidelity_db"]
    assert (
        ColdDiffusionDenoisePipeline.from_pretrained(str(folder)).config.fidelity_db == report["fidelity_db"]
    )
    # more blending moves the raw-noise 10 dB level toward the band-pass (the model alone loses to it)
    raw = {k: report["rows"][k]["raw_mean_gain_db_per_level"]["10"] for k in ("none", "15", "25")}
    band = report["rows"]["band-pass"]["raw_mean_gain_db_per_level"]["10"]
    assert abs(raw["15"] - band) < abs(raw["none"] - band)


def test_the_development_arrays_are_passed_with_their_rate(tmp_path, repo_script, monkeypatch):
    """A model at another rate (here 50 Hz) must be told the 100 Hz of the development arrays."""
    folder = tmp_path / "denoiser-50hz"
    shutil.copytree(SHIPPED, folder)
    processor = folder / "processor" / "processor_config.json"
    config = json.loads(processor.read_text())
    processor.write_text(json.dumps({**config, "sampling_rate": 50.0, "window_length": 1500}))
    rates = []
    call = ColdDiffusionDenoisePipeline.__call__

    def recording_call(self, waveforms, *args, **kwargs):
        rates.append(kwargs.get("sampling_rate"))
        return call(self, waveforms, *args, **kwargs)

    monkeypatch.setattr(ColdDiffusionDenoisePipeline, "__call__", recording_call)
    argv = ["--pipeline", str(folder), "--draws", "1", "--snr_db", "10", "--candidates", "20"]
    report = repo_script("training/choose_denoiser_fidelity.py").main([*argv, "--out", str(tmp_path / "out")])
    assert rates and set(rates) == {100.0}
    assert report["rows"]["none"]["in-band_median_gain_db"] > 0  # the 50 Hz model still denoises 100 Hz data

"""The generated score blocks of the Hub cards and MODEL_CARD.md match the committed benchmark JSON.

Each generator rewrites its blocks from the JSON; here it runs on copies, and the copies must come
out unchanged: a figure edited by hand, or a JSON rerun without regenerating, fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def copies(tmp_path: Path, pipeline: str) -> tuple[Path, Path]:
    folder = tmp_path / pipeline
    folder.mkdir()
    shutil.copy(REPO_ROOT / "pipelines" / pipeline / "README.md", folder / "README.md")
    shutil.copy(REPO_ROOT / "MODEL_CARD.md", tmp_path / "MODEL_CARD.md")
    return folder, tmp_path / "MODEL_CARD.md"


def assert_unchanged(folder: Path, overview: Path, pipeline: str) -> None:
    assert (folder / "README.md").read_text() == (
        REPO_ROOT / "pipelines" / pipeline / "README.md"
    ).read_text()
    assert overview.read_text() == (REPO_ROOT / "MODEL_CARD.md").read_text()


def test_denoiser_scores_are_generated_from_the_committed_json(tmp_path, repo_script):
    folder, overview = copies(tmp_path, "cold-diffusion-denoiser")
    results = REPO_ROOT / "benchmarks" / "results" / "bench_denoise.json"
    repo_script("benchmarks/denoiser_card.py").main(
        ["--results", str(results), "--pipeline", str(folder), "--model_card", str(overview)]
    )
    assert_unchanged(folder, overview, "cold-diffusion-denoiser")


@pytest.mark.parametrize("pipeline", ["openfwi-velocity-ddpm"])
def test_velocity_scores_are_generated_from_the_committed_json(tmp_path, pipeline, repo_script):
    quality = REPO_ROOT / "benchmarks" / "results" / f"velocity_quality_{pipeline}.json"
    speed = REPO_ROOT / "benchmarks" / "results" / f"velocity_speed_{pipeline}.json"
    folder, overview = copies(tmp_path, pipeline)
    arguments = ["--pipeline", str(folder), "--quality", str(quality), "--model_card", str(overview)]
    if speed.is_file():
        arguments += ["--speed", str(speed)]
    repo_script("benchmarks/velocity_card.py").main(arguments)
    assert_unchanged(folder, overview, pipeline)


@pytest.mark.parametrize(
    ("pipeline", "script", "results"),
    [
        ("openfwi-joint-ldm", "joint_card", "bench_joint.json"),
        ("conditional-waveform-vae", "waveform_card", "bench_waveform.json"),
        ("openfwi-velocity-inversion", "inversion_card", "bench_inversion.json"),
    ],
)
def test_benchmark_scores_are_generated_from_the_committed_json(
    tmp_path, pipeline, script, results, repo_script
):
    folder, overview = copies(tmp_path, pipeline)
    results = REPO_ROOT / "benchmarks" / "results" / results
    arguments = ["--results", str(results), "--pipeline", str(folder), "--model_card", str(overview)]
    augmentation = REPO_ROOT / "benchmarks" / "results" / "bench_joint_augmentation.json"
    if script == "joint_card" and augmentation.is_file():
        arguments += ["--augmentation_results", str(augmentation)]
    repo_script(f"benchmarks/{script}.py").main(arguments)
    assert_unchanged(folder, overview, pipeline)


def test_joint_card_names_the_two_encoder_inversion_row(repo_script):
    """A two-encoder autoencoder's bench_joint JSON has one inversion row, the velocity sampled given
    the seismic; the card labels it and takes its SSIM as the headline."""
    import json

    module = repo_script("benchmarks/joint_card.py")
    results = json.loads((REPO_ROOT / "benchmarks" / "results" / "bench_joint.json").read_text())
    results["inversion"] = {"pairs": 8, "sampled_given_seismic_N4": {"MAE": 0.02, "RMSE": 0.05, "SSIM": 0.81}}
    block = module.scores_block("openfwi-joint-ldm", results)
    assert "| velocity sampled given the seismic, best of 4 by forward modelling | 30 | 75 | 0.810 |" in block
    assert "stage-1 encoding" not in block
    assert [r.metric_value for r in module.eval_results(results) if r.metric_type == "ssim"] == [0.81]
    # with a latent operator the guided row (invert's default) is the headline
    results["inversion"]["operator_guided_N4"] = {"MAE": 0.01, "RMSE": 0.04, "SSIM": 0.9}
    block = module.scores_block("openfwi-joint-ldm", results)
    assert "| velocity sampled given the seismic, best of 4 by forward modelling | 30 | 75 | 0.810 |" in block
    assert "latent operator (`invert`'s default), best of 4 | 15 | 60 | 0.900 |" in block
    assert [r.metric_value for r in module.eval_results(results) if r.metric_type == "ssim"] == [0.9]
    results["inversion"] = {"pairs": 0}
    with pytest.raises(ValueError, match="no inversion rows"):
        module.eval_results(results)


def test_joint_card_reports_the_operator_rows_and_the_fd_when_scored(repo_script):
    """A pipeline with a latent forward operator: random latents through the operator and samples
    without it are both in the table, and the FD ratio is stated; an older JSON has neither."""
    import json

    module = repo_script("benchmarks/joint_card.py")
    results = json.loads((REPO_ROOT / "benchmarks" / "results" / "bench_joint.json").read_text())
    for key in ("b_random_latents_with_operator", "c_diffusion_samples_without_operator", "fd"):
        results.pop(key, None)
    results["inversion"] = {"pairs": 8, "sampled_given_seismic_N4": {"MAE": 0.02, "RMSE": 0.05, "SSIM": 0.81}}
    assert "operator" not in module.scores_block("openfwi-joint-ldm", results)  # an older JSON
    results["b_random_latents_with_operator"] = {"mean": 0.0014, "median": 0.0013, "n": 100}
    results["c_diffusion_samples_without_operator"] = {"mean": 0.0072, "median": 0.0060, "n": 100}
    results["fd"] = {"maps": 100, "ratio": 1.054, "random_latents_ratio": 1.558}
    block = module.scores_block("openfwi-joint-ldm", results)
    assert "| decoded random latents, seismic half from the operator | 0.0013 | 0.0014 | 100 |" in block
    assert "| diffusion samples, decoded seismic half (no operator) | 0.0060 | 0.0072 | 100 |" in block
    assert "(100 maps): 1.05x the baseline" in block and "decoded random latents: 1.56x" in block


def test_joint_card_reports_the_augmentation_bench(repo_script):
    """bench_joint_augmentation's JSON, when given, becomes a table in m/s with the seed count."""
    import json

    module = repo_script("benchmarks/joint_card.py")
    results = json.loads((REPO_ROOT / "benchmarks" / "results" / "bench_joint.json").read_text())
    row = {"training_pairs": 570, "MAE": 0.18, "RMSE": 0.27, "SSIM": 0.52}
    augmentation = {
        "command": "python benchmarks/bench_joint_augmentation.py ...",
        "run_minutes": 83.0,
        "held_out_pairs": 300,
        "training_seeds": [0, 1, 2],
        "rows": {
            "real 10%": row,
            "real 10% + 500 generated pairs": {**row, "training_pairs": 1070, "MAE": 0.17, "SSIM": 0.53,
                                               "seeds_better_than_real_subset": 2},
        },
    }  # fmt: skip
    block = module.scores_block("openfwi-joint-ldm", results, augmentation)
    assert "| real 10% | 570 | 270 | 0.520 |  |" in block
    assert "| real 10% + 500 generated pairs | 1070 | 255 | 0.530 | 2 of 3 |" in block
    assert "mean of 3 training seeds" in block and "300 held-out pairs" in block
    augmentation.update(evaluated_on=["data/joint-8-report"], real_weight=0.75, finetune_fraction=0.3)
    block = module.scores_block("openfwi-joint-ldm", results, augmentation)
    assert "300 pairs of data/joint-8-report, mean of 3" in block
    assert "(75% of each batch real; the last 30% of steps on the real pairs alone)" in block


def test_joint_card_refuses_a_missing_augmentation_file_before_writing(tmp_path, capsys, repo_script):
    folder, overview = copies(tmp_path, "openfwi-joint-ldm")
    before = (folder / "README.md").read_text()
    with pytest.raises(SystemExit):
        repo_script("benchmarks/joint_card.py").main(
            ["--pipeline", str(folder), "--augmentation_results", str(tmp_path / "missing.json")]
        )
    assert "no such file" in capsys.readouterr().err
    assert (folder / "README.md").read_text() == before


def test_denoiser_overview_shows_the_peer_and_the_ideal_mask_as_a_ceiling(repo_script):
    import json

    result = json.loads((REPO_ROOT / "benchmarks" / "results" / "bench_denoise.json").read_text())
    card = repo_script("benchmarks/denoiser_card.py")
    for condition, ceiling, gating in (("in-band", 6.27, 1.5), ("raw", 11.5, 9.99)):
        rows = result["real_medians"][condition]
        for name in [n for n in rows if n.startswith(card.CEILING)]:
            del rows[name]
        rows["ceiling: ideal time-frequency mask (knows the event)"] = {"median_gain_db": ceiling}
        rows[card.GATING] = {"median_gain_db": gating}
    header, rule, in_band, raw = card.overview_block(result).splitlines()[1:5]
    assert header.endswith("| ideal time-frequency mask (a ceiling: it knows the event) |")
    assert "| band-pass 1-20 Hz | band-pass + spectral gating (no model) | shipped, direct |" in header
    assert rule.count("---:") == 5 and header.count("|") == rule.count("|")
    assert in_band.endswith("| +6.27 |") and raw.endswith("| +11.50 |")
    # The ceiling is never the bold best; the peer is, where it wins.
    assert "**+6.27**" not in in_band and in_band.count("**") == 2
    assert "**+9.99**" in raw and raw.count("**") == 2
    # An older JSON without the two rows gives the older four-column table.
    for rows in result["real_medians"].values():
        for name in [n for n in rows if n.startswith(card.CEILING) or n == card.GATING]:
            del rows[name]
    header, rule = card.overview_block(result).splitlines()[1:3]
    assert header.count("|") == 5 and rule.count("---:") == 3 and "ceiling" not in header


def test_denoiser_card_checks_the_pick_rule_per_condition_level_and_phase(repo_script):
    card = repo_script("benchmarks/denoiser_card.py")
    scores = {"p_recall_0.1s": 0.5, "s_recall_0.1s": 0.5}
    real = {
        condition: {
            level: {"noisy input": dict(scores), card.DIRECT: dict(scores), card.ADAPTED: dict(scores)}
            for level in ("0", "10")
        }
        for condition in ("in-band", "raw")
    }
    real["raw"]["10"][card.DIRECT]["s_recall_0.1s"] = 0.25
    real["in-band"]["0"][card.ADAPTED]["p_recall_0.1s"] = 0.75  # above the input: held
    line = card.pick_recall_line({"real_development_set": real})
    assert "direct 7 of 8 held (below: raw 10 dB S 0.25 against 0.50)" in line
    assert "adapted 8 of 8 held." in line


def test_inversion_card_describes_the_set_and_a_split_run_from_the_json(repo_script):
    """The held-out set (data seed, families, hand-drawn count) and a run split by --conditions come from
    the JSON, not from text in the script."""
    import json

    module = repo_script("benchmarks/inversion_card.py")
    results = json.loads((REPO_ROOT / "benchmarks" / "results" / "bench_inversion.json").read_text())
    results["data_seed"] = 123456
    families = dict.fromkeys(g for g in results["groups"] if g != "hand-drawn")
    results["groups"] = [f for f in families for _ in range(3)] + ["hand-drawn"] * 8
    results["maps"] = len(results["groups"])
    results["processes"] = [{"command": "a", "run_minutes": 61.4}, {"command": "b", "run_minutes": 70.6}]
    block = module.scores_block("openfwi-velocity-inversion", results)
    assert "2 processes, one per condition" in block and "61 and 71 min" in block
    assert "and 8 hand-drawn maps" in block and "8 families x 3 maps" in block
    names = {r.dataset_name for r in module.eval_results(results)}
    assert names == {"8 families (data seed 123456) and 8 hand-drawn maps"}

"""bench_joint_augmentation: how generated pairs are mixed in, the generated-pair cache, and a tiny end-to-end run."""

import json
import shutil

import numpy as np
import pytest
import torch


@pytest.fixture
def bench(repo_script):
    return repo_script("benchmarks/bench_joint_augmentation.py")


def _pairs(count: int, value: float) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.full((count, 5, 4, 3), value).half(), torch.full((count, 70, 70), value)


def test_real_weight_sets_the_share_of_real_pairs_in_a_batch(bench):
    source = bench.PairSource(_pairs(10, 0.0), _pairs(90, 1.0), real_weight=0.75)
    _, maps = source.batch(np.random.default_rng(0), 4000)
    assert maps.shape == (4000, 1, 70, 70)
    assert (maps[:, 0, 0, 0] == 0).float().mean().item() == pytest.approx(0.75, abs=0.03)
    uniform = bench.PairSource(_pairs(10, 0.0), _pairs(90, 1.0))
    _, maps = uniform.batch(np.random.default_rng(0), 4000)
    assert (maps[:, 0, 0, 0] == 0).float().mean().item() == pytest.approx(0.10, abs=0.03)


def test_finetune_steps_draw_only_real_pairs(bench):
    source = bench.PairSource(_pairs(10, 0.0), _pairs(90, 1.0), finetune_from=5)
    rng = np.random.default_rng(0)
    assert (source.batch(rng, 256, step=4)[1] == 1).any()
    assert (source.batch(rng, 256, step=5)[1] == 0).all()
    seismic, _ = source.batch(rng, 8, step=9)
    assert seismic.dtype == torch.float32 and seismic.shape == (8, 5, 4, 3)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--real_weight", "0"], "--real_weight"),
        (["--finetune_fraction", "1"], "--finetune_fraction"),
        (["--real_fraction", "0"], "--real_fraction"),
        (["--generated", "0"], "--generated"),
        (["--generated_cache", "pairs.pt"], ".npz"),
        (["--eval_dir", "missing/"], "--eval_dir must not repeat a --data_dir folder"),
    ],
)
def test_bad_settings_are_refused_before_any_work(bench, capsys, arguments, message):
    with pytest.raises(SystemExit):
        bench.parse_args(["--data_dir", "missing", *arguments])
    assert message in capsys.readouterr().err


def test_generated_pairs_are_cached_and_regenerated_for_other_settings(
    bench, tiny_joint_pipeline_dir, tmp_path, monkeypatch
):
    cache = tmp_path / "generated.npz"
    common = ["--pipeline", tiny_joint_pipeline_dir, "--data_dir", "x", "--sampler_steps", "2"]
    args = bench.parse_args([*common, "--generated", "2", "--generated_cache", str(cache)])
    velocities, seismic, simulated = bench.generated_pairs(args)
    assert velocities.shape == (2, 70, 70) and seismic.shape == simulated.shape == (2, 5, 1000, 70)
    assert cache.is_file() and not list(tmp_path.glob("*partial*"))

    def refuse(*_, **__):
        raise AssertionError("the cache should have been read")

    with monkeypatch.context() as patch:
        patch.setattr(bench.JointGenerationPipeline, "from_pretrained", refuse)
        again = bench.generated_pairs(args)
    for fresh, cached in zip((velocities, seismic, simulated), again, strict=True):
        torch.testing.assert_close(fresh, cached, rtol=0, atol=0)

    other = bench.parse_args([*common, "--generated", "1", "--generated_cache", str(cache)])
    assert len(bench.generated_pairs(other)[0]) == 1
    assert json.loads(str(np.load(cache)["key"]))["generated"] == 1


def test_a_cache_made_from_other_weights_is_not_read(bench, tiny_joint_pipeline_dir, tmp_path, capsys):
    pipeline = tmp_path / "pipeline"
    shutil.copytree(tiny_joint_pipeline_dir, pipeline)
    args = bench.parse_args(
        ["--pipeline", str(pipeline), "--data_dir", "x", "--sampler_steps", "2", "--generated", "1",
         "--generated_cache", str(tmp_path / "generated.npz")]
    )  # fmt: skip
    bench.generated_pairs(args)
    config_file = pipeline / "scheduler" / "scheduler_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "num_train_timesteps": 50}))
    bench.generated_pairs(args)
    assert "made with other settings; generating anew" in capsys.readouterr().out


def test_an_npz_without_a_cache_key_is_regenerated_over(bench, tiny_joint_pipeline_dir, tmp_path, capsys):
    cache = tmp_path / "generated.npz"
    np.savez(cache, velocities=np.zeros(1))
    args = bench.parse_args(
        ["--pipeline", tiny_joint_pipeline_dir, "--data_dir", "x", "--sampler_steps", "2", "--generated", "1",
         "--generated_cache", str(cache)]
    )  # fmt: skip
    assert bench.generated_pairs(args)[0].shape == (1, 70, 70)
    assert "generating anew" in capsys.readouterr().out and "key" in np.load(cache).files


def test_a_tiny_run_scores_every_pair_of_eval_dir(bench, tiny_joint_pipeline_dir, tmp_path):
    from seismic_diffusers.data import make_paired_dataset

    make_paired_dataset(tmp_path / "train", "flatvel-a", num=10, shard_size=10, seed=0, progress=False)
    make_paired_dataset(tmp_path / "report", "curvefault-b", num=3, shard_size=3, seed=1, progress=False)
    results = bench.main(
        [
            "--pipeline", tiny_joint_pipeline_dir, "--data_dir", str(tmp_path / "train"),
            "--eval_dir", str(tmp_path / "report"), "--real_fraction", "0.5", "--generated", "2",
            "--sampler_steps", "2", "--train_steps", "2", "--batch_size", "2", "--width", "2",
            "--training_seeds", "0", "--finetune_fraction", "0.5", "--real_weight", "0.5",
            "--out", str(tmp_path / "out"),
        ]
    )  # fmt: skip
    assert results["held_out_pairs"] == 3 and results["evaluated_on"] == [str(tmp_path / "report")]
    assert results["finetune_fraction"] == 0.5 and results["real_weight"] == 0.5
    rows = results["rows"]
    assert [row["training_pairs"] for row in rows.values()] == [
        4,
        6,
        6,
        9,
    ]  # 9 training pairs (one held out), round(4.5) = 4
    for row in rows.values():
        assert np.isfinite([row["MAE"], row["RMSE"], row["SSIM"]]).all()
    assert json.loads((tmp_path / "out" / "bench_joint_augmentation.json").read_text()) == results

"""bench_inversion: the hand-drawn map sets and the argument checks."""

import numpy as np
import pytest


@pytest.fixture
def bench(repo_script):
    return repo_script("benchmarks/bench_inversion.py")


def test_hand_drawn_sets_are_disjoint_maps_in_range(bench):
    first, second = bench.hand_drawn_maps("first"), bench.hand_drawn_maps("second")
    assert len(first) == 4 and len(second) == 8 and not set(first) & set(second)
    maps = np.stack([*first.values(), *second.values()])
    assert maps.shape == (12, 70, 70) and maps.dtype == np.float32
    assert maps.min() >= bench.V_MIN and maps.max() <= bench.V_MAX
    for v in maps:  # every map has structure: at least three distinct velocities
        assert len(np.unique(v)) >= 3
    for a in range(len(maps)):
        for b in range(a):
            assert np.abs(maps[a] - maps[b]).mean() > 50.0
    assert bench.hand_drawn_maps("none") == {}
    with pytest.raises(ValueError, match="which"):
        bench.hand_drawn_maps("third")


def test_skip_baselines_needs_a_pipeline_and_training_seeds_are_refused(bench):
    with pytest.raises(SystemExit):
        bench.parse_args(["--skip_baselines"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--data_seed", "0"])
    args = bench.parse_args(["--skip_baselines", "--inversion_pipeline", "p", "--hand_drawn", "second"])
    assert args.skip_baselines and args.hand_drawn == "second"
    assert args.conditions == ["clean", "noisy"]
    assert bench.parse_args(["--conditions", "noisy"]).conditions == ["noisy"]
    with pytest.raises(SystemExit):
        bench.parse_args(["--conditions", "loud"])


def _part(condition: str, minutes: float, command_tail: str = "") -> dict:
    command = (
        "python benchmarks/bench_inversion.py --inversion_pipeline p --data_seed 310000 "
        f"--conditions {condition} --threads 1 --out runs/{condition}{command_tail}"
    )
    rows = {"VelocityInversionPipeline (4 samples)": {"scores": {"all": {"ssim": 0.7}}}}
    return {
        "command": command,
        "data_seed": 310000,
        "maps": 2,
        "groups": ["flatvel-a", "hand-drawn"],
        "conditions": {condition if condition == "clean" else "10 dB": rows},
        "run_minutes": minutes,
    }


def test_merge_joins_the_conditions_of_one_split_run(bench, tmp_path):
    import json

    merged = bench.merge_results([_part("clean", 30.0), _part("noisy", 40.0)])
    assert list(merged["conditions"]) == ["clean", "10 dB"]
    assert (
        merged["command"]
        == "python benchmarks/bench_inversion.py --inversion_pipeline p --data_seed 310000 --threads 1"
    )
    assert merged["run_minutes"] == 70.0 and [p["run_minutes"] for p in merged["processes"]] == [30.0, 40.0]
    assert merged["groups"] == ["flatvel-a", "hand-drawn"] and merged["data_seed"] == 310000
    paths = []
    for part in (_part("clean", 30.0), _part("noisy", 40.0)):
        paths.append(tmp_path / f"{len(paths)}.json")
        paths[-1].write_text(json.dumps(part))
    bench.main(["--merge", *map(str, paths), "--out", str(tmp_path / "out")])
    assert json.loads((tmp_path / "out" / "bench_inversion.json").read_text()) == merged


def test_merge_refuses_parts_of_different_runs(bench):
    with pytest.raises(ValueError, match="different runs"):
        bench.merge_results([_part("clean", 1.0), _part("noisy", 1.0, " --snr_db 5")])
    with pytest.raises(ValueError, match="twice"):
        bench.merge_results([_part("clean", 1.0), _part("clean", 1.0)])
    other_maps = _part("noisy", 1.0)
    other_maps["groups"] = ["flatvel-b", "hand-drawn"]
    with pytest.raises(ValueError, match="different maps"):
        bench.merge_results([_part("clean", 1.0), other_maps])
    with pytest.raises(ValueError, match="at least two"):
        bench.merge_results([_part("clean", 1.0)])


def test_merge_refuses_other_options_and_files_that_are_not_bench_results(bench, tmp_path, capsys):
    import json

    part = tmp_path / "clean.json"
    part.write_text(json.dumps(_part("clean", 1.0)))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"scores": [0.7]}))
    with pytest.raises(SystemExit):
        bench.main(["--merge", str(part), str(part), "--threads", "1", "--snr_db", "5"])
    assert "takes only --out; drop --snr_db --threads" in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"part 2 is not a bench_inversion.py result: it lacks \['command'"):
        bench.main(["--merge", str(part), str(other), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="cannot read"):
        bench.main(["--merge", str(part), str(tmp_path / "missing.json"), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_rows_scored_so_far_are_saved_and_merge_refuses_them(bench, tmp_path):
    import json

    results = _part("clean", 1.0)
    del results["run_minutes"]  # a run still going (or killed) has no run time
    bench.save_partial(tmp_path, results)
    saved = json.loads((tmp_path / bench.PARTIAL_NAME).read_text())
    assert (
        saved["conditions"]["clean"]["VelocityInversionPipeline (4 samples)"]["scores"]["all"]["ssim"] == 0.7
    )
    with pytest.raises(ValueError, match=r"lacks \['run_minutes'\]"):
        bench.merge_results([saved, _part("noisy", 1.0)])

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

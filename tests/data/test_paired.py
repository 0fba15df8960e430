"""make_paired_dataset / `seismic-diffusers make-dataset`: layout, determinism, crash safety, sharding."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from seismic_diffusers.cli import main
from seismic_diffusers.data import OpenFWIDataset, generate_velocity_models, make_paired_dataset
from seismic_diffusers.physics import AcquisitionGeometry, forward_model


def npy_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.npy"))


def test_tiny_dataset_end_to_end_is_openfwi_layout_and_physical(tmp_path):
    written = make_paired_dataset(tmp_path, "flatfault-a", num=3, shard_size=2, seed=7, progress=False)
    assert npy_files(tmp_path) == ["data/data1.npy", "data/data2.npy", "model/model1.npy", "model/model2.npy"]
    assert len(written) == 4 and (tmp_path / "geometry_config.json").is_file()
    assert AcquisitionGeometry.from_pretrained(tmp_path).data_shape == (5, 1000, 70)

    dataset = OpenFWIDataset(tmp_path, family="flatfault-a", with_seismic=True)
    assert len(dataset) == 3
    sample = dataset[2]
    assert tuple(sample["velocity"].shape) == (1, 70, 70) and tuple(sample["seismic"].shape) == (5, 1000, 70)
    # Shard 2 holds map 2 of the seeded stream, and its data are that map's forward model.
    expected_map = generate_velocity_models("flatfault-a", 3, seed=7)[2]
    np.testing.assert_array_equal(np.load(tmp_path / "model/model2.npy")[0, 0], expected_map)
    np.testing.assert_array_equal(np.load(tmp_path / "data/data2.npy")[0], forward_model(expected_map)[0])


def test_same_seed_same_files_and_several_families_get_subfolders(tmp_path):
    for run in ("a", "b"):
        assert (
            main(
                [
                    "make-dataset",
                    "--family",
                    "flatvel-a,curvevel-b",
                    "--num",
                    "2",
                    "--out",
                    str(tmp_path / run),
                ]
            )
            == 0
        )
    files = npy_files(tmp_path / "a")
    assert (
        files
        == npy_files(tmp_path / "b")
        == [
            f"{family}/{kind}/{kind}1.npy"
            for family in ("curvevel-b", "flatvel-a")
            for kind in ("data", "model")
        ]
    )
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_sigkill_mid_run_then_rerun_finishes_with_exactly_the_expected_shards(tmp_path):
    out = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "seismic_diffusers",
        "make-dataset",
        "--family",
        "curvefault-b",
        "--num",
        "8",
        "--shard-size",
        "2",
        "--batch-size",
        "1",
        "--out",
        str(out),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "data" / "data1.npy").exists():
        assert process.poll() is None and time.monotonic() < deadline, "no shard written before the kill"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished_before_kill = npy_files(out)
    assert 2 <= len(finished_before_kill) < 8
    for name in finished_before_kill:  # every visible file is whole
        np.load(out / name)

    assert subprocess.run(command, env=env, capture_output=True).returncode == 0
    assert npy_files(out) == sorted(
        [f"data/data{k}.npy" for k in range(1, 5)] + [f"model/model{k}.npy" for k in range(1, 5)]
    )
    assert not list(out.rglob("*.partial*"))
    clean = tmp_path / "clean"
    make_paired_dataset(clean, "curvefault-b", num=8, shard_size=2, progress=False)
    for name in npy_files(out):
        assert (out / name).read_bytes() == (clean / name).read_bytes()


def test_two_processes_write_disjoint_shards(tmp_path):
    # Two concurrent processes, told their rank the way `accelerate launch` tells them.
    command = [
        sys.executable,
        "-m",
        "seismic_diffusers",
        "make-dataset",
        "--family",
        "flatvel-b",
        "--num",
        "6",
        "--shard-size",
        "2",
        "--out",
        str(tmp_path),
    ]
    processes = [
        subprocess.Popen(
            command,
            env={**os.environ, "RANK": str(r), "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for r in (0, 1)
    ]
    reports = [p.communicate(timeout=300)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    assert "wrote 2 shard(s)" in reports[0] and "wrote 1 shard(s)" in reports[1]
    assert npy_files(tmp_path) == sorted(
        [f"data/data{k}.npy" for k in (1, 2, 3)] + [f"model/model{k}.npy" for k in (1, 2, 3)]
    )
    mine = [
        make_paired_dataset(
            tmp_path / "again", "flatvel-b", 6, 2, process_index=r, num_processes=2, progress=False
        )
        for r in (0, 1)
    ]
    assert {p.name for p in mine[0]} == {"model1.npy", "data1.npy", "model3.npy", "data3.npy"}
    assert {p.name for p in mine[1]} == {"model2.npy", "data2.npy"}


def test_a_late_first_process_accepts_shards_another_already_wrote(tmp_path):
    # Rank 1 finishing a shard before rank 0 has started must not make rank 0 refuse the folder.
    later = make_paired_dataset(tmp_path, "flatvel-b", 4, 2, process_index=1, num_processes=2, progress=False)
    assert {p.name for p in later} == {"model2.npy", "data2.npy"}
    first = make_paired_dataset(tmp_path, "flatvel-b", 4, 2, process_index=0, num_processes=2, progress=False)
    assert {p.name for p in first} == {"model1.npy", "data1.npy"}
    assert (tmp_path / "dataset.json").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--family", "saltdome", "--num", "2"],
            "Unknown velocity family 'saltdome'. Valid families: flatvel-a",
        ),
        (["--family", "flatvel-a", "--num", "0"], "`num` must be >= 1"),
        (["--family", "flatvel-a", "--num", "2", "--shard-size", "0"], "`shard_size` must be >= 1"),
        (["--family", "flatvel-a", "flatvel-a", "--num", "2"], "repeated"),
        (["--family", "flatvel-a", "--num", "2", "--seismic-dtype", "float64"], "invalid choice: 'float64'"),
        (
            ["--family", "flatvel-a", "--num", "2", "--process-index", "2", "--num-processes", "2"],
            r"process_index must be in \[0, 1\]",
        ),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["make-dataset", "--out", str(tmp_path / "out"), *args])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "changed, message",
    [
        (["--seed", "1"], "seed 0 there, 1 now"),
        (["--shard-size", "3"], "shard_size 2 there, 3 now"),
        (["--num", "5"], "num_per_family 4 there, 5 now"),
        (["--seismic-dtype", "float16"], "seismic_dtype 'float32' there, 'float16' now"),
    ],
)
def test_resuming_with_other_settings_is_refused_and_names_the_setting(tmp_path, capsys, changed, message):
    base = {"--family": "flatvel-a", "--num": "4", "--shard-size": "2", "--seed": "0"}
    args = dict(base, **dict(zip(changed[::2], changed[1::2], strict=True)))
    out = tmp_path / "out"
    # a first run killed after its first shard: only model1/data1 and the manifest are there
    make_paired_dataset(out, "flatvel-a", num=2, shard_size=2, seed=0, progress=False)
    manifest = (out / "dataset.json").read_text().replace('"num_per_family": 2', '"num_per_family": 4')
    # as written before --seismic-dtype existed: a missing type means float32
    manifest = manifest.replace('  "seismic_dtype": "float32",\n', "")
    assert "seismic_dtype" not in manifest
    (out / "dataset.json").write_text(manifest)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) as exit_info:
        main(["make-dataset", "--out", str(out), *[x for kv in args.items() for x in kv]])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "was started with other settings" in err and message in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # manifest untouched


def test_shards_without_a_manifest_are_not_mixed_into(tmp_path):
    (tmp_path / "model").mkdir()
    np.save(tmp_path / "model" / "model1.npy", np.zeros((2, 1, 70, 70), np.float32))
    with pytest.raises(ValueError, match="already holds shards .* but no dataset.json"):
        make_paired_dataset(tmp_path, "flatvel-a", num=2, shard_size=2, progress=False)


def test_out_that_is_a_file_exits_2(tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main(["make-dataset", "--out", str(out), "--family", "flatvel-a", "--num", "1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "exists and is not a folder" in err and "Traceback" not in err


def test_float16_seismic_files_are_the_float32_data_rounded_and_read_as_float32(tmp_path):
    make_paired_dataset(tmp_path, "flatvel-a", num=1, seed=3, seismic_dtype="float16", progress=False)
    stored = np.load(tmp_path / "data/data1.npy")
    assert stored.dtype == np.float16 and np.load(tmp_path / "model/model1.npy").dtype == np.float32
    expected = forward_model(generate_velocity_models("flatvel-a", 1, seed=3))
    np.testing.assert_array_equal(stored, expected.astype(np.float16))
    assert '"seismic_dtype": "float16"' in (tmp_path / "dataset.json").read_text()
    item = OpenFWIDataset(tmp_path, family="flatvel-a", with_seismic=True)[0]
    assert item["seismic"].dtype == torch.float32
    np.testing.assert_allclose(item["seismic"].numpy(), expected[0], rtol=2**-11, atol=1e-7)


def test_seismic_values_beyond_float16_raise_before_the_shard_is_written(tmp_path, monkeypatch):
    import seismic_diffusers.physics as physics

    monkeypatch.setattr(physics, "forward_model", lambda v, g, **kw: np.full((len(v), *g.data_shape), 7e4))
    with pytest.raises(ValueError, match="up to 7e\\+04 exceed float16's range"):
        make_paired_dataset(tmp_path, "flatvel-a", num=1, seismic_dtype="float16", progress=False)
    assert npy_files(tmp_path) == []

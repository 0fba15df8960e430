"""`seismic-diffusers` CLI: generate / info / push on the tiny fixture pipeline (2 steps, CPU)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seismic_diffusers import VelocityProcessor, __version__
from seismic_diffusers.cli import main

STEPS = "2"


def generate(pipeline_dir, out, *extra):
    return main(
        ["generate", "velocity", "--pipeline", str(pipeline_dir), "--steps", STEPS, "--out", str(out), *extra]
    )


@pytest.fixture(scope="module")
def generated(tiny_velocity_pipeline_dir, tmp_path_factory):
    """One run: 3 maps, two families cycled, seed 0, one chunk."""
    out = tmp_path_factory.mktemp("cli") / "samples"
    assert (
        generate(tiny_velocity_pipeline_dir, out, "--num", "3", "--family", "curvefault-a", "flatvel-a") == 0
    )
    return out


def test_generate_writes_velocities_metadata_and_png(generated, tiny_velocity_pipeline_dir):
    velocities = np.load(generated / "velocities.npy")
    assert velocities.shape == (3, 70, 70)
    assert velocities.dtype == np.float32
    assert velocities.min() >= 1500.0 and velocities.max() <= 4500.0
    assert velocities.std() > 0

    png = (generated / "velocities.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000

    metadata = json.loads((generated / "metadata.json").read_text())
    assert metadata["families"] == ["curvefault-a", "flatvel-a", "curvefault-a"]
    assert metadata["seeds"] == [0, 1, 2]
    assert metadata["steps"] == 2 and metadata["timesteps"] == [999, 500]
    assert metadata["pipeline"] == str(tiny_velocity_pipeline_dir)
    assert metadata["units"] == "m/s"
    assert "DPMSolverMultistepScheduler" in metadata["scheduler"]
    # nothing but the outputs, and no staging folder left beside them
    assert sorted(p.name for p in generated.iterdir()) == [
        "metadata.json",
        "velocities.npy",
        "velocities.png",
    ]
    assert [p.name for p in generated.parent.iterdir()] == ["samples"]


def test_same_seed_is_deterministic_and_independent_of_batch_size(
    generated, tiny_velocity_pipeline_dir, tmp_path
):
    reference = np.load(generated / "velocities.npy")
    args = ("--num", "3", "--family", "curvefault-a,flatvel-a")  # commas work like spaces
    generate(tiny_velocity_pipeline_dir, tmp_path / "again", *args)
    np.testing.assert_array_equal(np.load(tmp_path / "again" / "velocities.npy"), reference)

    # per-sample generators: chunks of 2 + 1 give the same maps, up to batched-conv rounding
    # (which the untrained tiny model amplifies at a few pixels, so compare loosely)
    generate(tiny_velocity_pipeline_dir, tmp_path / "chunked", *args, "--batch-size", "2")
    chunked = np.load(tmp_path / "chunked" / "velocities.npy")
    np.testing.assert_allclose(chunked, reference, atol=30.0)  # 1% of the 3000 m/s range
    assert np.abs(chunked - reference).mean() < 0.1


def test_unconditional_any_and_other_scheduler_into_existing_folder(tiny_velocity_pipeline_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    generate(tiny_velocity_pipeline_dir, out, "--num", "2", "--scheduler", "ddim", "--seed", "7")
    metadata = json.loads((out / "metadata.json").read_text())
    # each 'any' map draws its family from the training mix with its own generator, as the pipeline does
    processor = VelocityProcessor.from_pretrained(tiny_velocity_pipeline_dir, subfolder="processor")
    drawn = [
        processor.families[processor.draw_family_labels(1, torch.Generator().manual_seed(s))[0]]
        for s in (7, 8)
    ]
    assert metadata["families"] == [f"any: {name}" for name in drawn]
    assert metadata["seeds"] == [7, 8]
    assert "DDIMScheduler" in metadata["scheduler"]
    assert metadata["steps"] == 2 and metadata["guidance_scale"] == 1.0  # the pipeline's default
    assert np.load(out / "velocities.npy").shape == (2, 70, 70)
    assert (out / "keep.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # staging folder removed


def test_timestep_power_spaces_the_steps(tiny_velocity_pipeline_dir, tmp_path):
    main(
        ["generate", "velocity", "--pipeline", str(tiny_velocity_pipeline_dir), "--steps", "4", "--num", "1"]
        + ["--timestep-power", "2", "--out", str(tmp_path / "out")]
    )
    metadata = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert metadata["timesteps"] == [999, 562, 250, 62]  # 999 (1 - i/4)^2


def test_bfloat16_weights_write_float32_velocities(generated, tiny_velocity_pipeline_dir, tmp_path):
    generate(
        tiny_velocity_pipeline_dir, tmp_path / "bf16", *"--num 2 --scheduler ddim --dtype bfloat16".split()
    )
    velocities = np.load(tmp_path / "bf16" / "velocities.npy")
    assert velocities.dtype == np.float32 and velocities.shape == (2, 70, 70)
    assert velocities.min() >= 1500.0 and velocities.max() <= 4500.0
    assert json.loads((tmp_path / "bf16" / "metadata.json").read_text())["dtype"] == "bfloat16"
    assert json.loads((generated / "metadata.json").read_text())["dtype"] == "float32"


def test_unknown_family_exits_2_naming_valid_families(tiny_velocity_pipeline_dir, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as excinfo:
        generate(tiny_velocity_pipeline_dir, out, "--num", "3", "--family", "curvefault-a", "granite")
    assert excinfo.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "granite" in err
    assert "curvefault-a" in err and "flatvel-b" in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--steps", "0"), "--steps must be an integer >= 1"),
        (("--num", "0"), "--num must be an integer >= 1"),
        (("--batch-size", "0"), "--batch-size must be an integer >= 1"),
        (("--guidance-scale", "0.5"), "--guidance-scale must be a number from 1.0 (no guidance) to 20"),
        (("--guidance-scale", "nan"), "--guidance-scale must be a number from 1.0 (no guidance) to 20"),
        (("--guidance-scale", "inf"), "--guidance-scale must be a number from 1.0 (no guidance) to 20"),
        (("--guidance-scale", "1e30"), "--guidance-scale must be a number from 1.0 (no guidance) to 20"),
        (("--steps", "1000000000"), "`num_inference_steps` must be an integer from 1 to the scheduler's"),
        (("--guidance-scale", "strong"), "--guidance-scale takes a number or FAMILY=SCALE pairs"),
        (("--guidance-scale", "2", "3"), "--guidance-scale takes FAMILY=SCALE pairs, got '2'"),
        (
            ("--guidance-scale", "flatvel-a=0.5"),
            "--guidance-scale 'flatvel-a=0.5': the scale must be a number from 1 (unguided) to 20",
        ),
        (("--guidance-scale", "saltdome=2"), "Unknown family 'saltdome' in `guidance_scale`"),
        (
            ("--guidance-scale", "flatvel-a=3", "FlatVel_A=1.5"),
            "--guidance-scale flatvel-a is given twice (3 and 1.5); give each family once",
        ),
        (("--timestep-power", "0"), "The timestep spacing power must be a number > 0"),
        (("--timestep-power", "2", "--scheduler", "ddim"), "DDIMScheduler does not take custom timesteps"),
    ],
)
def test_bad_numbers_exit_2_before_writing(tiny_velocity_pipeline_dir, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as excinfo:
        generate(tiny_velocity_pipeline_dir, out, *extra)
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {message}" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["missing", "pipelines/missing"])
def test_missing_pipeline_folder_exits_2(tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipelines").mkdir()  # `pipelines/missing` looks like a Hub id but its parent is local
    with pytest.raises(SystemExit) as excinfo:
        main(["generate", "velocity", "--pipeline", name, "--out", "out", "--steps", STEPS])
    assert excinfo.value.code == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_info_prints_families_scheduler_and_size(tiny_velocity_pipeline_dir, capsys):
    assert main(["info", "--pipeline", str(tiny_velocity_pipeline_dir)]) == 0
    out = capsys.readouterr().out
    assert "curvefault-a" in out
    assert "DPMSolverMultistepScheduler" in out
    assert "parameters" in out
    assert "25 steps, guidance 1, timestep spacing power 1 (defaults)" in out


def test_per_family_default_guidance_reaches_info_metadata_and_title(
    tiny_velocity_pipeline_dir, tmp_path, capsys
):
    from seismic_diffusers import VelocityGenerationPipeline

    tuned = tmp_path / "tuned"
    pipe = VelocityGenerationPipeline.from_pretrained(tiny_velocity_pipeline_dir)
    VelocityGenerationPipeline(
        **pipe.components, **(pipe.sampling_defaults | {"default_guidance_scale": {"curvefault-a": 2.0}})
    ).save_pretrained(str(tuned))
    assert main(["info", "--pipeline", str(tuned)]) == 0
    assert "guidance curvefault-a 2, timestep spacing power" in capsys.readouterr().out
    generate(tuned, tmp_path / "out", "--num", "1", "--family", "curvefault-a")
    metadata = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert metadata["guidance_scale"] == {"curvefault-a": 2.0}
    # FAMILY=SCALE pairs on the command line replace the saved mapping
    generate(
        tuned, tmp_path / "pairs", "--num", "1", "--family", "curvefault-a", "--guidance-scale", "FlatVel_A=3"
    )
    metadata = json.loads((tmp_path / "pairs" / "metadata.json").read_text())
    assert metadata["guidance_scale"] == {"flatvel-a": 3.0}
    # ... and flatvel-a being the only guided family, this curvefault-a map is the unguided one
    generate(tuned, tmp_path / "plain", "--num", "1", "--family", "curvefault-a", "--guidance-scale", "1")
    np.testing.assert_array_equal(
        np.load(tmp_path / "pairs" / "velocities.npy"), np.load(tmp_path / "plain" / "velocities.npy")
    )


def test_push_uploads_through_hub(tiny_velocity_pipeline_dir, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    calls = []

    class FakeApi:
        def create_repo(self, **kwargs):
            calls.append(("create_repo", kwargs))

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs))

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    folder = shutil.copytree(tiny_velocity_pipeline_dir, tmp_path / "pipe")
    argv = ["push", "--pipeline", str(folder), "--repo-id", "org/tiny", "--tag", "velocity"]
    assert main(argv) == 0
    assert [name for name, _ in calls] == ["create_repo", "upload_folder"]
    assert calls[1][1]["repo_id"] == "org/tiny" and calls[1][1]["folder_path"] == str(folder)
    assert "velocity" in (folder / "README.md").read_text()
    assert "org/tiny" in capsys.readouterr().out

    with pytest.raises(SystemExit) as excinfo:
        main(["push", "--pipeline", str(folder), "--repo-id", "not-an-id"])
    assert excinfo.value.code == 2


def test_version(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["--version"])
    assert excinfo.value.code == 0
    assert capsys.readouterr().out.strip() == f"seismic-diffusers {__version__}"


def test_console_script_reports_bad_input_without_traceback(tmp_path):
    script = Path(sys.executable).with_name("seismic-diffusers")  # installed by setup.py's entry point
    command = [str(script)] if script.exists() else [sys.executable, "-m", "seismic_diffusers"]
    out = tmp_path / "out"
    argv = ["generate", "velocity", "--pipeline", str(tmp_path / "nope"), "--out", str(out)]
    result = subprocess.run([*command, *argv], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: pipeline folder")
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_an_interrupted_generation_resumes_from_its_saved_chunks(
    tiny_velocity_pipeline_dir, tmp_path, monkeypatch
):
    from seismic_diffusers import VelocityGenerationPipeline

    reference = tmp_path / "reference"
    assert generate(tiny_velocity_pipeline_dir, reference, "--num", "5", "--batch-size", "2") == 0

    calls, kill = [], [True]
    original = VelocityGenerationPipeline.__call__

    def killed_on_the_second_chunk(self, *args, **kwargs):
        calls.append(kwargs["batch_size"])
        if len(calls) == 2 and kill[0]:
            raise RuntimeError("killed")  # as a kill mid-run
        return original(self, *args, **kwargs)

    out = tmp_path / "out"
    monkeypatch.setattr(VelocityGenerationPipeline, "__call__", killed_on_the_second_chunk)
    with pytest.raises(RuntimeError, match="killed"):
        generate(tiny_velocity_pipeline_dir, out, "--num", "5", "--batch-size", "2")
    assert not out.exists() and [p.name for p in (tmp_path / ".out.partial").glob("chunk-*")] == [
        "chunk-000000.npy"
    ]

    calls.clear()
    kill[0] = False
    assert generate(tiny_velocity_pipeline_dir, out, "--num", "5", "--batch-size", "2") == 0
    assert calls == [2, 1]  # chunk 0 was kept; chunks 1 and 2 were generated
    np.testing.assert_array_equal(np.load(out / "velocities.npy"), np.load(reference / "velocities.npy"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "reference"]  # work folder gone


def test_a_work_folder_of_other_settings_is_not_reused(tiny_velocity_pipeline_dir, tmp_path):
    work = tmp_path / ".out.partial"
    work.mkdir()
    (work / "settings.json").write_text("{}")
    np.save(work / "chunk-000000.npy", np.zeros((2, 70, 70), np.float32))
    assert generate(tiny_velocity_pipeline_dir, tmp_path / "out", "--num", "2") == 0
    assert np.load(tmp_path / "out" / "velocities.npy").min() >= 1500  # not the zeros


@pytest.mark.parametrize("out", ["/proc/samples", "/proc/self/new/samples"])
def test_unwritable_out_exits_2_before_loading(tiny_velocity_pipeline_dir, capsys, out):
    with pytest.raises(SystemExit) as excinfo:
        generate(tiny_velocity_pipeline_dir, out)
    err = capsys.readouterr().err
    assert excinfo.value.code == 2 and "cannot write into" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv0, preset, expected",
    [
        ("seismic-diffusers", None, "PASSIVE"),
        ("seismic-diffusers", "ACTIVE", "ACTIVE"),
        ("my_script.py", None, None),
    ],
)
def test_the_command_line_sets_a_passive_openmp_wait_policy_unless_chosen(argv0, preset, expected):
    import os

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if preset:
        env["OMP_WAIT_POLICY"] = preset
    code = (
        f"import sys; sys.argv = [{argv0!r}]; import seismic_diffusers, os; "
        "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.stdout.split() == [str(expected), "True"]

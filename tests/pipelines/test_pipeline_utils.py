"""What every pipeline shares (`pipelines/pipeline_utils.py`): loading checks, step bounds, NaN outputs."""

from __future__ import annotations

import json
import shutil
import tracemalloc

import numpy as np
import pytest
import torch

from seismic_diffusers import (
    ColdDiffusionDenoisePipeline,
    JointGenerationPipeline,
    VelocityGenerationPipeline,
)
from seismic_diffusers.cli import main


def test_a_folder_of_another_pipeline_class_is_refused_naming_both(
    tiny_velocity_pipeline_dir, tiny_denoise_pipeline_dir
):
    with pytest.raises(
        ValueError, match="holds a ColdDiffusionDenoisePipeline, not a VelocityGenerationPipeline"
    ):
        VelocityGenerationPipeline.from_pretrained(tiny_denoise_pipeline_dir)
    with pytest.raises(ValueError, match="holds a VelocityGenerationPipeline, not a JointGenerationPipeline"):
        JointGenerationPipeline.from_pretrained(tiny_velocity_pipeline_dir)


@pytest.mark.parametrize("command", [["info"], ["generate", "velocity", "--out", "OUT"]])
def test_cli_pointed_at_the_denoiser_folder_exits_2_without_traceback(
    tiny_denoise_pipeline_dir, tmp_path, capsys, command
):
    argv = [tmp_path.joinpath("out").as_posix() if part == "OUT" else part for part in command]
    with pytest.raises(SystemExit) as info:
        main([*argv, "--pipeline", tiny_denoise_pipeline_dir])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "not a VelocityGenerationPipeline" in err and "Traceback" not in err
    assert not tmp_path.joinpath("out").exists()


@pytest.mark.parametrize(
    "component, file, key, value",
    [
        ("scheduler", "scheduler_config.json", "num_train_timesteps", 10**10),
        ("unet", "config.json", "block_out_channels", [20_000, 20_000]),
        ("unet", "config.json", "sample_size", float("nan")),
    ],
)
def test_config_memory_bombs_are_refused_before_anything_is_built(
    tiny_velocity_pipeline_dir, tmp_path, component, file, key, value
):
    folder = tmp_path / "bomb"
    shutil.copytree(tiny_velocity_pipeline_dir, folder)
    path = folder / component / file
    config = json.loads(path.read_text())
    config[key] = value
    path.write_text(json.dumps(config))
    tracemalloc.start()
    with pytest.raises(ValueError, match=f"{key} = .* is beyond this library's limit"):
        VelocityGenerationPipeline.from_pretrained(folder)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50e6


def test_a_huge_denoiser_window_is_refused_at_load(tiny_denoise_pipeline_dir, tmp_path, capsys):
    folder = tmp_path / "bomb"
    shutil.copytree(tiny_denoise_pipeline_dir, folder)
    path = folder / "processor" / "processor_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "window_length": 10**12}))
    with pytest.raises(ValueError, match="window_length = 1000000000000 is beyond"):
        ColdDiffusionDenoisePipeline.from_pretrained(folder)
    # the CLI says so in one line
    source = tmp_path / "in.mseed"
    import obspy

    obspy.Stream(
        [obspy.Trace(np.zeros(500, np.float32), header={"channel": "HHZ", "sampling_rate": 100})]
    ).write(str(source), format="MSEED")
    with pytest.raises(SystemExit) as info:
        main(["denoise", str(source), "-o", str(tmp_path / "out.mseed"), "--pipeline", str(folder)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "window_length" in err and "Traceback" not in err


@pytest.mark.parametrize("steps", [10**9, 1001, 0, True, 2.5])
def test_velocity_steps_are_bounded_before_any_allocation(tiny_velocity_pipeline, steps):
    tracemalloc.start()
    with pytest.raises(
        ValueError, match="`num_inference_steps` must be an integer from 1 to the scheduler's"
    ):
        tiny_velocity_pipeline(num_inference_steps=steps)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10e6


def test_joint_steps_are_bounded_in_generation_and_inversion(make_tiny_joint_pipeline):
    pipe = make_tiny_joint_pipeline()
    with pytest.raises(ValueError, match="`num_inference_steps` must be an integer from 1"):
        pipe(num_inference_steps=10**9)
    with pytest.raises(ValueError, match="`num_inference_steps` must be an integer from 1"):
        pipe.invert(np.zeros((5, 1000, 70), np.float32), num_inference_steps=10**9, refine_steps=1)


def test_denoiser_steps_are_bounded(tiny_denoise_pipeline):
    with pytest.raises(ValueError, match=r"from 1 to the scheduler's num_train_timesteps \(10\)"):
        tiny_denoise_pipeline(np.zeros((3, 500)), num_inference_steps=10**9)


@pytest.mark.parametrize("batch_size", [True, 2.0, "2", 0])
def test_batch_size_must_be_a_real_integer(tiny_velocity_pipeline, batch_size):
    with pytest.raises(ValueError, match="`batch_size` must be an integer >= 1"):
        tiny_velocity_pipeline(batch_size=batch_size, num_inference_steps=2)


@pytest.mark.parametrize("scale", [float("inf"), 1e30, float("nan"), 0.5, {"flatvel-a": float("inf")}])
def test_guidance_scale_outside_its_range_is_refused(tiny_velocity_pipeline, scale):
    with pytest.raises(ValueError, match="must be a number from 1.0 \\(no guidance\\) to 20"):
        tiny_velocity_pipeline(family="flatvel-a", guidance_scale=scale, num_inference_steps=2)


def _poisoned(pipe, model_name: str):
    with torch.no_grad():
        for parameter in getattr(pipe, model_name).parameters():
            parameter.fill_(float("nan"))
    return pipe


def test_nan_weights_give_an_error_not_nan_maps(tiny_velocity_pipeline_dir):
    pipe = _poisoned(VelocityGenerationPipeline.from_pretrained(tiny_velocity_pipeline_dir), "unet")
    pipe.set_progress_bar_config(disable=True)
    with pytest.raises(ValueError, match="The model produced NaN or Inf velocity maps"):
        pipe(batch_size=2, num_inference_steps=3)


def test_nan_weights_in_the_denoiser_write_no_file(tiny_denoise_pipeline_dir, tmp_path, capsys):
    import obspy

    folder = tmp_path / "poisoned"
    clean = ColdDiffusionDenoisePipeline.from_pretrained(tiny_denoise_pipeline_dir)
    _poisoned(clean, "unet").save_pretrained(str(folder))
    source, target = tmp_path / "in.mseed", tmp_path / "out.mseed"
    trace = obspy.Trace(
        np.random.default_rng(0).normal(size=800), header={"channel": "HHZ", "sampling_rate": 100}
    )
    obspy.Stream([trace]).write(str(source), format="MSEED")
    with pytest.raises(SystemExit) as info:
        main(["denoise", str(source), "-o", str(target), "--pipeline", str(folder)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "produced NaN or Inf" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mseed", "poisoned"]


def test_a_subclass_loads_its_parents_folder(tiny_velocity_pipeline_dir):
    class MyVelocityPipeline(VelocityGenerationPipeline):
        pass

    assert isinstance(MyVelocityPipeline.from_pretrained(tiny_velocity_pipeline_dir), MyVelocityPipeline)

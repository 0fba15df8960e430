"""The Space's "Invert gathers" tab through `gradio_client`, on a tiny untrained inversion pipeline.

`$SEISMIC_DIFFUSERS_INVERSION_PIPELINE` points a separate copy of the app at a tiny pipeline on
OpenFWI's geometry; `space_inversion.INVERSION_SETTINGS` cuts its deepwave runs to a few.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio_client", reason="gradio_client is not installed: pip install -e '.[dev]'")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from seismic_diffusers import OPENFWI, forward_model, generate_velocity_models  # noqa: E402

ENV = "SEISMIC_DIFFUSERS_INVERSION_PIPELINE"
APP_PATH = Path(__file__).resolve().parents[2] / "spaces_app" / "app.py"


@pytest.fixture(scope="module")
def inversion_space(load_space_app, launch_space_app, tiny_velocity_pipeline, tmp_path_factory):
    from diffusers import DPMSolverMultistepScheduler

    from seismic_diffusers import VelocityInversionPipeline, VelocityProcessor

    folder = tmp_path_factory.mktemp("inversion-pipeline")
    VelocityInversionPipeline(
        unet=tiny_velocity_pipeline.unet,
        scheduler=DPMSolverMultistepScheduler(beta_schedule="squaredcos_cap_v2"),
        processor=VelocityProcessor(mean_profiles=[np.linspace(1800.0, 3600.0, 70).tolist()] * 9),
        geometry=OPENFWI,
    ).save_pretrained(folder)
    saved = os.environ.get(ENV)
    os.environ[ENV] = str(folder)
    try:
        module = load_space_app(APP_PATH, "inversion_space_app")
        module.space_inversion.INVERSION_SETTINGS = {
            "num_inference_steps": 1,
            "refine_iterations": 0,
            "start_iterations": 2,
        }
        demo = launch_space_app(module)
        client = Client(
            demo.local_url,
            verbose=False,
            analytics_enabled=False,
            download_files=tmp_path_factory.mktemp("inv"),
        )
        yield module, client
        demo.close()
    finally:
        if saved is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = saved


def test_invert_the_example_and_an_upload(inversion_space, tmp_path):
    _, client = inversion_space
    figure, mean, std, summary = client.predict(
        "example", "flatvel-b", 3, None, 2, 0, api_name="/invert_gathers"
    )
    assert Path(figure).read_bytes().startswith(b"\x89PNG")
    assert np.load(mean).shape == (1, 70, 70) and np.load(std).shape == (1, 70, 70)
    assert float(np.load(std).mean()) > 0
    assert "SSIM" in summary and "coverage" in summary and "2 posterior sample(s)" in summary
    path = tmp_path / "gathers.npy"
    np.save(path, np.asarray(forward_model(generate_velocity_models("flatvel-a", 2, seed=5))))
    _, mean, _, summary = client.predict(
        "upload", "flatvel-b", 0, handle_file(str(path)), 1, 0, api_name="/invert_gathers"
    )
    assert np.load(mean).shape == (2, 70, 70) and "SSIM" not in summary


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((5, 999, 70), np.float32), "seismic must have shape (5, 1000, 70)"),
        (np.full((5, 1000, 70), np.nan, np.float32), "NaN or Inf"),
        (np.zeros((3, 5, 1000, 70), np.float32), "holds 3 gathers; this Space inverts up to 2"),
    ],
)
def test_bad_uploads_are_readable_errors(inversion_space, tmp_path, array, message):
    _, client = inversion_space
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(AppError) as error:
        client.predict("upload", "flatvel-b", 0, handle_file(str(path)), 1, 0, api_name="/invert_gathers")
    assert message in str(error.value) and "Traceback" not in str(error.value)


@pytest.mark.parametrize(
    "inputs, message",
    [
        (("example", "flatvel-b", 0, None, 5, 0), "Posterior samples must be from 1 to 4; got 5"),
        (("example", "flatvel-b", 100, None, 1, 0), "Example must be from 0 to 99; got 100"),
        (("example", "no-such-family", 0, None, 1, 0), "Unknown family"),
    ],
)
def test_bad_settings_are_readable_errors(inversion_space, inputs, message):
    _, client = inversion_space
    with pytest.raises(AppError) as error:
        client.predict(*inputs, api_name="/invert_gathers")
    assert message in str(error.value)

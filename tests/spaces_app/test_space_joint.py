"""The Space's joint seismic-velocity tab through `gradio_client`, on a tiny untrained pipeline.

The tab appears only when a joint pipeline exists; here `$SEISMIC_DIFFUSERS_JOINT_PIPELINE`
points a separate copy of the app at a tiny one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio_client", reason="gradio_client is not installed: pip install -e '.[dev]'")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from seismic_diffusers import forward_model, generate_velocity_models  # noqa: E402

ENV = "SEISMIC_DIFFUSERS_JOINT_PIPELINE"
APP_PATH = Path(__file__).resolve().parents[2] / "spaces_app" / "app.py"


@pytest.fixture(scope="module")
def joint_space(load_space_app, launch_space_app, tiny_joint_pipeline_dir, tmp_path_factory):
    saved = os.environ.get(ENV)
    os.environ[ENV] = tiny_joint_pipeline_dir
    try:
        module = load_space_app(APP_PATH, "joint_space_app")
        demo = launch_space_app(module)
        client = Client(
            demo.local_url,
            verbose=False,
            analytics_enabled=False,
            download_files=tmp_path_factory.mktemp("joint"),
        )
        yield module, client
        demo.close()
    finally:
        if saved is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = saved


def test_the_tab_exists_only_with_a_pipeline(joint_space, space_app, monkeypatch):
    _, client = joint_space
    api = client.view_api(print_info=False, return_format="dict")
    assert {"/generate_joint", "/invert_seismic"} <= set(api["named_endpoints"])
    monkeypatch.delenv(ENV)
    if space_app.JOINT.source is None:  # no bundled joint pipeline (yet): no tab, no endpoints
        assert not [fn for fn in space_app.build_app().fns.values() if fn.api_name == "generate_joint"]


def test_generate_pairs_with_their_deviation(joint_space):
    _, client = joint_space
    figure, velocities, seismic, summary = client.predict(2, 5, 3, api_name="/generate_joint")
    assert Path(figure).read_bytes().startswith(b"\x89PNG")
    v, s = np.load(velocities), np.load(seismic)
    assert v.shape == (2, 70, 70) and v.min() >= 1500 and v.max() <= 4500
    assert s.shape == (2, 5, 1000, 70) and np.isfinite(s).all()
    assert "| #1 | 3 |" in summary and "| #2 | 4 |" in summary and "PDE deviation" in summary


def test_invert_the_example_and_an_upload(joint_space, tmp_path):
    _, client = joint_space
    figure, velocities, summary = client.predict("example", None, 2, 2, 0, api_name="/invert_seismic")
    assert np.load(velocities).shape == (1, 70, 70)
    assert "true map: MAE" in summary and "best of 2 over the last 2" in summary
    gathers = forward_model(generate_velocity_models("flatvel-a", 3, seed=5))
    path = tmp_path / "gathers.npy"
    np.save(path, gathers)
    _, velocities, summary = client.predict(
        "upload", handle_file(str(path)), 1, 0, 0, api_name="/invert_seismic"
    )
    assert np.load(velocities).shape == (3, 70, 70)
    assert "stage-1 encoding" in summary and "true map" not in summary


def write(tmp_path, name, array=None, text=None):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    else:
        np.save(path, array)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: write(p, "notes.npy", text="velocity, depth"), "'notes.npy' is not a readable .npy array"),
        (
            lambda p: write(p, "short.npy", np.zeros((5, 999, 70), np.float32)),
            "seismic must have shape (5, 1000, 70)",
        ),
        (lambda p: write(p, "nan.npy", np.full((5, 1000, 70), np.nan, np.float32)), "NaN or Inf"),
        (
            lambda p: write(p, "many.npy", np.zeros((9, 5, 1000, 70), np.float32)),
            "holds 9 records; this Space inverts up to 8",
        ),
        (lambda p: None, "No file uploaded"),
    ],
)
def test_bad_uploads_are_readable_errors(joint_space, tmp_path, make, message):
    _, client = joint_space
    path = make(tmp_path)
    with pytest.raises(AppError) as error:
        client.predict(
            "upload", handle_file(str(path)) if path else None, 1, 0, 0, api_name="/invert_seismic"
        )
    assert message in str(error.value) and "Traceback" not in str(error.value)


@pytest.mark.parametrize(
    "endpoint, inputs, message",
    [
        ("/generate_joint", (5, 5, 0), "Number of pairs must be from 1 to 4; got 5"),
        ("/generate_joint", (1, 2, 0), "Inference steps must be from 5 to 100; got 2"),
        ("/invert_seismic", ("example", None, 0, 1, 0), "Candidates must be from 1 to 8; got 0"),
        ("/invert_seismic", ("example", None, 1, 51, 0), "Refined steps must be from 0 to 50; got 51"),
    ],
)
def test_out_of_range_values_name_the_range(joint_space, endpoint, inputs, message):
    _, client = joint_space
    with pytest.raises(AppError, match=message):
        client.predict(*inputs, api_name=endpoint)


def test_a_two_encoder_pipeline_keeps_its_operator_in_both_modes(
    joint_space, make_tiny_two_encoder_joint_pipeline, monkeypatch
):
    """The bundled pipeline has two encoders and a latent operator: the tab's private copies keep the
    operator, and inversion samples the velocity half (the refined-steps slider does not apply)."""
    import torch

    from seismic_diffusers import LatentForwardOperator

    module, _ = joint_space
    tab = module.space_joint
    torch.manual_seed(1)
    operator = LatentForwardOperator(half_channels=2, width=8, dilations=(1, 2)).eval()
    pipe = make_tiny_two_encoder_joint_pipeline(operator)
    copy = tab.private_copy(pipe)
    assert copy.latent_operator is operator and copy.scheduler is not pipe.scheduler
    monkeypatch.setattr(tab.common.JOINT, "get", lambda: pipe)
    _, velocities, summary = tab.invert_seismic("example", None, 2, 7, 0)
    assert np.load(velocities).shape == (1, 70, 70)
    assert "pulled toward the data through the latent operator, best of 2" in summary
    assert "deepwave's gathers for the estimate" in summary and "true map: MAE" in summary

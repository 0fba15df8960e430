"""The Space through `gradio_client`, against the bundled pipeline on 127.0.0.1 (few steps, small N)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("gradio_client", reason="gradio_client is not installed: pip install -e '.[dev]'")
from gradio_client import Client  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

ENDPOINT = "/generate_velocity"
STEPS = 2


def generate(client, family="curvefault-a", num=2, steps=STEPS, seed=0, scheduler="default"):
    return client.predict(family, num, steps, seed, scheduler, api_name=ENDPOINT)


def check_velocities(path, num):
    assert Path(path).suffix == ".npy"
    velocities = np.load(path)
    assert velocities.shape == (num, 70, 70)
    assert velocities.dtype == np.float32
    assert velocities.min() >= 1500.0 and velocities.max() <= 4500.0
    assert velocities.std() > 10.0  # maps, not a constant
    return velocities


def check_png(path):
    data = Path(path).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_every_public_endpoint_is_covered(client, space_app):
    """Adding a tab adds an endpoint: this fails until the new endpoint has tests here."""
    api = client.view_api(print_info=False, return_format="dict")
    expected = {ENDPOINT, "/denoise_seismogram"}  # + test_space_denoise.py
    if space_app.JOINT.source is not None:  # a bundled joint pipeline: test_space_joint.py
        expected |= {"/generate_joint", "/invert_seismic"}
    if space_app.WAVEFORM.source is not None:  # test_space_waveform.py
        expected |= {"/generate_waveforms"}
    if space_app.INVERSION.source is not None:  # test_space_inversion.py
        expected |= {"/invert_gathers"}
    assert set(api["named_endpoints"]) == expected
    assert not api["unnamed_endpoints"]
    parameters = [p["parameter_name"] for p in api["named_endpoints"][ENDPOINT]["parameters"]]
    assert parameters == ["family", "num_samples", "steps", "seed", "scheduler"]


def test_generate_velocity_returns_maps_figure_and_summary(client):
    shown, npy, png, summary = generate(client, family="curvefault-a", num=3, seed=5)
    check_velocities(npy, 3)
    check_png(shown)
    check_png(png)
    assert Path(npy).name == "velocity_curvefault-a_n3_seed5.npy"
    assert "m/s" in summary and "(3, 70, 70)" in summary
    assert "--num 3 --family curvefault-a --steps 2 --seed 5" in summary


@pytest.mark.parametrize("scheduler", ["dpmsolver++", "ddim", "ddpm"])
def test_every_scheduler(client, scheduler):
    _, npy, _, summary = generate(client, family="any", num=1, scheduler=scheduler)
    check_velocities(npy, 1)
    assert f"--scheduler {scheduler}" in summary


def test_same_seed_same_maps_as_the_cli(client, tmp_path):
    """Map i uses seed + i in both: the Space's command line reproduces its maps."""
    from seismic_diffusers.cli import main

    _, npy, _, summary = generate(client, family="flatvel-b", num=2, seed=11)
    command = re.search(r"seismic-diffusers generate velocity (.*) --out", summary, re.S).group(1)
    command = command.replace("\\", " ").split()
    assert main(["generate", "velocity", *command, "--out", str(tmp_path)]) == 0
    np.testing.assert_allclose(np.load(npy), np.load(tmp_path / "velocities.npy"), atol=0.5)
    _, again, _, _ = generate(client, family="flatvel-b", num=2, seed=11)
    np.testing.assert_array_equal(np.load(npy), np.load(again))


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"num": 17}, "Number of maps must be from 1 to 16; got 17"),
        ({"num": 0}, "Number of maps must be from 1 to 16; got 0"),
        ({"num": 2.5}, "Number of maps must be a whole number"),
        ({"num": "many"}, "Number of maps must be a number from 1 to 16"),
        ({"steps": 0}, "Inference steps must be from 1 to 100; got 0"),
        ({"steps": 101}, "Inference steps must be from 1 to 100; got 101"),
        ({"seed": -1}, "Seed must be from 0 to 2147483647; got -1"),
        ({"seed": 2**31}, "Seed must be from 0 to 2147483647"),
        ({"family": "marmousi"}, "Unknown family 'marmousi'; choose 'any' or one of: flatvel-a"),
        ({"scheduler": "euler"}, "Unknown scheduler 'euler'; choose one of: default, dpmsolver++"),
    ],
)
def test_bad_input_is_a_readable_error(client, inputs, message):
    with pytest.raises(AppError) as error:
        generate(client, **inputs)
    assert message in str(error.value)
    assert "Traceback" not in str(error.value) and 'File "' not in str(error.value)


def test_an_error_does_not_break_the_next_request(client):
    with pytest.raises(AppError):
        generate(client, num=99)
    check_velocities(generate(client, num=1)[1], 1)


def test_unexpected_failure_is_a_short_error(space_app, monkeypatch):
    """Anything the pipeline raises reaches the user as one readable line, not a traceback."""
    import gradio as gr

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    pipe = space_app.VELOCITY.get()
    monkeypatch.setattr(type(pipe), "__call__", broken)
    with pytest.raises(gr.Error, match=r"Generation failed \(RuntimeError: out of memory\)"):
        space_app.generate_velocity("any", 1, STEPS, 0, "default")


def test_eight_concurrent_clients_each_get_their_own_complete_answer(space_url, space_app, tmp_path):
    """8 clients at once: none is lost, and each gets the maps for its own seed and family."""
    families = ["any", *space_app.velocity_families()[:7]]
    start = threading.Barrier(len(families))

    def one(index):
        client = Client(
            space_url, verbose=False, analytics_enabled=False, download_files=tmp_path / f"client{index}"
        )
        start.wait(timeout=60)
        return generate(client, family=families[index], num=1, seed=100 + index)

    with ThreadPoolExecutor(len(families)) as pool:
        results = list(pool.map(one, range(len(families))))

    for index, (shown, npy, _png, _summary) in enumerate(results):
        check_png(shown)
        assert Path(npy).name == f"velocity_{families[index]}_n1_seed{100 + index}.npy"
        velocities = check_velocities(npy, 1)
        _, expected, _, _ = space_app.generate_velocity(families[index], 1, STEPS, 100 + index, "default")
        np.testing.assert_array_equal(velocities, np.load(expected))


def test_queue_has_a_concurrency_limit(space_url, space_app):
    demo = space_app.build_app()
    assert demo._queue.max_size == space_app.QUEUE_MAX_SIZE >= 8
    [generate_fn] = [fn for fn in demo.fns.values() if fn.api_name == "generate_velocity"]
    assert generate_fn.concurrency_limit == 1
    assert generate_fn.concurrency_id == space_app.CONCURRENCY_ID


# ----------------------------------------------------------------------------------------------
# loading: lazy, once, from the repository (not the working directory) or an environment variable


def test_default_source_is_the_bundled_folder_whatever_the_working_directory(
    space_app, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(space_app.VELOCITY.env_var, raising=False)
    assert Path(space_app.VELOCITY.source) == REPO_ROOT / "pipelines" / "openfwi-velocity-ddpm"
    assert space_app.VELOCITY.source_for_display() == "pipelines/openfwi-velocity-ddpm"


def test_default_steps_are_the_pipelines_tuned_ones(space_app, monkeypatch):
    monkeypatch.delenv(space_app.VELOCITY.env_var, raising=False)
    index = json.loads((REPO_ROOT / "pipelines" / "openfwi-velocity-ddpm" / "model_index.json").read_text())
    assert space_app.velocity_default_steps() == index.get("default_num_inference_steps", 25)


def copy_space(space: Path) -> Path:
    """The Space's modules copied into `space` as README.md's "Deploying" copies them: app.py, space_*.py."""
    space.mkdir(parents=True)
    for module in [REPO_ROOT / "spaces_app" / "app.py", *(REPO_ROOT / "spaces_app").glob("space_*.py")]:
        shutil.copy(module, space / module.name)
    return space / "app.py"


def test_deployed_space_layout_finds_the_pipeline_beside_app_py(load_space_app, tmp_path, monkeypatch):
    """A Space repo holds app.py and its tab modules with pipelines/<name>/ beside them (README.md, "Deploying")."""
    space = tmp_path / "space"
    app_path = copy_space(space)
    (space / "pipelines").mkdir()
    (space / "pipelines" / "openfwi-velocity-ddpm").symlink_to(
        REPO_ROOT / "pipelines" / "openfwi-velocity-ddpm"
    )
    monkeypatch.delenv("SEISMIC_DIFFUSERS_VELOCITY_PIPELINE", raising=False)
    deployed = load_space_app(app_path, "deployed_space_app")
    assert Path(deployed.VELOCITY.source) == space / "pipelines" / "openfwi-velocity-ddpm"
    assert deployed.velocity_families()[0] == "flatvel-a"
    # every tab module comes from the copy, not from the repository's spaces_app/ loaded before it
    for name in deployed.SPACE_MODULES:
        assert Path(getattr(deployed, name).__file__).parent == space


def test_each_load_of_the_app_has_its_own_tab_modules_and_slots(space_app, load_space_app):
    """Two loads of app.py (the session's and, e.g., the joint tests' one) share no pipeline slot."""
    again = load_space_app(REPO_ROOT / "spaces_app" / "app.py", "second_space_app")
    assert again.space_common is not space_app.space_common and again.VELOCITY is not space_app.VELOCITY
    # each tab reads the slots of its own load's space_common
    assert space_app.generate_velocity.__wrapped__.__globals__["common"] is space_app.space_common
    assert again.generate_velocity.__wrapped__.__globals__["common"] is again.space_common


def test_app_py_runs_as_a_script_from_its_own_folder(tmp_path):
    """As on Hugging Face: `python app.py` in the Space's folder (the tab modules found beside it)."""
    app_path = copy_space(tmp_path / "space")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=app_path.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(300, process.kill)  # a start-up that hangs fails instead
    watchdog.start()
    try:
        lines = []
        for line in process.stdout:  # ends when the process exits (an import error, say)
            lines.append(line)
            if "Running on local URL" in line:
                break
        assert "Running on local URL" in "".join(lines), "".join(lines)
    finally:
        watchdog.cancel()
        process.terminate()
        process.wait(timeout=30)


def test_pipeline_loads_lazily_once_and_from_the_environment_variable(
    space_app, tiny_velocity_pipeline_dir, monkeypatch
):
    calls = []

    def loader(source):
        calls.append(source)
        return object()

    slot = space_app.PipelineSlot("openfwi-velocity-ddpm", "TEST_SPACE_PIPELINE", loader)
    assert calls == []  # nothing loaded until first use
    monkeypatch.setenv("TEST_SPACE_PIPELINE", tiny_velocity_pipeline_dir)
    first = slot.get()
    assert slot.get() is first and calls == [tiny_velocity_pipeline_dir]
    monkeypatch.setenv("TEST_SPACE_PIPELINE", "org/name")
    assert slot.source == "org/name" and slot.hub_id == "org/name"


def test_missing_pipeline_is_a_readable_error(space_app, monkeypatch):
    import gradio as gr

    monkeypatch.delenv("TEST_SPACE_PIPELINE", raising=False)
    slot = space_app.PipelineSlot("no-such-pipeline", "TEST_SPACE_PIPELINE", lambda source: None)
    with pytest.raises(gr.Error, match=r"pipelines/no-such-pipeline/ is missing and \$TEST_SPACE_PIPELINE"):
        slot.get()


# ----------------------------------------------------------------------------------------------
# the Space's own files


def front_matter(readme: Path) -> dict:
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    block = text[4 : text.index("\n---", 4)]
    import yaml

    return yaml.safe_load(block)


def test_space_readme_front_matter_matches_the_tested_gradio():
    import gradio

    meta = front_matter(REPO_ROOT / "spaces_app" / "README.md")
    assert meta["sdk"] == "gradio"
    assert str(meta["sdk_version"]) == gradio.__version__
    assert meta["app_file"] == "app.py"
    assert meta["title"] and meta["emoji"] and meta["models"]


def requirement_names(requirements) -> set[str]:
    return {
        re.split(r"[<>=!~\[; @]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")
        for req in requirements
    }


def test_space_requirements_cover_the_package_requirements():
    """The Space installs the library's own dependencies (it cannot `pip install -e .`)."""
    lines = (REPO_ROOT / "spaces_app" / "requirements.txt").read_text().splitlines()
    listed = requirement_names(line for line in lines if line.strip() and not line.startswith(("#", "-")))
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    [install_requires] = [
        keyword.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "install_requires"
    ]
    needed = requirement_names(ast.literal_eval(install_requires))
    assert needed and needed <= listed, (
        f"add {sorted(needed - listed)} (setup.py install_requires) to spaces_app/requirements.txt"
    )

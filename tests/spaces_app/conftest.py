"""The Space (`spaces_app/app.py`) launched once on 127.0.0.1 for the client and browser tests."""

from __future__ import annotations

import importlib.util
import os
import socket
from pathlib import Path

import pytest

# Before gradio is imported: no analytics or version pings (there is no network to ping).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_PATH = REPO_ROOT / "spaces_app" / "app.py"


def load_app_module(path: Path = APP_PATH, name: str = "seismic_diffusers_space_app"):
    """Import `spaces_app/app.py` (not a package), or a copy of it at `path`, as a fresh module."""
    pytest.importorskip("gradio", reason="gradio is not installed: pip install -e '.[dev]'")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def load_space_app():
    """`load_app_module(path, name)`, for tests that import a copy of the app."""
    return load_app_module


@pytest.fixture(scope="session")
def space_app():
    """The app module, with the bundled pipeline as its source (the environment override removed)."""
    saved = os.environ.pop("SEISMIC_DIFFUSERS_VELOCITY_PIPELINE", None)
    try:
        yield load_app_module()
    finally:
        if saved is not None:
            os.environ["SEISMIC_DIFFUSERS_VELOCITY_PIPELINE"] = saved


def launch(module):
    """Build `module`'s app and launch it on a free port of 127.0.0.1; returns the `gr.Blocks`."""
    demo = module.build_app()
    demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        share=False,
        ssr_mode=False,
    )
    return demo


@pytest.fixture(scope="session")
def launch_space_app():
    """`launch(module)`, for tests that launch their own copy of the app."""
    return launch


@pytest.fixture(scope="session")
def space_url(space_app):
    """URL of the Space, launched in this process on a free port of 127.0.0.1."""
    demo = launch(space_app)
    try:
        yield demo.local_url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(space_url, tmp_path_factory):
    """A `gradio_client.Client` on the launched Space, downloading into a fresh folder."""
    from gradio_client import Client

    return Client(
        space_url, verbose=False, analytics_enabled=False, download_files=tmp_path_factory.mktemp("client")
    )

"""Shared fixtures: tiny, seeded pipelines saved once per test session."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import huggingface_hub
import pytest
import torch

# Tiny models gain nothing from threads, and one thread keeps results identical across machines.
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]


def build_tiny_velocity_pipeline(num_class_embeds: int | None = 9):
    """A `VelocityGenerationPipeline` with a ~50k-parameter U-Net (seeded): class-conditional with
    the 8 families and the null class, or unconditional with `num_class_embeds=None`."""
    from diffusers import DPMSolverMultistepScheduler

    from seismic_diffusers import VelocityGenerationPipeline, VelocityProcessor, VelocityUNet2DModel

    torch.manual_seed(0)
    unet = VelocityUNet2DModel(
        sample_size=70,
        in_channels=1,
        out_channels=1,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
        num_class_embeds=num_class_embeds,
    )
    scheduler = DPMSolverMultistepScheduler(
        num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", algorithm_type="dpmsolver++"
    )
    return VelocityGenerationPipeline(unet=unet, scheduler=scheduler, processor=VelocityProcessor())


@pytest.fixture(scope="session")
def tiny_velocity_pipeline_dir(tmp_path_factory):
    """Path (`str`) of a saved tiny pipeline folder. Treat it as read-only; copy it to modify it."""
    folder = tmp_path_factory.mktemp("tiny-velocity-pipeline")
    build_tiny_velocity_pipeline().save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def tiny_velocity_pipeline(tiny_velocity_pipeline_dir):
    """The tiny pipeline loaded from `tiny_velocity_pipeline_dir`, progress bar disabled."""
    from seismic_diffusers import VelocityGenerationPipeline

    pipe = VelocityGenerationPipeline.from_pretrained(tiny_velocity_pipeline_dir)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="session")
def tiny_unconditional_velocity_pipeline():
    """The tiny pipeline without class embeddings, progress bar disabled."""
    pipe = build_tiny_velocity_pipeline(num_class_embeds=None)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny_denoise_pipeline(window_length: int = 400):
    """A `ColdDiffusionDenoisePipeline` with a ~20k-parameter U-Net and 4 s windows (seeded, untrained)."""
    from seismic_diffusers import (
        ColdDiffusionDenoisePipeline,
        ColdDiffusionScheduler,
        SeismogramProcessor,
        SeismogramUNet1DModel,
    )

    torch.manual_seed(0)
    unet = SeismogramUNet1DModel(base_channels=8, channel_mults=(1, 2)).eval()
    processor = SeismogramProcessor(window_length=window_length)
    return ColdDiffusionDenoisePipeline(
        unet=unet, scheduler=ColdDiffusionScheduler(num_train_timesteps=10), processor=processor
    )


@pytest.fixture(scope="session")
def tiny_denoise_pipeline_dir(tmp_path_factory):
    """Path (`str`) of a saved tiny denoising pipeline. Treat it as read-only."""
    folder = tmp_path_factory.mktemp("tiny-denoise-pipeline")
    build_tiny_denoise_pipeline().save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def tiny_denoise_pipeline(tiny_denoise_pipeline_dir):
    """The tiny denoising pipeline loaded from disk, progress bar disabled."""
    from seismic_diffusers import ColdDiffusionDenoisePipeline

    pipe = ColdDiffusionDenoisePipeline.from_pretrained(tiny_denoise_pipeline_dir)
    pipe.set_progress_bar_config(disable=True)
    return pipe


INVERSION_GRID = 24


def _inversion_geometry():
    from seismic_diffusers import AcquisitionGeometry

    return AcquisitionGeometry(
        grid_shape=(INVERSION_GRID, INVERSION_GRID), nt=300, source_x=[2, 12, 21], pml_width=10
    )


INVERSION_GEOMETRY = _inversion_geometry()


def build_tiny_inversion_pipeline(with_network: bool = True, geometry=None):
    """A `VelocityInversionPipeline` on a 24 x 24 grid (3 shots, 300 samples: fast deepwave runs), with a
    tiny seeded prior whose processor holds a linear mean profile, and a tiny InversionNet unless
    `with_network=False`."""
    import numpy as np
    from diffusers import DPMSolverMultistepScheduler

    from seismic_diffusers import (
        InversionNetModel,
        VelocityInversionPipeline,
        VelocityProcessor,
        VelocityUNet2DModel,
    )

    GRID, SMALL = INVERSION_GRID, INVERSION_GEOMETRY
    geometry = geometry or SMALL
    torch.manual_seed(0)
    unet = VelocityUNet2DModel(
        sample_size=GRID, in_channels=1, out_channels=1, block_out_channels=(8, 16), layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=8, num_class_embeds=9,
    )  # fmt: skip
    profile = np.linspace(1800.0, 3500.0, GRID).tolist()
    processor = VelocityProcessor(mean_profiles=[profile] * 9)
    network = None
    if with_network:
        network = InversionNetModel(
            seismic_shape=SMALL.data_shape, velocity_shape=(GRID, GRID), seismic_working_shape=(32, 16),
            seismic_strides=((2, 1), (2, 2)), block_out_channels=(8, 8), latent_channels=4,
            velocity_working_size=16, norm_num_groups=4,
        ).eval()  # fmt: skip
    pipe = VelocityInversionPipeline(
        unet=unet.eval(),
        scheduler=DPMSolverMultistepScheduler(
            beta_schedule="squaredcos_cap_v2", algorithm_type="sde-dpmsolver++"
        ),
        processor=processor,
        inversion_net=network,
        geometry=geometry,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="session")
def make_tiny_inversion_pipeline():
    """`build_tiny_inversion_pipeline`, and its geometry as `.geometry`."""
    build_tiny_inversion_pipeline.geometry = INVERSION_GEOMETRY
    return build_tiny_inversion_pipeline


@pytest.fixture(scope="session")
def tiny_inversion_pipeline_dir(tmp_path_factory):
    """Path (`str`) of a saved tiny inversion pipeline (geometry `INVERSION_GEOMETRY`); read-only."""
    folder = tmp_path_factory.mktemp("tiny-inversion-pipeline")
    build_tiny_inversion_pipeline().save_pretrained(str(folder))
    return str(folder)


def build_tiny_joint_pipeline(scheduler=None, geometry=None):
    """A `JointGenerationPipeline` with a tiny JointVQModel and UNet2DModel (seeded, untrained)."""
    from diffusers import DDPMScheduler, UNet2DModel

    from seismic_diffusers import OPENFWI, JointGenerationPipeline, JointVQModel

    torch.manual_seed(0)
    vqvae = JointVQModel(
        block_out_channels=(8, 8, 8, 8), latent_channels=4, num_vq_embeddings=16, norm_num_groups=4
    )
    unet = UNet2DModel(
        sample_size=16, in_channels=4, out_channels=4, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=8,
    )  # fmt: skip
    pipe = JointGenerationPipeline(
        vqvae=vqvae.eval(),
        unet=unet.eval(),
        scheduler=scheduler or DDPMScheduler(num_train_timesteps=100),
        geometry=geometry or OPENFWI,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny_two_encoder_joint_pipeline(latent_operator=None):
    """The tiny joint pipeline with a two-encoder, two-codebook autoencoder (2VQ, 2 channels per half)
    and, optionally, a `LatentForwardOperator`."""
    from seismic_diffusers import JointGenerationPipeline, JointVQModel

    pipe = build_tiny_joint_pipeline()
    torch.manual_seed(0)
    vqvae = JointVQModel(
        block_out_channels=(8, 8, 8, 8), latent_channels=4, num_vq_embeddings=16, norm_num_groups=4,
        num_codebooks=2, velocity_encoder=True,
    ).eval()  # fmt: skip
    pipe = JointGenerationPipeline(
        vqvae=vqvae, unet=pipe.unet, scheduler=pipe.scheduler, geometry=pipe.geometry,
        latent_operator=latent_operator,
    )  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="session")
def tiny_joint_pipeline_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_joint_pipeline")
    build_tiny_joint_pipeline().save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def make_tiny_joint_pipeline():
    """`build_tiny_joint_pipeline(scheduler=None, geometry=None)`, for tests that vary either."""
    return build_tiny_joint_pipeline


@pytest.fixture(scope="session")
def make_tiny_two_encoder_joint_pipeline():
    """`build_tiny_two_encoder_joint_pipeline(latent_operator=None)`."""
    return build_tiny_two_encoder_joint_pipeline


# ----------------------------------------------------------------------------------------------
# a hand-built Hugging Face cache, for offline Hub-id tests

REPO_ID = "seismic-org/tiny-velocity"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def populate_hf_cache(cache: Path, repo_id: str, folder: str | os.PathLike, commit: str = COMMIT) -> Path:
    """Lay out `folder` as huggingface_hub's cache does after a download; return the snapshot folder.

    `models--org--name/refs/main` holds the commit hash; `snapshots/<commit>/<file>` are relative
    symlinks to content-addressed `blobs/<sha256>`.
    """
    storage = cache / f"models--{repo_id.replace('/', '--')}"
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(commit)  # no trailing newline, like the real cache
    blobs = storage / "blobs"
    blobs.mkdir()
    snapshot = storage / "snapshots" / commit
    for source in sorted(Path(folder).rglob("*")):
        if not source.is_file():
            continue
        data = source.read_bytes()
        blob = blobs / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / source.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    return snapshot


@pytest.fixture
def offline_repo():
    """`repo_id` and `commit` of the pipeline `offline_cache` holds (test modules cannot import
    conftest reliably: several conftest.py files share that module name)."""
    from types import SimpleNamespace

    return SimpleNamespace(repo_id=REPO_ID, commit=COMMIT)


@pytest.fixture
def offline_cache(tmp_path, monkeypatch, tiny_velocity_pipeline_dir):
    """A cache holding the tiny pipeline as REPO_ID, with the Hub client forced offline."""
    cache = tmp_path / "hf-cache"
    snapshot = populate_hf_cache(cache, REPO_ID, tiny_velocity_pipeline_dir)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    # huggingface_hub reads both at import time; its request hook and snapshot_download read these
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache, snapshot


@pytest.fixture
def offload_hook_calls():
    """`attach(model)` adds an accelerate hook that counts its `pre_forward` calls (what model CPU
    offload uses to move a model to the accelerator) and returns the model; `calls()` reads the count."""
    from accelerate.hooks import ModelHook, add_hook_to_module

    count = [0]

    class Recorder(ModelHook):
        def pre_forward(self, module, *args, **kwargs):
            count[0] += 1
            return args, kwargs

    class Calls:
        @staticmethod
        def attach(model):
            return add_hook_to_module(model, Recorder())

        @staticmethod
        def calls() -> int:
            return count[0]

    return Calls


@pytest.fixture
def repo_script():
    """`load("training/train_velocity.py")` imports a script of the repository (not a package) as a
    fresh module, so its functions can be tested without a subprocess."""

    def load(relative_path: str):
        path = REPO_ROOT / relative_path
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load

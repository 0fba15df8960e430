"""Shared fixtures: a tiny, seeded velocity pipeline saved once per test session."""

from __future__ import annotations

import pytest
import torch

# Tiny models gain nothing from threads, and one thread keeps results identical across machines.
torch.set_num_threads(1)


def build_tiny_velocity_pipeline():
    """A class-conditional `VelocityGenerationPipeline` with a ~50k-parameter U-Net (seeded)."""
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
        num_class_embeds=9,
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


@pytest.fixture(scope="session")
def tiny_joint_pipeline_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_joint_pipeline")
    build_tiny_joint_pipeline().save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def make_tiny_joint_pipeline():
    """`build_tiny_joint_pipeline(scheduler=None, geometry=None)`, for tests that vary either."""
    return build_tiny_joint_pipeline

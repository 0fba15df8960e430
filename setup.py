"""Packaging for seismic-diffusers."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
LONG_DESCRIPTION = README.read_text(encoding="utf-8") if README.exists() else ""

setup(
    name="seismic-diffusers",
    version="0.1.0",
    description="Diffusion models for seismology (velocity models, seismic data, denoising), diffusers-style.",
    long_description=LONG_DESCRIPTION,
    long_description_content_type="text/markdown",
    packages=find_packages(include=["seismic_diffusers*"]),
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.1",
        "diffusers>=0.30",
        "accelerate>=0.30",
        "huggingface_hub>=0.23",
        "safetensors>=0.4",
        "deepwave>=0.1.0",
        "kornia>=0.7",
        "torchmetrics>=1.3",
        "obspy>=1.4",
        "h5py>=3.7",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        "numpy>=1.24",
        "scipy>=1.10",
        "pillow",
        # The velocity FD's frozen feature extractor is a transformers PreTrainedModel (Auto classes).
        "transformers>=4.40",
    ],
    extras_require={
        # The Gradio Space (spaces_app/); gradio is pinned to the Space README's sdk_version.
        "space": ["gradio==6.31.0"],
        # Denoising whole archives on a cluster (seismic_diffusers.archive): Dask is the field's engine.
        "distributed": ["dask[distributed]>=2024.1"],
        # Tests, lint, and the Space's client and headless-browser tests (Chromium itself comes from
        # Debian: .ci/run installs it).
        "dev": [
            "pytest>=7",
            "ruff>=0.4",
            "gradio==6.31.0",
            "gradio_client>=2.0",
            "playwright>=1.40",
            "dask[distributed]>=2024.1",
        ],
    },
    entry_points={"console_scripts": ["seismic-diffusers=seismic_diffusers.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Physics",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)

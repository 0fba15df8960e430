"""Hub helpers: offline loading from a hand-built HF cache, push with a fake client, folder checks."""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
import torch
import yaml

from seismic_diffusers import VelocityGenerationPipeline
from seismic_diffusers.hub import check_pipeline_folder, push_pipeline, resolve_pretrained


def sample(pipe):
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator().manual_seed(0)
    return pipe(batch_size=1, family="curvefault-a", generator=generator, num_inference_steps=2).velocities


# ----------------------------------------------------------------------------------------------
# offline Hub loading


def test_offline_mode_blocks_requests(offline_cache, offline_repo):
    with pytest.raises(huggingface_hub.errors.OfflineModeIsEnabled):
        huggingface_hub.HfApi().repo_info(offline_repo.repo_id)


@pytest.mark.parametrize("explicit_cache_dir", [True, False], ids=["cache_dir", "HF_HUB_CACHE"])
def test_resolve_hub_id_from_offline_cache(offline_cache, offline_repo, explicit_cache_dir):
    cache, snapshot = offline_cache
    kwargs = {"cache_dir": str(cache)} if explicit_cache_dir else {}
    assert Path(resolve_pretrained(offline_repo.repo_id, **kwargs)) == snapshot.resolve()
    # a pinned commit resolves without reading refs/
    assert (
        Path(resolve_pretrained(offline_repo.repo_id, revision=offline_repo.commit, **kwargs))
        == snapshot.resolve()
    )


def test_from_pretrained_hub_id_offline_matches_folder(offline_cache, offline_repo, tiny_velocity_pipeline):
    cache, snapshot = offline_cache
    pipe = VelocityGenerationPipeline.from_pretrained(offline_repo.repo_id, cache_dir=str(cache))
    assert Path(pipe.config._name_or_path).resolve() == snapshot.resolve()
    assert pipe.families == tiny_velocity_pipeline.families
    np.testing.assert_array_equal(sample(pipe), sample(tiny_velocity_pipeline))


@pytest.mark.parametrize("revision", [None, "v2"], ids=["unknown-repo", "unknown-branch"])
def test_missing_hub_id_offline_raises_clear_value_error(offline_cache, offline_repo, revision):
    cache, _ = offline_cache
    repo_id = "seismic-org/does-not-exist" if revision is None else offline_repo.repo_id
    with pytest.raises(ValueError, match="not found locally.*network is off") as excinfo:
        VelocityGenerationPipeline.from_pretrained(repo_id, cache_dir=str(cache), revision=revision)
    assert repr(repo_id) in str(excinfo.value)


@pytest.mark.parametrize("name", ["a/b/c", "weights.safetensors", "./not-here"])
def test_resolve_rejects_things_that_are_neither_folder_nor_id(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="neither an existing pipeline folder nor a Hub id"):
        resolve_pretrained(name)


# ----------------------------------------------------------------------------------------------
# push_pipeline with an injected client


class FakeHfApi:
    def __init__(self):
        self.calls = []

    def create_repo(self, **kwargs):
        self.calls.append(("create_repo", kwargs))

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))
        return "commit-info"


def read_front_matter(path: Path) -> tuple[dict, str]:
    text = path.read_text()
    assert text.startswith("---\n")
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


def test_push_pipeline_creates_repo_uploads_folder_and_writes_card(tiny_velocity_pipeline_dir, tmp_path):
    folder = shutil.copytree(tiny_velocity_pipeline_dir, tmp_path / "pipe")
    (folder / "README.md").write_text("---\nlicense: old\n---\n# Tiny velocity pipeline\n\nUsage here.\n")
    api = FakeHfApi()
    result = push_pipeline(
        folder,
        "org/tiny",
        api=api,
        private=True,
        tags=["velocity-model"],
        datasets=["openfwi"],
        metrics=["ssim", "mae"],
    )
    assert result == "commit-info"
    assert [name for name, _ in api.calls] == ["create_repo", "upload_folder"]
    create, upload = api.calls[0][1], api.calls[1][1]
    assert create["repo_id"] == "org/tiny" and create["private"] is True and create["exist_ok"] is True
    assert upload["repo_id"] == "org/tiny"
    assert upload["folder_path"] == str(folder)

    patterns = upload["ignore_patterns"]
    for pickle_file in ("unet/diffusion_pytorch_model.bin", "unet/model.pt", "model.ckpt", "x.pth"):
        assert any(fnmatch.fnmatch(pickle_file, pattern) for pattern in patterns), pickle_file
    for kept in ("unet/diffusion_pytorch_model.safetensors", "model_index.json", "README.md"):
        assert not any(fnmatch.fnmatch(kept, pattern) for pattern in patterns), kept

    front, body = read_front_matter(folder / "README.md")
    assert front["library_name"] == "seismic_diffusers"
    assert {"velocity-model", "seismology", "seismic_diffusers"} <= set(front["tags"])
    assert front["datasets"] == ["openfwi"]
    assert front["metrics"] == ["ssim", "mae"]
    assert front["license"] == "mit"
    assert "# Tiny velocity pipeline" in body and "license: old" not in body


def test_push_pipeline_without_readme_or_metadata(tiny_velocity_pipeline_dir, tmp_path):
    folder = shutil.copytree(tiny_velocity_pipeline_dir, tmp_path / "pipe")
    push_pipeline(folder, "org/tiny", api=FakeHfApi())
    front, body = read_front_matter(folder / "README.md")
    assert front["library_name"] == "seismic_diffusers"
    assert "datasets" not in front and "metrics" not in front
    assert "org/tiny" in body


def test_push_pipeline_refuses_broken_folder(tiny_velocity_pipeline_dir, tmp_path):
    folder = shutil.copytree(tiny_velocity_pipeline_dir, tmp_path / "pipe")
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    api = FakeHfApi()
    with pytest.raises(ValueError, match="no safetensors weights"):
        push_pipeline(folder, "org/tiny", api=api)
    assert api.calls == []
    assert not (folder / "README.md").exists()


# ----------------------------------------------------------------------------------------------
# check_pipeline_folder and from_pretrained on broken folders


def remove_model_index(folder: Path) -> None:
    (folder / "model_index.json").unlink()


def remove_weights(folder: Path) -> None:
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    weights.rename(weights.with_suffix(".bin"))  # a pickle-named file must not stand in


def corrupt_weights(folder: Path) -> None:
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(
        b"\x00garbage, not safetensors" * 10
    )


BREAKAGES = [
    (remove_model_index, "has no model_index.json"),
    (remove_weights, "'unet' .* has no safetensors weights.*pickle files are not loaded"),
    (corrupt_weights, "Corrupt safetensors file .*diffusion_pytorch_model.safetensors"),
]


def test_check_pipeline_folder_accepts_good_folder(tiny_velocity_pipeline_dir):
    check_pipeline_folder(tiny_velocity_pipeline_dir)


@pytest.mark.parametrize(
    "breakage, message", BREAKAGES, ids=["no-model-index", "no-weights", "corrupt-weights"]
)
def test_broken_folder_raises_value_error(tiny_velocity_pipeline_dir, tmp_path, breakage, message):
    folder = Path(shutil.copytree(tiny_velocity_pipeline_dir, tmp_path / "pipe"))
    breakage(folder)
    with pytest.raises(ValueError, match=message):
        check_pipeline_folder(folder)
    with pytest.raises(ValueError, match=message):
        VelocityGenerationPipeline.from_pretrained(folder)


def test_check_pipeline_folder_rejects_invalid_model_index(tiny_velocity_pipeline_dir, tmp_path):
    folder = Path(shutil.copytree(tiny_velocity_pipeline_dir, tmp_path / "pipe"))
    (folder / "model_index.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        check_pipeline_folder(folder)


def test_fill_generated_block_replaces_only_the_block_and_refuses_a_card_without_one():
    from seismic_diffusers.hub import GENERATED_BLOCK_END, fill_generated_block

    start = "<!-- scores of x -->"
    text = f"intro\n{start}\nold 1.0\n{GENERATED_BLOCK_END}\noutro\n"
    block = f"{start}\nnew 2.0\n{GENERATED_BLOCK_END}"
    assert fill_generated_block(text, block, start, "card") == f"intro\n{block}\noutro\n"
    with pytest.raises(SystemExit, match="has no"):
        fill_generated_block("no markers here", block, start, "card")

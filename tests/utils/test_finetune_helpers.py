"""`seismic_diffusers.utils.finetune`: loading for fine-tuning, freezing, growing class embeddings."""

from __future__ import annotations

import pytest
import torch

from seismic_diffusers import ColdDiffusionDenoisePipeline, VelocityGenerationPipeline
from seismic_diffusers.utils.finetune import (
    SEISMOGRAM_UNET_PARTS,
    UNET2D_PARTS,
    extend_class_embedding,
    freeze_parts,
    load_pretrained_pipeline,
)


def test_a_hub_id_resolves_through_the_offline_cache(offline_cache, offline_repo):
    pipe, folder = load_pretrained_pipeline(offline_repo.repo_id, VelocityGenerationPipeline)
    assert folder == str(offline_cache[1]) and isinstance(pipe, VelocityGenerationPipeline)
    with pytest.raises(ValueError, match="was not found locally in the Hugging Face cache"):
        load_pretrained_pipeline("seismic-org/not-cached", VelocityGenerationPipeline)


def test_a_folder_without_an_index_or_with_bad_json_is_refused(tmp_path, tiny_velocity_pipeline_dir):
    with pytest.raises(ValueError, match="not a pipeline folder"):
        load_pretrained_pipeline(str(tmp_path), VelocityGenerationPipeline)
    (tmp_path / "model_index.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_pretrained_pipeline(str(tmp_path), VelocityGenerationPipeline)
    with pytest.raises(
        ValueError, match="holds a VelocityGenerationPipeline, but this script fine-tunes a Cold"
    ):
        load_pretrained_pipeline(tiny_velocity_pipeline_dir, ColdDiffusionDenoisePipeline)


def test_freeze_parts_stops_gradients_only_where_asked(tiny_velocity_pipeline_dir):
    unet = VelocityGenerationPipeline.from_pretrained(tiny_velocity_pipeline_dir).unet
    frozen = freeze_parts(unet, ["encoder"], UNET2D_PARTS)
    assert frozen and all(name.startswith(("conv_in.", "time_", "down_blocks.")) for name in frozen)
    trainable = [n for n, p in unet.named_parameters() if p.requires_grad]
    assert trainable and not any(n.startswith("down_blocks.") for n in trainable)
    with pytest.raises(ValueError, match="Unknown part"):
        freeze_parts(unet, ["decoderr"], UNET2D_PARTS)
    with pytest.raises(ValueError, match="matched no parameters"):
        freeze_parts(unet, ["downsamplers_only"], {"downsamplers_only": ("downsamplers",)})


def test_denoiser_parts_cover_every_parameter(tiny_denoise_pipeline):
    names = {n for n, _ in tiny_denoise_pipeline.unet.named_parameters()}
    prefixes = tuple(f"{p}." for parts in SEISMOGRAM_UNET_PARTS.values() for p in parts)
    assert all(name.startswith(prefixes) for name in names)


def test_extend_class_embedding_keeps_old_rows_and_starts_new_ones_from_null(tiny_velocity_pipeline_dir):
    pipe = VelocityGenerationPipeline.from_pretrained(tiny_velocity_pipeline_dir)
    old = pipe.unet.class_embedding.weight.detach().clone()
    families = pipe.families
    extend_class_embedding(pipe.unet, families, families + ["basin-a", "basin-b"])
    new = pipe.unet.class_embedding.weight
    assert new.shape == (len(families) + 3, old.shape[1])
    assert pipe.unet.config.num_class_embeds == len(families) + 3
    assert torch.equal(new[: len(families)], old[:-1])
    for row in (len(families), len(families) + 1, len(families) + 2):  # two new families, then null
        assert torch.equal(new[row], old[-1])
    with pytest.raises(ValueError, match="must start with the old one"):
        extend_class_embedding(pipe.unet, families, ["other"] + families)

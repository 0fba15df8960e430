"""`training/assemble_inversion_pipeline.py`: one network or an ensemble, the prior unchanged, the card kept."""

from __future__ import annotations

import json

import torch

from seismic_diffusers import InversionNetEnsembleModel, InversionNetModel, VelocityInversionPipeline

TINY = dict(block_out_channels=(8, 8, 8), latent_channels=4, norm_num_groups=4)


def test_one_network_or_several_as_an_ensemble(repo_script, tiny_velocity_pipeline_dir, tmp_path):
    script = repo_script("training/assemble_inversion_pipeline.py")
    folders = []
    for i, widths in enumerate([(8, 8, 8), (8, 8, 16)]):
        torch.manual_seed(i)
        folder = tmp_path / f"net{i}"
        InversionNetModel(**dict(TINY, block_out_channels=widths)).save_pretrained(folder)
        (folder / "training_record.json").write_text(json.dumps({"steps": 10 + i}))
        folders.append(str(folder))
    out = tmp_path / "pipeline"
    out.mkdir()
    (out / "README.md").write_text("the card")
    script.main(["--prior", tiny_velocity_pipeline_dir, "--inversion_net", folders[0], "--out", str(out)])
    pipe = VelocityInversionPipeline.from_pretrained(out)
    assert type(pipe.inversion_net) is InversionNetModel
    assert json.loads((out / "inversion_net" / "training_record.json").read_text()) == {"steps": 10}
    assert (out / "README.md").read_text() == "the card"

    script.main(["--prior", tiny_velocity_pipeline_dir, "--inversion_net", *folders, "--out", str(out)])
    pipe = VelocityInversionPipeline.from_pretrained(out)
    assert isinstance(pipe.inversion_net, InversionNetEnsembleModel)
    seismic = torch.randn(2, 5, 1000, 70)
    members = [InversionNetModel.from_pretrained(f).eval() for f in folders]
    expected = torch.stack([m.predict_velocity(seismic) for m in members]).mean(0)
    torch.testing.assert_close(pipe.inversion_net.predict_velocity(seismic), expected)
    record = json.loads((out / "inversion_net" / "training_record.json").read_text())
    assert record["ensemble_of"] == folders and [m["steps"] for m in record["members"]] == [10, 11]
    assert (out / "README.md").read_text() == "the card"

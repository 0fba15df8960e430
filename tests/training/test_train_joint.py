"""Both joint-generation stages through `accelerate launch` on CPU, on a tiny make-dataset folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seismic_diffusers import JointGenerationPipeline, JointVQModel, forward_model
from seismic_diffusers.data import generate_velocity_models, make_paired_dataset

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCH = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
          "--mixed_precision", "no", "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1"]  # fmt: skip
TINY_VQ = ["--block_out_channels", "8", "8", "8", "8", "--latent_channels", "4", "--num_vq_embeddings", "16",
           "--norm_num_groups", "4", "--train_batch_size", "4", "--checkpointing_steps", "2", "--logging_steps", "1",
           "--validation_fraction", "0.25", "--validation_pairs", "2", "--use_ema"]  # fmt: skip
TINY_LDM = ["--block_out_channels", "16", "32", "--layers_per_block", "1", "--num_train_timesteps", "50",
            "--train_batch_size", "4", "--checkpointing_steps", "2", "--logging_steps", "1",
            "--validation_fraction", "0.25", "--validation_samples", "2", "--validation_steps_inference", "3",
            "--use_ema"]  # fmt: skip


def run(script: str, *arguments: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    command = [*LAUNCH, f"training/{script}", *arguments]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def paired_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    make_paired_dataset(out, ["flatvel-a", "curvefault-a"], num=6, shard_size=6, seed=0, progress=False)
    return out


def test_stage_one_then_stage_two_give_a_loadable_pipeline(paired_folder, tmp_path):
    # Stage 1: train 2 steps, then resume to 4
    stage1 = tmp_path / "vqvae-run"
    first = run("train_joint_vqvae.py", "--train_data_dir", str(paired_folder), "--output_dir", str(stage1),
                "--max_train_steps", "2", *TINY_VQ)  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    assert (stage1 / "checkpoint-2" / "vqvae" / "diffusion_pytorch_model.safetensors").is_file()
    second = run("train_joint_vqvae.py", "--train_data_dir", str(paired_folder), "--output_dir", str(stage1),
                 "--max_train_steps", "4", "--resume_from_checkpoint", "latest", *TINY_VQ)  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Resuming from" in second.stderr
    steps = [json.loads(line)["step"] for line in (stage1 / "train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    scores = json.loads((stage1 / "vqvae" / "stage1_scores.json").read_text())
    assert scores["train_pairs"] == 9 and scores["pairs"] == 2  # 12 pairs, every 4th held out
    assert scores["velocity_mae_m_per_s"] > 0 and scores["pde_deviation_mean"] > 0
    JointVQModel.from_pretrained(str(stage1 / "vqvae"))

    # Stage 2 on the frozen stage 1
    stage2, pipeline_dir = tmp_path / "ldm-run", tmp_path / "pipeline"
    result = run("train_joint_ldm.py", "--vqvae", str(stage1 / "vqvae"), "--train_data_dir", str(paired_folder),
                 "--output_dir", str(stage2), "--pipeline_dir", str(pipeline_dir), "--max_train_steps", "3",
                 *TINY_LDM)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (stage2 / "latents.safetensors").is_file()
    assert not [p for p in pipeline_dir.rglob("*") if p.suffix in (".bin", ".pt", ".ckpt", ".pkl")]
    card = (pipeline_dir / "README.md").read_text()
    assert "train_joint_ldm.py" in card and "PDE deviation" in card

    pipe = JointGenerationPipeline.from_pretrained(str(pipeline_dir))
    pipe.set_progress_bar_config(disable=True)
    channels = pipe.vqvae.config.latent_channels  # each channel standardised on the training latents
    assert len(pipe.vqvae.config.latents_mean) == len(pipe.vqvae.config.latents_std) == channels
    assert min(pipe.vqvae.config.latents_std) > 0 and "standardised per channel" in card
    out = pipe(batch_size=1, num_inference_steps=2, return_pde_deviation=True)
    assert out.velocities.shape == (1, 70, 70) and out.seismic.shape == (1, 5, 1000, 70)
    assert np.isfinite(out.pde_deviation).all()


def test_fine_tune_both_stages_from_a_pipeline(paired_folder, tiny_joint_pipeline_dir, tmp_path):
    """Stage 1 with the encoder and codebook frozen keeps the latent space, so the result is a
    complete pipeline; stage 2 then fine-tunes its UNet with the autoencoder frozen."""
    from safetensors.torch import load_file

    stage1 = tmp_path / "vqvae-ft"
    tiny = [a for a in TINY_VQ if a != "--use_ema"]
    result = run("train_joint_vqvae.py", "--train_data_dir", str(paired_folder), "--output_dir", str(stage1),
                 "--max_train_steps", "2", "--pretrained_pipeline", tiny_joint_pipeline_dir,
                 "--freeze", "encoder", "codebook", *tiny)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    weights = "diffusion_pytorch_model.safetensors"
    before = load_file(str(Path(tiny_joint_pipeline_dir) / "vqvae" / weights))
    after = load_file(str(stage1 / "pipeline" / "vqvae" / weights))
    kept = [k for k in before if k.startswith(("encoder.", "quant_conv.", "quantizers."))]
    assert kept and all(torch.equal(before[k], after[k]) for k in kept)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("velocity_decoder."))
    card = (stage1 / "pipeline" / "README.md").read_text()
    assert "Fine-tuned from" in card and "latents it learnt are unchanged" in card
    JointGenerationPipeline.from_pretrained(str(stage1 / "pipeline"))

    stage2 = tmp_path / "ldm-ft"
    tiny = [a for a in TINY_LDM if a not in ("--use_ema",)]
    result = run("train_joint_ldm.py", "--pretrained_pipeline", str(stage1 / "pipeline"), "--train_data_dir",
                 str(paired_folder), "--output_dir", str(stage2), "--max_train_steps", "2",
                 "--freeze", "encoder", *tiny)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    pipe = JointGenerationPipeline.from_pretrained(str(stage2 / "pipeline"))
    original = JointGenerationPipeline.from_pretrained(tiny_joint_pipeline_dir)
    assert pipe.scheduler.config == original.scheduler.config
    assert pipe.vqvae.config.scaling_factor == original.vqvae.config.scaling_factor
    assert pipe.vqvae.config.latents_mean == original.vqvae.config.latents_mean
    unet_before = load_file(str(Path(tiny_joint_pipeline_dir) / "unet" / weights))
    unet_after = load_file(str(stage2 / "pipeline" / "unet" / weights))
    assert all(
        torch.equal(unet_before[k], unet_after[k]) for k in unet_before if k.startswith("down_blocks.")
    )
    assert any(
        not torch.equal(unet_before[k], unet_after[k]) for k in unet_before if k.startswith("up_blocks.")
    )
    assert "Fine-tuned from" in (stage2 / "pipeline" / "README.md").read_text()


def test_two_encoder_stage_one_and_its_stage_two(paired_folder, tmp_path):
    """2VQ with a velocity encoder: pairs are encoded, each half decodes its modality, and stage 2
    learns over both halves."""
    stage1 = tmp_path / "vqvae-2enc"
    result = run("train_joint_vqvae.py", "--train_data_dir", str(paired_folder), "--output_dir", str(stage1),
                 "--max_train_steps", "2", "--velocity_encoder", "--num_codebooks", "2",
                 "--seismic_amplitude_loss_weight", "1", "--seismic_agc_loss_weight", "1",
                 "--seismic_agc_window", "51", *TINY_VQ)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    logged = [json.loads(line) for line in (stage1 / "train_log.jsonl").read_text().splitlines()]
    assert all(0 < row["seismic_amplitude_loss"] < float("inf") for row in logged)
    assert all(0 < row["seismic_agc_loss"] < float("inf") for row in logged)
    model = JointVQModel.from_pretrained(str(stage1 / "vqvae"))
    assert model.config.velocity_encoder and model.velocity_map_encoder is not None
    scores = json.loads((stage1 / "vqvae" / "stage1_scores.json").read_text())
    assert scores["velocity_mae_m_per_s"] > 0 and scores["codebook_size"] == 32

    stage2, pipeline_dir = tmp_path / "ldm-2enc", tmp_path / "pipeline-2enc"
    result = run("train_joint_ldm.py", "--vqvae", str(stage1 / "vqvae"), "--train_data_dir", str(paired_folder),
                 "--output_dir", str(stage2), "--pipeline_dir", str(pipeline_dir), "--max_train_steps", "2",
                 "--latent_scaling", "global", *TINY_LDM)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    pipe = JointGenerationPipeline.from_pretrained(str(pipeline_dir))
    pipe.set_progress_bar_config(disable=True)
    assert pipe.vqvae.config.latents_mean is None and pipe.vqvae.config.scaling_factor != 1.0  # one scalar
    out = pipe(batch_size=1, num_inference_steps=2)
    assert out.velocities.shape == (1, 70, 70) and np.isfinite(out.seismic).all()

    # The latent forward operator on that pipeline, reusing stage 2's latents; 2 steps, then resume to 3
    operator_run, coupled_dir = tmp_path / "operator", tmp_path / "pipeline-2enc-operator"
    common = ["--pipeline", str(pipeline_dir), "--train_data_dir", str(paired_folder), "--output_dir",
              str(operator_run), "--pipeline_dir", str(coupled_dir), "--width", "8", "--dilations", "1", "2",
              "--train_batch_size", "4", "--checkpointing_steps", "2", "--logging_steps", "1",
              "--validation_fraction", "0.25", "--validation_samples", "1", "--validation_steps_inference", "2",
              "--use_ema", "--latents_cache", str(stage2 / "latents.safetensors")]  # fmt: skip
    result = run("train_joint_latent_operator.py", *common, "--max_train_steps", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    result = run("train_joint_latent_operator.py", *common, "--max_train_steps", "3", "--resume_from_checkpoint",
                 "latest")  # fmt: skip
    assert result.returncode == 0 and "Resuming from" in result.stderr, result.stderr[-3000:]
    assert (operator_run / "checkpoint-2" / "latent_operator").is_dir()
    steps = [json.loads(line)["step"] for line in (operator_run / "train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    card = (coupled_dir / "README.md").read_text()
    assert card.startswith((pipeline_dir / "README.md").read_text().rstrip())  # stage 2's card, kept
    assert card.count("## Latent forward operator") == 1 and "train_joint_latent_operator.py" in card
    coupled = JointGenerationPipeline.from_pretrained(str(coupled_dir))
    assert coupled.latent_operator is not None and list(coupled.latent_operator.config.dilations) == [1, 2]
    assert not [p for p in coupled_dir.rglob("*") if p.suffix in (".bin", ".pt", ".ckpt", ".pkl")]
    # fine-tuning the coupled pipeline: stage 2 keeps the operator (the autoencoder is frozen there);
    # stage 1 keeps it only with the encoders and codebooks frozen, as it maps their codes
    result = run("train_joint_ldm.py", "--pretrained_pipeline", str(coupled_dir), "--train_data_dir",
                 str(paired_folder), "--output_dir", str(tmp_path / "ldm-ft"), "--max_train_steps", "1",
                 *[a for a in TINY_LDM if a != "--use_ema"])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        JointGenerationPipeline.from_pretrained(str(tmp_path / "ldm-ft" / "pipeline")).latent_operator
        is not None
    )
    card = (tmp_path / "ldm-ft" / "pipeline" / "README.md").read_text()
    assert "operator is the pretrained pipeline's, kept" in card
    for freeze, kept in ((["encoder", "codebook"], True), (["codebook"], False)):
        out = tmp_path / f"vq-ft-{'-'.join(freeze)}"
        result = run("train_joint_vqvae.py", "--train_data_dir", str(paired_folder), "--output_dir", str(out),
                     "--max_train_steps", "1", "--pretrained_pipeline", str(coupled_dir), "--freeze", *freeze,
                     *[a for a in TINY_VQ if a != "--use_ema"])  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        fine_tuned = JointGenerationPipeline.from_pretrained(str(out / "pipeline"))
        assert (fine_tuned.latent_operator is not None) == kept
        assert ("operator is the pretrained one" if kept else "operator was dropped") in (
            out / "pipeline" / "README.md"
        ).read_text()
    # deepwave targets: the velocity halves are kept, the seismic halves are codes of simulated gathers
    physics_run = tmp_path / "operator-physics"
    from safetensors.torch import load_file

    data_codes = load_file(str(stage2 / "latents.safetensors"))["latents"]
    result = run("train_joint_latent_operator.py", *common, "--max_train_steps", "1", "--physics_targets",
                 "--output_dir", str(physics_run), "--pipeline_dir", str(physics_run / "pipeline"),
                 "--attention_layers", "1", "--attention_heads", "2", "--extra_velocity_maps", "3",
                 "--generated_samples", "2", "--generated_steps", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    extra = load_file(str(physics_run / "extra_physics_targets.safetensors"))["latents"]
    assert extra.shape == (3, *data_codes.shape[1:]) and extra[:, :2].abs().sum() > 0  # seismic halves filled
    assert (
        "plus 3 maps drawn by generate_velocity_models"
        in (physics_run / "pipeline" / "README.md").read_text()
    )
    with torch.no_grad():  # the first extra map is flatvel-a's first at the default seed
        first = torch.as_tensor(generate_velocity_models("flatvel-a", 1, seed=500000))[:, None]
        code = pipe.vqvae.quantizers[1](pipe.vqvae.encode_velocity(pipe.vqvae.normalize_velocity(first)))[0]
    torch.testing.assert_close(extra[:1, 2:], code)
    generated = load_file(str(physics_run / "generated_physics_targets.safetensors"))["latents"]
    assert generated.shape == (2, *data_codes.shape[1:]) and generated[:, :2].abs().sum() > 0
    with torch.no_grad():  # the velocity codes of the pipeline's own samples, snapped, at the default seed
        sampled = pipe(batch_size=2, generator=torch.Generator().manual_seed(200000), num_inference_steps=2,
                       output_type="latent").latents  # fmt: skip
        code = pipe.vqvae.quantizers[1](pipe.vqvae.unscale_latents(sampled)[:, 2:])[0]
    torch.testing.assert_close(generated[:, 2:], code)
    with_attention = JointGenerationPipeline.from_pretrained(str(physics_run / "pipeline")).latent_operator
    assert with_attention.config.attention_layers == 1 and len(with_attention.transformer_blocks) == 1
    physics_codes = load_file(str(physics_run / "physics_targets.safetensors"))["latents"]
    assert physics_codes.shape == data_codes.shape
    torch.testing.assert_close(physics_codes[:, 2:], data_codes[:, 2:])
    assert not torch.allclose(physics_codes[:, :2], data_codes[:, :2])
    vqvae = pipe.vqvae  # the target of one latent, by hand: decode, simulate, encode, quantise
    with torch.no_grad():
        velocity = vqvae.denormalize_velocity(vqvae.decode(data_codes[:1]).velocity[:, 0])
        gathers = vqvae.normalize_seismic(forward_model(velocity))
        expected = vqvae.quantizers[0](vqvae.encode_seismic(gathers))[0]
    torch.testing.assert_close(physics_codes[:1, :2], expected)
    assert (
        "deepwave gathers over each decoded velocity half"
        in (physics_run / "pipeline" / "README.md").read_text()
    )
    # a cache made from another split is refused
    result = run("train_joint_latent_operator.py", *common[:-2], "--latents_cache",
                 str(stage2 / "latents.safetensors"), "--validation_fraction", "0.5", "--max_train_steps", "1")  # fmt: skip
    assert result.returncode != 0 and "made with other data or another autoencoder" in result.stderr


def test_latent_operator_refuses_a_one_encoder_pipeline(paired_folder, tiny_joint_pipeline_dir, tmp_path):
    result = run("train_joint_latent_operator.py", "--pipeline", tiny_joint_pipeline_dir, "--train_data_dir",
                 str(paired_folder), "--output_dir", str(tmp_path / "op"), "--max_train_steps", "1")  # fmt: skip
    assert result.returncode != 0 and "has no velocity half to predict from" in result.stderr
    assert (
        not (tmp_path / "op" / "pipeline").exists() and not (tmp_path / "op" / "latents.safetensors").exists()
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--pipeline_dir", "OUT"], "--pipeline_dir must differ from --output_dir"),
        (["--extra_velocity_maps", "8"], "--extra_velocity_maps must be >= 0 and needs --physics_targets"),
        (["--generated_samples", "8"], "--generated_samples must be >= 0 and needs --physics_targets"),
    ],
)
def test_latent_operator_refuses_bad_flags_before_any_work(flags, message, tmp_path, parse_args_error):
    out = str(tmp_path / "op")
    argv = ["--pipeline", "p", "--train_data_dir", "d", "--output_dir", out]
    argv += [out if f == "OUT" else f for f in flags]
    assert message in parse_args_error("training/train_joint_latent_operator.py", argv)
    assert not (tmp_path / "op").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--velocity_encoder"], "--velocity_encoder needs --num_codebooks 2"),
        (["--seismic_amplitude_loss_weight", "-1"], "--seismic_amplitude_loss_weight must be >= 0"),
        (["--seismic_agc_window", "250"], "--seismic_agc_window must be an odd number"),
    ],
)
def test_stage_one_refuses_bad_flags(flags, message, tmp_path, parse_args_error):
    argv = ["--train_data_dir", tmp_path, "--output_dir", tmp_path / "x", *flags, *TINY_VQ]
    assert message in parse_args_error("training/train_joint_vqvae.py", argv)
    assert not (tmp_path / "x").exists()


def test_latent_statistics_new_and_fine_tuned(tmp_path, repo_script, parse_args_error):
    """A new stage 2 standardises each channel (or scales globally); fine-tuning keeps the pretrained
    pipeline's statistics, and refuses --latent_scaling, which could not change them."""
    from types import SimpleNamespace

    train_joint_ldm = repo_script("training/train_joint_ldm.py")
    latents = torch.randn(32, 4, 5, 5) * torch.tensor([0.1, 1.0, 2.0, 0.5]).view(1, -1, 1, 1) + 1.0
    per_channel = train_joint_ldm.latent_statistics(latents, "per_channel")
    assert per_channel["scaling_factor"] == 1.0
    torch.testing.assert_close(torch.tensor(per_channel["latents_std"]), latents.std(dim=(0, 2, 3)))
    glob = train_joint_ldm.latent_statistics(latents, "global")
    assert glob["latents_mean"] is None and glob["scaling_factor"] == pytest.approx(1 / latents.std().item())
    pretrained = SimpleNamespace(vqvae=JointVQModel(block_out_channels=(8, 8, 8, 8), latent_channels=4,
                                                    norm_num_groups=4, **per_channel))  # fmt: skip
    kept = train_joint_ldm.latent_statistics(torch.randn(8, 4, 5, 5), "global", pretrained)
    assert kept["latents_mean"] == per_channel["latents_mean"] and kept["scaling_factor"] == 1.0
    with pytest.raises(ValueError, match="latents_mean must hold 4 finite numbers"):
        train_joint_ldm.latent_statistics(torch.full((8, 4, 5, 5), float("nan")), "per_channel")
    constant = train_joint_ldm.latent_statistics(torch.zeros(8, 4, 5, 5), "per_channel")  # unused codes
    assert min(constant["latents_std"]) > 0
    argv = ["--pretrained_pipeline", tmp_path, "--train_data_dir", tmp_path, "--latent_scaling", "global"]
    assert "fine-tuning keeps the pretrained pipeline's scaling" in parse_args_error(
        "training/train_joint_ldm.py", argv
    )

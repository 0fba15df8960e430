"""Where the PDE deviation of joint samples comes from: the latent operator, or stage 1 itself.

For diffusion samples drawn as in `benchmarks/bench_joint.py` (c) (same seeds, steps and eta), the
mean and median PDE deviation of

- the pipeline's pairs (seismic half from the latent operator, if the pipeline has one);
- an oracle operator: the seismic half replaced by the quantised seismic code of deepwave's gathers
  over the sample's decoded velocity (the operator's `--physics_targets` training target);
- stage-1 reconstructions of the exact pairs (velocity, deepwave gathers) of the sampled maps, i.e.
  row (a) of the bench, but on generated maps instead of held-out data.

If the oracle scores about what the pipeline does, a better operator cannot lower the mean; if the
exact pairs' reconstructions score far above row (a), the generated maps are harder for stage 1.
The operator's latent error on the samples (scaled space) is comparable with the held-out error the
operator script reports on data latents. `--seed` picks other samples than the bench's (seed 0).

    python docs/experiments/joint_operator_oracle.py runs/joint-2enc-opphys-pipeline --num_samples 100
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from seismic_diffusers import JointGenerationPipeline, forward_model, pde_deviation


def summary(values) -> dict:
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(values.mean()), "median": float(np.median(values)), "std": float(values.std())}


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pipeline")
    parser.add_argument("--num_samples", type=int, default=100)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--eta", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pipe = JointGenerationPipeline.from_pretrained(args.pipeline)
    pipe.set_progress_bar_config(disable=True)
    vqvae, half = pipe.vqvae, pipe.vqvae.config.latent_channels // 2
    captured = []
    decode = pipe._decode

    def capturing_decode(latents):  # the final scaled latents of each call
        captured.append(latents)
        return decode(latents)

    pipe._decode = capturing_decode
    rows = {"pipeline": [], "oracle_operator": [], "exact_pairs_reconstructed": []}
    contrast, operator_error = [], []
    for index, start in enumerate(range(0, args.num_samples, args.batch_size)):
        count = min(args.batch_size, args.num_samples - start)
        captured.clear()
        out = pipe(
            batch_size=count,
            generator=torch.Generator().manual_seed(args.seed + 1000 + index),
            num_inference_steps=args.steps,
            eta=args.eta,
            output_type="pt",
            return_pde_deviation=True,
        )
        rows["pipeline"] += out.pde_deviation.tolist()
        velocity = out.velocities.float()
        gathers = forward_model(velocity, geometry=pipe.geometry)
        seismic_code = vqvae.quantize(
            torch.cat(
                [
                    vqvae.encode_seismic(vqvae.normalize_seismic(gathers)),
                    vqvae.unscale_latents(captured[-1])[:, half:],
                ],
                dim=1,
            )
        )[0][:, :half]
        oracle = torch.cat([seismic_code, vqvae.unscale_latents(captured[-1])[:, half:]], dim=1)
        # the operator's error on these latents, per sample, in the scaled space it was trained in
        error = captured[-1][:, :half] - vqvae.scale_latents(oracle)[:, :half]
        operator_error += error.pow(2).mean(dim=(1, 2, 3)).tolist()
        v, s = decode(vqvae.scale_latents(oracle))
        rows["oracle_operator"] += pde_deviation(v, s).tolist()
        exact = vqvae.quantize(
            vqvae.encode(
                vqvae.normalize_seismic(gathers), vqvae.normalize_velocity(velocity[:, None])
            ).latents
        )[0]
        v, s = decode(vqvae.scale_latents(exact))
        rows["exact_pairs_reconstructed"] += pde_deviation(v, s).tolist()
        # vertical velocity contrast: mean |dv/dz| in m/s per cell
        contrast += velocity.diff(dim=1).abs().mean(dim=(1, 2)).tolist()
        print(
            f"{start + count}/{args.num_samples}",
            {k: round(float(np.mean(r)), 5) for k, r in rows.items()},
            flush=True,
        )
    result = {k: summary(r) for k, r in rows.items()}
    pipeline = np.asarray(rows["pipeline"])
    order = np.argsort(pipeline)[::-1][: max(1, len(pipeline) // 10)]
    result["worst_tenth"] = {k: float(np.asarray(r)[order].mean()) for k, r in rows.items()}
    result["corr_deviation_contrast"] = float(np.corrcoef(pipeline, contrast)[0, 1])
    # comparable with the operator script's held-out latent error on data latents
    result["operator_mse_scaled"] = float(np.mean(operator_error))
    result["operator_mse_scaled_worst_tenth"] = float(np.asarray(operator_error)[order].mean())
    print(json.dumps({"pipeline": args.pipeline, "num_samples": args.num_samples, **result}, indent=1))


if __name__ == "__main__":
    main()

"""Probe: with the mirror-averaged start, does a lower `strength` beat the shipped defaults? (seed 200000 only)

Same 16 clean gathers (2 maps per family, data seed 200000) and per-gather generators as
`training/calibrate_inversion_std.py`; every setting costs 44 forward + adjoint runs per gather.

    OMP_NUM_THREADS=1 python docs/experiments/velocity_inversion_strength_probe.py
"""

import time

import numpy as np
import torch

from seismic_diffusers import VelocityInversionPipeline, forward_model, openfwi_map_metrics
from seismic_diffusers.data import VELOCITY_FAMILIES, generate_velocity_models

SETTINGS = {
    "shipped: strength 0.2, 4 steps, 2 refine": {},
    "strength 0.1, 3 steps, 3 refine": dict(strength=0.1, num_inference_steps=3, refine_iterations=3),
}


def main() -> None:
    torch.set_num_threads(1)
    truth = np.concatenate([generate_velocity_models(f, 2, seed=200_000) for f in VELOCITY_FAMILIES])
    data = torch.as_tensor(forward_model(truth))
    pipe = VelocityInversionPipeline.from_pretrained("pipelines/openfwi-velocity-inversion")
    pipe.set_progress_bar_config(disable=True)
    for name, kwargs in SETTINGS.items():
        tic = time.perf_counter()
        generators = [torch.Generator().manual_seed(200_000 + i) for i in range(len(truth))]
        out = pipe(data, generator=generators, **kwargs)
        m = openfwi_map_metrics(torch.as_tensor(out.velocities), torch.as_tensor(truth))
        inside = float(np.mean(np.abs(out.velocities - truth) <= 2 * out.std))
        print(
            f"{name:45s} SSIM {m['SSIM']:.3f} MAE {m['MAE'] * 1500:4.0f} m/s coverage {inside:.2f} "
            f"{(time.perf_counter() - tic) / len(truth):5.1f} s/gather",
            flush=True,
        )


if __name__ == "__main__":
    main()

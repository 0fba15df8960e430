"""Choose VelocityInversionPipeline's defaults on data seed 200000 (never the report seed 300000).

One map per family, clean gathers. Each setting is scored by the posterior mean's SSIM and MAE,
against InversionNet alone and InversionNet + FWI at the same forward + adjoint budget.

    python docs/experiments/velocity_inversion_settings.py runs/inversion-net/inversion_net
"""

import json
import sys
import time

import torch

from seismic_diffusers import (
    InversionNetModel,
    VelocityInversionPipeline,
    forward_model,
    full_waveform_inversion,
    generate_velocity_models,
    openfwi_map_metrics,
)
from seismic_diffusers.data import VELOCITY_FAMILIES

SETTINGS = {
    "strength 0.4, 6 steps, 1 data it., 5 refine": dict(
        strength=0.4, num_inference_steps=6, refine_iterations=5
    ),
    "strength 0.2, 4 steps, 1 data it., 7 refine": dict(
        strength=0.2, num_inference_steps=4, refine_iterations=7
    ),
    "strength 0.4, 6 steps, no data steps, 11 refine": dict(
        strength=0.4, num_inference_steps=6, data_iterations=0, refine_iterations=11
    ),
    "strength 0.6, 8 steps, 1 data it., 3 refine": dict(
        strength=0.6, num_inference_steps=8, refine_iterations=3
    ),
}


def main() -> None:
    torch.set_num_threads(1)
    net = InversionNetModel.from_pretrained(sys.argv[1]).eval()
    pipe = VelocityInversionPipeline.from_pretrained("pipelines/openfwi-velocity-ddpm", inversion_net=net)
    pipe.set_progress_bar_config(disable=True)
    truth = torch.as_tensor([generate_velocity_models(f, 1, seed=200_000)[0] for f in VELOCITY_FAMILIES])
    data = torch.as_tensor(forward_model(truth))
    rows = {}

    def record(name, predicted, seconds):
        m = openfwi_map_metrics(torch.as_tensor(predicted), truth)
        rows[name] = {"ssim": m["SSIM"], "mae_m_per_s": m["MAE"] * 1500, "s_per_gather": seconds / len(truth)}
        print(
            f"{name:50s} SSIM {m['SSIM']:.3f} MAE {m['MAE'] * 1500:4.0f} m/s {seconds / len(truth):5.1f} s",
            flush=True,
        )

    start = net.predict_velocity(data)
    record("InversionNet", start, 0.0)
    for iterations in (10, 44):
        tic = time.perf_counter()
        v = full_waveform_inversion(
            start, data, iterations=iterations, velocity_range=(1500.0, 4500.0)
        ).velocity
        record(f"InversionNet + {iterations} FWI", v, time.perf_counter() - tic)
    for name, kwargs in SETTINGS.items():
        tic = time.perf_counter()
        out = pipe(data, num_samples=4, generator=torch.Generator().manual_seed(0), **kwargs)
        record(name, out.velocities, time.perf_counter() - tic)
        for k in range(2):
            m = openfwi_map_metrics(torch.as_tensor(out.samples[:, k]), truth)
            print(f"    sample {k}: SSIM {m['SSIM']:.3f}")
        inside = (abs(torch.as_tensor(out.velocities) - truth) <= 2 * torch.as_tensor(out.std)).float().mean()
        rows[name]["coverage_2std"] = float(inside)
        print(f"    +-2 std coverage {float(inside):.2f}", flush=True)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

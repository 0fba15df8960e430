"""Oracle ceilings of a 4-call student: the student replaced by its exact targets (choose seeds only).
From the repository root: python docs/experiments/velocity_step_oracle.py MODE SEED [GRID], e.g.
`ddim-sde 0 995,814,492,228,81` (default grid 995 (the profile prior), 814, 567, 352, 124).
mode ddim-sde : x0 = DDIM-implied from teacher's interval; step = SDE-DPM-Solver++ 1st order
mode endpoint : x0 = teacher ODE endpoint from x_t; step = fresh-noise renoise (LCM)
mode ddim     : deterministic DDIM (the student's own sampler)"""

import sys
import time

import numpy as np
import torch

sys.path.insert(0, "training")
from diffusers import DPMSolverMultistepScheduler
from distill_velocity_steps import teacher_steps

from seismic_diffusers import VELOCITY_FAMILIES, VelocityGenerationPipeline, generate_velocity_models
from seismic_diffusers.metrics import velocity_frechet_distance, velocity_map_statistics
from seismic_diffusers.schedulers.clean_estimate import alpha_sigma
from seismic_diffusers.schedulers.step_distillation import ddim_clean_target

torch.set_num_threads(1)
mode = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
n = 50
T = VelocityGenerationPipeline.from_pretrained("pipelines/openfwi-velocity-ddpm")
proc = T.processor
solver = DPMSolverMultistepScheduler.from_config(T.scheduler.config, algorithm_type="dpmsolver++")
tgrid = [995, 903, 814, 729, 646, 567, 492, 420, 352, 288, 228, 174, 124, 81, 44, 16]
sgrid = [int(v) for v in sys.argv[3].split(",")] if len(sys.argv) > 3 else [995, 814, 567, 352, 124]
weights_by_label = torch.tensor(
    proc.guidance_scales(T.config.default_guidance_scale, range(proc.null_label + 1))
)


def a_s(t):
    return alpha_sigma(solver, t, "cpu")


out = {}
t0 = time.time()
with torch.no_grad():
    for fi, fam in enumerate(VELOCITY_FAMILIES):
        g = torch.Generator().manual_seed(seed + 1000 * fi)
        labels = torch.tensor(proc.family_labels(fam, n))
        w = weights_by_label[labels]
        x = torch.randn(n, 1, 70, 70, generator=g)
        draws = torch.randn(n, proc.num_profile_components, generator=g)
        x0 = proc.prior_sample(labels.tolist(), (70, 70), draws)
        for j in range(1, len(sgrid)):
            t_prev, t = sgrid[j - 1], sgrid[j]
            ap, sp = a_s(t_prev)
            a, s = a_s(t)
            if mode == "endpoint":
                x = a * x0 + s * torch.randn(x.shape, generator=g)
            elif mode == "ddim-sde" and j > 1:
                # SDE-DPM-Solver++ first order from t_prev to t with estimate x0
                lam_p, lam = torch.log(ap / sp), torch.log(a / s)
                h = lam - lam_p
                x = (
                    (s / sp) * torch.exp(-h) * x
                    + a * (1 - torch.exp(-2 * h)) * x0
                    + s * torch.sqrt(1 - torch.exp(-2 * h)) * torch.randn(x.shape, generator=g)
                )
            else:  # DDIM
                eps = (x - ap * x0) / sp
                x = a * x0 + s * eps
            i = tgrid.index(t)
            if mode == "endpoint":
                x0 = teacher_steps(T, solver, x, labels, w, tgrid[i:], final=True)
            else:
                last = j == len(sgrid) - 1
                interval = tgrid[i:] if last else tgrid[i : tgrid.index(sgrid[j + 1]) + 1]
                landed = teacher_steps(T, solver, x, labels, w, interval, final=last)
                if last:
                    x0 = landed
                else:
                    an, sn = a_s(sgrid[j + 1])
                    x0 = ddim_clean_target(x, landed, a, s, an, sn)
            x0 = x0.clamp(-proc.sample_range, proc.sample_range)
        out[fam] = proc.denormalize(x0[:, 0]).numpy()
allm = np.concatenate([out[f] for f in VELOCITY_FAMILIES])
refs = [
    np.concatenate([generate_velocity_models(f, n, rs) for f in VELOCITY_FAMILIES])
    for rs in (20000, 30000, 40000, 50000)
]
fd = np.mean([velocity_frechet_distance(r, allm) for r in refs])
st = velocity_map_statistics(allm)
print(
    mode,
    seed,
    "FD",
    round(fd, 3),
    "ratio",
    round(fd / 1.150, 2),
    {k: round(v, 2) for k, v in st.items()},
    f"{time.time() - t0:.0f}s",
    flush=True,
)

"""Per-step error of a 4-call student (grid 995, 814, 567, 352, 124) on data-noised inputs, and how far
bf16 teacher targets are from fp32 ones. From the repository root:

    python docs/experiments/velocity_step_diagnosis.py runs/velocity-4call/pipeline
"""

import sys

import torch

sys.path.insert(0, "training")
from diffusers import DPMSolverMultistepScheduler
from distill_velocity_steps import teacher_steps

from seismic_diffusers import (
    VelocityGenerationPipeline,
    VelocityUNet2DModel,
    generate_velocity_models,
)
from seismic_diffusers.schedulers.clean_estimate import alpha_sigma
from seismic_diffusers.schedulers.step_distillation import ddim_clean_target

torch.set_num_threads(2)
T = VelocityGenerationPipeline.from_pretrained("pipelines/openfwi-velocity-ddpm")
proc = T.processor
S = VelocityUNet2DModel.from_pretrained(sys.argv[1], subfolder="unet").eval()
solver = DPMSolverMultistepScheduler.from_config(T.scheduler.config, algorithm_type="dpmsolver++")
tgrid = [995, 903, 814, 729, 646, 567, 492, 420, 352, 288, 228, 174, 124, 81, 44, 16]
sgrid = [995, 814, 567, 352, 124]
wl = torch.tensor(proc.guidance_scales(T.config.default_guidance_scale, range(proc.null_label + 1)))
g = torch.Generator().manual_seed(7)
fams = ["flatvel-a", "curvefault-a", "flatfault-b"]


def rms(x):  # m/s
    return x.pow(2).mean().sqrt().item() * 1500


def rough(x):  # mean abs horizontal difference, m/s
    return (x[..., :, 1:] - x[..., :, :-1]).abs().mean().item() * 1500


with torch.no_grad():
    for fam in fams:
        clean = proc.normalize(torch.tensor(generate_velocity_models(fam, 12, 777)).float()[:, None])
        labels = torch.tensor(proc.family_labels(fam, 12))
        w = wl[labels]
        for j in range(1, 5):
            t = sgrid[j]
            a, s = alpha_sigma(solver, t, "cpu")
            x = a * clean + s * torch.randn(clean.shape, generator=g)
            last = j == 4
            interval = (
                tgrid[tgrid.index(t) :] if last else tgrid[tgrid.index(t) : tgrid.index(sgrid[j + 1]) + 1]
            )
            landed = teacher_steps(T, solver, x, labels, w, interval, final=last)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                landed16 = teacher_steps(T, solver, x, labels, w, interval, final=last)
            if last:
                tgt, tgt16 = landed, landed16.float()
            else:
                an, sn = alpha_sigma(solver, sgrid[j + 1], "cpu")
                tgt = ddim_clean_target(x, landed, a, s, an, sn)
                tgt16 = ddim_clean_target(x, landed16.float(), a, s, an, sn)
            eps = S(x, torch.full((12,), t), class_labels=labels).sample
            x0s = (x - s * eps) / a
            print(
                f"{fam:13s} t={t:3d} student-target {rms(x0s - tgt):6.1f} m/s  bf16-fp32 target {rms(tgt16 - tgt):6.1f}  target-clean {rms(tgt - clean):6.1f}  rough clean {rough(clean):5.1f} target {rough(tgt):5.1f} student {rough(x0s):5.1f}",
                flush=True,
            )

"""Where a compact student loses: it samples for t >= SWITCH, the guided teacher below. From the repository root:

    python docs/experiments/velocity_compact_hybrid_probe.py runs/velocity-compact/pipeline 2000 0 300 100

400 maps (50 per family, noise seed 0) against reference set 20000 (50 per family); the ratio is to the FD
of 400 training maps (data seed 0) against the same set. Choose-side figures only.
"""

import sys

import numpy as np
import torch
from diffusers.models.unets.unet_2d import UNet2DOutput

from seismic_diffusers import VelocityGenerationPipeline, generate_velocity_models
from seismic_diffusers.metrics.velocity import (
    load_family_classifier,
    predict_families,
    velocity_frechet_distance,
)

torch.set_num_threads(2)
T = VelocityGenerationPipeline.from_pretrained("pipelines/openfwi-velocity-ddpm")
S = VelocityGenerationPipeline.from_pretrained(sys.argv[1])
S.set_progress_bar_config(disable=True)
proc = T.processor
w = torch.tensor(proc.guidance_scales(T.config.default_guidance_scale, range(proc.null_label + 1)))
student_forward = S.unet.forward
switch = None


@torch.no_grad()
def hybrid(sample, timestep, class_labels=None, return_dict=True, **kw):
    t = int(timestep if not torch.is_tensor(timestep) else timestep.flatten()[0])
    if t >= switch:
        return student_forward(sample, timestep, class_labels=class_labels, return_dict=return_dict, **kw)
    out = T.unet(sample, timestep, class_labels=class_labels).sample
    weights = w[class_labels]
    g = (weights > 1).nonzero().flatten()
    if len(g):
        tt = timestep if not torch.is_tensor(timestep) or timestep.ndim == 0 else timestep[g]
        null = torch.full_like(class_labels[g], proc.null_label)
        unc = T.unet(sample[g], tt, class_labels=null).sample
        out[g] = unc + weights[g].view(-1, 1, 1, 1) * (out[g] - unc)
    return UNet2DOutput(sample=out) if return_dict else (out,)


S.unet.forward = hybrid
fams = proc.families
ref = np.concatenate([generate_velocity_models(f, 50, seed=20000) for f in fams])
train = np.concatenate([generate_velocity_models(f, 50, seed=0) for f in fams])
clf = load_family_classifier()
base = velocity_frechet_distance(ref, train, clf)
print(f"baseline FD {base:.3f}")
for sw in [int(a) for a in sys.argv[2:]]:
    switch = sw
    maps = np.concatenate(
        [S(50, family=f, generator=torch.Generator().manual_seed(0)).velocities for f in fams]
    )
    fd = velocity_frechet_distance(ref, maps, clf)
    pred = predict_families(clf, maps)
    acc = float(np.mean(pred == np.repeat(np.arange(8), 50)))
    print(f"student for t >= {sw}: FD {fd:.3f} ratio {fd / base:.2f} acc {acc:.3f}", flush=True)

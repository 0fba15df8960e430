"""Probe, not a benchmark: inversion of a few held-out gathers by FWI, the joint encoder and the velocity prior.

Recorded in docs/experiments/velocity-inversion.md. Stages, each optional:

1. a start: a 1-D profile fitted by Adam (low-passed data, from the prior's all-family mean
   profile), or the joint pipeline's stage-1 encoding (`"init": "joint"`);
2. plain FWI (Adam on the map) in `stages` of `[low-pass Hz or 0, iterations]`;
3. `"sd"`: SDEdit from that map with the shipped velocity prior: noise it to `t_start`, denoise in
   `steps` power-spaced steps, each clean-map estimate moved by `dc_iters` Adam steps on the gather
   misfit through deepwave, then `final_iters` FWI iterations; `S` samples per gather.

    python docs/experiments/velocity_inversion_probe.py '{"init": "joint", "f_lr": 20, "stages": [[0, 10]],
        "sd": {"S": 2, "t_start": 400, "steps": 8, "lr": 20, "dc_iters": 1, "final_iters": 5, "label": "true"}}'
"""

import json
import sys
import time

import numpy as np
import torch
from diffusers.utils.torch_utils import randn_tensor

from seismic_diffusers import JointGenerationPipeline, VelocityGenerationPipeline, openfwi_map_metrics
from seismic_diffusers.data import VELOCITY_FAMILIES, generate_velocity_models
from seismic_diffusers.physics import forward_model

torch.set_num_threads(1)
FAMILIES = list(VELOCITY_FAMILIES)
DATA_SEED = 200_000  # no training or benchmark uses it


def lowpass(x: torch.Tensor, corner_hz: float) -> torch.Tensor:
    """Zero-phase exp(-(f/fc)^4) low-pass along time (axis 2, 1 ms samples); 0 = none."""
    if not corner_hz:
        return x
    freqs = torch.fft.rfftfreq(x.shape[2], d=1e-3)
    taper = torch.exp(-((freqs / corner_hz) ** 4))[None, None, :, None]
    return torch.fft.irfft(torch.fft.rfft(x, dim=2) * taper, n=x.shape[2], dim=2)


def relative_misfit(v: torch.Tensor, data: torch.Tensor, corner_hz: float = 0) -> torch.Tensor:
    pred, data = lowpass(forward_model(v), corner_hz), lowpass(data, corner_hz)
    return (pred - data).pow(2).sum(dim=(1, 2, 3)) / data.pow(2).sum(dim=(1, 2, 3))


def fit_profile(processor, data, iterations, lr, corner_hz):
    profile = torch.tensor(processor.config.mean_profiles[-1], dtype=torch.float32)
    profile = profile[None].repeat(data.shape[0], 1).requires_grad_(True)
    optimizer = torch.optim.Adam([profile], lr=lr)
    for _ in range(iterations):
        optimizer.zero_grad()
        relative_misfit(
            profile[:, :, None].expand(-1, -1, 70).clamp(1500, 4500), data, corner_hz
        ).sum().backward()
        optimizer.step()
        with torch.no_grad():
            profile.clamp_(1500, 4500)
    return profile.detach()[:, :, None].expand(-1, -1, 70).clone()


def fwi(v, data, iterations, lr, corner_hz=0):
    v = v.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([v], lr=lr)
    for _ in range(iterations):
        optimizer.zero_grad()
        relative_misfit(v, data, corner_hz).sum().backward()
        optimizer.step()
        with torch.no_grad():
            v.clamp_(1500, 4500)
    return v.detach()


def sdedit(
    pipe, v_start, data, labels, S, t_start, steps, lr, dc_iters, seed=0, final_iters=5, final_lr=20.0
):
    processor, scheduler = pipe.processor, pipe.scheduler
    generator = torch.Generator().manual_seed(seed)
    batch = v_start.shape[0]
    data = data.repeat_interleave(S, 0)
    class_labels = torch.tensor(labels).repeat_interleave(S, 0)
    timesteps = [int(t) for t in (t_start * (1 - np.arange(steps) / steps) ** 1.5).round()]
    scheduler.set_timesteps(timesteps=timesteps)
    clean = processor.normalize(v_start).repeat_interleave(S, 0)[:, None]
    x = scheduler.add_noise(
        clean, randn_tensor(clean.shape, generator=generator), torch.tensor([timesteps[0]])
    )
    v = torch.zeros(batch * S, 70, 70, requires_grad=True)
    optimizer = torch.optim.Adam([v], lr=lr)
    for t in scheduler.timesteps:
        with torch.no_grad():
            eps = pipe.unet(x, t, class_labels=class_labels).sample
            v.copy_(processor.denormalize(pipe.clean_estimate(eps, x, t).clamp(-1, 1)[:, 0]))
        for _ in range(dc_iters):
            optimizer.zero_grad()
            relative_misfit(v, data).sum().backward()
            optimizer.step()
            with torch.no_grad():
                v.clamp_(1500, 4500)
        clean = processor.normalize(v.detach())[:, None]
        x = scheduler.step(pipe.prediction_from_clean(clean, x, t), t, x).prev_sample
    samples = processor.denormalize(x.clamp(-1, 1)[:, 0])
    if final_iters:
        samples = fwi(samples, data, final_iters, final_lr)
    return samples.view(batch, S, 70, 70)


def main() -> None:
    cfg = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    which = cfg.get("fams", [1, 2, 5, 7])
    true = np.concatenate([generate_velocity_models(FAMILIES[k], 1, seed=DATA_SEED) for k in which])
    data = torch.as_tensor(forward_model(true))
    pipe = VelocityGenerationPipeline.from_pretrained("pipelines/openfwi-velocity-ddpm")

    def report(name, v, started):
        scores = [openfwi_map_metrics(v[i : i + 1], true[i : i + 1]) for i in range(len(v))]
        with torch.no_grad():
            misfit = float(relative_misfit(v, data).mean())
        ssim = [s["SSIM"] for s in scores]
        print(
            f"{name:20s} SSIM {' '.join(f'{s:.3f}' for s in ssim)} | mean {np.mean(ssim):.3f} "
            f"MAE {np.mean([s['MAE'] for s in scores]) * 1500:.0f} m/s misfit {misfit:.3f} "
            f"{time.time() - started:.0f} s",
            flush=True,
        )

    started = time.time()
    if cfg.get("init") == "joint":
        joint = JointGenerationPipeline.from_pretrained("pipelines/openfwi-joint-ldm")
        start = torch.as_tensor(joint.invert(data, refine_steps=0).velocities).clamp(1500, 4500)
        report("joint stage-1", start, started)
    else:
        start = fit_profile(
            pipe.processor, data, cfg.get("p_iters", 15), cfg.get("p_lr", 50.0), cfg.get("p_fc", 0)
        )
        report("1-D profile", start, started)
    started = time.time()
    estimate = start
    for corner_hz, iterations in cfg.get("stages", [[0, 20]]):
        estimate = fwi(estimate, data, iterations, cfg.get("f_lr", 30.0), corner_hz)
    report("start + FWI", estimate, started)
    if "sd" in cfg:
        settings = dict(cfg["sd"])
        labels = (
            list(which)
            if settings.pop("label", "null") == "true"
            else [pipe.processor.null_label] * len(which)
        )
        started = time.time()
        samples = sdedit(pipe, estimate, data, labels, **settings)
        mean, std = samples.mean(1), samples.std(1)
        report("SDEdit + data steps", mean, started)
        cover = ((torch.as_tensor(true) - mean).abs() <= 2 * std).float().mean(dim=(1, 2))
        print("+-2 std coverage per map", cover.numpy().round(2))


if __name__ == "__main__":
    main()

"""Real station noise next to the synthetic training noise: spectra and amplitude statistics.

Three sets of 30 s vertical windows at 100 Hz, side by side in one run:

- **real**: the event-free noise of ObsPy's bundled BW.UH4 (1 Hz geophone) and NZ.CRLZ
  (broadband) records (`seismic_diffusers.data.obspy_recordings.development_noise`);
- **Peterson**: `generate_seismic_noise`, the shipped denoiser's training noise;
- **realistic**: the same noise through `RealisticRecording` (microseism, lines, bursts, spikes,
  steps, responses, band limits).

Per set: the median PSD shape (Welch, each window normalised at 5 Hz), and per window the
excess kurtosis (spikes and bursts), the spread of the log RMS over 2 s pieces (non-stationarity,
natural log units) and the line prominence (largest PSD bin over the median bin, dB). Writes
`noise_realism.json` and `noise_realism.png` (PSDs, and a spectrogram of one window per set).

    python benchmarks/noise_realism.py --windows 64 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
from scipy import signal, stats

from seismic_diffusers.data import generate_seismic_noise
from seismic_diffusers.data.obspy_recordings import development_noise
from seismic_diffusers.data.realism import RealisticRecording

RATE, WINDOW = 100.0, 3000


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=64, help="Synthetic windows per set.")
    parser.add_argument("--out", default="benchmarks/results")
    return parser.parse_args(argv)


def real_windows() -> np.ndarray:
    windows = []
    for record in development_noise(RATE):
        for span in record.adaptation + record.evaluation:
            for start in range(0, len(span) - WINDOW + 1, WINDOW // 2):
                windows.append(span[start : start + WINDOW])
    return np.stack(windows)


def statistics(windows: np.ndarray) -> dict:
    freqs, psd = signal.welch(windows, fs=RATE, nperseg=1024, axis=-1)
    shape = psd / psd[:, [np.argmin(np.abs(freqs - 5.0))]]
    pieces = windows.reshape(len(windows), -1, int(2 * RATE))
    log_rms = np.log(np.sqrt((pieces**2).mean(axis=-1)) + 1e-30)
    return {
        "freqs": freqs,
        "median_psd_shape_db": 10 * np.log10(np.median(shape, axis=0)),
        "excess_kurtosis": float(np.median(stats.kurtosis(windows, axis=-1))),
        "log_rms_spread": float(np.median(log_rms.std(axis=-1))),
        "line_prominence_db": float(np.median(10 * np.log10(psd.max(axis=-1) / np.median(psd, axis=-1)))),
    }


def main(argv=None) -> dict:
    args = parse_args(argv)
    real = real_windows()
    peterson = generate_seismic_noise(args.windows, seed=123_000)[:, 2].astype(np.float64)
    augment = RealisticRecording(RATE, second_event_probability=0.0)
    rng = np.random.default_rng(0)
    full = generate_seismic_noise(args.windows, seed=123_000).astype(np.float64)
    realistic = np.stack([augment(np.zeros_like(n), n, rng)[1][2] for n in full])
    sets = {"real (UH4, CRLZ)": real, "Peterson (shipped training noise)": peterson, "realistic": realistic}
    results = {name: statistics(w) for name, w in sets.items()}

    print("command: python benchmarks/noise_realism.py " + shlex.join(sys.argv[1:]))
    print(
        "\n| set | windows | excess kurtosis | log-RMS spread over 2 s | line prominence (dB) | PSD 0.2 Hz vs 5 Hz (dB) | PSD 30 Hz vs 5 Hz (dB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    table = {}
    for name, r in results.items():
        at = {f: float(np.interp(f, r["freqs"], r["median_psd_shape_db"])) for f in (0.2, 30.0)}
        table[name] = {"windows": len(sets[name]), **{k: v for k, v in r.items() if not isinstance(v, np.ndarray)},
                       "psd_0.2hz_vs_5hz_db": at[0.2], "psd_30hz_vs_5hz_db": at[30.0]}  # fmt: skip
        row = table[name]
        print(f"| {name} | {row['windows']} | {row['excess_kurtosis']:.2f} | {row['log_rms_spread']:.2f} | "
              f"{row['line_prominence_db']:.1f} | {row['psd_0.2hz_vs_5hz_db']:+.1f} | {row['psd_30hz_vs_5hz_db']:+.1f} |")  # fmt: skip

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 4, figsize=(18, 4))
    for name, r in results.items():
        axes[0].semilogx(r["freqs"][1:], r["median_psd_shape_db"][1:], label=name)
    axes[0].set(xlabel="Hz", ylabel="median PSD / PSD at 5 Hz (dB)", title="spectral shape")
    axes[0].legend(fontsize=8)
    for axis, (name, windows) in zip(axes[1:], sets.items(), strict=True):
        f, t, sxx = signal.spectrogram(windows[0], fs=RATE, nperseg=256, noverlap=192)
        axis.pcolormesh(t, f, 10 * np.log10(sxx + 1e-30), shading="auto")
        axis.set(yscale="symlog", ylim=(0.1, 50), xlabel="s", ylabel="Hz", title=name)
    figure.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figure.savefig(out / "noise_realism.png", dpi=110)
    plt.close(figure)
    result = {"command": "python benchmarks/noise_realism.py " + shlex.join(sys.argv[1:]), "sets": table}
    (out / "noise_realism.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()

"""Conditional waveform generation (issue 7): reconstruction, magnitude scaling, spectra; CVAE vs diffusion prior.

One run, one machine, on held-out synthetic Marmara-like records (a seed no training used):

1. Reconstruction of each autoencoder run given (`--ae_run`, `--vae_run`, `--cvae_run`:
   `train_waveform_vae.py` output folders), `waveforms.reconstruction_scores`: SNR in the
   normalised spectrogram, in the linear STFT magnitude, and in the STFT magnitude of the
   waveform after Griffin-Lim; and the log10-peak error of amplitude-predicting VAEs. Also on
   one real recording never used for training: the local event in ObsPy's bundled NZ.CRLZ HHZ
   record (100 Hz), response removed with its bundled RESP file (m/s, vertical only; E and N
   stay zero), 70 s from 10 s before its STA/LTA trigger, run through `preprocess` with the
   magnitude 2-3 row (its magnitude is not in the file); the CVAE gets mid-range conditions and
   the unknown-station embedding. (Until 2026-12-03 this row used ObsPy's default example,
   BW.RJOB, which is now reserved for an independent evaluation.)
2. Magnitude scaling: records generated for magnitudes `--magnitudes` at one hypocentre and
   station (`--event`, `--station`); the slope of log10 peak amplitude against magnitude,
   against the same slope of the simulator's records at that geometry (the training data's law).
3. Log-spectral distance (dB) between each held-out record's mean power spectrum and that of a
   record generated for its condition, per magnitude bin (0-1, ..., 4+). Its floor is the same
   distance to the simulator's own second draw for each condition (noise, source and path
   randomness): reported as the first row.

2 and 3 are run for each generator given: the CVAE's own prior (`--cvae_run`'s pipeline) and
the diffusion prior (`--ldm_pipeline`).

    python benchmarks/bench_waveform.py --ae_run runs/wf-ae --vae_run runs/wf-vae --cvae_run runs/wf-cvae \
        --ldm_pipeline runs/wf-ldm/pipeline --out benchmarks/results

A shipped pipeline folder alone (`--pipeline`) scores its own conditional VAE (reconstruction, and
its `z ~ N(0, I)` prior: the same pipeline without `prior`) and its diffusion prior; the card's
scores are generated from that run by `benchmarks/waveform_card.py`:

    python benchmarks/bench_waveform.py --pipeline pipelines/conditional-waveform-vae --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.signal import welch

from seismic_diffusers import (
    ConditionalWaveformPipeline,
    SpectrogramAutoencoder,
    SpectrogramVAE,
    WaveformSpectrogram,
)
from seismic_diffusers.utils import machine_info
from seismic_diffusers.utils.plotting import plot_records_by_magnitude
from seismic_diffusers.waveforms import MAGNITUDE_BINS, generate_marmara_records, reconstruction_scores
from seismic_diffusers.waveforms.preprocessing import magnitude_bin

CONDITION_KEYS = ("magnitude", "latitude", "longitude", "depth_km")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ae_run", default=None)
    parser.add_argument("--vae_run", default=None)
    parser.add_argument("--cvae_run", default=None)
    parser.add_argument("--ldm_pipeline", default=None)
    parser.add_argument(
        "--pipeline",
        default=None,
        help="A shipped ConditionalWaveformPipeline folder: its CVAE and its prior.",
    )
    parser.add_argument("--num_records", type=int, default=200, help="Held-out records.")
    parser.add_argument("--heldout_seed", type=int, default=50_000)
    parser.add_argument(
        "--magnitudes", type=float, nargs="+", default=[1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5]
    )
    parser.add_argument(
        "--event", type=float, nargs=3, default=[40.8, 28.5, 10.0], help="latitude longitude depth_km"
    )
    parser.add_argument("--station", default="MR06")
    parser.add_argument("--per_magnitude", type=int, default=8, help="Generated records per magnitude.")
    parser.add_argument("--steps", type=int, default=50, help="Diffusion-prior steps.")
    parser.add_argument("--out", default="benchmarks/results")
    return parser.parse_args(argv)


def log_power(waveforms: np.ndarray, sampling_rate: float = 100.0) -> np.ndarray:
    """`(N, F)` dB of the Welch power spectrum summed over the three components."""
    _, power = welch(waveforms, fs=sampling_rate, nperseg=512, axis=-1)
    return 10 * np.log10(power.sum(axis=1) + 1e-40)


def obspy_example_record(window_length: int = 7000) -> np.ndarray:
    """The NZ.CRLZ event ObsPy ships as one `(1, 3, window_length)` record (Z only; E, N zero), m/s."""
    import obspy

    from seismic_diffusers.data.obspy_recordings import obspy_data_file
    from seismic_diffusers.waveforms import preprocess
    from seismic_diffusers.waveforms.quality import component_index, first_trigger

    stream = obspy.read(obspy_data_file("signal/tests/data/CRLZ.HHZ.10.NZ.SAC"))
    inventory = obspy.read_inventory(obspy_data_file("signal/tests/data/RESP.NZ.CRLZ.10.HHZ"))
    stream.remove_response(inventory=inventory, output="VEL", pre_filt=(0.05, 0.1, 30.0, 40.0))
    trace = stream[0]
    rate = trace.stats.sampling_rate
    quiet = int(220 * rate)  # the record's largest event triggers after 230 s
    onset = quiet + first_trigger(trace.data[quiet:], rate)
    start = trace.stats.starttime + onset / rate - 10.0
    stream.trim(start, start + window_length / rate)
    stream = preprocess(stream, magnitude=2.5)
    record = np.zeros((1, 3, window_length), dtype=np.float32)
    for trace in stream:
        data = trace.data[:window_length]
        record[0, component_index(trace.stats.channel), : len(data)] = data
    return record


def reconstruction(run: str, records: dict) -> dict:
    folder = Path(run)
    spectrogram = WaveformSpectrogram.from_config(
        WaveformSpectrogram.load_config(str(folder / "spectrogram"))
    )
    # a training run keeps its model in model/, a pipeline folder in vae/
    model_folder = folder / "model" if (folder / "model").is_dir() else folder / "vae"
    config = json.loads((model_folder / "config.json").read_text())
    cls = SpectrogramAutoencoder if config["_class_name"] == "SpectrogramAutoencoder" else SpectrogramVAE
    model = cls.from_pretrained(str(model_folder)).eval()
    conditions = torch.tensor(np.stack([records[k] for k in CONDITION_KEYS], axis=1), dtype=torch.float32)
    names = list(config.get("station_names") or [])
    stations = torch.tensor([names.index(s) if s in names else len(names) for s in records["station"]])
    scores = reconstruction_scores(
        model, spectrogram, records["waveforms"], conditions, stations, generator=torch.Generator().manual_seed(0)
    )  # fmt: skip
    middle = [
        float(np.mean(config.get(key, (0.0, 0.0))))
        for key in ("magnitude_range", "latitude_range", "longitude_range", "depth_range_km")
    ]
    real = reconstruction_scores(
        model, spectrogram, obspy_example_record(spectrogram.config.window_length),
        torch.tensor([middle]), torch.tensor([len(names)]), generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    scores.update({f"obspy_example_{key}": value for key, value in real.items() if key != "log_peak_rmse"})
    return scores


def slope(magnitudes: np.ndarray, waveforms: np.ndarray) -> float:
    peaks = np.log10(np.abs(waveforms).max(axis=(1, 2)))
    return float(np.polyfit(magnitudes, peaks, 1)[0])


@torch.no_grad()
def evaluate_generator(pipe: ConditionalWaveformPipeline, records: dict, args) -> tuple[dict, np.ndarray]:
    """Scores of one generator, and its first record per requested magnitude (for the grid)."""
    pipe.set_progress_bar_config(disable=True)
    latitude, longitude, depth = args.event
    magnitudes = np.repeat(args.magnitudes, args.per_magnitude)
    generated = np.concatenate([
        pipe(magnitude=m, latitude=latitude, longitude=longitude, depth=depth, station=args.station,
             batch_size=args.per_magnitude, generator=torch.Generator().manual_seed(int(10 * m)),
             num_inference_steps=args.steps, output_type="np").waveforms
        for m in args.magnitudes
    ])  # fmt: skip
    # held-out records' conditions (those inside the trained ranges), one generated record each
    config = pipe.conditioner.config
    bounds = (config.magnitude_range, config.latitude_range, config.longitude_range, config.depth_range_km)
    inside = np.all(
        [(lo <= records[k]) & (records[k] <= hi) for k, (lo, hi) in zip(CONDITION_KEYS, bounds, strict=True)],
        axis=0,
    )
    records = {k: (np.asarray(v)[inside] if k != "station" else [s for s, keep in zip(v, inside, strict=True) if keep])
               for k, v in records.items() if k in (*CONDITION_KEYS, "station", "waveforms")}  # fmt: skip
    produced = []
    for i in range(0, len(records["waveforms"]), 32):
        part = slice(i, i + 32)
        produced.append(pipe(
            magnitude=records["magnitude"][part], latitude=records["latitude"][part],
            longitude=records["longitude"][part], depth=records["depth_km"][part], station=records["station"][part],
            batch_size=len(records["magnitude"][part]), generator=torch.Generator().manual_seed(i),
            num_inference_steps=args.steps, output_type="np").waveforms)  # fmt: skip
    firsts = generated[:: args.per_magnitude]
    scores = log_spectral_distance(records, np.concatenate(produced))
    return {"magnitude_slope": slope(magnitudes, generated), **scores}, firsts


def log_spectral_distance(records: dict, produced: np.ndarray) -> dict:
    """RMS dB difference of Welch spectra, record by record, averaged per magnitude bin and overall."""
    distance = np.sqrt(np.mean((log_power(produced) - log_power(records["waveforms"])) ** 2, axis=1))
    bins = np.array([magnitude_bin(m) for m in records["magnitude"]])
    return {
        "lsd_db_per_bin": {MAGNITUDE_BINS[b]: float(distance[bins == b].mean()) for b in sorted(set(bins))},
        "lsd_db_mean": float(distance.mean()),
        "records": int(len(distance)),
    }


def main(argv=None) -> dict:
    args = parse_args(argv)
    command = "python benchmarks/bench_waveform.py " + shlex.join(sys.argv[1:])
    print(f"command: {command}")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine_info().items()), flush=True)
    records = generate_marmara_records(args.num_records, seed=args.heldout_seed)
    latitude, longitude, depth = args.event
    count = len(args.magnitudes) * args.per_magnitude
    law = generate_marmara_records(
        count, seed=args.heldout_seed + 1,
        fixed={"magnitude": np.repeat(args.magnitudes, args.per_magnitude), "latitude": latitude,
               "longitude": longitude, "depth_km": depth, "station": [args.station] * count},
    )  # fmt: skip
    # the floor of the log-spectral distance: the simulator itself, drawn again for each condition
    twin = generate_marmara_records(
        args.num_records, seed=args.heldout_seed + 2,
        fixed={k: records[k] for k in (*CONDITION_KEYS, "station")},
    )  # fmt: skip
    results = {
        "command": command,
        "machine": machine_info(),
        "data_slope": slope(law["magnitude"], law["waveforms"]),
        "simulator_redrawn": log_spectral_distance(records, twin["waveforms"]),
    }
    results["pipeline"] = args.pipeline
    runs = (("AE", args.ae_run), ("VAE", args.vae_run), ("CVAE", args.cvae_run or args.pipeline))
    results["reconstruction"] = {name: reconstruction(run, records) for name, run in runs if run}
    generators = {}
    if args.pipeline:
        shipped = ConditionalWaveformPipeline.from_pretrained(args.pipeline)
        generators["CVAE prior"] = ConditionalWaveformPipeline(
            vae=shipped.vae, spectrogram=shipped.spectrogram
        )
        generators["diffusion prior"] = shipped
    if args.cvae_run:
        generators["CVAE prior"] = ConditionalWaveformPipeline.from_pretrained(
            str(Path(args.cvae_run) / "pipeline")
        )
    if args.ldm_pipeline:
        generators["diffusion prior"] = ConditionalWaveformPipeline.from_pretrained(args.ldm_pipeline)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results["generators"], grid = {}, {"simulator": law["waveforms"][:: args.per_magnitude]}
    for name, pipe in generators.items():
        results["generators"][name], grid[name] = evaluate_generator(pipe, records, args)
    figure = plot_records_by_magnitude(
        grid, args.magnitudes, out / "bench_waveform_records.png",
        title=f"Z component, station {args.station}, event at {latitude:g} N {longitude:g} E {depth:g} km",
    )  # fmt: skip
    results["figure"] = str(figure)
    (out / "bench_waveform.json").write_text(json.dumps(results, indent=2))

    print(
        f"\nheld-out synthetic ({args.num_records} records) | ObsPy's real example record; SNR in dB"
        "\n| model | log spectrogram | STFT magnitude | after Griffin-Lim | log10-peak RMSE "
        "| real: STFT magnitude | real: after Griffin-Lim |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in results["reconstruction"].items():
        peak = f"{row['log_peak_rmse']:.3f}" if "log_peak_rmse" in row else "-"
        print(
            f"| {name} | {row['spectrogram_snr_db']:.1f} | {row['stft_magnitude_snr_db']:.1f} "
            f"| {row['griffin_lim_snr_db']:.1f} | {peak} | {row['obspy_example_stft_magnitude_snr_db']:.1f} "
            f"| {row['obspy_example_griffin_lim_snr_db']:.1f} |"
        )
    print(
        f"\nmagnitude slope of log10 peak amplitude, simulator at that geometry: {results['data_slope']:.2f}"
    )
    print("| generator | slope | " + " | ".join(f"LSD {b} (dB)" for b in MAGNITUDE_BINS) + " | LSD mean |")
    print("|---|---:|" + "---:|" * (len(MAGNITUDE_BINS) + 1))
    rows = {
        "simulator, drawn again (floor)": {
            "magnitude_slope": results["data_slope"],
            **results["simulator_redrawn"],
        }
    }
    for name, row in {**rows, **results["generators"]}.items():
        cells = " | ".join(f"{row['lsd_db_per_bin'].get(b, float('nan')):.1f}" for b in MAGNITUDE_BINS)
        print(f"| {name} | {row['magnitude_slope']:.2f} | {cells} | {row['lsd_db_mean']:.1f} |")
    return results


if __name__ == "__main__":
    main()

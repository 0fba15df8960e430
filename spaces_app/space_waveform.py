"""The Space's "Earthquake records" tab: ConditionalWaveformPipeline records for a magnitude, location and station."""

from __future__ import annotations

import json
import time

import gradio as gr
import numpy as np
import space_common as common
import torch
from space_common import (
    CONCURRENCY_ID,
    card_link,
    card_text,
    check_range,
    check_whole_number,
    new_output_folder,
    user_errors,
)

from seismic_diffusers.utils.plotting import plot_records_by_magnitude

WAVEFORM_LIMITS = {"steps": (5, 100), "seed": (0, 2**31 - 1), "records": (1, 8)}
WAVEFORM_DEFAULTS = {"magnitudes": "1.5, 3, 4.5", "latitude": 40.8, "longitude": 28.5, "depth": 10.0,
                     "station": "MR06", "steps": 50, "seed": 0}  # fmt: skip
UNKNOWN_STATION = "unknown station"


def waveform_stations() -> list[str]:
    """Station codes for the dropdown, read from the pipeline's config without loading weights."""
    folder = common.WAVEFORM.local_folder
    for part in ("prior", "vae"):
        config = folder / part / "config.json" if folder else None
        if config and config.is_file():
            names = json.loads(config.read_text()).get("station_names") or []
            if names:
                return [*names, UNKNOWN_STATION]
    return [UNKNOWN_STATION]


def _parse_magnitudes(text) -> list[float]:
    parts = [part for part in str(text or "").replace(",", " ").split() if part]
    low, high = WAVEFORM_LIMITS["records"]
    if not low <= len(parts) <= high:
        raise gr.Error(
            f"Give {low} to {high} magnitudes, separated by commas (one record each); got {len(parts)}.",
            print_exception=False,
        )
    try:
        return [float(part) for part in parts]
    except ValueError:
        raise gr.Error(
            f"Magnitudes must be numbers, e.g. 1.5, 3, 4.5; got {text!r}.", print_exception=False
        ) from None


@user_errors
def generate_waveforms(magnitudes: str, latitude: float, longitude: float, depth: float, station: str,
                       steps: int, seed: int):  # fmt: skip
    """Generate three-component records; what the "Generate records" button and `/generate_waveforms` run.

    Args:
        magnitudes (`str`): 1-8 magnitudes separated by commas, one record each.
        latitude, longitude (`float`): Epicentre, degrees. depth (`float`): km.
        station (`str`): A station code of the pipeline, or "unknown station".
        steps (`int`): Diffusion-prior steps, 5-100. seed (`int`): Seed of the generator.

    Returns:
        `tuple`: figure (PNG, Z component per record), miniSEED (every record, location code
        `00`, `01`, ... in the order given; ground velocity in m/s), Markdown summary.
    """
    values = _parse_magnitudes(magnitudes)
    check_range("Latitude", latitude, -90, 90)
    check_range("Longitude", longitude, -180, 180)
    check_range("Depth", depth, 0, 700)
    steps = check_whole_number("Inference steps", steps, *WAVEFORM_LIMITS["steps"])
    seed = check_whole_number("Seed", seed, *WAVEFORM_LIMITS["seed"])
    started = time.perf_counter()
    pipe = common.WAVEFORM.get()
    code = None if station in (None, "", UNKNOWN_STATION) else station
    streams = pipe(
        magnitude=values, latitude=latitude, longitude=longitude, depth=depth, station=code,
        batch_size=len(values), generator=torch.Generator().manual_seed(seed), num_inference_steps=steps,
    ).waveforms  # fmt: skip
    folder = new_output_folder()
    stem = f"records_M{'-'.join(f'{m:g}' for m in values)}_{code or 'unknown'}_seed{seed}"
    paths = {"mseed": folder / f"{stem}.mseed", "png": folder / f"{stem}.png"}
    from obspy import Stream

    combined = Stream()
    for index, stream in enumerate(streams):
        for trace in stream:
            trace.stats.location = f"{index:02d}"
            combined += trace
    combined.write(str(paths["mseed"]), format="MSEED", encoding="FLOAT32")
    plot_records_by_magnitude(
        {f"station {code or 'unknown'}": np.stack([[tr.data for tr in stream] for stream in streams])},
        values, paths["png"],
        title=f"Z component, event at {latitude:g} N {longitude:g} E, {depth:g} km ({steps} steps, seed {seed})",
    )  # fmt: skip
    seconds = time.perf_counter() - started
    peaks = [max(float(np.abs(trace.data).max()) for trace in stream) for stream in streams]
    rows = "\n".join(
        f"| {i:02d} | {m:g} | {p:.2e} |" for i, (m, p) in enumerate(zip(values, peaks, strict=True))
    )
    summary = (
        f"**{len(values)} record(s)** in **{seconds:.1f} s** ({steps} prior steps, Griffin-Lim included).\n\n"
        "| location code | magnitude | peak (m/s) |\n|---|---:|---:|\n" + rows + "\n\n"
        "Three components (HHE, HHN, HHZ), 70 s at 100 Hz, ground velocity in m/s. The miniSEED holds every "
        "record; its location code is the record's row above."
    )
    return str(paths["png"]), str(paths["mseed"]), summary


WAVEFORM_INTRO = """\
### Earthquake records for a magnitude, location and station

Three-component records (**E, N, Z**, 70 s at 100 Hz, ground velocity in m/s) for an earthquake of
the **magnitude** and **hypocentre** you give, as recorded at one **station**. A conditional VAE
over STFT spectrograms and a diffusion prior over its latent, trained on a 2-core CPU on
synthetic Marmara-like events (magnitudes 0.8-4.9, 40.5-41.0 N, 27.2-29.6 E, 4-20 km deep) at
eight invented stations MR01-MR08; values outside those ranges are refused. Amplitudes grow
with magnitude at 0.88 decades per unit (the training law: 1.12). Commands, data and scores:
{card_link}.
"""


def waveform_tab() -> None:
    """The "Earthquake records" tab."""
    defaults, limits = WAVEFORM_DEFAULTS, WAVEFORM_LIMITS
    stations = waveform_stations()
    with gr.Tab("Earthquake records", id="waveforms"):
        gr.Markdown(WAVEFORM_INTRO.format(card_link=card_link(common.WAVEFORM)))
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                magnitudes = gr.Textbox(
                    value=defaults["magnitudes"],
                    label="Magnitudes",
                    info="1-8, comma-separated: one record each.",
                )
                latitude = gr.Number(value=defaults["latitude"], label="Latitude (degrees N)")
                longitude = gr.Number(value=defaults["longitude"], label="Longitude (degrees E)")
                depth = gr.Number(value=defaults["depth"], label="Depth (km)")
                station = gr.Dropdown(
                    stations,
                    value=defaults["station"] if defaults["station"] in stations else stations[0],
                    label="Station",
                )
                steps = gr.Slider(*limits["steps"], value=defaults["steps"], step=1, label="Inference steps")
                seed = gr.Number(value=defaults["seed"], precision=0, label="Seed")
                button = gr.Button("Generate records", variant="primary")
            with gr.Column(scale=2, min_width=400):
                image = gr.Image(
                    show_label=False, type="filepath", format="png", interactive=False,
                    buttons=["download", "fullscreen"],
                )  # fmt: skip
                summary = gr.Markdown()
                records = gr.File(label="Records (miniSEED, m/s)", interactive=False)
        gr.Examples(
            examples=[
                ["1.5, 3, 4.5", 40.8, 28.5, 10.0, "MR06", 50, 0],
                ["2, 2, 2, 2", 40.6, 27.5, 15.0, "MR01", 50, 1],
            ],
            inputs=[magnitudes, latitude, longitude, depth, station, steps, seed],
            label="Examples",
        )
        card = card_text(common.WAVEFORM)
        if card:
            with gr.Accordion("Model card", open=False):
                gr.Markdown(card)
        button.click(
            generate_waveforms,
            inputs=[magnitudes, latitude, longitude, depth, station, steps, seed],
            outputs=[image, records, summary],
            api_name="generate_waveforms",
            preprocess=False,
            concurrency_id=CONCURRENCY_ID,
            concurrency_limit=1,
        )

"""The Space's "Denoise a seismogram" tab: ColdDiffusionDenoisePipeline on a miniSEED recording."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr
import numpy as np
import space_common as common
from space_common import (
    CONCURRENCY_ID,
    card_link,
    card_text,
    check_whole_number,
    new_output_folder,
    upload_name,
    uploaded_file,
    user_errors,
)

from seismic_diffusers.data import generate_seismic_noise, scale_noise_to_snr
from seismic_diffusers.metrics import pick_phases, reconstruction_snr_db, snr_db
from seismic_diffusers.utils.plotting import plot_seismogram_comparison
from seismic_diffusers.utils.streams import group_stream

DENOISE_LIMITS = {"steps": (1, 20), "seed": (0, 2**31 - 1)}
DENOISE_MAX_UPLOAD_MB = 20
DENOISE_MAX_SAMPLES = 3 * 2 * 3600 * 100  # two hours of three components at 100 Hz
DENOISE_DEFAULTS = {"source": "example", "add_noise": "5", "steps": 1, "seed": 0}
DENOISE_SOURCES = [("ObsPy's example event (BW.RJOB, 30 s)", "example"), ("my miniSEED upload", "upload")]
DENOISE_NOISE_LEVELS = [  # (menu label, value): SNR of the added noise, power over the whole record
    ("none: denoise the recording as it is", "none"),
    ("10 dB", "10"),
    ("5 dB", "5"),
    ("0 dB", "0"),
    ("-5 dB", "-5"),
]
PICK_COMPONENTS = ("E", "N", "Z")


def _read_upload(upload) -> "obspy.Stream":  # noqa: F821 - obspy is imported lazily
    """The uploaded file as a Stream; a readable `gr.Error` for a missing, oversized or non-miniSEED file."""
    import obspy

    path = uploaded_file(
        upload,
        DENOISE_MAX_UPLOAD_MB,
        missing="upload a miniSEED file, or choose the example event as the source",
        kind="miniSEED files",
        advice="Cut it (Stream.trim) or use the CLI: seismic-diffusers denoise.",
    )
    try:
        return obspy.read(str(path), format="MSEED")
    except Exception as error:  # ObsPy raises several types for bytes that are not miniSEED
        raise gr.Error(
            f"{upload_name(upload)!r} is not a readable miniSEED file ({type(error).__name__}). "
            "Upload miniSEED (.mseed); convert other formats with ObsPy first: st.write(name, format='MSEED').",
            print_exception=False,
        ) from None


def _add_noise(stream, snr_in_db: float, seed: int) -> None:
    """Add Peterson-band synthetic noise (`generate_seismic_noise`) at `snr_in_db` to every station, in place."""
    for index, group in enumerate(group_stream(stream, PICK_COMPONENTS)):
        clean, rows = group.to_array(PICK_COMPONENTS)
        clean -= clean.mean(axis=-1, keepdims=True)
        noise = generate_seismic_noise(
            1, seed=seed, sampling_rate=group.sampling_rate, num_samples=group.npts, start=index
        )[0]
        noise[[row for row in range(len(PICK_COMPONENTS)) if row not in rows]] = 0.0
        noise = scale_noise_to_snr(clean, noise, snr_in_db)
        for trace, row, offset in zip(group.traces, rows, group.offsets, strict=True):
            trace.data = (trace.data + noise[row, offset : offset + trace.stats.npts]).astype(np.float64)
            trace.stats.processing = list(getattr(trace.stats, "processing", [])) + [
                f"seismic_diffusers Space: added synthetic Peterson-band noise(snr_db={snr_in_db:g}::seed={seed})"
            ]


def _station_picks(group) -> tuple[dict, str]:
    """P and S pick times (s after the group's start) and the picker used, for one station group."""
    record, _ = group.to_array(PICK_COMPONENTS)
    rate = group.sampling_rate
    if set(group.components) == set(PICK_COMPONENTS):
        method = "ar_pick"
    elif "Z" in group.components:
        method = "aic"  # P only, from the vertical
    else:
        return {"P": None, "S": None}, "none (no vertical component)"
    picks = pick_phases(record, rate, method=method)
    return {
        phase: None if picks[key] is None else picks[key] / rate for phase, key in (("P", "p"), ("S", "s"))
    }, method


def _format_pick(seconds) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


@user_errors
def denoise_seismogram(source: str, upload, add_noise: str, steps: int, seed: int):
    """Denoise a miniSEED recording; what the "Denoise" button and the `/denoise_seismogram` endpoint run.

    Args:
        source (`str`): `"example"` (ObsPy's `obspy.read()` event, BW.RJOB, 100 Hz, 30 s) or `"upload"`.
        upload: The uploaded miniSEED file (path), used when `source` is `"upload"`.
        add_noise (`str`): `"none"`, or an SNR in dB: Peterson-band synthetic noise added first.
        steps (`int`): 1 is the direct mode; 2-20 run the iterative cold-diffusion sampler.
        seed (`int`): Seed of the added noise.

    Returns:
        `tuple`: figure path (PNG: before/after waveforms and spectrograms, picks marked),
        denoised miniSEED path, and a Markdown summary (SNR, picks, timings).
    """
    import obspy

    # 1. Check inputs
    if source not in ("example", "upload"):
        raise gr.Error(f"Unknown source {source!r}; choose 'example' or 'upload'.", print_exception=False)
    steps = check_whole_number("Inference steps", steps, *DENOISE_LIMITS["steps"])
    seed = check_whole_number("Noise seed", seed, *DENOISE_LIMITS["seed"])
    levels = [value for _, value in DENOISE_NOISE_LEVELS]
    if add_noise not in levels:
        raise gr.Error(
            f"Added noise must be one of: {', '.join(levels)} (dB); got {add_noise!r}.", print_exception=False
        )

    # 2. Read the recording, bounded in size; the pipeline's checks name gaps, NaN and channel codes
    started = time.perf_counter()
    stream = obspy.read() if source == "example" else _read_upload(upload)
    if len(stream) == 0:
        raise gr.Error("The file holds no traces: there is nothing to denoise.", print_exception=False)
    total = sum(trace.stats.npts for trace in stream)
    if total > DENOISE_MAX_SAMPLES:
        raise gr.Error(
            f"The recording has {total:,} samples; this Space denoises up to {DENOISE_MAX_SAMPLES:,} "
            "(two hours of 3 components at 100 Hz). Cut it (Stream.trim) or use the CLI.",
            print_exception=False,
        )
    for trace in stream:
        trace.data = np.asarray(trace.data, dtype=np.float64)
    clean = stream.copy() if add_noise != "none" else None
    if clean is not None:
        _add_noise(stream, float(add_noise), seed)

    # 3. Denoise every station; picks and figure for the first
    pipe = common.DENOISER.get()
    denoised = pipe(stream, num_inference_steps=steps).waveforms
    groups = group_stream(stream, PICK_COMPONENTS)
    denoised_groups = group_stream(denoised, PICK_COMPONENTS)
    shown, shown_out = groups[0], denoised_groups[0]
    picks_in, method = _station_picks(shown)
    picks_out, _ = _station_picks(shown_out)

    # 4. Files: the denoised miniSEED and the figure
    folder = new_output_folder()
    stem = "RJOB_example" if source == "example" else Path(upload_name(upload)).stem
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60] or "upload"
    mseed_path = folder / f"{stem}_denoised.mseed"
    png_path = folder / f"{stem}_denoised.png"
    denoised.write(str(mseed_path), format="MSEED", encoding="FLOAT32")
    mode = "direct (1 step)" if steps == 1 else f"iterative ({steps} steps)"
    noise_label = "" if clean is None else f" + synthetic noise at {add_noise} dB"
    plot_seismogram_comparison(
        obspy.Stream(shown.traces),
        obspy.Stream(shown_out.traces),
        png_path,
        picks_before=picks_in,
        picks_after=picks_out,
        title=f"{shown.key}{noise_label}: cold-diffusion denoising, {mode}",
        labels=("input" + noise_label, "denoised"),
    )
    seconds = time.perf_counter() - started

    # 5. Summary: SNR around P (STEAD's 2 s windows), picks, reconstruction SNR when noise was added
    p_sample = None if picks_in["P"] is None else int(round(picks_in["P"] * shown.sampling_rate))
    if p_sample is None and picks_out["P"] is not None:
        p_sample = int(round(picks_out["P"] * shown.sampling_rate))
    record_in, rows = shown.to_array(PICK_COMPONENTS)
    record_out, _ = shown_out.to_array(PICK_COMPONENTS)
    lines = [
        f"**{len(denoised)} trace(s)** from {len(groups)} station(s) denoised in **{seconds:.1f} s** "
        f"({mode}). The figure shows {shown.key}; the miniSEED holds every trace with its ids, start time "
        "and sample count unchanged.",
        "",
        "| component | SNR around P, input | SNR around P, denoised |",
        "|---|---:|---:|",
    ]
    if p_sample is not None:
        snr_in = snr_db(record_in, p_sample, shown.sampling_rate)
        snr_out = snr_db(record_out, p_sample, shown.sampling_rate)
        for component, row in sorted(zip(shown.components, rows, strict=True), key=lambda x: x[1]):
            lines.append(f"| {component} | {snr_in[row]:.1f} dB | {snr_out[row]:.1f} dB |")
    else:
        lines.append("| all | no P pick: SNR needs one | |")
    lines += [
        "",
        f"SNR is STEAD's: 2 s after the P pick against 2 s before it. Picks ({method}): "
        f"P {_format_pick(picks_in['P'])} → {_format_pick(picks_out['P'])}, "
        f"S {_format_pick(picks_in['S'])} → {_format_pick(picks_out['S'])} (input → denoised, "
        "seconds after the first sample).",
    ]
    if clean is not None:
        reference, _ = group_stream(clean, PICK_COMPONENTS)[0].to_array(PICK_COMPONENTS)
        reference -= reference.mean(axis=-1, keepdims=True)
        centred_in = record_in - record_in.mean(axis=-1, keepdims=True)
        centred_out = record_out - record_out.mean(axis=-1, keepdims=True)
        before = reconstruction_snr_db(centred_in, reference, per_channel=False)
        after = reconstruction_snr_db(centred_out, reference, per_channel=False)
        lines += [
            "",
            f"Against the recording before the noise was added: reconstruction SNR **{before:.1f} dB** in, "
            f"**{after:.1f} dB** out ({after - before:+.1f} dB). Whatever the model removes from the "
            "original recording itself, such as microseism below 1 Hz, counts against it here.",
        ]
    return str(png_path), str(mseed_path), "\n".join(lines)


DENOISE_INTRO = """\
### Denoise a seismogram

Upload a **miniSEED** recording (one, two or three components per station, channel codes ending in
Z/N/E, 1/2 or UD/NS/EW, any sampling rate, up to {max_mb} MB) or use ObsPy's example event,
BW.RJOB, a local earthquake recorded at 100 Hz. To see what the model removes, add synthetic
noise at a chosen SNR first. You get the waveforms and spectrograms before and after, P and S
picks by ObsPy's `ar_pick`, SNR around the P arrival, and the denoised miniSEED to download.

**The model.** A cold-diffusion denoiser (after CDiffSD): a small 1-D U-Net that maps a noisy
30 s, 100 Hz three-component window straight to the clean signal (direct mode, 1 step) or in
several steps of Bansal et al.'s improved cold-diffusion sampler. Trained on a 2-core CPU on
synthetic local earthquakes with noise between Peterson's low- and high-noise models; it has
never seen a real recording, this one included. Exact command, data and scores: {card_link}.
"""


def denoise_tab() -> None:
    """The "Denoise a seismogram" tab: controls, outputs, examples and the model card."""
    defaults = DENOISE_DEFAULTS
    with gr.Tab("Denoise a seismogram", id="denoise"):
        gr.Markdown(DENOISE_INTRO.format(max_mb=DENOISE_MAX_UPLOAD_MB, card_link=card_link(common.DENOISER)))
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                source = gr.Radio(DENOISE_SOURCES, value=defaults["source"], label="Recording")
                upload = gr.File(label=f"miniSEED file (up to {DENOISE_MAX_UPLOAD_MB} MB)", type="filepath")
                add_noise = gr.Dropdown(
                    DENOISE_NOISE_LEVELS,
                    value=defaults["add_noise"],
                    label="Add synthetic noise first (SNR)",
                    info="Power ratio over the whole record; 'none' denoises the recording as it is.",
                )
                low, high = DENOISE_LIMITS["steps"]
                steps = gr.Slider(
                    low, high, value=defaults["steps"], step=1, label="Inference steps",
                    info=f"{low}-{high}; 1 is the direct mode (fastest, best on our benchmark).",
                )  # fmt: skip
                low, high = DENOISE_LIMITS["seed"]
                seed = gr.Number(
                    value=defaults["seed"], minimum=low, maximum=high, precision=0, label="Noise seed",
                    info=f"{low}-{high}; the same seed adds the same noise.",
                )  # fmt: skip
                button = gr.Button("Denoise", variant="primary")
            with gr.Column(scale=2, min_width=400):
                image = gr.Image(
                    label="Before and after (amplitude in counts; spectrograms in dB)",
                    show_label=False,
                    type="filepath",
                    format="png",
                    interactive=False,
                    buttons=["download", "fullscreen"],
                )
                summary = gr.Markdown(label="Summary")
                mseed_file = gr.File(label="Denoised recording (.mseed, float32)", interactive=False)
        upload.upload(lambda: "upload", outputs=source, queue=False, api_visibility="private")
        inputs = [source, upload, add_noise, steps, seed]
        gr.Examples(
            examples=[
                ["example", None, "5", 1, 0],
                ["example", None, "0", 1, 3],
                ["example", None, "none", 1, 0],
                ["example", None, "5", 5, 0],
            ],
            inputs=inputs,
            label="Examples (click one, then Denoise)",
        )
        card = card_text(common.DENOISER)
        if card:
            with gr.Accordion("Model card", open=False):
                gr.Markdown(card)
        button.click(
            denoise_seismogram,
            inputs=inputs,
            outputs=[image, mseed_file, summary],
            api_name="denoise_seismogram",
            preprocess=False,  # raw values reach denoise_seismogram, which names the field and range
            concurrency_id=CONCURRENCY_ID,
            concurrency_limit=1,
        )

"""Time the Space end to end, as a browser would see it: request in, figure and files out.

    python spaces_app/latency.py --runs 5            # launches the app on 127.0.0.1, then times it
    python spaces_app/latency.py --url http://127.0.0.1:7860/

Each run calls every tab's endpoint (`/generate_velocity`, `/denoise_seismogram` on the bundled
example event, when a joint pipeline is bundled `/generate_joint` and `/invert_seismic` on
the built-in example, when an inversion pipeline is bundled `/invert_gathers` on its default example, and when a conditional waveform pipeline is bundled `/generate_waveforms`) through `gradio_client` with the tab's default settings and counts until every
output file has been downloaded. Run 1 of each tab includes loading its pipeline.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import socket
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="A running Space (default: launch one here).")
    parser.add_argument("--runs", type=int, default=5, help="Requests, one after another (default: 5).")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's).")
    args = parser.parse_args()

    # The app first: it sets OMP_WAIT_POLICY before torch starts, as `python spaces_app/app.py` does.
    spec = importlib.util.spec_from_file_location("space_app", Path(__file__).resolve().parent / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    import torch
    from gradio_client import Client

    if args.threads:
        torch.set_num_threads(args.threads)
    demo = None
    url = args.url
    if url is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        demo = app.build_app()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        url = demo.local_url
    velocity_names = ("family", "num_samples", "steps", "seed", "scheduler")
    denoise_names = ("source", "upload", "add_noise", "steps", "seed")
    tabs = {
        "velocity": (
            "/generate_velocity",
            velocity_names,
            [{**app.VELOCITY_DEFAULTS, "steps": app.velocity_default_steps()}[n] for n in velocity_names],
        ),
        "denoise": (
            "/denoise_seismogram",
            denoise_names,
            [None if n == "upload" else app.DENOISE_DEFAULTS[n] for n in denoise_names],
        ),
    }
    if app.JOINT.source is not None:
        joint_names = ("num_pairs", "steps", "seed")
        invert_names = ("source", "upload", "candidates", "refine", "seed")
        tabs["joint generate"] = (
            "/generate_joint",
            joint_names,
            [app.JOINT_DEFAULTS[n] for n in joint_names],
        )
        tabs["joint invert"] = (
            "/invert_seismic",
            invert_names,
            [None if n == "upload" else app.JOINT_DEFAULTS[n] for n in invert_names],
        )
    if app.INVERSION.source is not None:
        inversion_names = ("source", "family", "example", "upload", "num_samples", "seed")
        tabs["invert gathers"] = (
            "/invert_gathers",
            inversion_names,
            [None if n == "upload" else app.INVERSION_DEFAULTS[n] for n in inversion_names],
        )
    if app.WAVEFORM.source is not None:
        waveform_names = ("magnitudes", "latitude", "longitude", "depth", "station", "steps", "seed")
        tabs["earthquake records"] = (
            "/generate_waveforms",
            waveform_names,
            [app.WAVEFORM_DEFAULTS[n] for n in waveform_names],
        )
    client = Client(url, verbose=False, analytics_enabled=False, download_files=tempfile.mkdtemp())
    summaries = []
    for tab, (endpoint, names, inputs) in tabs.items():
        seconds = []
        for run in range(args.runs):
            started = time.perf_counter()
            client.predict(*inputs, api_name=endpoint)
            seconds.append(time.perf_counter() - started)
            print(f"{tab} run {run + 1}: {seconds[-1]:.2f} s")
        warm = seconds[1:] or seconds
        summaries.append(
            f"{tab} tab, defaults {dict(zip(names, inputs, strict=True))}: "
            f"first request {seconds[0]:.2f} s (includes loading), then median {statistics.median(warm):.2f} s, "
            f"max {max(warm):.2f} s over {len(warm)} runs"
        )
    if demo is not None:
        demo.close()
    print("\n".join(summaries))
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}"
    )


if __name__ == "__main__":
    main()

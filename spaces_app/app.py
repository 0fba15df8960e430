"""seismic-diffusers Space: try the bundled pipelines in a browser.

    python spaces_app/app.py            # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / _PORT change it)

One tab per pipeline that really works: velocity-model generation and seismogram denoising (the
joint seismic-velocity and earthquake-record tabs come with their pipelines). This file holds the
header, `build_app` and `main`; each tab is a module beside it, holding the tab's limits and
defaults, the plain generation function(s) its buttons call, its intro text and its `*_tab()`
builder:

    space_common.py     PipelineSlot and the four slots, input checks, readable errors, output folders,
                        model-card helpers, the shared queue settings
    space_velocity.py   "Velocity models" (the generation itself is seismic_diffusers.tasks, as in the CLI)
    space_denoise.py    "Denoise a seismogram"
    space_joint.py      "Joint seismic-velocity"
    space_inversion.py  "Invert gathers" (the inversion itself is seismic_diffusers.tasks, as in the CLI)
    space_waveform.py   "Earthquake records"

A new pipeline adds a `PipelineSlot` in `space_common`, a tab module, and a line in `build_app`.

Pipelines load lazily, once per process, from the local `pipelines/<name>/` folder (resolved from
this folder, not the working directory), or from the folder or Hub id in an environment variable
(`SEISMIC_DIFFUSERS_VELOCITY_PIPELINE`, `SEISMIC_DIFFUSERS_DENOISE_PIPELINE`,
`SEISMIC_DIFFUSERS_JOINT_PIPELINE`, `SEISMIC_DIFFUSERS_INVERSION_PIPELINE`,
`SEISMIC_DIFFUSERS_WAVEFORM_PIPELINE`). Nothing is downloaded
unless such a Hub id is given.

The names of the tab modules stay importable here (`app.generate_velocity`, `app.VELOCITY`,
`app.DENOISE_DEFAULTS`, ...), but they are copies of the bindings: to replace a constant or a slot
that a generation function reads, set it on the module that holds it (`app.space_denoise.DENOISE_MAX_SAMPLES`,
`app.space_common.VELOCITY`).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

# On a shared CPU, OpenMP threads that spin while waiting slow everyone down (2.5-6x measured here
# next to a training job). Must be set before torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The tab modules sit beside this file, which runs as a script (`python app.py`: the Space) or is
# loaded by path under any module name, from the repository or from a copy of this folder (the
# tests, spaces_app/latency.py). So: this folder first on sys.path, and no sibling left in
# sys.modules by an earlier load (from another folder, or with other environment variables).
# Each load of app.py gets its own tab modules and pipeline slots, from its own folder.
APP_DIR = Path(__file__).resolve().parent
SPACE_MODULES = (
    "space_common",
    "space_velocity",
    "space_denoise",
    "space_joint",
    "space_inversion",
    "space_waveform",
)
if str(APP_DIR) in sys.path:
    sys.path.remove(str(APP_DIR))
sys.path.insert(0, str(APP_DIR))
for _name in SPACE_MODULES:
    sys.modules.pop(_name, None)

import gradio as gr  # noqa: E402
import space_common  # noqa: E402
import space_denoise  # noqa: E402
import space_inversion  # noqa: E402
import space_joint  # noqa: E402
import space_velocity  # noqa: E402
import space_waveform  # noqa: E402

# Re-exported: the names the tests, latency.py and API users reach as `app.<name>`.
from space_common import (  # noqa: E402, F401
    CONCURRENCY_ID,
    DENOISER,
    HUB_URL,
    INVERSION,
    JOINT,
    OUTPUT_MAX_AGE_S,
    OUTPUT_ROOT,
    QUEUE_MAX_SIZE,
    REPO_ROOT,
    VELOCITY,
    WAVEFORM,
    PipelineSlot,
    card_link,
    card_text,
    check_range,
    check_whole_number,
    new_output_folder,
    quiet_loader,
    upload_name,
    uploaded_file,
    user_errors,
)
from space_denoise import (  # noqa: E402, F401
    DENOISE_DEFAULTS,
    DENOISE_INTRO,
    DENOISE_LIMITS,
    DENOISE_MAX_SAMPLES,
    DENOISE_MAX_UPLOAD_MB,
    DENOISE_NOISE_LEVELS,
    DENOISE_SOURCES,
    PICK_COMPONENTS,
    denoise_seismogram,
    denoise_tab,
)
from space_inversion import (  # noqa: E402, F401
    INVERSION_DEFAULTS,
    INVERSION_EXAMPLE_SEED,
    INVERSION_INTRO,
    INVERSION_LIMITS,
    INVERSION_MAX_GATHERS,
    INVERSION_MAX_UPLOAD_MB,
    INVERSION_SOURCES,
    inversion_tab,
    invert_gathers_tab,
)
from space_joint import (  # noqa: E402, F401
    JOINT_DEFAULTS,
    JOINT_EXAMPLE_FAMILY,
    JOINT_EXAMPLE_SEED,
    JOINT_INTRO,
    JOINT_INVERT_STEPS,
    JOINT_LIMITS,
    JOINT_MAX_RECORDS,
    JOINT_MAX_UPLOAD_MB,
    JOINT_SOURCES,
    generate_joint,
    invert_seismic,
    joint_tab,
)
from space_velocity import (  # noqa: E402, F401
    ANY_FAMILY,
    VELOCITY_DEFAULTS,
    VELOCITY_INTRO,
    VELOCITY_LIMITS,
    VELOCITY_SCHEDULERS,
    generate_velocity,
    scheduler_label,
    velocity_default_steps,
    velocity_families,
    velocity_tab,
)
from space_waveform import (  # noqa: E402, F401
    UNKNOWN_STATION,
    WAVEFORM_DEFAULTS,
    WAVEFORM_INTRO,
    WAVEFORM_LIMITS,
    generate_waveforms,
    waveform_stations,
    waveform_tab,
)

HEADER = """\
# seismic-diffusers
Diffusion models for seismology, diffusers-style. Everything here runs on a CPU in seconds;
results download in physical units. Library, CLI and training scripts: see the project README.
"""


def build_app() -> gr.Blocks:
    """The Space: one tab per working pipeline, behind one queue."""
    with gr.Blocks(title="seismic-diffusers", analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        gr.Markdown(HEADER)
        with gr.Tabs():
            space_velocity.velocity_tab()
            space_denoise.denoise_tab()
            if space_common.JOINT.source is not None:  # a tab appears only when its pipeline exists
                space_joint.joint_tab()
            if space_common.INVERSION.source is not None:
                space_inversion.inversion_tab()
            if space_common.WAVEFORM.source is not None:
                space_waveform.waveform_tab()
    demo.queue(max_size=space_common.QUEUE_MAX_SIZE, default_concurrency_limit=1)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own start-up checks
    build_app().launch(
        max_file_size=f"{space_denoise.DENOISE_MAX_UPLOAD_MB}mb"
    )  # host and port: $GRADIO_SERVER_NAME, $GRADIO_SERVER_PORT (127.0.0.1:7860)


if __name__ == "__main__":
    main()

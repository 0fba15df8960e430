"""Hub helpers: resolve pipeline ids offline-first, validate folders, push with a model card."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData, constants, snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

LIBRARY_NAME = "seismic_diffusers"
WEIGHT_FILE_SUFFIX = ".safetensors"


def resolve_pretrained(pretrained_model_name_or_path: str | os.PathLike, **hub_kwargs) -> str:
    """Return a local folder for a pipeline given as a folder or a Hub id.

    Plain `DiffusionPipeline.from_pretrained("org/name")` cannot load components from a
    third-party library (diffusers PR #5728), so Hub ids are downloaded with
    `huggingface_hub.snapshot_download` first (which honours `HF_HUB_OFFLINE=1` and the cache).

    Args:
        pretrained_model_name_or_path (`str` or `os.PathLike`): A local folder or a Hub repo id.
        hub_kwargs: Passed to `snapshot_download` (`revision`, `cache_dir`, `token`, ...).

    Returns:
        `str`: the local folder.

    Raises:
        ValueError: if the argument is neither a folder nor an `org/name` id, or the id cannot be
            found (not in the local cache while offline, or not on the Hub).
    """
    path = Path(pretrained_model_name_or_path).expanduser()
    if path.is_dir():
        return str(path)
    name = str(pretrained_model_name_or_path)
    if path.suffix or name.startswith((".", "/")) or name.count("/") != 1:
        raise ValueError(
            f"{name!r} is neither an existing pipeline folder nor a Hub id of the form 'org/name'."
        )
    allowed = {"revision", "cache_dir", "token", "local_files_only", "force_download"}
    kwargs = {key: value for key, value in hub_kwargs.items() if key in allowed}
    try:
        return snapshot_download(repo_id=name, ignore_patterns=["*.bin", "*.pt", "*.ckpt", "*.pth"], **kwargs)
    except LocalEntryNotFoundError as error:
        cache = kwargs.get("cache_dir") or constants.HF_HUB_CACHE
        raise ValueError(
            f"Hub id {name!r} (revision {kwargs.get('revision') or 'main'!r}) was not found locally in the "
            f"Hugging Face cache {cache} and the network is off (HF_HUB_OFFLINE=1, local_files_only=True, "
            f"or no connection). Download it once with network access, or pass a local folder."
        ) from error
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        raise ValueError(
            f"Hub id {name!r} was not found on the Hub (or is private/gated and no valid token was given): "
            f"{error}"
        ) from error


def check_pipeline_folder(folder: str | os.PathLike) -> None:
    """Raise a `ValueError` naming the problem if a pipeline folder cannot load.

    Checks that `model_index.json` exists, and that each model component has a readable
    safetensors file (pickle weights are never loaded).
    """
    from safetensors import safe_open

    folder = Path(folder)
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise ValueError(f"{folder} is not a pipeline folder: it has no model_index.json.")
    try:
        index = json.loads(index_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{index_path} is not valid JSON: {error}.") from error
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list):
            continue
        component = folder / name
        if not (component / "config.json").is_file():
            continue  # schedulers and processors have their own config names and no weights
        weights = sorted(component.glob(f"*{WEIGHT_FILE_SUFFIX}"))
        if not weights:
            raise ValueError(
                f"Component {name!r} in {folder} has no safetensors weights; expected "
                f"{component / ('diffusion_pytorch_model' + WEIGHT_FILE_SUFFIX)} (pickle files are not loaded)."
            )
        for weight in weights:
            try:
                with safe_open(str(weight), framework="pt") as handle:
                    list(handle.keys())
            except Exception as error:  # safetensors raises its own error types
                raise ValueError(
                    f"Corrupt safetensors file {weight}: {error}. Re-save or re-download it."
                ) from error


# Upper bounds on component config values, checked before anything is built (a config is data a
# stranger may have written). Each is far above any model here, and low enough that one value
# cannot take the machine's memory: e.g. 20,000 base channels or a 1e12-sample window.
CONFIG_LIMITS = {
    "num_train_timesteps": 100_000,
    "block_out_channels": 8_192,
    "base_channels": 8_192,
    "channel_mults": 64,
    "embedding_dim": 8_192,
    "time_embedding_dim": 8_192,
    "condition_dim": 8_192,
    "station_embedding_dim": 8_192,
    "width": 8_192,
    "in_channels": 1_024,
    "out_channels": 1_024,
    "latent_channels": 1_024,
    "latent_dim": 65_536,
    "layers_per_block": 64,
    "num_blocks": 64,
    "attention_head_dim": 4_096,
    "num_class_embeds": 1_000_000,
    "num_stations": 1_000_000,
    "num_vq_embeddings": 1_000_000,
    "num_codebooks": 64,
    "sample_size": 8_192,
    "kernel_size": 1_024,
    "window_length": 10_000_000,
    "nperseg": 1_000_000,
    "nfft": 1_000_000,
    "griffin_lim_iterations": 10_000,
    "nt": 1_000_000,
    "grid_shape": 8_192,
    "velocity_shape": 8_192,
    "seismic_shape": 1_000_000,
    "spectrogram_shape": 1_000_000,
    "seismic_working_shape": 1_000_000,
    "velocity_working_size": 8_192,
    "pml_width": 10_000,
    "sponge_width": 10_000,
    "sampling_rate": 1_000_000.0,
}


def _largest_number(value):
    """The largest number in a config value (numbers, nested lists), or None; booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (list, tuple)):
        numbers = [n for n in map(_largest_number, value) if n is not None]
        return max(numbers) if numbers else None
    return None


def check_component_configs(folder: str | os.PathLike) -> None:
    """Raise a `ValueError` if a component config of the pipeline in `folder` exceeds `CONFIG_LIMITS`.

    Reads every component's JSON config (`config.json`, `scheduler_config.json`, ...) before any
    component is built, so a config that asks for 1e10 timesteps or 20,000 channels is refused
    with its file, key and value instead of allocating.
    """
    folder = Path(folder)
    index = json.loads((folder / "model_index.json").read_text())
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or not (folder / name).is_dir():
            continue
        for path in sorted((folder / name).glob("*config.json")):
            try:
                config = json.loads(path.read_text())
            except json.JSONDecodeError as error:
                raise ValueError(f"{path} is not valid JSON: {error}.") from error
            for key, limit in CONFIG_LIMITS.items():
                largest = _largest_number(config.get(key))
                if largest is not None and not largest <= limit:  # NaN too
                    raise ValueError(
                        f"{path}: {key} = {largest!r} is beyond this library's limit of {limit:,}; "
                        "the config is corrupt or not meant for seismic_diffusers."
                    )


GENERATED_BLOCK_END = "<!-- /scores -->"


def card_body(readme: str | os.PathLike) -> str:
    """A card's text without its YAML front matter (which `render_model_card` writes anew)."""
    text = Path(readme).read_text()
    return text.split("---", 2)[2].lstrip("\n") if text.startswith("---") else text


def fill_generated_block(text: str, block: str, start: str, where: str | os.PathLike) -> str:
    """`text` with everything from the `start` marker to `GENERATED_BLOCK_END` replaced by `block`.

    `block` must begin with `start` and end with `GENERATED_BLOCK_END` itself, so that the next run
    finds them again. The benchmarks' card scripts use this to regenerate score tables from
    their JSON, so that no figure is copied by hand.

    Raises:
        SystemExit: when `text` (read from `where`) has no such block.
    """
    if start not in text or GENERATED_BLOCK_END not in text.split(start, 1)[1]:
        raise SystemExit(f"{where} has no {start} ... {GENERATED_BLOCK_END} block to fill.")
    head, rest = text.split(start, 1)
    return head + block + rest.split(GENERATED_BLOCK_END, 1)[1]


def render_model_card(
    folder: str | os.PathLike,
    repo_id: str,
    card_text: str | None = None,
    tags: list[str] | None = None,
    datasets: list[str] | None = None,
    metrics: list[str] | None = None,
    eval_results: list | None = None,
    model_name: str | None = None,
) -> ModelCard:
    """Build a Hub model card: front matter from `ModelCardData`, body from the folder's README.md.

    Args:
        folder: The pipeline folder.
        repo_id: Target repo, used in the card's usage snippet if no README exists.
        card_text: Body text; defaults to `folder/README.md` with any existing front matter dropped.
        tags, datasets, metrics: Hub metadata.
        eval_results (`list[huggingface_hub.EvalResult]`, *optional*): Benchmark figures; the Hub
            shows them as the card's `model-index`. Needs `model_name` (default: the folder's name).
    """
    folder = Path(folder)
    if card_text is None:
        readme = folder / "README.md"
        card_text = card_body(readme) if readme.is_file() else f"# {repo_id}\n"
    data = ModelCardData(
        library_name=LIBRARY_NAME,
        license="mit",
        tags=sorted(set((tags or []) + ["seismology", "diffusers", LIBRARY_NAME])),
        datasets=datasets,
        metrics=metrics,
        eval_results=eval_results,
        model_name=(model_name or folder.name) if eval_results else None,
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{card_text}")


def card_script_parser(description: str, pipeline: str, results: str | None) -> argparse.ArgumentParser:
    """The options every `benchmarks/*_card.py` script takes: `--pipeline`, `--results` (if it
    reads one JSON; `None` leaves it out) and `--model_card`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--pipeline", default=pipeline)
    if results is not None:
        parser.add_argument("--results", default=results)
    parser.add_argument(
        "--model_card", default=None, help="Also fill this file's block (e.g. MODEL_CARD.md)."
    )
    return parser


def generated_block_start(name: str, script: str) -> str:
    """The marker a card script's score block starts with: `<!-- scores of NAME: generated by SCRIPT -->`."""
    return f"<!-- scores of {name}: generated by {script} -->"


def write_card_scores(
    folder: str | os.PathLike,
    block: str,
    start: str,
    eval_results: list,
    tags: list[str] | None = None,
    metrics: list[str] | None = None,
    model_card: str | os.PathLike | None = None,
    overview_block: str | None = None,
    overview_start: str | None = None,
) -> None:
    """Regenerate a pipeline card's score block and front matter, and optionally MODEL_CARD.md's block.

    What every `benchmarks/*_card.py` script does with the block it builds from its benchmark JSON:
    fill `folder/README.md` between `start` and `GENERATED_BLOCK_END`, rewrite the front matter with
    `eval_results` (the Hub's `model-index`), and fill the same block, or `overview_block` between
    `overview_start` and the end marker, in `model_card`.

    Raises:
        SystemExit: when a file has no such block (see [`fill_generated_block`]).
    """
    folder = Path(folder)
    readme = folder / "README.md"
    body = fill_generated_block(card_body(readme), block, start, readme)
    card = render_model_card(
        folder, f"seismic-diffusers/{folder.name}", card_text=body, tags=tags, metrics=metrics,
        eval_results=eval_results, model_name=folder.name,
    )  # fmt: skip
    card.save(readme)
    print(f"wrote {readme}")
    if model_card:
        overview = Path(model_card)
        text = fill_generated_block(
            overview.read_text(), overview_block or block, overview_start or start, overview
        )
        overview.write_text(text)
        print(f"wrote {overview}")


def push_pipeline(
    folder: str | os.PathLike,
    repo_id: str,
    api=None,
    private: bool = False,
    commit_message: str = "Upload seismic_diffusers pipeline",
    tags: list[str] | None = None,
    datasets: list[str] | None = None,
    metrics: list[str] | None = None,
):
    """Validate a pipeline folder, write its model card, and upload it with `HfApi.upload_folder`.

    Args:
        folder: A pipeline folder written by `save_pretrained`.
        repo_id: `org/name` on the Hub.
        api (`huggingface_hub.HfApi`, *optional*): The client; injectable for tests.
        private, commit_message: Passed to the Hub.
        tags, datasets, metrics: Model card metadata.

    Returns:
        Whatever `api.upload_folder` returns (a `CommitInfo` for the real client).
    """
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    check_pipeline_folder(folder)
    card = render_model_card(folder, repo_id, tags=tags, datasets=datasets, metrics=metrics)
    card.save(str(Path(folder) / "README.md"))
    api.create_repo(repo_id=repo_id, private=private, exist_ok=True)
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        commit_message=commit_message,
        ignore_patterns=["*.bin", "*.pt", "*.ckpt", "*.pth", "__pycache__/*"],
    )

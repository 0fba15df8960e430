"""What every seismic_diffusers pipeline shares: Hub loading and a portable model_index.json."""

from __future__ import annotations

import json
import os
from pathlib import Path

from diffusers.pipelines.pipeline_utils import DiffusionPipeline

from ..hub import LIBRARY_NAME, check_component_configs, check_pipeline_folder, resolve_pretrained
from ..schedulers.timestep_spacing import check_num_inference_steps


def check_finite_output(values, what: str) -> None:
    """Raise a `ValueError` if a pipeline's output `values` (tensor or array) holds NaN or Inf.

    A model whose weights are corrupt (or trained into NaN) gives such outputs; they are an
    error, never a result or a file.
    """
    import numpy as np
    import torch

    finite = (
        bool(torch.isfinite(values).all())
        if isinstance(values, torch.Tensor)
        else bool(np.isfinite(np.asarray(values)).all())
    )
    if not finite:
        raise ValueError(
            f"The model produced NaN or Inf {what}: its weights are probably corrupt or diverged. "
            "Reload the pipeline (or retrain it); nothing was returned."
        )


_HUB_ONLY_KWARGS = ("revision", "token", "cache_dir", "force_download", "local_files_only")


class SeismicDiffusionPipeline(DiffusionPipeline):
    """`DiffusionPipeline` whose components from this package are recorded as `seismic_diffusers`.

    diffusers writes the full module path (`seismic_diffusers.models.unet_velocity`) for
    third-party classes; the package root exports every component, so the short library name
    keeps saved folders loadable when modules move. `from_pretrained` also accepts Hub ids.
    """

    def register_modules(self, **kwargs):
        super().register_modules(**kwargs)
        self._use_package_library_name(kwargs)

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name in self.__dict__ and hasattr(self, "_internal_dict") and name in self.config:
            self._use_package_library_name({name: value})

    def _use_package_library_name(self, components: dict) -> None:
        for name in components:
            entry = self.config.get(name)
            if isinstance(entry, (list, tuple)) and entry[0] and str(entry[0]).startswith(LIBRARY_NAME + "."):
                self.register_to_config(**{name: (LIBRARY_NAME, entry[1])})

    def check_call_arguments(
        self, batch_size, generator, num_inference_steps, output_type, output_types
    ) -> None:
        """The checks every generating `__call__` shares: batch size, generator list, steps, output type.

        `num_inference_steps` is bounded by the scheduler's `num_train_timesteps` before anything
        is allocated (a `set_timesteps(10**9)` would build a billion-entry schedule).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be an integer >= 1, got {batch_size!r}.")
        if isinstance(generator, list) and len(generator) != batch_size:
            raise ValueError(
                f"Got a list of {len(generator)} generators for batch_size={batch_size}; "
                "pass one generator, or one per sample."
            )
        check_num_inference_steps(getattr(self, "scheduler", None), num_inference_steps)
        if output_type not in output_types:
            raise ValueError(
                f"Unknown `output_type` {output_type!r}. Valid choices: {', '.join(output_types)}."
            )

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs):
        """Load from a local folder or a Hub id (resolved with `snapshot_download`, offline-aware).

        Raises:
            ValueError: if the folder lacks `model_index.json`, was saved by another pipeline
                class, has a missing or corrupt safetensors file, or a component config beyond
                the limits of [`~hub.check_component_configs`].
        """
        folder = resolve_pretrained(pretrained_model_name_or_path, **kwargs)
        check_pipeline_folder(folder)
        cls._check_class_name(folder)
        check_component_configs(folder)
        for key in _HUB_ONLY_KWARGS:
            kwargs.pop(key, None)
        kwargs.setdefault("use_safetensors", True)
        return super().from_pretrained(folder, **kwargs)

    @classmethod
    def _check_class_name(cls, folder: str | os.PathLike) -> None:
        """Refuse a folder saved by another pipeline class (it would load with warnings, then fail later)."""
        if cls is SeismicDiffusionPipeline:
            return
        saved = json.loads((Path(folder) / "model_index.json").read_text()).get("_class_name")
        if saved not in {klass.__name__ for klass in cls.__mro__}:  # a subclass may load its parent's folder
            raise ValueError(
                f"{folder} holds a {saved or 'pipeline of unknown class'}, not a {cls.__name__}; load it "
                f"with {saved or 'its own class'}.from_pretrained, or point at a {cls.__name__} folder."
            )

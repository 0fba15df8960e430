"""What every seismic_diffusers pipeline shares: Hub loading and a portable model_index.json."""

from __future__ import annotations

import os

from diffusers.pipelines.pipeline_utils import DiffusionPipeline

from ..hub import LIBRARY_NAME, check_pipeline_folder, resolve_pretrained

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

    @staticmethod
    def check_call_arguments(batch_size, generator, num_inference_steps, output_type, output_types) -> None:
        """The checks every generating `__call__` shares: batch size, generator list, steps, output type."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be an integer >= 1, got {batch_size!r}.")
        if isinstance(generator, list) and len(generator) != batch_size:
            raise ValueError(
                f"Got a list of {len(generator)} generators for batch_size={batch_size}; "
                "pass one generator, or one per sample."
            )
        if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise ValueError(f"`num_inference_steps` must be an integer >= 1, got {num_inference_steps!r}.")
        if output_type not in output_types:
            raise ValueError(
                f"Unknown `output_type` {output_type!r}. Valid choices: {', '.join(output_types)}."
            )

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs):
        """Load from a local folder or a Hub id (resolved with `snapshot_download`, offline-aware).

        Raises:
            ValueError: if the folder lacks `model_index.json` or has a missing or corrupt
                safetensors file.
        """
        folder = resolve_pretrained(pretrained_model_name_or_path, **kwargs)
        check_pipeline_folder(folder)
        for key in _HUB_ONLY_KWARGS:
            kwargs.pop(key, None)
        kwargs.setdefault("use_safetensors", True)
        return super().from_pretrained(folder, **kwargs)

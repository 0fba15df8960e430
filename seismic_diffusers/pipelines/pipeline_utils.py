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

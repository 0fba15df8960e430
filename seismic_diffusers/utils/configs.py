"""Component configs: what is left of a diffusers config once its bookkeeping keys are gone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def public_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """`config` without its private keys (`_class_name`, `_diffusers_version`, `_name_or_path`, ...).

    What is left are the constructor's settings: enough to rebuild a component with one setting
    changed (`Cls(**{**public_config(model.config), "input_gate": True})`) or to compare two
    components' settings (saving adds private keys to a shared object's config).
    """
    return {key: value for key, value in config.items() if not key.startswith("_")}

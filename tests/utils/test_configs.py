"""`public_config`: a component's settings without diffusers' bookkeeping keys."""

import json

from seismic_diffusers import SeismogramProcessor
from seismic_diffusers.utils.configs import public_config


def test_saved_component_rebuilds_from_its_public_config(tmp_path):
    processor = SeismogramProcessor(window_length=512)
    processor.save_config(tmp_path)
    loaded = SeismogramProcessor.from_config(SeismogramProcessor.load_config(tmp_path))
    assert any(key.startswith("_") for key in loaded.config)  # e.g. _class_name, _diffusers_version
    settings = public_config(loaded.config)
    assert not any(key.startswith("_") for key in settings)
    assert settings == json.loads(json.dumps(public_config(processor.config)))  # JSON makes tuples lists
    rebuilt = SeismogramProcessor(**{**settings, "window_length": 1024})
    assert (
        rebuilt.config.window_length == 1024
        and rebuilt.config.sampling_rate == processor.config.sampling_rate
    )

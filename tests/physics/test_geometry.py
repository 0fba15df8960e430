"""AcquisitionGeometry: the OPENFWI preset, save/load, and refusal of impossible surveys."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seismic_diffusers.physics import CRITICAL_COURANT_NUMBER, OPENFWI, AcquisitionGeometry


def test_openfwi_preset_matches_published_acquisition():
    assert OPENFWI.grid_shape == (70, 70)
    assert OPENFWI.config.grid_spacing == 10.0 and OPENFWI.config.dt == 1e-3
    assert OPENFWI.data_shape == (5, 1000, 70)
    wavelet = OPENFWI.wavelet()
    assert wavelet.shape == (1000,) and wavelet.dtype == np.float32
    assert OPENFWI.wavelet_length == 147 and int(np.argmax(wavelet)) == 73 and wavelet[73] == 1.0
    assert np.all(wavelet[147:] == 0)
    np.testing.assert_array_equal(OPENFWI.source_locations(), [[1, 0], [1, 17], [1, 34], [1, 52], [1, 69]])
    receivers = OPENFWI.receiver_locations()
    assert receivers.shape == (70, 2) and set(receivers[:, 0]) == {1}
    np.testing.assert_array_equal(receivers[:, 1], np.arange(70))
    # 4500 m/s at 1 ms and 10 m is inside the 4th-order leapfrog limit, so dt is never sub-stepped.
    assert OPENFWI.courant_number == pytest.approx(0.6364, abs=1e-4)
    assert OPENFWI.courant_number < CRITICAL_COURANT_NUMBER


def test_critical_courant_number_is_deepwaves():
    from deepwave.discretisation import critical_courant_number

    assert CRITICAL_COURANT_NUMBER == pytest.approx(critical_courant_number(4, propagator="scalar"))


def test_save_and_load_round_trip(tmp_path):
    custom = AcquisitionGeometry(nt=500, source_x=[3, 40], receiver_x=[0, 10, 20], max_velocity=5000.0)
    custom.save_pretrained(tmp_path)
    assert (tmp_path / "geometry_config.json").is_file()
    loaded = AcquisitionGeometry.from_pretrained(tmp_path)
    public = lambda g: {k: v for k, v in json.loads(g.to_json_string()).items() if not k.startswith("_")}  # noqa: E731
    assert public(loaded) == public(custom)
    assert loaded.data_shape == (2, 500, 3)
    np.testing.assert_array_equal(loaded.wavelet(), custom.wavelet())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"source_x": [0, 70]}, r"Source x positions \[70\] lie outside the grid"),
        ({"source_z": -1}, "Source depth"),
        ({"receiver_x": [5, 99]}, r"Receiver x positions \[99\]"),
        ({"receiver_z": 70}, "Receiver depth"),
        ({"dt": 2e-3}, r"CFL violation: max_velocity 4500 m/s is above the stability limit 3062 m/s"),
        ({"max_velocity": 7000.0}, r"stability limit 6124 m/s"),
        ({"dt": 0.0}, "`dt` must be a positive number"),
        ({"source_x": []}, "at least one source"),
        ({"grid_shape": (70,)}, "grid_shape"),
    ],
)
def test_impossible_geometries_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AcquisitionGeometry(**kwargs)

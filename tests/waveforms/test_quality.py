"""Quality metrics: SNR around a pick and the SNR/gap quality filter."""

from __future__ import annotations

import numpy as np
import pytest
from obspy import UTCDateTime

from seismic_diffusers.waveforms import passes_quality, snr


def test_snr_is_the_rms_ratio_around_the_pick_and_clips_to_the_record():
    start, rate = UTCDateTime(2021, 1, 1), 100.0
    data = np.concatenate(
        [np.full(500, 1.0) * np.tile([1, -1], 250), np.tile([4.0, -4.0], 1500)]
    )  # 5 s, then 15 s
    assert snr(data, rate, start, start + 5.0) == pytest.approx(4.0)  # noise window clipped to 5 s
    assert np.isnan(snr(data, rate, start, start + 0.5))  # under 1 s of noise left
    assert np.isnan(snr(np.zeros(3000), rate, start, start + 15.0))  # silent noise


@pytest.mark.parametrize(
    "quality, passed",
    [
        ({"snr1": 1.2, "snr2": 1.6, "snr3": 0.9, "gap1": 0, "gap2": 0, "gap3": 0}, True),
        ({"snr1": 1.2, "snr2": 1.5, "snr3": 0.9, "gap1": 0, "gap2": 0, "gap3": 0}, False),  # must exceed 1.5
        ({"snr1": 9.0, "snr2": 9.0, "snr3": 9.0, "gap1": 0, "gap2": 1, "gap3": 0}, False),
        (
            {"snr1": 9.0, "snr2": float("nan"), "snr3": 9.0, "gap1": 0, "gap2": -1, "gap3": 0},
            False,
        ),  # missing N
        (
            {
                "snr1": float("nan"),
                "snr2": float("nan"),
                "snr3": float("nan"),
                "gap1": 0,
                "gap2": 0,
                "gap3": 0,
            },
            False,
        ),
    ],
)
def test_quality_filter_keeps_snr_above_1_5_without_gaps(quality, passed):
    assert passes_quality(quality) is passed


def test_event_free_spans_cut_out_an_event_and_its_coda():
    from seismic_diffusers.data import generate_local_earthquakes, generate_seismic_noise
    from seismic_diffusers.waveforms.quality import event_free_spans, first_trigger

    noise = generate_seismic_noise(1, seed=1, num_samples=18000)[0, 2]
    event = generate_local_earthquakes(1, seed=2)["waveforms"][0, 2]
    data = noise.copy()
    data[6000:9000] += 30 * noise.std() * event / np.abs(event).max()
    onset = first_trigger(data, 100.0)
    assert onset is not None and 6000 <= onset <= 6000 + 3000
    spans = event_free_spans(data, 100.0)
    assert spans[0][0] == 0 and spans[0][1] <= onset - 500  # 5 s before the onset
    assert spans[-1][1] == 18000 and spans[-1][0] >= onset + 3000  # past the event and 30 s of coda
    assert event_free_spans(noise, 100.0) == [(0, 18000)]

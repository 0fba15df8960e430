"""The denoising development set from ObsPy's bundled recordings, and the files it must never use."""

from __future__ import annotations

import inspect

import numpy as np

from seismic_diffusers.data import obspy_recordings
from seismic_diffusers.data.obspy_recordings import development_events, development_noise


def test_events_are_three_component_windows_with_an_onset_near_the_start():
    events = development_events()
    assert len(events) >= 5 and len({e.source for e in events}) == 3
    for event in events:
        assert event.waveforms.shape == (3, 3000) and np.isfinite(event.waveforms).all()
        envelope = np.abs(event.waveforms).max(axis=0)  # 1-20 Hz, filtered before the cut
        assert (
            envelope[:400].max() < 0.5 * envelope.max()
        )  # quiet in the event band before the trigger, 5 s in


def test_noise_records_are_split_into_adaptation_and_evaluation_halves():
    records = development_noise()
    assert [r.id for r in records] == ["BW.UH4..EHZ", "NZ.CRLZ.10.HHZ"]
    for record in records:
        assert record.adaptation and record.evaluation
        assert min(len(s) for s in record.adaptation + record.evaluation) >= 3000


def test_the_reserved_evaluation_files_are_not_used():
    source = inspect.getsource(obspy_recordings)
    used = " ".join(obspy_recordings.EVENT_FILES + obspy_recordings.NOISE_FILES)
    for name in ("RJOB", "KW1"):
        assert name not in used
    assert "obspy.read()" not in source.split("RESERVED = (")[0].split('"""', 2)[2]  # code, not the doc

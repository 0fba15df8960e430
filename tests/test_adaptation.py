"""`seismic_diffusers.adaptation`: fine-tune a denoiser to one station's noise (tiny model, seconds)."""

from __future__ import annotations

import json

import numpy as np
import obspy
import pytest

from seismic_diffusers import ColdDiffusionDenoisePipeline
from seismic_diffusers.adaptation import adapt_denoiser, station_noise
from seismic_diffusers.cli import main
from seismic_diffusers.data import generate_local_earthquakes, generate_seismic_noise
from seismic_diffusers.utils.configs import public_config

RATE = 100.0


def station(seconds: float = 120.0, event_at: float | None = None, channels=("HHE", "HHN", "HHZ"), **header):
    """A station's continuous noise: synthetic background plus a 7 Hz machinery line, optionally one event."""
    npts = int(seconds * RATE)
    noise = generate_seismic_noise(1, seed=3, num_samples=npts)[0]
    noise += 0.5 * noise.std() * np.sin(2 * np.pi * 7.0 * np.arange(npts) / RATE)
    if event_at is not None:
        event = generate_local_earthquakes(1, seed=5, num_samples=3000)["waveforms"][0]
        start = int(event_at * RATE)
        noise[:, start : start + 3000] += 50 * noise.std() * event / np.abs(event).max()
    values = {"network": "XX", "station": "ADPT", "sampling_rate": RATE, **header}
    return obspy.Stream(
        [
            obspy.Trace(noise["ENZ".index(c[-1])].astype(np.float32), header={**values, "channel": c})
            for c in channels
        ]
    )


def test_events_are_cut_out_of_the_noise():
    kept = station_noise(station(event_at=20.0), RATE)
    assert kept["components"] == ["E", "N", "Z"]
    assert kept["adaptation_seconds"] == pytest.approx(60.0, abs=0.1)
    # the event (20-50 s) and its margins are gone; the rest of the first half stays
    assert 5.0 < kept["adaptation_event_free_seconds"] < 40.0
    assert kept["held_back_event_free_seconds"] == pytest.approx(60.0, abs=0.1)


def test_adapting_writes_a_loadable_pipeline_with_its_card(tiny_denoise_pipeline_dir, tmp_path):
    path = tmp_path / "noise.mseed"
    station(event_at=20.0).write(str(path), format="MSEED")
    out = tmp_path / "adapted"
    report = adapt_denoiser(path, out, pipeline=tiny_denoise_pipeline_dir, minutes=5, max_steps=3, batch_size=4,
                            num_events=16, progress=False)  # fmt: skip
    assert report["steps"] == 3 and report["station"] == "XX.ADPT..HH?"
    assert set(report["before"]) == set(report["after"]) == {"0", "5", "10"}
    adapted = ColdDiffusionDenoisePipeline.from_pretrained(str(out))
    base = ColdDiffusionDenoisePipeline.from_pretrained(tiny_denoise_pipeline_dir)
    changed = [
        name
        for name, weight in adapted.unet.state_dict().items()
        if not weight.equal(base.unet.state_dict()[name])
    ]
    assert changed  # fine-tuned, not a copy
    card = (out / "README.md").read_text()
    assert (
        "adapted to XX.ADPT..HH?" in card and "3 steps" in card and "library_name: seismic_diffusers" in card
    )
    assert json.loads((out / "adaptation.json").read_text())["steps"] == 3
    # the bundled model's loss and SNR range by default, stated on the card
    assert report["loss"] == "snr" and report["snr_db_range"] == [0.0, 40.0]
    assert "mixtures at 0 to\n  40 dB" in card


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: station(seconds=9.0), "Too little noise"),
        (lambda: station(seconds=20.0, sampling_rate=0.5), r"denoises rates from 1 to 10000 Hz"),
        (lambda: station() + station(station="OTHER"), "one station and band"),
        (lambda: station().cutout(obspy.UTCDateTime(0) + 30, obspy.UTCDateTime(0) + 31), "have gaps"),
        (lambda: obspy.Stream(), "hold no traces"),
    ],
)
def test_bad_noise_is_refused_before_training(tiny_denoise_pipeline_dir, tmp_path, make, message):
    with pytest.raises(ValueError, match=message):
        adapt_denoiser(
            make(), tmp_path / "out", pipeline=tiny_denoise_pipeline_dir, max_steps=1, progress=False
        )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("snr_db_range", [(20.0, -5.0), (0.0, float("nan")), (5.0,), "loud", "05"])
def test_a_bad_snr_range_is_refused_before_training(tiny_denoise_pipeline_dir, tmp_path, snr_db_range):
    with pytest.raises(ValueError, match="snr_db_range"):
        adapt_denoiser(station(), tmp_path / "out", pipeline=tiny_denoise_pipeline_dir, max_steps=1,
                       progress=False, snr_db_range=snr_db_range)  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_cli_prints_before_and_after(tiny_denoise_pipeline_dir, tmp_path, capsys, monkeypatch):
    import seismic_diffusers.adaptation as adaptation

    path = tmp_path / "noise.mseed"
    station().write(str(path), format="MSEED")
    original = adaptation.adapt_denoiser
    monkeypatch.setattr(
        adaptation, "adapt_denoiser",
        lambda *a, **k: original(*a, **{**k, "max_steps": 2, "batch_size": 4, "num_events": 8, "progress": False}),
    )  # fmt: skip
    assert (
        main(
            [
                "adapt-denoiser",
                str(path),
                "--out",
                str(tmp_path / "a"),
                "--pipeline",
                tiny_denoise_pipeline_dir,
                "--snr-db-range",
                "0",
                "10",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "a" / "adaptation.json").read_text())["snr_db_range"] == [0.0, 10.0]
    printed = capsys.readouterr().out
    assert "adapted to XX.ADPT..HH?" in printed and "level | band-pass | before | after" in printed
    with pytest.raises(SystemExit) as info:
        main(["adapt-denoiser", str(tmp_path / "missing.mseed"), "--out", str(tmp_path / "b"),
              "--pipeline", tiny_denoise_pipeline_dir])  # fmt: skip
    assert info.value.code == 2 and "does not exist" in capsys.readouterr().err


def test_a_band_limited_pipeline_adapts_on_band_passed_pairs_and_keeps_its_band(
    tiny_denoise_pipeline_dir, tmp_path, monkeypatch
):
    from seismic_diffusers import SeismogramProcessor
    from seismic_diffusers.data import realism

    base = ColdDiffusionDenoisePipeline.from_pretrained(tiny_denoise_pipeline_dir)
    settings = public_config(base.processor.config)
    base.processor = SeismogramProcessor(**{**settings, "band_hz": [1.0, 20.0]})
    base.register_modules(processor=base.processor)
    base.save_pretrained(str(tmp_path / "banded"))
    calls = []
    original = realism.BandPassedPair.__call__
    monkeypatch.setattr(
        realism.BandPassedPair, "__call__", lambda self, *a: calls.append(1) or original(self, *a)
    )
    path = tmp_path / "noise.mseed"
    station().write(str(path), format="MSEED")
    report = adapt_denoiser(path, tmp_path / "adapted", pipeline=str(tmp_path / "banded"), minutes=5, max_steps=2,
                            batch_size=4, num_events=16, progress=False)  # fmt: skip
    assert calls and report["steps"] == 2
    adapted = ColdDiffusionDenoisePipeline.from_pretrained(str(tmp_path / "adapted"))
    assert list(adapted.processor.config.band_hz) == [1.0, 20.0]


def test_the_adapted_pipeline_keeps_the_base_fidelity_blend(tiny_denoise_pipeline_dir, tmp_path):
    base = ColdDiffusionDenoisePipeline.from_pretrained(tiny_denoise_pipeline_dir)
    base.register_to_config(fidelity_db=15.0)
    base.save_pretrained(str(tmp_path / "blended"))
    path = tmp_path / "noise.mseed"
    station().write(str(path), format="MSEED")
    adapt_denoiser(path, tmp_path / "adapted", pipeline=str(tmp_path / "blended"), minutes=5, max_steps=1,
                   batch_size=4, num_events=8, progress=False)  # fmt: skip
    assert ColdDiffusionDenoisePipeline.from_pretrained(str(tmp_path / "adapted")).config.fidelity_db == 15.0

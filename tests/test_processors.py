"""Tests for `VelocityProcessor`, the config-registered m/s <-> [-1, 1] and family-label component."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from seismic_diffusers import VELOCITY_FAMILIES, VelocityProcessor


@pytest.fixture
def processor():
    return VelocityProcessor()


def test_defaults_are_openfwi(processor):
    assert processor.config.v_min == 1500.0
    assert processor.config.v_max == 4500.0
    assert processor.families == list(VELOCITY_FAMILIES)
    assert processor.null_label == len(VELOCITY_FAMILIES)


def test_normalize_endpoints_and_midpoint(processor):
    velocity = np.array([1500.0, 3000.0, 4500.0])
    np.testing.assert_allclose(processor.normalize(velocity), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(processor.denormalize(np.array([-1.0, 0.0, 1.0])), [1500.0, 3000.0, 4500.0])


def test_round_trip_numpy_and_torch(processor):
    rng = np.random.default_rng(0)
    velocity = rng.uniform(1500.0, 4500.0, size=(2, 1, 70, 70)).astype(np.float32)
    normalised = processor.normalize(velocity)
    assert isinstance(normalised, np.ndarray) and normalised.shape == velocity.shape
    assert normalised.min() >= -1.0 and normalised.max() <= 1.0
    np.testing.assert_allclose(processor.denormalize(normalised), velocity, rtol=0, atol=1e-3)

    tensor = torch.from_numpy(velocity)
    out = processor.normalize(tensor)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == tensor.shape
    torch.testing.assert_close(processor.denormalize(out), tensor, rtol=0, atol=1e-3)


def test_custom_range():
    processor = VelocityProcessor(v_min=1000.0, v_max=5000.0)
    np.testing.assert_allclose(processor.normalize(np.array([1000.0, 5000.0])), [-1.0, 1.0])


def test_scaling_factor_widens_the_model_range_and_round_trips():
    processor = VelocityProcessor(scaling_factor=2.0)
    np.testing.assert_allclose(processor.normalize(np.array([1500.0, 3000.0, 4500.0])), [-2.0, 0.0, 2.0])
    velocity = np.array([1800.0, 2750.0, 4321.0])
    np.testing.assert_allclose(processor.denormalize(processor.normalize(velocity)), velocity)
    assert processor.sample_range == 2.0 and VelocityProcessor().sample_range == 1.0
    with pytest.raises(ValueError, match="`scaling_factor` must be positive"):
        VelocityProcessor(scaling_factor=0.0)


@pytest.mark.parametrize(("v_min", "v_max"), [(4500.0, 1500.0), (3000.0, 3000.0)])
def test_invalid_range_raises(v_min, v_max):
    with pytest.raises(ValueError, match="v_max"):
        VelocityProcessor(v_min=v_min, v_max=v_max)


def test_invalid_grid_spacing_raises():
    with pytest.raises(ValueError, match="grid_spacing"):
        VelocityProcessor(grid_spacing=0.0)


def test_family_labels_single_name_list_and_null(processor):
    assert processor.family_labels("curvevel-a", 3) == [2, 2, 2]
    # Names are normalised like OpenFWI folder names.
    assert processor.family_labels("FlatVel_A", 1) == [0]
    assert processor.family_labels(["flatvel-b", None, "any", "curvefault-b"], 4) == [1, 8, 8, 7]
    assert processor.family_labels(None, 2) == [processor.null_label] * 2
    assert processor.family_labels("any", 1) == [processor.null_label]


def test_family_labels_unknown_name_lists_valid(processor):
    with pytest.raises(ValueError, match="Unknown family") as info:
        processor.family_labels(["flatvel-a", "saltdome"], 2)
    for name in VELOCITY_FAMILIES:
        assert name in str(info.value)


def test_guidance_scales_per_sample(processor):
    labels = processor.family_labels(["flatvel-a", "curvefault-b", None], 3)
    assert processor.guidance_scales(2.5, labels) == [2.5, 2.5, 1.0]  # the null class is never guided
    # Mapping keys are normalised like family names; families left out are unguided.
    assert processor.guidance_scales({"CurveFault_B": 1.5}, labels) == [1.0, 1.5, 1.0]


def test_family_guidance_is_canonical_and_keeps_only_the_named_families(processor):
    assert processor.family_guidance({"CurveFault_A": 1.5, "flatvel-b": 2}) == {
        "curvefault-a": 1.5,
        "flatvel-b": 2.0,
    }
    assert processor.family_guidance({}) == {}
    assert processor.family_guidance({"flatvel-a": np.float32(2.5)}) == {"flatvel-a": 2.5}


@pytest.mark.parametrize(
    "guidance_scale, message",
    [
        (0.5, r"must be a number from 1.0 \(no guidance\) to 20"),
        ({"flatvel-a": 0.9}, r"must be a number from 1.0 \(no guidance\) to 20"),
        ({"SaltDome": 2.0}, "Unknown family 'SaltDome'.*Valid families"),
        ({"flatvel-a": 2.0, "FlatVel_A": 3.0}, "names family 'flatvel-a' twice"),
        ({"flatvel-a": float("nan")}, r"must be a number from 1.0 \(no guidance\) to 20"),
        ({"flatvel-a": True}, r"must be a number from 1.0 \(no guidance\) to 20"),
        (float("nan"), r"must be a number from 1.0 \(no guidance\) to 20"),
    ],
)
def test_guidance_scales_bad_input(processor, guidance_scale, message):
    with pytest.raises(ValueError, match=message):
        processor.guidance_scales(guidance_scale, [0])


def test_family_labels_wrong_length(processor):
    with pytest.raises(ValueError, match="batch_size=3"):
        processor.family_labels(["flatvel-a", "flatvel-b"], 3)


def test_custom_vocabulary():
    processor = VelocityProcessor(families=["flatvel-a", "curvefault-b"])
    assert processor.null_label == 2
    assert processor.family_labels(["curvefault-b", None], 2) == [1, 2]
    with pytest.raises(ValueError, match="flatvel-a, curvefault-b"):
        processor.family_labels("curvevel-a", 1)


def test_save_pretrained_from_pretrained_round_trip(tmp_path):
    processor = VelocityProcessor(
        v_min=1600.0, v_max=4400.0, grid_spacing=5.0, families=["flatvel-a", "curvevel-b"]
    )
    processor.save_pretrained(str(tmp_path))
    config_file = tmp_path / VelocityProcessor.config_name
    assert config_file.is_file()
    saved = json.loads(config_file.read_text())
    assert saved["_class_name"] == "VelocityProcessor"
    assert saved["v_min"] == 1600.0 and saved["v_max"] == 4400.0
    assert os.listdir(tmp_path) == [VelocityProcessor.config_name]

    for loaded in (
        VelocityProcessor.from_pretrained(str(tmp_path)),
        VelocityProcessor.from_config(VelocityProcessor.load_config(str(tmp_path))),
    ):
        assert isinstance(loaded, VelocityProcessor)
        assert loaded.families == ["flatvel-a", "curvevel-b"]
        assert loaded.config.v_min == 1600.0
        assert loaded.config.v_max == 4400.0
        assert loaded.config.grid_spacing == 5.0
        np.testing.assert_allclose(loaded.normalize(np.array([1600.0, 4400.0])), [-1.0, 1.0])


def test_from_pretrained_subfolder(tmp_path):
    VelocityProcessor(v_max=4000.0).save_pretrained(str(tmp_path / "processor"))
    loaded = VelocityProcessor.from_pretrained(str(tmp_path), subfolder="processor")
    assert loaded.config.v_max == 4000.0


def test_to_pil_sizes_and_colours(processor):
    velocity = np.stack([np.full((70, 70), 1500.0), np.full((70, 70), 4500.0)]).astype(np.float32)
    images = processor.to_pil(velocity)
    assert len(images) == 2
    for image in images:
        assert image.mode == "RGB"
        assert image.size == (70, 70)
    # Constant maps are single-coloured, and the two ends of the range differ.
    low, high = np.asarray(images[0]), np.asarray(images[1])
    assert len(np.unique(low.reshape(-1, 3), axis=0)) == 1
    assert not np.array_equal(low[0, 0], high[0, 0])


def test_to_pil_non_square(processor):
    velocity = np.linspace(1500.0, 4500.0, 2 * 69 * 71).reshape(2, 69, 71)
    images = processor.to_pil(velocity)
    # PIL size is (width, height) = (nx, nz).
    assert [image.size for image in images] == [(71, 69), (71, 69)]


def test_to_pil_clips_out_of_range(processor):
    below, at_min = processor.to_pil(np.array([np.full((4, 4), 500.0), np.full((4, 4), 1500.0)]))
    np.testing.assert_array_equal(np.asarray(below), np.asarray(at_min))


# ----------------------------------------------------------------------------------------------
# WaveformSpectrogram


@pytest.fixture(scope="module")
def local_events():
    from seismic_diffusers.data import generate_local_earthquakes

    return generate_local_earthquakes(4, seed=0, num_samples=7000)["waveforms"]


def test_spectrogram_has_the_expected_shape_and_saves_with_its_config(tmp_path):
    from seismic_diffusers import WaveformSpectrogram

    spectrogram = WaveformSpectrogram()  # nperseg 256, noverlap 192, nfft 256; 70 s at 100 Hz
    assert spectrogram.shape == (3, 129, 110)
    assert spectrogram.frequencies[-1] == 50.0 and spectrogram.times[1] == pytest.approx(0.64)
    spectrogram.register_to_config(log_range=(-5.0, 1.0))
    spectrogram.save_config(tmp_path)
    loaded = WaveformSpectrogram.from_config(WaveformSpectrogram.load_config(tmp_path))
    assert list(loaded.config.log_range) == [-5.0, 1.0] and loaded.shape == spectrogram.shape


def test_complex_spectrograms_invert_exactly(local_events):
    from seismic_diffusers import WaveformSpectrogram

    spectrogram = WaveformSpectrogram(representation="complex", complex_scale=1e-4)
    spec = spectrogram.to_spectrogram(local_events)
    assert spec.shape == (4, 6, 129, 110) and spec.dtype == torch.float32
    back = spectrogram.to_waveform(spec).numpy()
    assert np.abs(back - local_events).max() < 1e-5 * np.abs(local_events).max()


def test_log_magnitude_round_trip_through_griffin_lim(local_events):
    from seismic_diffusers import WaveformSpectrogram

    spectrogram = WaveformSpectrogram(griffin_lim_iterations=64)
    floor, (low, high) = spectrogram.fit_log_range(local_events)
    assert high - low == pytest.approx(5.0) and floor == pytest.approx(10**low)
    spec = spectrogram.to_spectrogram(local_events)
    assert spec.shape == (4, 3, 129, 110) and -1.0 <= spec.min() and spec.max() <= 1.0
    back = spectrogram.to_waveform(spec, generator=torch.Generator().manual_seed(0))
    original = spectrogram._stft(torch.as_tensor(local_events)).abs()
    error = float((spectrogram._stft(back).abs() - original).norm() / original.norm())
    assert error < 0.07  # 5.4 % measured (docstring)
    peak_ratio = np.abs(back.numpy()).max(axis=(1, 2)) / np.abs(local_events).max(axis=(1, 2))
    assert np.all((0.6 < peak_ratio) & (peak_ratio < 1.5))
    again = spectrogram.to_waveform(spec, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(back.numpy(), again.numpy())  # seeded phases: deterministic


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"representation": "mel"}, "Unknown representation 'mel'"),
        ({"noverlap": 256}, "Need 0 <= noverlap < nperseg <= nfft"),
        ({"window_length": 100}, "must be at least nperseg"),
    ],
)
def test_spectrogram_refuses_bad_settings(kwargs, message):
    from seismic_diffusers import WaveformSpectrogram

    with pytest.raises(ValueError, match=message):
        WaveformSpectrogram(**kwargs)


def test_spectrogram_refuses_bad_waveforms(local_events):
    from seismic_diffusers import WaveformSpectrogram

    spectrogram = WaveformSpectrogram()
    with pytest.raises(ValueError, match=r"must be \(3, 7000\) or \(B, 3, 7000\)"):
        spectrogram.to_spectrogram(local_events[:, :2])
    bad = local_events.copy()
    bad[0, 0, 10] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        spectrogram.to_spectrogram(bad)
    with pytest.raises(ValueError, match=r"spectrograms must be \(B, 3, 129, 110\)"):
        spectrogram.to_waveform(torch.zeros(1, 3, 129, 100))


def test_peak_normalised_spectrograms_carry_the_amplitude_separately(local_events):
    from seismic_diffusers import WaveformSpectrogram

    spectrogram = WaveformSpectrogram(representation="complex", peak_normalize=True)
    scaled = local_events[:1] * np.array([1.0, 10.0, 100.0, 1000.0], dtype=np.float32)[:, None, None]
    spec, log_peak = spectrogram.to_spectrogram(scaled, return_log_peak=True)
    torch.testing.assert_close(spec[0], spec[3], rtol=1e-4, atol=1e-6)  # same shape whatever the amplitude
    np.testing.assert_allclose(log_peak.numpy(), np.log10(np.abs(scaled).max(axis=(1, 2))), rtol=1e-6)
    back = spectrogram.to_waveform(spec, log_peak=log_peak).numpy()
    np.testing.assert_allclose(back, scaled, atol=1e-5 * np.abs(scaled).max())
    with pytest.raises(ValueError, match="all zeros"):
        spectrogram.to_spectrogram(np.zeros((1, 3, 7000), np.float32))


def test_log_magnitudes_map_back_to_stft_magnitudes_and_griffin_lim_gets_the_peak(local_events):
    from seismic_diffusers import WaveformSpectrogram

    spectrogram = WaveformSpectrogram(peak_normalize=True, griffin_lim_iterations=8)
    spectrogram.fit_log_range(local_events)
    spec, log_peak = spectrogram.to_spectrogram(local_events[:2] * 1e-6, return_log_peak=True)
    magnitude = spectrogram.stft_magnitude(local_events[:2] * 1e-6)  # peak-normalised first
    assert float(magnitude.amax()) <= 1.0 * spectrogram.config.nperseg
    # bins well above the floor come back to float32 precision
    loud = magnitude > 100 * spectrogram.config.amplitude_floor
    torch.testing.assert_close(spectrogram.to_magnitude(spec)[loud], magnitude[loud], rtol=1e-4, atol=0)
    # Griffin-Lim's own peak is off by tens of %; log_peak sets it exactly
    back = spectrogram.to_waveform(spec, generator=torch.Generator().manual_seed(0), log_peak=log_peak)
    torch.testing.assert_close(back.abs().amax(dim=(1, 2)), 10.0**log_peak, rtol=1e-9, atol=0)


def test_prior_mean_broadcasts_each_label_profile_across_the_map(tmp_path):
    profiles = [[1500.0, 3000.0, 4500.0], [3000.0, 3000.0, 3000.0], [2000.0, 2500.0, 3000.0]]
    processor = VelocityProcessor(families=["flatvel-a", "curvefault-b"], mean_profiles=profiles)
    prior = processor.prior_mean([0, 2, 1], (3, 5))
    assert prior.shape == (3, 1, 3, 5) and prior.dtype == torch.float32
    torch.testing.assert_close(prior[0, 0, :, 4], torch.tensor([-1.0, 0.0, 1.0]))
    torch.testing.assert_close(
        processor.denormalize(prior[1, 0]), torch.tensor(profiles[2])[:, None].expand(3, 5)
    )
    with pytest.raises(ValueError, match="3 depth samples but the maps have 70 rows"):
        processor.prior_mean([0], (70, 70))
    assert VelocityProcessor().prior_mean([0], (70, 70)) is None

    processor.save_pretrained(str(tmp_path))
    assert VelocityProcessor.from_pretrained(str(tmp_path)).config.mean_profiles == profiles


@pytest.mark.parametrize(
    ("profiles", "match"),
    [
        ([[2000.0, 2100.0]] * 8, "9 rows of equal length"),
        ([[2000.0, 2100.0]] * 8 + [[2000.0]], "9 rows of equal length"),
        ([[2000.0, 2100.0]] * 8 + [[2000.0, 4600.0]], r"within \[1500.0, 4500.0\]"),
        ([[2000.0, float("nan")]] * 9, "finite velocities"),
    ],
)
def test_invalid_mean_profiles_raise(profiles, match):
    with pytest.raises(ValueError, match=match):
        VelocityProcessor(mean_profiles=profiles)


def test_prior_sample_draws_profiles_with_the_saved_spread(tmp_path):
    profiles = [[2000.0, 2500.0, 3000.0]] * 3
    components = [[[200.0, 200.0, 200.0], [0.0, -50.0, 50.0]]] * 2 + [[[0.0] * 3, [0.0] * 3]]
    processor = VelocityProcessor(families=["a", "b"], mean_profiles=profiles, profile_components=components)
    assert processor.num_profile_components == 2 and VelocityProcessor().num_profile_components == 0
    noise = torch.tensor([[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    drawn = processor.denormalize(processor.prior_sample([0, 1, 2], (3, 4), noise))
    assert drawn.shape == (3, 1, 3, 4)
    torch.testing.assert_close(drawn[0, 0, :, 0], torch.tensor([2200.0, 2700.0, 3200.0]))
    torch.testing.assert_close(drawn[1, 0, :, 3], torch.tensor([2000.0, 2400.0, 3100.0]))
    torch.testing.assert_close(drawn[2, 0, :, 1], torch.tensor(profiles[2]))  # null row: no spread saved
    # clamped to the velocity range
    high = processor.denormalize(processor.prior_sample([0], (3, 4), torch.tensor([[20.0, 0.0]])))
    torch.testing.assert_close(high[0, 0, :, 0], torch.tensor([4500.0] * 3))
    with pytest.raises(ValueError, match=r"`noise` must have shape \(1, 2\)"):
        processor.prior_sample([0], (3, 4), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="3 depth samples but the maps have 70 rows"):
        processor.prior_sample([0], (70, 70), torch.zeros(1, 2))
    # without components it is the mean
    plain = VelocityProcessor(families=["a", "b"], mean_profiles=profiles)
    torch.testing.assert_close(
        plain.prior_sample([1], (3, 4), torch.zeros(1, 0)), plain.prior_mean([1], (3, 4))
    )
    processor.save_pretrained(str(tmp_path))
    assert VelocityProcessor.from_pretrained(str(tmp_path)).config.profile_components == components


@pytest.mark.parametrize(
    ("components", "match"),
    [
        ([[[1.0, 1.0]]] * 3, "need `mean_profiles`"),
        ([[[1.0, 1.0]]] * 8, r"for each of the 9 class labels"),
        ([[[1.0, 1.0]]] * 8 + [[[1.0]]], r"for each of the 9 class labels"),
        ([[[1.0, 1.0]]] * 8 + [[[1.0, 1.0], [1.0, 1.0]]], r"same number"),
        ([[]] * 9, r"same number \(>= 1\)"),
        ([[[1.0, float("inf")]]] * 9, "must be finite"),
    ],
)
def test_invalid_profile_components_raise(components, match):
    profiles = None if match.startswith("need") else [[2000.0, 2100.0]] * 9
    with pytest.raises(ValueError, match=match):
        VelocityProcessor(mean_profiles=profiles, profile_components=components)


def test_replace_applies_settings_the_original_was_loaded_without(tmp_path):
    VelocityProcessor(families=["flatvel-a"]).save_pretrained(str(tmp_path))
    config = json.loads((tmp_path / "processor_config.json").read_text())
    del config["mean_profiles"]  # a processor saved before `mean_profiles` existed
    (tmp_path / "processor_config.json").write_text(json.dumps(config))
    loaded = VelocityProcessor.from_pretrained(str(tmp_path))
    profiles = [[2000.0] * 70, [2500.0] * 70]
    replaced = loaded.replace(mean_profiles=profiles)
    assert replaced.config.mean_profiles == profiles and replaced.families == ["flatvel-a"]
    assert loaded.config.mean_profiles is None


def test_family_proportions_default_to_equal_and_follow_weights(processor):
    np.testing.assert_allclose(processor.family_proportions, np.full(8, 1 / 8))
    weighted = processor.replace(family_weights=[3000, 3000, 0, 0, 0, 0, 0, 6000])
    np.testing.assert_allclose(weighted.family_proportions, [0.25, 0.25, 0, 0, 0, 0, 0, 0.5])
    # saved and loaded with the config
    assert VelocityProcessor.from_config(weighted.config).config.family_weights == [
        3000,
        3000,
        0,
        0,
        0,
        0,
        0,
        6000,
    ]


@pytest.mark.parametrize(
    "weights", [[1.0] * 7, [1.0] * 7 + [-1.0], [0.0] * 8, [1.0] * 7 + [float("nan")], "flat", [[1.0]] * 8]
)
def test_bad_family_weights_are_refused(weights):
    with pytest.raises(ValueError, match="family_weights"):
        VelocityProcessor(family_weights=weights)


def test_draw_family_labels_is_stratified_and_unbiased(processor):
    # within one call the counts are the expected ones to within one
    labels = processor.draw_family_labels(20, torch.Generator().manual_seed(1))
    counts = np.bincount(labels, minlength=8)
    assert counts.sum() == 20 and counts.min() >= 2 and counts.max() <= 3
    # each single draw is a draw from the mixture: over many seeds every family is equally likely
    singles = [processor.draw_family_labels(1, torch.Generator().manual_seed(s))[0] for s in range(4000)]
    shares = np.bincount(singles, minlength=8) / 4000
    assert np.abs(shares - 1 / 8).max() < 0.025  # 4.7 standard errors
    # a list of generators: each sample drawn like a batch of one with its generator
    generators = [torch.Generator().manual_seed(s) for s in (5, 6, 7)]
    assert processor.draw_family_labels(3, generators) == singles[5:8]
    assert processor.null_label not in processor.draw_family_labels(64)
    with pytest.raises(ValueError, match="generators"):
        processor.draw_family_labels(2, generators)


def test_profile_tables_are_saved_as_safetensors_beside_a_small_config(tmp_path):
    means = [[2000.0 + 0.001 * i + 10.0 * row for i in range(70)] for row in range(9)]
    components = [[[0.01 * (i + k) for i in range(70)] for k in range(2)] for _ in range(9)]
    processor = VelocityProcessor(mean_profiles=means, profile_components=components, family_weights=[1] * 8)
    processor.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "processor_config.json").read_text())
    assert config["mean_profiles"] is None and config["profile_components"] is None
    assert (tmp_path / "processor_config.json").stat().st_size < 1000
    loaded = VelocityProcessor.from_pretrained(tmp_path)
    # every value exactly: float64 holds each number's double
    assert loaded.config.mean_profiles == means and loaded.config.profile_components == components
    assert loaded.config.family_weights == [1] * 8
    # saving a processor without tables removes a stale file
    VelocityProcessor().save_pretrained(tmp_path)
    assert not (tmp_path / "profile_prior.safetensors").exists()
    assert VelocityProcessor.from_pretrained(tmp_path).config.mean_profiles is None


def test_folders_with_tables_in_the_json_still_load(tmp_path):
    means = [[2500.0] * 70] * 9
    VelocityProcessor(mean_profiles=means).save_config(tmp_path)  # the layout before the tables moved
    assert "2500.0" in (tmp_path / "processor_config.json").read_text()
    assert VelocityProcessor.from_pretrained(tmp_path).config.mean_profiles == means

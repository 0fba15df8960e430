"""forward_model: analytic, cross-backend, amplitude and symmetry checks, plus bad input.

Tolerances below are the measured errors (2026-11-23, CPU, deepwave 0.1.0) with headroom of
about 1.5x, so a real regression in either backend fails them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seismic_diffusers.data import generate_velocity_models
from seismic_diffusers.physics import OPENFWI, AcquisitionGeometry, forward_model, homogeneous_trace

# One central shot, 600 ms: enough for the direct wave to cross 300 m at 2000 m/s.
CENTRE_SHOT = AcquisitionGeometry(nt=600, source_x=[34])


def relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def direct_wave_window(distance: float, velocity: float, dt: float) -> int:
    """Samples up to 250 ms after the direct arrival (the wavelet is 147 ms long)."""
    return int((distance / velocity + 0.25) / dt)


@pytest.mark.parametrize("backend", ["deepwave", "reference"])
def test_homogeneous_media_match_the_2d_greens_function(backend):
    # Measured worst case over these cases: 1.00 % (deepwave), 1.02 % (reference), both at
    # 2000 m/s and 300 m, where the 10 m grid gives 5 points per shortest wavelength.
    velocities = [2000.0, 3000.0, 4000.0]
    maps = np.stack([np.full((70, 70), v, np.float32) for v in velocities])
    data = forward_model(maps, CENTRE_SHOT, backend=backend)
    for k, velocity in enumerate(velocities):
        for cells in (10, 20, 30):
            exact = homogeneous_trace(velocity, cells * 10.0, CENTRE_SHOT)
            n = direct_wave_window(cells * 10.0, velocity, 1e-3)
            error = relative_l2(data[k, 0, :n, 34 + cells], exact[:n])
            assert error < 0.015, (backend, velocity, cells, error)


def test_dispersion_at_1500_ms_is_real_and_converges_with_grid_refinement():
    # At 1500 m/s the 10 m grid carries the 40 Hz end of the Ricker with under 4 points per
    # wavelength: measured errors 2.2 / 4.2 / 6.2 % at 100 / 200 / 300 m. Halving dx and dt
    # (same wavelet) brings them to 0.09 / 0.16 / 0.23 %.
    errors = {}
    for dx, dt, n in [(10.0, 1e-3, 70), (5.0, 5e-4, 140)]:
        samples = round(1e-3 / dt)
        geometry = AcquisitionGeometry(
            grid_shape=(n, n),
            grid_spacing=dx,
            dt=dt,
            nt=round(0.5 / dt),
            source_x=[n // 2],
            source_z=n // 2,
            receiver_z=n // 2,
            wavelet_length=147 * samples,
            wavelet_peak=73 * samples,
        )
        trace_set = forward_model(np.full((n, n), 1500.0, np.float32), geometry)[0, 0]
        errors[dx] = [
            relative_l2(trace_set[:, n // 2 + round(d / dx)], homogeneous_trace(1500.0, d, geometry))
            for d in (100.0, 200.0, 300.0)
        ]
    assert errors[10.0][2] > 0.03, errors  # the coarse grid is visibly dispersive
    assert max(errors[5.0]) < 0.004, errors
    assert all(fine < coarse / 10 for fine, coarse in zip(errors[5.0], errors[10.0], strict=True)), errors


def test_deepwave_and_reference_agree_on_layered_and_faulted_models():
    # Measured on these maps: first 500 ms <= 0.21 %, whole record <= 2.6 % (late energy differs
    # because deepwave's 20-cell PML and OpenFWI's 120-cell sponge absorb differently).
    geometry = AcquisitionGeometry(source_x=[0, 34])
    maps = np.concatenate(
        [
            generate_velocity_models(f, 1, seed=1)
            for f in ("flatvel-a", "curvevel-b", "flatfault-b", "curvefault-a")
        ]
    )
    fast = forward_model(maps, geometry, backend="deepwave")
    reference = forward_model(maps, geometry, backend="reference", batch_size=4)
    for k in range(len(maps)):
        assert relative_l2(fast[k, :, :500], reference[k, :, :500]) < 0.005
        assert relative_l2(fast[k], reference[k]) < 0.04


def test_flatvel_a_amplitudes_lie_in_openfwis_published_range():
    # OpenFWI FlatVel-A data lie in [-26.95, 52.77]; 32 of our flatvel-a maps gave [-26.5, 51.7].
    data = forward_model(generate_velocity_models("flatvel-a", 32, seed=3))
    assert data.shape == (32, 5, 1000, 70) and data.dtype == np.float32
    assert -26.95 * 1.05 < data.min() < -26.95 * 0.8
    assert 52.77 * 0.8 < data.max() < 52.77 * 1.05


def test_laterally_invariant_model_gives_mirrored_shot_gathers():
    # Sources 0/69 and 17/52 are mirror images about the model's centre line.
    layered = generate_velocity_models("flatvel-b", 1, seed=5)
    assert np.all(layered[0] == layered[0, :, :1])  # flat layers: every column identical
    data = forward_model(layered)[0]
    scale = np.abs(data).max()
    np.testing.assert_allclose(data[0], data[4][:, ::-1], atol=1e-4 * scale)
    np.testing.assert_allclose(data[1], data[3][:, ::-1], atol=1e-4 * scale)


def test_a_map_gives_the_same_data_alone_or_in_any_batch():
    maps = np.concatenate(
        [generate_velocity_models("flatvel-a", 2, 0), generate_velocity_models("curvevel-b", 2, 0)]
    )
    together = forward_model(maps, batch_size=4)
    alone = forward_model(maps[3])
    np.testing.assert_array_equal(together[3], alone[0])
    np.testing.assert_array_equal(forward_model(maps, batch_size=3), together)


def test_types_and_shapes_follow_the_input():
    v = generate_velocity_models("curvefault-a", 2, seed=0)
    as_numpy = forward_model(v[0])
    assert isinstance(as_numpy, np.ndarray) and as_numpy.shape == (1, 5, 1000, 70)
    as_tensor = forward_model(torch.from_numpy(v)[:, None])  # OpenFWI's (B, 1, nz, nx)
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.shape == (2, 5, 1000, 70)
    np.testing.assert_array_equal(as_tensor[0].numpy(), as_numpy[0])


GOOD = np.full((70, 70), 2500.0, np.float32)


@pytest.mark.parametrize(
    "velocity, message",
    [
        (np.where(np.eye(70, dtype=bool), np.nan, GOOD), "NaN or Inf"),
        (np.where(np.eye(70, dtype=bool), np.inf, GOOD), "NaN or Inf"),
        (np.where(np.eye(70, dtype=bool), 0.0, GOOD), "drops to 0 m/s, below this geometry's 1200 m/s"),
        (-GOOD, "below this geometry's 1200 m/s"),
        (np.full((70, 70), 10.0), r"drops to 10 m/s, below .* shorter than 4 cells of 10 m at 30 Hz"),
        (np.ones((70, 70), dtype=bool), "velocity must hold real numbers, got dtype torch.bool"),
        (GOOD.astype(np.complex64), "velocity must hold real numbers, got dtype torch.complex64"),
        (torch.from_numpy(GOOD) + 1j, "velocity must hold real numbers, got dtype torch.complex64"),
        (np.full((70, 70), "2500"), "velocity must be an array of real numbers, got dtype <U4"),
        (GOOD[0], r"must have shape \(70, 70\), \(B, 70, 70\) or \(B, 1, 70, 70\) .* got \(70,\)"),
        (np.full((2, 64, 64), 2500.0), r"got \(2, 64, 64\)"),
        (np.full((0, 70, 70), 2500.0), "no maps"),
        (
            GOOD + 2500.0,
            r"reaches 5000.0 m/s, above this geometry's max_velocity 4500 m/s.*stable up to 6124 m/s",
        ),
    ],
)
def test_bad_velocities_are_refused(velocity, message):
    with pytest.raises(ValueError, match=message):
        forward_model(velocity)


def test_unknown_backend_and_bad_batch_size_are_refused():
    with pytest.raises(ValueError, match="Valid backends: deepwave, reference"):
        forward_model(GOOD, backend="devito")
    with pytest.raises(ValueError, match="`batch_size` must be >= 1"):
        forward_model(GOOD, batch_size=0)


def test_the_slowest_resolved_velocity_follows_the_grid_and_the_wavelet():
    assert OPENFWI.min_velocity == pytest.approx(1200.0)  # 4 cells of 10 m at 2 x 15 Hz
    assert AcquisitionGeometry(grid_spacing=5.0, dt=5e-4).min_velocity == pytest.approx(600.0)
    with pytest.raises(
        ValueError, match="max_velocity 1000 m/s is below the slowest velocity this grid resolves"
    ):
        AcquisitionGeometry(max_velocity=1000.0)


def test_faster_velocities_are_allowed_by_raising_max_velocity():
    fast = AcquisitionGeometry(max_velocity=6000.0, nt=200, source_x=[34])
    data = forward_model(np.full((70, 70), 5500.0, np.float32), fast)
    assert np.isfinite(data).all() and np.abs(data).max() > 1.0
    assert OPENFWI.config.max_velocity == 4500.0


def _small_survey():
    return AcquisitionGeometry(
        grid_shape=(24, 24), nt=300, source_x=[4, 19], receiver_x=list(range(0, 24, 3))
    )


def test_gradient_through_deepwave_matches_finite_differences():
    geometry = _small_survey()
    base = torch.full((24, 24), 2000.0, dtype=torch.float32)
    base[12:] = 2600.0
    weights = torch.randn((1, *geometry.data_shape), generator=torch.Generator().manual_seed(0)).double()
    direction = torch.zeros_like(base)
    direction[6:18, 6:18] = torch.hann_window(12, periodic=False)[:, None] * torch.hann_window(
        12, periodic=False
    )

    velocity = base.clone().requires_grad_(True)
    data = forward_model(velocity, geometry)
    assert isinstance(data, torch.Tensor) and data.requires_grad and data.shape == (1, *geometry.data_shape)
    (data.double() * weights).sum().backward()
    analytic = float((velocity.grad * direction).sum())

    step = 20.0  # m/s, central differences; 0.6 % apart here (float32 wavefields)
    with torch.no_grad():
        plus = float((forward_model(base + step * direction, geometry).double() * weights).sum())
        minus = float((forward_model(base - step * direction, geometry).double() * weights).sum())
    numeric = (plus - minus) / (2 * step)
    assert abs(analytic - numeric) <= 0.02 * abs(numeric)


def test_without_grad_nothing_is_recorded_and_numpy_stays_numpy():
    geometry = _small_survey()
    velocity = torch.full((24, 24), 2000.0, requires_grad=True)
    with torch.no_grad():
        assert not forward_model(velocity, geometry).requires_grad
    assert isinstance(forward_model(velocity.detach().numpy(), geometry), np.ndarray)
    with pytest.raises(ValueError, match="need backend='deepwave'"):
        forward_model(velocity, geometry, backend="reference")

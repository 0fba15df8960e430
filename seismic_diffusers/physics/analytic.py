"""Closed-form 2-D acoustic solutions, for validating the finite-difference backends."""

from __future__ import annotations

import math

import numpy as np

from .geometry import OPENFWI, AcquisitionGeometry


def homogeneous_trace(
    velocity: float, distance: float, geometry: AcquisitionGeometry = OPENFWI, oversample: int = 20
) -> np.ndarray:
    r"""
    Exact pressure at `distance` m from a source in an unbounded homogeneous medium, in the
    amplitude and timing convention of `forward_model` (OpenFWI's).

    The discrete source `p += (v dt)^2 w` on one cell is the continuous source
    `p_tt - v^2 lap p = v^2 dx^2 w(t) delta(x)`, so

        p(r, t) = v^2 dx^2 (G * w)(t),  G(r, t) = H(v t - r) / (2 pi v sqrt(v^2 t^2 - r^2)),

    the 2-D Green's function. The convolution integrates `G` exactly over sub-intervals of
    `dt / oversample` (its antiderivative is `arccosh(v t / r) / (2 pi v^2)`), against the Ricker
    evaluated at the sub-interval centres, so the `1/sqrt` singularity at the arrival is handled.
    Sample `i` of the output is time `(i + 1) dt`, because OpenFWI's scheme records the field after
    the step that injects `w[i]`.

    Args:
        velocity (`float`): Medium velocity, m/s.
        distance (`float`): Source-receiver distance, m (> 0).
        geometry (`AcquisitionGeometry`): Supplies dt, nt, grid spacing and the wavelet.
        oversample (`int`): Sub-intervals per sample for the convolution.

    Returns:
        `np.ndarray` of shape `(nt,)`, float64.
    """
    if distance <= 0:
        raise ValueError(f"`distance` must be > 0 m, got {distance}.")
    config = geometry.config
    dt, nt, dx, f = config.dt, int(config.nt), config.grid_spacing, config.peak_frequency
    fine = dt / oversample
    # Green's function integrated over [k fine, (k + 1) fine), k >= 0.
    edges = np.arange(nt * oversample + 1) * fine
    antiderivative = np.arccosh(np.maximum(velocity * edges / distance, 1.0)) / (2 * math.pi * velocity**2)
    green = np.diff(antiderivative)
    # Ricker at sub-interval centres, truncated like the discrete wavelet.
    centres = (np.arange(nt * oversample) + 0.5) * fine
    a2 = (math.pi * f * (centres - geometry.wavelet_peak * dt)) ** 2
    wavelet = (1 - 2 * a2) * np.exp(-a2) * (centres < geometry.wavelet_length * dt)
    # Bin k of `green` times the wavelet at centre j approximates the integral at t = (j + k + 1) fine.
    response = np.convolve(green, wavelet)
    # Output sample i is p((i + 1) dt): the wavelet sample w[i] (t = i dt) drives step i -> i + 1.
    index = np.arange(1, nt + 1) * oversample - 1
    return velocity**2 * dx**2 * response[index]

"""Figures people would rather look at than read: labelled velocity grids in physical units,
velocity maps beside their shot gathers, before/after seismogram panels with spectrograms
and phase picks, and generated records across magnitudes."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np


def _save_figure(
    fig,
    path: str | os.PathLike,
    title: str | None = None,
    title_size: int = 10,
    right: float = 1.0,
    colorbar=None,
    colorbar_box: tuple[float, float, float, float] = (0.92, 0.15, 0.02, 0.7),
    colorbar_label: str = "",
    dpi: int = 110,
) -> str:
    """Finish a figure: title, layout within `right` of the width, colour bar of `colorbar` (a
    mappable) in `colorbar_box` (figure fractions) to the right of it, save to `path`, close."""
    import matplotlib.pyplot as plt

    if title:
        fig.suptitle(title, fontsize=title_size)
    fig.tight_layout(rect=(0, 0, right, 1))
    if colorbar is not None:
        fig.colorbar(colorbar, cax=fig.add_axes(colorbar_box)).set_label(colorbar_label, fontsize=8)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return str(path)


def plot_velocity_grid(
    velocities: np.ndarray,
    path: str | os.PathLike,
    titles: Sequence[str] | None = None,
    grid_spacing: float = 10.0,
    v_min: float = 1500.0,
    v_max: float = 4500.0,
    ncols: int | None = None,
    cmap: str = "viridis",
    suptitle: str | None = None,
) -> str:
    """Save a grid of velocity maps with axes in metres and one shared colour bar in m/s.

    Args:
        velocities (`np.ndarray` of shape `(B, nz, nx)`): Velocity in m/s.
        path: Output image path (PNG recommended).
        titles (`Sequence[str]`, *optional*): One title per map.
        grid_spacing (`float`, *optional*, defaults to 10.0): Cell size in m.
        v_min, v_max (`float`): Colour range in m/s.
        ncols (`int`, *optional*): Columns; defaults to about sqrt(B).
        cmap (`str`): Matplotlib colour map.
        suptitle (`str`, *optional*): Figure title.

    Returns:
        `str`: the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    velocities = np.asarray(velocities)
    if velocities.ndim != 3:
        raise ValueError(f"`velocities` must have shape (B, nz, nx), got {velocities.shape}.")
    count, nz, nx = velocities.shape
    ncols = ncols or math.ceil(math.sqrt(count))
    nrows = math.ceil(count / ncols)
    extent = (0.0, nx * grid_spacing, nz * grid_spacing, 0.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols + 1.2, 2.3 * nrows + 0.4), squeeze=False)
    image = None
    for index, ax in enumerate(axes.flat):
        if index >= count:
            ax.axis("off")
            continue
        image = ax.imshow(velocities[index], cmap=cmap, vmin=v_min, vmax=v_max, extent=extent, aspect="equal")
        if titles is not None:
            ax.set_title(titles[index], fontsize=8)
        row, col = divmod(index, ncols)
        ax.tick_params(labelsize=6)
        if col == 0:
            ax.set_ylabel("depth (m)", fontsize=7)
        else:
            ax.set_yticklabels([])
        if row == nrows - 1 or index + ncols >= count:
            ax.set_xlabel("x (m)", fontsize=7)
        else:
            ax.set_xticklabels([])
    return _save_figure(fig, path, suptitle, right=0.9, colorbar=image, colorbar_label="velocity (m/s)")


PICK_STYLES = {"P": ("tab:red", "--"), "S": ("tab:blue", ":")}


def plot_seismogram_comparison(
    before,
    after,
    path: str | os.PathLike,
    picks_before: dict | None = None,
    picks_after: dict | None = None,
    title: str | None = None,
    labels: tuple[str, str] = ("input", "denoised"),
    units: str = "counts",
) -> str:
    """Save before/after waveforms and spectrograms of one station, with phase picks marked.

    One column per version (`labels`); per component, a waveform row above a spectrogram row.
    Each component's waveforms share one amplitude scale and its spectrograms one colour scale
    (dB relative to the input's peak power), so what the processing removed is visible.

    Args:
        before, after (`obspy.Stream`): The same traces (same ids, same order) before and after.
        path: Output image path (PNG recommended).
        picks_before, picks_after (`dict`, *optional*): Phase name (`"P"`, `"S"`) to pick time in
            seconds after the earliest start time in `before`; `None` values are skipped.
        title (`str`, *optional*): Figure title.
        labels (`tuple[str, str]`): Column titles.
        units (`str`): Amplitude units for the axis label.

    Returns:
        `str`: the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import spectrogram

    if len(before) == 0 or len(before) != len(after):
        raise ValueError(
            f"`before` and `after` must hold the same traces; got {len(before)} and {len(after)}."
        )
    reference = min(trace.stats.starttime for trace in before)
    count = len(before)
    fig, axes = plt.subplots(
        2 * count, 2, figsize=(11, 2.9 * count + 0.6), squeeze=False,
        gridspec_kw={"height_ratios": [1.0, 0.8] * count},
    )  # fmt: skip
    mesh = None
    for row, (original, processed) in enumerate(zip(before, after, strict=True)):
        rate = float(original.stats.sampling_rate)
        peak = float(np.max(np.abs(original.data))) or 1.0
        spectra = []
        for trace in (original, processed):
            segment = min(trace.stats.npts, max(16, int(round(rate))))  # 1 s windows
            freqs, times, power = spectrogram(
                np.asarray(trace.data, dtype=np.float64) - np.mean(trace.data),
                fs=rate, nperseg=segment, noverlap=segment * 3 // 4,
            )  # fmt: skip
            spectra.append((freqs, times + (trace.stats.starttime - reference), power))
        top = max(float(np.max(power)) for _, _, power in spectra) or 1.0
        for col, (trace, picks, label, (freqs, times, power)) in enumerate(
            zip((original, processed), (picks_before, picks_after), labels, spectra, strict=True)
        ):
            wave_ax, spec_ax = axes[2 * row, col], axes[2 * row + 1, col]
            seconds = trace.times(reftime=reference)
            wave_ax.plot(seconds, trace.data, color="0.15" if col == 0 else "tab:green", linewidth=0.5)
            wave_ax.set_ylim(-1.1 * peak, 1.1 * peak)
            wave_ax.set_xlim(seconds[0], seconds[-1])
            wave_ax.set_title(f"{trace.id}: {label}", fontsize=9)
            for phase, at in (picks or {}).items():
                if at is not None and phase in PICK_STYLES:
                    color, style = PICK_STYLES[phase]
                    for ax in (wave_ax, spec_ax):
                        ax.axvline(at, color=color, linestyle=style, linewidth=1.2)
                    wave_ax.text(at, 0.95 * peak, f" {phase}", color=color, fontsize=8, va="top")
            mesh = spec_ax.pcolormesh(
                times, freqs, 10 * np.log10(np.maximum(power, top * 1e-10) / top),
                vmin=-80, vmax=0, cmap="magma", shading="auto",
            )  # fmt: skip
            spec_ax.set_xlim(seconds[0], seconds[-1])
            wave_ax.tick_params(labelsize=7, labelbottom=False)
            spec_ax.tick_params(labelsize=7)
            if col == 0:
                wave_ax.set_ylabel(units, fontsize=8)
                spec_ax.set_ylabel("frequency (Hz)", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel(f"time (s) after {reference.strftime('%Y-%m-%d %H:%M:%S')} UTC", fontsize=8)
    return _save_figure(
        fig,
        path,
        title,
        right=0.91,
        colorbar=mesh,
        colorbar_box=(0.925, 0.15, 0.015, 0.7),
        colorbar_label="power (dB re. input peak)",
        dpi=100,
    )


def plot_joint_pairs(
    velocities: np.ndarray,
    seismic: np.ndarray,
    path: str | os.PathLike,
    titles: Sequence[str] | None = None,
    grid_spacing: float = 10.0,
    dt: float = 1e-3,
    source_x: Sequence[int] | None = None,
    v_min: float = 1500.0,
    v_max: float = 4500.0,
    suptitle: str | None = None,
    modelled: np.ndarray | None = None,
) -> str:
    """Save velocity maps next to their shot gathers: one row per pair, physical units throughout.

    Args:
        velocities (`np.ndarray` of shape `(B, nz, nx)`): m/s.
        seismic (`np.ndarray` of shape `(B, shots, nt, receivers)`): OpenFWI amplitude; each gather
            is shown with a symmetric grey scale clipped at the pair's 99th percentile.
        path: Output image path (PNG recommended).
        titles (`Sequence[str]`, *optional*): One title per pair (e.g. its PDE deviation).
        grid_spacing (`float`): Cell and receiver spacing, m. dt (`float`): Sample interval, s.
        source_x (`Sequence[int]`, *optional*): Source grid columns, for the gather titles.
        v_min, v_max (`float`): Colour range of the maps, m/s.
        suptitle (`str`, *optional*): Figure title.
        modelled (`np.ndarray`, same shape as `seismic`, *optional*): The gathers forward-modelled
            from each velocity; shown in a second row per pair, on the same grey scale.

    Returns:
        `str`: the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    velocities, seismic = np.asarray(velocities), np.asarray(seismic)
    if velocities.ndim != 3 or seismic.ndim != 4 or len(velocities) != len(seismic):
        raise ValueError(
            f"need velocities (B, nz, nx) and seismic (B, shots, nt, receivers) with the same B; "
            f"got {velocities.shape} and {seismic.shape}."
        )
    if modelled is not None and np.shape(modelled) != seismic.shape:
        raise ValueError(
            f"modelled must have the shape of seismic {seismic.shape}; got {np.shape(modelled)}."
        )
    count, shots, nt, receivers = seismic.shape
    nz, nx = velocities.shape[1:]
    rows_per_pair = 1 if modelled is None else 2
    fig, axes = plt.subplots(
        count * rows_per_pair, shots + 1, figsize=(2.0 * (shots + 1) + 1.0, 2.4 * count * rows_per_pair + 0.5),
        squeeze=False, gridspec_kw={"width_ratios": [1.4] + [1.0] * shots},
    )  # fmt: skip
    image = None
    for pair in range(count):
        row = pair * rows_per_pair
        ax = axes[row, 0]
        image = ax.imshow(
            velocities[pair], cmap="viridis", vmin=v_min, vmax=v_max,
            extent=(0, nx * grid_spacing, nz * grid_spacing, 0), aspect="equal",
        )  # fmt: skip
        ax.set_ylabel("depth (m)", fontsize=7)
        ax.set_title(titles[pair] if titles is not None else f"pair {pair + 1}", fontsize=8)
        clip = float(np.percentile(np.abs(seismic[pair]), 99)) or 1.0
        versions = [("", seismic[pair])] + (
            [] if modelled is None else [("forward-modelled ", np.asarray(modelled[pair]))]
        )
        for offset, (label, gathers) in enumerate(versions):
            if offset:
                axes[row + offset, 0].axis("off")
                axes[row + offset, 0].text(
                    0.5, 0.5, "deepwave's gathers for\nthe map above, to the right", ha="center", va="center", fontsize=8,
                    transform=axes[row + offset, 0].transAxes,
                )  # fmt: skip
            for shot in range(shots):
                gather = axes[row + offset, shot + 1]
                gather.imshow(
                    gathers[shot], cmap="gray", vmin=-clip, vmax=clip, aspect="auto",
                    extent=(0, receivers * grid_spacing, nt * dt, 0),
                )  # fmt: skip
                where = f" at x={source_x[shot] * grid_spacing:g} m" if source_x is not None else ""
                gather.set_title(f"{label}shot {shot + 1}{where}", fontsize=7)
                if shot:
                    gather.set_yticks([])
                else:
                    gather.set_ylabel("time (s)", fontsize=7)
                gather.tick_params(labelsize=6)
        ax.tick_params(labelsize=6)
    for col, ax in enumerate(axes[-1]):
        ax.set_xlabel("x (m)" if col == 0 else "receiver x (m)", fontsize=7)
    return _save_figure(
        fig,
        path,
        suptitle,
        right=0.93,
        colorbar=image,
        colorbar_box=(0.94, 0.2, 0.012, 0.6),
        colorbar_label="velocity (m/s)",
        dpi=100,
    )


def plot_records_by_magnitude(
    rows: dict[str, np.ndarray],
    magnitudes: Sequence[float],
    path: str | os.PathLike,
    sampling_rate: float = 100.0,
    component: int = 2,
    title: str | None = None,
    units: str = "m/s",
) -> str:
    """Save a grid of one component of records: one row per source, one column per magnitude.

    Every panel has its own amplitude axis, labelled with the record's peak, so both the shape
    (onsets, coda, frequency content) and the amplitude growth with magnitude can be read off.

    Args:
        rows (`dict[str, np.ndarray]`): Row title -> `(len(magnitudes), 3, N)` records (E, N, Z),
            one per magnitude, e.g. `{"simulator": ..., "CVAE prior": ...}`.
        magnitudes (`Sequence[float]`): The magnitude of each column.
        path: Output image path (PNG recommended).
        sampling_rate (`float`): Hz. component (`int`): 0, 1, 2 for E, N, Z.
        title (`str`, *optional*): Figure title. units (`str`): Amplitude units.

    Returns:
        `str`: the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = len(magnitudes)
    for name, records in rows.items():
        if np.ndim(records) != 3 or len(records) != columns:
            raise ValueError(f"Row {name!r} must be ({columns}, 3, N); got {np.shape(records)}.")
    fig, axes = plt.subplots(
        len(rows), columns, figsize=(2.1 * columns, 1.5 * len(rows) + 0.7), squeeze=False, sharex=True
    )
    colors = ("0.15", "tab:blue", "tab:green", "tab:red", "tab:purple")
    for r, (name, records) in enumerate(rows.items()):
        for c, (magnitude, record) in enumerate(zip(magnitudes, records, strict=True)):
            ax = axes[r, c]
            trace = np.asarray(record[component], dtype=np.float64)
            seconds = np.arange(trace.size) / sampling_rate
            ax.plot(seconds, trace, color=colors[r % len(colors)], linewidth=0.4)
            peak = float(np.max(np.abs(record))) or 1.0
            ax.set_ylim(-1.1 * peak, 1.1 * peak)
            ax.set_yticks([])
            ax.text(0.02, 0.95, f"peak {peak:.1e} {units}", transform=ax.transAxes, fontsize=6, va="top")
            ax.tick_params(labelsize=6)
            if r == 0:
                ax.set_title(f"M {magnitude:g}", fontsize=8)
            if c == 0:
                ax.set_ylabel(name, fontsize=7)
            if r == len(rows) - 1:
                ax.set_xlabel("time (s)", fontsize=7)
    return _save_figure(fig, path, title, title_size=9)


def plot_inversion(
    velocities: np.ndarray,
    std: np.ndarray,
    observed: np.ndarray,
    predicted: np.ndarray,
    path: str | os.PathLike,
    truth: np.ndarray | None = None,
    titles: Sequence[str] | None = None,
    shot: int | None = None,
    grid_spacing: float = 10.0,
    dt: float = 1e-3,
    v_min: float = 1500.0,
    v_max: float = 4500.0,
    suptitle: str | None = None,
) -> str:
    """Save an inversion's result: one row per gather, maps in m/s and one shot's gathers.

    Columns: the true map (when given), the posterior mean, its standard deviation, then the
    observed gather, the gather forward-modelled from the mean, and their difference, all three on
    the observed gather's grey scale (clipped at its 99th percentile).

    Args:
        velocities, std (`np.ndarray` of shape `(B, nz, nx)`): Posterior mean and std, m/s.
        observed, predicted (`np.ndarray` of shape `(B, shots, nt, receivers)`): Gathers.
        path: Output image path (PNG recommended).
        truth (`np.ndarray` of shape `(B, nz, nx)`, *optional*): The true maps, m/s.
        titles (`Sequence[str]`, *optional*): One title per gather (shown over the mean).
        shot (`int`, *optional*): Which shot to show; default the middle one.
        grid_spacing (`float`): Cell and receiver spacing, m. dt (`float`): Sample interval, s.
        v_min, v_max (`float`): Colour range of the maps, m/s.
        suptitle (`str`, *optional*): Figure title.

    Returns:
        `str`: the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    velocities, std = np.asarray(velocities), np.asarray(std)
    observed, predicted = np.asarray(observed), np.asarray(predicted)
    if velocities.ndim != 3 or std.shape != velocities.shape:
        raise ValueError(
            f"velocities and std must both be (B, nz, nx); got {velocities.shape} and {std.shape}."
        )
    if observed.ndim != 4 or predicted.shape != observed.shape or len(observed) != len(velocities):
        raise ValueError(
            f"observed and predicted must be (B, shots, nt, receivers) with the maps' B; got {observed.shape} "
            f"and {predicted.shape} for {len(velocities)} maps."
        )
    if truth is not None and np.shape(truth) != velocities.shape:
        raise ValueError(f"truth must have the maps' shape {velocities.shape}; got {np.shape(truth)}.")
    count, shots, nt, receivers = observed.shape
    shot = shots // 2 if shot is None else shot
    nz, nx = velocities.shape[1:]
    map_extent = (0, nx * grid_spacing, nz * grid_spacing, 0)
    gather_extent = (0, receivers * grid_spacing, nt * dt, 0)
    panels = (["true"] if truth is not None else []) + ["mean", "std", "observed", "predicted", "residual"]
    fig, axes = plt.subplots(
        count, len(panels), figsize=(2.1 * len(panels) + 0.8, 2.3 * count + 0.5), squeeze=False
    )
    std_top = float(np.percentile(std, 99)) or 1.0
    image = std_image = None
    for row in range(count):
        clip = float(np.percentile(np.abs(observed[row, shot]), 99)) or 1.0
        content = {
            "true": None if truth is None else np.asarray(truth)[row],
            "mean": velocities[row],
            "std": std[row],
            "observed": observed[row, shot],
            "predicted": predicted[row, shot],
            "residual": observed[row, shot] - predicted[row, shot],
        }
        for col, name in enumerate(panels):
            ax = axes[row, col]
            if name in ("true", "mean"):
                image = ax.imshow(content[name], cmap="viridis", vmin=v_min, vmax=v_max, extent=map_extent)
            elif name == "std":
                std_image = ax.imshow(content[name], cmap="magma", vmin=0, vmax=std_top, extent=map_extent)
            else:
                ax.imshow(
                    content[name], cmap="gray", vmin=-clip, vmax=clip, aspect="auto", extent=gather_extent
                )
            title = name if name != "mean" or titles is None else f"mean: {titles[row]}"
            if name in ("observed", "predicted", "residual"):
                title = f"{name}, shot {shot + 1}"
            ax.set_title(title, fontsize=7)
            ax.tick_params(labelsize=6)
        axes[row, 0].set_ylabel("depth (m)", fontsize=7)
    for col, name in enumerate(panels):
        axes[-1, col].set_xlabel(
            "receiver x (m)" if name in ("observed", "predicted", "residual") else "x (m)", fontsize=7
        )
    if std_image is not None:
        fig.colorbar(std_image, ax=axes[:, panels.index("std")].tolist(), shrink=0.8).set_label(
            "std (m/s)", fontsize=7
        )
    return _save_figure(
        fig, path, suptitle, right=0.93, colorbar=image, colorbar_box=(0.94, 0.2, 0.012, 0.6),
        colorbar_label="velocity (m/s)", dpi=100,
    )  # fmt: skip

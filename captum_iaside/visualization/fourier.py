r"""Importance painted on the centred Fourier plane: ψ per band, or any Captum attribution of the spectrum."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from captum.attr import visualization as captum_viz
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure
from torch import Tensor

from captum_iaside.game.grid import FourierGrid
from captum_iaside.game.partition import FourierPartition
from captum_iaside.results.importance import SpectralImportance


def plot_fourier_importance(
    result: SpectralImportance | Tensor,
    size: int = 64,
    bands: FourierPartition | None = None,
    title: str | None = None,
) -> tuple[Figure, np.ndarray]:
    r"""
    Importances of the players painted on the centred Fourier plane, with frequency axes in
    cycles/pixel and the players' boundaries drawn (drawn by
    :func:`captum.attr.visualization.visualize_image_attr`): rings for radial bands, rings and
    sectors for :class:`~captum_iaside.OrientedBands`, and for a :class:`~captum_iaside.FourierGrid`
    a *Shapley Fourier map* (read it beside a Fourier heat map,
    :func:`~captum_iaside.visualization.heat_map.plot_fourier_heat_map`).

    Args:
        result (SpectralImportance or Tensor): A global result, or ``(M,)`` per-band values
                    (e.g. one row of :meth:`IASIDE.attribute`).
        size (int, optional): Side of the plane drawn, in DFT bins.
                    Default: 64
        bands (FourierPartition, optional): The players, needed when ``result`` is a tensor.
                    Default: the result's configuration
        title (str, optional): Axis title.
                    Default: a description of the values

    Returns:
        ``(fig, axes)`` with a single axis.
    """
    colorbar_label = "band attribution"
    if isinstance(result, SpectralImportance):
        values, bands = result.values, bands or result.players
        kind = "Shapley Fourier map" if isinstance(bands, FourierGrid) else "ψ on the Fourier plane"
        title = title or f"{kind} ({result.config.get('model', 'model')})"
        colorbar_label = f"ψ ({result.config.get('value', 'value')})"
    else:
        values = torch.as_tensor(result, dtype=torch.float64).flatten()
        if bands is None:
            raise ValueError("bands is required when result is a tensor of band values")
        title = title or "band attributions on the Fourier plane"
    if values.numel() != bands.n_bands:
        raise ValueError(f"{values.numel()} values for {bands.n_bands} bands")
    h, w = bands.size or (size, size)  # players defined for one size are drawn at it
    index = torch.fft.fftshift(bands.index(h, w))
    return draw_fourier_plane(values.to(torch.float64)[index].numpy(), index.numpy(), title, colorbar_label)


def plot_fourier_attribution(
    attributions: Tensor,
    bands: FourierPartition | None = None,
    title: str = "attribution on the Fourier plane",
) -> tuple[Figure, np.ndarray]:
    r"""
    Per-bin attributions of the Fourier-plane door (:class:`~captum_iaside.attr.fourier_model.FourierModel`)
    as a heat map with frequency axes, averaged over channels and real/imaginary parts.

    Args:
        attributions (Tensor): ``(C, H, W, 2)`` or ``(1, C, H, W, 2)`` attributions of one image
                    on the centred spectrum, or an ``(H, W)`` centred map.
        bands (FourierPartition, optional): Players whose boundaries to draw.
                    Default: None
        title (str, optional): Axis title.
                    Default: ``"attribution on the Fourier plane"``

    Returns:
        ``(fig, axes)`` with a single axis.
    """
    attr = torch.as_tensor(attributions).detach().to("cpu", torch.float64)
    if attr.dim() == 5 and attr.shape[0] == 1:
        attr = attr[0]
    if attr.dim() == 4 and attr.shape[-1] == 2:
        attr = attr.mean(dim=(0, 3))
    if attr.dim() != 2:
        raise ValueError(
            f"attributions must be (C, H, W, 2), (1, C, H, W, 2) or (H, W), got {tuple(attributions.shape)}"
        )
    index = None if bands is None else torch.fft.fftshift(bands.index(*attr.shape)).numpy()
    return draw_fourier_plane(attr.numpy(), index, title, "attribution")


def draw_fourier_plane(
    plane: np.ndarray, band_index: np.ndarray | None, title: str, colorbar_label: str
) -> tuple[Figure, np.ndarray]:
    h, w = plane.shape
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    # Captum draws the map scaled by max |value|; the colour bar gives real units. (outlier_perc=0
    # can select no threshold at all in Captum through rounding, a tiny positive one cannot.)
    cmap = LinearSegmentedColormap.from_list("RdWhGn", ["red", "white", "green"])
    finite = np.isfinite(plane)
    if finite.any() and float(np.abs(plane[finite]).max()) > 0:
        captum_viz.visualize_image_attr(
            np.where(finite, plane, 0.0)[..., None],
            method="heat_map",
            sign="all",
            outlier_perc=1e-6,
            show_colorbar=False,
            plt_fig_axis=(fig, ax),
            use_pyplot=False,
            title=title,
        )
    else:  # Captum cannot scale an all-zero map: draw it plainly, and say so
        ax.imshow(np.zeros_like(plane), cmap=cmap, vmin=-1.0, vmax=1.0)
        ax.set_title(f"{title}\n(zero everywhere)" if finite.all() else f"{title}\n(not finite)")
    scale = max(float(np.abs(plane[finite]).max()) if finite.any() else 0.0, 1e-12)
    fig.colorbar(ScalarMappable(Normalize(-scale, scale), cmap), ax=ax, label=colorbar_label)
    if band_index is not None:
        draw_boundaries(ax, band_index)
    frequency_axes(ax, h, w)
    fig.tight_layout()
    return fig, np.array([ax])


def draw_boundaries(ax: plt.Axes, ids: np.ndarray, color: str = "black") -> None:
    r"""Draw the pixel edges between bins of different players of a centred ``(H, W)`` id map."""
    segments = []
    rows, cols = np.nonzero(ids[1:, :] != ids[:-1, :])  # between row r and r + 1
    segments += [[(c - 0.5, r + 0.5), (c + 0.5, r + 0.5)] for r, c in zip(rows, cols, strict=True)]
    rows, cols = np.nonzero(ids[:, 1:] != ids[:, :-1])
    segments += [[(c + 0.5, r - 0.5), (c + 0.5, r + 0.5)] for r, c in zip(rows, cols, strict=True)]
    ax.add_collection(LineCollection(segments, colors=color, linewidths=0.6))


def frequency_axes(ax: plt.Axes, h: int, w: int) -> None:
    r"""Ticks in cycles/pixel on a centred ``H × W`` plane (fftshift puts frequency f at index ``f·n + n // 2``)."""
    freqs = np.array([-0.5, -0.25, 0.0, 0.25])
    labels = [f"{f:g}" for f in freqs]
    ax.set_xticks(freqs * w + w // 2, labels)
    ax.set_yticks(freqs * h + h // 2, labels)
    ax.tick_params(left=True, bottom=True, labelleft=True, labelbottom=True)
    ax.set_xlabel("horizontal frequency (cycles/pixel)")
    ax.set_ylabel("vertical frequency (cycles/pixel)")

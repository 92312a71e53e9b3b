r"""A Fourier heat map beside the Shapley Fourier map of the same model."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from captum_iaside.results.importance import SpectralImportance
from captum_iaside.visualization.fourier import draw_boundaries, frequency_axes


def plot_fourier_heat_map(
    heat_map: Tensor, result: SpectralImportance | None = None, title: str | None = None
) -> tuple[Figure, np.ndarray]:
    r"""
    A Fourier heat map (:func:`~captum_iaside.robustness.fourier_heat_map.fourier_heat_map`: the error
    rate under a single Fourier-basis perturbation at each frequency), and beside it, given a
    ``result``, ψ of its players painted on the same plane — for a :class:`~captum_iaside.FourierGrid`
    run, the Shapley Fourier map. The two read different things: where the model breaks when
    energy is added, and where its prediction comes from.

    Args:
        heat_map (Tensor): ``(H, W)`` centred error rates.
        result (SpectralImportance, optional): A global result of the same model.
                    Default: None (the heat map alone)
        title (str, optional): Figure title.
                    Default: None

    Returns:
        ``(fig, axes)``: one axis, or two with ``result``.

    Examples::

        >>> heat = fourier_heat_map(model, images, target=labels)
        >>> fig, axes = plot_fourier_heat_map(heat, IASIDE(model, bands=FourierGrid(8)).attribute_global(loader))
    """
    heat = torch.as_tensor(heat_map).detach().to("cpu", torch.float64)
    if heat.dim() != 2:
        raise ValueError(f"heat_map must be an (H, W) map, got shape {tuple(heat.shape)}")
    h, w = heat.shape
    panels = 1 if result is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.4 * panels, 4.6), squeeze=False)
    axes = axes[0]
    ax = axes[0]
    image = ax.imshow(heat.numpy(), cmap="viridis", vmin=0.0, vmax=float(heat.max()) or 1.0)
    fig.colorbar(image, ax=ax, label="error rate")
    ax.set_title("Fourier heat map: error under a Fourier-basis perturbation", fontsize=9)
    frequency_axes(ax, h, w)
    if result is not None:
        bands = result.players
        ids = torch.fft.fftshift(bands.index(h, w))
        plane = result.values.to(torch.float64)[ids].numpy()
        scale = max(float(np.abs(plane).max()), 1e-12)
        right = axes[1].imshow(plane, cmap="RdYlGn", vmin=-scale, vmax=scale)
        fig.colorbar(right, ax=axes[1], label=f"ψ ({result.config.get('value', 'value')})")
        draw_boundaries(axes[1], ids.numpy())
        axes[1].set_title(f"Shapley Fourier map: ψ of each cell ({result.config.get('model', 'model')})", fontsize=9)
        frequency_axes(axes[1], h, w)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig, np.asarray(axes)

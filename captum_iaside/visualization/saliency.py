r"""Space × frequency: one spatial attribution map per band."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from captum.attr import visualization as captum_viz
from matplotlib.figure import Figure
from torch import Tensor

from captum_iaside.game.partition import FourierPartition
from captum_iaside.visualization.common import to_hwc


def plot_band_saliency(
    image: Tensor,
    band_maps: Tensor | np.ndarray,
    bands: FourierPartition,
    phi: Tensor | Sequence[float] | None = None,
    sign: str = "absolute_value",
) -> tuple[Figure, np.ndarray]:
    r"""
    Space × frequency for one image: each band component above its saliency map (e.g. integrated
    gradients on :class:`~captum_iaside.attr.band_stack.BandStackModel`), the band's Shapley value in
    the title. Maps are drawn by :func:`captum.attr.visualization.visualize_image_attr`.

    Args:
        image (Tensor): ``(C, H, W)`` or ``(1, C, H, W)`` in the model's input space.
        band_maps (Tensor or ndarray): ``(M, C, H, W)`` tensor (or ``(1, M, C, H, W)``), or a
                    sequence of ``M`` HWC arrays.
        bands (FourierPartition): The bands (or other players).
        phi (Tensor or sequence of float, optional): ``(M,)`` Shapley values for the titles.
                    Default: None
        sign (str, optional): Captum's ``sign`` for the maps (``"absolute_value"``, ``"all"``,
                    ``"positive"``, ``"negative"``).
                    Default: ``"absolute_value"``

    Returns:
        ``(fig, axes)`` with axes of shape ``(2, M)``.
    """
    m = bands.n_bands
    if isinstance(band_maps, Tensor) and band_maps.dim() == 5 and band_maps.shape[0] == 1:
        band_maps = band_maps[0]
    if len(band_maps) != m:
        raise ValueError(f"band_maps must hold one map per band ({m}), got {len(band_maps)}")
    maps = [to_hwc(band_maps[i], f"band_maps[{i}]") for i in range(m)]
    if isinstance(image, Tensor) and image.dim() == 3:
        image = image[None]
    parts = bands.decompose(image)[0]
    values = None if phi is None else torch.as_tensor(phi, dtype=torch.float64).flatten().tolist()
    fig, axes = plt.subplots(2, m, figsize=(2.1 * m, 4.6), squeeze=False)
    for i in range(m):
        part = to_hwc(parts[i])
        shown = 0.5 + part / (2 * max(np.abs(part).max(), 1e-12))
        axes[0, i].imshow(shown.squeeze(-1) if shown.shape[-1] == 1 else shown, cmap="gray", vmin=0, vmax=1)
        head = f"band {i}" if values is None else f"band {i}: φ = {values[i]:+.3f}"
        axes[0, i].set_title(head, fontsize=8)
        captum_viz.visualize_image_attr(
            maps[i],
            method="heat_map",
            sign=sign,
            show_colorbar=False,
            plt_fig_axis=(fig, axes[1, i]),
            use_pyplot=False,
            title="saliency",
        )
        axes[1, i].title.set_fontsize(8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig, axes

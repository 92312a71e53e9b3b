r"""An image and its band components."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from captum_iaside.game.partition import FourierPartition

#: panels per row of :func:`plot_band_decomposition` when ``ncols`` is not given
_DECOMPOSITION_COLUMNS = 5


def plot_band_decomposition(
    image: Tensor,
    bands: FourierPartition,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
) -> tuple[Figure, np.ndarray]:
    r"""
    An image and its band components in a grid, read row by row (each component contrast-stretched
    around zero, so that a zero-mean band-pass image shows as mid-grey with its structure).

    Args:
        image (Tensor): ``(C, H, W)`` or ``(1, C, H, W)`` in the model's input space.
        bands (FourierPartition): The bands (or other players).
        titles (sequence of str, optional): One title per band.
                    Default: band index and radius range
        ncols (int, optional): Panels per row; the ``M + 1`` panels wrap onto
                    ``ceil((M + 1) / ncols)`` rows. ``ncols=M + 1`` draws them all in one row.
                    Default: at most 5 panels per row

    Returns:
        ``(fig, axes)``: ``axes`` is a flat array of the ``M + 1`` axes drawn, the image first, then
        band ``0`` to ``M - 1``; the grid's unused cells are removed from the figure.

    Examples::

        >>> fig, axes = plot_band_decomposition(images[0], SpectralBands(8))  # 9 panels: 2 rows of 5
        >>> axes[1].get_title()
        'band 0: 0.00–0.12'
        >>> fig, axes = plot_band_decomposition(images[0], SpectralBands(8), ncols=3)  # 3 rows of 3
    """
    if isinstance(image, Tensor) and image.dim() == 3:
        image = image[None]
    parts = bands.decompose(image)[0]  # (M, C, H, W), checks the input
    m = bands.n_bands
    titles = list(titles) if titles is not None else [f"band {i}: {label}" for i, label in enumerate(bands.labels())]
    if len(titles) < m:
        raise ValueError(f"titles must hold one title per band ({m}), got {len(titles)}")
    n_panels = m + 1
    if ncols is None:
        ncols = _DECOMPOSITION_COLUMNS
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    ncols = min(int(ncols), n_panels)
    nrows = -(-n_panels // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(2.0 * ncols, 2.4 * nrows), squeeze=False)
    for ax in grid.flat[n_panels:]:
        ax.remove()  # the last row's unused cells
    axes = grid.ravel()[:n_panels]
    img = image[0].permute(1, 2, 0).to(torch.float64).numpy()
    img = (img - img.min()) / max(np.ptp(img), 1e-12)
    axes[0].imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray")
    axes[0].set_title("image", fontsize=9)
    for i in range(m):
        part = parts[i].permute(1, 2, 0).to(torch.float64).numpy()
        shown = 0.5 + part / (2 * max(np.abs(part).max(), 1e-12))
        axes[i + 1].imshow(shown.squeeze(-1) if shown.shape[-1] == 1 else shown, cmap="gray", vmin=0, vmax=1)
        axes[i + 1].set_title(titles[i], fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig, axes

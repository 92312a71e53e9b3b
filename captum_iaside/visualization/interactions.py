r"""A matrix of band interactions as a heat map, with the pairs that stand out from the noise marked."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from captum_iaside.results.importance import SpectralImportance


def plot_interactions(
    result: SpectralImportance | Tensor,
    stderr: Tensor | None = None,
    labels: list[str] | None = None,
    z: float = 1.96,
    title: str | None = None,
) -> tuple[Figure, np.ndarray]:
    r"""
    The pairwise interaction matrix of the players as a diverging heat map. Off the diagonal each
    pair's index; the diagonal (the index's order-1 terms, of another scale) is drawn grey, not to
    scale. With standard errors, a pair whose ``|index| > z · stderr`` is marked ``*`` — a normal
    threshold for each pair on its own: with few images (a t quantile is wider below about 30) or
    many pairs (about 5 % of pairs without any interaction pass it), read the marks as a guide.

    Args:
        result (SpectralImportance or Tensor): A global result with ``interactions``
                    (``attribute_global(..., interactions=True)``), or an ``(M, M)`` matrix (one
                    image of :meth:`IASIDE.attribute_interactions <captum_iaside.IASIDE.attribute_interactions>`).
        stderr (Tensor, optional): ``(M, M)`` standard errors for a matrix.
                    Default: the result's ``interactions_stderr``
        labels (list of str, optional): A label per player.
                    Default: the result's player labels, else ``0 .. M − 1``
        z (float, optional): The multiple of the standard error that marks a pair.
                    Default: 1.96
        title (str, optional): Axis title.
                    Default: the index and the model

    Returns:
        ``(fig, axes)`` with a single axis.

    Examples::

        >>> res = IASIDE(model, bands=6).attribute_global(loader, interactions=True)
        >>> fig, axes = plot_interactions(res)
    """
    index_name = "interaction"
    if isinstance(result, SpectralImportance):
        if result.interactions is None:
            raise ValueError("result holds no interactions: run attribute_global(..., interactions=True)")
        matrix = result.interactions
        stderr = result.interactions_stderr if stderr is None else stderr
        labels = labels or [f"{i}: {s}" for i, s in enumerate(result.players.labels())]
        index_name = str(result.config.get("interactions", "SII"))
        kind = "band" if result.players.kind == "radial" else "player"
        default = f"{index_name} of {kind} pairs — {result.config.get('model', 'model')}"
        title = title or (
            default + (f"\n* |value| > {z:g} stderr; diagonal (order 1) grey" if stderr is not None else "")
        )
    else:
        matrix = torch.as_tensor(result)
    matrix = matrix.detach().to("cpu", torch.float64)
    if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"result must be an (M, M) matrix, got shape {tuple(matrix.shape)}")
    m = matrix.shape[0]
    labels = labels or [str(i) for i in range(m)]
    if len(labels) != m:
        raise ValueError(f"labels must hold {m} labels, got {len(labels)}")
    se = None if stderr is None else torch.as_tensor(stderr).detach().to("cpu", torch.float64).numpy()
    if se is not None and se.shape != (m, m):
        raise ValueError(f"stderr must be an ({m}, {m}) matrix like the interactions, got shape {tuple(se.shape)}")
    shown = matrix.clone().numpy()
    np.fill_diagonal(shown, np.nan)
    scale = max(float(np.nanmax(np.abs(shown))) if m > 1 else 0.0, 1e-12)
    fig, ax = plt.subplots(figsize=(1.6 + 0.42 * m, 1.2 + 0.38 * m))
    cmap = plt.get_cmap("RdBu_r").copy()
    cmap.set_bad("lightgrey")
    image = ax.imshow(shown, cmap=cmap, vmin=-scale, vmax=scale)
    fig.colorbar(image, ax=ax, label=index_name)
    if se is not None:
        marked = (np.abs(matrix.numpy()) > z * se) & ~np.eye(m, dtype=bool)
        for i, j in zip(*np.nonzero(marked), strict=True):
            ax.text(j, i, "*", ha="center", va="center", fontsize=10, color="black")
    ax.set_xticks(np.arange(m), labels, rotation=90, fontsize=7)
    ax.set_yticks(np.arange(m), labels, fontsize=7)
    marks = f"\n* |value| > {z:g} stderr; diagonal (order 1) grey" if stderr is not None else ""
    ax.set_title(title or f"{index_name} of pairs{marks}", fontsize=9)
    fig.tight_layout()
    return fig, np.array([ax])

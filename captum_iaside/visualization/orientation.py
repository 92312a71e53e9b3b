r"""ψ of rings × orientation sectors as a polar chart."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure

from captum_iaside.game.orientations import OrientedBands
from captum_iaside.results.importance import SpectralImportance


def plot_polar_importance(result: SpectralImportance, title: str | None = None) -> tuple[Figure, np.ndarray]:
    r"""
    ψ of an :class:`~captum_iaside.OrientedBands` run as a polar chart: one wedge per ring and
    orientation sector (and its mirror, the conjugate half of the plane), at the sector's angle of
    the frequency vector and the ring's radius, coloured by ψ; a wedge whose bootstrap interval
    holds 0 is hatched. Angles run clockwise, as ``+ky`` points down the centred-plane pictures
    (:func:`~captum_iaside.visualization.fourier.plot_fourier_importance`), so the two read alike.
    Beside it, ψ per orientation summed over the rings, with the rings' standard errors added in
    quadrature (an approximation: it leaves out the covariance of the sectors' estimates on the
    same images; for a paired standard error, attribute with ``OrientedBands(1, A)`` per image).

    Args:
        result (SpectralImportance): A global result with oriented players.
        title (str, optional): Figure title.
                    Default: the model's name

    Returns:
        ``(fig, axes)``: the polar axis and the per-orientation bars.

    Examples::

        >>> res = IASIDE(model, bands=OrientedBands(4, 4)).attribute_global(loader)
        >>> fig, axes = plot_polar_importance(res)
    """
    bands = result.players
    if not isinstance(bands, OrientedBands):
        raise ValueError(f"result must come from OrientedBands players, got {bands!r}")
    r_n, a_n = bands.n_rings, bands.orientations
    psi = result.values.to(torch.float64).reshape(r_n, a_n).numpy()
    radii = np.asarray(bands.ring_edges(), dtype=np.float64)
    radii[-1] = max(radii[-1], 1.0)
    fig = plt.figure(figsize=(10.0, 4.6))
    ax = fig.add_subplot(1, 2, 1, projection="polar")
    scale = max(float(np.abs(psi).max()), 1e-12)
    cmap = LinearSegmentedColormap.from_list("RdWhGn", ["red", "white", "green"])
    norm = Normalize(-scale, scale)
    significant = result.significant
    width = np.pi / a_n
    for r in range(r_n):
        for a in range(a_n):
            uncertain = significant is not None and not bool(significant[r * a_n + a])
            for half in (0.0, np.pi):
                ax.bar(
                    half + a * width,
                    radii[r + 1] - radii[r],
                    width=width,
                    bottom=radii[r],
                    color=cmap(norm(psi[r, a])),
                    edgecolor="black",
                    linewidth=0.5,
                    hatch="//" if uncertain else None,
                )
    ax.set_theta_direction(-1)  # clockwise: +ky points down, as on the centred planes
    ax.set_ylim(0, radii[-1])
    ax.set_yticks(radii[1:-1] if len(radii) > 2 else [])
    ax.set_yticklabels([f"{e:.2f}" for e in radii[1:-1]] if len(radii) > 2 else [])
    ax.set_rlabel_position(0.0)  # the radii on sector 0's centre line, not on a boundary
    ax.set_title("ψ by ring and orientation of the frequency vector", fontsize=9)
    fig.text(
        0.01,
        0.01,
        f"radius: normalised, 1 = Nyquist ({bands.shape} rings drawn as circles); hatched: the interval of ψ holds 0",
        fontsize=7,
    )
    fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label=f"ψ ({result.config.get('value', 'value')})", pad=0.1)
    bar_ax = fig.add_subplot(1, 2, 2)
    per_sector = psi.sum(axis=0)
    err = np.sqrt((result.stderr.to(torch.float64).reshape(r_n, a_n).numpy() ** 2).sum(axis=0))
    centres = bands.sector_centres()
    bar_ax.bar(np.arange(a_n), per_sector, yerr=err, color="tab:blue", capsize=3)
    bar_ax.axhline(0.0, color="black", linewidth=0.6)
    bar_ax.set_xticks(np.arange(a_n), [f"{c:g}° ± {90 / a_n:g}°" for c in centres])
    bar_ax.set_xlabel("orientation (0° = horizontal frequencies, 90° = vertical)")
    bar_ax.set_ylabel("ψ summed over the rings")
    bar_ax.set_title("ψ per orientation (± stderr)", fontsize=9)
    fig.suptitle(title or f"Orientation-resolved ψ — {result.config.get('model', 'model')}")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig, np.array([ax, bar_ax])

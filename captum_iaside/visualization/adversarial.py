r"""Where an adversarial perturbation puts its energy, beside where the model draws its predictive power."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from captum_iaside.visualization.common import band_ticks


def plot_adversarial_spectra(
    results: Mapping[str, Any], spectra: Mapping[str, Any], columns: int = 2
) -> tuple[Figure, np.ndarray]:
    r"""
    For each model, two bars per player: its SID (the share of ψ above the weakest player) and the share of an
    adversarial perturbation's energy in that player
    (:func:`~captum_iaside.robustness.adversarial.adversarial_spectrum`). Where the two agree, the attack goes
    through the bands the model listens to.

    Args:
        results (dict): Model name → its global :class:`~captum_iaside.SpectralImportance`.
        spectra (dict): Model name → its :class:`~captum_iaside.robustness.adversarial.AdversarialSpectrum`
                    (a subset of ``results``' models).
        columns (int, optional): Models per row of the figure.
                    Default: 2

    Returns:
        ``(fig, axes)``: one axis per model of ``spectra``.

    Examples::

        >>> spectra = {name: adversarial_spectrum(model, loader, bands=8) for name, model in models.items()}
        >>> fig, axes = plot_adversarial_spectra(comparison.results, spectra)
    """
    if not spectra:
        raise ValueError("spectra is empty")
    unknown = [name for name in spectra if name not in results]
    if unknown:
        raise ValueError(f"spectra names models without a result: {unknown}")
    columns = max(1, min(columns, len(spectra)))
    lines = -(-len(spectra) // columns)
    fig, grid = plt.subplots(lines, columns, figsize=(6.2 * columns, 3.6 * lines), squeeze=False)
    axes = []
    for ax, (name, spectrum) in zip(grid.flat, spectra.items(), strict=False):
        res = results[name]
        share = spectrum.energy_share.numpy()
        if len(share) != res.n_bands:
            raise ValueError(f"spectra[{name!r}] has {len(share)} players, its result {res.n_bands}")
        x = np.arange(res.n_bands)
        ax.bar(x - 0.2, res.sid.numpy(), width=0.4, label="SID of ψ", color="#4a7bd0")
        ax.bar(x + 0.2, share, width=0.4, label=f"energy of δ ({spectrum.attack})", color="#d0704a")
        ax.set_xticks(x, band_ticks(res.players), fontsize=7)
        ax.set_ylabel("share")
        ax.set_xlabel("frequency band (normalised radius, low → high)", fontsize=8)
        ax.set_title(f"{name}: {spectrum.attack} ε = {spectrum.epsilon:.4g}, {spectrum.images} images", fontsize=10)
        ax.legend(fontsize=7)
        axes.append(ax)
    for ax in list(grid.flat)[len(spectra) :]:
        ax.remove()
    fig.suptitle("Where the model listens (SID) and where an attack puts its energy")
    fig.tight_layout()
    return fig, np.array(axes)

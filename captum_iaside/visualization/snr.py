r"""Per-band signal-to-noise ratio of perturbations."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from captum_iaside.game.bands import SpectralBands
from captum_iaside.game.partition import FourierPartition
from captum_iaside.visualization.common import band_ticks


def plot_spectral_snr(snr: dict[str, Tensor], bands: FourierPartition | None = None) -> tuple[Figure, np.ndarray]:
    r"""
    Per-band signal-to-noise ratio of perturbations (the paper's motivating figure), one line per
    perturbation, from :func:`captum_iaside.robustness.snr.spectral_snr`.

    Args:
        snr (dict): Perturbation name → ``(M,)`` SNR in dB.
        bands (FourierPartition, optional): For the band (player) labels.
                    Default: equal-width square bands

    Returns:
        ``(fig, axes)`` with a single axis.
    """
    if not snr:
        raise ValueError("snr is empty")
    m = len(next(iter(snr.values())))
    bands = bands or SpectralBands(m)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    # up to 10 lines take the default colours; more get one colour each from a map and alternate markers and
    # dashes, so no two lines look alike
    many = len(snr) > 10
    colours = plt.get_cmap("turbo")(np.linspace(0.05, 0.95, len(snr))) if many else [None] * len(snr)
    markers, dashes = "osD^v<>ph*", ("-", "--", ":")
    for k, (name, values) in enumerate(snr.items()):
        ax.plot(
            np.arange(m),
            torch.as_tensor(values, dtype=torch.float64).numpy(),
            marker=markers[k % len(markers)] if many else "o",
            linestyle=dashes[k % len(dashes)] if many else "-",
            color=colours[k],
            label=name,
        )
    ax.set_xticks(np.arange(m), band_ticks(bands), fontsize=8)
    ax.set_xlabel("frequency band (normalised radius, low → high)")
    ax.set_ylabel("SNR (dB)")
    ax.set_title("Signal-to-noise ratio of perturbations per band")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend(fontsize=7, ncol=1 + len(snr) // 12, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the plot
    fig.tight_layout()
    return fig, np.array([ax])

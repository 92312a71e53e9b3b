r"""Per-band signal-to-noise ratio of perturbations."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from captum_iaside.game.bands import SpectralBands
from captum_iaside.visualization.common import band_ticks


def plot_spectral_snr(snr: dict[str, Tensor], bands: SpectralBands | None = None) -> tuple[Figure, np.ndarray]:
    r"""
    Per-band signal-to-noise ratio of perturbations (the paper's motivating figure), one line per
    perturbation, from :func:`captum_iaside.robustness.snr.spectral_snr`.

    Args:
        snr (dict): Perturbation name → ``(M,)`` SNR in dB.
        bands (SpectralBands, optional): For the band labels.
                    Default: equal-width square bands

    Returns:
        ``(fig, axes)`` with a single axis.
    """
    if not snr:
        raise ValueError("snr is empty")
    m = len(next(iter(snr.values())))
    bands = bands or SpectralBands(m)
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in snr.items():
        ax.plot(np.arange(m), torch.as_tensor(values, dtype=torch.float64).numpy(), marker="o", label=name)
    ax.set_xticks(np.arange(m), band_ticks(bands), fontsize=8)
    ax.set_xlabel("frequency band (normalised radius, low → high)")
    ax.set_ylabel("SNR (dB)")
    ax.set_title("Signal-to-noise ratio of perturbations per band")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig, np.array([ax])

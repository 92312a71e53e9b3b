r"""Spectral importance over training steps: ψ of each player and the SRS against the step."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from captum_iaside.results.dynamics import StepRow


def plot_dynamics(history: Sequence[StepRow] | Any, title: str | None = None) -> tuple[Figure, np.ndarray]:
    r"""
    ψ of each player against the training step with its interval as a band (the bootstrap interval, or ±2
    standard errors without one), and the SRS against the step with its interval.

    Args:
        history (list of StepRow or SpectralMonitor): The rows of
                    :attr:`SpectralMonitor.history <captum_iaside.dynamics.SpectralMonitor.history>`, or the
                    monitor itself.
        title (str, optional): The figure's title.
                    Default: None (“Spectral importance over training”)

    Returns:
        ``(fig, axes)``: ψ on the left, the SRS on the right.

    Examples::

        >>> fig, axes = plot_dynamics(monitor)
        >>> fig.savefig("dynamics.png")
    """
    rows = list(getattr(history, "history", history))
    if not rows or not all(isinstance(r, StepRow) for r in rows):
        raise ValueError("history must be a non-empty list of StepRow (monitor.history) or a SpectralMonitor")
    steps = sorted({r.step for r in rows})
    players = sorted({(r.player, r.label) for r in rows})
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(players)))
    for (player, label), colour in zip(players, colours, strict=True):
        own = sorted((r for r in rows if r.player == player), key=lambda r: r.step)
        x = [r.step for r in own]
        psi = np.array([r.psi for r in own])
        low = np.array([r.psi - 2 * r.stderr if r.psi_low is None else r.psi_low for r in own])
        high = np.array([r.psi + 2 * r.stderr if r.psi_high is None else r.psi_high for r in own])
        left.plot(x, psi, marker="o", markersize=3, color=colour, label=label)
        left.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0)
    left.axhline(0, color="black", linewidth=0.6)
    left.set_xlabel("step")
    left.set_ylabel("ψ (mean Shapley value)")
    left.set_title("ψ of each band (band 0: lowest frequencies)")
    left.legend(fontsize=7, title="band", title_fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    per_step = {r.step: r for r in rows}
    srs = np.array([per_step[s].srs for s in steps])
    right.plot(steps, srs, marker="o", markersize=3, color="black")
    if all(per_step[s].srs_low is not None for s in steps):
        lo = np.array([per_step[s].srs_low for s in steps])
        hi = np.array([per_step[s].srs_high for s in steps])
        right.fill_between(steps, lo, hi, color="grey", alpha=0.3, linewidth=0, label="interval")
        right.legend(fontsize=7)
    if all(math.isnan(v) for v in srs):
        why = "SRS not defined\n(players without a radial order)"
        right.text(0.5, 0.5, why, ha="center", transform=right.transAxes)
    right.set_xlabel("step")
    right.set_ylabel("SRS")
    right.set_title("Spectral robustness score")
    fig.suptitle(title or "Spectral importance over training")
    fig.tight_layout()
    return fig, np.array([left, right])

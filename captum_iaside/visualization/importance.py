r"""SID bars with their intervals, one model or several, and the SRS ranking."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from captum_iaside.results.importance import SpectralImportance
from captum_iaside.visualization.common import band_ticks, result_label


def plot_spectral_importance(
    results: SpectralImportance | Sequence[SpectralImportance],
    kind: str = "sid",
    labels: Sequence[str] | None = None,
) -> tuple[Figure, np.ndarray]:
    r"""
    Bar chart of spectral importance per band with error bars (the bootstrap intervals where the
    results have them, else ±1 standard error); for several results, grouped bars and their
    spectral robustness scores, coloured by the side of the spectrum each SID leans to (the SRS
    itself is symmetric about a uniform SID).

    Args:
        results (SpectralImportance or sequence): One result, or several to compare.
        kind (str, optional): ``"sid"`` (the paper's distribution, error bars
                    :attr:`~SpectralImportance.sid_stderr`) or ``"values"`` (ψ ± stderr).
                    Default: ``"sid"``
        labels (sequence of str, optional): Legend names.
                    Default: each result's ``config["model"]``

    Returns:
        ``(fig, axes)``: one axis for a single result, two (bars, SRS ranking) for several.

    Examples::

        >>> fig, axes = plot_spectral_importance([res_a, res_b], labels=["A", "B"])
        >>> fig.savefig("comparison.png")
    """
    if kind not in ("sid", "values"):
        raise ValueError(f"kind must be 'sid' or 'values', got {kind!r}")
    many = not isinstance(results, SpectralImportance)
    results = list(results) if many else [results]
    if not results:
        raise ValueError("results is empty")
    if len({r.n_bands for r in results}) != 1:
        raise ValueError("results to compare must have the same number of bands")
    labels = list(labels) if labels is not None else [result_label(r, i) for i, r in enumerate(results)]
    if len(labels) != len(results):
        raise ValueError(f"labels has {len(labels)} names for {len(results)} results")
    m = results[0].n_bands
    if many:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1.3]})
    else:
        fig, ax = plt.subplots(figsize=(7, 4))
        axes = np.array([ax])
    ax = axes[0]
    width = 0.8 / len(results)
    x = np.arange(m)
    intervals = all((r.sid_ci if kind == "sid" else r.values_ci) is not None for r in results)
    for i, (res, name) in enumerate(zip(results, labels, strict=True)):
        height = res.sid if kind == "sid" else res.values
        if intervals:  # the bootstrap interval, as asymmetric error bars
            ci = res.sid_ci if kind == "sid" else res.values_ci
            err = np.stack([(height - ci[0]).clamp(min=0).numpy(), (ci[1] - height).clamp(min=0).numpy()])
        else:
            err = np.nan_to_num((res.sid_stderr if kind == "sid" else res.stderr).numpy())
        offset = (i - (len(results) - 1) / 2) * width
        ax.bar(
            x + offset,
            height.numpy(),
            width,
            yerr=err,
            capsize=3,
            label=f"{name} (SRS {res.srs:.3f}, leans {res.direction})"
            if res.identified
            else f"{name} (SID and SRS undefined: ψ equal in every band)",
        )
    players = results[0].players
    ax.set_xticks(x, band_ticks(players), fontsize=8)
    ax.set_xlabel(
        "frequency band (normalised radius, low → high)"
        if players.kind == "radial"
        else f"player ({ {'oriented': 'ring × orientation', 'grid': 'Fourier cell'}.get(players.kind, 'custom') })"
    )
    ax.set_ylabel("SID" if kind == "sid" else "ψ (mean Shapley value)")
    what = "Spectral importance distribution" if kind == "sid" else "Spectral importance ψ"
    bars = f"{results[0].config.get('confidence', 0.95):.0%} bootstrap intervals" if intervals else "±1 s.e."
    counts = sorted({r.n_samples for r in results})
    k = (
        f"{counts[0]}" + (" each" if len(results) > 1 else "")
        if len(counts) == 1
        else ", ".join(str(r.n_samples) for r in results)
    )
    ax.set_title(f"{what}, {bars} (K = {k})", fontsize=10)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend(fontsize=8)
    if many:
        order = np.argsort([r.srs for r in results])
        srs_ax = axes[1]
        colours = ["tab:green" if results[j].signed_srs >= 0 else "tab:orange" for j in order]
        srs_ax.barh([labels[j] for j in order], [results[j].srs for j in order], color=colours)
        srs_ax.set_xlabel(f"spectral robustness score (M = {m})")
        srs_ax.set_title("SRS (green: leans to low bands,\norange: to high; compare at equal M)", fontsize=9)
    fig.tight_layout()
    return fig, axes

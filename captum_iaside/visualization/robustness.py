r"""The SRS of several models against their accuracy under corruptions and attacks."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from captum_iaside.visualization.labels import place_labels


def plot_robustness(report: Any, accuracy: str = "corruption_accuracy") -> tuple[Figure, np.ndarray]:
    r"""
    Scatter of the spectral robustness score against robust accuracy, one labelled point per model,
    with the SRS bootstrap interval as a horizontal error bar.

    The model names are placed apart: each label takes the first position around its point (right,
    left, above or below, then farther out with a leader line) where it covers no other label, point
    or error bar and stays inside the axes.

    Args:
        report (RobustnessReport): From :func:`captum_iaside.robustness.report.robustness_report`.
        accuracy (str, optional): ``"corruption_accuracy"``, ``"adversarial_accuracy"`` or
                    ``"clean_accuracy"``.
                    Default: ``"corruption_accuracy"``

    Returns:
        ``(fig, axes)`` with a single axis; the model names are its annotations (``axes[0].texts``), in
        the order of ``report.rows``.

    Examples::

        >>> report = robustness_report(results, accuracies)
        >>> fig, axes = plot_robustness(report, accuracy="adversarial_accuracy")
        >>> [t.get_text() for t in axes[0].texts]
        ['standard', 'noise σ=0.1', 'low-pass training']
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    points, bars = [], []
    for row in report.rows:
        x, y = row["srs"], row[accuracy]
        if y is None:
            raise ValueError(f"the report has no {accuracy}")
        xerr = None
        if row["srs_ci"] is not None:
            xerr = [[x - row["srs_ci"][0]], [row["srs_ci"][1] - x]]
        ax.errorbar(x, y, xerr=xerr, fmt="o", capsize=3)
        points.append((x, y))
        bars.append(row["srs_ci"] or (x, x))
    ax.margins(0.08)
    label = accuracy.replace("_", " ")
    corr = report.correlations.get(label)
    title = f"SRS vs {label}"
    if corr is not None:
        title += f" (Spearman {corr['spearman']:+.2f}, Pearson {corr['pearson']:+.2f})"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("spectral robustness score (95% bootstrap CI)")
    ax.set_ylabel(label)
    fig.tight_layout()
    if points:
        fig.draw_without_rendering()  # the final limits and layout, before measuring in display space
        pt = fig.dpi / 72.0
        obstacles = []
        for (x, y), (lo, hi) in zip(points, bars, strict=True):
            cx, cy = ax.transData.transform((x, y))
            x0, x1 = ax.transData.transform([(lo, y), (hi, y)])[:, 0]
            obstacles.append(np.array([cx - 3.5 * pt, cy - 3.5 * pt, cx + 3.5 * pt, cy + 3.5 * pt]))  # marker
            obstacles.append(np.array([x0 - pt, cy - 3 * pt, x1 + pt, cy + 3 * pt]))  # error bar and caps
        place_labels(ax, points, [str(row["model"]) for row in report.rows], obstacles)
    return fig, np.array([ax])

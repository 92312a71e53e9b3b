r"""The SRS of several models against their robustness: one measure, or every measure of a report."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from captum_iaside.robustness.report import undefined_reason
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
    for row in report.rows:
        if row[accuracy] is None:
            raise ValueError(f"the report has no {accuracy}")
    label = accuracy.replace("_", " ")
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    values = [row[accuracy] for row in report.rows]
    corr = report.correlations.get(label)
    title = f"SRS vs {label}"
    if corr is not None:
        title += f" (Spearman {corr['spearman']:+.2f}, Pearson {corr['pearson']:+.2f})"
    drawn = _scatter(ax, report.rows, values, label, title)
    fig.tight_layout()
    _label(fig, ax, report.rows, *drawn)
    return fig, np.array([ax])


def plot_robustness_measures(report: Any, columns: int = 3) -> tuple[Figure, np.ndarray]:
    r"""
    One scatter per robustness measure of the report (clean and corruption accuracy, mCE, relative mCE, each
    out-of-distribution set, adversarial accuracy): the SRS against the measure, one labelled point per model,
    titled with Spearman's ρ, its bootstrap interval over the models and how many models it rests on.

    Args:
        report (RobustnessReport): From :func:`captum_iaside.robustness.report.robustness_report`.
        columns (int, optional): Scatters per row of the figure.
                    Default: 3

    Returns:
        ``(fig, axes)``: one axis per measure, in :meth:`RobustnessReport.measures
        <captum_iaside.robustness.report.RobustnessReport.measures>`' order (unused axes are removed).

    Examples::

        >>> fig, axes = plot_robustness_measures(robustness_report(results, accuracies, reference="alexnet"))
        >>> [ax.get_xlabel() for ax in axes][:2]
        ['SRS', 'SRS']
    """
    measures = report.measures()
    if not measures:
        raise ValueError("the report has no robustness measure")
    columns = max(1, min(columns, len(measures)))
    lines = -(-len(measures) // columns)
    fig, grid = plt.subplots(lines, columns, figsize=(3.9 * columns, 3.3 * lines), squeeze=False)
    axes, drawn = [], []
    for ax, measure in zip(grid.flat, measures, strict=False):
        rows = [row for row in report.rows if np.isfinite(row["measures"].get(measure, np.nan))]
        corr = report.correlations.get(measure)
        title = measure
        if corr is not None and not np.isnan(corr["spearman"]):
            ci = corr["spearman_ci"]
            title += f"\nρ = {corr['spearman']:+.2f}" + ("" if ci is None else f" [{ci[0]:+.2f}, {ci[1]:+.2f}]")
            title += f", {corr['models']} models"
        elif corr is not None:
            title += "\n" + undefined_reason(corr).replace(" (or in their SRS)", "")
        label = f"{measure} (lower is better)" if "mCE" in measure else measure
        drawn.append((ax, rows, *_scatter(ax, rows, [row["measures"][measure] for row in rows], label, title)))
        ax.set_xlabel("SRS (bars: its interval)")
        axes.append(ax)
    for ax in list(grid.flat)[len(measures) :]:
        ax.remove()
    fig.tight_layout()
    for ax, rows, points, bars in drawn:
        _label(fig, ax, rows, points, bars)
    return fig, np.array(axes)


def _scatter(ax: Any, rows: list[dict[str, Any]], values: list[float], label: str, title: str) -> tuple[list, list]:
    r"""The points of ``rows`` (SRS against ``values``) with the SRS intervals as error bars; the points and bars."""
    points, bars = [], []
    for row, y in zip(rows, values, strict=True):
        x = row["srs"]
        xerr = None
        if row["srs_ci"] is not None:
            xerr = [[x - row["srs_ci"][0]], [row["srs_ci"][1] - x]]
        ax.errorbar(x, y, xerr=xerr, fmt="o", capsize=3)
        points.append((x, y))
        bars.append(row["srs_ci"] or (x, x))
    ax.margins(0.08)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("spectral robustness score (95% bootstrap CI)")
    ax.set_ylabel(label)
    return points, bars


def _label(fig: Figure, ax: Any, rows: list[dict[str, Any]], points: list, bars: list) -> None:
    r"""The model names beside their points, apart from each other and from the points and bars."""
    if not points:
        return
    fig.draw_without_rendering()  # the final limits and layout, before measuring in display space
    pt = fig.dpi / 72.0
    obstacles = []
    for (x, y), (lo, hi) in zip(points, bars, strict=True):
        cx, cy = ax.transData.transform((x, y))
        x0, x1 = ax.transData.transform([(lo, y), (hi, y)])[:, 0]
        obstacles.append(np.array([cx - 3.5 * pt, cy - 3.5 * pt, cx + 3.5 * pt, cy + 3.5 * pt]))  # marker
        obstacles.append(np.array([x0 - pt, cy - 3 * pt, x1 + pt, cy + 3 * pt]))  # error bar and caps
    place_labels(ax, points, [str(row["model"]) for row in rows], obstacles)

r"""Scatter labels placed where they overlap neither each other nor the points."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

#: label positions around a point tried by :func:`place_labels`, in order: (x sign, y sign, ha, va)
_LABEL_SIDES = (
    (1, 1, "left", "bottom"),
    (1, -1, "left", "top"),
    (-1, 1, "right", "bottom"),
    (-1, -1, "right", "top"),
    (0, 1, "center", "bottom"),
    (0, -1, "center", "top"),
    (1, 0, "left", "center"),
    (-1, 0, "right", "center"),
)


#: how far :func:`place_labels` looks: up to this many times its first distance
_LABEL_LEVELS = 8


def _renderer(fig: Figure) -> Any:
    canvas = fig.canvas
    return canvas.get_renderer() if hasattr(canvas, "get_renderer") else fig._get_renderer()


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Area shared by two boxes ``[x0, y0, x1, y1]``."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return float(w * h) if w > 0 and h > 0 else 0.0


def place_labels(
    ax: Any,
    points: Sequence[tuple[float, float]],
    labels: Sequence[str],
    obstacles: Sequence[np.ndarray] = (),
    fontsize: float = 8,
    step: float = 5.0,
) -> list[Any]:
    r"""
    Annotate each point with its label where the label covers no other label, no obstacle (markers,
    error bars; boxes ``[x0, y0, x1, y1]`` in display coordinates) and stays inside the axes.

    Greedy, in the order given: the positions of :data:`_LABEL_SIDES` at ``step`` points from the
    point, then at 2, 3, ... :data:`_LABEL_LEVELS` times that distance (a thin leader line joins a label
    set that far to its point); the first free position is taken, else the one with the least overlap
    (another label counting ten times an obstacle). Call it once the figure's layout is final: the
    offsets are in points, so the labels keep apart at any dpi.

    Returns:
        The annotations, in the order of ``points``.
    """
    fig = ax.figure
    renderer = _renderer(fig)
    pt = fig.dpi / 72.0
    frame = ax.get_window_extent(renderer).extents
    frame_area = max((frame[2] - frame[0]) * (frame[3] - frame[1]), 1.0)
    placed: list[np.ndarray] = []
    annotations = []
    pad = 1.0 * pt
    for (x, y), text in zip(points, labels, strict=True):
        probe = ax.annotate(text, (x, y), xytext=(0, 0), textcoords="offset points", fontsize=fontsize)
        best = None
        for level in range(1, _LABEL_LEVELS + 1):
            for k, (sx, sy, ha, va) in enumerate(_LABEL_SIDES):
                offset = (sx * step * level, sy * step * level)
                probe.xyann = offset
                probe.set_ha(ha)
                probe.set_va(va)
                box = probe.get_window_extent(renderer).extents
                outside = (box[2] - box[0]) * (box[3] - box[1]) - _overlap(box, frame)
                padded = box + np.array([-pad, -pad, pad, pad])  # labels keep a little apart
                # a label over another is unreadable, over an error bar merely untidy, outside the axes cut off
                cost = 10 * sum(_overlap(padded, other) for other in placed)
                cost += sum(_overlap(box, o) for o in obstacles) + frame_area * (outside > 1e-6)
                key = (cost, level, k)
                if best is None or key < best[0]:
                    best = (key, offset, ha, va, box)
                if cost == 0:
                    break
            if best[0][0] == 0:
                break
        probe.remove()
        (_, level, _), offset, ha, va, box = best
        arrow = dict(arrowstyle="-", color="0.5", lw=0.6, shrinkA=0, shrinkB=3) if level > 1 else None
        annotations.append(
            ax.annotate(
                text,
                (x, y),
                xytext=offset,
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=fontsize,
                arrowprops=arrow,
            )
        )
        placed.append(box)
    return annotations

r"""A grid of Fourier cells: the centred frequency plane cut into ``G × G`` squares."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from captum_iaside._utils.checks import check_int
from captum_iaside.game.partition import FourierPartition, by_representative, signed_frequencies


class FourierGrid(FourierPartition):
    r"""
    The centred Fourier plane cut into ``G × G`` equal cells, each merged with its mirror image.

    In cycles per pixel the centred plane is ``[−1/2, 1/2)²``; the bin with signed frequencies
    ``(ky, kx)`` lies in row ``⌊(ky/H + 1/2) G⌋`` and column ``⌊(kx/W + 1/2) G⌋`` (integer
    arithmetic). The conjugate of a cell's bins lies in the cell mirrored through the centre,
    ``(G − 1 − row, G − 1 − col)``, so the two form one player, numbered ``min(k, G² − 1 − k)``
    with ``k = row · G + col``: the cells of the upper half of the centred plane, row by row (with
    an odd ``G`` the centre cell, which holds DC, is its own mirror). ``⌈G² / 2⌉`` players.
    A bin on a cell boundary takes the cell of its conjugate pair's first member, so the
    partition is exact and conjugate-symmetric at any ``H × W``. Their ψ painted on the plane is
    a *Shapley Fourier map* (:func:`~captum_iaside.visualization.fourier.plot_fourier_importance`),
    to read beside a Fourier heat map (:func:`~captum_iaside.robustness.fourier_heat_map.fourier_heat_map`).

    Args:
        grid (int, optional): ``G``, cells per axis (at least 2; a cell without a bin at the
                    image size is an error naming the smallest square size that fills them).
                    Default: 8

    Examples::

        >>> players = FourierGrid(4)
        >>> players.n_bands
        8
        >>> players.counts(16, 16)          # bins per player (each cell and its mirror)
        tensor([33, 32, 39, 40, 32, 31, 24, 25])
    """

    kind = "grid"

    def __init__(self, grid: int = 8) -> None:
        check_int(grid, "grid", minimum=2)
        self.grid = grid
        super().__init__((grid * grid + 1) // 2)

    def config(self) -> dict[str, Any]:
        r"""``{"kind": "grid", "n_bands", "grid"}``."""
        return {"kind": self.kind, "n_bands": self.n_bands, "grid": self.grid}

    def labels(self) -> list[str]:
        r"""``"(row, col)"`` of each player's cell in the upper half of the centred plane."""
        g = self.grid
        return [f"({k // g}, {k % g})" for k in range(self.n_bands)]

    def _raw_index(self, h: int, w: int) -> Tensor:
        g = self.grid
        row, col = _cells(h, g), _cells(w, g)
        cell = row[:, None] * g + col[None, :]
        return by_representative(torch.minimum(cell, g * g - 1 - cell))

    def _empty_hint(self) -> str:
        for side in range(self.grid, 4 * self.grid + 2):
            if bool((torch.bincount(self._raw_index(side, side).flatten(), minlength=self.n_bands) > 0).all()):
                return (
                    f"use a smaller grid or larger images (the smallest square size that fills it is {side} x {side})"
                )
        return "use a smaller grid or larger images"


def _cells(n: int, g: int) -> Tensor:
    r"""The cell ``⌊(k/n + ½) G⌋`` of each signed frequency ``k`` of an axis of ``n`` bins, in integers."""
    k = torch.tensor(signed_frequencies(n), dtype=torch.int64)
    return torch.div((2 * k + n) * g, 2 * n, rounding_mode="floor")

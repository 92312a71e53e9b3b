r"""Radius × orientation: rings of the Fourier plane split into orientation sectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from captum_iaside._utils.checks import check_int
from captum_iaside.game.bands import SpectralBands
from captum_iaside.game.partition import FourierPartition, orientation_sectors


class OrientedBands(FourierPartition):
    r"""
    ``R`` radial rings × ``A`` orientation sectors of the Fourier plane: ``R · A`` players.

    The rings are those of :class:`SpectralBands` (``n_rings``, ``shape``, ``edges``). The
    orientation of the DFT bin with signed frequencies ``(ky, kx)`` is the angle of its frequency
    vector in cycles per pixel, folded modulo π so that a bin and its conjugate share it:
    ``θ = atan2(ky / H, kx / W) mod π``. The ``A`` sectors are ``π/A`` wide and centred on
    ``aπ/A``: sector ``a`` holds ``(a − ½)π/A ≤ θ < (a + ½)π/A`` (mod π). Sector 0 is centred on
    the horizontal-frequency axis (intensity varying along the rows: vertical stripes and
    edges); with ``A = 4``, sector 2 is centred on the vertical frequencies (horizontal stripes)
    and sectors 1 and 3 on the two diagonals (``+ky`` points down the image, as in the
    centred-plane plots). Player ``r · A + a`` is sector ``a`` of ring ``r``; the DC bin, which
    has no orientation, is in sector 0 of ring 0. Boundaries that bins can meet exactly (the
    diagonals, for ``A = 2``) are decided in integers, and a bin takes the sector of its
    conjugate pair's first member (the Nyquist row and column of an even size alias their
    conjugates), so the partition is exact and conjugate-symmetric at any ``H × W``.

    Orientation-resolved importance asks whether a model relies on horizontal or vertical
    structure (Karantzas et al., 2022, https://arxiv.org/abs/2203.08822). The spectral
    robustness score of an oriented result is that of its rings (ψ summed over each ring's
    sectors; :meth:`rings`).

    Args:
        n_rings (int, optional): Number of rings ``R`` (at least 1).
                    Default: 4
        orientations (int, optional): Number of orientation sectors ``A`` over ``[0, π)`` (at
                    least 2).
                    Default: 4
        shape (str, optional): Ring shape, ``"square"`` or ``"circle"`` (as :class:`SpectralBands`).
                    Default: ``"square"``
        edges (sequence of float, optional): Custom ring edges (as :class:`SpectralBands`).
                    Default: None (equal widths)

    Examples::

        >>> players = OrientedBands(n_rings=2, orientations=4)
        >>> players.n_bands
        8
        >>> x = torch.randn(1, 3, 32, 32)
        >>> torch.allclose(players.decompose(x).sum(1), x, atol=1e-5)
        True
    """

    kind = "oriented"

    def __init__(
        self,
        n_rings: int = 4,
        orientations: int = 4,
        shape: str = "square",
        edges: Sequence[float] | None = None,
    ) -> None:
        check_int(n_rings, "n_rings", minimum=1)
        check_int(orientations, "orientations", minimum=2)
        if n_rings == 1 and edges is not None:
            raise ValueError("edges divide the plane into rings: give n_rings=len(edges) - 1 (at least 2), or no edges")
        if shape not in ("square", "circle"):
            raise ValueError(f"shape must be one of ('square', 'circle'), got {shape!r}")
        self.radial = SpectralBands(n_rings, shape=shape, edges=edges) if n_rings > 1 else None
        self.n_rings, self.orientations, self.shape = n_rings, orientations, shape
        self.edges = None if edges is None else list(edges)
        super().__init__(n_rings * orientations)

    def config(self) -> dict[str, Any]:
        r"""``{"kind": "oriented", "n_bands", "n_rings", "orientations", "shape", "edges"}``."""
        return {
            "kind": self.kind,
            "n_bands": self.n_bands,
            "n_rings": self.n_rings,
            "orientations": self.orientations,
            "shape": self.shape,
            "edges": self.edges,
        }

    def __repr__(self) -> str:
        extra = "" if self.edges is None else f", edges={self.edges}"
        return f"OrientedBands(n_rings={self.n_rings}, orientations={self.orientations}, shape={self.shape!r}{extra})"

    def sector_centres(self) -> list[float]:
        r"""The ``A`` sector centres in degrees, ``0, 180/A, …``: each sector spans ``± 90/A`` around its centre."""
        return [180.0 * a / self.orientations for a in range(self.orientations)]

    def ring_edges(self) -> list[float]:
        r"""The ``R + 1`` ring edges in normalised radius."""
        return [0.0, 1.0] if self.radial is None else self.radial.band_edges()

    def labels(self) -> list[str]:
        r"""``"r<ring> <centre>°"`` per player (the sector's centre angle)."""
        c = self.sector_centres()
        return [f"r{r} {c[a]:g}°" for r in range(self.n_rings) for a in range(self.orientations)]

    def rings(self) -> Tensor | None:
        r"""``(R, R · A)``: ring ``r`` sums its ``A`` sectors; None for one ring (sectors have no radial order)."""
        if self.n_rings < 2:
            return None
        return torch.kron(torch.eye(self.n_rings, dtype=torch.float64), torch.ones(1, self.orientations))

    def sectors(self, h: int, w: int) -> Tensor:
        r"""The orientation sector ``0 .. A − 1`` of every bin, DC in sector 0
        (:func:`~captum_iaside.game.partition.orientation_sectors`): ``(H, W)`` int64."""
        return orientation_sectors(h, w, self.orientations)

    def _raw_index(self, h: int, w: int) -> Tensor:
        ring = torch.zeros(h, w, dtype=torch.int64) if self.radial is None else self.radial._raw_index(h, w)
        return ring * self.orientations + self.sectors(h, w)

    def _empty_hint(self) -> str:
        return "use fewer rings or orientations, or larger images"

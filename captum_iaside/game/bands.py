r"""Radial frequency bands of the 2-D discrete Fourier plane."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import torch
from torch import Tensor

from captum_iaside._utils.checks import check_int, check_real
from captum_iaside.game.partition import FourierPartition, orientation_sectors, signed_frequencies

_SHAPES = ("square", "circle")
# Largest image side searched when naming the smallest size that gives every band a bin.
_MAX_SEARCHED_SIDE = 512


class SpectralBands(FourierPartition):
    r"""
    Partition of the Fourier plane into ``M`` radial frequency bands, the players of I-ASIDE.

    For the DFT bin ``(u, v)`` of an ``H x W`` image (unshifted layout, as returned by
    :func:`torch.fft.fft2`) the signed integer frequencies are ``ky = fftfreq(H) * H`` and
    ``kx = fftfreq(W) * W``; the normalised radii per axis are ``ry = |ky| / (H / 2)`` and
    ``rx = |kx| / (W / 2)``. The radius of the bin is ``max(ry, rx)`` for ``shape="square"``
    (the paper's ℓ∞ bands) or ``sqrt(ry² + rx²)`` for ``shape="circle"`` (ℓ2 bands).
    With equal-width bands the bin belongs to band ``min(floor(r * M), M - 1)``: band 0 holds
    the DC term, a bin exactly on the boundary ``r = i / M`` belongs to band ``i`` and
    everything at or beyond ``(M - 1) / M`` (the corners of a circle partition included)
    belongs to the last band. The boundaries are evaluated with integer arithmetic, so no bin
    is misplaced by rounding.

    Every band mask depends on ``|ky|`` and ``|kx|`` only, so it is conjugate-symmetric and
    the band components of a real image are real; the masks partition the plane, so the
    components sum exactly to the image.

    Paper: Luo, McDermott, O'Riordan, "Interpreting Global Perturbation Robustness of Image Models
    using Axiomatic Spectral Importance Decomposition", TMLR 2024, https://arxiv.org/abs/2408.01139

    Args:
        n_bands (int, optional): Number of bands ``M`` (at least 2).
                    Default: 8, or ``len(edges) - 1`` when ``edges`` is given.
        shape (str, optional): ``"square"`` (ℓ∞ radius, the paper's) or ``"circle"``
                    (ℓ2 radius).
                    Default: ``"square"``
        edges (sequence of float, optional): ``M + 1`` strictly increasing band edges in
                    normalised radius, starting at 0, replacing equal widths. Band ``i``
                    holds the bins with ``edges[i] <= r < edges[i + 1]``; the last band also
                    holds every bin beyond ``edges[M - 1]``. Each edge is read as the decimal it
                    prints as (``0.1`` is exactly 1/10), so boundaries stay exact.
                    Default: None (equal widths)

    Examples::

        >>> bands = SpectralBands(n_bands=4)
        >>> bands.index(8, 8)[0]
        tensor([0, 1, 2, 3, 3, 3, 2, 1])
        >>> x = torch.randn(2, 3, 32, 32)
        >>> parts = bands.decompose(x)          # (2, 4, 3, 32, 32)
        >>> torch.allclose(parts.sum(1), x, atol=1e-5)
        True
    """

    kind = "radial"

    def __init__(
        self,
        n_bands: int | None = None,
        shape: str = "square",
        edges: Sequence[float] | None = None,
    ) -> None:
        if shape not in _SHAPES:
            raise ValueError(f"shape must be one of {_SHAPES}, got {shape!r}")
        if edges is not None:
            edges = [check_real(e, "edges") for e in edges]
            if n_bands is not None and n_bands != len(edges) - 1:
                raise ValueError(
                    f"n_bands={n_bands} disagrees with edges, which define {len(edges) - 1} bands (len(edges) - 1)"
                )
            n_bands = len(edges) - 1
            if edges[0] != 0.0:
                raise ValueError(f"edges must start at 0, got edges[0]={edges[0]}")
            if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
                raise ValueError(f"edges must be strictly increasing, got {edges}")
            r_max = 1.0 if shape == "square" else math.sqrt(2.0)
            if n_bands >= 2 and edges[-2] > r_max:
                raise ValueError(
                    f"edges[-2]={edges[-2]} lies beyond the largest {shape} radius {r_max:.4f}, "
                    "so the last band would be empty"
                )
        if n_bands is None:
            n_bands = 8
        check_int(n_bands, "n_bands", minimum=2)
        super().__init__(n_bands)
        self.shape = shape
        self.edges = edges
        if edges is None:
            self._fractions = [Fraction(i, n_bands) for i in range(n_bands + 1)]
        else:
            self._fractions = [Fraction(repr(e)) for e in edges]

    def __repr__(self) -> str:
        extra = "" if self.edges is None else f", edges={self.edges}"
        return f"SpectralBands(n_bands={self.n_bands}, shape={self.shape!r}{extra})"

    def config(self) -> dict:
        r"""JSON-serialisable description: ``{"kind": "radial", "n_bands", "shape", "edges"}``."""
        return {"kind": self.kind, "n_bands": self.n_bands, "shape": self.shape, "edges": self.edges}

    def labels(self) -> list[str]:
        r"""The band edges of each band in normalised radius, ``"0.00–0.12"``."""
        e = self.band_edges()
        return [f"{e[i]:.2f}–{e[i + 1]:.2f}" for i in range(self.n_bands)]

    def rings(self) -> Tensor:
        r"""The bands are the rings: the ``(M, M)`` identity."""
        return torch.eye(self.n_bands, dtype=torch.float64)

    def band_edges(self) -> list:
        r"""The ``M + 1`` band edges in normalised radius (equal widths unless custom)."""
        if self.edges is not None:
            return list(self.edges)
        return [i / self.n_bands for i in range(self.n_bands + 1)]

    # ------------------------------------------------------------------ geometry
    def _raw_index(self, h: int, w: int) -> Tensor:
        # Band = number of interior edges e_1 .. e_{M-1} at or below the radius, decided per
        # edge e = p/q with exact integer arithmetic on ky, kx (Python ints, no rounding).
        ky = [abs(k) for k in signed_frequencies(h)]
        kx = torch.tensor([abs(k) for k in signed_frequencies(w)])
        ky_t = torch.tensor(ky)
        band = torch.zeros(h, w, dtype=torch.int64)
        for e in self._fractions[1:-1]:
            p, q = e.numerator, e.denominator
            if self.shape == "square":
                # max(2|ky|/H, 2|kx|/W) >= p/q  <=>  |ky| >= ceil(pH / 2q)  or  |kx| >= ceil(pW / 2q)
                inside = (ky_t >= -(-p * h // (2 * q)))[:, None] | (kx >= -(-p * w // (2 * q)))[None, :]
            else:
                # 4 q² (ky² W² + kx² H²) >= p² H² W²  <=>  kx² >= ceil(A / (4 q² H²)) per ky
                kx_min = torch.tensor([_smallest_kx(k, p, q, h, w) for k in ky])
                inside = kx[None, :] >= kx_min[:, None]
            band += inside.to(torch.int64)
        return band

    def _smallest_square_size(self) -> int | None:
        if self.edges is None:
            return self._smallest_equal_width_side()
        for side in range(2, _MAX_SEARCHED_SIDE + 1):
            counts = torch.bincount(self._raw_index(side, side).flatten(), minlength=self.n_bands)
            if bool((counts > 0).all()):
                return side
        return None

    def _smallest_equal_width_side(self) -> int:
        r"""
        The smallest square side giving every equal-width band a bin, from the distinct radii alone
        (milliseconds even for hundreds of bands). A bin at ``(ky, kx)`` of an ``n × n`` image has
        ``r = 2·max(|ky|, |kx|)/n`` (square) or ``2·sqrt(ky² + kx²)/n`` (circle), and band
        ``min(⌊r·M⌋, M − 1)``, decided in integers. The axis alone fills every band at ``n = 2M``.
        """
        m = self.n_bands
        start = 2 * (m - 1) if self.shape == "square" else max(2, int(2 * math.sqrt(2 * m)) - 2)
        for n in range(max(2, start), 2 * m + 1):
            k = np.arange(n // 2 + 1, dtype=np.int64)
            if self.shape == "square":
                bands = (2 * m * k) // n
            else:
                s = np.unique(k[:, None] ** 2 + k[None, :] ** 2)
                x = 4 * m * m * s
                q = np.floor(np.sqrt(x.astype(np.float64))).astype(np.int64)
                q -= q * q > x
                q += (q + 1) * (q + 1) <= x  # q = isqrt(4 M² s) exactly
                bands = q // n
            if np.unique(np.minimum(bands, m - 1)).size == m:
                return n
        return 2 * m

    def _empty_hint(self) -> str:
        side = self._smallest_square_size()
        hint = (
            f"the smallest square size that gives every band a bin is {side} x {side}"
            if side is not None
            else f"no square size up to {_MAX_SEARCHED_SIDE} x {_MAX_SEARCHED_SIDE} fills them"
        )
        return f"use fewer bands or larger images ({hint})"

    def feature_mask(self, h: int, w: int, orientations: int = 1) -> Tensor:
        r"""
        Captum ``feature_mask`` of the bands on the centred spectrum layout of
        :func:`~captum_iaside.attr.fourier_model.spectrum_of`: the band id of every DFT bin, optionally split
        into orientation sectors.

        Args:
            h (int): Image height ``H``.
            w (int): Image width ``W``.
            orientations (int, optional): Split each band into this many orientation sectors
                        of the frequency vector (those of :class:`~captum_iaside.OrientedBands`,
                        folded modulo π so a bin and its conjugate share a sector); ids are then
                        renumbered ``0 .. n_groups - 1``.
                        Default: 1 (bands only)

        Returns:
            *Tensor* of shape ``(1, 1, H, W, 1)``, int64, broadcastable to ``(B, C, H, W, 2)``.

        Examples::

            >>> mask = SpectralBands(4).feature_mask(16, 16)
            >>> mask.shape, int(mask.max())
            (torch.Size([1, 1, 16, 16, 1]), 3)
        """
        orientations = int(orientations)
        if orientations < 1:
            raise ValueError(f"orientations must be at least 1, got {orientations}")
        ids = self.index(h, w)
        if orientations > 1:
            sector = orientation_sectors(h, w, orientations)
            ids = torch.unique(ids * orientations + sector, return_inverse=True)[1]
        return torch.fft.fftshift(ids)[None, None, :, :, None]


def _smallest_kx(ky: int, p: int, q: int, h: int, w: int) -> int:
    r"""Smallest ``|kx|`` with ``4 q² (ky² W² + kx² H²) >= p² H² W²`` (exact integers)."""
    need = p * p * h * h * w * w - 4 * q * q * ky * ky * w * w
    if need <= 0:
        return 0
    t = -(-need // (4 * q * q * h * h))
    root = math.isqrt(t)
    return root if root * root >= t else root + 1

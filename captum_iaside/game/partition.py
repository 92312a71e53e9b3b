r"""Partitions of the 2-D discrete Fourier plane: what every set of players shares.

A set of players is an exact, conjugate-symmetric partition of the DFT grid of an ``H × W`` image:
every bin belongs to exactly one player, and a bin and its conjugate ``(−u mod H, −v mod W)``
belong to the same one, so each player's component ``Re(ifft2(fft2(x) · m_i))`` is the whole
inverse transform (real) and the components sum exactly to the image. A subclass says which player
each bin belongs to (``FourierPartition._raw_index``); this base class checks the partition
once per size, caches it and derives the masks, the decomposition and Captum's feature mask.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

from captum_iaside._utils.checks import check_images


class FourierPartition(ABC):
    r"""
    Base class of the players: a partition of the Fourier plane into ``n_bands`` cells.

    Subclasses set ``kind``, implement ``_raw_index(h, w)`` (the player of every bin, in the
    unshifted layout of :func:`torch.fft.fft2`), :meth:`config` and :meth:`labels`, and may
    override ``_empty_hint()``. :meth:`index` checks that every player holds a bin and that the
    partition is conjugate-symmetric.
    """

    #: ``"radial"``, ``"oriented"``, ``"grid"`` or ``"custom"``: recorded in results.
    kind: str = "partition"
    #: The one image size ``(H, W)`` the players are defined for, or None for any size.
    size: tuple[int, int] | None = None

    def __init__(self, n_bands: int) -> None:
        self.n_bands = int(n_bands)
        self._index_cache: dict[tuple[int, int], Tensor] = {}
        self._mask_cache: dict[tuple[int, int, torch.device, torch.dtype], Tensor] = {}

    # --------------------------------------------------------------- to implement
    @abstractmethod
    def _raw_index(self, h: int, w: int) -> Tensor:
        r"""The player ``0 .. M − 1`` of every bin: ``(H, W)`` int64 (not yet checked)."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        r"""JSON-serialisable description, with ``"kind"`` and ``"n_bands"``."""

    @abstractmethod
    def labels(self) -> list[str]:
        r"""A short label per player, for plots and tables."""

    def _empty_hint(self) -> str:
        return "use fewer players or larger images"

    # ------------------------------------------------------------------- shared
    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k not in ("kind",) and v is not None)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FourierPartition) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash(repr(self))

    def index(self, h: int, w: int) -> Tensor:
        r"""
        Player of every DFT bin.

        Args:
            h (int): Image height ``H``.
            w (int): Image width ``W``.

        Returns:
            *Tensor* of shape ``(H, W)``, dtype ``int64``, on the CPU: the player ``0 .. M-1`` of
            each bin in the unshifted layout of :func:`torch.fft.fft2`.

        Raises:
            ValueError: if some player holds no bin at this size (the message says what
                would), or if the partition is not conjugate-symmetric.
        """
        key = (int(h), int(w))
        if key not in self._index_cache:
            if key[0] < 1 or key[1] < 1:
                raise ValueError(f"image size must be positive, got {key[0]} x {key[1]}")
            ids = self._raw_index(*key)
            counts = torch.bincount(ids.flatten(), minlength=self.n_bands)
            empty = (counts == 0).nonzero().flatten().tolist()
            if empty:
                shown = empty if len(empty) <= 8 else [*empty[:8], "..."]
                raise ValueError(
                    f"{self!r} leaves player(s) {shown} without any frequency bin at {key[0]} x {key[1]} pixels; "
                    f"{self._empty_hint()}"
                )
            check_conjugate_symmetric(ids, "the partition")
            self._index_cache[key] = ids
        return self._index_cache[key]

    def masks(
        self,
        h: int,
        w: int,
        device: torch.device | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Tensor:
        r"""
        0/1 masks of the players, a partition of the Fourier plane (cached per size, device and dtype).

        Args:
            h (int): Image height ``H``.
            w (int): Image width ``W``.
            device (torch.device, optional): Device of the masks.
                        Default: CPU
            dtype (torch.dtype, optional): Dtype of the masks.
                        Default: ``torch.float32``

        Returns:
            *Tensor* of shape ``(M, H, W)`` whose sum over the first axis is all ones.
        """
        device = torch.device("cpu") if device is None else torch.device(device)
        key = (int(h), int(w), device, dtype)
        if key not in self._mask_cache:
            idx = self.index(h, w)
            players = torch.arange(self.n_bands)[:, None, None]
            self._mask_cache[key] = (idx[None] == players).to(device=device, dtype=dtype)
        return self._mask_cache[key]

    def counts(self, h: int, w: int) -> Tensor:
        r"""Number of DFT bins of each player at ``H x W``: a ``(M,)`` int64 tensor."""
        return torch.bincount(self.index(h, w).flatten(), minlength=self.n_bands)

    def feature_mask(self, h: int, w: int) -> Tensor:
        r"""
        Captum ``feature_mask`` of the players on the centred spectrum layout of
        :func:`~captum_iaside.attr.fourier_model.spectrum_of`: the player of every DFT bin.

        Returns:
            *Tensor* of shape ``(1, 1, H, W, 1)``, int64, broadcastable to ``(B, C, H, W, 2)``.
        """
        return torch.fft.fftshift(self.index(h, w))[None, None, :, :, None]

    def decompose(self, x: Tensor) -> Tensor:
        r"""
        Split images into their real player components: ``x_i = Re(ifft2(fft2(x) * m_i))``.

        The transform runs in float32 (float64 for float64 inputs) and the components are
        returned in the input's dtype, on its device.

        Args:
            x (Tensor): Real images of shape ``(B, C, H, W)``.

        Returns:
            *Tensor* of shape ``(B, M, C, H, W)`` whose sum over axis 1 equals ``x``.

        Examples::

            >>> bands = SpectralBands(8)
            >>> parts = bands.decompose(torch.rand(1, 3, 32, 32))
            >>> parts.shape
            torch.Size([1, 8, 3, 32, 32])
        """
        check_images(x, "x")
        work = torch.float64 if x.dtype == torch.float64 else torch.float32
        h, w = x.shape[-2:]
        masks = self.masks(h, w, device=x.device, dtype=work)
        spectrum = torch.fft.fft2(x.to(work))
        parts = torch.fft.ifft2(spectrum[:, None] * masks[None, :, None]).real
        return parts.to(x.dtype)

    def rings(self) -> Tensor | None:
        r"""
        ``(R, M)`` 0/1 matrix that sums the players into radial rings from low to high frequency
        (the order the spectral robustness score reads), or None where the players have no radial
        order (a grid of cells, a custom partition).
        """
        return None


def conjugate_representative(h: int, w: int) -> Tensor:
    r"""
    For every bin of the unshifted ``H x W`` DFT layout, the flat index of the first of the
    pair {bin, its conjugate ``(−u mod H, −v mod W)``}: ``(H, W)`` int64.
    """
    u = torch.arange(h)[:, None]
    v = torch.arange(w)[None, :]
    return torch.minimum(u * w + v, ((-u) % h) * w + (-v) % w)


def check_conjugate_symmetric(ids: Tensor, name: str) -> None:
    r"""Raise a ``ValueError`` naming ``name`` and a bin whose conjugate has another player."""
    h, w = ids.shape
    u = torch.arange(h)[:, None]
    v = torch.arange(w)[None, :]
    mirrored = ids[(-u) % h, (-v) % w]
    bad = (mirrored != ids).nonzero()
    if bad.numel():
        i, j = bad[0].tolist()
        raise ValueError(
            f"{name} is not conjugate-symmetric: bin ({i}, {j}) is in player {int(ids[i, j])} but its conjugate "
            f"({(-i) % h}, {(-j) % w}) is in player {int(ids[(-i) % h, (-j) % w])}; a player's component of a real "
            "image would not be real (give a bin and its conjugate the same player)"
        )


def signed_frequencies(n: int) -> list:
    r"""``fftfreq(n) * n`` as Python ints: ``0, 1, …, ceil(n/2) − 1, −floor(n/2), …, −1``."""
    return [u if u < (n + 1) // 2 else u - n for u in range(n)]


def by_representative(values: Tensor) -> Tensor:
    r"""``values`` ``(H, W)`` with every bin given the value of its conjugate pair's first member."""
    h, w = values.shape
    return values.flatten()[conjugate_representative(h, w)]


def orientation_sectors(h: int, w: int, orientations: int) -> Tensor:
    r"""
    The orientation sector ``0 .. A − 1`` of every bin of the unshifted ``H × W`` layout: the angle of the
    frequency vector in cycles per pixel, ``θ = atan2(ky/H, kx/W) mod π``, in sectors of width ``π/A``
    centred on ``aπ/A`` — sector ``a`` holds ``(a − ½)π/A ≤ θ < (a + ½)π/A`` (mod π), so sector 0 is centred
    on the horizontal-frequency axis. DC is in sector 0. Boundaries that lattice bins can meet exactly (the
    axes and diagonals) are decided in integers, and a conjugate pair takes its first member's sector:
    ``(H, W)`` int64.
    """
    # the frequency vector scaled by H·W to integers, (kx·H, ky·W), folded into the upper half plane
    a = torch.tensor(signed_frequencies(w), dtype=torch.int64)[None, :] * h
    b = torch.tensor(signed_frequencies(h), dtype=torch.int64)[:, None] * w
    a, b = torch.broadcast_tensors(a, b)
    flip = (b < 0) | ((b == 0) & (a < 0))
    a, b = torch.where(flip, -a, a), torch.where(flip, -b, b)
    sector = torch.zeros(h, w, dtype=torch.int64)
    for j in range(1, orientations + 1):  # the boundaries (j − ½)π/A, the last below π
        # θ ≥ θ_j  ⟺  the cross product of the boundary's direction (c, s) with (a, b) is ≥ 0
        turn = 2 * (2 * j - 1) / orientations  # θ_j in units of π/4
        if turn == int(turn):
            c, s = {1: (1, 1), 2: (0, 1), 3: (-1, 1)}[int(turn)]
            beyond = c * b - s * a >= 0
        else:
            angle = math.pi * (2 * j - 1) / (2 * orientations)
            beyond = math.cos(angle) * b.double() - math.sin(angle) * a.double() >= 0
        sector += beyond.to(torch.int64)
    sector = sector % orientations  # beyond the last boundary: back in sector 0
    sector[0, 0] = 0
    return by_representative(sector)

r"""A partition of the Fourier plane given as masks or player ids, for one image size."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from captum_iaside.game.partition import FourierPartition, check_conjugate_symmetric


class CustomPartition(FourierPartition):
    r"""
    Players given as masks (or a map of player ids) of the DFT grid of one image size.

    The masks must cover every bin exactly once and be conjugate-symmetric (a bin and its
    conjugate ``(−u mod H, −v mod W)`` in the same player), so that the players' components of
    a real image are real and sum to it; both are checked here, naming a bin that fails.

    Args:
        masks (Tensor): ``(M, H, W)`` 0/1 (or bool) masks, or an ``(H, W)`` integer map of player
                    ids ``0 .. M − 1``.
        centred (bool, optional): Whether ``masks`` are in the centred layout of
                    :func:`torch.fft.fftshift` (zero frequency in the middle, as plotted) rather
                    than the unshifted layout of :func:`torch.fft.fft2`.
                    Default: False
        labels (list of str, optional): A label per player.
                    Default: ``"0"``, ``"1"``, …

    Examples::

        >>> ids = FourierGrid(2).index(16, 16)             # any (H, W) map of ids
        >>> players = CustomPartition(ids)
        >>> players.n_bands, players.index(16, 16).equal(ids)
        (2, True)
    """

    kind = "custom"

    def __init__(self, masks: Tensor, centred: bool = False, labels: list[str] | None = None) -> None:
        if not isinstance(masks, Tensor):
            raise TypeError(
                f"masks must be a tensor of (M, H, W) masks or (H, W) player ids, got {type(masks).__name__}"
            )
        if not isinstance(centred, bool):
            raise TypeError(f"centred must be True or False, got {type(centred).__name__}")
        ids = _ids_of(masks.detach().cpu()).clone()  # a copy: later changes to masks do not reach the players
        if centred:
            ids = torch.fft.ifftshift(ids)
        present = ids.unique()
        n = int(present.numel())
        if int(present[-1]) != n - 1:
            missing = sorted(set(range(min(int(present[-1]) + 1, n + 8))) - set(present.tolist()))
            raise ValueError(f"masks: player id(s) {missing[:8]} hold no bin; number the players 0 .. M - 1")
        if n < 2:
            raise ValueError("masks must define at least 2 players")
        check_conjugate_symmetric(ids, "masks")
        if labels is not None and (len(labels) != n or not all(isinstance(s, str) for s in labels)):
            raise ValueError(f"labels must be {n} strings, one per player")
        self.size = tuple(ids.shape)
        self._ids = ids
        self._labels = [str(i) for i in range(n)] if labels is None else list(labels)
        super().__init__(n)

    def config(self) -> dict[str, Any]:
        r"""``{"kind": "custom", "n_bands", "size", "ids", "labels"}``: the ids map in the unshifted layout."""
        return {
            "kind": self.kind,
            "n_bands": self.n_bands,
            "size": list(self.size),
            "ids": self._ids.tolist(),
            "labels": list(self._labels),
        }

    def __repr__(self) -> str:
        return f"CustomPartition(n_bands={self.n_bands}, size={self.size[0]} x {self.size[1]})"

    def labels(self) -> list[str]:
        return list(self._labels)

    def _raw_index(self, h: int, w: int) -> Tensor:
        if (h, w) != self.size:
            raise ValueError(
                f"{self!r} was given for {self.size[0]} x {self.size[1]} images, not {h} x {w}; give masks of that size"
            )
        return self._ids.clone()


def _ids_of(masks: Tensor) -> Tensor:
    r"""The ``(H, W)`` int64 id map of ``(M, H, W)`` masks or of an id map, checking cover and overlap."""
    if masks.numel() == 0:
        raise ValueError(f"masks is empty (shape {tuple(masks.shape)}); give (M, H, W) masks or an (H, W) map of ids")
    if masks.dim() == 2:
        if masks.dtype.is_floating_point or masks.dtype.is_complex or masks.dtype == torch.bool:
            raise TypeError(f"masks as a (H, W) map must hold integer player ids, got dtype {masks.dtype}")
        if bool((masks < 0).any()):
            raise ValueError("masks: player ids must be 0 or more")
        return masks.to(torch.int64)
    if masks.dim() != 3:
        raise ValueError(f"masks must be (M, H, W) masks or an (H, W) map of ids, got shape {tuple(masks.shape)}")
    m = masks.to(torch.float64)
    if not bool(((m == 0) | (m == 1)).all()):
        raise ValueError("masks must be 0/1 (or bool)")
    cover = m.sum(dim=0)
    for what, bad in (("no player", cover == 0), ("more than one player", cover > 1)):
        where = bad.nonzero()
        if where.numel():
            i, j = where[0].tolist()
            raise ValueError(
                f"masks do not partition the Fourier plane: bin ({i}, {j}) is in {what} ({int(bad.sum())} bins are); "
                "every bin must be in exactly one player"
            )
    empty = (m.flatten(1).sum(dim=1) == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"masks: mask(s) {empty[:8]} hold no bin; every player needs at least one")
    return m.argmax(dim=0)

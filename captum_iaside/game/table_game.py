r"""A game given by its table of coalition values: exact truth for estimators, without a model."""

from __future__ import annotations

import torch
from torch import Tensor

from captum_iaside._utils.coding import coalition_codes
from captum_iaside.game.protocol import check_finite_ends


class TableGame:
    r"""
    A game read from a table of every coalition's value, ``(B, 2^M)`` in the bit order of
    :func:`~captum_iaside.game.coalitions.coalition_matrix`: for evaluating estimators and designs
    offline (each lookup counts as one evaluation).

    Args:
        table (Tensor): ``(B, 2^M)`` coalition values of ``B`` images.
        target (Tensor, optional): ``(B,)`` class targets to report.
                    Default: None

    Examples::

        >>> values = SpectralGame(model, bands, x, r, ValueFunction("log_prob"), y).values(coalition_matrix(8))
        >>> PermutationShapley().estimate(TableGame(values), 30, torch.Generator())
    """

    def __init__(self, table: Tensor, target: Tensor | None = None) -> None:
        n = table.shape[-1]
        m = n.bit_length() - 1
        if table.dim() != 2 or n != 2**m or m < 1:
            raise ValueError(f"table must have shape (B, 2^M), got {tuple(table.shape)}")
        self.table = table
        self.n_images, self.n_bands = table.shape[0], m
        self.target = target
        self.evaluations = 0

    def v_empty(self) -> Tensor:
        r"""``v(∅)`` per image."""
        self.evaluations += self.n_images
        return self.table[:, 0]

    def v_full(self) -> Tensor:
        r"""``v(N)`` per image."""
        self.evaluations += self.n_images
        return self.table[:, -1]

    def check_ends(self) -> None:
        r"""Raise :class:`~captum_iaside.errors.NonFiniteValueError` if ``v(∅)`` or ``v(N)`` is not finite."""
        check_finite_ends(self.table[:, 0], self.table[:, -1], self.n_bands, "the value")

    def values(self, coalitions: Tensor | list[Tensor]) -> Tensor | list[Tensor]:
        r"""
        Values of ``(n, M)`` shared or ``(B, n, M)`` per-image 0/1 coalitions, ``(B, n)``; or of a
        list of ``B`` tensors ``(n_i, M)``, a list of ``(n_i,)``.
        """
        if isinstance(coalitions, (list, tuple)):
            out = []
            for i, rows in enumerate(coalitions):
                codes = coalition_codes(rows.to(self.table.device))
                self.evaluations += codes.numel()
                out.append(self.table[i, codes])
            return out
        codes = coalition_codes(coalitions.to(self.table.device))
        codes = codes.expand(self.n_images, -1) if codes.dim() == 1 else codes
        self.evaluations += codes.numel()
        return torch.gather(self.table, 1, codes)

r"""Coalitions as integer codes: bit ``i`` of a code is band ``i``, so equal coalitions have equal codes."""

from __future__ import annotations

import torch
from torch import Tensor

#: Largest ``M`` whose coalitions are coded as one int64.
MAX_CODED_BANDS = 62


def coalition_codes(gates: Tensor) -> Tensor:
    r"""The code of each 0/1 row of ``gates`` ``(..., M)``: ``Σ_i gates[..., i] · 2^i``, int64 ``(...)``."""
    return (gates.long() * (2 ** torch.arange(gates.shape[-1], device=gates.device))).sum(dim=-1)


def first_occurrence(codes: Tensor) -> Tensor:
    r"""``(B, n)`` bool: whether each code of ``codes`` ``(B, n)`` appears for the first time in its row."""
    order = codes.argsort(dim=1, stable=True)
    ordered = codes.gather(1, order)
    first_sorted = torch.ones_like(ordered, dtype=torch.bool)
    first_sorted[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return torch.zeros_like(first_sorted).scatter(1, order, first_sorted)

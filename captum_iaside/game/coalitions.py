r"""Coalitions of bands and the images they stand for.

A coalition ``S`` of the ``M`` bands is coded by the integer ``T = Σ_{i∈S} 2^i``. Its image is
linear in the band components, ``x_S = r + Σ_{i∈S} (x_i − r_i)``, so every coalition image is a
0/1 combination of the components of ``x − r``, computed once per batch — no FFT per coalition.
"""

from __future__ import annotations

import torch
from torch import Tensor


def coalition_matrix(n_bands: int, dtype: torch.dtype = torch.float32) -> Tensor:
    r"""
    All ``2^M`` coalitions as 0/1 rows: row ``T`` has a 1 in column ``i`` iff bit ``i`` of ``T``
    is set.

    Args:
        n_bands (int): Number of bands ``M``.
        dtype (torch.dtype, optional): Dtype of the matrix.
                    Default: ``torch.float32``

    Returns:
        *Tensor* of shape ``(2^M, M)``; row 0 is the empty coalition and row ``2^M − 1`` the
        grand coalition.
    """
    codes = torch.arange(2**n_bands)[:, None]
    return ((codes >> torch.arange(n_bands)[None, :]) & 1).to(dtype)


def compose(reference: Tensor, deltas: Tensor, gates: Tensor) -> Tensor:
    r"""
    Coalition images ``r + Σ_i g_i (x_i − r_i)`` for every image and every row of gates.

    Args:
        reference (Tensor): Baseline images ``r`` of shape ``(1 | B, C, H, W)``.
        deltas (Tensor): Band components of ``x − r``, shape ``(B, M, C, H, W)``.
        gates (Tensor): ``(P, M)`` gates shared by all images, or ``(B, P, M)`` per image;
                    0/1 for coalitions, values in between interpolate linearly.

    Returns:
        *Tensor* of shape ``(B, P, C, H, W)``.
    """
    b, m = deltas.shape[:2]
    mixed = torch.matmul(gates.to(deltas.dtype), deltas.reshape(b, m, -1))
    return reference[:, None] + mixed.reshape(b, -1, *deltas.shape[2:])

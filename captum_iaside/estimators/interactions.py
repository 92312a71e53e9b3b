r"""Pairwise interaction indices of the bands, from Möbius coefficients.

Every game has a unique Möbius transform (Harsanyi dividends), ``v(S) = Σ_{T⊆S} m(T)``, computed
from all ``2^M`` coalition values by ``m(T) = Σ_{S⊆T} (−1)^{|T|−|S|} v(S)``, and a k-additive fit
(:mod:`~captum_iaside.estimators.kernel`) estimates the ``m(T)``, ``|T| ≤ k``, directly. The indices
of a pair ``{i, j}`` are sums of the dividends of the coalitions that hold it:

- ``"Moebius"``: ``m({i, j})``, the pair's own dividend — the interaction present in the pair alone;
- ``"SII"``, the Shapley interaction index (Grabisch & Roubens, 1999):
  ``Σ_{T ⊇ {i,j}} m(T) / (|T| − 1)``, the expected interaction ``v(S∪ij) − v(S∪i) − v(S∪j) + v(S)``
  over the Shapley distribution of the coalitions ``S`` of the other bands;
- ``"STII"``, the Shapley–Taylor interaction index of order 2 (Sundararajan et al., 2020,
  https://arxiv.org/abs/1902.05622): ``Σ_{T ⊇ {i,j}} m(T) / C(|T|, 2)``, which with the main effects
  ``m({i})`` sums exactly to ``v(N) − v(∅)``.

An ``(M, M)`` matrix holds a pair's index at ``[i, j] = [j, i]`` and on its diagonal the order-1
terms of the same index: the Shapley value ``φ_i`` for SII, the main effect ``m({i})`` for STII and
the Möbius transform. For a game without interactions above order 2 the three off-diagonals agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from captum_iaside.game.coalitions import coalition_matrix

if TYPE_CHECKING:  # the estimators' base class imports this module
    from captum_iaside.estimators.base import BandShapley

#: The interaction indices by name.
INTERACTION_INDICES = ("SII", "STII", "Moebius")


@dataclass(frozen=True)
class BandInteractions:
    r"""
    Pairwise interaction indices of the bands for a batch of images, with their Shapley values.

    Attributes:
        values (Tensor): ``(B, M, M)`` float64, symmetric: the pair's index off the diagonal, the
                    index's order-1 term on it (see :mod:`~captum_iaside.estimators.interactions`).
        index (str): ``"SII"``, ``"STII"`` or ``"Moebius"``.
        shapley (BandShapley): The bands' Shapley values from the same coalitions.
    """

    values: Tensor
    index: str
    shapley: BandShapley


def check_index(index: object, order: object = 2) -> str:
    r"""``index`` as one of :data:`INTERACTION_INDICES` for ``order`` 2, or a clear error."""
    if index not in INTERACTION_INDICES:
        raise ValueError(f"index must be one of {list(INTERACTION_INDICES)}, got {index!r}")
    if isinstance(order, bool) or order != 2:
        raise ValueError(f"order must be 2 (pairwise interactions; an (M, M) matrix), got {order!r}")
    return str(index)


def moebius_transform(values: Tensor) -> Tensor:
    r"""
    Möbius coefficients ``m(T) = Σ_{S⊆T} (−1)^{|T|−|S|} v(S)`` of every coalition.

    Args:
        values (Tensor): ``(B, 2^M)`` coalition values in the bit order of
                    :func:`~captum_iaside.game.coalitions.coalition_matrix`.

    Returns:
        *Tensor* ``(B, 2^M)`` float64 in the same order (``m(∅) = v(∅)``); ``Σ_T m(T) = v(N)``.

    Examples::

        >>> moebius_transform(torch.tensor([[0.0, 1.0, 2.0, 4.0]]))   # v(∅), v({0}), v({1}), v({0, 1})
        tensor([[0., 1., 2., 1.]], dtype=torch.float64)
    """
    n = values.shape[-1]
    m = n.bit_length() - 1
    if n != 2**m:
        raise ValueError(f"values must hold 2^M coalitions in the last axis, got {n}")
    out = values.to(torch.float64).clone()
    for i in range(m):  # subtract, along each band's axis, the value without the band
        view = out.reshape(out.shape[0], 2 ** (m - 1 - i), 2, 2**i)
        view[:, :, 1] -= view[:, :, 0]
    return out


def interaction_matrix(coefficients: Tensor, terms: Tensor, index: str) -> Tensor:
    r"""
    The ``(B, M, M)`` matrix of ``index`` from Möbius coefficients.

    Args:
        coefficients (Tensor): ``(B, p)`` dividends ``m(T)`` of the coalitions ``T`` of ``terms``
                    (every non-empty one for an exact game; those up to the order of a k-additive fit).
        terms (Tensor): ``(p, M)`` 0/1 rows, the coalitions ``T``.
        index (str): ``"SII"``, ``"STII"`` or ``"Moebius"``.

    Returns:
        *Tensor* ``(B, M, M)`` float64, symmetric.
    """
    z = terms.to(device=coefficients.device, dtype=torch.float64)
    size = z.sum(dim=1)
    c = coefficients.to(torch.float64)
    pairs = z[:, :, None] * z[:, None, :]
    if index == "SII":
        pair_w, main_w = 1.0 / (size - 1).clamp(min=1), 1.0 / size.clamp(min=1)
    elif index == "STII":
        pair_w, main_w = 2.0 / (size * (size - 1)).clamp(min=1), (size == 1).to(torch.float64)
    else:
        pair_w, main_w = (size == 2).to(torch.float64), (size == 1).to(torch.float64)
    out = torch.einsum("bt,tij->bij", c * pair_w, pairs)  # singletons only reach the diagonal, replaced below
    diagonal = c @ (z * main_w[:, None])
    eye = torch.eye(z.shape[1], dtype=torch.bool, device=c.device)
    return torch.where(eye, diagonal[:, :, None].expand_as(out), out)


def shapley_from_dividends(coefficients: Tensor, terms: Tensor) -> Tensor:
    r"""The Shapley values ``φ_i = Σ_{T∋i} m(T) / |T|``, ``(B, M)``, of Möbius coefficients ``(B, p)`` on ``terms``."""
    z = terms.to(device=coefficients.device, dtype=torch.float64)
    return coefficients.to(torch.float64) @ (z / z.sum(dim=1, keepdim=True))


def exact_interactions(values: Tensor, index: str) -> Tensor:
    r"""
    The ``(B, M, M)`` matrix of ``index`` from the values of all ``2^M`` coalitions (bit order).

    Examples::

        >>> v = torch.tensor([[0.0, 1.0, 2.0, 4.0]])   # v(∅), v({0}), v({1}), v({0, 1})
        >>> exact_interactions(v, "SII")               # φ on the diagonal, the interaction 1 off it
        tensor([[[1.5000, 1.0000],
                 [1.0000, 2.5000]]], dtype=torch.float64)
    """
    m = values.shape[-1].bit_length() - 1
    return interaction_matrix(moebius_transform(values)[:, 1:], coalition_matrix(m, torch.float64)[1:], index)

r"""Exact Shapley values of the band game through its weight matrix.

With the ``2^M`` coalition values ``V`` of shape ``(B, 2^M)`` (coalition ``T`` holds band ``i``
iff bit ``i`` of ``T`` is set), the Shapley values are ``φ = V Wᵀ`` with

    ``W[i, T] = w(|T| − 1)`` if ``i ∈ T``, else ``−w(|T|)``, ``w(s) = s! (M − s − 1)! / M!``.
"""

from __future__ import annotations

import math
from functools import cache

import torch
from torch import Tensor

from captum_iaside._utils.checks import check_positive_int
from captum_iaside.estimators.base import BandShapley, ShapleyEstimator
from captum_iaside.estimators.interactions import moebius_transform
from captum_iaside.game.coalitions import coalition_matrix
from captum_iaside.game.protocol import Game

#: Largest number of bands for exact enumeration (2^12 = 4096 coalitions per image).
MAX_EXACT_BANDS = 12


def _shapley_kernel_weight(n_players: int, size: int) -> float:
    r"""``w(s) = s! (M − s − 1)! / M!``: the weight of a coalition of ``s`` other players."""
    return 1.0 / (n_players * math.comb(n_players - 1, size))


@cache
def _weights_cpu(n_bands: int) -> Tensor:
    z = coalition_matrix(n_bands, dtype=torch.float64)
    sizes = z.sum(dim=1).long()
    w = torch.tensor([_shapley_kernel_weight(n_bands, s) for s in range(n_bands)] + [0.0], dtype=torch.float64)
    w_with = w[(sizes - 1).clamp(min=0)]  # weight of T \ {i} when i ∈ T
    w_without = w[sizes]  # weight of T when i ∉ T (|T| ≤ M − 1 then)
    return (z * w_with[:, None] - (1 - z) * w_without[:, None]).T.contiguous()


def shapley_weights(n_bands: int, device: torch.device | None = None) -> Tensor:
    r"""
    The ``(M, 2^M)`` float64 matrix ``W`` with ``φ = V Wᵀ``.

    Args:
        n_bands (int): Number of players ``M`` (at most 12).
        device (torch.device, optional): Device of the matrix.
                    Default: CPU

    Returns:
        *Tensor* of shape ``(M, 2^M)``; each row sums to 0 and ``Σ_i W[i, T]`` is 1 for the
        grand coalition, −1 for the empty one and 0 otherwise (efficiency).
    """
    check_exact(n_bands)
    return _weights_cpu(n_bands).to(device or "cpu")


def exact_shapley(values: Tensor) -> Tensor:
    r"""
    Exact Shapley values from the values of all coalitions.

    Args:
        values (Tensor): ``(B, 2^M)`` coalition values in the bit order of
                    :func:`~captum_iaside.game.coalitions.coalition_matrix`.

    Returns:
        *Tensor* of shape ``(B, M)`` in float64.

    Examples::

        >>> v = torch.tensor([[0.0, 1.0, 2.0, 4.0]])   # v(∅), v({0}), v({1}), v({0, 1})
        >>> exact_shapley(v)
        tensor([[1.5000, 2.5000]], dtype=torch.float64)
    """
    n = values.shape[-1]
    m = n.bit_length() - 1
    if n != 2**m:
        raise ValueError(f"values must hold 2^M coalitions in the last axis, got {n}")
    return values.to(torch.float64) @ shapley_weights(m, values.device).T


def check_exact(n_bands: int) -> None:
    r"""Raise a clear error when exact enumeration of ``2^M`` coalitions is too large."""
    if n_bands > MAX_EXACT_BANDS:
        raise ValueError(
            f"exact Shapley values enumerate 2^M coalitions per image; M={n_bands} gives "
            f"{2**n_bands}, more than the limit of M={MAX_EXACT_BANDS} (4096). "
            "Use fewer bands (e.g. SpectralBands(8)), or a sampling estimator with a budget of "
            "evaluations per image, e.g. estimator='permutation', budget=64 * M."
        )


class ExactShapley(ShapleyEstimator):
    r"""
    Exact Shapley values from all ``2^M`` coalitions, each evaluated once: ``φ = V Wᵀ`` with the
    Shapley weight matrix ``W`` (:func:`~captum_iaside.estimators.exact.shapley_weights`).

    Examples::

        >>> est = ExactShapley()
        >>> res = est.estimate(game, None, torch.Generator())   # res.values: (B, M)
    """

    name = "exact"
    samples = False

    def minimum_budget(self, n_bands: int) -> int:
        return 2**n_bands

    def pass_weight(self, n_bands: int, budget: int | None) -> float:
        r"""Infinite: exact values replace the other pass's estimates of the same image."""
        return float("inf")

    def check(self, n_bands: int, budget: int | None) -> None:
        check_exact(n_bands)
        if budget is not None and check_positive_int(budget, "budget") < 2**n_bands:
            raise ValueError(
                f"estimator='exact' needs 2^M = {2**n_bands} evaluations per image, budget is {budget}; "
                "raise the budget or use a sampling estimator (estimator='permutation' or 'kernel')"
            )
        return None

    @property
    def gives_interactions(self) -> bool:
        return True

    def _table(self, game: Game) -> Tensor:
        r"""The values of all ``2^M`` coalitions, ``(B, 2^M)`` in bit order."""
        m = game.n_bands
        check_exact(m)
        v_empty, v_full = self._ends(game)
        inner = game.values(coalition_matrix(m)[1:-1])
        return torch.cat([v_empty[:, None], inner, v_full[:, None]], dim=1)

    def estimate(self, game: Game, budget: int | None, generator: torch.Generator) -> BandShapley:
        table = self._table(game)
        return self._result(game, exact_shapley(table), table[:, 0], table[:, -1])

    def _dividends(
        self, game: Game, budget: int | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor, BandShapley]:
        table = self._table(game)
        shapley = self._result(game, exact_shapley(table), table[:, 0], table[:, -1])
        terms = coalition_matrix(game.n_bands, torch.float64)[1:]
        return moebius_transform(table)[:, 1:], terms, shapley

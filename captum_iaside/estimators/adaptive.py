r"""The regression estimate that fits the part of the game the Shapley values depend on, and chooses its
order per image from the image's own coalitions.

The Shapley values of a game are those of its odd part ``(v(S) − v(N∖S) + v(N)) / 2``; a paired design
evaluates every coalition with its complement, so it knows that part of every coalition it draws.
:class:`AdaptiveKernelShapley` draws one paired set of coalitions, fits the odd part with the additive terms
(paired KernelSHAP) and with the additive and third-order terms (each with the ridge penalty of its
interactions that cross-validation picks), and gives each image the fit whose leave-complement-out
cross-validated error of the odd part is lowest (:mod:`~captum_iaside.estimators.regression`): no
evaluation beyond the budget, and the choice with its criterion is returned per image
(:class:`~captum_iaside.estimators.base.FitChoice`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from captum_iaside.estimators.base import BandShapley, FitChoice, ShapleyEstimator
from captum_iaside.estimators.interactions import shapley_from_dividends
from captum_iaside.estimators.kernel import regression_coalitions
from captum_iaside.estimators.regression import best_fit, n_terms, odd_terms, penalised_fits, term_matrix
from captum_iaside.game.protocol import Game

#: The largest ``M`` whose third-order fit is a candidate (``M + C(M,3)`` = 576 parameters at 16).
MAX_THIRD_ORDER_BANDS = 16

#: Cross-validated errors below this fraction of an image's largest squared value ``v(S)²`` (over its coalitions,
#: ``∅`` and ``N``) count as zero, and so as ties that the lowest order wins: prediction errors of 1e-6 of the
#: values — a few times the rounding of float32 model outputs — tell no fit from another.
TIE_RESOLUTION = 1e-12

#: Images fitted at once, as a bound on ``images × parameters × max(coalitions, parameters)`` (the memory of the
#: features and of the ``p × p`` normal matrices).
_FEATURES_PER_CHUNK = 2**24


class AdaptiveKernelShapley(ShapleyEstimator):
    r"""
    Paired k-additive regression of the odd part of each image's game, its order chosen per image from
    the image's own coalitions. The Shapley values of a game are those of its odd part
    ``(v(S) − v(N∖S) + v(N)) / 2``, which a paired design (every coalition with its complement; Covert &
    Lee, 2021, https://arxiv.org/abs/2012.01536) knows at every coalition it draws. Two fits of that part
    share one draw: the additive one (paired KernelSHAP; Lundberg & Lee, 2017) and the third-order one
    (the odd parts of the k-additive surrogate's terms of sizes 1 and 3; Pelegrina et al., 2023,
    https://arxiv.org/abs/2211.02166), whose ridge penalty on the third-order terms each image chooses by
    cross-validation. Each image keeps the fit with the lowest leave-complement-out cross-validated error of
    the odd part (:mod:`~captum_iaside.estimators.regression`); errors at the rounding level of the values
    are ties, which the additive fit wins. Choosing costs no evaluation: the whole budget is drawn once, as
    :class:`~captum_iaside.estimators.kernel.KernelShapley` draws it.

    An ordinary third-order fit spends ``C(M, 2)`` parameters on the pairwise terms, which model only the
    even part of the game, and chooses its penalty by how well it predicts both parts; fitting the odd part
    alone does neither. The third order is a candidate up to :data:`MAX_THIRD_ORDER_BANDS` bands. The
    estimate's :attr:`~captum_iaside.estimators.base.BandShapley.fits` says which fit each image took and
    the criterion of both. This is what ``estimator=None`` uses at a budget below ``2^M``
    (``benchmarks/local_estimators.py`` measures it against shapiq's and Captum's estimators on games it
    was not designed on). It gives no interaction indices (the odd part holds none of the pairwise ones):
    for those use ``KernelShapley(order=2)`` or ``order=3``.

    Examples::

        >>> ia = IASIDE(model, bands=10)
        >>> phi = ia.attribute(x, target=y, estimator=AdaptiveKernelShapley(), budget=96)
        >>> ia.estimate(x, target=y, estimator="adaptive", budget=96).fits.labels()
        ['order 3, λ=0.03', 'order 3, λ=0.1']
    """

    name = "adaptive"

    def minimum_budget(self, n_bands: int) -> int:
        return 2 + 2 * n_bands  # M pairs of coalitions; interactions beyond them are shrunk

    def orders(self, n_bands: int) -> tuple[int, ...]:
        r"""The candidate orders for ``M`` bands: 1, and 3 up to :data:`MAX_THIRD_ORDER_BANDS`."""
        return (1, 3) if n_bands <= MAX_THIRD_ORDER_BANDS else (1,)

    def estimate(self, game: Game, budget: int | None, generator: torch.Generator) -> BandShapley:
        m = game.n_bands
        orders = self.orders(m)
        gates, weights = regression_coalitions(game.n_images, m, budget - 2, generator, paired=True)
        v_empty, v_full = self._ends(game)
        values = game.values(gates)
        p = n_terms(m, orders[-1])
        chunk = max(1, _FEATURES_PER_CHUNK // (p * max(gates.shape[1], p)))
        parts = [
            _choose(
                gates[i : i + chunk],
                weights,
                values[i : i + chunk],
                v_empty[i : i + chunk],
                v_full[i : i + chunk],
                orders,
            )
            for i in range(0, game.n_images, chunk)
        ]
        phi = torch.cat([phi for phi, _ in parts])
        return self._result(game, phi, v_empty, v_full, FitChoice.concat([f for _, f in parts]))


def _choose(
    gates: Tensor, weights: Tensor, values: Tensor, v_empty: Tensor, v_full: Tensor, orders: tuple[int, ...]
) -> tuple[Tensor, FitChoice]:
    r"""The Shapley values ``(B, M)`` of every image's chosen odd-part fit, and the choice."""
    m = gates.shape[-1]
    fits = [best_fit(penalised_fits(gates, weights, values, v_empty, v_full, k, odd=True)) for k in orders]
    errors = torch.stack([f.cv_error for f in fits], dim=1)
    # errors at the rounding level of the values are ties, which the lowest order wins
    ends = torch.stack([v_empty, v_full], dim=1).to(torch.float64).abs()
    scale = torch.cat([values.to(torch.float64).abs(), ends], dim=1).amax(dim=1) ** 2
    pick = torch.maximum(errors, TIE_RESOLUTION * scale[:, None]).argmin(dim=1)  # the first on ties
    rows = torch.arange(gates.shape[0], device=pick.device)
    phi = torch.stack(
        [
            shapley_from_dividends(f.coefficients, term_matrix(m, k)[odd_terms(m, k)].to(f.coefficients.device))
            for f, k in zip(fits, orders, strict=True)
        ],
        dim=1,
    )
    shrinkage = torch.stack([f.shrinkage for f in fits], dim=1)
    order = torch.tensor(orders, dtype=torch.int64, device=pick.device)[pick]
    return phi[rows, pick], FitChoice(orders, order, shrinkage[rows, pick], errors)

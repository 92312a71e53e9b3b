r"""The regression estimate that chooses its fit per image from the image's own coalitions.

Which k-additive surrogate estimates a game's Shapley values best depends on the game: an additive fit
(KernelSHAP) for a game whose bands barely interact, a pairwise or third-order fit where interactions are
strong and the budget holds enough coalitions to estimate them — and a fixed rule of ``M`` and the budget
fails on games unlike those it was set on. :class:`AdaptiveKernelShapley` draws one set of coalitions,
fits every candidate order to it (each with its own ridge penalty) and gives each image the fit whose
leave-complement-out cross-validated error is lowest (:mod:`~captum_iaside.estimators.regression`): no
evaluation beyond the budget, and the choice with its criterion is returned per image
(:class:`~captum_iaside.estimators.base.FitChoice`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from captum_iaside.estimators.base import BandShapley, FitChoice, ShapleyEstimator
from captum_iaside.estimators.interactions import shapley_from_dividends
from captum_iaside.estimators.kernel import regression_coalitions
from captum_iaside.estimators.regression import best_fit, n_terms, penalised_fits, term_matrix
from captum_iaside.game.protocol import Game

#: The largest ``M`` whose third-order fit is a candidate (``M + C(M,2) + C(M,3)`` = 696 parameters at 16).
MAX_THIRD_ORDER_BANDS = 16

#: Cross-validated errors below this fraction of an image's largest squared value ``v(S)²`` (over its coalitions,
#: ``∅`` and ``N``) count as zero, and so as ties that the lowest order wins: prediction errors of 1e-6 of the
#: values — a few times the rounding of float32 model outputs — tell no fit from another.
TIE_RESOLUTION = 1e-12

#: Images fitted at once, as a bound on ``images × parameters × max(coalitions, parameters)`` (the memory of the
#: features and of the ``p × p`` normal matrices).
_FEATURES_PER_CHUNK = 2**24


def paired_design(n_bands: int, budget: int) -> bool:
    r"""
    Whether :class:`AdaptiveKernelShapley` draws coalitions with their complements, decided before any
    evaluation from ``M`` and the budget alone: paired once ``budget − 2`` reaches ``8M`` and half the
    third-order fit's ``M + C(M,2) + C(M,3)`` parameters (up to :data:`MAX_THIRD_ORDER_BANDS` bands), where
    the third-order fit is nearly determined and pairing cancels the even orders' part from the additive
    one; unpaired below, where draws alone inform the pairwise fit (which pairing would reduce to the
    additive one), and beyond :data:`MAX_THIRD_ORDER_BANDS` bands.
    """
    m, n = n_bands, budget - 2
    return m <= MAX_THIRD_ORDER_BANDS and n >= max(8 * m, n_terms(m, 3) / 2)


class AdaptiveKernelShapley(ShapleyEstimator):
    r"""
    k-additive regression whose order each image chooses from its own coalitions: the additive fit
    (paired KernelSHAP; Lundberg & Lee, 2017, Covert & Lee, 2021), the pairwise and the third-order fits
    (Pelegrina et al., 2023, https://arxiv.org/abs/2211.02166) are fitted to the same coalitions, each
    with the ridge penalty of its interactions that minimises its cross-validated error, and each image
    keeps the fit with the lowest leave-complement-out cross-validated error of the coalition values
    (:mod:`~captum_iaside.estimators.regression`). Choosing costs no evaluation: the whole budget is drawn
    once, as :class:`~captum_iaside.estimators.kernel.KernelShapley` draws it.

    Under a paired design the pairwise fit gives the additive fit's Shapley values, so the candidates are
    orders 1 and 3; unpaired, orders 1, 2 and 3. The third order is a candidate up to
    :data:`MAX_THIRD_ORDER_BANDS` bands. The estimate's :attr:`~captum_iaside.estimators.base.BandShapley.fits`
    says which fit each image took and the criterion of every candidate. This is what ``estimator=None``
    uses at a budget below ``2^M`` (``benchmarks/local_estimators.py`` measures it against shapiq's and
    Captum's estimators on games it was not designed on).

    Args:
        paired (bool, optional): Draw every coalition with its complement; None decides from ``M`` and the
                    budget (:func:`paired_design`).
                    Default: None

    Examples::

        >>> ia = IASIDE(model, bands=10)
        >>> phi = ia.attribute(x, target=y, estimator=AdaptiveKernelShapley(), budget=96)
        >>> ia.estimate(x, target=y, estimator="adaptive", budget=96).fits.labels()
        ['order 3, λ=0.03', 'order 3, λ=0.1']
    """

    name = "adaptive"

    def __init__(self, paired: bool | None = None) -> None:
        if paired is not None and not isinstance(paired, bool):
            raise TypeError(f"paired must be True, False or None, got {type(paired).__name__}")
        self.paired = paired

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "paired": self.paired}

    def minimum_budget(self, n_bands: int) -> int:
        return 2 + 2 * n_bands  # M pairs of coalitions; interactions beyond them are shrunk

    @property
    def gives_interactions(self) -> bool:
        return True

    def orders(self, n_bands: int, paired: bool) -> tuple[int, ...]:
        r"""The candidate orders for ``M`` bands under a paired or unpaired design."""
        third = (3,) if n_bands <= MAX_THIRD_ORDER_BANDS else ()
        return (1, *third) if paired else (1, 2, *third)

    def _dividends(self, game: Game, budget: int, generator: torch.Generator) -> tuple[Tensor, Tensor, BandShapley]:
        r"""Each image's chosen fit as Möbius coefficients on the terms of the highest candidate order."""
        m = game.n_bands
        paired = paired_design(m, budget) if self.paired is None else self.paired
        orders = self.orders(m, paired)
        gates, weights = regression_coalitions(game.n_images, m, budget - 2, generator, paired)
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
                paired,
            )
            for i in range(0, game.n_images, chunk)
        ]
        coef = torch.cat([c for c, _ in parts])
        terms = term_matrix(m, orders[-1]).to(coef.device)  # the terms of the highest order, p of them
        choice = FitChoice.concat([f for _, f in parts])
        phi = shapley_from_dividends(coef, terms)
        return coef, terms, self._result(game, phi, v_empty, v_full, choice)

    def estimate(self, game: Game, budget: int | None, generator: torch.Generator) -> BandShapley:
        return self._dividends(game, budget, generator)[2]


def _choose(
    gates: Tensor,
    weights: Tensor,
    values: Tensor,
    v_empty: Tensor,
    v_full: Tensor,
    orders: tuple[int, ...],
    paired: bool,
) -> tuple[Tensor, FitChoice]:
    r"""
    The chosen fit of every image, as its Möbius coefficients padded to the terms of ``orders[-1]``
    ``(B, p)``, and the choice.
    """
    m = gates.shape[-1]
    p = n_terms(m, orders[-1])
    fits = [best_fit(penalised_fits(gates, weights, values, v_empty, v_full, k)) for k in orders]
    errors = torch.stack([f.cv_error for f in fits], dim=1)
    # errors at the rounding level of the values are ties, which the lowest order wins
    ends = torch.stack([v_empty, v_full], dim=1).to(torch.float64).abs()
    scale = torch.cat([values.to(torch.float64).abs(), ends], dim=1).amax(dim=1) ** 2
    pick = torch.maximum(errors, TIE_RESOLUTION * scale[:, None]).argmin(dim=1)  # the first on ties
    rows = torch.arange(gates.shape[0], device=pick.device)
    coef = torch.stack([torch.nn.functional.pad(f.coefficients, (0, p - f.coefficients.shape[1])) for f in fits], 1)
    shrinkage = torch.stack([f.shrinkage for f in fits], dim=1)
    order = torch.tensor(orders, dtype=torch.int64, device=pick.device)[pick]
    return coef[rows, pick], FitChoice(orders, paired, order, shrinkage[rows, pick], errors)

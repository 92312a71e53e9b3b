r"""Estimators of the bands' Shapley values: pass a game and a budget, receive :class:`BandShapley`.

Every estimator is a :class:`ShapleyEstimator` with one method that matters,
``estimate(game, budget, generator) -> BandShapley``: it may call only what the
:class:`~captum_iaside.game.Game` protocol declares, never spends more than ``budget`` coalition
evaluations per image, and returns values that satisfy efficiency exactly. One family per module —
:mod:`~captum_iaside.estimators.exact` (all ``2^M`` coalitions), :mod:`~captum_iaside.estimators.permutation`
(antithetic and stratified permutations), :mod:`~captum_iaside.estimators.kernel` (k-additive
regressions of a fixed order: KernelSHAP and its higher orders) and
:mod:`~captum_iaside.estimators.adaptive` (the order chosen per image from its own coalitions) — each
holding its pure tensor kernels and its estimator class, the regressions sharing the fits and their
cross-validated errors of :mod:`~captum_iaside.estimators.regression`;
:mod:`~captum_iaside.estimators.selection` names them and makes the automatic choice.
Exact enumeration and the k-additive fits also give pairwise interaction indices from the same
coalitions (``estimate_interactions(game, budget, generator, index) -> BandInteractions``;
:mod:`~captum_iaside.estimators.interactions`).
"""

from captum_iaside.estimators.adaptive import AdaptiveKernelShapley
from captum_iaside.estimators.base import BandShapley, FitChoice, ShapleyEstimator
from captum_iaside.estimators.exact import MAX_EXACT_BANDS, ExactShapley, exact_shapley, shapley_weights
from captum_iaside.estimators.interactions import (
    INTERACTION_INDICES,
    BandInteractions,
    exact_interactions,
    interaction_matrix,
    moebius_transform,
)
from captum_iaside.estimators.kernel import KernelShapley
from captum_iaside.estimators.permutation import PermutationShapley
from captum_iaside.estimators.selection import ESTIMATORS, best_local_estimator, resolve_estimator

__all__ = [
    "AdaptiveKernelShapley",
    "ESTIMATORS",
    "FitChoice",
    "INTERACTION_INDICES",
    "BandInteractions",
    "MAX_EXACT_BANDS",
    "BandShapley",
    "ExactShapley",
    "KernelShapley",
    "PermutationShapley",
    "ShapleyEstimator",
    "best_local_estimator",
    "exact_interactions",
    "exact_shapley",
    "interaction_matrix",
    "moebius_transform",
    "resolve_estimator",
    "shapley_weights",
]

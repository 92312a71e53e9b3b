r"""Estimators by name, and the automatic choice of ``estimator=None`` for a budget."""

from __future__ import annotations

from collections.abc import Callable

from captum_iaside._utils.checks import check_positive_int
from captum_iaside.estimators.adaptive import AdaptiveKernelShapley
from captum_iaside.estimators.base import ShapleyEstimator
from captum_iaside.estimators.exact import MAX_EXACT_BANDS, ExactShapley
from captum_iaside.estimators.kernel import KernelShapley
from captum_iaside.estimators.permutation import (
    PermutationShapley,
)

#: The estimators ``estimator=`` accepts by name.
ESTIMATORS: dict[str, Callable[[], ShapleyEstimator]] = {
    "exact": ExactShapley,
    "permutation": PermutationShapley,
    "kernel": KernelShapley,
    "kadd": lambda: KernelShapley(order=2, paired=False),
    "kadd3": lambda: KernelShapley(order=3),
    "adaptive": AdaptiveKernelShapley,
}


def stratified_permutation_estimator() -> PermutationShapley:
    r"""The per-image estimator of the global design: stratified permutations."""
    return PermutationShapley(antithetic=False, stratified=True)


def as_estimator(estimator: str | ShapleyEstimator | None) -> ShapleyEstimator | None:
    r"""An estimator object from a name of :data:`ESTIMATORS` or an object (None stays None)."""
    if estimator is None or isinstance(estimator, ShapleyEstimator):
        return estimator
    if isinstance(estimator, str):
        if estimator not in ESTIMATORS:
            raise ValueError(f"unknown estimator {estimator!r}; expected one of {list(ESTIMATORS)} or None")
        return ESTIMATORS[estimator]()
    raise TypeError(
        f"estimator must be a name ({', '.join(ESTIMATORS)}), a ShapleyEstimator or None, "
        f"got {type(estimator).__name__}"
    )


def resolve_estimator(
    estimator: str | ShapleyEstimator | None, budget: int | None, n_bands: int
) -> tuple[ShapleyEstimator, int | None]:
    r"""
    Turn ``estimator`` and ``budget`` (evaluations per image) into a checked estimator object.

    None means exact enumeration without a budget, else :func:`best_local_estimator` for the
    budget.

    Args:
        estimator (str, ShapleyEstimator or None): A name of :data:`ESTIMATORS`, an estimator
                    object, or None (automatic).
        budget (int, optional): Evaluations per image.
        n_bands (int): ``M``.

    Returns:
        ``(estimator, budget)`` with ``budget`` None for exact enumeration.
    """
    est = as_estimator(estimator)
    if est is None:
        est = ExactShapley() if budget is None else best_local_estimator(n_bands, check_positive_int(budget, "budget"))
    return est, est.check(n_bands, budget)


def best_local_estimator(n_bands: int, budget: int) -> ShapleyEstimator:
    r"""
    The estimator of ``estimator=None`` for ``budget`` evaluations per image: exact when ``2^M`` fits (up
    to ``M`` = 12); antithetic permutations below ``2M + 2`` (too few coalitions for a regression); else
    :class:`~captum_iaside.estimators.adaptive.AdaptiveKernelShapley`, which chooses each image's fit from
    its own coalitions (measured in ``benchmarks/local_estimators.py`` on games it was not designed on).
    """
    m = n_bands
    if m <= MAX_EXACT_BANDS and 2**m <= budget:
        return ExactShapley()
    if budget < 2 * m + 2:
        return PermutationShapley()
    return AdaptiveKernelShapley()


def interaction_estimator(
    estimator: str | ShapleyEstimator | None, budget: int | None, n_bands: int
) -> ShapleyEstimator:
    r"""
    The estimator of interaction indices: None means exact enumeration without a budget (``M`` ≤ 12) or
    where ``2^M`` fits it, else the pairwise k-additive fit of unpaired draws (``"kadd"``; the automatic
    per-image estimator fits the odd part of the game, which holds no pairwise interaction). An estimator
    without interactions (permutations, KernelSHAP, ``"adaptive"``) is refused. The budget itself is
    checked by the caller (a global run may derive it from ``max_evaluations``).

    Raises:
        ValueError: for ``M`` above the exact limit without a budget, or an estimator that gives no
            interactions.
    """
    est = as_estimator(estimator)
    if est is None:
        if budget is None:
            if n_bands > MAX_EXACT_BANDS:
                raise ValueError(
                    f"interactions of M={n_bands} players need a budget: exact enumeration stops at "
                    f"M={MAX_EXACT_BANDS} (2^M coalitions per image); pass budget=... (evaluations per image) "
                    "for a k-additive fit"
                )
            est = ExactShapley()
        else:
            est = best_local_estimator(n_bands, check_positive_int(budget, "budget"))
            if not est.gives_interactions:
                est = KernelShapley(order=2, paired=False)
    est.check_interactions()
    return est


def resolve_interaction_estimator(
    estimator: str | ShapleyEstimator | None, budget: int | None, n_bands: int
) -> tuple[ShapleyEstimator, int | None]:
    r"""
    :func:`interaction_estimator` with the budget checked for it, as :func:`resolve_estimator` returns it.
    """
    est = interaction_estimator(estimator, budget, n_bands)
    return est, est.check(n_bands, budget)

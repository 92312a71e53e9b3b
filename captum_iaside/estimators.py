r"""Shapley estimators as objects with one interface: each receives the game of a batch.

An estimator spends a ``budget`` of model evaluations per image (the grand and empty coalitions
included; None for exact enumeration) and returns a :class:`BandShapley`. All of them satisfy
efficiency, ``Σ_i φ_i = v(N) − v(∅)``, exactly, and draw their coalitions from the generator they
are given, so two games handed the same generator state see the same coalitions (common random
numbers, as :func:`~captum_iaside.compare.compare_global` needs).

- :class:`ExactShapley` — all ``2^M`` coalitions (``M ≤ 12``).
- :class:`PermutationShapley` — permutation sampling, antithetic (each permutation with its
  reverse) or stratified (every band at every position equally often across the images of a
  batch); the global design of :func:`~captum_iaside.design.plan_global` uses the stratified form.
- :class:`KernelShapley` — paired KernelSHAP with the efficiency constraint.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from captum_iaside.coalitions import coalition_matrix
from captum_iaside.regression import regression_coalitions, regression_shapley
from captum_iaside.sampling import (
    antithetic_permutations,
    permutation_shapley,
    prefix_coalitions,
    random_permutations,
    stratified_permutations,
)
from captum_iaside.shapley import MAX_EXACT_BANDS, check_exact, exact_shapley


class Game(Protocol):
    r"""What an estimator needs of a game (:class:`~captum_iaside.game.SpectralGame` is one)."""

    n_images: int
    n_bands: int
    target: Tensor | None
    evaluations: int

    def v_empty(self) -> Tensor: ...

    def v_full(self) -> Tensor: ...

    def values(self, coalitions: Tensor) -> Tensor: ...


@dataclass(frozen=True)
class BandShapley:
    r"""
    Shapley values of the bands for a batch of images.

    Attributes:
        values (Tensor): ``φ``, ``(B, M)`` float64.
        v_empty (Tensor): ``v(∅)``, the values of the baseline images, ``(B,)`` float64.
        v_full (Tensor): ``v(N)``, the values of the unperturbed images, ``(B,)`` float64.
        target (Tensor, optional): The class targets used, ``(B,)`` int64 (None for a model with
                    one output per image).
        evaluations (int): Model evaluations (images through the model) the game of the batch
                    spent, the label-free forward that found the predicted class included.
    """

    values: Tensor
    v_empty: Tensor
    v_full: Tensor
    target: Tensor | None
    evaluations: int

    @property
    def delta(self) -> Tensor:
        r"""Efficiency gap ``Σ_i φ_i − (v(N) − v(∅))`` per image (zero up to rounding)."""
        return self.values.sum(dim=1) - (self.v_full - self.v_empty)


def _int_budget(budget: Any) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be a positive int, got {budget!r}")
    return budget


class ShapleyEstimator(ABC):
    r"""
    Interface of the estimators: ``estimate(game, budget, generator) -> BandShapley``.

    Subclasses set :attr:`name` and implement :meth:`estimate` and :meth:`minimum_budget`.
    """

    #: Name used in configurations, reports and the ``estimator=`` argument.
    name: str = "estimator"

    @abstractmethod
    def minimum_budget(self, n_bands: int) -> int:
        r"""The smallest number of evaluations per image this estimator can work with."""

    def check(self, n_bands: int, budget: int | None) -> int | None:
        r"""
        Validate ``budget`` (evaluations per image) for ``n_bands`` bands and return it.

        Raises:
            ValueError: naming the budget and the smallest one that works.
        """
        if budget is None:
            raise ValueError(f"estimator={self.name!r} needs a budget (coalition evaluations per image)")
        budget = _int_budget(budget)
        least = self.minimum_budget(n_bands)
        if budget < least:
            raise ValueError(
                f"budget={budget} is too small for estimator={self.name!r} with M={n_bands}: the minimum is {least}"
            )
        return budget

    @abstractmethod
    def estimate(self, game: Game, budget: int | None, generator: torch.Generator) -> BandShapley:
        r"""
        Shapley values of the bands of every image of ``game``.

        Args:
            game (Game): The game of a batch.
            budget (int, optional): Evaluations per image (grand and empty coalitions
                        included), as returned by :meth:`check`.
            generator (torch.Generator): Source of all random draws.

        Returns:
            :class:`BandShapley`.
        """

    def config(self) -> dict[str, Any]:
        r"""JSON-serialisable description."""
        return {"name": self.name}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ShapleyEstimator) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.config().items())))

    @staticmethod
    def _ends(game: Game) -> tuple[Tensor, Tensor]:
        v_empty, v_full = game.v_empty(), game.v_full()
        check_ends = getattr(game, "check_ends", None)
        if check_ends is not None:
            check_ends()
        return v_empty, v_full

    @staticmethod
    def _result(game: Game, phi: Tensor, v_empty: Tensor, v_full: Tensor) -> BandShapley:
        return BandShapley(phi, v_empty, v_full, game.target, game.evaluations)


class ExactShapley(ShapleyEstimator):
    r"""
    Exact Shapley values from all ``2^M`` coalitions, each evaluated once: ``φ = V Wᵀ`` with the
    Shapley weight matrix ``W`` (:func:`~captum_iaside.shapley.shapley_weights`).

    Examples::

        >>> est = ExactShapley()
        >>> res = est.estimate(game, None, torch.Generator())   # res.values: (B, M)
    """

    name = "exact"

    def minimum_budget(self, n_bands: int) -> int:
        return 2**n_bands

    def check(self, n_bands: int, budget: int | None) -> None:
        check_exact(n_bands)
        if budget is not None and _int_budget(budget) < 2**n_bands:
            raise ValueError(
                f"estimator='exact' needs 2^M = {2**n_bands} evaluations per image, budget is {budget}; "
                "raise the budget or use a sampling estimator (estimator='permutation' or 'kernel')"
            )
        return None

    def estimate(self, game: Game, budget: int | None, generator: torch.Generator) -> BandShapley:
        m = game.n_bands
        check_exact(m)
        v_empty, v_full = self._ends(game)
        inner = game.values(coalition_matrix(m)[1:-1])
        phi = exact_shapley(torch.cat([v_empty[:, None], inner, v_full[:, None]], dim=1))
        return self._result(game, phi, v_empty, v_full)


class PermutationShapley(ShapleyEstimator):
    r"""
    Permutation sampling: the mean marginal contribution of each band along random orders of
    the bands. A permutation visits ``M − 1`` coalitions between ``∅`` and ``N``; a coalition
    that an earlier permutation of the same image visited is not evaluated again, and the
    permutations continue until the budget of ``b`` evaluations per image is spent (at most
    ``M − 2`` evaluations are left over).

    Args:
        antithetic (bool, optional): Pair every permutation with its reverse (Mitchell et al.,
                    2022, https://arxiv.org/abs/2104.12199), which makes the two estimates
                    negatively correlated.
                    Default: True
        stratified (bool, optional): Stratify positions over the images of a batch: in every
                    group of ``M`` consecutive permutations each band sits at each position
                    once (:func:`~captum_iaside.sampling.stratified_permutations`). Cuts the
                    variance of a mean over images; each per-image estimate stays unbiased.
                    Every image then gets ``(b − 2) // (M − 1)`` permutations.
                    Default: False

    Examples::

        >>> IASIDE(model, bands=16).attribute(x, target=y, estimator=PermutationShapley(), budget=256)
    """

    name = "permutation"

    def __init__(self, antithetic: bool = True, stratified: bool = False) -> None:
        if antithetic and stratified:
            raise ValueError("choose antithetic or stratified permutations, not both")
        self.antithetic = bool(antithetic)
        self.stratified = bool(stratified)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "antithetic": self.antithetic, "stratified": self.stratified}

    def minimum_budget(self, n_bands: int) -> int:
        return 2 + (2 if self.antithetic else 1) * (n_bands - 1)

    def n_permutations(self, n_bands: int, budget: int) -> int:
        r"""Whole permutations that fit in ``budget`` without counting repeated coalitions."""
        p = (budget - 2) // (n_bands - 1)
        return p - p % 2 if self.antithetic else p

    def _draw(self, b: int, m: int, p: int, generator: torch.Generator) -> Tensor:
        if self.stratified:
            return stratified_permutations(b, m, p, generator)
        if self.antithetic:
            return antithetic_permutations(b, m, p + p % 2, generator)[:, : p + p % 2]
        return random_permutations((b, p), m, generator)

    def estimate(self, game: Game, budget: int | None, generator: torch.Generator) -> BandShapley:
        m, b = game.n_bands, game.n_images
        inner = budget - 2
        whole = self.n_permutations(m, budget)
        if self.stratified or m > _MAX_CODED_BANDS:
            perms = self._draw(b, m, whole, generator)
            used = torch.full((b,), whole, dtype=torch.int64)
        else:  # more permutations than whole ones fit: repeated coalitions cost nothing
            perms = self._draw(b, m, 4 * max(whole, 2), generator)
            used = _permutations_within(perms, inner)
        v_empty, v_full = self._ends(game)
        values = _distinct_values(game, prefix_coalitions(perms), used * (m - 1))
        phi = permutation_shapley(perms, values, v_empty, v_full, used)
        return self._result(game, phi, v_empty, v_full)


class KernelShapley(ShapleyEstimator):
    r"""
    Regression estimates: paired KernelSHAP (``order=1``; Lundberg & Lee, 2017; Covert & Lee,
    2021, https://arxiv.org/abs/2012.01536) or the k-additive fit of interactions up to order 2
    or 3 (Pelegrina et al., 2023, https://arxiv.org/abs/2211.02166), all under the efficiency
    constraint. Coalition sizes that the budget covers are enumerated completely; the others draw
    distinct coalitions without replacement, each with its complement or alone
    (:mod:`captum_iaside.regression`). Each coalition is evaluated once and the whole budget is
    spent. The interactions of a k-additive fit carry a ridge penalty that each image chooses by
    generalised cross-validation, so ``order=2`` and ``3`` run at any budget of ``2M + 2`` or
    more: with few coalitions they shrink towards the additive fit, with many they become the
    plain k-additive fit.

    Pairing suits the additive and the third-order fits; under pairing the pairwise fit gives
    exactly the additive fit's values (both are exact for games without interactions above order
    2), so ``"kadd"`` draws unpaired coalitions. ``estimator=None`` picks the unpaired pairwise
    fit at small budgets and the paired third-order fit at larger ones
    (:func:`best_local_estimator`, measured in ``benchmarks/local_estimators.py``). A regression
    estimate is not unbiased at small budgets: for a global run, where biases do not average out
    over images, the automatic design uses permutations.

    Args:
        order (int, optional): ``k`` of the surrogate game: 1 (additive), 2 (pairwise
                    interactions; exact for games without higher-order interactions) or 3.
                    Default: 1
        paired (bool, optional): Draw every coalition with its complement.
                    Default: True

    Examples::

        >>> IASIDE(model, bands=12).attribute(x, target=y, estimator=KernelShapley(order=3), budget=384)
        >>> IASIDE(model, bands=12).attribute(x, target=y, estimator=KernelShapley(2, paired=False), budget=64)
    """

    name = "kernel"

    def __init__(self, order: int = 1, paired: bool = True) -> None:
        if order not in (1, 2, 3):
            raise ValueError(f"order must be 1, 2 or 3, got {order!r}")
        if not isinstance(paired, bool):
            raise TypeError(f"paired must be True or False, got {type(paired).__name__}")
        self.order, self.paired = order, paired

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "order": self.order, "paired": self.paired}

    def minimum_budget(self, n_bands: int) -> int:
        return 2 + 2 * n_bands  # M pairs of coalitions; interactions beyond them are shrunk

    def estimate(self, game: Game, budget: int | None, generator: torch.Generator) -> BandShapley:
        gates, weights = regression_coalitions(game.n_images, game.n_bands, budget - 2, generator, self.paired)
        v_empty, v_full = self._ends(game)
        values = game.values(gates)
        phi = regression_shapley(gates, weights, values, v_empty, v_full, self.order)
        return self._result(game, phi, v_empty, v_full)


#: Largest ``M`` whose coalitions are coded as one int64 (to find repeated ones).
_MAX_CODED_BANDS = 62


def _permutations_within(perms: Tensor, n_coalitions: int) -> Tensor:
    r"""
    Per image, how many leading permutations of ``perms`` ``(B, P, M)`` visit at most
    ``n_coalitions`` distinct coalitions between ``∅`` and ``N``: ``(B,)`` int64.
    """
    b, p, m = perms.shape
    codes = _codes(prefix_coalitions(perms)).reshape(b, p * (m - 1))
    new = _first_occurrence(codes).reshape(b, p, m - 1).sum(dim=2).cumsum(dim=1)  # distinct so far
    return (new <= n_coalitions).sum(dim=1)


def _distinct_values(game: Game, gates: Tensor, counts: Tensor) -> Tensor:
    r"""
    Values of the first ``counts[i]`` rows of ``gates[i]`` ``(B, n, M)``, each distinct coalition
    of an image evaluated once; ``(B, n)`` (zeros past ``counts``).
    """
    b, n, m = gates.shape
    if m > _MAX_CODED_BANDS:
        return game.values(gates[:, : int(counts.max())]) if b else gates.new_zeros(b, n)
    codes = _codes(gates)
    rows, inverses = [], []
    for i in range(b):
        unique, inverse = torch.unique(codes[i, : int(counts[i])], return_inverse=True)
        rows.append(((unique[:, None] >> torch.arange(m)) & 1).to(gates.dtype))
        inverses.append(inverse)
    distinct = game.values(rows)
    out = torch.zeros(b, n, dtype=torch.float64, device=distinct[0].device if distinct else None)
    for i in range(b):
        out[i, : int(counts[i])] = distinct[i][inverses[i].to(distinct[i].device)]
    return out


def _codes(gates: Tensor) -> Tensor:
    return (gates.long() * (2 ** torch.arange(gates.shape[-1]))).sum(dim=-1)


def _first_occurrence(codes: Tensor) -> Tensor:
    r"""``(B, n)`` bool: whether each code appears for the first time in its row."""
    b, n = codes.shape
    order = codes.argsort(dim=1, stable=True)
    ordered = codes.gather(1, order)
    first_sorted = torch.ones_like(ordered, dtype=torch.bool)
    first_sorted[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return torch.zeros_like(first_sorted).scatter(1, order, first_sorted)


#: The estimators ``estimator=`` accepts by name.
ESTIMATORS: dict[str, Callable[[], ShapleyEstimator]] = {
    "exact": ExactShapley,
    "permutation": PermutationShapley,
    "kernel": KernelShapley,
    "kadd": lambda: KernelShapley(order=2, paired=False),
    "kadd3": lambda: KernelShapley(order=3),
}


def stratified_design() -> PermutationShapley:
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
        est = ExactShapley() if budget is None else best_local_estimator(n_bands, _int_budget(budget))
    return est, est.check(n_bands, budget)


def best_local_estimator(n_bands: int, budget: int) -> ShapleyEstimator:
    r"""
    The estimator of ``estimator=None`` for ``budget`` evaluations per image, chosen from
    ``benchmarks/local_estimators.py`` (measured at ``M`` = 6 to 16): exact when ``2^M`` fits;
    antithetic permutations below ``2M + 2`` (too few for a regression); paired KernelSHAP while
    fewer than ``M`` coalitions are left beyond the sizes 1 and ``M − 1``; the paired third-order
    fit once ``budget − 2`` reaches ``8M`` and half its ``M + C(M,2) + C(M,3)`` parameters (up to
    ``M = 16``); the unpaired pairwise fit otherwise.
    """
    m = n_bands
    if m <= MAX_EXACT_BANDS and 2**m <= budget:
        return ExactShapley()
    if budget < 2 * m + 2:
        return PermutationShapley()
    if budget - 2 < 3 * m:
        return KernelShapley()
    parameters = sum(math.comb(m, k) for k in (1, 2, 3))
    if m <= 16 and budget - 2 >= max(8 * m, parameters / 2):
        return KernelShapley(order=3)
    return KernelShapley(order=2, paired=False)

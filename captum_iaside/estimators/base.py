r"""The estimator interface: pass a game and a budget, receive the bands' Shapley values."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_iaside._utils.checks import check_positive_int
from captum_iaside.estimators.interactions import BandInteractions, interaction_matrix
from captum_iaside.game.protocol import Game


@dataclass(frozen=True)
class FitChoice:
    r"""
    Which regression fit each image's Shapley values come from, and the criterion that chose it
    (:class:`~captum_iaside.estimators.adaptive.AdaptiveKernelShapley`).

    Attributes:
        orders (tuple of int): The candidate orders ``k`` of the k-additive fits, one per column of
                    :attr:`cv_errors` (1: KernelSHAP).
        order (Tensor): ``(B,)`` int64, the order each image's fit has.
        shrinkage (Tensor): ``(B,)`` float64, the ridge penalty ``λ`` of its interaction terms.
        cv_errors (Tensor): ``(B, K)`` float64, the leave-complement-out cross-validated error of each
                    candidate's best penalty (:mod:`~captum_iaside.estimators.regression`); each image
                    takes the lowest.
    """

    orders: tuple[int, ...]
    order: Tensor
    shrinkage: Tensor
    cv_errors: Tensor

    @classmethod
    def concat(cls, parts: list[FitChoice]) -> FitChoice:
        r"""The choices of consecutive groups of images (of the same candidates) as one."""
        return cls(
            parts[0].orders,
            torch.cat([f.order for f in parts]),
            torch.cat([f.shrinkage for f in parts]),
            torch.cat([f.cv_errors for f in parts]),
        )

    def labels(self) -> list[str]:
        r"""A short name of each image's fit, e.g. ``"order 3, λ=0.01"`` (``"order 1"`` for KernelSHAP)."""
        return [
            f"order {k}" if k == 1 else f"order {k}, λ={lam:g}"
            for k, lam in zip(self.order.tolist(), self.shrinkage.tolist(), strict=True)
        ]


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
        fits (FitChoice, optional): For an estimator that chooses its fit per image, which fit each
                    image took and why (None otherwise).
    """

    values: Tensor
    v_empty: Tensor
    v_full: Tensor
    target: Tensor | None
    evaluations: int
    fits: FitChoice | None = None

    @property
    def delta(self) -> Tensor:
        r"""Efficiency gap ``Σ_i φ_i − (v(N) − v(∅))`` per image (zero up to rounding)."""
        return self.values.sum(dim=1) - (self.v_full - self.v_empty)


class ShapleyEstimator(ABC):
    r"""
    Interface of the estimators: ``estimate(game, budget, generator) -> BandShapley``.

    Subclasses set :attr:`name` and implement :meth:`estimate` and :meth:`minimum_budget`.
    """

    #: Name used in configurations, reports and the ``estimator=`` argument.
    name: str = "estimator"
    #: Whether the estimator samples within a budget of evaluations per image (exact enumeration does not).
    samples: bool = True

    def pass_weight(self, n_bands: int, budget: int | None) -> float:
        r"""
        The weight of one image's estimate at ``budget`` when the estimates of two passes over the data are
        averaged (their precision's proxy): the evaluations it spent, unless a subclass knows better.
        """
        return float(budget)

    @property
    def gives_interactions(self) -> bool:
        r"""Whether :meth:`estimate_interactions` works (exact enumeration and k-additive fits of order 2 or 3)."""
        return False

    def check_interactions(self) -> None:
        r"""Raise a ``ValueError`` naming the estimator when it gives no interaction indices."""
        if not self.gives_interactions:
            raise ValueError(
                f"estimator={self!r} gives no interaction indices; use estimator='exact' (M <= 12) or a k-additive "
                "fit with a budget, KernelShapley(order=2) or KernelShapley(order=3) (estimator='kadd' or 'kadd3')"
            )

    def estimate_interactions(
        self, game: Game, budget: int | None, generator: torch.Generator, index: str
    ) -> BandInteractions:
        r"""
        Pairwise interaction indices and Shapley values of the bands of every image of ``game``, from
        the same coalitions (:mod:`~captum_iaside.estimators.interactions`).

        Args:
            game (Game): The game of a batch.
            budget (int, optional): Evaluations per image, as returned by :meth:`check`.
            generator (torch.Generator): Source of all random draws.
            index (str): ``"SII"``, ``"STII"`` or ``"Moebius"``.

        Returns:
            :class:`~captum_iaside.estimators.interactions.BandInteractions`.
        """
        self.check_interactions()
        coefficients, terms, shapley = self._dividends(game, budget, generator)
        return BandInteractions(interaction_matrix(coefficients, terms, index), index, shapley)

    def _dividends(
        self, game: Game, budget: int | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor, BandShapley]:
        r"""
        The Möbius coefficients ``(B, p)`` of every image's game on the coalitions ``(p, M)`` they are
        estimated for, and the Shapley values of the same evaluations: what :meth:`estimate_interactions`
        reads every index from. The estimators whose :attr:`gives_interactions` holds define it.
        """
        raise TypeError(f"{type(self).__name__} estimates no Möbius coefficients")

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
        budget = check_positive_int(budget, "budget")
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
        game.check_ends()
        return v_empty, v_full

    @staticmethod
    def _result(game: Game, phi: Tensor, v_empty: Tensor, v_full: Tensor, fits: FitChoice | None = None) -> BandShapley:
        return BandShapley(phi, v_empty, v_full, game.target, game.evaluations, fits)

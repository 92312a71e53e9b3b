r"""Regression estimates of Shapley values: which coalitions, with which weights, and the fixed-order estimator.

KernelSHAP (Lundberg & Lee, 2017) fits an additive surrogate ``v(S) − v(∅) ≈ Σ_{i∈S} φ_i`` by least
squares with the Shapley kernel weights under the efficiency constraint ``Σ φ_i = v(N) − v(∅)``;
its solution over all coalitions is exactly the Shapley value. k-additive regression (Pelegrina et
al., 2023, https://arxiv.org/abs/2211.02166) fits the Möbius coefficients ``m(T)``, ``|T| ≤ k``, of
a k-additive game instead and reads the Shapley values off them, ``φ_i = Σ_{T∋i} m(T) / |T|``:
exact for any game whose interactions stop at order ``k``. Its interactions carry a ridge penalty
chosen per image by leave-complement-out cross-validation, so the fit moves between the k-additive one
(many coalitions per parameter) and one close to the additive fit (few), and runs with fewer coalitions
than parameters. The fits themselves are :mod:`~captum_iaside.estimators.regression`'s.

Which coalitions: the Shapley kernel gives all coalitions of size ``s`` the weight
``q_s ∝ 1 / (s (M − s))``. The sizes 1 and ``M − 1`` come first (as k-additive regression
prioritises its border sizes); then sizes whose share of the budget would cover all their
``C(M, s)`` coalitions are enumerated completely, from the extreme sizes inwards (the "border
trick" of Fumagalli et al., 2023, https://arxiv.org/abs/2303.01179); the budget left is shared among
the other sizes (paired: the pairs of sizes ``{s, M − s}``) in proportion to ``q_s``, a size whose
coalitions run out passing its share on, and each draws distinct coalitions of its size uniformly
without replacement — each paired with its complement (Covert & Lee, 2021), or alone. Every
coalition is evaluated once; a sampled coalition of size ``s`` carries the weight ``q_s / n_s`` of
the ``n_s`` drawn.

Paired or not: pairing cancels the even-order part of the game from the additive fit (paired
KernelSHAP is exact for games with pairwise interactions) and suits the additive and third-order
fits; the pairwise fit needs unpaired coalitions, since under pairing it gives the additive fit's
values.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import torch
from torch import Tensor

from captum_iaside._utils.coding import coalition_codes, first_occurrence
from captum_iaside.estimators.base import BandShapley, ShapleyEstimator
from captum_iaside.estimators.interactions import shapley_from_dividends
from captum_iaside.estimators.regression import regression_moebius, term_matrix
from captum_iaside.game.protocol import Game


def size_plan(n_bands: int, n_coalitions: int, paired: bool = True) -> tuple[list[int], dict[int, int]]:
    r"""
    How ``n_coalitions`` coalitions (besides ``∅`` and ``N``) are spread over sizes.

    The sizes 1 and ``M − 1`` are enumerated first whenever the budget holds all ``2M`` of them:
    with ``v(∅)`` and ``v(N)`` they give every band's first and last marginal contribution, whose
    mean is already the exact Shapley value of a game with pairwise interactions only. Then the
    border trick: a size (with ``paired``, a pair of sizes ``{s, M − s}``) whose share of the
    budget (in proportion to the kernel weight ``q_s ∝ 1 / (s (M − s))``) covers all its
    coalitions is enumerated, extreme sizes first, until none is; the budget left is shared among
    the other sizes (pairs) in proportion to ``q_s``; what a size cannot take, having too few
    coalitions, goes to the others, so the whole budget is drawn whenever it can be.

    Args:
        n_bands (int): ``M``.
        n_coalitions (int): Coalitions to spend.
        paired (bool, optional): Draw every coalition with its complement.
                    Default: True

    Returns:
        ``(complete, sampled)``: the sizes enumerated completely, and size → number drawn for the
        others (with ``paired``: pairs, the same number for ``s`` and ``M − s``).
    """
    m = n_bands
    q = {s: 1.0 / (s * (m - s)) for s in range(1, m)}
    # the units of the plan: pairs of sizes {s, M − s} represented by s ≤ M/2, or single sizes
    groups = {s: sorted({s, m - s}) for s in range(1, m // 2 + 1)} if paired else {s: [s] for s in range(1, m)}

    def count(s: int) -> int:
        return sum(math.comb(m, t) for t in groups[s])

    left = list(groups)
    complete: list[int] = []
    budget = n_coalitions
    if m > 2 and budget >= 2 * m:
        complete, budget = [1, m - 1], budget - 2 * m
        left = [s for s in left if not {1, m - 1} & set(groups[s])]
    changed = True
    while changed and left:
        changed = False
        total = sum(q[s] * len(groups[s]) for s in left)
        for s in left:  # the extreme sizes first: the most weight on the fewest coalitions
            if budget * q[s] * len(groups[s]) / total >= count(s):
                complete += groups[s]
                budget -= count(s)
                left.remove(s)
                changed = True
                break
    sampled: dict[int, int] = {}
    units = budget // 2 if paired else budget
    if left and units:
        total = sum(q[s] for s in left)
        share = {s: units * q[s] / total for s in left}
        counts = {s: int(share[s]) for s in left}
        for s in sorted(left, key=lambda s: share[s] - counts[s], reverse=True)[: units - sum(counts.values())]:
            counts[s] += 1
        room = {s: math.comb(m, s) // (2 if paired and m - s == s else 1) for s in left}
        spare = sum(max(counts[s] - room[s], 0) for s in left)
        for s in sorted(left, key=lambda s: q[s], reverse=True):  # hand what is capped to the others
            counts[s] = min(counts[s], room[s])
            extra = min(spare, room[s] - counts[s])
            counts[s], spare = counts[s] + extra, spare - extra
        sampled = {s: c for s, c in counts.items() if c}
    return sorted(complete), sampled


def _distinct_subsets(m: int, s: int, count: int, generator: torch.Generator, half: bool) -> Tensor:
    r"""``count`` distinct uniformly drawn subsets of size ``s`` as 0/1 rows (``half``: one of each
    complementary pair, for ``s = M/2``)."""
    total = math.comb(m, s) // (2 if half else 1)
    if m <= 20 and count * 3 > total:  # dense: draw from the enumeration
        rows = torch.tensor([c for c in combinations(range(m), s) if not half or 0 in c], dtype=torch.int64)
        pick = torch.randperm(rows.shape[0], generator=generator)[:count]
        z = torch.zeros(count, m)
        z.scatter_(1, rows[pick], 1.0)
        return z
    kept = torch.zeros(0, m)
    while kept.shape[0] < count:
        need = count - kept.shape[0]
        rank = torch.rand(2 * need + 8, m, generator=generator).argsort(dim=1).argsort(dim=1)
        z = (rank < s).float()
        if half:
            z = torch.where(z[:, :1] > 0, z, 1 - z)  # the member of the pair that holds band 0
        both = torch.cat([kept, z])
        kept = both[first_occurrence(coalition_codes(both)[None])[0]][:count]
    return kept


def regression_coalitions(
    n_images: int, n_bands: int, n_coalitions: int, generator: torch.Generator, paired: bool = True
) -> tuple[Tensor, Tensor]:
    r"""
    The coalitions of :func:`size_plan` for every image, and their regression weights.

    Args:
        n_images (int): ``B``.
        n_bands (int): ``M``.
        n_coalitions (int): Coalitions per image besides ``∅`` and ``N``.
        generator (torch.Generator): Source of the draws (each image draws its own).
        paired (bool, optional): Draw every coalition with its complement.
                    Default: True

    Returns:
        ``(gates, weights)``: ``(B, n, M)`` distinct 0/1 coalitions per image and ``(n,)``
        weights (the same for every image), ``n ≤ n_coalitions``.
    """
    m = n_bands
    complete, sampled = size_plan(m, n_coalitions, paired)
    fixed, fixed_w = [], []
    for s in complete:
        rows = torch.zeros(math.comb(m, s), m)
        for r, c in enumerate(combinations(range(m), s)):
            rows[r, list(c)] = 1.0
        fixed.append(rows)
        fixed_w.append(torch.full((rows.shape[0],), 1.0 / (s * (m - s) * math.comb(m, s)), dtype=torch.float64))
    drawn_w = []
    for s, c in sampled.items():
        rows = 2 * c if paired else c  # paired: c of size s and their c complements
        sharing = c if paired and 2 * s != m else rows  # the coalitions of one size share its weight q_s
        drawn_w.append(torch.full((rows,), 1.0 / (s * (m - s) * sharing), dtype=torch.float64))
    per_image = []
    for _ in range(n_images):
        rows = []
        for s, c in sampled.items():
            z = _distinct_subsets(m, s, c, generator, half=paired and 2 * s == m)
            rows.append(torch.stack([z, 1 - z], dim=1).reshape(2 * c, m) if paired else z)
        per_image.append(torch.cat(rows) if rows else torch.zeros(0, m))
    drawn = torch.stack(per_image)
    base = torch.cat(fixed) if fixed else torch.zeros(0, m)
    gates = torch.cat([base.expand(n_images, -1, -1), drawn], dim=1)
    weights = torch.cat(fixed_w + drawn_w) if fixed_w or drawn_w else torch.zeros(0, dtype=torch.float64)
    return gates, weights


class KernelShapley(ShapleyEstimator):
    r"""
    Regression estimates: paired KernelSHAP (``order=1``; Lundberg & Lee, 2017; Covert & Lee,
    2021, https://arxiv.org/abs/2012.01536) or the k-additive fit of interactions up to order 2
    or 3 (Pelegrina et al., 2023, https://arxiv.org/abs/2211.02166), all under the efficiency
    constraint. Coalition sizes that the budget covers are enumerated completely; the others draw
    distinct coalitions without replacement, each with its complement or alone
    (:func:`regression_coalitions`). Each coalition is evaluated once and the whole budget is
    spent. The interactions of a k-additive fit carry a ridge penalty that each image chooses by
    leave-complement-out cross-validation (:mod:`~captum_iaside.estimators.regression`), so
    ``order=2`` and ``3`` run at any budget of ``2M + 2`` or more: with few coalitions they shrink
    towards the additive fit, with many they become the plain k-additive fit.

    Pairing suits the additive and the third-order fits; under pairing the pairwise fit gives
    exactly the additive fit's values (both are exact for games without interactions above order
    2), so ``"kadd"`` draws unpaired coalitions. ``estimator=None`` does not fix the order: it
    chooses it per image (:class:`~captum_iaside.estimators.adaptive.AdaptiveKernelShapley`). A
    regression estimate is not unbiased at small budgets: for a global run, where biases do not
    average out over images, the automatic design uses permutations.

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

    @property
    def gives_interactions(self) -> bool:
        return self.order >= 2

    def _dividends(self, game: Game, budget: int, generator: torch.Generator) -> tuple[Tensor, Tensor, BandShapley]:
        r"""The fit's Möbius coefficients, its terms and the Shapley values they give."""
        gates, weights = regression_coalitions(game.n_images, game.n_bands, budget - 2, generator, self.paired)
        v_empty, v_full = self._ends(game)
        values = game.values(gates)
        coef = regression_moebius(gates, weights, values, v_empty, v_full, self.order)
        terms = term_matrix(game.n_bands, self.order).to(coef.device)
        return coef, terms, self._result(game, shapley_from_dividends(coef, terms), v_empty, v_full)

    def estimate(self, game: Game, budget: int | None, generator: torch.Generator) -> BandShapley:
        return self._dividends(game, budget, generator)[2]

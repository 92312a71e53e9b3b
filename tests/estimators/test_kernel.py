import math
from itertools import combinations

import pytest
import torch

from captum_iaside.estimators.exact import exact_shapley
from captum_iaside.estimators.kernel import (
    SHRINKAGE_GRID,
    interaction_features,
    regression_coalitions,
    regression_shapley,
    size_plan,
)
from captum_iaside.game.table_game import TableGame


def codes(gates):
    return (gates.long() * 2 ** torch.arange(gates.shape[-1])).sum(-1)


def pairwise_game(m, seed=0):
    g = torch.Generator().manual_seed(seed)
    first = torch.randn(m, dtype=torch.float64, generator=g)
    second = torch.randn(m, m, dtype=torch.float64, generator=g).triu(1)
    z = ((torch.arange(2**m)[:, None] >> torch.arange(m)) & 1).double()
    return (z @ first + torch.einsum("ni,ij,nj->n", z, second, z))[None]


def test_the_border_trick_completes_the_extreme_sizes_first():
    complete, sampled = size_plan(10, 190)
    assert complete == [1, 9]  # the first and last marginal contributions of every band
    assert sum(2 * c for c in sampled.values()) + 20 == 190
    assert size_plan(10, 19)[0] == []  # too few for sizes 1 and 9
    complete, sampled = size_plan(10, 766)
    assert complete == [1, 2, 3, 7, 8, 9] and sum(2 * c for c in sampled.values()) + 2 * (10 + 45 + 120) == 766
    assert size_plan(8, 254) == ([1, 2, 3, 4, 5, 6, 7], {})  # everything: complete


@pytest.mark.parametrize("paired", [True, False])
@pytest.mark.parametrize("m,n", [(10, 46), (10, 766), (12, 190), (6, 30)])
def test_coalitions_are_distinct_paired_and_fill_the_budget(m, n, paired):
    gates, weights = regression_coalitions(5, m, n, torch.Generator().manual_seed(0), paired)
    assert gates.shape[1] == weights.shape[0] and n - 1 <= gates.shape[1] <= n
    for image in codes(gates):
        assert torch.unique(image).numel() == image.numel()
        if paired:
            assert bool(torch.isin(2**m - 1 - image, image).all())  # every complement is there
    sizes = gates.sum(-1)
    assert bool(((sizes > 0) & (sizes < m)).all())
    # each size carries its whole Shapley-kernel weight 1 / (s (M - s))
    for s in sizes[0].unique().long().tolist():
        assert weights[sizes[0] == s].sum().item() == pytest.approx(1 / (s * (m - s)))


@pytest.mark.parametrize("order", [1, 2])
def test_all_coalitions_give_the_exact_shapley_values(order):
    m = 7
    v = torch.randn(3, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    gates, weights = regression_coalitions(3, m, 2**m - 2, torch.Generator())
    phi = regression_shapley(gates, weights, TableGame(v).values(gates), v[:, 0], v[:, -1], order)
    assert torch.allclose(phi, exact_shapley(v), atol=1e-8)


@pytest.mark.parametrize("order,paired", [(1, True), (2, True), (2, False)])
def test_pairwise_games_are_exact_from_few_coalitions(order, paired):
    # paired KernelSHAP and the 2-additive fit are both exact for games without higher interactions
    m = 8
    v = pairwise_game(m)
    gates, weights = regression_coalitions(1, m, 60, torch.Generator().manual_seed(3), paired)
    phi = regression_shapley(gates, weights, TableGame(v).values(gates), v[:, 0], v[:, -1], order)
    assert torch.allclose(phi, exact_shapley(v), atol=1e-8)


def test_under_pairing_the_pairwise_fit_gives_the_additive_values():
    m = 9
    v = torch.randn(3, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(10))
    gates, weights = regression_coalitions(3, m, 40, torch.Generator().manual_seed(11))
    values = TableGame(v).values(gates)
    first, second = (regression_shapley(gates, weights, values, v[:, 0], v[:, -1], k) for k in (1, 2))
    assert torch.allclose(first, second, atol=1e-8)


def test_efficiency_holds_exactly_and_features_are_the_interactions():
    m = 9
    v = torch.randn(4, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    gates, weights = regression_coalitions(4, m, 70, torch.Generator().manual_seed(5))
    for order in (1, 2):
        phi = regression_shapley(gates, weights, TableGame(v).values(gates), v[:, 0], v[:, -1], order)
        assert torch.allclose(phi.sum(1), v[:, -1] - v[:, 0], atol=1e-10)
    z = torch.tensor([[1.0, 0.0, 1.0]])
    assert interaction_features(z, 2).tolist() == [[1.0, 0.0, 1.0, 0.0, 1.0, 0.0]]
    assert math.comb(9, 2) + 9 == interaction_features(gates, 2).shape[-1]


def naive_constrained_fit(x, w, y, gap, penalty):
    """The efficiency-constrained penalised fit from its KKT system, and its hat matrix column by column."""
    p = x.shape[1]
    kkt = torch.zeros(p + 1, p + 1, dtype=torch.float64)
    kkt[:p, :p] = x.T @ (w[:, None] * x) + torch.diag(penalty)
    kkt[:p, p] = kkt[p, :p] = 1.0

    def solve(rhs_y, rhs_gap):
        rhs = torch.cat([x.T @ (w * rhs_y), torch.tensor([rhs_gap], dtype=torch.float64)])
        return torch.linalg.solve(kkt, rhs)[:p]

    beta = solve(y, gap)
    hat = torch.stack([x @ solve(e, 0.0) for e in torch.eye(len(y), dtype=torch.float64)], dim=1)
    return beta, hat


def test_the_shrinkage_is_chosen_by_generalised_cross_validation():
    # fewer coalitions (40) than third-order parameters (6 + 15 + 20 = 41): only penalised fits are determined
    m, order = 6, 3
    v = torch.randn(2, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    gates, weights = regression_coalitions(2, m, 40, torch.Generator().manual_seed(7))
    values = TableGame(v).values(gates)
    phi = regression_shapley(gates, weights, values, v[:, 0], v[:, -1], order)
    assert torch.allclose(phi.sum(1), v[:, -1] - v[:, 0], atol=1e-10)
    terms = [t for size in (1, 2, 3) for t in combinations(range(m), size)]
    share = torch.zeros(len(terms), m, dtype=torch.float64)
    for t, term in enumerate(terms):
        share[t, list(term)] = 1 / len(term)
    for k in range(2):
        x = torch.stack([gates[k][:, list(t)].prod(1) for t in terms], dim=1).double()
        y = values[k].double() - v[k, 0]
        scale = float((x.T @ (weights[:, None] * x)).diagonal().mean())
        scores = {}
        for lam in SHRINKAGE_GRID[1:]:
            penalty = torch.tensor([lam * scale * (len(t) > 1) for t in terms], dtype=torch.float64)
            beta, hat = naive_constrained_fit(x, weights, y, float(v[k, -1] - v[k, 0]), penalty)
            rss = float((weights * (y - x @ beta) ** 2).sum() / weights.sum())
            scores[lam] = (rss / (1 - float(hat.trace()) / len(y)) ** 2, beta @ share)
        chosen = min(scores.values(), key=lambda s: s[0])[1]
        assert torch.allclose(phi[k], chosen, atol=1e-6)


def test_a_determined_third_order_fit_is_exact_for_third_order_games():
    m = 7
    g = torch.Generator().manual_seed(8)
    z = ((torch.arange(2**m)[:, None] >> torch.arange(m)) & 1).double()
    v = (interaction_features(z, 3) @ torch.randn(m + 21 + 35, dtype=torch.float64, generator=g))[None]
    gates, weights = regression_coalitions(1, m, 100, torch.Generator().manual_seed(9))
    phi = regression_shapley(gates, weights, TableGame(v).values(gates), v[:, 0], v[:, -1], 3)
    assert torch.allclose(phi, exact_shapley(v), atol=1e-6)


@pytest.mark.parametrize("paired", [True, False])
def test_the_plan_spends_the_whole_budget_when_sizes_run_out(paired):
    for m in (5, 8, 12):
        for n in range(2 * m, 2**m - 1, max(1, (2**m - 2 * m) // 97)):
            complete, sampled = size_plan(m, n, paired)
            drawn = sum(2 * c if paired else c for c in sampled.values())
            spent = sum(math.comb(m, s) for s in complete) + drawn
            assert n - (1 if paired else 0) <= spent <= n, (m, n)
            for s, c in sampled.items():
                assert s not in complete and c <= math.comb(m, s) // (2 if paired and 2 * s == m else 1)

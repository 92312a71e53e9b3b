import math
from itertools import combinations

import pytest
import torch

from captum_iaside.estimators.exact import exact_shapley
from captum_iaside.estimators.kernel import regression_coalitions
from captum_iaside.estimators.regression import (
    SHRINKAGE_GRID,
    complement_partners,
    interaction_features,
    penalised_fits,
    regression_shapley,
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
    """The efficiency-constrained penalised fit from its KKT system."""
    p = x.shape[1]
    kkt = torch.zeros(p + 1, p + 1, dtype=torch.float64)
    kkt[:p, :p] = x.T @ (w[:, None] * x) + torch.diag(penalty)
    kkt[:p, p] = kkt[p, :p] = 1.0

    def solve(rhs_y, rhs_gap):
        rhs = torch.cat([x.T @ (w * rhs_y), torch.tensor([rhs_gap], dtype=torch.float64)])
        return torch.linalg.solve(kkt, rhs)[:p]

    return solve(y, gap)


def test_the_shrinkage_is_chosen_by_leave_complement_out_cross_validation():
    # fewer coalitions (40) than third-order parameters (6 + 15 + 20 = 41): only penalised fits are determined
    m, order = 6, 3
    v = torch.randn(2, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    for paired in (True, False):
        gates, weights = regression_coalitions(2, m, 40, torch.Generator().manual_seed(7), paired)
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
            gap = float(v[k, -1] - v[k, 0])
            scale = float((x.T @ (weights[:, None] * x)).diagonal().mean())
            code = codes(gates[k])
            size = gates[k].sum(1).long()
            # the enumerated sizes are always in the fit: only the drawn coalitions are held out and scored
            drawn = [int((size == s).sum()) < math.comb(m, s) for s in size.tolist()]
            scores = {}
            for lam in SHRINKAGE_GRID[1:]:
                penalty = torch.tensor([lam * scale * (len(t) > 1) for t in terms], dtype=torch.float64)
                error, total = 0.0, 0.0
                for i in (i for i in range(len(y)) if drawn[i]):  # refit without the coalition and its complement
                    keep = (code != code[i]) & (code != 2**m - 1 - code[i])
                    beta = naive_constrained_fit(x[keep], weights[keep], y[keep], gap, penalty)
                    error += float(weights[i] * (y[i] - x[i] @ beta) ** 2)
                    total += float(weights[i])
                assert 0 < total < float(weights.sum())
                beta = naive_constrained_fit(x, weights, y, gap, penalty)
                scores[lam] = (error / total, beta @ share)
            chosen = min(scores.values(), key=lambda s: s[0])[1]
            assert torch.allclose(phi[k], chosen, atol=1e-6)
            fits = penalised_fits(gates[k : k + 1], weights, values[k : k + 1], v[k : k + 1, 0], v[k : k + 1, -1], 3)
            for fit in fits:  # every penalty's criterion, against the refits
                assert float(fit.cv_error[0]) == pytest.approx(scores[float(fit.shrinkage[0])][0], rel=1e-6)


def test_a_determined_third_order_fit_is_exact_for_third_order_games():
    m = 7
    g = torch.Generator().manual_seed(8)
    z = ((torch.arange(2**m)[:, None] >> torch.arange(m)) & 1).double()
    v = (interaction_features(z, 3) @ torch.randn(m + 21 + 35, dtype=torch.float64, generator=g))[None]
    gates, weights = regression_coalitions(1, m, 100, torch.Generator().manual_seed(9))
    phi = regression_shapley(gates, weights, TableGame(v).values(gates), v[:, 0], v[:, -1], 3)
    assert torch.allclose(phi, exact_shapley(v), atol=1e-6)


def test_each_coalition_finds_its_complement_or_none():
    gates = torch.tensor([[[1, 0, 0], [0, 1, 1], [1, 1, 0], [0, 0, 1]]], dtype=torch.float32)
    assert complement_partners(gates).tolist() == [[1, 0, 3, 2]]
    assert complement_partners(gates[:, :3]).tolist() == [[1, 0, -1]]


def test_an_order_one_fit_is_one_unpenalised_fit_and_an_undetermined_plain_fit_is_skipped():
    m = 6
    v = torch.randn(2, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(12))
    gates, weights = regression_coalitions(2, m, 30, torch.Generator().manual_seed(13), paired=False)
    values = TableGame(v).values(gates)
    assert [float(f.shrinkage[0]) for f in penalised_fits(gates, weights, values, v[:, 0], v[:, -1], 1)] == [0.0]
    lams = [float(f.shrinkage[0]) for f in penalised_fits(gates, weights, values, v[:, 0], v[:, -1], 2)]
    assert lams == list(SHRINKAGE_GRID)  # 30 coalitions, 21 parameters: the plain fit is determined
    lams = [float(f.shrinkage[0]) for f in penalised_fits(gates, weights, values, v[:, 0], v[:, -1], 3)]
    assert lams == list(SHRINKAGE_GRID[1:])  # 41 parameters: it is not

import math

import pytest
import torch

from captum_iaside.game import TableGame
from captum_iaside.regression import interaction_features, regression_coalitions, regression_shapley, size_plan
from captum_iaside.shapley import exact_shapley


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


@pytest.mark.parametrize("m,n", [(10, 46), (10, 766), (12, 190), (6, 30)])
def test_coalitions_are_distinct_paired_and_fill_the_budget(m, n):
    gates, weights = regression_coalitions(5, m, n, torch.Generator().manual_seed(0))
    assert gates.shape[1] == weights.shape[0] and n - 1 <= gates.shape[1] <= n
    for image in codes(gates):
        assert torch.unique(image).numel() == image.numel()
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


@pytest.mark.parametrize("order", [1, 2])
def test_pairwise_games_are_exact_from_few_coalitions(order):
    # paired KernelSHAP and the 2-additive fit are both exact for games without higher interactions
    m = 8
    v = pairwise_game(m)
    gates, weights = regression_coalitions(1, m, 60, torch.Generator().manual_seed(3))
    phi = regression_shapley(gates, weights, TableGame(v).values(gates), v[:, 0], v[:, -1], order)
    assert torch.allclose(phi, exact_shapley(v), atol=1e-8)


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

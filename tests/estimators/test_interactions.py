"""Interaction indices against naive sums over coalitions, and the identities that tie them to φ."""

import math
from itertools import combinations

import pytest
import torch

from captum_iaside import IASIDE, KernelShapley
from captum_iaside.estimators import exact_interactions, exact_shapley, moebius_transform
from captum_iaside.estimators.interactions import check_index
from captum_iaside.game.table_game import TableGame


def code(members):
    return sum(1 << i for i in members)


def random_table(m, seed=0, b=2):
    return torch.randn(b, 2**m, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def delta(v, s, i, j):
    base = code(s)
    return v[:, base | 1 << i | 1 << j] - v[:, base | 1 << i] - v[:, base | 1 << j] + v[:, base]


def naive(v, m, index):
    out = torch.zeros(v.shape[0], m, m, dtype=torch.float64)
    for i, j in combinations(range(m), 2):
        rest = [k for k in range(m) if k not in (i, j)]
        total = torch.zeros(v.shape[0], dtype=torch.float64)
        for size in range(m - 1):
            for s in combinations(rest, size):
                if index == "SII":
                    w = math.factorial(size) * math.factorial(m - size - 2) / math.factorial(m - 1)
                elif index == "STII":
                    w = 2 / m / math.comb(m - 1, size)
                else:
                    w = 1.0 if size == 0 else 0.0
                total += w * delta(v, s, i, j)
        out[:, i, j] = out[:, j, i] = total
    singles = v[:, [1 << i for i in range(m)]] - v[:, :1]
    out[:, range(m), range(m)] = exact_shapley(v) if index == "SII" else singles
    return out


def naive_moebius(v, m):
    out = torch.zeros_like(v)
    for t in range(2**m):
        for s in range(2**m):
            if s & t == s:
                out[:, t] += (-1) ** (bin(t).count("1") - bin(s).count("1")) * v[:, s]
    return out


@pytest.mark.parametrize("m", [2, 3, 5])
def test_moebius_transform_matches_its_definition(m):
    v = random_table(m)
    assert torch.allclose(moebius_transform(v), naive_moebius(v, m))
    assert torch.allclose(moebius_transform(v)[:, 1:].sum(1), v[:, -1] - v[:, 0])


@pytest.mark.parametrize("index", ["SII", "STII", "Moebius"])
@pytest.mark.parametrize("m", [3, 4, 6])
def test_each_index_matches_a_naive_sum_over_coalitions(index, m):
    v = random_table(m, seed=m)
    assert torch.allclose(exact_interactions(v, index), naive(v, m, index), atol=1e-10)


def test_stii_sums_to_the_gap_and_sii_diagonal_is_shapley():
    v = random_table(6, seed=3)
    stii = exact_interactions(v, "STII")
    assert torch.allclose(stii.diagonal(dim1=1, dim2=2).sum(1) + stii.triu(1).sum((1, 2)), v[:, -1] - v[:, 0])
    assert torch.allclose(exact_interactions(v, "SII").diagonal(dim1=1, dim2=2), exact_shapley(v))


def two_additive_table(m, seed=0):
    g = torch.Generator().manual_seed(seed)
    main, pair = torch.randn(m, generator=g, dtype=torch.float64), torch.randn(m, m, generator=g, dtype=torch.float64)
    z = ((torch.arange(2**m)[:, None] >> torch.arange(m)) & 1).double()
    values = z @ main + torch.einsum("ti,ij,tj->t", z, pair.triu(1), z) + 0.3
    return values[None], pair.triu(1) + pair.triu(1).T


def test_on_a_two_additive_game_every_index_is_the_pair_term():
    v, pair = two_additive_table(5)
    for index in ("SII", "STII", "Moebius"):
        off = exact_interactions(v, index)[0] * (1 - torch.eye(5, dtype=torch.float64))
        assert torch.allclose(off, pair, atol=1e-10), index


@pytest.mark.parametrize("estimator", [KernelShapley(order=2, paired=False), KernelShapley(order=3)])
def test_k_additive_fits_recover_a_two_additive_game_below_2_to_the_m(estimator):
    m = 8
    v, pair = two_additive_table(m, seed=1)
    got = estimator.estimate_interactions(TableGame(v), 180, torch.Generator().manual_seed(0), "SII")
    off = got.values[0] * (1 - torch.eye(m, dtype=torch.float64))
    assert got.shapley.evaluations <= 180
    assert torch.allclose(off, pair, atol=1e-6)
    assert torch.allclose(got.values[0].diagonal(), exact_shapley(v)[0], atol=1e-6)


@pytest.mark.parametrize("bad, match", [(("XYZ", 2), "index must be one of"), (("SII", 3), "order must be 2")])
def test_bad_index_or_order(bad, match):
    with pytest.raises(ValueError, match=match):
        check_index(*bad)


def small_model():
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(4, 3)).eval()


def test_attribute_interactions_agrees_with_the_naive_sum_on_the_model():
    model, x = small_model(), torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    ia = IASIDE(model, bands=4)
    from captum_iaside.game.baselines import reference_images, resolve_baseline
    from captum_iaside.game.coalitions import coalition_matrix
    from captum_iaside.game.spectral_game import SpectralGame
    from captum_iaside.game.value_functions import ValueFunction, resolve_target

    reference = reference_images(resolve_baseline("zero"), x, torch.Generator())
    game = SpectralGame(model, ia.bands, x, reference, ValueFunction("log_prob"), resolve_target(1, 2, x.device), ())
    values = game.values(coalition_matrix(4)).double()
    for index in ("SII", "STII", "Moebius"):
        got = ia.attribute_interactions(x, target=1, index=index)
        assert got.shape == (2, 4, 4)
        assert torch.allclose(got.double(), naive(values, 4, index), atol=1e-5), index


def test_interactions_need_a_budget_above_the_exact_limit_and_an_estimator_that_gives_them():
    model, x = small_model(), torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="need a budget: exact enumeration stops at M=12"):
        IASIDE(model, bands=13).attribute_interactions(x)
    with pytest.raises(ValueError, match="gives no interaction indices"):
        IASIDE(model, bands=4).attribute_interactions(x, estimator="permutation", budget=20)
    phi = IASIDE(model, bands=13).attribute_interactions(x, budget=100)
    assert phi.shape == (1, 13, 13)


def test_a_one_tuple_of_images_gives_a_one_tuple():
    model, x = small_model(), torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    ia = IASIDE(model, bands=4)
    (got,) = ia.attribute_interactions((x,), target=0)
    assert torch.equal(got, ia.attribute_interactions(x, target=0))
    with pytest.raises(TypeError, match="a tuple of 2"):
        ia.attribute_interactions((x, x))

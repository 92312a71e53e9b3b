import pytest
import torch

from captum_iaside import IASIDE
from captum_iaside.estimators.exact import exact_shapley
from captum_iaside.estimators.permutation import (
    antithetic_permutations,
    permutation_shapley,
    prefix_coalitions,
    stratified_permutations,
)
from captum_iaside.estimators.selection import ESTIMATORS


def minimum_budget(name, m):
    return ESTIMATORS[name]().minimum_budget(m)


def permutation_coalitions(b, m, p, generator):
    perms = antithetic_permutations(b, m, p, generator)
    return perms, prefix_coalitions(perms)


def table_game(m, seed=0, n_images=3):
    v = torch.randn(n_images, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    powers = 2 ** torch.arange(m)

    def values(gates):
        return torch.gather(v, 1, (gates.long() * powers).sum(-1))

    return v, values


def test_permutations_are_antithetic_and_prefixes_right():
    perms, gates = permutation_coalitions(2, 5, 4, torch.Generator().manual_seed(0))
    assert perms.shape == (2, 4, 5) and gates.shape == (2, 4 * 4, 5)
    assert torch.equal(perms[:, 2:], perms[:, :2].flip(-1))
    first = gates.reshape(2, 4, 4, 5)[0, 0]
    assert first.sum(1).tolist() == [1, 2, 3, 4]
    assert first[0, perms[0, 0, 0]] == 1 and first[1, perms[0, 0, :2]].tolist() == [1, 1]


@pytest.mark.parametrize("m", [4, 7])
def test_permutation_estimates_converge_and_are_efficient_on_random_games(m):
    v, values = table_game(m)
    exact = exact_shapley(v)
    gen = torch.Generator().manual_seed(1)
    errors = {}
    for n in [20, 2000]:
        perms, gates = permutation_coalitions(3, m, n, gen)
        phi = permutation_shapley(perms, values(gates), v[:, 0], v[:, -1])
        assert torch.allclose(phi.sum(1), v[:, -1] - v[:, 0], atol=1e-12)  # efficiency, exactly
        errors[n] = (phi - exact).abs().max()
    assert errors[2000] < errors[20] / 3 and errors[2000] < 0.1


def test_permutation_shapley_uses_the_leading_permutations_only():
    v, values = table_game(5)
    perms, gates = permutation_coalitions(3, 5, 6, torch.Generator().manual_seed(2))
    counts = torch.tensor([2, 4, 6])
    prefix_values = values(gates)
    phi = permutation_shapley(perms, prefix_values, v[:, 0], v[:, -1], counts)
    for i, c in enumerate(counts.tolist()):
        part = permutation_shapley(
            perms[i : i + 1, :c], prefix_values[i : i + 1, : c * 4], v[i : i + 1, 0], v[i : i + 1, -1]
        )
        assert torch.allclose(phi[i], part[0])


def test_stratified_permutations_put_every_band_at_every_position():
    m = 5
    perms = stratified_permutations(4, m, 3, torch.Generator().manual_seed(0))  # 12 permutations: 2 full groups
    assert perms.shape == (4, 3, m)
    flat = perms.reshape(-1, m)
    assert torch.equal(flat.sort(dim=1).values, torch.arange(m).expand(12, m))  # each row a permutation
    for group in (flat[0:5], flat[5:10]):
        for position in range(m):
            assert sorted(group[:, position].tolist()) == list(range(m))


def test_stratified_permutations_are_uniform_one_by_one():
    m = 3
    g = torch.Generator().manual_seed(1)
    perms = torch.cat([stratified_permutations(1, m, 1, g)[0] for _ in range(6000)])
    codes = perms[:, 0] * 9 + perms[:, 1] * 3 + perms[:, 2]
    freq = torch.unique(codes, return_counts=True)[1].double() / 6000
    assert freq.numel() == 6 and torch.allclose(freq, torch.full((6,), 1 / 6, dtype=torch.float64), atol=0.02)


@pytest.mark.parametrize("estimator", ["permutation"])
def test_unbiased_on_a_model_at_eight_bands(model, images, estimator):
    ia = IASIDE(model, bands=8)
    x = images[:1]
    exact = ia.attribute(x, target=0).double()[0]
    budget = minimum_budget(estimator, 8) + 2
    runs = torch.stack(
        [ia.attribute(x, target=0, estimator=estimator, budget=budget, seed=s).double()[0] for s in range(40)]
    )
    se = runs.std(0) / 40**0.5
    assert ((runs.mean(0) - exact).abs() <= 4 * se + 1e-6).all()


def test_error_falls_with_budget_at_ten_bands(model):
    x = torch.randn(2, 3, 24, 24, generator=torch.Generator().manual_seed(2))
    ia = IASIDE(model, bands=10)
    exact = ia.attribute(x, target=1, perturbations_per_eval=256).double()
    for estimator in ["permutation", "kernel"]:
        err = [
            (ia.attribute(x, target=1, estimator=estimator, budget=b, perturbations_per_eval=256).double() - exact)
            .abs()
            .mean()
            for b in (40, 640)
        ]
        assert err[1] < err[0] / 2, (estimator, err)
        phi, delta = ia.attribute(x, target=1, estimator=estimator, budget=40, return_convergence_delta=True)
        assert delta.abs().max() < 1e-5


def test_seeded_and_auto_choice(model, images):
    ia = IASIDE(model, bands=6)
    a = ia.attribute(images, target=0, estimator="kernel", budget=30, seed=3)
    assert torch.equal(a, ia.attribute(images, target=0, estimator="kernel", budget=30, seed=3))
    assert not torch.equal(a, ia.attribute(images, target=0, estimator="kernel", budget=30, seed=4))
    # a budget that fits 2^M means exact
    assert torch.allclose(ia.attribute(images, target=0, budget=64), ia.attribute(images, target=0))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            {"estimator": "permutation", "budget": 10},
            "too small for estimator='permutation' with M=6: the minimum is 12",
        ),
        ({"estimator": "kernel", "budget": 5}, "the minimum is 14"),
        ({"estimator": "permutation"}, "needs a budget"),
        ({"estimator": "exact", "budget": 10}, "needs 2\\^M = 64"),
        ({"estimator": "monte-carlo", "budget": 100}, "unknown estimator"),
    ],
)
def test_estimator_errors(model, images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        IASIDE(model, bands=6).attribute(images, **kwargs)

import pytest
import torch
from conftest import tiny_cnn

from captum_iaside import SpectralBands
from captum_iaside.estimators import (
    BandShapley,
    ExactShapley,
    KernelShapley,
    PermutationShapley,
    ShapleyEstimator,
    resolve_estimator,
)
from captum_iaside.game import SpectralGame
from captum_iaside.shapley import exact_shapley
from captum_iaside.values import ValueFunction


class TableGame:
    """A game whose values come from a table of all 2^M coalition values per image."""

    def __init__(self, table):
        self.table = table
        self.n_images, n = table.shape
        self.n_bands = n.bit_length() - 1
        self.target = None
        self.evaluations = 0
        self.asked = []

    def v_empty(self):
        self.evaluations += self.n_images
        return self.table[:, 0]

    def v_full(self):
        self.evaluations += self.n_images
        return self.table[:, -1]

    def values(self, coalitions):
        self.asked.append(coalitions.clone())
        codes = (coalitions.long() * 2 ** torch.arange(self.n_bands)).sum(-1)
        codes = codes.expand(self.n_images, -1) if codes.dim() == 1 else codes
        self.evaluations += codes.numel()
        return torch.gather(self.table, 1, codes)


def random_table(m, n=3, seed=0):
    return torch.randn(n, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "estimator,budget",
    [(ExactShapley(), None), (PermutationShapley(), 40), (PermutationShapley(False, True), 40), (KernelShapley(), 40)],
)
def test_every_estimator_has_the_interface_and_is_efficient(estimator, budget):
    table = random_table(6)
    game = TableGame(table)
    res = estimator.estimate(game, budget, torch.Generator().manual_seed(0))
    assert isinstance(res, BandShapley) and res.values.shape == (3, 6)
    assert torch.equal(res.v_empty, table[:, 0]) and torch.equal(res.v_full, table[:, -1])
    assert res.delta.abs().max() < 1e-12  # efficiency holds exactly
    assert res.evaluations == game.evaluations
    if budget is not None:
        assert res.evaluations <= 3 * budget
    else:
        assert torch.allclose(res.values, exact_shapley(table))


@pytest.mark.parametrize("estimator", [PermutationShapley(), PermutationShapley(False, True), KernelShapley()])
def test_the_same_generator_state_draws_the_same_coalitions(estimator):
    a, b = TableGame(random_table(5, seed=1)), TableGame(random_table(5, seed=2))
    estimator.estimate(a, 30, torch.Generator().manual_seed(9))
    estimator.estimate(b, 30, torch.Generator().manual_seed(9))
    assert all(torch.equal(x, y) for x, y in zip(a.asked, b.asked, strict=True))


def test_stratified_permutations_are_unbiased_on_a_fixed_game():
    table = random_table(4, n=1, seed=3)
    exact = exact_shapley(table)[0]
    est = PermutationShapley(antithetic=False, stratified=True)
    runs = torch.stack(
        [est.estimate(TableGame(table), 5, torch.Generator().manual_seed(s)).values[0] for s in range(3000)]
    )
    se = runs.std(0) / 3000**0.5
    assert ((runs.mean(0) - exact).abs() <= 4 * se).all()


def test_the_spectral_game_works_with_every_estimator(images):
    model = tiny_cnn()
    bands = SpectralBands(5)
    game = SpectralGame(
        model, bands, images, torch.zeros(1, 3, 16, 16), ValueFunction("log_prob"), torch.tensor([0, 1, 2])
    )
    exact = ExactShapley().estimate(game, None, torch.Generator())
    assert exact.evaluations == 3 * (2**5 - 1) + 1  # the zero baseline is one image for the whole batch
    for est in [PermutationShapley(), KernelShapley()]:
        fresh = SpectralGame(
            model, bands, images, torch.zeros(1, 3, 16, 16), ValueFunction("log_prob"), torch.tensor([0, 1, 2])
        )
        res = est.estimate(fresh, 26, torch.Generator().manual_seed(0))
        assert (res.values - exact.values).abs().max() < 0.5 and res.delta.abs().max() < 1e-9


def test_resolve_estimator():
    est, budget = resolve_estimator(None, None, 6)
    assert isinstance(est, ExactShapley) and budget is None
    est, budget = resolve_estimator(None, 30, 6)
    assert est == PermutationShapley() and budget == 30
    est, budget = resolve_estimator("kernel", 30, 6)
    assert isinstance(est, KernelShapley) and repr(est) == "KernelShapley()"
    assert resolve_estimator(PermutationShapley(False, True), 20, 6)[0].config() == {
        "name": "permutation",
        "antithetic": False,
        "stratified": True,
    }
    with pytest.raises(TypeError, match="estimator must be a name"):
        resolve_estimator(3, 30, 6)
    with pytest.raises(ValueError, match="choose antithetic or stratified"):
        PermutationShapley(antithetic=True, stratified=True)
    assert issubclass(PermutationShapley, ShapleyEstimator)

import pytest
import torch
from conftest import tiny_cnn

from captum_iaside import SpectralBands
from captum_iaside.estimators.adaptive import AdaptiveKernelShapley
from captum_iaside.estimators.base import BandShapley, ShapleyEstimator
from captum_iaside.estimators.exact import ExactShapley, exact_shapley
from captum_iaside.estimators.kernel import KernelShapley
from captum_iaside.estimators.permutation import PermutationShapley
from captum_iaside.estimators.selection import resolve_estimator
from captum_iaside.game.spectral_game import SpectralGame
from captum_iaside.game.table_game import TableGame
from captum_iaside.game.value_functions import ValueFunction


def random_table(m, n=3, seed=0):
    return torch.randn(n, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "estimator,budget",
    [
        (ExactShapley(), None),
        (PermutationShapley(), 40),
        (PermutationShapley(False, True), 40),
        (KernelShapley(), 40),
        (KernelShapley(order=2), 40),
        (KernelShapley(order=2, paired=False), 40),
        (KernelShapley(order=3), 40),
    ],
)
def test_every_estimator_has_the_interface_and_is_efficient(estimator, budget):
    table = random_table(6)
    game = TableGame(table)
    res = estimator.estimate(game, budget, torch.Generator().manual_seed(0))
    assert isinstance(res, BandShapley) and res.values.shape == (3, 6)
    assert torch.equal(res.v_empty, table[:, 0]) and torch.equal(res.v_full, table[:, -1])
    assert res.delta.abs().max() < 1e-12  # efficiency holds exactly
    assert res.evaluations == game.evaluations
    if budget is None:
        assert torch.allclose(res.values, exact_shapley(table))
    else:
        assert res.evaluations <= 3 * budget
        if not getattr(estimator, "stratified", False):
            assert 3 * (budget - 6) <= res.evaluations  # the whole budget, within M − 2 per image


@pytest.mark.parametrize(
    "estimator",
    [PermutationShapley(), PermutationShapley(False, True), KernelShapley(), KernelShapley(2, paired=False)],
)
def test_the_same_generator_state_draws_the_same_coalitions(estimator):
    class Recording(TableGame):
        def values(self, coalitions):
            self.asked = [c.clone() for c in coalitions] if isinstance(coalitions, list) else [coalitions.clone()]
            return super().values(coalitions)

    a, b = Recording(random_table(5, seed=1)), Recording(random_table(5, seed=2))
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


@pytest.mark.parametrize("m,budget", [(6, 30), (8, 100), (10, 200)])
def test_permutations_never_evaluate_a_coalition_twice_and_spend_the_budget(m, budget):
    class Recording(TableGame):
        def values(self, coalitions):
            self.asked = coalitions
            return super().values(coalitions)

    game = Recording(random_table(m, n=4, seed=m))
    res = PermutationShapley().estimate(game, budget, torch.Generator().manual_seed(0))
    for rows in game.asked:
        codes = (rows.long() * 2 ** torch.arange(m)).sum(-1)
        assert torch.unique(codes).numel() == codes.numel()  # each distinct coalition once
        assert budget - 2 - (m - 2) <= rows.shape[0] <= budget - 2
    assert res.evaluations == sum(r.shape[0] for r in game.asked) + 2 * 4
    assert res.delta.abs().max() < 1e-12


def test_the_table_game_reads_the_table():
    table = random_table(3)
    game = TableGame(table)
    assert torch.equal(game.values(torch.tensor([[1.0, 0.0, 1.0]])), table[:, [5]])
    assert game.evaluations == 3
    with pytest.raises(ValueError, match=r"shape \(B, 2\^M\)"):
        TableGame(torch.zeros(2, 6))


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
    assert est == AdaptiveKernelShapley() and budget == 30  # below 2^M: each image chooses its fit
    assert resolve_estimator(None, 20, 10)[0] == PermutationShapley()  # below 2M + 2: permutations
    for m, budget in [(10, 22), (10, 96), (12, 151), (16, 48), (16, 350), (20, 10_000)]:
        assert resolve_estimator(None, budget, m)[0] == AdaptiveKernelShapley()
    assert resolve_estimator(None, 64, 6)[0] == ExactShapley()
    est, budget = resolve_estimator("kernel", 30, 6)
    assert isinstance(est, KernelShapley) and repr(est) == "KernelShapley(order=1, paired=True)"
    assert resolve_estimator("kadd", 60, 6)[0] == KernelShapley(order=2, paired=False)
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


def test_kernel_arguments_are_checked():
    with pytest.raises(ValueError, match="order must be 1, 2 or 3"):
        KernelShapley(order=4)
    with pytest.raises(TypeError, match="paired must be True or False"):
        KernelShapley(paired="yes")


def test_each_estimator_weighs_its_estimate_for_averaging_two_passes():
    # exact values replace the other pass's; a permutation estimate counts its whole permutations; a fit its budget
    assert ExactShapley().pass_weight(6, None) == float("inf") and not ExactShapley().samples
    permutation = PermutationShapley()
    assert permutation.pass_weight(6, 42) == permutation.n_permutations(6, 42) == 8
    assert KernelShapley().pass_weight(6, 40) == 40.0 and KernelShapley().samples

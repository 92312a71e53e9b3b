import math

import pytest
import torch

from captum_iaside import AdaptiveKernelShapley, KernelShapley
from captum_iaside.estimators.adaptive import MAX_THIRD_ORDER_BANDS, paired_design
from captum_iaside.estimators.exact import exact_shapley
from captum_iaside.estimators.regression import interaction_features
from captum_iaside.estimators.selection import resolve_estimator, resolve_interaction_estimator
from captum_iaside.game.coalitions import coalition_matrix
from captum_iaside.game.table_game import TableGame


class RecordingGame(TableGame):
    """A table game that keeps every batch of coalitions it is asked for."""

    def __init__(self, table):
        super().__init__(table)
        self.asked = []

    def values(self, coalitions):
        self.asked.append(coalitions.clone())
        return super().values(coalitions)


def additive_game(m, n_images=4, seed=0):
    """Main effects only: every fit is exact, and the simplest one should be kept."""
    first = torch.randn(n_images, m, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return first @ coalition_matrix(m, torch.float64).T


def interacting_game(m, n_images=4, seed=1):
    """Strong pairwise and triple interactions: the additive fit misses most of each coalition's value."""
    g = torch.Generator().manual_seed(seed)
    features = interaction_features(coalition_matrix(m, torch.float64), 3)
    coef = torch.randn(n_images, features.shape[1], dtype=torch.float64, generator=g)
    coef[:, :m] *= 0.3
    return coef @ features.T


@pytest.mark.parametrize("m,budget", [(10, 60), (10, 120), (8, 150)])
def test_it_picks_the_additive_fit_on_an_additive_game_and_a_higher_order_on_interactions(m, budget):
    games = [RecordingGame(additive_game(m)), RecordingGame(interacting_game(m))]
    additive, interacting = (
        AdaptiveKernelShapley().estimate(g, budget, torch.Generator().manual_seed(3)) for g in games
    )
    assert torch.equal(games[0].asked[0], games[1].asked[0])  # the same draws
    assert additive.fits.order.tolist() == [1] * 4
    assert min(interacting.fits.order.tolist()) >= 2
    assert additive.fits.paired == interacting.fits.paired == paired_design(m, budget)
    for res, g in zip((additive, interacting), games, strict=True):
        assert torch.allclose(res.values.sum(1), g.table[:, -1] - g.table[:, 0], atol=1e-9)
    # the interacting game's chosen fit beats the additive fit on the same coalitions
    kernel = KernelShapley(paired=interacting.fits.paired).estimate(
        TableGame(games[1].table), budget, torch.Generator().manual_seed(3)
    )
    exact = exact_shapley(games[1].table)
    assert (interacting.values - exact).norm() < (kernel.values - exact).norm()


@pytest.mark.parametrize("m,budget", [(10, 96), (10, 48), (12, 200)])
def test_each_image_gets_what_the_fixed_order_fit_gives_on_the_same_draws(m, budget):
    table = torch.randn(5, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    res = AdaptiveKernelShapley().estimate(TableGame(table), budget, torch.Generator().manual_seed(5))
    fits = res.fits
    assert fits.cv_errors.shape == (5, len(fits.orders))
    assert fits.order.tolist() == [fits.orders[i] for i in fits.cv_errors.argmin(1).tolist()]
    for k in fits.orders:
        alone = KernelShapley(order=k, paired=fits.paired).estimate(
            TableGame(table), budget, torch.Generator().manual_seed(5)
        )
        chose = fits.order == k
        assert torch.allclose(res.values[chose], alone.values[chose], atol=1e-9)
    assert len(fits.labels()) == 5 and all(label.startswith("order ") for label in fits.labels())


@pytest.mark.parametrize("m", [6, 8, 10, 12, 16])
def test_the_budget_is_never_exceeded(m):
    table = torch.randn(2, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(m))
    for budget in sorted({2 * m + 2, 3 * m + 1, 3 * m + 2, 5 * m, 8 * m + 2, 150, min(2 ** (m - 1), 360)}):
        if budget < 2 * m + 2 or budget >= 2**m:
            continue
        game = TableGame(table)
        est, checked = resolve_estimator(None, budget, m)
        assert isinstance(est, AdaptiveKernelShapley)
        est.estimate(game, checked, torch.Generator().manual_seed(0))
        assert game.evaluations <= 2 * budget, (m, budget)


def test_the_design_and_the_candidates_follow_m_and_the_budget():
    assert not paired_design(10, 30) and not paired_design(10, 48)
    assert paired_design(10, 96)  # 94 >= max(8M, 175 / 2)
    assert not paired_design(16, 256) and paired_design(16, 350)  # 348 = 696 / 2
    assert not paired_design(20, 10_000)  # beyond MAX_THIRD_ORDER_BANDS
    est = AdaptiveKernelShapley()
    assert est.orders(10, True) == (1, 3) and est.orders(10, False) == (1, 2, 3)
    assert est.orders(MAX_THIRD_ORDER_BANDS + 1, False) == (1, 2)
    assert AdaptiveKernelShapley(paired=False).config() == {"name": "adaptive", "paired": False}
    with pytest.raises(TypeError, match="paired must be True, False or None"):
        AdaptiveKernelShapley(paired="yes")


def test_its_interactions_come_from_the_chosen_fits():
    m = 8
    tables = torch.cat([additive_game(m, 2), interacting_game(m, 2)])
    est, budget = resolve_interaction_estimator(None, 150, m)
    assert isinstance(est, AdaptiveKernelShapley)
    found = est.estimate_interactions(TableGame(tables), budget, torch.Generator().manual_seed(6), "Moebius")
    off = found.values - torch.diag_embed(found.values.diagonal(dim1=1, dim2=2))
    assert bool((off[:2] == 0).all())  # the additive images keep the additive fit: no interactions
    assert bool((off[2:].abs().amax(dim=(1, 2)) > 0.1).all())
    alone = est.estimate(TableGame(tables), budget, torch.Generator().manual_seed(6))
    assert torch.allclose(found.shapley.values, alone.values)
    assert math.isclose(float(found.shapley.delta.abs().max()), 0.0, abs_tol=1e-9)


def test_float32_rounding_of_large_values_is_a_tie_that_the_additive_fit_wins():
    # an additive game read from float32 outputs around -20 (logits, say): the fits differ by rounding only
    m = 10
    table = (additive_game(m, n_images=3) - 20.0).float().double()
    res = AdaptiveKernelShapley().estimate(TableGame(table), 120, torch.Generator().manual_seed(7))
    assert res.fits.order.tolist() == [1, 1, 1]

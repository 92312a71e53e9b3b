import math
from itertools import combinations

import pytest
import torch

from captum_iaside import AdaptiveKernelShapley, KernelShapley
from captum_iaside._utils.coding import coalition_codes
from captum_iaside.estimators.adaptive import MAX_THIRD_ORDER_BANDS
from captum_iaside.estimators.exact import exact_shapley
from captum_iaside.estimators.kernel import regression_coalitions
from captum_iaside.estimators.regression import interaction_features, penalised_fits
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


def complement_columns(m):
    """Column of each coalition's complement in a table (bit i of a column: band i)."""
    return (2**m - 1) - torch.arange(2**m)


def test_the_shapley_values_are_those_of_the_odd_part():
    # the identity the estimator rests on: phi(v) = phi((v(S) - v(N∖S) + v(N)) / 2) with v(∅) = 0
    m = 6
    table = interacting_game(m)
    table = table - table[:, :1]
    odd = (table - table[:, complement_columns(m)] + table[:, -1:]) / 2
    assert torch.allclose(exact_shapley(odd), exact_shapley(table), atol=1e-12)


@pytest.mark.parametrize("m,budget", [(10, 60), (10, 120), (8, 150)])
def test_it_picks_the_additive_fit_on_an_additive_game_and_a_higher_order_on_interactions(m, budget):
    games = [RecordingGame(additive_game(m)), RecordingGame(interacting_game(m))]
    additive, interacting = (
        AdaptiveKernelShapley().estimate(g, budget, torch.Generator().manual_seed(3)) for g in games
    )
    assert torch.equal(games[0].asked[0], games[1].asked[0])  # the same draws
    assert additive.fits.order.tolist() == [1] * 4
    assert interacting.fits.order.tolist() == [3] * 4
    for res, g in zip((additive, interacting), games, strict=True):
        assert torch.allclose(res.values.sum(1), g.table[:, -1] - g.table[:, 0], atol=1e-9)
    # the interacting game's chosen fit beats the additive fit on the same coalitions
    kernel = KernelShapley().estimate(TableGame(games[1].table), budget, torch.Generator().manual_seed(3))
    exact = exact_shapley(games[1].table)
    assert (interacting.values - exact).norm() < (kernel.values - exact).norm()


def reference_odd_fit(gates, weights, values, v_empty, v_full, order, lam):
    """The odd-part fit by its definition, one image and one coalition at a time (a KKT solve)."""
    m = gates.shape[-1]
    odd_terms = [t for k in range(1, order + 1, 2) for t in combinations(range(m), k)]
    phis = []
    for b in range(gates.shape[0]):
        gap = float(v_full[b] - v_empty[b])
        codes = {tuple(int(v) for v in row): r for r, row in enumerate(gates[b].round().long())}
        rows, target = [], []
        for row in gates[b].round().long():
            s = {i for i in range(m) if row[i]}
            r_comp = codes[tuple(1 - int(v) for v in row)]
            y_s = float(values[b, codes[tuple(int(v) for v in row)]] - v_empty[b])
            y_c = float(values[b, r_comp] - v_empty[b])
            target.append((y_s - y_c + gap) / 2)
            rows.append([(float(set(t) <= s) - float(not set(t) & s) + 1) / 2 for t in odd_terms])
        x = torch.tensor(rows, dtype=torch.float64)
        y = torch.tensor(target, dtype=torch.float64)
        a = x.T @ (weights[:, None] * x)
        pen = torch.diag(torch.tensor([float(len(t) > 1) for t in odd_terms], dtype=torch.float64))
        a = a + lam * a.diagonal().mean() * pen
        p = len(odd_terms)
        kkt = torch.zeros(p + 1, p + 1, dtype=torch.float64)
        kkt[:p, :p], kkt[:p, p], kkt[p, :p] = 2 * a, 1.0, 1.0
        rhs = torch.cat([2 * x.T @ (weights * y), torch.tensor([gap], dtype=torch.float64)])
        coef = torch.linalg.solve(kkt, rhs)[:p]
        phis.append([sum(float(c) / len(t) for c, t in zip(coef, odd_terms, strict=True) if i in t) for i in range(m)])
    return torch.tensor(phis, dtype=torch.float64)


@pytest.mark.parametrize("m,budget", [(8, 60), (8, 150), (10, 96)])
def test_each_image_gets_the_odd_part_fit_it_chose(m, budget):
    table = torch.randn(3, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    game = RecordingGame(table)
    res = AdaptiveKernelShapley().estimate(game, budget, torch.Generator().manual_seed(5))
    fits = res.fits
    assert fits.orders == (1, 3) and fits.cv_errors.shape == (3, 2)
    assert fits.order.tolist() == [fits.orders[i] for i in fits.cv_errors.argmin(1).tolist()]
    # the additive odd-part fit is paired KernelSHAP on the same draws
    kernel = KernelShapley().estimate(TableGame(table), budget, torch.Generator().manual_seed(5))
    chose = fits.order == 1
    assert torch.allclose(res.values[chose], kernel.values[chose], atol=1e-9)
    gates, weights = regression_coalitions(3, m, budget - 2, torch.Generator().manual_seed(5), paired=True)
    assert torch.equal(gates, game.asked[-1])
    values = table.gather(1, coalition_codes(gates.round()))
    for b in torch.nonzero(fits.order == 3).flatten().tolist():
        want = reference_odd_fit(
            gates[b : b + 1],
            weights,
            values[b : b + 1],
            table[b : b + 1, 0],
            table[b : b + 1, -1],
            3,
            float(fits.shrinkage[b]),
        )
        assert torch.allclose(res.values[b], want[0], atol=1e-7)
    assert len(fits.labels()) == 3 and all(label.startswith("order ") for label in fits.labels())


def test_the_odd_third_order_fit_is_exact_on_a_3_additive_game():
    m = 8  # 8 + 56 parameters, 74 pairs drawn from 150 evaluations (of 256)
    table = interacting_game(m, n_images=2)
    res = AdaptiveKernelShapley().estimate(TableGame(table), 150, torch.Generator().manual_seed(2))
    assert res.fits.order.tolist() == [3, 3]
    assert torch.allclose(res.values, exact_shapley(table), atol=1e-8)


def test_an_odd_part_fit_needs_a_paired_design():
    m = 6
    gates, weights = regression_coalitions(1, m, 30, torch.Generator().manual_seed(1), paired=False)
    values = torch.randn(1, gates.shape[1], dtype=torch.float64)
    zero = torch.zeros(1, dtype=torch.float64)
    with pytest.raises(ValueError, match="complement"):
        next(penalised_fits(gates, weights, values, zero, zero + 1, 3, odd=True))


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


def test_the_candidates_follow_m():
    est = AdaptiveKernelShapley()
    assert est.orders(10) == (1, 3) and est.orders(MAX_THIRD_ORDER_BANDS) == (1, 3)
    assert est.orders(MAX_THIRD_ORDER_BANDS + 1) == (1,)
    assert est.config() == {"name": "adaptive"}


def test_interactions_at_a_budget_come_from_the_pairwise_fit():
    # the odd part holds no pairwise interaction: the automatic choice for interactions is "kadd"
    assert not AdaptiveKernelShapley().gives_interactions
    with pytest.raises(ValueError, match="interaction"):
        resolve_interaction_estimator("adaptive", 150, 8)
    est, budget = resolve_interaction_estimator(None, 150, 8)
    assert est == KernelShapley(order=2, paired=False) and budget == 150


def test_float32_rounding_of_large_values_is_a_tie_that_the_additive_fit_wins():
    # an additive game read from float32 outputs around -20 (logits, say): the fits differ by rounding only
    m = 10
    table = (additive_game(m, n_images=3) - 20.0).float().double()
    res = AdaptiveKernelShapley().estimate(TableGame(table), 120, torch.Generator().manual_seed(7))
    assert res.fits.order.tolist() == [1, 1, 1]
    assert math.isclose(float(res.delta.abs().max()), 0.0, abs_tol=1e-6)

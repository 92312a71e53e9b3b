import math

import pytest
import torch

from captum_iaside.estimators.kernel import regression_coalitions, size_plan


def codes(gates):
    return (gates.long() * 2 ** torch.arange(gates.shape[-1])).sum(-1)


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

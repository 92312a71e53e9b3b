import math

import pytest
import torch
from reference import naive_shapley

from captum_iaside.estimators.exact import MAX_EXACT_BANDS, check_exact, exact_shapley, shapley_weights


@pytest.mark.parametrize("m", [2, 3, 5])
def test_weights_match_factorial_formula(m):
    w = shapley_weights(m)
    for t in range(2**m):
        size = bin(t).count("1")
        for i in range(m):
            if (t >> i) & 1:
                s = size - 1
                expected = math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m)
            elif size < m:
                expected = -math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            assert w[i, t].item() == pytest.approx(expected, rel=1e-12)


def test_efficiency_structure():
    w = shapley_weights(4)
    col = w.sum(0)
    assert col[-1].item() == pytest.approx(1.0) and col[0].item() == pytest.approx(-1.0)
    assert col[1:-1].abs().max() < 1e-12


@pytest.mark.parametrize("m", [3, 4, 6])
def test_exact_shapley_equals_literal_formula_on_random_games(m):
    v = torch.randn(4, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(m))

    def value_of(s):
        return v[:, sum(1 << i for i in s)]

    assert torch.allclose(exact_shapley(v), naive_shapley(value_of, m), atol=1e-12)


def test_additive_game_gives_its_coefficients():
    m = 5
    coef = torch.tensor([0.5, -1.0, 2.0, 0.0, 3.0], dtype=torch.float64)
    v = torch.tensor([sum(coef[i] for i in range(m) if (t >> i) & 1) for t in range(2**m)], dtype=torch.float64)
    assert torch.allclose(exact_shapley(v[None])[0], coef, atol=1e-12)


def test_bad_sizes():
    with pytest.raises(ValueError, match="2\\^M"):
        exact_shapley(torch.zeros(1, 6))
    with pytest.raises(ValueError, match=f"limit of M={MAX_EXACT_BANDS}"):
        check_exact(13)

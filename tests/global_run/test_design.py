import pytest

from captum_iaside.estimators.exact import ExactShapley
from captum_iaside.estimators.kernel import KernelShapley
from captum_iaside.estimators.permutation import PermutationShapley
from captum_iaside.global_run.design import plan_global, second_pass_design


def test_exact_without_a_budget_and_when_the_budget_covers_every_image():
    d = plan_global(None, None, None, 8, 100)
    assert isinstance(d.estimator, ExactShapley) and d.budget is None and not d.automatic
    d = plan_global(None, None, 256 * 100, 8, 100)
    assert isinstance(d.estimator, ExactShapley) and d.automatic and d.n_images == 100


def test_a_budget_short_of_exact_is_spread_over_all_images():
    d = plan_global(None, None, 50 * 100, 8, 100)
    assert d.estimator == PermutationShapley(antithetic=False, stratified=True)
    assert d.budget == 50 and d.n_images == 100 and d.config()["budget_per_image"] == 50


def test_plentiful_images_get_one_permutation_each():
    d = plan_global(None, None, 8192, 8, 3000)
    assert d.budget == 9 and d.n_images == 8192 // 9 and not d.second_pass


def test_unknown_length_allows_a_second_pass():
    d = plan_global(None, None, 8192, 8, None)
    assert d.budget == 9 and d.n_images is None and d.second_pass
    assert isinstance(second_pass_design(256 * 10, 10, 8).estimator, ExactShapley)
    assert second_pass_design(100, 10, 8).budget == 10
    assert second_pass_design(50, 10, 8) is None


def test_explicit_estimators_keep_working():
    d = plan_global("kernel", 40, 1000, 8, 100)
    assert isinstance(d.estimator, KernelShapley) and d.budget == 40 and d.n_images == 25
    d = plan_global("permutation", None, 3000, 8, 100)  # a sampler without a budget gets F // K
    assert d.budget == 30
    d = plan_global(None, 64, None, 6, None)
    assert isinstance(d.estimator, ExactShapley)


def test_many_players_without_a_budget_take_one_permutation_per_image():
    d = plan_global(None, None, None, 13, 100)
    assert d.estimator.name == "permutation" and d.budget == 14 and d.n_images == 100 and d.automatic


@pytest.mark.parametrize(
    "args,exc,match",
    [
        (
            (None, None, 8, 8, 100),
            ValueError,
            r"max_evaluations=8 is smaller than one image's cheapest estimate, M \+ 1 = 9",
        ),
        (("exact", None, None, 13, 100), ValueError, "limit of M=12"),
    ],
)
def test_bad_budgets(args, exc, match):
    with pytest.raises(exc, match=match):
        plan_global(*args)

"""Models of one training run read as its steps: the history in the order of the steps, and each step minus the one
before against the per-image differences of literal Shapley loops."""

import copy

import pytest
import torch
from conftest import tiny_cnn
from reference import naive_log_prob_shapley

from captum_iaside import compare_global
from captum_iaside.results.dynamics import step_rows
from captum_iaside.results.intervals import percentile_interval

M = 3
LABELS = torch.tensor([0, 1, 0, 1, 2, 2, 0, 1])


def later(model, seed):
    """The model further into training: every weight moved by a small seeded step."""
    moved = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in moved.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return moved


@pytest.fixture(scope="module")
def run():
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    first = tiny_cnn(n_classes=3).eval()
    models = {"late": later(first, 2), "early": first, "mid": later(first, 1)}
    comp = compare_global(
        models, [(x, LABELS)], bands=M, use_labels=True, strata=None, n_bootstrap=300, show_progress=False
    )
    return x, models, comp


def test_steps_are_ordered_and_each_differs_from_the_one_before_by_the_per_image_differences(run):
    x, models, comp = run
    over = comp.as_steps({"late": 9, "early": 0, "mid": 4})
    assert list(over.steps.items()) == [("early", 0), ("mid", 4), ("late", 9)]
    expected_rows = [row for name, step in over.steps.items() for row in step_rows(step, comp.results[name])]
    assert over.history == tuple(expected_rows)
    assert [(d.a, d.b) for d in over.differences] == [(4, 0), (9, 4)]
    phi = {name: naive_log_prob_shapley(model, x, LABELS, M) for name, model in models.items()}
    for d, (a, b) in zip(over.differences, [("mid", "early"), ("late", "mid")], strict=True):
        diff = phi[a] - phi[b]
        assert torch.allclose(d.values, diff.mean(0), atol=1e-5)
        assert torch.allclose(d.stderr, diff.std(0) / diff.shape[0] ** 0.5, rtol=1e-3, atol=1e-7)
        unpaired = (phi[a].std(0) ** 2 + phi[b].std(0) ** 2).sqrt() / diff.shape[0] ** 0.5
        assert torch.allclose(d.unpaired_stderr, unpaired, rtol=1e-3, atol=1e-7)
        reps = comp.replicates[a] - comp.replicates[b]
        assert torch.allclose(d.values_ci, percentile_interval(reps, comp.confidence))
        assert d.srs == pytest.approx(comp.results[a].srs - comp.results[b].srs)
        assert d.srs_ci == comp.srs_difference(a, b).interval
    # nearby checkpoints share most of their between-image variance: pairing removes it
    assert (over.differences[0].unpaired_stderr / over.differences[0].stderr).median() > 1.5


@pytest.mark.parametrize(
    "steps,exc,match",
    [
        ([0, 1, 2], TypeError, "steps must be a dict"),
        ({"early": 0, "mid": 1}, ValueError, r"missing \['late'\]"),
        ({"early": 0, "mid": 1, "late": 2, "other": 3}, ValueError, r"unknown \['other'\]"),
        ({"early": 0, "mid": 1, "late": 1}, ValueError, "step 1 is given twice"),
        ({"early": -1, "mid": 1, "late": 2}, ValueError, "steps must be at least 0"),
        ({"early": 0.5, "mid": 1, "late": 2}, TypeError, "steps must be an int"),
    ],
)
def test_steps_that_do_not_name_each_model_once_are_refused(run, steps, exc, match):
    with pytest.raises(exc, match=match):
        run[2].as_steps(steps)

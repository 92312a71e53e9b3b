import inspect
from dataclasses import MISSING, fields

import pytest
import torch
from conftest import tiny_cnn

from captum_iaside import IASIDE, compare_global
from captum_iaside.global_run.entry import check_models
from captum_iaside.global_run.options import RunOptions


def run_parameters(func):
    names = [f.name for f in fields(RunOptions)] + ["estimator", "budget"]
    params = inspect.signature(func).parameters
    return {n: params[n].default for n in names}


def test_both_entry_points_take_the_same_run_arguments_with_the_same_defaults():
    ours = run_parameters(IASIDE.attribute_global)
    assert ours == run_parameters(compare_global)
    for f in fields(RunOptions):  # and the options' own defaults agree with the public ones
        default = f.default if f.default is not MISSING else f.default_factory()
        assert ours[f.name] == default or (f.name == "additional_forward_args" and ours[f.name] is None), f.name


@pytest.mark.parametrize("entry", ["attribute_global", "compare_global"])
def test_every_run_argument_reaches_the_options_under_its_own_name(entry, monkeypatch, tmp_path):
    # a value other than the default for each option, passed by name: the run receives each in its own field
    seen = {}

    class Reached(Exception):
        pass

    def run(models, data, bands, baseline, value, options, estimator, budget, per_model_data=True):
        seen.update(options=options, estimator=estimator, budget=budget)
        raise Reached

    values = {
        "n_samples": 3,
        "use_labels": False,
        "perturbations_per_eval": 2,
        "max_memory": "3GB",
        "max_evaluations": 99,
        "tolerance": 0.5,
        "n_bootstrap": 7,
        "confidence": 0.8,
        "by_class": True,
        "checkpoint_every": 4,
        "seed": 5,
        "show_progress": True,
        "autocast_dtype": torch.bfloat16,
        "strata": "target",
        "interactions": "STII",
        "additional_forward_args": 7,
        "checkpoint": str(tmp_path / "run.ckpt"),
        "device": "cpu",
    }
    expected = values | {"max_memory": 3 * 10**9, "additional_forward_args": (7,), "device": torch.device("cpu")}
    module = "captum_iaside.attr.iaside" if entry == "attribute_global" else "captum_iaside.attr.compare"
    monkeypatch.setattr(f"{module}.run_global", run)
    with pytest.raises(Reached):
        if entry == "attribute_global":
            IASIDE(tiny_cnn(), bands=4).attribute_global(loader(), estimator="kernel", budget=8, **values)
        else:
            compare_global({"a": tiny_cnn()}, loader(), bands=4, estimator="kernel", budget=8, **values)
    options = seen["options"]
    assert {f.name for f in fields(RunOptions)} == set(values)
    for name, value in expected.items():
        assert getattr(options, name) == value, name
    assert (seen["estimator"], seen["budget"]) == ("kernel", 8)


def test_a_bad_option_is_refused_by_both_entry_points_under_its_name():
    with pytest.raises(TypeError, match="seed must be an int"):
        IASIDE(tiny_cnn(), bands=4).attribute_global(loader(), seed="3")
    with pytest.raises(TypeError, match="seed must be an int"):
        compare_global({"a": tiny_cnn()}, loader(), bands=4, seed="3")


def loader():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, 16, 16, generator=g)
    return [(x[:4], torch.tensor([0, 1, 2, 3])), (x[4:], torch.tensor([4, 0, 1, 2]))]


@pytest.mark.parametrize("entry", ["attribute_global", "compare_global"])
def test_a_model_in_training_mode_is_warned_about_by_both_entry_points(entry):
    model = tiny_cnn().train()
    with pytest.warns(UserWarning, match="training mode") as record:
        if entry == "attribute_global":
            IASIDE(model, bands=4).attribute_global(loader(), n_bootstrap=0)
        else:
            compare_global({"a": model}, loader(), bands=4, n_bootstrap=0)
    assert record[0].filename == __file__  # the warning points at the user's call


@pytest.mark.parametrize("kwargs", [{}, {"max_evaluations": 100}])
def test_a_model_of_a_comparison_gets_exactly_what_attribute_global_gives_it(kwargs):
    a, b = tiny_cnn(seed=0), tiny_cnn(seed=1)
    alone = IASIDE(a, bands=4).attribute_global(loader(), seed=2, **kwargs)
    compared = compare_global({"a": a, "b": b}, loader(), bands=4, seed=2, **kwargs).results["a"]
    assert torch.equal(alone.values, compared.values) and torch.equal(alone.stderr, compared.stderr)
    assert alone.srs_ci == compared.srs_ci and torch.equal(alone.values_ci, compared.values_ci)
    assert alone.config["evaluations"] == compared.config["evaluations"]


@pytest.mark.parametrize(
    "models, error, match",
    [
        ([tiny_cnn()], TypeError, "models must be a dict"),
        ({}, ValueError, "models is empty"),
        ({1: tiny_cnn()}, TypeError, "keyed by str"),
        ({"a": 3}, TypeError, r"models\['a'\] must be callable"),
    ],
)
def test_models_are_checked_once_for_every_entry_point(models, error, match):
    with pytest.raises(error, match=match):
        check_models(models)

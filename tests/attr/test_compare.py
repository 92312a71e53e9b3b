import pytest
import torch
from conftest import tiny_cnn
from torch.utils.data import DataLoader, TensorDataset

from captum_iaside import IASIDE, compare_global


def loader(n=96, classes=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    ds = TensorDataset(torch.randn(n, 3, 16, 16, generator=g), torch.randint(0, classes, (n,), generator=g))
    return DataLoader(ds, batch_size=16)


@pytest.mark.parametrize("max_evaluations", [None, 96 * 6])
def test_each_result_is_that_models_own_global_run(max_evaluations):
    models = {"a": tiny_cnn(seed=0), "b": tiny_cnn(seed=1)}
    kwargs = dict(max_evaluations=max_evaluations, seed=3, perturbations_per_eval=8)
    comp = compare_global(models, loader(), bands=5, baseline="shuffle", **kwargs)
    for name, model in models.items():
        alone = IASIDE(model, bands=5, baseline="shuffle").attribute_global(loader(), **kwargs)
        res = comp.results[name]
        assert torch.allclose(res.values, alone.values, atol=1e-12) and res.n_samples == alone.n_samples
        assert torch.allclose(res.values_ci, alone.values_ci, atol=1e-12) and res.srs_ci == pytest.approx(alone.srs_ci)
        assert res.config["model"] == name and res.config["design"] == alone.config["design"]


def test_paired_differences_are_more_precise_than_the_results():
    base = tiny_cnn(seed=0)
    other = tiny_cnn(seed=0)
    with torch.no_grad():  # a slightly different model: the per-image differences are small
        for p in other.parameters():
            p.mul_(1.05)
    comp = compare_global({"base": base, "other": other}, loader(160), bands=5, max_evaluations=160 * 6)
    diff = comp.values_difference("other", "base")
    assert torch.allclose(diff.values, comp.results["other"].values - comp.results["base"].values)
    unpaired = (comp.results["other"].stderr ** 2 + comp.results["base"].stderr ** 2).sqrt()
    assert bool((diff.stderr < unpaired / 3).all())
    est, (lo, hi) = comp.srs_difference("other", "base")
    assert est == pytest.approx(comp.results["other"].srs - comp.results["base"].srs)
    assert lo <= est <= hi
    srs_a, srs_b = comp.results["other"].srs_ci, comp.results["base"].srs_ci
    assert hi - lo < ((srs_a[1] - srs_a[0]) + (srs_b[1] - srs_b[0])) / 4  # far narrower than unpaired
    table = comp.to_dict()
    assert table["reference"] == "base" and set(table["models"]["other"]) == {
        "result",
        "srs_difference",
        "values_difference",
    }


def test_models_with_their_own_preprocessing_see_the_same_images():
    data = loader(32)
    scaled = [(2 * x, y) for x, y in data]
    model = tiny_cnn(seed=0)
    comp = compare_global({"raw": model, "scaled": lambda x: model(x / 2)}, {"raw": data, "scaled": scaled}, bands=4)
    assert torch.allclose(comp.results["raw"].values, comp.results["scaled"].values, atol=1e-5)
    assert comp.values_difference("raw", "scaled").stderr.max() < 1e-5


@pytest.mark.parametrize(
    "models,kwargs,exc,match",
    [
        ({}, {}, ValueError, "models is empty"),
        ([tiny_cnn()], {}, TypeError, "models must be a dict"),
        ({"a": 3}, {}, TypeError, r"models\['a'\] must be callable"),
        ({"a": tiny_cnn(n_classes=5), "b": tiny_cnn(n_classes=7)}, {}, ValueError, "different numbers of classes"),
        ({"a": tiny_cnn()}, {"max_evaluations": 4}, ValueError, "max_evaluations=4 is smaller than one image"),
    ],
)
def test_bad_input(models, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        compare_global(models, loader(16), bands=4, **kwargs)


def test_unknown_names_and_label_free_models_of_different_classes():
    comp = compare_global(
        {"a": tiny_cnn(n_classes=5), "b": tiny_cnn(n_classes=7)}, loader(32), bands=4, use_labels=False
    )
    with pytest.raises(ValueError, match="a='c' is not a compared model; expected one of"):
        comp.srs_difference("c", "a")
    assert comp.results["b"].config["labels"] == "predicted"

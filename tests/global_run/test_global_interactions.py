"""Global interactions: the mean of the per-image indices with its standard error, through checkpoints and JSON."""

import json

import pytest
import torch

from captum_iaside import IASIDE, OrientedBands, SpectralImportance


def small_model():
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(4, 3)).eval()


IMAGES = torch.rand(10, 3, 16, 16, generator=torch.Generator().manual_seed(2))


@pytest.mark.parametrize("index", ["SII", "STII", "Moebius"])
def test_global_interactions_are_the_mean_of_the_per_image_ones(index):
    ia = IASIDE(small_model(), bands=4)
    res = ia.attribute_global([IMAGES[:4], IMAGES[4:]], interactions=index, n_bootstrap=0, strata=None)
    local = ia.attribute_interactions(IMAGES, index=index).double()
    assert res.config["interactions"] == index and res.config["design"]["estimator"]["name"] == "exact"
    assert torch.allclose(res.interactions, local.mean(0), atol=1e-6)
    assert torch.allclose(res.interactions_stderr, local.std(0) / 10**0.5, atol=1e-6)
    assert torch.allclose(res.values, ia.attribute(IMAGES).double().mean(0), atol=1e-6)


def test_a_budget_reaches_budget_over_2_to_the_m_images_and_json_round_trips(tmp_path):
    res = IASIDE(small_model(), bands=OrientedBands(2, 2)).attribute_global(
        [IMAGES], interactions=True, max_evaluations=3 * 16, n_bootstrap=10
    )
    assert res.n_samples == 3 and res.interactions.shape == (4, 4)
    again = SpectralImportance.from_dict(json.loads(json.dumps(res.to_dict())))
    assert torch.allclose(again.interactions, res.interactions)
    assert torch.allclose(again.interactions_stderr, res.interactions_stderr)


def test_a_resumed_run_keeps_its_interactions(tmp_path):
    ia = IASIDE(small_model(), bands=4)
    data = [IMAGES[:3], IMAGES[3:6], IMAGES[6:]]
    whole = ia.attribute_global(data, interactions=True, n_bootstrap=0)
    path = str(tmp_path / "ck.pt")

    def interrupted():
        yield from data[:2]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ia.attribute_global(interrupted(), interactions=True, n_bootstrap=0, checkpoint=path)
    resumed = ia.attribute_global((b for b in data), interactions=True, n_bootstrap=0, checkpoint=path)
    assert torch.allclose(resumed.interactions, whole.interactions, atol=1e-12)
    assert torch.allclose(resumed.interactions_stderr, whole.interactions_stderr, atol=1e-12)


def test_many_players_default_to_one_permutation_per_image_and_interactions_need_a_fit():
    ia = IASIDE(small_model(), bands=OrientedBands(4, 4))
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    res = ia.attribute_global([x], n_bootstrap=0)
    assert res.config["design"]["estimator"]["name"] == "permutation" and res.config["design"]["budget_per_image"] == 17
    with pytest.raises(ValueError, match="need a budget: exact enumeration stops at M=12"):
        ia.attribute_global([x], interactions=True)
    with pytest.raises(ValueError, match="limit of M=12"):
        ia.attribute_global([x], estimator="exact")
    fitted = ia.attribute_global([x], interactions=True, estimator="kadd", budget=80, n_bootstrap=0)
    assert fitted.interactions.shape == (16, 16) and fitted.config["evaluations"] <= 4 * 80


@pytest.mark.parametrize("bad, error", [("XYZ", ValueError), (3, TypeError)])
def test_bad_interactions_option(bad, error):
    with pytest.raises(error, match="interactions must be True, False or an index name"):
        IASIDE(small_model(), bands=4).attribute_global([IMAGES], interactions=bad)


def test_a_fit_of_interactions_takes_its_budget_from_max_evaluations():
    ia = IASIDE(small_model(), bands=6)
    res = ia.attribute_global([IMAGES], interactions=True, estimator="kadd", max_evaluations=10 * 30, n_bootstrap=0)
    assert res.config["design"]["estimator"]["order"] == 2 and res.config["design"]["budget_per_image"] == 30
    assert res.config["evaluations"] <= 300 and res.interactions.shape == (6, 6)

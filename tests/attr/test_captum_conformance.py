"""The argument forms Captum's own methods accept, as Captum's tests exercise them, on IASIDE."""

import warnings

import pytest
import torch
from captum.attr import NoiseTunnel
from captum.metrics import sensitivity_max
from conftest import tiny_cnn
from reference import band_index, coalition_image, naive_shapley
from torch import nn

from captum_iaside import IASIDE


@pytest.mark.parametrize("target", [2, [2, 2, 2], torch.tensor([2, 2, 2]), torch.tensor(2), torch.tensor([2])])
def test_target_forms(model, images, target):
    ia = IASIDE(model, bands=4)
    assert torch.equal(ia.attribute(images, target=target), ia.attribute(images, target=2))


def test_baselines_as_a_tuple_and_as_scalars(model, images):
    ia = IASIDE(model, bands=4)
    r = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    as_tuple = ia.attribute((images,), baselines=(r,), target=1)
    assert isinstance(as_tuple, tuple) and torch.equal(as_tuple[0], ia.attribute(images, baselines=r, target=1))
    for zero in (0, 0.0, (0,)):
        assert torch.equal(ia.attribute(images, baselines=zero, target=1), ia.attribute(images, target=1))
    half = ia.attribute(images, baselines=0.5, target=1)
    assert torch.allclose(half, ia.attribute(images, baselines=torch.full((1, 3, 16, 16), 0.5), target=1))
    with pytest.raises(TypeError, match="one entry"):
        ia.attribute(images, baselines=(r, r), target=1)


@pytest.mark.parametrize("baselines", [0, 0.0, None])
def test_noise_tunnel_with_baselines(model, images, baselines):
    nt = NoiseTunnel(IASIDE(model, bands=4))
    kwargs = {} if baselines is None else {"baselines": baselines}
    attr = nt.attribute(images, nt_type="smoothgrad", nt_samples=3, stdevs=0.1, target=1, **kwargs)
    assert attr.shape == (3, 4) and bool(torch.isfinite(attr).all())


def test_shuffle_inside_noise_tunnel_is_refused_clearly(model, images):
    nt = NoiseTunnel(IASIDE(model, bands=4, baseline="shuffle"))
    with pytest.raises(ValueError, match="inside NoiseTunnel would pair images with noisy copies"):
        nt.attribute(images, nt_samples=3, stdevs=0.1, target=1)
    IASIDE(model, bands=4, baseline="shuffle").attribute(images, target=1)  # outside it: fine


def test_float64_models_are_computed_in_float64(images):
    model = tiny_cnn(dtype=torch.float64)
    x = images.double()
    target = torch.tensor([0, 3, 1])
    phi = IASIDE(model, bands=4).attribute(x, target=target, perturbations_per_eval=16)
    assert phi.dtype == torch.float64
    index = band_index(16, 16, 4, "square")

    def value_of(s):
        with torch.no_grad():
            out = model(coalition_image(x, torch.zeros_like(x), index, s))
        return torch.log_softmax(out, 1)[torch.arange(3), target]

    assert (phi - naive_shapley(value_of, 4)).abs().max() < 1e-12


def test_data_parallel_of_an_eval_model_does_not_warn(model, images):
    wrapped = nn.DataParallel(model)  # the wrapper's own flag says "training"
    assert wrapped.training and not model.training
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        phi = IASIDE(wrapped, bands=4).attribute(images, target=1)
    assert torch.allclose(phi, IASIDE(model, bands=4).attribute(images, target=1))
    with pytest.warns(UserWarning, match="training mode"):
        IASIDE(nn.DataParallel(tiny_cnn().train()), bands=4).attribute(images, target=1)


def test_torchscript_models(model, images):
    scripted = torch.jit.trace(model, images)
    assert torch.allclose(
        IASIDE(scripted, bands=4).attribute(images, target=2), IASIDE(model, bands=4).attribute(images, target=2)
    )


def test_custom_values_receive_whatever_the_model_returns(model, images):
    class DictModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, x):
            return {"logits": self.net(x), "features": x.mean(dim=(1, 2, 3))}

    def value(output, target):
        return torch.log_softmax(output["logits"], 1)[:, 2]

    phi = IASIDE(DictModel(), bands=4, value=value).attribute(images)
    assert torch.allclose(phi, IASIDE(model, bands=4).attribute(images, target=2), atol=1e-6)
    res = IASIDE(DictModel(), bands=4, value=value).attribute_global([images], n_bootstrap=0)
    assert torch.allclose(res.values, phi.double().mean(0), atol=1e-6)
    # a named value reads the dict's logits; a dict without them is a clear error
    assert torch.allclose(
        IASIDE(DictModel(), bands=4).attribute(images, target=1),
        IASIDE(model, bands=4).attribute(images, target=1),
        atol=1e-6,
    )
    with pytest.raises(TypeError, match="the model returned dict; value='log_prob' needs a tensor"):
        IASIDE(lambda x: {"features": model(x)}, bands=4).attribute(images, target=1)


def test_sensitivity_max_with_scalar_baselines(model, images):
    ia = IASIDE(model, bands=4)
    sens = sensitivity_max(ia.attribute, images, target=1, baselines=0, n_perturb_samples=2)
    assert sens.shape == (3,) and bool(torch.isfinite(sens).all())

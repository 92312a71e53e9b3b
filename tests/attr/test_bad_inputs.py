"""Bad input to IASIDE: a clear error naming the argument, never a traceback from inside PyTorch; and
nothing the user passes is changed."""

import pytest
import torch
from conftest import tiny_cnn
from torch import nn

from captum_iaside import IASIDE, SpectralBands


def images(n=4, dtype=torch.float32):
    return torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(0)).to(dtype)


def test_a_baseline_or_batch_that_requires_grad_is_used_as_a_constant(model):
    base = nn.Parameter(torch.zeros(1, 3, 16, 16))
    phi = IASIDE(model, bands=4).attribute(images(), baselines=base)
    assert phi.shape == (4, 4) and base.grad is None
    batch = images().requires_grad_()
    res = IASIDE(model, bands=4).attribute_global([batch], baselines=base)
    assert res.n_samples == 4 and batch.grad is None


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_images_of_another_dtype_than_the_model_are_refused_naming_both(model, dtype):
    with pytest.raises(TypeError, match=f"images are {dtype}.*parameters are torch.float32"):
        IASIDE(model, bands=4).attribute(images(dtype=dtype))


def test_a_model_that_casts_its_own_input_is_not_refused(model):
    class Casting(nn.Module):  # as Hugging Face models cast pixel_values to their weights' dtype
        def __init__(self):
            super().__init__()
            self.net = model.double()

        def forward(self, x):
            return self.net(x.double())

    phi = IASIDE(Casting(), bands=4).attribute(images())
    assert phi.shape == (4, 4) and bool(torch.isfinite(phi).all())


def test_an_output_of_the_wrong_shape_on_any_forward_is_named():
    calls = []

    def flaky(x):
        calls.append(x.shape[0])
        out = torch.zeros(x.shape[0], 3)
        return out if len(calls) < 3 else out[:-1]  # right at first, one row short later

    with pytest.raises(ValueError, match=r"returned shape \(\d+, 3\) for a forward of \d+ images"):
        IASIDE(flaky, bands=4).attribute(images(), perturbations_per_eval=2)


def test_an_output_without_classes_is_named():
    with pytest.raises(ValueError, match="no class scores"):
        IASIDE(lambda x: torch.zeros(x.shape[0], 0), bands=4).attribute(images())


@pytest.mark.parametrize(
    "data, match",
    [
        (images(), "got one tensor of shape"),
        (None, "got None"),
        (3, "got int"),
        (
            {"pixel_values": images(), "label": torch.zeros(4)},
            r"got one batch \(a dict with 'pixel_values'\): pass \[batch\]",
        ),
        ({"a": [images()]}, r"got a dict \(a dict of model name -> batches is for compare_global\)"),
    ],
)
def test_data_that_is_not_batches_says_what_it_must_be(model, data, match):
    with pytest.raises(TypeError, match=f"data must be an iterable of batches.*{match}"):
        IASIDE(model, bands=4).attribute_global(data)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"seed": "0"}, TypeError, "seed must be an int"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"seed": -5}, ValueError, "seed must be at least 0, got -5"),
        ({"autocast_dtype": "bfloat16"}, TypeError, "autocast_dtype must be a torch.dtype"),
        ({"target": torch.tensor([True, False, True, False])}, TypeError, "bool tensor"),
    ],
)
def test_attribute_checks_what_attribute_global_checks(model, kwargs, error, match):
    with pytest.raises(error, match=match):
        IASIDE(model, bands=4).attribute(images(), **kwargs)


def test_a_target_for_a_model_with_one_output_per_image_is_an_error():
    scalar = IASIDE(lambda x: x.mean(dim=(1, 2, 3)), bands=4, value="logit")
    assert scalar.attribute(images()).shape == (4, 4)
    with pytest.raises(ValueError, match="one number per image.*target=None"):
        scalar.attribute(images(), target=1)
    labelled = [(images(), torch.tensor([0, 1, 0, 1]))]
    with pytest.raises(ValueError, match="use_labels=False"):
        scalar.attribute_global(labelled)
    assert scalar.attribute_global(labelled, use_labels=False).n_samples == 4


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"tolerance": "0.1"}, TypeError, "tolerance must be a real number"),
        ({"confidence": "x"}, TypeError, "confidence must be a real number"),
        ({"confidence": float("nan")}, ValueError, "confidence must be finite"),
        ({"device": "tpu"}, ValueError, "device='tpu' is not a device"),
        ({"device": 3.0}, TypeError, "device must be a str, an int"),
        ({"device": "meta"}, ValueError, "meta"),
    ],
)
def test_run_arguments_of_the_wrong_type_or_value_are_named(model, kwargs, error, match):
    with pytest.raises(error, match=match):
        IASIDE(model, bands=4).attribute_global([images()], **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given where CUDA is absent")
def test_cuda_without_cuda_is_named(model):
    with pytest.raises(ValueError, match="no CUDA device is available"):
        IASIDE(model, bands=4).attribute_global([images()], device="cuda")


def test_non_finite_band_edges_and_meta_images_are_refused(model):
    with pytest.raises(ValueError, match="edges must be finite"):
        SpectralBands(edges=[0, float("nan"), 1])
    with pytest.raises(ValueError, match="meta tensor"):
        IASIDE(model, bands=4).attribute(torch.empty(2, 3, 16, 16, device="meta"))


def test_batch_norm_statistics_of_a_model_in_training_mode_are_left_as_they_were():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.warns(UserWarning, match="training mode"):
        IASIDE(model, bands=4).attribute(images())
    with pytest.warns(UserWarning, match="training mode"):
        IASIDE(model, bands=4).attribute_global([images()], n_bootstrap=0)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before) and model.training


def test_a_model_that_edits_its_input_in_place_does_not_change_the_callers_tensors():
    base = tiny_cnn()

    def editing(x):
        out = base(x)
        x.mul_(0)  # a careless model
        return out

    x, reference = images(), torch.full((1, 3, 16, 16), 0.3)
    x0, r0 = x.clone(), reference.clone()
    IASIDE(editing, bands=4).attribute(x, baselines=reference)
    IASIDE(editing, bands=4).attribute(x, baselines=reference, target=0)
    IASIDE(editing, bands=4).attribute_global([x], baselines=reference)
    assert torch.equal(x, x0) and torch.equal(reference, r0)


def test_a_buffer_the_model_replaces_is_put_back():
    class Ema(nn.Module):  # replaces its buffer rather than updating it in place
        def __init__(self):
            super().__init__()
            self.net = tiny_cnn()
            self.register_buffer("ema", torch.zeros(5))

        def forward(self, x):
            out = self.net(x)
            if self.training:
                self.ema = 0.9 * self.ema + 0.1 * out.mean(0)
            return out

    model = Ema().train()
    original = model.ema
    with pytest.warns(UserWarning, match="training mode"):
        IASIDE(model, bands=4).attribute(images())
    assert model.ema is original and torch.equal(model.ema, torch.zeros(5))

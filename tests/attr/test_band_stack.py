import pytest
import torch
from captum.attr import GradientShap, IntegratedGradients, Occlusion, Saliency

from captum_iaside.attr.band_stack import BandStackModel

TARGET = torch.tensor([0, 3, 1])


def test_stack_sums_to_image_and_model_agrees(model, images):
    bs = BandStackModel(model, bands=4)
    stack, base = bs.prepare(images)
    assert stack.shape == (3, 4, 3, 16, 16) and torch.count_nonzero(base) == 0
    assert torch.allclose(bs(stack), model(images), atol=1e-5)


@pytest.mark.parametrize("baseline", ["zero", "mean"])
def test_integrated_gradients_completeness(model, images, baseline):
    bs = BandStackModel(model, bands=4, baseline=baseline)
    stack, base = bs.prepare(images)
    maps, delta = IntegratedGradients(bs).attribute(
        stack, base, target=TARGET, n_steps=100, return_convergence_delta=True
    )
    assert maps.shape == stack.shape
    total = maps.sum(dim=(1, 2, 3, 4))
    expected = model(images)[torch.arange(3), TARGET] - model(base.sum(1))[torch.arange(3), TARGET]
    assert torch.allclose(total, expected, atol=1e-3)
    assert delta.abs().max() < 1e-3


def test_other_methods_give_per_band_maps(model, images):
    bs = BandStackModel(model, bands=4)
    stack, base = bs.prepare(images)
    assert GradientShap(bs).attribute(stack, torch.cat([base, 0.5 * stack]), target=TARGET).shape == stack.shape
    assert Saliency(bs).attribute(stack, target=TARGET).shape == stack.shape
    occ = Occlusion(bs).attribute(
        stack, sliding_window_shapes=(1, 3, 4, 4), strides=(1, 3, 4, 4), baselines=base, target=TARGET
    )
    assert occ.shape == stack.shape


def test_stack_shape_error(model):
    with pytest.raises(ValueError, match=r"stack must have shape \(B, 4, C, H, W\)"):
        BandStackModel(model, bands=4)(torch.zeros(1, 3, 3, 8, 8))

import pytest
import torch
from captum.attr import (
    FeatureAblation,
    IntegratedGradients,
    KernelShap,
    Lime,
    NoiseTunnel,
    Saliency,
    ShapleyValues,
    ShapleyValueSampling,
)
from captum.metrics import infidelity, sensitivity_max

from captum_iaside import IASIDE, SpectralBands
from captum_iaside.attr.gates import SpectralGates

TARGET = torch.tensor([0, 3, 1])


def test_gates_reproduce_the_images(model, images):
    sg = SpectralGates(model, bands=4, baseline=torch.randn(1, 3, 16, 16))
    gates, (deltas, reference) = sg.prepare(images)
    assert gates.shape == (3, 4) and torch.equal(gates, torch.ones(3, 4))
    assert (sg.images(gates, deltas, reference) - images).abs().max() < 1e-5
    assert (sg.images(gates * 0, deltas, reference) - reference).abs().max() < 1e-6
    assert torch.allclose(sg(gates, deltas, reference), model(images), atol=1e-5)


def test_shapley_values_on_gates_equal_iaside(model, images):
    sg = SpectralGates(model, bands=4, output="log_prob")
    gates, extra = sg.prepare(images)
    captum_phi = ShapleyValues(sg).attribute(gates, baselines=0, target=TARGET, additional_forward_args=extra)
    phi = IASIDE(model, bands=4).attribute(images, target=TARGET)
    assert (captum_phi - phi).abs().max() <= 1e-4


def test_feature_ablation_on_gates_is_leave_one_band_out(model, images):
    sg = SpectralGates(model, bands=4, output="log_prob")
    gates, extra = sg.prepare(images)
    attr = FeatureAblation(sg).attribute(gates, baselines=0, target=TARGET, additional_forward_args=extra)
    bands = SpectralBands(4)
    parts = bands.decompose(images)

    def value(x):
        return torch.log_softmax(model(x), 1)[torch.arange(3), TARGET]

    for i in range(4):
        without_i = parts.sum(1) - parts[:, i]
        assert torch.allclose(attr[:, i], value(images) - value(without_i), atol=1e-5)


def test_integrated_gradients_completeness_on_gates(model, images):
    sg = SpectralGates(model, bands=4, baseline="gaussian")
    gates, extra = sg.prepare(images)
    attr, delta = IntegratedGradients(sg).attribute(
        gates, baselines=0, target=TARGET, additional_forward_args=extra, n_steps=200, return_convergence_delta=True
    )
    assert attr.shape == (3, 4)
    assert delta.abs().max() < 1e-3


@pytest.mark.parametrize(
    "method,kwargs",
    [
        (FeatureAblation, {"baselines": 0}),
        (ShapleyValues, {"baselines": 0}),
        (ShapleyValueSampling, {"baselines": 0, "n_samples": 5}),
        (KernelShap, {"baselines": 0, "n_samples": 40}),
        (Lime, {"baselines": 0, "n_samples": 40}),
        (IntegratedGradients, {"baselines": 0, "n_steps": 10}),
        (Saliency, {}),
    ],
)
def test_captum_methods_run_on_gates(model, images, method, kwargs):
    sg = SpectralGates(model, bands=4)
    gates, extra = sg.prepare(images)
    attr = method(sg).attribute(gates, target=TARGET, additional_forward_args=extra, **kwargs)
    assert attr.shape == (3, 4) and torch.isfinite(attr).all()


def test_noise_tunnel_on_gates(model, images):
    sg = SpectralGates(model, bands=4)
    gates, extra = sg.prepare(images)
    nt = NoiseTunnel(IntegratedGradients(sg))
    attr = nt.attribute(gates, nt_samples=3, stdevs=0.1, baselines=0, target=TARGET, additional_forward_args=extra)
    assert attr.shape == (3, 4)


def test_iaside_inside_noise_tunnel(model, images):
    ia = IASIDE(model, bands=4)
    nt = NoiseTunnel(ia)
    assert nt.attribute(images, nt_samples=2, stdevs=0.05, target=TARGET).shape == (3, 4)
    fmap = nt.attribute(images, nt_samples=2, stdevs=0.05, target=TARGET, return_input_shape=True)
    assert fmap.shape == images.shape
    # zero noise: the smoothed attribution is the attribution itself
    same = nt.attribute(images, nt_samples=2, stdevs=0.0, target=TARGET)
    assert torch.allclose(same, ia.attribute(images, target=TARGET), atol=1e-6)


def test_iaside_with_captum_metrics(model, images):
    ia = IASIDE(model, bands=4)
    sens = sensitivity_max(ia.attribute, images, target=TARGET, n_perturb_samples=2)
    assert sens.shape == (3,) and torch.isfinite(sens).all()
    # infidelity of exact Shapley values on the gate game, with random band knock-outs
    sg = SpectralGates(model, bands=4, output="log_prob")
    gates, extra = sg.prepare(images)
    phi = ia.attribute(images, target=TARGET)

    def knock_out(inputs):
        drop = (torch.rand(inputs.shape, generator=torch.Generator().manual_seed(0)) < 0.5).to(inputs.dtype)
        return drop, inputs - drop

    inf = infidelity(sg, knock_out, gates, phi, additional_forward_args=extra, target=TARGET, n_perturb_samples=4)
    assert inf.shape == (3,) and torch.isfinite(inf).all()


def test_tuple_inputs_follow_captum_convention(model, images):
    ia = IASIDE(model, bands=4)
    (phi,) = ia.attribute((images,), target=TARGET)
    assert torch.allclose(phi, ia.attribute(images, target=TARGET))
    with pytest.raises(TypeError, match="a tuple of 2"):
        ia.attribute((images, images))


def test_gate_errors(model, images):
    with pytest.raises(ValueError, match="output must be one of"):
        SpectralGates(model, output="softmax")
    sg = SpectralGates(model, bands=4)
    _, (deltas, reference) = sg.prepare(images)
    with pytest.raises(ValueError, match=r"gates must have shape \(B, 4\)"):
        sg(torch.ones(3, 5), deltas, reference)

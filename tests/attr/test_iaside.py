import math
import warnings

import pytest
import torch
from captum.attr import PerturbationAttribution, ShapleyValues
from conftest import tiny_cnn
from reference import band_index, coalition_image, naive_shapley
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from captum_iaside import IASIDE, SpectralBands
from captum_iaside.game.baselines import ShuffleBaseline


def naive_phi(model, x, r, m, shape, target):
    """Each coalition image with its own FFT (independent band geometry), Shapley formula literally."""
    index = band_index(x.shape[-2], x.shape[-1], m, shape)

    def value_of(s):
        with torch.no_grad():
            out = model(coalition_image(x, r, index, s))
        return torch.log_softmax(out, 1)[torch.arange(x.shape[0]), target]

    return naive_shapley(value_of, m)


def test_is_a_captum_attribution(model):
    ia = IASIDE(model, bands=4)
    assert isinstance(ia, PerturbationAttribution)
    assert ia.has_convergence_delta()
    assert ia.get_name() == "I-ASIDE"
    assert hasattr(IASIDE.attribute, "__wrapped__")


@pytest.mark.parametrize("m", [4, 5, 6])
@pytest.mark.parametrize("shape", ["square", "circle"])
@pytest.mark.parametrize("baseline", ["zero", "tensor", "shuffle"])
def test_equals_naive_per_coalition_fft(model, images, m, shape, baseline):
    target = torch.tensor([0, 3, 1])
    if baseline == "zero":
        r, spec = torch.zeros_like(images), "zero"
    elif baseline == "tensor":
        spec = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(5))
        r = spec.expand_as(images)
    else:
        spec = ShuffleBaseline()
        perm_gen = torch.Generator().manual_seed(7)
        r = spec(images, perm_gen)  # the same draw IASIDE makes with seed=7
    ia = IASIDE(model, bands=SpectralBands(m, shape=shape), baseline=spec)
    phi = ia.attribute(images, target=target, perturbations_per_eval=8, seed=7)
    expected = naive_phi(model, images, r, m, shape, target)
    assert (phi.double() - expected).abs().max() <= 1e-4


def test_equals_captum_shapley_values_on_the_same_game(model, images):
    m = 4
    bands = SpectralBands(m)
    index = band_index(16, 16, m, "square")
    target = torch.tensor([2, 0, 4])
    spectrum = torch.fft.fft2(images)

    def gated_model(gates):  # gates (B, M): Fourier filter Σ g_i m_i on each image, then log-prob
        mask = (gates[:, :, None, None] * (index[None] == torch.arange(m)[:, None, None])[None]).sum(1)
        x_s = torch.fft.ifft2(spectrum * mask[:, None]).real
        return torch.log_softmax(model(x_s), 1)[torch.arange(gates.shape[0]), target]

    captum_phi = ShapleyValues(gated_model).attribute(torch.ones(3, m), baselines=0.0)
    phi = IASIDE(model, bands=bands).attribute(images, target=target)
    assert (phi - captum_phi).abs().max() <= 1e-4


def test_efficiency_delta(model, images):
    ia = IASIDE(model, bands=6, baseline="gaussian", value="prob")
    phi, delta = ia.attribute(images, target=[0, 1, 2], return_convergence_delta=True, perturbations_per_eval=64)
    assert phi.shape == (3, 6) and delta.shape == (3,)
    assert delta.abs().max() <= 1e-4


class BandProjection(nn.Module):
    """Logits from projections of the image on fixed band-limited patterns u_i (one per band)."""

    def __init__(self, patterns, mix):
        super().__init__()
        self.patterns = patterns  # (M, C, H, W)
        self.mix = mix  # callable (B, M) -> (B, K)

    def forward(self, x):
        return self.mix(torch.einsum("bchw,mchw->bm", x, self.patterns))


def test_symmetry_and_dummy():
    m = 4
    bands = SpectralBands(m)
    g = torch.Generator().manual_seed(0)
    u = bands.decompose(torch.randn(1, 1, 16, 16, generator=g))[0]  # (M, 1, H, W), u_i in band i
    u = u / u.flatten(1).norm(dim=1)[:, None, None, None]
    x = (u[0] + u[1] + 0.7 * u[2] + 3.0 * u[3])[None]  # projections (1, 1, 0.7, 3)

    def mix(p):  # bands 0 and 1 enter symmetrically; band 3 is ignored (dummy)
        a = torch.tanh(p[:, 0] + p[:, 1]) * p[:, 2]
        return torch.stack([a, -a, p[:, 0] * 0], dim=1)

    phi = IASIDE(BandProjection(u, mix).eval(), bands=bands).attribute(x, target=0)[0]
    assert abs(phi[0] - phi[1]) < 1e-5
    assert abs(phi[3]) < 1e-5
    assert abs(phi[2]) > 1e-2


@pytest.mark.parametrize("k", [0, 2, 3])
def test_model_that_sees_one_band_gets_all_importance_there(images, k):
    bands = SpectralBands(4)
    cnn = tiny_cnn()

    class OnlyBand(nn.Module):
        def forward(self, x):
            return cnn(bands.decompose(x)[:, k])

    phi, delta = IASIDE(OnlyBand().eval(), bands=bands).attribute(images, target=1, return_convergence_delta=True)
    others = [i for i in range(4) if i != k]
    assert phi[:, others].abs().max() < 1e-5
    assert phi[:, k].abs().min() > 1e-4
    assert delta.abs().max() < 1e-5


def test_linearity_in_the_value(model, images):
    a, b = 0.7, -2.0
    phi = lambda value: IASIDE(model, bands=4, value=value).attribute(images)  # noqa: E731
    combined = phi(lambda out, y: a * out[:, 0] + b * out[:, 1])
    parts = a * phi(lambda out, y: out[:, 0]) + b * phi(lambda out, y: out[:, 1])
    assert (combined - parts).abs().max() < 1e-4


def test_label_free_target_is_the_prediction(model, images):
    ia = IASIDE(model, bands=4)
    predicted = model(images).argmax(1)
    assert torch.allclose(ia.attribute(images), ia.attribute(images, target=predicted))


def test_scalar_output_model_needs_no_target(model, images):
    scalar = lambda x: model(x)[:, 0]  # noqa: E731
    phi = IASIDE(scalar, bands=4, value="logit").attribute(images)
    phi_logit = IASIDE(model, bands=4, value="logit").attribute(images, target=0)
    assert torch.allclose(phi, phi_logit, atol=1e-6)


def test_chunking_does_not_change_the_result(model, images):
    ia = IASIDE(model, bands=5)
    ref = ia.attribute(images, target=1, perturbations_per_eval=1)
    for ppe in [3, 32, 100]:
        assert torch.allclose(ia.attribute(images, target=1, perturbations_per_eval=ppe), ref, atol=1e-6)


def test_additional_forward_args_follow_every_coalition(images):
    cnn = tiny_cnn()

    def forward(x, scale, shift):
        return cnn(x) * scale[:, None] + shift

    scale = torch.tensor([1.0, 2.0, 3.0])
    ia = IASIDE(forward, bands=4, value="logit")
    phi = ia.attribute(images, target=0, additional_forward_args=(scale, 5.0), perturbations_per_eval=4)
    ref = IASIDE(cnn, bands=4, value="logit").attribute(images, target=0)
    assert torch.allclose(phi, ref * scale[:, None], atol=1e-5)


def test_input_shape_map(model, images):
    bands = SpectralBands(4)
    ia = IASIDE(model, bands=bands)
    phi = ia.attribute(images, target=0)
    fmap = ia.attribute(images, target=0, return_input_shape=True)
    assert fmap.shape == images.shape
    centred = torch.fft.fftshift(band_index(16, 16, 4, "square"))
    for i in range(4):
        assert torch.allclose(fmap[:, :, centred == i], phi[:, i, None, None].expand(-1, 3, -1))
    assert fmap[0, 0, 8, 8] == phi[0, 0]  # zero frequency in the centre holds band 0


def test_nothing_the_user_passes_is_mutated(images):
    model = tiny_cnn()
    model.train()
    images.requires_grad_(True)
    before = images.detach().clone()
    with pytest.warns(UserWarning, match="training mode"):
        IASIDE(model, bands=4).attribute(images, target=0)
    assert model.training
    assert torch.equal(images.detach(), before) and images.grad is None
    assert all(p.grad is None for p in model.parameters())


def test_eval_model_does_not_warn(model, images):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        IASIDE(model, bands=4).attribute(images, target=0)


# ------------------------------------------------------------------ global


def loader(n=10, batch_size=4, labels=True, size=16, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, size, size, generator=g)
    y = torch.randint(0, 5, (n,), generator=g)
    ds = TensorDataset(x, y) if labels else TensorDataset(x)
    return DataLoader(ds, batch_size=batch_size), x, y


@pytest.mark.parametrize("baseline", ["zero", "tensor"])
def test_global_is_the_mean_of_local(model, baseline):
    spec = "zero" if baseline == "zero" else torch.randn(1, 3, 16, 16)
    data, x, y = loader()
    ia = IASIDE(model, bands=4, baseline=spec)
    res = ia.attribute_global(data, perturbations_per_eval=16, strata=None)
    phi, delta = ia.attribute(x, target=y, return_convergence_delta=True)
    phi = phi.double()
    assert res.n_samples == 10
    assert torch.allclose(res.values, phi.mean(0), atol=1e-6)
    assert torch.allclose(res.stderr, phi.std(0) / math.sqrt(10), atol=1e-6)
    assert res.v_full - res.v_empty == pytest.approx(float(res.values.sum()), abs=1e-5)
    assert res.config["bands"]["n_bands"] == 4 and res.config["labels"] == "given"


def test_global_n_samples_label_free_and_plain_tensors(model):
    data, x, y = loader(n=10, labels=False)
    ia = IASIDE(model, bands=4)
    res = ia.attribute_global(data, n_samples=7)
    assert res.n_samples == 7 and res.config["labels"] == "predicted"
    assert torch.allclose(res.values, ia.attribute(x[:7]).double().mean(0), atol=1e-6)
    batches = [x[:5], x[5:]]
    assert torch.allclose(ia.attribute_global(batches).values, ia.attribute(x).double().mean(0), atol=1e-6)
    labelled, _, _ = loader(n=10)
    assert ia.attribute_global(labelled, use_labels=False).config["labels"] == "predicted"


def test_global_shuffle_is_seeded(model):
    data, _, _ = loader()
    ia = IASIDE(model, bands=4, baseline="shuffle")
    a = ia.attribute_global(data, seed=1)
    assert torch.equal(a.values, ia.attribute_global(data, seed=1).values)
    assert not torch.equal(a.values, ia.attribute_global(data, seed=2).values)


# ------------------------------------------------------------------ errors


class Const(nn.Module):
    def __init__(self, out):
        super().__init__()
        self.out = out
        self.eval()

    def forward(self, x):
        return self.out(x)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda ia, x: ia.attribute(x[0]), ValueError, "inputs must be 4-D"),
        (lambda ia, x: ia.attribute(x.long()), TypeError, "inputs must be floating point"),
        (lambda ia, x: ia.attribute(x[..., :4, :4]), ValueError, "smallest square size"),
        (lambda ia, x: ia.attribute(x, target=7), ValueError, "target 7 is out of range"),
        (lambda ia, x: ia.attribute(x, target=[0, 1]), ValueError, r"one class index per image \(3,\)"),
        (
            lambda ia, x: ia.attribute(x, baselines=torch.zeros(2, 3, 16, 16)),
            ValueError,
            "baselines must have shape",
        ),
        (lambda ia, x: ia.attribute(x, baselines="blur"), ValueError, "unknown baseline 'blur'"),
        (lambda ia, x: ia.attribute(x, perturbations_per_eval=0), ValueError, "perturbations_per_eval"),
        (lambda ia, x: ia.attribute_global([]), ValueError, "data yielded no images"),
        (lambda ia, x: ia.attribute_global([x], n_samples=0), ValueError, "n_samples must be at least 1"),
        (lambda ia, x: ia.attribute_global([{"x": x}]), TypeError, r"dict batches with keys \['x'\], but none of"),
    ],
)
def test_bad_input_errors(model, images, call, exc, match):
    with pytest.raises(exc, match=match):
        call(IASIDE(model, bands=4), images)


def test_bad_constructor_arguments(model):
    with pytest.raises(ValueError, match="limit of M=12.*estimator='permutation'"):
        IASIDE(model, bands=13).attribute(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="n_bands must be at least 2"):
        IASIDE(model, bands=1)
    with pytest.raises(TypeError, match="bands must be an int, a SpectralBands, an OrientedBands"):
        IASIDE(model, bands="8")
    with pytest.raises(ValueError, match="unknown value 'accuracy'"):
        IASIDE(model, value="accuracy")
    with pytest.raises(TypeError, match="forward_func must be callable"):
        IASIDE("resnet")


def test_wrong_output_rank_for_the_value(images):
    with pytest.raises(ValueError, match="needs class scores of shape"):
        IASIDE(Const(lambda x: x.mean(dim=(1, 2, 3))), bands=4).attribute(images)
    with pytest.raises(ValueError, match="needs a model output of shape"):
        IASIDE(Const(lambda x: x), bands=4).attribute(images, target=0)


def test_non_finite_output_names_the_coalition(images):
    def out(x):  # NaN exactly when the lowest band is absent (its mean is then 0)
        mean = x.mean(dim=(1, 2, 3))
        logit = torch.where(mean.abs() < 1e-6, torch.full_like(mean, float("nan")), mean)
        return torch.stack([logit, -logit], 1)

    x = images + 1.0
    with pytest.raises(ValueError, match=r"not finite for image 0 of the batch on the coalition of bands \[\]"):
        IASIDE(Const(out), bands=4).attribute(x, target=0)


def test_estimate_is_attribute_with_the_choice_of_each_image(model):
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    ia = IASIDE(model, bands=6)
    est = ia.estimate(x, target=[0, 1, 2], budget=30, seed=4)
    phi = ia.attribute(x, target=[0, 1, 2], budget=30, seed=4)
    assert torch.allclose(est.values.to(phi.dtype), phi)
    assert est.fits is not None and est.fits.order.shape == (3,) and len(est.fits.labels()) == 3
    assert est.evaluations <= 3 * 30 and est.target.tolist() == [0, 1, 2]
    assert float(est.delta.abs().max()) < 1e-9
    exact = ia.estimate(x, target=[0, 1, 2])
    assert exact.fits is None and torch.allclose(exact.values.to(phi.dtype), ia.attribute(x, target=[0, 1, 2]))

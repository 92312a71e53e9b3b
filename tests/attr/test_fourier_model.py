import pytest
import torch
from captum.attr import FeatureAblation, Occlusion, ShapleyValueSampling

from captum_iaside import SpectralBands
from captum_iaside.attr.fourier_model import FourierModel, bin_feature_mask, image_of, spectrum_of
from captum_iaside.attr.gates import SpectralGates

TARGET = torch.tensor([0, 3, 1])


def test_spectrum_round_trip(images):
    spec = spectrum_of(images)
    assert spec.shape == (3, 3, 16, 16, 2)
    assert (image_of(spec) - images).abs().max() < 1e-5
    # the centre holds the zero frequency: the sum of the pixels
    assert torch.allclose(spec[:, :, 8, 8, 0], images.sum(dim=(2, 3)), atol=1e-4)


def test_feature_ablation_on_the_fourier_plane_equals_the_gates_route(model, images):
    bands = SpectralBands(4)
    fm = FourierModel(model)
    spectrum, base = fm.prepare(images)
    mask = bands.feature_mask(16, 16)
    fourier = FeatureAblation(fm).attribute(spectrum, baselines=base, target=TARGET, feature_mask=mask)
    sg = SpectralGates(model, bands=bands)
    gates, extra = sg.prepare(images)
    via_gates = FeatureAblation(sg).attribute(gates, baselines=0, target=TARGET, additional_forward_args=extra)
    centred = torch.fft.fftshift(bands.index(16, 16))
    for i in range(4):
        u, v = (centred == i).nonzero()[0]
        assert torch.allclose(fourier[:, 0, u, v, 0], via_gates[:, i], atol=1e-5)
        # every bin of the band, in every channel and part, carries the band's value
        band_bins = fourier[..., centred == i, :]
        assert torch.allclose(band_bins, via_gates[:, i, None, None, None].expand_as(band_bins), atol=1e-5)


def test_shapley_sampling_and_occlusion_run_on_spectra(model, images):
    fm = FourierModel(model, baseline="mean")
    spectrum, base = fm.prepare(images)
    attr = ShapleyValueSampling(fm).attribute(
        spectrum, baselines=base, target=TARGET, feature_mask=SpectralBands(4).feature_mask(16, 16), n_samples=3
    )
    assert attr.shape == spectrum.shape
    occ = Occlusion(fm).attribute(
        spectrum, sliding_window_shapes=(3, 4, 4, 2), strides=(3, 4, 4, 2), baselines=base, target=TARGET
    )
    assert occ.shape == spectrum.shape and torch.isfinite(occ).all()


def test_finer_groupings():
    bands = SpectralBands(4)
    sectors = bands.feature_mask(16, 16, orientations=4)
    assert sectors.shape == (1, 1, 16, 16, 1)
    ids = sectors[0, 0, :, :, 0]
    assert ids.unique().tolist() == list(range(int(ids.max()) + 1))  # consecutive
    # each group lies inside one band and is closed under conjugation (so images stay real)
    centred_band = torch.fft.fftshift(bands.index(16, 16))
    conj = lambda m: torch.roll(torch.flip(m, dims=(0, 1)), shifts=(1, 1), dims=(0, 1))  # noqa: E731
    assert torch.equal(ids, conj(ids))
    for g in ids.unique():
        assert centred_band[ids == g].unique().numel() == 1
    assert int(ids.max()) + 1 > 4
    single = bin_feature_mask(16, 16)[0, 0, :, :, 0]
    assert torch.equal(single, conj(single))
    assert int(single.max()) + 1 == (16 * 16 + 4) // 2  # pairs, plus the 4 self-conjugate bins
    with pytest.raises(ValueError, match="orientations"):
        bands.feature_mask(16, 16, orientations=0)


def test_fourier_errors(model):
    with pytest.raises(ValueError, match=r"\(B, C, H, W, 2\)"):
        image_of(torch.zeros(1, 3, 16, 16))
    with pytest.raises(TypeError, match="forward_func must be callable"):
        FourierModel(None)


def test_every_captum_door_refuses_a_negative_seed(model, images):
    for door in (FourierModel(model, baseline="shuffle"), SpectralGates(model, bands=4, baseline="shuffle")):
        with pytest.raises(ValueError, match="seed must be at least 0, got -2"):
            door.prepare(images, seed=-2)

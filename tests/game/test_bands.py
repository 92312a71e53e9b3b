import numpy as np
import pytest
import torch
from reference import band_index

from captum_iaside import SpectralBands

SIZES = [(32, 32), (31, 40), (17, 16), (16, 17), (9, 9)]


@pytest.mark.parametrize("shape", ["square", "circle"])
@pytest.mark.parametrize("h,w", SIZES)
def test_index_matches_literal_definition(shape, h, w):
    m = 4
    bands = SpectralBands(m, shape=shape)
    expected = band_index(h, w, m, shape)
    assert torch.equal(bands.index(h, w), expected)


@pytest.mark.parametrize("shape", ["square", "circle"])
@pytest.mark.parametrize("h,w", [(32, 32), (31, 40), (17, 16)])
def test_counts_per_band_match_spec(shape, h, w):
    bands = SpectralBands(8, shape=shape)
    expected = torch.bincount(band_index(h, w, 8, shape).flatten(), minlength=8)
    assert torch.equal(bands.counts(h, w), expected)
    assert int(expected.sum()) == h * w


def test_known_square_layout():
    # 8 x 8, M = 4: along an axis the band is |k| (k = 4 clamps to 3)
    assert SpectralBands(4).index(8, 8)[0].tolist() == [0, 1, 2, 3, 3, 3, 2, 1]


@pytest.mark.parametrize("shape", ["square", "circle"])
@pytest.mark.parametrize("h,w", SIZES)
def test_masks_partition_and_are_conjugate_symmetric(shape, h, w):
    masks = SpectralBands(4, shape=shape).masks(h, w)
    assert masks.shape == (4, h, w)
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(masks.sum(0), torch.ones(h, w))
    flipped = torch.roll(torch.flip(masks, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))  # m[-u, -v]
    assert torch.equal(masks, flipped)


@pytest.mark.parametrize("shape", ["square", "circle"])
@pytest.mark.parametrize("h,w", SIZES)
def test_decompose_sums_to_input_and_is_real(shape, h, w):
    bands = SpectralBands(4, shape=shape)
    x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(0))
    parts = bands.decompose(x)
    assert parts.shape == (2, 4, 3, h, w)
    assert parts.dtype == x.dtype
    assert (parts.sum(1) - x).abs().max() <= 1e-5
    # the complex inverse transform of each band is real (conjugate-symmetric masks)
    full = np.fft.ifft2(np.fft.fft2(x.numpy())[:, None] * bands.masks(h, w).numpy()[None, :, None])
    assert np.abs(full.imag).max() < 1e-6
    assert np.allclose(full.real, parts.numpy(), atol=1e-5)


def test_band_component_holds_only_its_frequencies():
    bands = SpectralBands(4)
    x = torch.randn(1, 1, 16, 16)
    parts = bands.decompose(x)
    spec = torch.fft.fft2(parts[0, 2, 0])
    outside = bands.masks(16, 16)[2] == 0
    assert spec[outside].abs().max() < 1e-4


def test_custom_edges_match_literal_definition():
    edges = [0.0, 0.1, 0.25, 0.5, 1.0]
    for shape in ["square", "circle"]:
        bands = SpectralBands(shape=shape, edges=edges)
        assert bands.n_bands == 4
        assert torch.equal(bands.index(31, 40), band_index(31, 40, 4, shape, edges))
    assert SpectralBands(edges=edges).band_edges() == edges


def test_float64_and_device_caching():
    bands = SpectralBands(4)
    x = torch.randn(1, 2, 12, 12, dtype=torch.float64)
    parts = bands.decompose(x)
    assert parts.dtype == torch.float64
    assert (parts.sum(1) - x).abs().max() < 1e-12
    assert bands.masks(12, 12) is bands.masks(12, 12)


def test_input_is_not_modified():
    x = torch.randn(2, 3, 16, 16)
    before = x.clone()
    SpectralBands(4).decompose(x)
    assert torch.equal(x, before)


def test_empty_band_names_smallest_size():
    bands = SpectralBands(8)
    smallest = next(
        s for s in range(2, 64) if (torch.bincount(band_index(s, s, 8, "square").flatten(), minlength=8) > 0).all()
    )
    with pytest.raises(ValueError, match=f"{smallest} x {smallest}"):
        bands.index(8, 8)
    bands.index(smallest, smallest)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"n_bands": 1}, ValueError, "n_bands must be at least 2"),
        ({"n_bands": 2.5}, TypeError, "n_bands must be an int"),
        ({"shape": "hexagon"}, ValueError, "shape must be one of"),
        ({"edges": [0.1, 0.5, 1.0]}, ValueError, "start at 0"),
        ({"edges": [0.0, 0.5, 0.4, 1.0]}, ValueError, "strictly increasing"),
        ({"n_bands": 3, "edges": [0.0, 0.5, 1.0]}, ValueError, "disagrees with edges"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        SpectralBands(**kwargs)


@pytest.mark.parametrize(
    "x,exc,match",
    [
        (torch.randn(3, 16, 16), ValueError, "4-D"),
        (torch.ones(1, 3, 16, 16, dtype=torch.int64), TypeError, "floating point"),
        ([[1.0]], TypeError, "torch.Tensor"),
    ],
)
def test_decompose_bad_input(x, exc, match):
    with pytest.raises(exc, match=match):
        SpectralBands(4).decompose(x)


@pytest.mark.parametrize("shape", ["square", "circle"])
def test_the_smallest_size_hint_agrees_with_the_exact_index_and_is_quick(shape):
    import time

    for m in range(2, 17):
        b = SpectralBands(m, shape=shape)
        exact = next(
            s for s in range(2, 64) if bool((torch.bincount(b._raw_index(s, s).flatten(), minlength=m) > 0).all())
        )
        assert b._smallest_square_size() == exact, m
    start = time.perf_counter()
    with pytest.raises(ValueError, match="smallest square size"):
        SpectralBands(200, shape=shape).index(160, 160)
    assert time.perf_counter() - start < 2.0

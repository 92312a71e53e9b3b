import torch

from captum_iaside import SpectralBands
from captum_iaside.game.coalitions import coalition_matrix, compose


def test_coalition_matrix_bits():
    z = coalition_matrix(3)
    assert z.shape == (8, 3)
    assert z[0].tolist() == [0, 0, 0] and z[-1].tolist() == [1, 1, 1]
    assert z[5].tolist() == [1, 0, 1]  # 5 = 0b101


def test_compose_equals_masked_fft_of_x_and_r():
    bands = SpectralBands(4)
    g = torch.Generator().manual_seed(0)
    x, r = torch.randn(2, 3, 16, 16, generator=g), torch.randn(1, 3, 16, 16, generator=g)
    deltas = bands.decompose(x - r)
    z = coalition_matrix(4)
    imgs = compose(r, deltas, z)
    assert imgs.shape == (2, 16, 3, 16, 16)
    idx = bands.index(16, 16)
    for t in [0, 6, 15]:
        keep = torch.zeros(16, 16, dtype=torch.bool)
        for i in range(4):
            if z[t, i]:
                keep |= idx == i
        direct = torch.fft.ifft2(torch.where(keep, torch.fft.fft2(x), torch.fft.fft2(r))).real
        assert (imgs[:, t] - direct).abs().max() < 1e-5
    assert (imgs[:, 0] - r).abs().max() < 1e-6 and (imgs[:, -1] - x).abs().max() < 1e-5


def test_compose_interpolates_with_fractional_gates():
    bands = SpectralBands(4)
    x = torch.randn(1, 1, 16, 16)
    deltas = bands.decompose(x)
    half = compose(torch.zeros(1, 1, 16, 16), deltas, torch.full((1, 4), 0.5))
    assert (half[:, 0] - 0.5 * x).abs().max() < 1e-5

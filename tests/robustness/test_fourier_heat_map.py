"""The Fourier heat map against a naive loop over frequencies."""

import numpy as np
import pytest
import torch

from captum_iaside import fourier_heat_map
from captum_iaside.robustness import fourier_basis


def test_basis_is_real_unit_norm_and_holds_one_conjugate_pair():
    u = fourier_basis(12, 10, 3, 4, torch.float64)
    assert float(u.norm()) == pytest.approx(1.0)
    spectrum = np.abs(np.fft.fft2(u.numpy()))
    assert set(zip(*np.nonzero(spectrum > 1e-9), strict=True)) == {(3, 4), (9, 6)}


def test_heat_map_matches_a_naive_loop():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
    x = torch.rand(3, 1, 8, 8)
    heat = fourier_heat_map(model, x, eps=3.0, batch_size=7, seed=1)
    truth = model(x).argmax(1)
    g = torch.Generator().manual_seed(1)
    pairs = sorted({min(u * 8 + v, ((-u) % 8) * 8 + (-v) % 8) for u in range(8) for v in range(8)})
    signs = torch.randint(0, 2, (len(pairs), 3, 1, 1, 1), generator=g).float() * 2 - 1
    naive = torch.zeros(8, 8, dtype=torch.float64)
    with torch.no_grad():
        for k, p in enumerate(pairs):
            u, v = divmod(p, 8)
            basis = torch.tensor(np.fft.ifft2(_pair(u, v)).real, dtype=torch.float32)
            basis = basis / basis.norm()
            rate = (model(x + 3.0 * signs[k] * basis).argmax(1) != truth).double().mean()
            naive[u, v] = naive[(-u) % 8, (-v) % 8] = rate
    assert torch.allclose(heat, torch.fft.fftshift(naive))
    assert heat.shape == (8, 8) and float(heat.min()) >= 0 and float(heat.max()) <= 1


def _pair(u, v):
    s = np.zeros((8, 8), dtype=complex)
    s[u, v] = s[(-u) % 8, (-v) % 8] = 1.0
    return s


@pytest.mark.parametrize(
    "kwargs, error", [({"eps": 0.0}, ValueError), ({"batch_size": 0}, ValueError), ({"seed": -1}, ValueError)]
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        fourier_heat_map(lambda x: x.mean((2, 3)), torch.rand(1, 2, 8, 8), **kwargs)

"""Independent, literal implementations of the definition (docs/concepts.md) used as test oracles (slow by design)."""

import itertools
import math
from fractions import Fraction

import torch


def signed_freq(u: int, n: int) -> int:
    return u if u < (n + 1) // 2 else u - n


def band_of(ky: int, kx: int, h: int, w: int, m: int, shape: str, edges=None) -> int:
    ry, rx = Fraction(2 * abs(ky), h), Fraction(2 * abs(kx), w)
    if edges is None:
        bounds = [Fraction(i, m) for i in range(1, m)]
    else:
        bounds = [Fraction(str(e)) for e in edges[1:-1]]
    if shape == "square":
        r = max(ry, rx)
        return sum(1 for e in bounds if r >= e)
    r2 = ry * ry + rx * rx
    return sum(1 for e in bounds if r2 >= e * e)


def band_index(h: int, w: int, m: int, shape: str, edges=None) -> torch.Tensor:
    out = torch.empty(h, w, dtype=torch.int64)
    for u in range(h):
        for v in range(w):
            out[u, v] = band_of(signed_freq(u, h), signed_freq(v, w), h, w, m, shape, edges)
    return out


def coalition_image(x, r, index, members):
    """x_S with its own FFT: keep the bins of the bands in S from x, the rest from r."""
    keep = torch.zeros(index.shape, dtype=torch.bool)
    for i in members:
        keep |= index == i
    spec = torch.where(keep, torch.fft.fft2(x.double()), torch.fft.fft2(r.double()))
    return torch.fft.ifft2(spec).real.to(x.dtype)


def naive_shapley(value_of, m: int) -> torch.Tensor:
    """φ_i = Σ_{S ⊆ N∖{i}} |S|!(M−|S|−1)!/M! (v(S∪{i}) − v(S)), literally; value_of(frozenset) -> (B,)."""
    cache = {}

    def v(s):
        if s not in cache:
            cache[s] = value_of(s).double()
        return cache[s]

    cols = []
    for i in range(m):
        others = [j for j in range(m) if j != i]
        total = 0
        for size in range(m):
            weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for s in itertools.combinations(others, size):
                s = frozenset(s)
                total = total + weight * (v(s | {i}) - v(s))
        cols.append(total)
    return torch.stack(cols, dim=1)

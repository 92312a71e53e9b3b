"""Independent, literal implementations of the definition (docs/concepts.md) used as test oracles (slow by design)."""

import itertools
import math
from fractions import Fraction

import numpy as np
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


def naive_log_prob_shapley(model, x, labels, m: int) -> torch.Tensor:
    """Per-image Shapley values of ``m`` square bands under the zero baseline, the value the log-probability of
    ``labels``, by :func:`naive_shapley` over literal coalition images: ``(B, m)``."""
    index = band_index(x.shape[-2], x.shape[-1], m, "square")

    def value_of(s):
        with torch.no_grad():
            out = model(coalition_image(x, torch.zeros_like(x), index, s))
        return torch.log_softmax(out, 1)[torch.arange(x.shape[0]), labels]

    return naive_shapley(value_of, m)


def sid_by_hand(values: np.ndarray) -> np.ndarray:
    """The paper's SID of each row, (ψ − min ψ) / Σ(ψ − min ψ), with numpy (rows that are not all equal)."""
    shifted = values - values.min(axis=1, keepdims=True)
    return shifted / shifted.sum(axis=1, keepdims=True)


def anchored_by_hand(values: np.ndarray, j: int) -> np.ndarray:
    """The SID of each row as if band j were the weakest: bands below it count as 0."""
    shifted = np.clip(values - values[:, [j]], 0, None)
    return shifted / shifted.sum(axis=1, keepdims=True)


def srs_by_hand(sid: np.ndarray, beta: float = 0.75) -> np.ndarray:
    """The paper's SRS of each row, |<b/|b|, SID> − η| / |1 − η| with b_k = β^k and η = |b|_1 / (M |b|_2)."""
    m = sid.shape[1]
    b = beta ** np.arange(m)
    eta = b.sum() / (m * np.linalg.norm(b))
    return np.abs(sid @ (b / np.linalg.norm(b)) - eta) / abs(1 - eta)


def candidates_by_hand(reps: np.ndarray, values: np.ndarray, confidence: float) -> list[int]:
    """The weakest band of values, then every band whose percentile interval of its difference from it is not
    wholly above 0 (a NaN end counts as not above)."""
    weakest = int(np.argmin(values))
    low = np.percentile(reps - reps[:, [weakest]], 100 * (1 - confidence) / 2, axis=0)
    return [weakest] + [j for j in range(len(values)) if j != weakest and not low[j] > 0]


def srs_interval_by_hand(reps: np.ndarray, values: np.ndarray, confidence: float, beta: float = 0.75):
    """(low, high, candidates): the percentile interval of the replicates' SRS where one band is the weakest,
    else the hull over the candidates of the percentile intervals of the SRS anchored on each."""
    candidates = candidates_by_hand(reps, values, confidence)
    q = [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2]
    if len(candidates) == 1:
        low, high = np.percentile(srs_by_hand(sid_by_hand(reps), beta), q)
        return low, high, candidates
    ends = np.array([np.percentile(srs_by_hand(anchored_by_hand(reps, j), beta), q) for j in candidates])
    return ends[:, 0].min(), ends[:, 1].max(), candidates

r"""Coalition draws and the Shapley estimates computed from their values (pure tensor functions).

- Permutations: each permutation of the bands adds them one at a time and credits each band with
  its marginal contribution; the prefixes of sizes ``1 .. M − 1`` are the coalitions to evaluate.
  :func:`antithetic_permutations` pairs every permutation with its reverse (Mitchell et al.,
  2022, https://arxiv.org/abs/2104.12199); :func:`stratified_permutations` makes every band sit at
  every position equally often within each group of ``M`` consecutive permutations, across the
  images of a batch, while each permutation stays uniformly distributed.
- Kernel: coalitions drawn from the Shapley kernel, each paired with its complement, and the
  efficiency-constrained least-squares problem of KernelSHAP solved from the sampled moments
  (Covert & Lee, 2021, https://arxiv.org/abs/2012.01536).
"""

from __future__ import annotations

import torch
from torch import Tensor


def random_permutations(shape: tuple[int, ...], n_bands: int, generator: torch.Generator) -> Tensor:
    r"""Independent uniform permutations of ``range(n_bands)``: ``(*shape, M)`` int64."""
    return torch.rand(*shape, n_bands, generator=generator).argsort(dim=-1)


def antithetic_permutations(n_images: int, n_bands: int, n_permutations: int, generator: torch.Generator) -> Tensor:
    r"""
    ``(B, P, M)`` permutations: ``P / 2`` uniform ones per image, then their reverses.

    Args:
        n_images (int): ``B``.
        n_bands (int): ``M``.
        n_permutations (int): ``P``, even.
        generator (torch.Generator): Source of randomness.
    """
    half = random_permutations((n_images, n_permutations // 2), n_bands, generator)
    return torch.cat([half, half.flip(-1)], dim=1)


def stratified_permutations(n_images: int, n_bands: int, n_permutations: int, generator: torch.Generator) -> Tensor:
    r"""
    ``(B, P, M)`` permutations stratified over positions.

    The ``B * P`` permutations, image after image, form groups of ``M``; in a group, permutation
    ``t`` is ``q ↦ σ((q + c_t) mod M)`` with a uniformly random relabelling ``σ`` of the bands and
    the cyclic shifts ``c_t`` a random arrangement of ``0 .. M − 1``. Each band thus sits at each
    position exactly once per full group, and every single permutation is uniformly distributed
    (so every per-image estimate stays unbiased).

    Args:
        n_images (int): ``B``.
        n_bands (int): ``M``.
        n_permutations (int): ``P`` per image.
        generator (torch.Generator): Source of randomness.
    """
    m = n_bands
    total = n_images * n_permutations
    groups = -(-total // m)
    sigma = random_permutations((groups,), m, generator)  # (G, M)
    shifts = random_permutations((groups,), m, generator)  # (G, M): c_t for t = 0 .. M − 1
    q = torch.arange(m)
    positions = (q[None, None, :] + shifts[:, :, None]) % m  # (G, M, M): σ's argument per position
    perms = torch.gather(sigma[:, None, :].expand(groups, m, m), 2, positions)
    return perms.reshape(groups * m, m)[:total].reshape(n_images, n_permutations, m)


def prefix_coalitions(perms: Tensor) -> Tensor:
    r"""
    The coalitions a permutation visits between ``∅`` and ``N``.

    Args:
        perms (Tensor): ``(B, P, M)`` permutations.

    Returns:
        *Tensor* ``(B, P * (M − 1), M)`` of 0/1 gates: the prefixes of sizes ``1 .. M − 1`` of
        each permutation, permutation after permutation.
    """
    b, p, m = perms.shape
    rank = perms.argsort(dim=-1)  # position of each band in each permutation
    sizes = torch.arange(1, m)[:, None]  # (M − 1, 1)
    gates = (rank[:, :, None, :] < sizes).to(torch.float32)  # (B, P, M − 1, M)
    return gates.reshape(b, p * (m - 1), m)


def permutation_shapley(perms: Tensor, values: Tensor, v_empty: Tensor, v_full: Tensor) -> Tensor:
    r"""
    Mean marginal contributions along the permutations.

    Args:
        perms (Tensor): ``(B, P, M)`` permutations.
        values (Tensor): ``(B, P * (M − 1))`` values of their prefixes (as from
                    :func:`prefix_coalitions`).
        v_empty (Tensor): ``(B,)`` value of the empty coalition.
        v_full (Tensor): ``(B,)`` value of the grand coalition.

    Returns:
        *Tensor* ``(B, M)`` float64.
    """
    b, p, m = perms.shape
    chain = torch.cat(
        [v_empty[:, None, None].expand(b, p, 1), values.reshape(b, p, m - 1), v_full[:, None, None].expand(b, p, 1)],
        dim=2,
    ).to(torch.float64)
    marginal = chain[:, :, 1:] - chain[:, :, :-1]  # credited to perms[..., k]
    phi = torch.zeros(b, p, m, dtype=torch.float64, device=values.device)
    phi.scatter_(2, perms.to(values.device), marginal)
    return phi.mean(dim=1)


def _kernel_size_distribution(n_bands: int) -> Tensor:
    s = torch.arange(1, n_bands, dtype=torch.float64)
    p = 1.0 / (s * (n_bands - s))
    return p / p.sum()


def kernel_coalitions(n_images: int, n_bands: int, n_pairs: int, generator: torch.Generator) -> Tensor:
    r"""
    Coalitions drawn from the Shapley kernel, each followed by its complement.

    Returns:
        *Tensor* ``(B, 2 * n_pairs, M)`` of 0/1 gates.
    """
    sizes = (
        torch.multinomial(
            _kernel_size_distribution(n_bands), n_images * n_pairs, replacement=True, generator=generator
        ).reshape(n_images, n_pairs, 1)
        + 1
    )
    rank = random_permutations((n_images, n_pairs), n_bands, generator).argsort(dim=-1)
    z = (rank < sizes).to(torch.float32)  # a uniform subset of each drawn size
    return torch.stack([z, 1 - z], dim=2).reshape(n_images, 2 * n_pairs, n_bands)


def kernel_shapley(gates: Tensor, values: Tensor, v_empty: Tensor, v_full: Tensor) -> Tensor:
    r"""
    Efficiency-constrained KernelSHAP solution from sampled coalitions.

    Args:
        gates (Tensor): ``(B, n, M)`` coalitions from :func:`kernel_coalitions`.
        values (Tensor): ``(B, n)`` their values.
        v_empty (Tensor): ``(B,)``.
        v_full (Tensor): ``(B,)``.

    Returns:
        *Tensor* ``(B, M)`` float64 with ``Σ_i φ_i = v(N) − v(∅)`` exactly.
    """
    z = gates.to(device=values.device, dtype=torch.float64)
    a = z.transpose(1, 2) @ z / z.shape[1]  # (B, M, M)
    b = (z * (values.to(torch.float64) - v_empty.to(torch.float64)[:, None])[..., None]).mean(dim=1)
    a_inv = torch.linalg.pinv(a)
    a_inv_b = (a_inv @ b[..., None])[..., 0]
    a_inv_1 = a_inv.sum(dim=2)
    gap = (v_full - v_empty).to(torch.float64)
    correction = (a_inv_b.sum(dim=1) - gap) / a_inv_1.sum(dim=1)
    return a_inv_b - correction[:, None] * a_inv_1

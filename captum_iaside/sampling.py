r"""Coalition draws and the Shapley estimates computed from their values (pure tensor functions).

- Permutations: each permutation of the bands adds them one at a time and credits each band with
  its marginal contribution; the prefixes of sizes ``1 .. M − 1`` are the coalitions to evaluate.
  :func:`antithetic_permutations` pairs every permutation with its reverse (Mitchell et al.,
  2022, https://arxiv.org/abs/2104.12199); :func:`stratified_permutations` makes every band sit at
  every position equally often within each group of ``M`` consecutive permutations, across the
  images of a batch, while each permutation stays uniformly distributed.

Regression estimates (KernelSHAP and k-additive) draw their coalitions in
:mod:`captum_iaside.regression`.
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


def permutation_shapley(
    perms: Tensor, values: Tensor, v_empty: Tensor, v_full: Tensor, counts: Tensor | None = None
) -> Tensor:
    r"""
    Mean marginal contributions along the permutations.

    Args:
        perms (Tensor): ``(B, P, M)`` permutations.
        values (Tensor): ``(B, P * (M − 1))`` values of their prefixes (as from
                    :func:`prefix_coalitions`).
        v_empty (Tensor): ``(B,)`` value of the empty coalition.
        v_full (Tensor): ``(B,)`` value of the grand coalition.
        counts (Tensor, optional): ``(B,)`` how many leading permutations of each image to use.
                    Default: all ``P``

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
    if counts is None:
        return phi.mean(dim=1)
    counts = counts.to(values.device)
    used = (torch.arange(p, device=values.device)[None, :] < counts[:, None]).to(torch.float64)
    return (phi * used[..., None]).sum(dim=1) / counts.clamp(min=1)[:, None].to(torch.float64)

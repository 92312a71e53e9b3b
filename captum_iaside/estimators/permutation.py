r"""Coalition draws and the Shapley estimates computed from their values (pure tensor functions).

- Permutations: each permutation of the bands adds them one at a time and credits each band with
  its marginal contribution; the prefixes of sizes ``1 .. M − 1`` are the coalitions to evaluate.
  :func:`antithetic_permutations` pairs every permutation with its reverse (Mitchell et al.,
  2022, https://arxiv.org/abs/2104.12199); :func:`stratified_permutations` makes every band sit at
  every position equally often within each group of ``M`` consecutive permutations, across the
  images of a batch, while each permutation stays uniformly distributed.

Regression estimates (KernelSHAP and k-additive) draw their coalitions in
:mod:`~captum_iaside.estimators.kernel`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from captum_iaside._utils.coding import MAX_CODED_BANDS, coalition_codes, first_occurrence
from captum_iaside.estimators.base import BandShapley, ShapleyEstimator
from captum_iaside.game.protocol import Game


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


class PermutationShapley(ShapleyEstimator):
    r"""
    Permutation sampling: the mean marginal contribution of each band along random orders of
    the bands. A permutation visits ``M − 1`` coalitions between ``∅`` and ``N``; a coalition
    that an earlier permutation of the same image visited is not evaluated again, and the
    permutations continue until the budget of ``b`` evaluations per image is spent (at most
    ``M − 2`` evaluations are left over).

    Args:
        antithetic (bool, optional): Pair every permutation with its reverse (Mitchell et al.,
                    2022, https://arxiv.org/abs/2104.12199), which makes the two estimates
                    negatively correlated.
                    Default: True
        stratified (bool, optional): Stratify positions over the images of a batch: in every
                    group of ``M`` consecutive permutations each band sits at each position
                    once (:func:`~captum_iaside.estimators.permutation.stratified_permutations`). Cuts the
                    variance of a mean over images; each per-image estimate stays unbiased.
                    Every image then gets ``(b − 2) // (M − 1)`` permutations.
                    Default: False

    Examples::

        >>> IASIDE(model, bands=16).attribute(x, target=y, estimator=PermutationShapley(), budget=256)
    """

    name = "permutation"

    def __init__(self, antithetic: bool = True, stratified: bool = False) -> None:
        if antithetic and stratified:
            raise ValueError("choose antithetic or stratified permutations, not both")
        self.antithetic = bool(antithetic)
        self.stratified = bool(stratified)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "antithetic": self.antithetic, "stratified": self.stratified}

    def minimum_budget(self, n_bands: int) -> int:
        return 2 + (2 if self.antithetic else 1) * (n_bands - 1)

    def pass_weight(self, n_bands: int, budget: int | None) -> float:
        r"""The whole permutations the budget buys (each an independent estimate of every band's value)."""
        return float(self.n_permutations(n_bands, budget))

    def n_permutations(self, n_bands: int, budget: int) -> int:
        r"""Whole permutations that fit in ``budget`` without counting repeated coalitions."""
        p = (budget - 2) // (n_bands - 1)
        return p - p % 2 if self.antithetic else p

    def _draw(self, b: int, m: int, p: int, generator: torch.Generator) -> Tensor:
        if self.stratified:
            return stratified_permutations(b, m, p, generator)
        if self.antithetic:
            return antithetic_permutations(b, m, p + p % 2, generator)[:, : p + p % 2]
        return random_permutations((b, p), m, generator)

    def estimate(self, game: Game, budget: int | None, generator: torch.Generator) -> BandShapley:
        m, b = game.n_bands, game.n_images
        inner = budget - 2
        whole = self.n_permutations(m, budget)
        if self.stratified or m > MAX_CODED_BANDS:
            perms = self._draw(b, m, whole, generator)
            used = torch.full((b,), whole, dtype=torch.int64)
        else:  # more permutations than whole ones fit: repeated coalitions cost nothing
            perms = self._draw(b, m, 4 * max(whole, 2), generator)
            used = _permutations_within(perms, inner)
        v_empty, v_full = self._ends(game)
        values = _distinct_values(game, prefix_coalitions(perms), used * (m - 1))
        phi = permutation_shapley(perms, values, v_empty, v_full, used)
        return self._result(game, phi, v_empty, v_full)


def _permutations_within(perms: Tensor, n_coalitions: int) -> Tensor:
    r"""
    Per image, how many leading permutations of ``perms`` ``(B, P, M)`` visit at most
    ``n_coalitions`` distinct coalitions between ``∅`` and ``N``: ``(B,)`` int64.
    """
    b, p, m = perms.shape
    codes = coalition_codes(prefix_coalitions(perms)).reshape(b, p * (m - 1))
    new = first_occurrence(codes).reshape(b, p, m - 1).sum(dim=2).cumsum(dim=1)  # distinct so far
    return (new <= n_coalitions).sum(dim=1)


def _distinct_values(game: Game, gates: Tensor, counts: Tensor) -> Tensor:
    r"""
    Values of the first ``counts[i]`` rows of ``gates[i]`` ``(B, n, M)``, each distinct coalition
    of an image evaluated once; ``(B, n)`` (zeros past ``counts``).
    """
    b, n, m = gates.shape
    if m > MAX_CODED_BANDS:
        return game.values(gates[:, : int(counts.max())]) if b else gates.new_zeros(b, n)
    kept = torch.arange(n) < counts[:, None]  # (B, n): the rows each image uses
    image = torch.arange(b).repeat_interleave(counts)
    # one sort for every image: keys grouped by image, each image's codes ascending
    unique, inverse = torch.unique((image << m) | coalition_codes(gates)[kept], return_inverse=True)
    per_image = torch.bincount(unique >> m, minlength=b)
    members = ((unique[:, None] >> torch.arange(m)) & 1).to(gates.dtype)
    distinct = game.values(list(members.split(per_image.tolist())))
    out = torch.zeros(b, n, dtype=torch.float64, device=distinct[0].device if distinct else None)
    if distinct:
        out[kept.to(out.device)] = torch.cat(distinct)[inverse.to(out.device)]
    return out

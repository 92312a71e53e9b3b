r"""Sampling estimators of the band Shapley values for many bands (``2^M`` too large to enumerate).

Both estimators draw coalitions independently for every image (so the errors of different images
average out in a global mean), spend a ``budget`` of coalition evaluations per image — the grand
and empty coalitions included — and satisfy efficiency, ``Σ_i φ_i = v(N) − v(∅)``, exactly.

- ``"permutation"``: antithetic permutation sampling. Each permutation of the bands adds them one at
  a time and credits each band with its marginal contribution (``M − 1`` new evaluations per
  permutation); every permutation is paired with its reverse, which makes the two estimates
  negatively correlated (Mitchell et al., 2022, https://arxiv.org/abs/2104.12199).
- ``"kernel"``: paired KernelSHAP (Covert & Lee, 2021, https://arxiv.org/abs/2012.01536).
  Coalitions are drawn from the Shapley kernel, each with its complement, and the
  efficiency-constrained least-squares problem ``min E[(v(S) − v(∅) − zᵀφ)²]`` s.t.
  ``Σφ = v(N) − v(∅)`` is solved exactly from the sampled ``A = E[z zᵀ]`` and
  ``b = E[z (v(S) − v(∅))]`` (consistent, exact for additive games; slightly biased at small
  budgets).
"""

from __future__ import annotations

import torch
from torch import Tensor

from captum_iaside.shapley import check_exact

ESTIMATORS = ("exact", "permutation", "kernel")


def choose_estimator(estimator: str | None, budget: int | None, n_bands: int) -> tuple[str, int | None]:
    r"""
    Resolve ``estimator`` and ``budget`` (coalition evaluations per image). None means exact
    enumeration without a budget or whenever ``2^M`` fits it, else antithetic permutation sampling.
    """
    if estimator is not None and estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; expected one of {list(ESTIMATORS)}")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
        raise ValueError(f"budget must be a positive int, got {budget!r}")
    if estimator is None:
        estimator = "exact" if budget is None or 2**n_bands <= budget else "permutation"
    if estimator == "exact":
        check_exact(n_bands)
        if budget is not None and budget < 2**n_bands:
            raise ValueError(
                f"estimator='exact' needs 2^M = {2**n_bands} evaluations per image, budget is {budget}; "
                "raise the budget or use estimator='permutation' or 'kernel'"
            )
        return estimator, None
    if budget is None:
        raise ValueError(f"estimator={estimator!r} needs a budget (coalition evaluations per image)")
    least = minimum_budget(estimator, n_bands)
    if budget < least:
        raise ValueError(
            f"budget={budget} is too small for estimator={estimator!r} with M={n_bands}: the minimum is {least}"
        )
    return estimator, budget


def minimum_budget(estimator: str, n_bands: int) -> int:
    r"""The smallest budget (evaluations per image) an estimator accepts."""
    if estimator == "exact":
        return 2**n_bands
    if estimator == "permutation":
        return 2 + 2 * (n_bands - 1)  # one antithetic pair of permutations
    return 2 + 2 * n_bands  # M pairs of coalitions


def n_draws(estimator: str, n_bands: int, budget: int) -> int:
    r"""Permutations (an even number) or coalition pairs that fit in ``budget``."""
    if estimator == "permutation":
        return 2 * ((budget - 2) // (2 * (n_bands - 1)))
    return (budget - 2) // 2


def _random_permutations(shape: tuple[int, ...], n_bands: int, generator: torch.Generator) -> Tensor:
    return torch.rand(*shape, n_bands, generator=generator).argsort(dim=-1)


def permutation_coalitions(
    n_images: int, n_bands: int, n_permutations: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    r"""
    Antithetic permutations and the coalitions they visit.

    Returns:
        ``(perms, gates)``: ``perms`` ``(B, P, M)`` int64 (the second half reverses the first),
        ``gates`` ``(B, P * (M − 1), M)`` 0/1, the prefixes of sizes ``1 .. M − 1`` of each
        permutation.
    """
    half = _random_permutations((n_images, n_permutations // 2), n_bands, generator)
    perms = torch.cat([half, half.flip(-1)], dim=1)
    rank = perms.argsort(dim=-1)  # position of each band in each permutation
    sizes = torch.arange(1, n_bands)[:, None]  # (M − 1, 1)
    gates = (rank[:, :, None, :] < sizes).to(torch.float32)  # (B, P, M − 1, M)
    return perms, gates.reshape(n_images, -1, n_bands)


def permutation_shapley(perms: Tensor, values: Tensor, v_empty: Tensor, v_full: Tensor) -> Tensor:
    r"""
    Mean marginal contributions along the permutations.

    Args:
        perms (Tensor): ``(B, P, M)`` permutations.
        values (Tensor): ``(B, P * (M − 1))`` values of their prefixes (as from
                    :func:`permutation_coalitions`).
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
    rank = _random_permutations((n_images, n_pairs), n_bands, generator).argsort(dim=-1)
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
    z = gates.to(torch.float64)
    a = z.transpose(1, 2) @ z / z.shape[1]  # (B, M, M)
    b = (z * (values.to(torch.float64) - v_empty.to(torch.float64)[:, None])[..., None]).mean(dim=1)
    a_inv = torch.linalg.pinv(a)
    a_inv_b = (a_inv @ b[..., None])[..., 0]
    a_inv_1 = a_inv.sum(dim=2)
    gap = (v_full - v_empty).to(torch.float64)
    correction = (a_inv_b.sum(dim=1) - gap) / a_inv_1.sum(dim=1)
    return a_inv_b - correction[:, None] * a_inv_1

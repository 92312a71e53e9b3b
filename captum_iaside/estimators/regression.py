r"""The efficiency-constrained k-additive fits of coalition values, and their cross-validated errors.

A k-additive surrogate ``v(S) − v(∅) ≈ Σ_{T⊆S, 1≤|T|≤k} m(T)`` is fitted to the evaluated coalitions by
weighted least squares (the regression weights of :func:`~captum_iaside.estimators.kernel.regression_coalitions`)
under the efficiency constraint ``Σ_T m(T) = v(N) − v(∅)``; its Shapley values are
``φ_i = Σ_{T∋i} m(T) / |T|`` (Pelegrina et al., 2023, https://arxiv.org/abs/2211.02166). ``k = 1`` is
KernelSHAP. For ``k ≥ 2`` the interaction terms carry a ridge penalty ``λ · d · Σ_{|T|≥2} m(T)²``
(``d`` the mean diagonal of ``XᵀWX``) with ``λ`` from :data:`SHRINKAGE_GRID`.

Every fit is scored, per image, by its **leave-complement-out cross-validated error**: each evaluated
coalition ``S`` is predicted by the fit to all the others except ``S`` and its complement ``N∖S``
(which a paired design draws with it), and the weighted mean of the squared prediction errors is the score.
It costs no evaluation and no refit: the fit is a linear smoother ``ŷ = H y + c`` of the values, so the
held-out errors are ``(I − H_GG)⁻¹ e_G`` for each group ``G`` of a coalition and its complement
(a 1 × 1 or 2 × 2 system), ``e`` the residuals and ``H_GG`` the block of the hat matrix. The score picks the
penalty of each fit (:func:`regression_moebius`) and, in
:class:`~captum_iaside.estimators.adaptive.AdaptiveKernelShapley`, the order of the fit of each image.

**Odd-part fits.** The Shapley values of a game depend only on its odd part
``v_odd(S) = (v(S) − v(N∖S) + v(N)) / 2`` (``v(∅) = 0``): the dual game ``v(N) − v(N∖S)`` has the same
Shapley values, and ``v_odd`` is the mean of the two. Under a paired design the odd part of every evaluated
coalition is known, so a fit may model it alone (``odd=True``): its terms are the odd parts of the
unanimity games of odd size (those of even size reduce to lower odd orders — the pair ``{i, j}`` to
``(u_i + u_j) / 2``), each with the Shapley values ``1 / |T|`` on ``T``. Of order 1 it is paired KernelSHAP
exactly; of order 3 it spends no parameter on the even part (the ``C(M, 2)`` pairwise terms of an ordinary
third-order fit), and its criterion scores only what the Shapley values depend on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations

import torch
from torch import Tensor

from captum_iaside._utils.coding import coalition_codes
from captum_iaside.estimators.interactions import shapley_from_dividends

#: Ridge penalties ``λ`` tried on the interaction terms of a k-additive fit, in units of the mean
#: diagonal of ``XᵀWX``: 0 is the unpenalised (minimum-norm) least-squares fit, tried only with
#: more coalitions than parameters; the largest shrinks the interactions strongly towards zero.
SHRINKAGE_GRID = (0.0, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 10.0)


@dataclass(frozen=True)
class RegressionFit:
    r"""
    One penalised fit of every image's coalition values.

    Attributes:
        shrinkage (Tensor): ``(B,)`` ``λ`` of the interaction terms per image (0 for ``order=1``).
        coefficients (Tensor): ``(B, p)`` Möbius coefficients in the order of :func:`term_matrix` (of an
                    odd-part fit: the coefficients of the odd parts of the unanimity games of odd size,
                    :func:`odd_terms`), summing to ``v(N) − v(∅)``.
        cv_error (Tensor): ``(B,)`` leave-complement-out cross-validated error (inf where it is not
                    determined).
    """

    shrinkage: Tensor
    coefficients: Tensor
    cv_error: Tensor


def interaction_terms(n_bands: int, order: int) -> list[tuple[int, ...]]:
    r"""The sets ``T`` of the k-additive surrogate, ``1 ≤ |T| ≤ order``, by size then lexicographically."""
    return [t for size in range(1, order + 1) for t in combinations(range(n_bands), size)]


def n_terms(n_bands: int, order: int) -> int:
    r"""``p = Σ_{k ≤ order} C(M, k)``, the parameters of the k-additive surrogate."""
    return sum(math.comb(n_bands, k) for k in range(1, order + 1))


def term_matrix(n_bands: int, order: int) -> Tensor:
    r"""The terms ``T`` of the k-additive surrogate as ``(p, M)`` float64 0/1 rows (:func:`interaction_terms`)."""
    terms = interaction_terms(n_bands, order)
    z = torch.zeros(len(terms), n_bands, dtype=torch.float64)
    for t, term in enumerate(terms):
        z[t, list(term)] = 1.0
    return z


def interaction_features(gates: Tensor, order: int) -> Tensor:
    r"""
    Features of the k-additive surrogate, ``Π_{i∈T} z_i`` for every term ``T`` of
    :func:`interaction_terms`: ``(..., M)`` → ``(..., p)``.
    """
    z = gates.to(torch.float64)
    features = [z]
    for size in range(2, order + 1):
        index = torch.tensor(list(combinations(range(z.shape[-1]), size)), dtype=torch.int64, device=z.device)
        features.append(z[..., index].prod(dim=-1))
    return torch.cat(features, dim=-1)


def complement_partners(gates: Tensor) -> Tensor:
    r"""``(B, n)`` int64: the row of each coalition's complement among its image's coalitions ``(B, n, M)``, or −1."""
    codes = coalition_codes(gates)
    wanted = (2 ** gates.shape[-1] - 1) - codes
    order = codes.argsort(dim=1)
    ordered = codes.gather(1, order)
    where = torch.searchsorted(ordered, wanted).clamp(max=codes.shape[1] - 1)
    found = ordered.gather(1, where) == wanted
    return torch.where(found, order.gather(1, where), -1)


def odd_terms(n_bands: int, order: int) -> Tensor:
    r"""``(p,)`` bool: which terms of :func:`interaction_terms` have odd size, the terms of an odd-part fit."""
    return torch.tensor([len(t) % 2 == 1 for t in interaction_terms(n_bands, order)])


def _odd_parts(x: Tensor, y: Tensor, gap: Tensor, partner: Tensor, keep: Tensor) -> tuple[Tensor, Tensor]:
    r"""
    The odd parts ``(f(S) − f(N∖S) + f(N)) / 2`` of the features (the terms of odd size, ``keep``) and of the
    values ``y = v − v(∅)`` of a paired design (``partner`` the row of each coalition's complement).
    """
    if bool((partner < 0).any()):
        raise ValueError("an odd-part fit needs every coalition with its complement (a paired design)")
    x_partner = x.gather(1, partner[..., None].expand(-1, -1, x.shape[-1]))
    odd_x = ((x - x_partner + 1) / 2)[..., keep.to(x.device)]
    return odd_x, (y - y.gather(1, partner) + gap[:, None]) / 2


def drawn_coalitions(gates: Tensor) -> Tensor:
    r"""
    ``(n,)`` float64 0/1: the coalitions of a design ``(B, n, M)`` whose size was sampled rather than
    enumerated completely (all of them where every size was enumerated), from the first image's sizes.
    """
    m = gates.shape[-1]
    sizes = gates[0].sum(dim=-1).round().long()
    counts = torch.bincount(sizes, minlength=m + 1)
    complete = torch.tensor([counts[s] == math.comb(m, s) for s in range(m + 1)], device=sizes.device)
    drawn = ~complete[sizes]
    return (drawn if bool(drawn.any()) else torch.ones_like(drawn)).to(torch.float64)


def penalised_fits(
    gates: Tensor,
    weights: Tensor,
    values: Tensor,
    v_empty: Tensor,
    v_full: Tensor,
    order: int,
    shrinkage: Sequence[float] = SHRINKAGE_GRID,
    odd: bool = False,
) -> Iterator[RegressionFit]:
    r"""
    The efficiency-constrained k-additive fit for each ``λ`` of ``shrinkage`` (order 1: the one unpenalised
    fit), each with its cross-validated error. An unpenalised fit of order 2 or 3 is skipped where it has
    no more coalitions (pairs of them, for an odd-part fit) than parameters (it is not determined). The
    cost is a ``p × p`` inversion per image and ``λ`` (Cholesky for a penalised fit, a pseudo-inverse for
    the plain one) and ``B n p²`` for the hat matrix's diagonal blocks.

    Args:
        gates (Tensor): ``(B, n, M)`` coalitions, row ``r`` of the same size in every image (as
                    :func:`~captum_iaside.estimators.kernel.regression_coalitions` draws them: the sizes
                    enumerated completely, which are not scored, are read from the first image).
        weights (Tensor): ``(n,)`` regression weights.
        values (Tensor): ``(B, n)`` their values.
        v_empty (Tensor): ``(B,)``.
        v_full (Tensor): ``(B,)``.
        order (int): ``k``: 1, 2 or 3.
        shrinkage (sequence of float, optional): The penalties ``λ`` to try.
                    Default: :data:`SHRINKAGE_GRID`
        odd (bool, optional): Fit the odd part of the game (:func:`odd_terms`): every coalition must come
                    with its complement (a paired design); the coefficients are those of the terms of
                    odd size, and the criterion scores the odd part of the values only.
                    Default: False

    Yields:
        :class:`RegressionFit`, one per ``λ`` fitted.
    """
    m = gates.shape[-1]
    x = interaction_features(gates.to(values.device), order)  # (B, n, p)
    w = weights.to(device=values.device, dtype=torch.float64)
    y = values.to(torch.float64) - v_empty.to(torch.float64)[:, None]
    gap = (v_full - v_empty).to(torch.float64)
    partner = complement_partners(gates).to(x.device)
    if odd:
        x, y = _odd_parts(x, y, gap, partner, odd_terms(m, order))
    xw = x * w[None, :, None]
    a = xw.transpose(1, 2) @ x  # (B, p, p)
    b = (xw * y[..., None]).sum(dim=1)  # (B, p)
    n, p = x.shape[1], a.shape[-1]
    scale = a.diagonal(dim1=1, dim2=2).mean(dim=1)[:, None, None]
    eye = torch.eye(p, dtype=torch.float64, device=a.device)
    penalty = torch.diag((torch.arange(p, device=a.device) >= m).to(torch.float64))  # the interaction terms
    scored = drawn_coalitions(gates).to(w.device)
    paired = partner >= 0
    partner = partner.clamp(min=0)
    x_partner = x.gather(1, partner[..., None].expand(-1, -1, p))
    for lam in shrinkage if order > 1 else (0.0,):
        if lam == 0 and order > 1 and (n // 2 if odd else n) <= p:
            continue  # more parameters than coalitions: only a penalised fit is determined
        a_inv = _inverse(a + scale * (lam * penalty + 1e-12 * eye), definite=lam > 0)
        a_inv_b = (a_inv @ b[..., None])[..., 0]
        a_inv_1 = a_inv.sum(dim=2)
        ones_a_inv_1 = a_inv_1.sum(dim=1)
        beta = a_inv_b - ((a_inv_b.sum(dim=1) - gap) / ones_a_inv_1)[:, None] * a_inv_1
        # the constrained fit is ŷ = X C Xᵀ W y + const, C the inverse restricted to Σ m(T) = 0
        c = a_inv - a_inv_1[:, :, None] * a_inv_1[:, None, :] / ones_a_inv_1[:, None, None]
        xc = x @ c
        residual = y - (x @ beta[..., None])[..., 0]
        own = (xc * x).sum(dim=-1) * w  # H_ii
        cross = (xc * x_partner).sum(dim=-1)  # x_iᵀ C x_j, j the complement of i
        own_partner, residual_partner = own.gather(1, partner), residual.gather(1, partner)
        h_ij, h_ji = cross * w[partner], cross * w
        det = (1 - own) * (1 - own_partner) - h_ij * h_ji
        held_out = torch.where(
            paired,
            ((1 - own_partner) * residual + h_ij * residual_partner) / det,
            residual / (1 - own),
        )
        error = (w * scored * held_out**2).sum(dim=1) / (w * scored).sum()
        error = torch.where(torch.isfinite(error), error, math.inf)
        yield RegressionFit(torch.full_like(error, lam), beta, error)


def regression_moebius(
    gates: Tensor, weights: Tensor, values: Tensor, v_empty: Tensor, v_full: Tensor, order: int = 1
) -> Tensor:
    r"""
    Möbius coefficients ``m(T)``, ``1 ≤ |T| ≤ k``, of the efficiency-constrained weighted least-squares
    k-additive fit of ``v(S) − v(∅)``, in the order of :func:`term_matrix`; for ``order ≥ 2`` each image
    takes the penalty of :data:`SHRINKAGE_GRID` whose fit has the lowest cross-validated error
    (:func:`penalised_fits`, same arguments). The main effects are never penalised.

    Returns:
        *Tensor* ``(B, p)`` float64 whose sum is ``v(N) − v(∅)`` exactly (efficiency).
    """
    return best_fit(penalised_fits(gates, weights, values, v_empty, v_full, order)).coefficients


def regression_shapley(
    gates: Tensor, weights: Tensor, values: Tensor, v_empty: Tensor, v_full: Tensor, order: int = 1
) -> Tensor:
    r"""
    Shapley values ``φ_i = Σ_{T∋i} m(T) / |T|`` of the fit of :func:`regression_moebius` (same arguments).

    Returns:
        *Tensor* ``(B, M)`` float64 with ``Σ_i φ_i = v(N) − v(∅)`` exactly.
    """
    coef = regression_moebius(gates, weights, values, v_empty, v_full, order)
    return shapley_from_dividends(coef, term_matrix(gates.shape[-1], order))


def best_fit(fits: Iterable[RegressionFit]) -> RegressionFit:
    r"""
    Per image, the fit of ``fits`` with the lowest cross-validated error (the first on ties; where none is
    finite, the last: the most shrunk).
    """
    chosen: RegressionFit | None = None
    for fit in fits:
        if chosen is None:
            chosen = fit
            continue
        better = (fit.cv_error < chosen.cv_error) | torch.isinf(chosen.cv_error)
        chosen = RegressionFit(
            torch.where(better, fit.shrinkage, chosen.shrinkage),
            torch.where(better[:, None], fit.coefficients, chosen.coefficients),
            torch.where(better, fit.cv_error, chosen.cv_error),
        )
    if chosen is None:
        raise ValueError("no fit is determined")
    return chosen


def _inverse(a: Tensor, definite: bool) -> Tensor:
    r"""Inverse of symmetric ``(B, p, p)`` matrices: by Cholesky where ``definite`` holds and it
    succeeds (a penalised fit: the main effects are determined by the sizes 1 and ``M − 1``), else
    the pseudo-inverse."""
    if definite:
        factor, info = torch.linalg.cholesky_ex(a)
        if not bool(info.any()):
            return torch.cholesky_inverse(factor)
    return torch.linalg.pinv(a, hermitian=True)

r"""The paper's summaries of ψ: the spectral importance distribution (SID) and the spectral robustness score (SRS)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

ArrayLike = Tensor | Sequence[float]


def as_vector(values: ArrayLike, name: str) -> Tensor:
    v = torch.as_tensor(values, dtype=torch.float64).detach().cpu()
    if v.dim() != 1 or v.numel() < 2:
        raise ValueError(f"{name} must be a 1-D sequence of at least 2 band values, got shape {tuple(v.shape)}")
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name} must be finite, got {v.tolist()}")
    return v


def spectral_importance_distribution(values: ArrayLike) -> Tensor:
    r"""
    The paper's spectral importance distribution ``SID = (ψ − min ψ) / Σ(ψ − min ψ)``.

    The shift by the minimum makes every entry non-negative and hides the sign of ψ; read it
    next to :attr:`SpectralImportance.share` and the raw values. All-equal values give the
    uniform distribution.

    Args:
        values (Tensor or sequence of float): Band importances ψ of shape ``(M,)``.

    Returns:
        *Tensor* of shape ``(M,)``, float64, non-negative, summing to 1.

    Examples::

        >>> spectral_importance_distribution([3.0, 1.0, 0.0, 0.0])
        tensor([0.7500, 0.2500, 0.0000, 0.0000], dtype=torch.float64)
    """
    return sid_rows(as_vector(values, "values")[None])[0]


def sid_rows(values: Tensor) -> Tensor:
    r"""The SID of every row of ``(R, M)`` band values (bootstrap replicates, say), ``(R, M)``."""
    shifted = values - values.min(dim=1, keepdim=True).values
    total = shifted.sum(dim=1, keepdim=True)
    uniform = torch.full_like(shifted, 1.0 / values.shape[1])
    return torch.where(total > 0, shifted / torch.where(total > 0, total, 1.0), uniform)


def anchored_sid_rows(values: Tensor, anchor: int) -> Tensor:
    r"""
    The SID of every row of ``(R, M)`` band values as if band ``anchor`` were the weakest: the SID of
    ``max(ψ, ψ_anchor)``, every band below the anchor raised to it, ``(R, M)``.

    Where ``anchor`` is a row's weakest band this is that row's SID (:func:`sid_rows`); the bootstrap
    interval of the SRS reads it for each band that could be the weakest
    (:func:`~captum_iaside.results.intervals.srs_interval`).

    Args:
        values (Tensor): ``(R, M)`` band values, bootstrap replicates of ψ say.
        anchor (int): The band taken as the weakest, in ``[0, M)``.

    Returns:
        *Tensor* of shape ``(R, M)``: each row non-negative, summing to 1, 0 at ``anchor``.

    Examples::

        >>> anchored_sid_rows(torch.tensor([[2.5, 1.0, 0.0, 0.5]]), 3)
        tensor([[0.8000, 0.2000, 0.0000, 0.0000]])
    """
    if not 0 <= anchor < values.shape[1]:
        raise ValueError(f"anchor must be a band in [0, {values.shape[1]}), got {anchor}")
    return sid_rows(torch.maximum(values, values[:, anchor : anchor + 1]))


def srs_rows(sids: Tensor, beta: float = 0.75, signed: bool = False) -> Tensor:
    r"""The SRS of every row of ``(R, M)`` SIDs, ``(R,)`` (see :func:`spectral_robustness_score`)."""
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta must lie in (0, 1), got {beta}")
    m = sids.shape[1]
    b = beta ** torch.arange(m, dtype=torch.float64)
    norm2 = torch.linalg.vector_norm(b)
    eta = b.sum() / (m * norm2)
    score = (sids.to(torch.float64) @ (b / norm2) - eta) / torch.abs(1 - eta)
    return score if signed else score.abs()


def spectral_robustness_score(sid: ArrayLike, beta: float = 0.75, signed: bool = False) -> float:
    r"""
    The paper's spectral robustness score of a spectral importance distribution.

    With ``b_k = β^k`` (``k = 0`` the lowest band) and ``η = ‖b‖₁ / (M ‖b‖₂)``:
    ``SRS = |⟨b / ‖b‖₂, SID⟩ − η| / |1 − η|``. It is 0 for a uniform SID and grows as the
    importance moves to low frequencies; for ``M = 8``, ``β = 0.75`` its largest value,
    reached with all importance on band 0, is 0.5217 (0.42 for ``M = 4``, 0.57 for ``M = 12``:
    scores compare only at equal ``M``).

    The absolute value makes the score symmetric about the uniform SID: importance leaning to
    high bands can score as much as importance leaning to low bands. ``signed=True`` returns
    ``(⟨b / ‖b‖₂, SID⟩ − η) / |1 − η|`` instead: positive when the SID leans to low bands,
    negative when it leans to high bands.

    Args:
        sid (Tensor or sequence of float): A spectral importance distribution ``(M,)``.
        beta (float, optional): Decay of the robustness prior over bands, in ``(0, 1)``.
                    Default: 0.75
        signed (bool, optional): Return the signed score (no absolute value).
                    Default: False

    Returns:
        *float*.

    Examples::

        >>> round(spectral_robustness_score([1.0] + [0.0] * 7), 4)
        0.5217
        >>> round(spectral_robustness_score([0.0] * 7 + [1.0], signed=True), 4)
        -0.3002
    """
    return float(srs_rows(as_vector(sid, "sid")[None], beta, signed)[0])


def max_spectral_robustness_score(n_bands: int, beta: float = 0.75) -> float:
    r"""The largest SRS for ``n_bands`` bands: all importance on band 0."""
    return spectral_robustness_score([1.0] + [0.0] * (n_bands - 1), beta)

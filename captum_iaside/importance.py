r"""Global spectral importance: accumulation over a data set and the paper's summaries (SPEC §3–4)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

ArrayLike = Tensor | Sequence[float]


def _as_vector(values: ArrayLike, name: str) -> Tensor:
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
    v = _as_vector(values, "values")
    shifted = v - v.min()
    total = shifted.sum()
    if total <= 0:
        return torch.full_like(v, 1.0 / v.numel())
    return shifted / total


def spectral_robustness_score(sid: ArrayLike, beta: float = 0.75) -> float:
    r"""
    The paper's spectral robustness score of a spectral importance distribution.

    With ``b_k = β^k`` (``k = 0`` the lowest band) and ``η = ‖b‖₁ / (M ‖b‖₂)``:
    ``SRS = |⟨b / ‖b‖₂, SID⟩ − η| / |1 − η|``. It is 0 for a uniform SID and grows as the
    importance moves to low frequencies; for ``M = 8``, ``β = 0.75`` its largest value,
    reached with all importance on band 0, is 0.5217.

    Args:
        sid (Tensor or sequence of float): A spectral importance distribution ``(M,)``.
        beta (float, optional): Decay of the robustness prior over bands, in ``(0, 1)``.
                    Default: 0.75

    Returns:
        *float*.

    Examples::

        >>> round(spectral_robustness_score([1.0] + [0.0] * 7), 4)
        0.5217
    """
    s = _as_vector(sid, "sid")
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta must lie in (0, 1), got {beta}")
    m = s.numel()
    b = beta ** torch.arange(m, dtype=torch.float64)
    norm2 = torch.linalg.vector_norm(b)
    eta = b.sum() / (m * norm2)
    return float(torch.abs((b / norm2) @ s - eta) / torch.abs(1 - eta))


class MomentAccumulator:
    r"""
    Running count, mean and sum of squared deviations of ``(n, D)`` rows (Chan et al.'s
    parallel update, float64), so means and standard errors stream in flat memory.
    """

    def __init__(self, dim: int) -> None:
        self.count = 0
        self.mean = torch.zeros(dim, dtype=torch.float64)
        self.m2 = torch.zeros(dim, dtype=torch.float64)

    def update(self, rows: Tensor) -> None:
        r"""Add the rows of a ``(n, D)`` tensor."""
        rows = rows.detach().to(device="cpu", dtype=torch.float64)
        n = rows.shape[0]
        if n == 0:
            return
        mean = rows.mean(dim=0)
        m2 = ((rows - mean) ** 2).sum(dim=0)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * n / total)
        self.count = total

    def stderr(self) -> Tensor:
        r"""``std(rows, ddof=1) / sqrt(count)``; NaN with fewer than two rows."""
        if self.count < 2:
            return torch.full_like(self.mean, float("nan"))
        return torch.sqrt(self.m2 / (self.count - 1) / self.count)


@dataclass
class SpectralImportance:
    r"""
    Global I-ASIDE result: ψ per band with its standard error and the paper's summaries.

    Attributes:
        values (Tensor): ψ, the mean per-sample Shapley value of each band, ``(M,)`` float64.
        stderr (Tensor): Standard error of ψ, ``std_x(φ) / √K``, ``(M,)``.
        n_samples (int): ``K``, the number of images averaged.
        v_full (float): Mean value of the grand coalition ``v(N)`` (the unperturbed images).
        v_empty (float): Mean value of the empty coalition ``v(∅)`` (the baseline images).
        config (dict): The configuration of the run (bands, baseline, value, seed, ...).
        beta (float): ``β`` of the spectral robustness score. Default: 0.75

    Examples::

        >>> res = SpectralImportance(torch.tensor([0.6, 0.3, 0.1]), torch.zeros(3), 10, 0.0, -1.0)
        >>> res.sid
        tensor([0.6250, 0.3750, 0.0000], dtype=torch.float64)
    """

    values: Tensor
    stderr: Tensor
    n_samples: int
    v_full: float
    v_empty: float
    config: dict[str, Any] = field(default_factory=dict)
    beta: float = 0.75

    @property
    def n_bands(self) -> int:
        r"""Number of bands ``M``."""
        return int(self.values.numel())

    @property
    def sid(self) -> Tensor:
        r"""The paper's spectral importance distribution of ψ."""
        return spectral_importance_distribution(self.values)

    @property
    def srs(self) -> float:
        r"""The paper's spectral robustness score of :attr:`sid`."""
        return spectral_robustness_score(self.sid, self.beta)

    @property
    def sid_stderr(self) -> Tensor:
        r"""
        Approximate standard error of :attr:`sid`: ``stderr / Σ(ψ − min ψ)``, the first-order
        term with the normaliser held fixed, for error bars.
        """
        total = (self.values - self.values.min()).sum()
        if total <= 0:
            return torch.full_like(self.stderr, float("nan"))
        return self.stderr / total

    @property
    def share(self) -> Tensor:
        r"""The efficiency-preserving share ``ψ / Σψ`` (keeps signs; NaN if ``Σψ = 0``)."""
        total = self.values.sum()
        if total == 0:
            return torch.full_like(self.values, float("nan"))
        return self.values / total

    def plot(self, kind: str = "sid") -> tuple[Any, Any]:
        r"""Shortcut for :func:`captum_iaside.visualization.plot_spectral_importance` (``(fig, axes)``)."""
        from captum_iaside.visualization import plot_spectral_importance

        return plot_spectral_importance(self, kind=kind)

    def to_dict(self) -> dict[str, Any]:
        r"""All numbers and the configuration as a JSON-serialisable dict."""

        def clean(v: float | None) -> float | None:
            return None if v is None or math.isnan(v) else float(v)

        return {
            "n_bands": self.n_bands,
            "n_samples": int(self.n_samples),
            "values": [clean(v) for v in self.values.tolist()],
            "stderr": [clean(v) for v in self.stderr.tolist()],
            "sid": self.sid.tolist(),
            "sid_stderr": [clean(v) for v in self.sid_stderr.tolist()],
            "srs": self.srs,
            "beta": self.beta,
            "share": [clean(v) for v in self.share.tolist()],
            "v_full": clean(self.v_full),
            "v_empty": clean(self.v_empty),
            "config": self.config,
        }

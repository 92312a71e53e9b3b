r"""Global spectral importance: accumulation over a data set and the paper's summaries."""

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
        self._combine(n, mean, ((rows - mean) ** 2).sum(dim=0))

    def merge(self, other: MomentAccumulator) -> None:
        r"""Add everything ``other`` has seen (the parallel form of :meth:`update`)."""
        if other.count:
            self._combine(other.count, other.mean, other.m2)

    def _combine(self, n: int, mean: Tensor, m2: Tensor) -> None:
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * n / total)
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        r"""The accumulator as a dict of plain values and tensors (for checkpoints)."""
        return {"count": self.count, "mean": self.mean.clone(), "m2": self.m2.clone()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> MomentAccumulator:
        r"""Inverse of :meth:`state_dict`."""
        acc = cls(state["mean"].numel())
        acc.count, acc.mean, acc.m2 = int(state["count"]), state["mean"].clone(), state["m2"].clone()
        return acc

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
        sid_ci (Tensor, optional): ``(2, M)`` bootstrap confidence interval (over images) of
                    :attr:`sid`, lower and upper row.
        srs_ci (tuple of float, optional): Bootstrap confidence interval of :attr:`srs`.
        by_class (dict, optional): Per target class: ``{"n_samples", "values", "stderr"}``.
        stop_reason (str): Why the run stopped (data exhausted, ``n_samples`` reached, or the
                    ``tolerance`` met, with the numbers).

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
    sid_ci: Tensor | None = None
    srs_ci: tuple[float, float] | None = None
    by_class: dict[int, dict[str, Any]] | None = None
    stop_reason: str = ""

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
            "sid_ci": None if self.sid_ci is None else self.sid_ci.tolist(),
            "srs_ci": None if self.srs_ci is None else list(self.srs_ci),
            "by_class": None
            if self.by_class is None
            else {
                str(c): {
                    "n_samples": int(d["n_samples"]),
                    "values": d["values"].tolist(),
                    "stderr": [clean(v) for v in d["stderr"].tolist()],
                }
                for c, d in self.by_class.items()
            },
            "stop_reason": self.stop_reason,
            "config": self.config,
        }


class GlobalAccumulator:
    r"""
    The sufficient statistics of a global run, in memory independent of the number of images:
    moments of φ and of ``(v(N), v(∅))``, an online Poisson bootstrap over images (``R``
    replicate weighted sums; Hanley & MacGibbon, 2006) and optional per-class moments. It can be
    merged (for ``torch.distributed``) and saved (for checkpoints).

    Args:
        n_bands (int): ``M``.
        n_bootstrap (int, optional): Bootstrap replicates ``R`` (0 disables the bootstrap).
                    Default: 200
        by_class (bool, optional): Keep per-class moments of φ.
                    Default: False
    """

    def __init__(self, n_bands: int, n_bootstrap: int = 200, by_class: bool = False) -> None:
        self.n_bands = n_bands
        self.n_bootstrap = n_bootstrap
        self.phi = MomentAccumulator(n_bands)
        self.ends = MomentAccumulator(2)
        self.boot_sum = torch.zeros(n_bootstrap, n_bands, dtype=torch.float64)
        self.boot_weight = torch.zeros(n_bootstrap, dtype=torch.float64)
        self.classes: dict[int, MomentAccumulator] | None = {} if by_class else None

    @property
    def count(self) -> int:
        r"""Images seen."""
        return self.phi.count

    def update(
        self,
        phi: Tensor,
        v_full: Tensor,
        v_empty: Tensor,
        generator: torch.Generator,
        targets: Tensor | None = None,
    ) -> None:
        r"""Add a batch: ``phi`` ``(B, M)``, ``v_full`` and ``v_empty`` ``(B,)``, ``targets`` ``(B,)``."""
        phi = phi.detach().to("cpu", torch.float64)
        self.phi.update(phi)
        self.ends.update(torch.stack([v_full, v_empty], dim=1))
        if self.n_bootstrap:
            rate = torch.ones(phi.shape[0], self.n_bootstrap, dtype=torch.float64)
            weights = torch.poisson(rate, generator=generator)
            self.boot_sum += weights.T @ phi
            self.boot_weight += weights.sum(dim=0)
        if self.classes is not None:
            if targets is None:
                raise ValueError("by_class=True needs class targets (a model with class scores)")
            targets = targets.detach().cpu()
            for c in targets.unique().tolist():
                self.classes.setdefault(int(c), MomentAccumulator(self.n_bands)).update(phi[targets == c])

    def merge(self, other: GlobalAccumulator) -> None:
        r"""Add everything ``other`` has seen."""
        self.phi.merge(other.phi)
        self.ends.merge(other.ends)
        self.boot_sum += other.boot_sum
        self.boot_weight += other.boot_weight
        if self.classes is not None and other.classes is not None:
            for c, acc in other.classes.items():
                self.classes.setdefault(c, MomentAccumulator(self.n_bands)).merge(acc)

    def state_dict(self) -> dict[str, Any]:
        r"""Plain values and tensors, loadable with ``torch.load(weights_only=True)``."""
        return {
            "n_bands": self.n_bands,
            "n_bootstrap": self.n_bootstrap,
            "phi": self.phi.state_dict(),
            "ends": self.ends.state_dict(),
            "boot_sum": self.boot_sum.clone(),
            "boot_weight": self.boot_weight.clone(),
            "classes": None if self.classes is None else {c: a.state_dict() for c, a in self.classes.items()},
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> GlobalAccumulator:
        r"""Inverse of :meth:`state_dict`."""
        acc = cls(int(state["n_bands"]), int(state["n_bootstrap"]), state["classes"] is not None)
        acc.phi = MomentAccumulator.from_state_dict(state["phi"])
        acc.ends = MomentAccumulator.from_state_dict(state["ends"])
        acc.boot_sum, acc.boot_weight = state["boot_sum"].clone(), state["boot_weight"].clone()
        if state["classes"] is not None:
            acc.classes = {int(c): MomentAccumulator.from_state_dict(a) for c, a in state["classes"].items()}
        return acc

    def running_srs(self) -> float:
        r"""The SRS of the mean φ seen so far (0 before any image), for progress displays."""
        if self.count == 0:
            return 0.0
        return spectral_robustness_score(spectral_importance_distribution(self.phi.mean))

    def relative_error(self) -> float:
        r"""``max(stderr) / (max ψ − min ψ)``: the stopping statistic of ``tolerance`` (inf if undefined)."""
        spread = float(self.phi.mean.max() - self.phi.mean.min())
        err = self.phi.stderr()
        if self.count < 2 or spread <= 0 or bool(torch.isnan(err).any()):
            return float("inf")
        return float(err.max()) / spread

    def result(self, config: dict[str, Any], confidence: float = 0.95, stop_reason: str = "") -> SpectralImportance:
        r"""The :class:`SpectralImportance` of everything seen, with bootstrap intervals."""
        sid_ci = srs_ci = None
        drawn = self.boot_weight > 0  # a replicate can draw no image at all from a tiny data set
        if int(drawn.sum()) >= 2:
            reps = self.boot_sum[drawn] / self.boot_weight[drawn, None]
            sids = torch.stack([spectral_importance_distribution(r) for r in reps])
            srss = torch.tensor([spectral_robustness_score(sd) for sd in sids], dtype=torch.float64)
            q = torch.tensor([(1 - confidence) / 2, (1 + confidence) / 2], dtype=torch.float64)
            sid_ci = torch.quantile(sids, q, dim=0)
            lo, hi = torch.quantile(srss, q).tolist()
            srs_ci = (lo, hi)
        by_class = None
        if self.classes is not None:
            by_class = {
                c: {"n_samples": a.count, "values": a.mean.clone(), "stderr": a.stderr()}
                for c, a in sorted(self.classes.items())
            }
        return SpectralImportance(
            values=self.phi.mean.clone(),
            stderr=self.phi.stderr(),
            n_samples=self.count,
            v_full=float(self.ends.mean[0]),
            v_empty=float(self.ends.mean[1]),
            config=config,
            sid_ci=sid_ci,
            srs_ci=srs_ci,
            by_class=by_class,
            stop_reason=stop_reason,
        )

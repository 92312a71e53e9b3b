r"""Streaming statistics of a global run, in memory independent of the number of images.

Per-image Shapley estimates ``φ̂(x)`` arrive batch by batch. Their moments give ψ and its standard
error; an online Poisson bootstrap over images (Hanley & MacGibbon, 2006) gives intervals for ψ,
SID and SRS. Because each ``φ̂(x)`` is an unbiased estimate of ``φ(x)`` drawn independently per
image, the spread of ``φ̂`` over images holds both the between-image variance and the estimator's
within-image noise, so the standard errors and intervals cover both. Accumulators merge (for
``torch.distributed``) and save to plain tensors (for checkpoints).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from captum_iaside.estimators.base import BandShapley
from captum_iaside.results.importance import SpectralImportance
from captum_iaside.results.intervals import percentile_interval
from captum_iaside.results.summaries import (
    sid_rows,
    spectral_importance_distribution,
    spectral_robustness_score,
    srs_rows,
)


class MomentAccumulator:
    r"""
    Running count, mean and co-moments of ``(n, D)`` rows (Chan et al.'s parallel update,
    float64), so means, standard errors and covariances stream in flat memory.

    Args:
        dim (int): ``D``.
        covariance (bool, optional): Keep the full ``(D, D)`` co-moment matrix, not only its
                    diagonal.
                    Default: False
    """

    def __init__(self, dim: int, covariance: bool = False) -> None:
        self.count = 0
        self.mean = torch.zeros(dim, dtype=torch.float64)
        self.covariance = covariance
        self.m2 = torch.zeros((dim, dim) if covariance else dim, dtype=torch.float64)

    def _co_moment(self, a: Tensor, b: Tensor | None = None) -> Tensor:
        b = a if b is None else b
        return a.T @ b if self.covariance else (a * b).sum(dim=0)

    @staticmethod
    def _rows(rows: Tensor) -> Tensor:
        return rows.detach().to(device="cpu", dtype=torch.float64)

    def update(self, rows: Tensor) -> None:
        r"""Add the rows of a ``(n, D)`` tensor."""
        rows = self._rows(rows)
        n = rows.shape[0]
        if n == 0:
            return
        mean = rows.mean(dim=0)
        centred = rows - mean
        self._combine(n, mean, self._co_moment(centred))

    def remove(self, rows: Tensor) -> None:
        r"""Take back rows added before (the exact inverse of :meth:`update`)."""
        rows = self._rows(rows)
        n = rows.shape[0]
        if n == self.count:  # all of them (or none, of none)
            self.__init__(self.mean.numel(), self.covariance)
            return
        if n == 0:
            return
        mean = rows.mean(dim=0)
        self._combine(-n, mean, -self._co_moment(rows - mean))

    def merge(self, other: MomentAccumulator) -> None:
        r"""Add everything ``other`` has seen (the parallel form of :meth:`update`)."""
        if other.count:
            self._combine(other.count, other.mean, other.m2)

    def _combine(self, n: int, mean: Tensor, m2: Tensor) -> None:
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        d = delta[None]
        self.m2 = self.m2 + m2 + self._co_moment(d) * (self.count * n / total)
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        r"""The accumulator as plain values and tensors (for checkpoints)."""
        return {"count": self.count, "mean": self.mean.clone(), "m2": self.m2.clone()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> MomentAccumulator:
        r"""Inverse of :meth:`state_dict`."""
        acc = cls(state["mean"].numel(), covariance=state["m2"].dim() == 2)
        acc.count, acc.mean, acc.m2 = int(state["count"]), state["mean"].clone(), state["m2"].clone()
        return acc

    def variance(self) -> Tensor:
        r"""Sample variances (ddof 1) of the ``D`` columns; NaN with fewer than two rows."""
        diag = self.m2.diagonal() if self.covariance else self.m2
        if self.count < 2:
            return torch.full_like(self.mean, float("nan"))
        return diag / (self.count - 1)

    def stderr(self) -> Tensor:
        r"""``std(rows, ddof=1) / sqrt(count)``; NaN with fewer than two rows."""
        return torch.sqrt(self.variance() / max(self.count, 1))


class GlobalAccumulator:
    r"""
    The sufficient statistics of one model's global run: moments of ``φ̂`` and of
    ``(v(∅), v(N))``, replicate sums of the online Poisson bootstrap and optional per-class
    moments.

    Args:
        n_bands (int): ``M``.
        n_bootstrap (int, optional): Bootstrap replicates ``R`` (0 disables the bootstrap).
                    Default: 200
        by_class (bool, optional): Keep per-class moments of ``φ̂``.
                    Default: False
    """

    def __init__(self, n_bands: int, n_bootstrap: int = 200, by_class: bool = False) -> None:
        self.n_bands = n_bands
        self.n_bootstrap = n_bootstrap
        self.phi = MomentAccumulator(n_bands)
        self.ends = MomentAccumulator(2)  # v(∅), v(N)
        self.boot_sum = torch.zeros(n_bootstrap, n_bands, dtype=torch.float64)
        self.boot_weight = torch.zeros(n_bootstrap, dtype=torch.float64)
        self.classes: dict[int, MomentAccumulator] | None = {} if by_class else None

    @property
    def count(self) -> int:
        r"""Images seen."""
        return self.phi.count

    def update(self, shapley: BandShapley, weights: Tensor | None = None, remove: bool = False) -> None:
        r"""
        Add a batch (or, with ``remove=True``, take back a batch added before).

        Args:
            shapley (BandShapley): The batch's estimates.
            weights (Tensor, optional): ``(B, R)`` Poisson bootstrap weights of its images (the
                        same for every model of a paired comparison).
            remove (bool, optional): Take the batch back instead.
                        Default: False
        """
        phi = shapley.values.detach().to("cpu", torch.float64)
        ends = torch.stack([shapley.v_empty, shapley.v_full], dim=1).to("cpu", torch.float64)
        sign = -1.0 if remove else 1.0
        for acc, rows in ((self.phi, phi), (self.ends, ends)):
            acc.remove(rows) if remove else acc.update(rows)
        if self.n_bootstrap:
            self.boot_sum += sign * (weights.T @ phi)
            self.boot_weight += sign * weights.sum(dim=0)
        if self.classes is not None:
            if shapley.target is None:
                raise ValueError("by_class=True needs class targets (a model with class scores)")
            targets = shapley.target.detach().cpu()
            for c in targets.unique().tolist():
                acc = self.classes.setdefault(int(c), MomentAccumulator(self.n_bands))
                acc.remove(phi[targets == c]) if remove else acc.update(phi[targets == c])

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
        r"""The SRS of the mean ``φ̂`` seen so far (0 before any image), for progress displays."""
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

    def replicates(self) -> Tensor | None:
        r"""``(R', M)`` bootstrap replicates of ψ (replicates that drew no image are left out)."""
        drawn = self.boot_weight > 0  # a replicate can draw no image at all from a tiny data set
        if int(drawn.sum()) < 2:
            return None
        return self.boot_sum[drawn] / self.boot_weight[drawn, None]

    def result(self, config: dict[str, Any], confidence: float = 0.95, stop_reason: str = "") -> SpectralImportance:
        r"""The :class:`SpectralImportance` of everything seen, with bootstrap intervals."""
        values_ci = sid_ci = srs_ci = None
        reps = self.replicates()
        if reps is not None:
            sids = sid_rows(reps)
            srss = srs_rows(sids)
            values_ci = percentile_interval(reps, confidence)
            sid_ci = percentile_interval(sids, confidence)
            lo, hi = percentile_interval(srss, confidence).tolist()
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
            v_empty=float(self.ends.mean[0]),
            v_full=float(self.ends.mean[1]),
            config=config,
            values_ci=values_ci,
            sid_ci=sid_ci,
            srs_ci=srs_ci,
            by_class=by_class,
            stop_reason=stop_reason,
        )

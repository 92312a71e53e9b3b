r"""Streaming statistics of a global run, in memory independent of the number of images.

Per-image Shapley estimates ``φ̂(x)`` arrive batch by batch, each with its image's stratum (one
stratum for an unstratified run). Their per-stratum moments give ψ̂ = Σ_h W_h ψ̂_h and its standard
error (Σ_h W_h² s_h² / n_h); an online Poisson bootstrap over images within strata (Hanley &
MacGibbon, 2006) gives intervals for ψ, SID and SRS (the SRS's accounting for which ring is the weakest:
:func:`~captum_iaside.results.intervals.srs_interval`). Because each ``φ̂(x)`` is an unbiased estimate
of ``φ(x)`` drawn independently per image, the spread of ``φ̂`` over images holds both the
between-image variance and the estimator's within-image noise, so the standard errors and intervals
cover both. Strata with fewer than
two images are pooled into one (collapsed strata, Cochran 1977, §5A.12; a pool of one image joins the
smallest stratum), so every group has a variance; strata no image was seen of are left out and the
others' weights renormalised. Accumulators merge (for ``torch.distributed``) and save to plain
tensors (for checkpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_iaside.estimators.base import BandShapley
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.players import partition_from_config
from captum_iaside.results.importance import SpectralImportance
from captum_iaside.results.intervals import percentile_interval, srs_interval
from captum_iaside.results.summaries import sid_rows, spectral_importance_distribution, spectral_robustness_score


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


@dataclass
class StratumGroup:
    r"""A stratum, or the strata with fewer than two images pooled, with its weight ``W`` and members."""

    weight: float
    members: list[int]


@dataclass
class Estimate:
    r"""The stratified estimate of one model: ψ̂ (``values``), its standard error and the mean ``v(∅)``, ``v(N)``."""

    values: Tensor
    stderr: Tensor
    v_empty: float
    v_full: float


def stratum_groups(counts: dict[int, int], population: dict[int, int] | None) -> tuple[list[StratumGroup], float]:
    r"""
    The groups a stratified estimate sums over: each stratum with at least two images alone, the others
    pooled into one (treated as a simple random sample of their images; a pool of a single image joins
    the stratum with the fewest images), with weights ``W_h = N_h / N`` renormalised over the groups that
    have images.

    Args:
        counts (dict): Stratum id → images seen.
        population (dict, optional): Stratum id → images in the data (None: one unweighted stratum).

    Returns:
        ``(groups, missing)``: the groups, and the weight share of strata no image was seen of (left out).
    """
    if population is None:
        return [StratumGroup(1.0, sorted(counts))], 0.0
    total = sum(population.values())
    alone = [h for h in sorted(population) if counts.get(h, 0) >= 2]
    pooled = [h for h in sorted(population) if counts.get(h, 0) < 2]
    groups = [StratumGroup(population[h] / total, [h]) for h in alone]
    seen = [h for h in pooled if counts.get(h, 0) > 0]
    missing = sum(population[h] for h in pooled if h not in seen) / total
    if seen:
        weight = sum(population[h] for h in pooled) / total - missing
        if sum(counts[h] for h in seen) == 1 and groups:  # one image has no spread of its own
            smallest = min(groups, key=lambda g: counts[g.members[0]])
            smallest.members, smallest.weight = smallest.members + seen, smallest.weight + weight
        else:
            groups.append(StratumGroup(weight, seen))
    kept = sum(g.weight for g in groups)
    if kept == 0:
        return [], missing
    for g in groups:
        g.weight /= kept
    return groups, missing


def stratum_ids(strata: Tensor | None, n: int) -> Tensor:
    r"""The ``(n,)`` stratum ids of a batch's images on the CPU (``strata`` None: all in stratum 0)."""
    return torch.zeros(n, dtype=torch.int64) if strata is None else strata.to("cpu", torch.int64)


def add_population(population: dict[int, int] | None, other: dict[int, int] | None) -> None:
    r"""Add another rank's stratum sizes ``other`` to ``population`` (in place; nothing where either is None)."""
    if population is not None and other is not None:
        for h, n in other.items():
            population[h] = population.get(h, 0) + n


def population_from_state(state: dict[str, Any]) -> dict[int, int] | None:
    r"""The stratum sizes of an accumulator's state dict, keyed by int (None for an unstratified run)."""
    saved = state["population"]
    return None if saved is None else {int(h): int(n) for h, n in saved.items()}


def merged(accs: list[MomentAccumulator]) -> MomentAccumulator:
    r"""One accumulator of everything ``accs`` have seen."""
    out = MomentAccumulator(accs[0].mean.numel(), accs[0].covariance)
    for a in accs:
        out.merge(a)
    return out


def group_moments(
    groups: list[StratumGroup], accs: dict[int, MomentAccumulator]
) -> list[tuple[float, MomentAccumulator]]:
    r"""Each group's weight and the moments of its strata together."""
    return [(g.weight, merged([accs[h] for h in g.members])) for g in groups]


def update_by_key(
    accs: dict[int, MomentAccumulator], keys: Tensor, rows: Tensor, covariance: bool = False, remove: bool = False
) -> None:
    r"""Add (or take back) each row of ``rows`` to the accumulator of its key, made on first use."""
    for key in keys.unique().tolist():
        acc = accs.setdefault(int(key), MomentAccumulator(rows.shape[1], covariance))
        acc.remove(rows[keys == key]) if remove else acc.update(rows[keys == key])


def merge_by_key(accs: dict[int, MomentAccumulator], other: dict[int, MomentAccumulator]) -> None:
    r"""Add ``other``'s accumulators to those of the same keys in ``accs``."""
    for key, acc in other.items():
        accs.setdefault(key, MomentAccumulator(acc.mean.numel(), acc.covariance)).merge(acc)


def stratified_covariance(parts: list[tuple[float, MomentAccumulator]]) -> Tensor:
    r"""
    ``Σ_g W_g² S_g / n_g``: the (co)variance of a stratified mean from each group's weight and moments
    (:func:`group_moments`; NaN where a group holds fewer than two images, which :func:`stratum_groups`
    allows only for one image in all).
    """
    total = torch.zeros_like(parts[0][1].m2)
    for w, a in parts:
        if a.count < 2:
            return torch.full_like(total, float("nan"))
        total = total + w * w * (a.m2 / (a.count - 1)) / a.count
    return total


class _Stratum:
    r"""The statistics of one stratum: moments of ``(φ̂, v(∅), v(N))`` and the bootstrap sums of ``φ̂``."""

    def __init__(self, n_bands: int, n_bootstrap: int) -> None:
        self.moments = MomentAccumulator(n_bands + 2)
        self.boot_sum = torch.zeros(n_bootstrap, n_bands, dtype=torch.float64)
        self.boot_weight = torch.zeros(n_bootstrap, dtype=torch.float64)

    def state_dict(self) -> dict[str, Any]:
        return {
            "moments": self.moments.state_dict(),
            "boot_sum": self.boot_sum.clone(),
            "boot_weight": self.boot_weight.clone(),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> _Stratum:
        out = cls.__new__(cls)
        out.moments = MomentAccumulator.from_state_dict(state["moments"])
        out.boot_sum, out.boot_weight = state["boot_sum"].clone(), state["boot_weight"].clone()
        return out


class GlobalAccumulator:
    r"""
    The sufficient statistics of one model's global run, per stratum: moments of ``φ̂`` and of
    ``(v(∅), v(N))``, replicate sums of the online Poisson bootstrap, and optional per-class moments.

    Args:
        n_bands (int): ``M``.
        n_bootstrap (int, optional): Bootstrap replicates ``R`` (0 disables the bootstrap).
                    Default: 200
        by_class (bool, optional): Keep per-class moments of ``φ̂``.
                    Default: False
        population (dict, optional): Stratum id → images in the data, for a stratified run (the
                    weights ``W_h = N_h / N``).
                    Default: None (unstratified)
    """

    def __init__(
        self, n_bands: int, n_bootstrap: int = 200, by_class: bool = False, population: dict[int, int] | None = None
    ) -> None:
        self.n_bands = n_bands
        self.n_bootstrap = n_bootstrap
        self.population = None if population is None else dict(population)
        self.strata: dict[int, _Stratum] = {}
        self.classes: dict[int, MomentAccumulator] | None = {} if by_class else None

    @property
    def count(self) -> int:
        r"""Images seen."""
        return sum(s.moments.count for s in self.strata.values())

    def counts(self) -> dict[int, int]:
        r"""Images seen per stratum."""
        return {h: s.moments.count for h, s in self.strata.items()}

    def update(
        self, shapley: BandShapley, weights: Tensor | None = None, strata: Tensor | None = None, remove: bool = False
    ) -> None:
        r"""
        Add a batch (or, with ``remove=True``, take back a batch added before).

        Args:
            shapley (BandShapley): The batch's estimates.
            weights (Tensor, optional): ``(B, R)`` Poisson bootstrap weights of its images (the
                        same for every model of a paired comparison).
            strata (Tensor, optional): ``(B,)`` stratum ids of its images (None: stratum 0).
            remove (bool, optional): Take the batch back instead.
                        Default: False
        """
        phi = shapley.values.detach().to("cpu", torch.float64)
        rows = torch.cat([phi, torch.stack([shapley.v_empty, shapley.v_full], dim=1).to("cpu", torch.float64)], dim=1)
        ids = stratum_ids(strata, phi.shape[0])
        if self.population is not None:
            unknown = sorted(set(ids.tolist()) - set(self.population))
            if unknown:
                raise ValueError(f"images of strata {unknown} arrived, which the data's strata do not hold")
        sign = -1.0 if remove else 1.0
        for h in ids.unique().tolist():
            rows_h = ids == h
            stratum = self.strata.setdefault(int(h), _Stratum(self.n_bands, self.n_bootstrap))
            stratum.moments.remove(rows[rows_h]) if remove else stratum.moments.update(rows[rows_h])
            if self.n_bootstrap:
                stratum.boot_sum += sign * (weights[rows_h].T @ phi[rows_h])
                stratum.boot_weight += sign * weights[rows_h].sum(dim=0)
        if self.classes is not None:
            if shapley.target is None:
                raise ValueError("by_class=True needs class targets (a model with class scores)")
            update_by_key(self.classes, shapley.target.detach().cpu(), phi, remove=remove)

    def merge(self, other: GlobalAccumulator) -> None:
        r"""Add everything ``other`` has seen (another rank's images: its strata's sizes add to these)."""
        for h, s in other.strata.items():
            mine = self.strata.setdefault(h, _Stratum(self.n_bands, self.n_bootstrap))
            mine.moments.merge(s.moments)
            mine.boot_sum += s.boot_sum
            mine.boot_weight += s.boot_weight
        add_population(self.population, other.population)
        if self.classes is not None and other.classes is not None:
            merge_by_key(self.classes, other.classes)

    def state_dict(self) -> dict[str, Any]:
        r"""Plain values and tensors, loadable with ``torch.load(weights_only=True)``."""
        return {
            "n_bands": self.n_bands,
            "n_bootstrap": self.n_bootstrap,
            "population": self.population,
            "strata": {h: s.state_dict() for h, s in self.strata.items()},
            "classes": None if self.classes is None else {c: a.state_dict() for c, a in self.classes.items()},
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> GlobalAccumulator:
        r"""Inverse of :meth:`state_dict`."""
        acc = cls(
            int(state["n_bands"]), int(state["n_bootstrap"]), state["classes"] is not None, population_from_state(state)
        )
        acc.strata = {int(h): _Stratum.from_state_dict(s) for h, s in state["strata"].items()}
        if state["classes"] is not None:
            acc.classes = {int(c): MomentAccumulator.from_state_dict(a) for c, a in state["classes"].items()}
        return acc

    def groups(self) -> tuple[list[StratumGroup], float]:
        r"""The stratum groups of the estimate and the weight share of unseen strata (:func:`stratum_groups`)."""
        return stratum_groups(self.counts(), self.population)

    def estimate(self) -> Estimate:
        r"""ψ̂ and its standard error over everything seen (NaN standard errors with fewer than two images)."""
        m = self.n_bands
        groups, _ = self.groups()
        if not groups:  # nothing seen yet
            nan = torch.full((m,), float("nan"), dtype=torch.float64)
            return Estimate(nan, nan.clone(), float("nan"), float("nan"))
        parts = group_moments(groups, {h: s.moments for h, s in self.strata.items()})
        means = sum(w * a.mean for w, a in parts)
        var = stratified_covariance(parts)[:m]
        return Estimate(means[:m].clone(), torch.sqrt(var.clamp(min=0)), float(means[m]), float(means[m + 1]))

    def running_srs(self, rings: Tensor | None = None) -> float:
        r"""The SRS of ψ̂ so far (0 before any image; NaN for ``rings`` None), for progress displays: ``rings``
        sums the players into rings (:meth:`~captum_iaside.FourierPartition.rings`)."""
        if self.count == 0:
            return 0.0
        if rings is None:
            return float("nan")
        return spectral_robustness_score(spectral_importance_distribution(rings @ self.estimate().values.double()))

    def relative_error(self) -> float:
        r"""``max(stderr) / (max ψ − min ψ)``: the stopping statistic of ``tolerance`` (inf if undefined)."""
        if self.count < 2:
            return float("inf")
        est = self.estimate()
        spread = float(est.values.max() - est.values.min())
        if spread <= 0 or bool(torch.isnan(est.stderr).any()):
            return float("inf")
        return float(est.stderr.max()) / spread

    def replicates(self) -> Tensor | None:
        r"""
        ``(R', M)`` bootstrap replicates of ψ̂, each ``Σ_g W_g`` (its weighted mean of group ``g``); a group
        that drew no image in a replicate keeps its mean there, and replicates that drew no image at all are
        left out.
        """
        if not self.n_bootstrap or self.count == 0:
            return None
        groups, _ = self.groups()
        reps = torch.zeros(self.n_bootstrap, self.n_bands, dtype=torch.float64)
        drawn = torch.zeros(self.n_bootstrap, dtype=torch.bool)
        for g in groups:
            members = [self.strata[h] for h in g.members]
            total = sum(s.boot_sum for s in members)
            weight = sum(s.boot_weight for s in members)
            mean = merged([s.moments for s in members]).mean[: self.n_bands]
            has = weight > 0
            group_means = torch.where(has[:, None], total / weight.clamp(min=1e-300)[:, None], mean)
            reps += g.weight * group_means
            drawn |= has
        if int(drawn.sum()) < 2:
            return None
        return reps[drawn]

    def result(
        self,
        config: dict[str, Any],
        confidence: float = 0.95,
        stop_reason: str = "",
        beta: float = 0.75,
        interactions: InteractionEstimate | None = None,
        players: FourierPartition | None = None,
    ) -> SpectralImportance:
        r"""
        The :class:`SpectralImportance` of everything seen, with bootstrap intervals.

        Args:
            config (dict): The run's configuration (its ``"bands"`` give the rings the SRS reads).
            confidence (float, optional): Level of the intervals.
                        Default: 0.95
            stop_reason (str, optional): Why the run stopped.
                        Default: ""
            beta (float, optional): ``β`` of the spectral robustness score, for the result and for its
                        ``srs_ci``.
                        Default: 0.75
            interactions (InteractionEstimate, optional): The mean interaction matrix and its standard errors
                        (:class:`InteractionAccumulator`), for a run with ``interactions=``.
                        Default: None
            players (FourierPartition, optional): The run's players, whose rings the SRS reads.
                        Default: the partition ``config["bands"]`` describes

        Returns:
            :class:`SpectralImportance`.
        """
        values_ci = sid_ci = srs_ci = weakest = None
        est = self.estimate()
        reps = self.replicates()
        if reps is not None:
            values_ci = percentile_interval(reps, confidence)
            sid_ci = percentile_interval(sid_rows(reps), confidence)
            if players is None:
                players = partition_from_config(config.get("bands"), self.n_bands)
            rings = players.rings()
            if rings is not None:
                interval = srs_interval(reps @ rings.T, rings @ est.values, confidence, beta)
                srs_ci, weakest = (interval.low, interval.high), interval.candidates
        by_class = None
        if self.classes is not None:
            by_class = {
                c: {"n_samples": a.count, "values": a.mean.clone(), "stderr": a.stderr()}
                for c, a in sorted(self.classes.items())
            }
        return SpectralImportance(
            values=est.values,
            stderr=est.stderr,
            n_samples=self.count,
            v_empty=est.v_empty,
            v_full=est.v_full,
            config=config,
            beta=beta,
            values_ci=values_ci,
            sid_ci=sid_ci,
            srs_ci=srs_ci,
            weakest_candidates=weakest,
            by_class=by_class,
            stop_reason=stop_reason,
            interactions=None if interactions is None else interactions.values,
            interactions_stderr=None if interactions is None else interactions.stderr,
            players=players,
        )


@dataclass(frozen=True)
class InteractionEstimate:
    r"""The stratified mean ``(M, M)`` interaction matrix over the images and its standard errors."""

    values: Tensor
    stderr: Tensor


class InteractionAccumulator:
    r"""
    The sufficient statistics of one model's pairwise interaction matrices ``(n, M, M)``, per stratum: the moments of
    each entry, summed over the strata with the weights of ψ's (:func:`stratum_groups`), so the mean matrix and its
    standard errors stream in flat memory as ψ̂ does.

    Args:
        n_bands (int): ``M``.
        population (dict, optional): Stratum id → images in the data, for a stratified run.
                    Default: None (unstratified)

    Examples::

        >>> acc = InteractionAccumulator(3)
        >>> acc.update(torch.eye(3).expand(4, 3, 3))
        >>> acc.estimate().values
        tensor([[1., 0., 0.],
                [0., 1., 0.],
                [0., 0., 1.]], dtype=torch.float64)
    """

    def __init__(self, n_bands: int, population: dict[int, int] | None = None) -> None:
        self.n_bands = n_bands
        self.population = None if population is None else dict(population)
        self.strata: dict[int, MomentAccumulator] = {}

    def update(self, values: Tensor, strata: Tensor | None = None) -> None:
        r"""Add a batch's ``(n, M, M)`` interaction matrices, each image in its stratum (``strata`` None: stratum 0)."""
        rows = values.detach().to("cpu", torch.float64).flatten(1)
        ids = stratum_ids(strata, rows.shape[0])
        update_by_key(self.strata, ids, rows)

    def merge(self, other: InteractionAccumulator) -> None:
        r"""Add everything ``other`` has seen (another rank's images: its strata's sizes add to these)."""
        merge_by_key(self.strata, other.strata)
        add_population(self.population, other.population)

    def state_dict(self) -> dict[str, Any]:
        r"""The accumulator as plain values and tensors (for checkpoints and ``torch.distributed``)."""
        return {
            "n_bands": self.n_bands,
            "population": self.population,
            "strata": {h: a.state_dict() for h, a in self.strata.items()},
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> InteractionAccumulator:
        r"""Inverse of :meth:`state_dict`."""
        acc = cls(int(state["n_bands"]), population_from_state(state))
        acc.strata = {int(h): MomentAccumulator.from_state_dict(a) for h, a in state["strata"].items()}
        return acc

    def estimate(self) -> InteractionEstimate:
        r"""The mean matrix and its standard errors (NaN before any image, standard errors NaN with fewer than two)."""
        m = self.n_bands
        groups, _ = stratum_groups({h: a.count for h, a in self.strata.items()}, self.population)
        if not groups:
            nan = torch.full((m, m), float("nan"), dtype=torch.float64)
            return InteractionEstimate(nan, nan.clone())
        parts = group_moments(groups, self.strata)
        means = sum(w * a.mean for w, a in parts)
        stderr = torch.sqrt(stratified_covariance(parts).clamp(min=0))
        return InteractionEstimate(means.reshape(m, m), stderr.reshape(m, m))

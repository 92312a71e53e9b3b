r"""Spectral importance over the steps of a training run: the tidy rows of a history and the paired difference
of two steps (what :class:`~captum_iaside.dynamics.SpectralMonitor` returns)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor

from captum_iaside.results.importance import SpectralImportance, clean_float, clean_list
from captum_iaside.results.intervals import paired_srs_difference_interval, percentile_interval


@dataclass(frozen=True)
class StepRow:
    r"""
    One player at one step: a row of a tidy table (``pandas.DataFrame(monitor.history)`` reads a list of them).

    Attributes:
        step (int): The training step (an epoch, an iteration) the model was measured at.
        player (int): The player's index (band 0 holds the lowest frequencies).
        label (str): The player's label (``players.labels()``).
        psi (float): ψ of the player.
        stderr (float): Its standard error.
        psi_low (float or None): Lower end of ψ's bootstrap interval (None without a bootstrap).
        psi_high (float or None): Upper end.
        sid (float): The player's share of the spectral importance distribution (NaN where it is not defined).
        srs (float): The spectral robustness score of the step (the same on each of its rows).
        srs_low (float or None): Lower end of the SRS's bootstrap interval.
        srs_high (float or None): Upper end.
    """

    step: int
    player: int
    label: str
    psi: float
    stderr: float
    psi_low: float | None
    psi_high: float | None
    sid: float
    srs: float
    srs_low: float | None
    srs_high: float | None

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict of the fields (NaN as None)."""
        return {k: clean_float(v) if isinstance(v, float) else v for k, v in asdict(self).items()}


def step_rows(step: int, result: SpectralImportance) -> list[StepRow]:
    r"""
    The rows of ``result`` measured at ``step``, one a player.

    Examples::

        >>> res = SpectralImportance(torch.tensor([0.6, 0.3, 0.1]), torch.zeros(3), 10, -1.0, 0.0)
        >>> [round(r.sid, 3) for r in step_rows(4, res)]
        [0.714, 0.286, 0.0]
    """
    labels = result.players.labels()
    sid = result.sid.tolist()
    srs_low, srs_high = result.srs_ci if result.srs_ci is not None else (None, None)
    rows = []
    for m in range(result.n_bands):
        low = None if result.values_ci is None else float(result.values_ci[0, m])
        high = None if result.values_ci is None else float(result.values_ci[1, m])
        rows.append(
            StepRow(
                step=int(step),
                player=m,
                label=str(labels[m]),
                psi=float(result.values[m]),
                stderr=float(result.stderr[m]),
                psi_low=low,
                psi_high=high,
                sid=float(sid[m]),
                srs=float(result.srs),
                srs_low=srs_low,
                srs_high=srs_high,
            )
        )
    return rows


@dataclass(frozen=True)
class StepDifference:
    r"""
    ψ and SRS of step :attr:`a` minus those of step :attr:`b`, on the same probe images, baselines and coalitions
    (paired: the variance between images, which both steps share, cancels).

    Attributes:
        a (int): The first step.
        b (int): The step subtracted.
        values (Tensor): ``ψ(a) − ψ(b)`` per player, ``(M,)`` float64.
        stderr (Tensor): Its standard error from the paired per-image differences (stratified as ψ).
        unpaired_stderr (Tensor): ``sqrt(se(a)² + se(b)²)``, what independent probes at the same evaluations
                    would give: the gain of pairing is its ratio to :attr:`stderr`.
        values_ci (Tensor, optional): ``(2, M)`` paired bootstrap interval of :attr:`values` (the same
                    replicate weights per image at both steps); None without a bootstrap.
        srs (float): ``SRS(a) − SRS(b)`` (NaN where either is not defined).
        srs_ci (tuple of float, optional): Its paired bootstrap interval: the percentiles of the replicates'
                    differences of the plug-in score, as
                    :meth:`SpectralComparison.srs_difference <captum_iaside.SpectralComparison.srs_difference>`'s
                    (near a tie of the weakest ring each step's own ``srs_ci`` is wider: it takes every candidate).
        confidence (float): The level of the intervals.
    """

    a: int
    b: int
    values: Tensor
    stderr: Tensor
    unpaired_stderr: Tensor
    values_ci: Tensor | None
    srs: float
    srs_ci: tuple[float, float] | None
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict (tensors as lists, NaN as None)."""
        return {
            "a": self.a,
            "b": self.b,
            "values": clean_list(self.values),
            "stderr": clean_list(self.stderr),
            "unpaired_stderr": clean_list(self.unpaired_stderr),
            "values_ci": clean_list(self.values_ci),
            "srs": clean_float(self.srs),
            "srs_ci": None if self.srs_ci is None else [clean_float(v) for v in self.srs_ci],
            "confidence": self.confidence,
        }


def step_difference(
    a: int,
    b: int,
    results: tuple[SpectralImportance, SpectralImportance],
    paired: tuple[Tensor, Tensor],
    replicates: tuple[Tensor, Tensor] | None,
    confidence: float,
) -> StepDifference:
    r"""
    The :class:`StepDifference` of step ``a`` minus step ``b`` from their ``results``, the ``paired`` Δψ and its
    standard error, and their bootstrap ``replicates`` ``(R, M)`` drawn with the same weights per image (None
    without a bootstrap): Δψ's interval and ΔSRS's are the percentiles of the replicates' differences.
    """
    ra, rb = results
    srs = ra.srs - rb.srs
    values_ci = srs_ci = None
    if replicates is not None:
        reps_a, reps_b = replicates
        values_ci = percentile_interval(reps_a - reps_b, confidence)
        rings_a, rings_b = ra.players.rings(), rb.players.rings()
        if rings_a is not None and rings_b is not None and math.isfinite(srs):
            srs_ci = paired_srs_difference_interval(reps_a, reps_b, rings_a, rings_b, ra.beta, confidence)
    return StepDifference(
        a=a,
        b=b,
        values=paired[0].double(),
        stderr=paired[1].double(),
        unpaired_stderr=torch.sqrt(ra.stderr.double() ** 2 + rb.stderr.double() ** 2),
        values_ci=values_ci,
        srs=srs,
        srs_ci=srs_ci,
        confidence=confidence,
    )


@dataclass(frozen=True)
class StepComparison:
    r"""
    Models of one training run, compared on the same images, baselines and coalitions, read as its steps: what
    :meth:`SpectralComparison.as_steps <captum_iaside.SpectralComparison.as_steps>` returns and the command line's
    ``--steps`` reports.

    Attributes:
        steps (Mapping): Model name → its step, in the order of the steps; read-only.
        history (tuple of StepRow): The tidy rows of every step, in the order of the steps.
        differences (tuple of StepDifference): Each step minus the step before it, paired.
    """

    steps: Mapping[str, int]
    history: tuple[StepRow, ...]
    differences: tuple[StepDifference, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", MappingProxyType(dict(self.steps)))

    @property
    def models(self) -> dict[int, str]:
        r"""Step → the name of its model (the inverse of :attr:`steps`)."""
        return {step: name for name, step in self.steps.items()}

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict: ``steps`` (model → step), ``history`` (the rows) and ``differences``."""
        return {
            "steps": dict(self.steps),
            "history": [row.to_dict() for row in self.history],
            "differences": [d.to_dict() for d in self.differences],
        }

r"""The result of a paired comparison of models: each model's result and the paired differences."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import torch
from torch import Tensor

from captum_iaside._utils.checks import check_steps
from captum_iaside.results.dynamics import StepComparison, StepDifference, step_difference, step_rows
from captum_iaside.results.importance import SpectralImportance, clean_float, clean_list
from captum_iaside.results.intervals import paired_srs_difference_interval


class SRSDifference(NamedTuple):
    r"""A difference of spectral robustness scores with its paired bootstrap interval."""

    estimate: float
    interval: tuple[float, float] | None


class ValuesDifference(NamedTuple):
    r"""A difference of ψ per band, ``(M,)``, with its paired standard error."""

    values: Tensor
    stderr: Tensor


@dataclass(frozen=True)
class SpectralComparison:
    r"""
    Global I-ASIDE of several models on the same images, baselines and coalitions (common
    random numbers), from :func:`~captum_iaside.attr.compare.compare_global`. Immutable once built (its
    :attr:`results` a read-only mapping).

    Because every model saw the same images and the same coalitions per image, per-image
    differences are paired: their between-image variance cancels, so differences are far more
    precise than the two results' own standard errors suggest.

    Attributes:
        results (Mapping): Model name → :class:`SpectralImportance`, read-only.
        confidence (float): Level of the intervals. Default: 0.95
        replicates (dict): Model name → ``(R, M)`` bootstrap replicates of ψ, drawn with the same
                    replicate weights per image for every model.
        covariance (Tensor): ``(K·M, K·M)`` covariance of all models' ψ̂ side by side, in the
                    order of :attr:`results` (from the paired per-image values, stratified as the
                    estimates are).

    Examples::

        >>> comp = compare_global({"standard": m1, "augmented": m2}, loader, max_evaluations=20_000)
        >>> est, (lo, hi) = comp.srs_difference("augmented", "standard")
        >>> comp.values_difference("augmented", "standard").stderr
    """

    results: Mapping[str, SpectralImportance]
    confidence: float = 0.95
    replicates: Mapping[str, Tensor] | None = None
    covariance: Tensor | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", MappingProxyType(dict(self.results)))
        if self.replicates is not None:
            object.__setattr__(self, "replicates", MappingProxyType(dict(self.replicates)))

    @property
    def names(self) -> list[str]:
        r"""Model names, in the order they were given."""
        return list(self.results)

    def _index(self, name: Any, argument: str) -> int:
        if name not in self.results:
            raise ValueError(f"{argument}={name!r} is not a compared model; expected one of {self.names}")
        return self.names.index(name)

    def srs_difference(self, a: str, b: str) -> SRSDifference:
        r"""
        ``SRS(a) − SRS(b)`` with its paired bootstrap interval (the same replicate weights per
        image for both models).

        Returns:
            :class:`SRSDifference` ``(estimate, (lo, hi))``; the interval is None without a
            bootstrap.
        """
        self._index(a, "a"), self._index(b, "b")
        estimate = self.results[a].srs - self.results[b].srs
        if not math.isfinite(estimate):
            return SRSDifference(math.nan, None)  # a score that is not defined has no difference
        if not self.replicates:
            return SRSDifference(estimate, None)
        interval = paired_srs_difference_interval(
            self.replicates[a],
            self.replicates[b],
            self.results[a].players.rings(),
            self.results[b].players.rings(),
            self.results[a].beta,
            self.confidence,
        )
        return SRSDifference(estimate, interval)

    def values_difference(self, a: str, b: str) -> ValuesDifference:
        r"""``ψ(a) − ψ(b)`` per band with the standard error of the paired per-image differences."""
        i, j = self._index(a, "a"), self._index(b, "b")
        values = self.results[a].values - self.results[b].values
        m = self.results[a].n_bands
        if self.covariance is None or self.results[a].n_samples < 2:
            return ValuesDifference(values, torch.full_like(values, float("nan")))
        sa, sb = slice(i * m, (i + 1) * m), slice(j * m, (j + 1) * m)
        c = self.covariance
        var = c[sa, sa].diagonal() + c[sb, sb].diagonal() - 2 * c[sa, sb].diagonal()
        return ValuesDifference(values, torch.sqrt(var.clamp(min=0)))

    def as_steps(self, steps: Mapping[str, int]) -> StepComparison:
        r"""
        The models read as the steps of one training run (checkpoints of one model, compared on the same probe):
        the tidy history of ψ, SID and SRS per step, and each step minus the step before it with paired standard
        errors and intervals — what :class:`~captum_iaside.SpectralMonitor` gives for steps it measured itself.

        Args:
            steps (dict): Model name → its training step (an int of 0 or more, each once), for every model.

        Returns:
            :class:`~captum_iaside.results.dynamics.StepComparison`, in the order of the steps.

        Examples::

            >>> comp = compare_global({"epoch1": m1, "epoch5": m5, "epoch10": m10}, loader)
            >>> over = comp.as_steps({"epoch1": 1, "epoch5": 5, "epoch10": 10})
            >>> for d in over.differences:  # step 5 − step 1, then step 10 − step 5
            ...     print(d.a, d.b, d.values, d.stderr, d.srs, d.srs_ci)
        """
        if not isinstance(steps, Mapping):
            raise TypeError(f"steps must be a dict of model name -> step, got {type(steps).__name__}")
        missing = [name for name in self.names if name not in steps]
        unknown = [name for name in steps if name not in self.results]
        if missing or unknown:
            raise ValueError(
                f"steps must give a step for each compared model {self.names}: missing {missing}, unknown {unknown}"
            )
        numbers = check_steps([steps[name] for name in self.names], len(self.names), "steps")
        order = sorted(zip(numbers, self.names, strict=True))
        history = tuple(row for step, name in order for row in step_rows(step, self.results[name]))
        differences = tuple(
            self._step_difference(later, earlier) for earlier, later in zip(order, order[1:], strict=False)
        )
        return StepComparison({name: step for step, name in order}, history, differences)

    def _step_difference(self, later: tuple[int, str], earlier: tuple[int, str]) -> StepDifference:
        r"""The paired difference of two models read as steps ``(step, name)``: the later minus the earlier."""
        (step_a, a), (step_b, b) = later, earlier
        paired = self.values_difference(a, b)
        replicates = (self.replicates[a], self.replicates[b]) if self.replicates else None
        results = (self.results[a], self.results[b])
        return step_difference(step_a, step_b, results, paired, replicates, self.confidence)

    def to_dict(self, reference: str | None = None) -> dict[str, Any]:
        r"""
        Every model's result and, against ``reference`` (default: the first model), ΔSRS with
        its interval and Δψ with its standard error.
        """
        reference = self.names[0] if reference is None else reference
        self._index(reference, "reference")
        out: dict[str, Any] = {"reference": reference, "confidence": self.confidence, "models": {}}
        for name, res in self.results.items():
            entry: dict[str, Any] = {"result": res.to_dict()}
            if name != reference:
                est, ci = self.srs_difference(name, reference)
                diff = self.values_difference(name, reference)
                entry["srs_difference"] = {"estimate": clean_float(est), "interval": None if ci is None else list(ci)}
                entry["values_difference"] = {"values": clean_list(diff.values), "stderr": clean_list(diff.stderr)}
            out["models"][name] = entry
        return out

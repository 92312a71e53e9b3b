r"""Global spectral importance: accumulation over a data set and the paper's summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

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
    return sid_rows(_as_vector(values, "values")[None])[0]


def sid_rows(values: Tensor) -> Tensor:
    r"""The SID of every row of ``(R, M)`` band values (bootstrap replicates, say), ``(R, M)``."""
    shifted = values - values.min(dim=1, keepdim=True).values
    total = shifted.sum(dim=1, keepdim=True)
    uniform = torch.full_like(shifted, 1.0 / values.shape[1])
    return torch.where(total > 0, shifted / torch.where(total > 0, total, 1.0), uniform)


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
    return float(srs_rows(_as_vector(sid, "sid")[None], beta, signed)[0])


def max_spectral_robustness_score(n_bands: int, beta: float = 0.75) -> float:
    r"""The largest SRS for ``n_bands`` bands: all importance on band 0."""
    return spectral_robustness_score([1.0] + [0.0] * (n_bands - 1), beta)


def _clean(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else float(v)


def _clean_list(t: Tensor | None) -> list | None:
    if t is None:
        return None
    if t.dim() == 1:
        return [_clean(v) for v in t.tolist()]
    return [_clean_list(row) for row in t]


def _nan_for_none(values: Any) -> Any:
    if isinstance(values, list):
        return [_nan_for_none(v) for v in values]
    return math.nan if values is None else values


def _tensor(values: Any) -> Tensor | None:
    return None if values is None else torch.tensor(_nan_for_none(values), dtype=torch.float64)


@dataclass
class SpectralImportance:
    r"""
    Global I-ASIDE result: ψ per band with its uncertainty and the paper's summaries.

    Attributes:
        values (Tensor): ψ, the mean per-sample Shapley value of each band, ``(M,)`` float64.
        stderr (Tensor): Standard error of ψ, ``std_x(φ̂) / √K``, ``(M,)``; with a sampling
                    estimator it holds the between-image and the within-image variance.
        n_samples (int): ``K``, the number of images averaged.
        v_empty (float): Mean value of the empty coalition ``v(∅)`` (the baseline images).
        v_full (float): Mean value of the grand coalition ``v(N)`` (the unperturbed images).
        config (dict): The configuration of the run (bands, baseline, value, design, seed, ...).
        beta (float): ``β`` of the spectral robustness score. Default: 0.75
        values_ci (Tensor, optional): ``(2, M)`` bootstrap confidence interval (over images) of
                    ψ, lower and upper row.
        sid_ci (Tensor, optional): ``(2, M)`` bootstrap confidence interval of :attr:`sid`.
        srs_ci (tuple of float, optional): Bootstrap confidence interval of :attr:`srs`.
        by_class (dict, optional): Per target class: ``{"n_samples", "values", "stderr"}``.
        stop_reason (str): Why the run stopped (data exhausted, ``n_samples`` reached, the
                    evaluation budget spent, or the ``tolerance`` met, with the numbers).

    Examples::

        >>> res = SpectralImportance(torch.tensor([0.6, 0.3, 0.1]), torch.zeros(3), 10, -1.0, 0.0)
        >>> res.sid
        tensor([0.6250, 0.3750, 0.0000], dtype=torch.float64)
    """

    values: Tensor
    stderr: Tensor
    n_samples: int
    v_empty: float
    v_full: float
    config: dict[str, Any] = field(default_factory=dict)
    beta: float = 0.75
    values_ci: Tensor | None = None
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
        r"""The paper's spectral robustness score of :attr:`sid` (symmetric: see :attr:`signed_srs`)."""
        return spectral_robustness_score(self.sid, self.beta)

    @property
    def signed_srs(self) -> float:
        r"""
        The SRS without its absolute value: positive when the SID leans to low bands (the
        direction the paper reads as robust), negative when it leans to high bands.
        """
        return spectral_robustness_score(self.sid, self.beta, signed=True)

    @property
    def direction(self) -> str:
        r"""``"low"`` or ``"high"``: the side of the spectrum the SID leans to (``"uniform"`` if neither)."""
        s = self.signed_srs
        return "low" if s > 0 else "high" if s < 0 else "uniform"

    @property
    def significant(self) -> Tensor | None:
        r"""
        ``(M,)`` bool: whether the bootstrap interval of ψ excludes 0 (None without intervals).
        A band whose interval holds 0 may help, hurt or do nothing at this sample size.
        """
        if self.values_ci is None:
            return None
        return (self.values_ci[0] > 0) | (self.values_ci[1] < 0)

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
        r"""All numbers and the configuration as a JSON-serialisable dict (:meth:`from_dict` reads it)."""
        significant = self.significant
        return {
            "n_bands": self.n_bands,
            "n_samples": int(self.n_samples),
            "values": _clean_list(self.values),
            "stderr": _clean_list(self.stderr),
            "values_ci": _clean_list(self.values_ci),
            "significant": None if significant is None else significant.tolist(),
            "sid": self.sid.tolist(),
            "sid_stderr": _clean_list(self.sid_stderr),
            "sid_ci": _clean_list(self.sid_ci),
            "srs": self.srs,
            "srs_ci": None if self.srs_ci is None else list(self.srs_ci),
            "signed_srs": self.signed_srs,
            "direction": self.direction,
            "beta": self.beta,
            "share": _clean_list(self.share),
            "v_empty": _clean(self.v_empty),
            "v_full": _clean(self.v_full),
            "by_class": None
            if self.by_class is None
            else {
                str(c): {
                    "n_samples": int(d["n_samples"]),
                    "values": _clean_list(d["values"]),
                    "stderr": _clean_list(d["stderr"]),
                }
                for c, d in self.by_class.items()
            },
            "stop_reason": self.stop_reason,
            "config": self.config,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpectralImportance:
        r"""
        Rebuild a result from :meth:`to_dict` (e.g. one model of the command line's
        ``results.json``); derived numbers (SID, SRS, share) are recomputed.

        Examples::

            >>> import json
            >>> report = json.load(open("iaside-report/results.json"))
            >>> res = SpectralImportance.from_dict(report["models"][0]["result"])
            >>> res.plot()
        """
        if not isinstance(data, dict) or "values" not in data or "stderr" not in data:
            raise ValueError("data must be a dict written by SpectralImportance.to_dict (with 'values' and 'stderr')")
        nan = math.nan
        by_class = None
        if data.get("by_class") is not None:
            by_class = {
                int(c): {
                    "n_samples": int(d["n_samples"]),
                    "values": _tensor(d["values"]),
                    "stderr": _tensor(d["stderr"]),
                }
                for c, d in data["by_class"].items()
            }
        srs_ci = data.get("srs_ci")
        return cls(
            values=_tensor(data["values"]),
            stderr=_tensor(data["stderr"]),
            n_samples=int(data["n_samples"]),
            v_empty=nan if data.get("v_empty") is None else float(data["v_empty"]),
            v_full=nan if data.get("v_full") is None else float(data["v_full"]),
            config=dict(data.get("config") or {}),
            beta=float(data.get("beta", 0.75)),
            values_ci=_tensor(data.get("values_ci")),
            sid_ci=_tensor(data.get("sid_ci")),
            srs_ci=None if srs_ci is None else (float(srs_ci[0]), float(srs_ci[1])),
            by_class=by_class,
            stop_reason=str(data.get("stop_reason", "")),
        )


class SRSDifference(NamedTuple):
    r"""A difference of spectral robustness scores with its paired bootstrap interval."""

    estimate: float
    interval: tuple[float, float] | None


class ValuesDifference(NamedTuple):
    r"""A difference of ψ per band, ``(M,)``, with its paired standard error."""

    values: Tensor
    stderr: Tensor


@dataclass
class SpectralComparison:
    r"""
    Global I-ASIDE of several models on the same images, baselines and coalitions (common
    random numbers), from :func:`~captum_iaside.compare.compare_global`.

    Because every model saw the same images and the same coalitions per image, per-image
    differences are paired: their between-image variance cancels, so differences are far more
    precise than the two results' own standard errors suggest.

    Attributes:
        results (dict): Model name → :class:`SpectralImportance`.
        confidence (float): Level of the intervals. Default: 0.95
        replicates (dict): Model name → ``(R, M)`` bootstrap replicates of ψ, drawn with the same
                    replicate weights per image for every model.
        phi_mean (Tensor): Means of the concatenated per-image estimates of all models, in the
                    order of :attr:`results`.
        phi_comoment (Tensor): Their co-moment matrix (sum of outer products of deviations).

    Examples::

        >>> comp = compare_global({"standard": m1, "augmented": m2}, loader, max_evaluations=20_000)
        >>> est, (lo, hi) = comp.srs_difference("augmented", "standard")
        >>> comp.values_difference("augmented", "standard").stderr
    """

    results: dict[str, SpectralImportance]
    confidence: float = 0.95
    replicates: dict[str, Tensor] | None = None
    phi_mean: Tensor | None = None
    phi_comoment: Tensor | None = None

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
        if not self.replicates:
            return SRSDifference(estimate, None)
        beta = self.results[a].beta
        diff = srs_rows(sid_rows(self.replicates[a]), beta) - srs_rows(sid_rows(self.replicates[b]), beta)
        q = torch.tensor([(1 - self.confidence) / 2, (1 + self.confidence) / 2], dtype=torch.float64)
        lo, hi = torch.quantile(diff, q).tolist()
        return SRSDifference(estimate, (lo, hi))

    def values_difference(self, a: str, b: str) -> ValuesDifference:
        r"""``ψ(a) − ψ(b)`` per band with the standard error of the paired per-image differences."""
        i, j = self._index(a, "a"), self._index(b, "b")
        values = self.results[a].values - self.results[b].values
        m = self.results[a].n_bands
        n = self.results[a].n_samples
        if self.phi_comoment is None or n < 2:
            return ValuesDifference(values, torch.full_like(values, float("nan")))
        sa, sb = slice(i * m, (i + 1) * m), slice(j * m, (j + 1) * m)
        c = self.phi_comoment
        var = (c[sa, sa].diagonal() + c[sb, sb].diagonal() - 2 * c[sa, sb].diagonal()) / (n - 1)
        return ValuesDifference(values, torch.sqrt(var.clamp(min=0) / n))

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
                entry["srs_difference"] = {"estimate": est, "interval": None if ci is None else list(ci)}
                entry["values_difference"] = {"values": _clean_list(diff.values), "stderr": _clean_list(diff.stderr)}
            out["models"][name] = entry
        return out

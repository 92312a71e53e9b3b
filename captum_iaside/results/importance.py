r"""The result of a global run: ψ per band with its uncertainty, and the paper's summaries of it."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor

from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.players import partition_from_config
from captum_iaside.results.summaries import spectral_importance_distribution, spectral_robustness_score

#: Relative resolution below which ψ is taken as equal in every band (see :attr:`SpectralImportance.identified`).
RESOLUTION = 1e-6


def clean_float(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else float(v)


def clean_list(t: Tensor | None) -> list | None:
    if t is None:
        return None
    if t.dim() == 1:
        return [clean_float(v) for v in t.tolist()]
    return [clean_list(row) for row in t]


def _nan_for_none(values: Any) -> Any:
    if isinstance(values, list):
        return [_nan_for_none(v) for v in values]
    return math.nan if values is None else values


def _tensor(values: Any, name: str = "values") -> Tensor | None:
    if values is None:
        return None
    try:
        return torch.tensor(_nan_for_none(values), dtype=torch.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a list of numbers (or of equal-length lists), got {values!r:.80}") from exc


@dataclass(frozen=True)
class SpectralImportance:
    r"""
    Global I-ASIDE result: ψ per band with its uncertainty and the paper's summaries. It is immutable once built:
    its fields cannot be set, its :attr:`config` is a read-only copy, and a result under another name is
    :meth:`with_model`'s.

    Attributes:
        values (Tensor): ψ, the mean per-sample Shapley value of each band, ``(M,)`` float64.
        stderr (Tensor): Standard error of ψ, ``std_x(φ̂) / √K``, ``(M,)``; with a sampling
                    estimator it holds the between-image and the within-image variance.
        n_samples (int): ``K``, the number of images averaged.
        v_empty (float): Mean value of the empty coalition ``v(∅)`` (the baseline images).
        v_full (float): Mean value of the grand coalition ``v(N)`` (the unperturbed images).
        config (Mapping): The configuration of the run (bands, baseline, value, design, seed, ...), read-only.
        beta (float): ``β`` of the spectral robustness score. Default: 0.75
        values_ci (Tensor, optional): ``(2, M)`` bootstrap confidence interval (over images) of
                    ψ, lower and upper row.
        sid_ci (Tensor, optional): ``(2, M)`` bootstrap confidence interval of :attr:`sid`.
        srs_ci (tuple of float, optional): Bootstrap confidence interval of :attr:`srs`; where the weakest
                    ring is not identified (:attr:`minimum_identified`), the hull of the intervals taking
                    each candidate as the weakest (:func:`~captum_iaside.results.intervals.srs_interval`).
        by_class (dict, optional): Per target class: ``{"n_samples", "values", "stderr"}``.
        stop_reason (str): Why the run stopped (data exhausted, ``n_samples`` reached, the
                    evaluation budget spent, or the ``tolerance`` met, with the numbers).
        interactions (Tensor, optional): ``(M, M)`` mean over images of the pairwise interaction
                    index ``config["interactions"]`` (``attribute_global(..., interactions=True)``):
                    the pairs off the diagonal, the index's order-1 terms on it.
        interactions_stderr (Tensor, optional): ``(M, M)`` standard errors of :attr:`interactions`.
        weakest_candidates (tuple of int, optional): The rings of :attr:`radial_sid` (the bands, for radial
                    bands) that could be the weakest at the run's precision: the weakest first, then every
                    ring whose bootstrap interval of its difference from it reaches 0 (None without a
                    bootstrap or a radial order). Where given, a non-empty tuple of rings in ``[0, R)``, ``R``
                    the rings of :attr:`players`; else ``ValueError``.
        players (FourierPartition, optional): The players ψ is over. Default: the partition ``config["bands"]``
                    describes (radial bands of ``M`` where it says nothing).

    Examples::

        >>> res = SpectralImportance(torch.tensor([0.6, 0.3, 0.1]), torch.zeros(3), 10, -1.0, 0.0)
        >>> res.sid
        tensor([0.7143, 0.2857, 0.0000], dtype=torch.float64)
    """

    values: Tensor
    stderr: Tensor
    n_samples: int
    v_empty: float
    v_full: float
    config: Mapping[str, Any] = field(default_factory=dict)
    beta: float = 0.75
    values_ci: Tensor | None = None
    sid_ci: Tensor | None = None
    srs_ci: tuple[float, float] | None = None
    by_class: dict[int, dict[str, Any]] | None = None
    stop_reason: str = ""
    interactions: Tensor | None = None
    interactions_stderr: Tensor | None = None
    weakest_candidates: tuple[int, ...] | None = None
    players: FourierPartition | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.config, Mapping):
            raise TypeError(f"config must be a dict, got {type(self.config).__name__}")
        object.__setattr__(self, "config", MappingProxyType(copy.deepcopy(dict(self.config))))
        self._check_shapes()
        where = "players"
        if self.players is None:
            object.__setattr__(self, "players", partition_from_config(self.config.get("bands"), self.n_bands))
            where = "config['bands']"
        elif not isinstance(self.players, FourierPartition):
            raise TypeError(f"players must be a FourierPartition, got {type(self.players).__name__}")
        if self.players.n_bands != self.n_bands:
            raise ValueError(f"{where} describes {self.players.n_bands} players, but values holds {self.n_bands}")
        if self.weakest_candidates is not None:
            self._check_candidates()
        if not self.identified:  # intervals of a summary that is not defined
            for name in ("sid_ci", "srs_ci", "weakest_candidates"):
                object.__setattr__(self, name, None)

    def with_model(self, name: str) -> SpectralImportance:
        r"""
        The same result reported as model ``name`` (``config["model"]``, which plots, tables and reports show).

        Examples::

            >>> res = res.with_model("efficientnet-lite0")
        """
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        return dataclasses.replace(self, config={**self.config, "model": name})

    def _check_shapes(self) -> None:
        r"""Every array fits ``M``, the length of :attr:`values`: mixed shapes are refused, naming the field."""
        if not isinstance(self.values, Tensor) or self.values.dim() != 1 or self.values.numel() == 0:
            shape = tuple(self.values.shape) if isinstance(self.values, Tensor) else type(self.values).__name__
            raise ValueError(f"values must be a 1-D tensor of ψ, one per player, got {shape}")
        m = self.n_bands
        arrays = [("stderr", self.stderr, (m,))]
        arrays += [(name, getattr(self, name), (2, m)) for name in ("values_ci", "sid_ci")]
        arrays += [(name, getattr(self, name), (m, m)) for name in ("interactions", "interactions_stderr")]
        for c, d in (self.by_class or {}).items():
            arrays += [(f"by_class[{c}][{key!r}]", d.get(key), (m,)) for key in ("values", "stderr")]
        for name, array, shape in arrays:
            if name == "stderr" or array is not None:
                got = tuple(array.shape) if isinstance(array, Tensor) else type(array).__name__
                if got != shape:
                    raise ValueError(f"{name} must have shape {shape} for the M = {m} players of values, got {got}")

    def _check_candidates(self) -> None:
        rings = self.players.rings()
        n = 0 if rings is None else rings.shape[0]
        c = self.weakest_candidates
        if len(c) == 0 or any(not 0 <= j < n for j in c):
            raise ValueError(
                f"weakest_candidates must be None or a non-empty tuple of rings in [0, {n}) (the rings of "
                f"config['bands']; none for players without a radial order), got {c!r}"
            )

    @property
    def n_bands(self) -> int:
        r"""Number of bands ``M``."""
        return int(self.values.numel())

    @property
    def identified(self) -> bool:
        r"""
        Whether the bands' ψ differ by more than rounding, so that the SID and the SRS are defined.

        They are not when ψ is zero in every band, or equal in every band to within
        :data:`RESOLUTION` of the values' own scale (``max(|v(∅)|, |v(N)|, max |ψ|)``) — a model
        with a constant output, say, or ``value="correct"`` on a model that is always right. Then
        :attr:`sid` is NaN, :attr:`srs` and :attr:`signed_srs` are NaN, :attr:`direction` is
        ``"undefined"`` and the intervals of the SID and SRS are None: no band carries more of the
        prediction than another, and a score computed from rounding noise would look like a finding.
        """
        v = self.values
        if v.numel() == 0 or not bool(torch.isfinite(v).all()):
            return False
        return float(v.max() - v.min()) > self._rounding()

    def _rounding(self) -> float:
        r"""What rounding can make of ψ: :data:`RESOLUTION` of ``max(|v(∅)|, |v(N)|, max |ψ|)`` (finite ψ)."""
        ends = [abs(x) for x in (self.v_empty, self.v_full) if x is not None and math.isfinite(x)]
        finite = self.values[torch.isfinite(self.values)]
        return RESOLUTION * max([*ends, float(finite.abs().max()) if finite.numel() else 0.0])

    @property
    def sid(self) -> Tensor:
        r"""The paper's spectral importance distribution of ψ (NaN where it is not :attr:`identified`)."""
        if not self.identified:
            return torch.full_like(self.values, math.nan)
        return spectral_importance_distribution(self.values)

    @property
    def radial_sid(self) -> Tensor | None:
        r"""
        The SID of the rings from low to high frequency, which the SRS reads: :attr:`sid` for radial
        bands; for rings × orientation sectors the SID of ψ summed over each ring's sectors; None for
        players without a radial order (a grid of cells, a custom partition).
        """
        rings = self.players.rings()
        if rings is None:
            return None
        if not self.identified:
            return torch.full((rings.shape[0],), math.nan, dtype=torch.float64)
        return spectral_importance_distribution(rings @ self.values.to(torch.float64))

    @property
    def srs(self) -> float:
        r"""The paper's spectral robustness score of :attr:`radial_sid` (symmetric: see :attr:`signed_srs`; NaN
        where the SID is not :attr:`identified` or the players have no radial order)."""
        sid = self.radial_sid
        if sid is None or not self.identified:
            return math.nan
        return spectral_robustness_score(sid, self.beta)

    @property
    def signed_srs(self) -> float:
        r"""
        The SRS without its absolute value: positive when the SID leans to low bands (the
        direction the paper reads as robust), negative when it leans to high bands.
        """
        sid = self.radial_sid
        if sid is None or not self.identified:
            return math.nan
        return spectral_robustness_score(sid, self.beta, signed=True)

    @property
    def direction(self) -> str:
        r"""
        ``"low"`` or ``"high"``: the side of the spectrum the SID leans to (``"uniform"`` if neither,
        ``"undefined"`` where the SID is not :attr:`identified`).
        """
        if not self.identified or self.radial_sid is None:
            return "undefined"
        s = self.signed_srs
        return "low" if s > 0 else "high" if s < 0 else "uniform"

    @property
    def minimum_identified(self) -> bool | None:
        r"""
        Whether the weakest ring, on which the SID and the SRS anchor, is told apart from every other ring at
        the run's precision: True where every other ring's bootstrap interval of its difference from the
        weakest lies above 0, False where :attr:`weakest_candidates` holds two or more rings (None without
        them). Where it is False the paper's SRS may be biased towards 0 — it is where the rings are tied (the
        minimum of nearly equal noisy means is too low, which flattens the SID), hardly at all where the
        weakest is one or two standard errors of the difference below the next, which is also often flagged
        (benchmarks/srs_near_tie.md) — and :attr:`srs_ci` is the wider interval that accounts for it; read the
        SRS as the range of its interval, and the ψ of the candidate rings (docs/interpreting.md).
        """
        if self.weakest_candidates is None:
            return None
        return len(self.weakest_candidates) == 1

    @property
    def significant(self) -> Tensor | None:
        r"""
        ``(M,)`` bool: whether the bootstrap interval of ψ excludes 0 (None without intervals), by more
        than rounding (:data:`RESOLUTION` of the values' scale, as for :attr:`identified`): a band whose ψ
        is 0 up to rounding, with an interval of no width, is no evidence. A band whose interval holds 0
        may help, hurt or do nothing at this sample size.
        """
        if self.values_ci is None:
            return None
        rounding = self._rounding()
        return (self.values_ci[0] > rounding) | (self.values_ci[1] < -rounding)

    @property
    def sid_stderr(self) -> Tensor:
        r"""
        Approximate standard error of :attr:`sid`: ``stderr / Σ(ψ − min ψ)``, the first-order
        term with the normaliser held fixed, for error bars.
        """
        total = (self.values - self.values.min()).sum()
        if total <= 0 or not self.identified:
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
        r"""Shortcut for :func:`captum_iaside.visualization.importance.plot_spectral_importance` (``(fig, axes)``)."""
        from captum_iaside.visualization.importance import plot_spectral_importance

        return plot_spectral_importance(self, kind=kind)

    def to_dict(self) -> dict[str, Any]:
        r"""All numbers and the configuration as a JSON-serialisable dict (:meth:`from_dict` reads it)."""
        significant = self.significant
        return {
            "n_bands": self.n_bands,
            "n_samples": int(self.n_samples),
            "values": clean_list(self.values),
            "stderr": clean_list(self.stderr),
            "values_ci": clean_list(self.values_ci),
            "significant": None if significant is None else significant.tolist(),
            "identified": self.identified,
            "sid": clean_list(self.sid),
            "sid_stderr": clean_list(self.sid_stderr),
            "sid_ci": clean_list(self.sid_ci),
            "srs": clean_float(self.srs),
            "srs_ci": None if self.srs_ci is None else list(self.srs_ci),
            "weakest_candidates": None if self.weakest_candidates is None else list(self.weakest_candidates),
            "minimum_identified": self.minimum_identified,
            "signed_srs": clean_float(self.signed_srs),
            "direction": self.direction,
            "beta": self.beta,
            "share": clean_list(self.share),
            "v_empty": clean_float(self.v_empty),
            "v_full": clean_float(self.v_full),
            "by_class": None
            if self.by_class is None
            else {
                str(c): {
                    "n_samples": int(d["n_samples"]),
                    "values": clean_list(d["values"]),
                    "stderr": clean_list(d["stderr"]),
                }
                for c, d in self.by_class.items()
            },
            "stop_reason": self.stop_reason,
            "interactions": clean_list(self.interactions),
            "interactions_stderr": clean_list(self.interactions_stderr),
            "config": dict(self.config),
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
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict written by SpectralImportance.to_dict, got {type(data).__name__}")
        missing = [key for key in ("values", "stderr", "n_samples") if data.get(key) is None]
        if missing:
            raise ValueError(f"data lacks {missing}: it must be a dict written by SpectralImportance.to_dict")
        nan = math.nan
        by_class = None
        if data.get("by_class") is not None:
            by_class = {
                int(c): {
                    "n_samples": int(d["n_samples"]),
                    "values": _tensor(d["values"], f"by_class[{c}]['values']"),
                    "stderr": _tensor(d["stderr"], f"by_class[{c}]['stderr']"),
                }
                for c, d in data["by_class"].items()
            }
        srs_ci, weakest = data.get("srs_ci"), data.get("weakest_candidates")
        return cls(
            values=_tensor(data["values"], "values"),
            stderr=_tensor(data["stderr"], "stderr"),
            n_samples=int(data["n_samples"]),
            v_empty=nan if data.get("v_empty") is None else float(data["v_empty"]),
            v_full=nan if data.get("v_full") is None else float(data["v_full"]),
            config=dict(data.get("config") or {}),
            beta=float(data.get("beta", 0.75)),
            values_ci=_tensor(data.get("values_ci"), "values_ci"),
            sid_ci=_tensor(data.get("sid_ci"), "sid_ci"),
            srs_ci=None if srs_ci is None else (float(srs_ci[0]), float(srs_ci[1])),
            weakest_candidates=None if weakest is None else tuple(int(j) for j in weakest),
            by_class=by_class,
            stop_reason=str(data.get("stop_reason", "")),
            interactions=_tensor(data.get("interactions"), "interactions"),
            interactions_stderr=_tensor(data.get("interactions_stderr"), "interactions_stderr"),
        )

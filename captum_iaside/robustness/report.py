r"""The SRS of several models next to their robust accuracies, with correlations across models."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from captum_iaside.results.importance import SpectralImportance
from captum_iaside.robustness.corruptions import CORRUPTIONS


@dataclass
class RobustnessReport:
    r"""SRS next to robust accuracy for several models, with correlations across models."""

    rows: list[dict[str, Any]]
    correlations: dict[str, dict[str, float]] = field(default_factory=dict)

    def table(self) -> str:
        r"""A plain-text table: one row per model."""
        head = f"{'model':<24} {'SRS':>6} {'SRS 95% CI':>16} {'clean':>6} {'corrupt':>8} {'adv':>6}"
        lines = [head]
        for r in self.rows:
            ci = "" if r["srs_ci"] is None else f"[{r['srs_ci'][0]:.3f}, {r['srs_ci'][1]:.3f}]"
            adv = "" if r["adversarial_accuracy"] is None else f"{r['adversarial_accuracy']:.3f}"
            lines.append(
                f"{r['model']:<24} {r['srs']:>6.3f} {ci:>16} {r['clean_accuracy']:>6.3f} "
                f"{r['corruption_accuracy']:>8.3f} {adv:>6}"
            )
        for name, c in self.correlations.items():
            lines.append(f"SRS vs {name}: Spearman {c['spearman']:+.3f}, Pearson {c['pearson']:+.3f}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        r"""JSON-serialisable content."""
        return {"rows": self.rows, "correlations": self.correlations}

    def to_json(self, path: str) -> None:
        r"""Write :meth:`to_dict` to ``path``."""
        with open(path, "w") as fh:
            json.dump(self.to_dict(), fh, indent=2)


def _correlations(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    from scipy.stats import pearsonr, spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return {"spearman": math.nan, "pearson": math.nan}
    return {"spearman": float(spearmanr(x, y).statistic), "pearson": float(pearsonr(x, y).statistic)}


def robustness_report(
    results: dict[str, SpectralImportance],
    accuracies: dict[str, dict[str, float]],
) -> RobustnessReport:
    r"""
    Put each model's SRS (with its bootstrap interval) next to its clean, mean corruption and mean
    adversarial accuracy, and correlate SRS with them across models (Spearman and Pearson; needs at
    least three models).

    Args:
        results (dict): Model name → its global :class:`SpectralImportance`.
        accuracies (dict): Model name → :func:`robust_accuracy` output.

    Returns:
        :class:`RobustnessReport`.
    """
    if set(results) != set(accuracies):
        raise ValueError("results and accuracies must name the same models")
    rows = []
    for name, res in results.items():
        acc = accuracies[name]
        corr = [v for k, v in acc.items() if k.split("@")[0] in CORRUPTIONS]
        adv = [v for k, v in acc.items() if k.startswith(("FGSM@", "PGD@"))]
        rows.append(
            {
                "model": name,
                "srs": res.srs,
                "srs_ci": None if res.srs_ci is None else list(res.srs_ci),
                "sid": res.sid.tolist(),
                "clean_accuracy": acc["clean"],
                "corruption_accuracy": sum(corr) / len(corr) if corr else math.nan,
                "adversarial_accuracy": sum(adv) / len(adv) if adv else None,
                "accuracies": dict(acc),
            }
        )
    srs = [r["srs"] for r in rows]
    correlations = {"corruption accuracy": _correlations(srs, [r["corruption_accuracy"] for r in rows])}
    if all(r["adversarial_accuracy"] is not None for r in rows):
        correlations["adversarial accuracy"] = _correlations(srs, [r["adversarial_accuracy"] for r in rows])
    return RobustnessReport(rows, correlations)

r"""The SRS of several models next to their robust accuracies, with correlations across models."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from captum_iaside.results.importance import SpectralImportance
from captum_iaside.robustness.alexnet import ALEXNET_CLEAN_ERROR, ALEXNET_ERRORS, PUBLISHED_ALEXNET
from captum_iaside.robustness.corruptions import CORRUPTIONS, SEVERITIES
from captum_iaside.robustness.imagenet_c import IMAGENET_C


@dataclass
class RobustnessReport:
    r"""
    SRS next to robust accuracy for several models, with correlations across models; with a reference
    model, the corruption errors normalised by its own (CE), their mean over ImageNet-C's corruptions
    (mCE) and the relative mCE (Hendrycks & Dietterich, 2019).
    """

    rows: list[dict[str, Any]]
    correlations: dict[str, dict[str, float]] = field(default_factory=dict)
    reference: str | None = None

    def table(self) -> str:
        r"""A plain-text table: one row per model."""
        head = f"{'model':<24} {'SRS':>6} {'SRS 95% CI':>16} {'clean':>6} {'corrupt':>8} {'adv':>6}"
        if self.reference is not None:
            head += f" {'mCE':>7} {'rel. mCE':>9}"
        lines = [head]
        for r in self.rows:
            ci = "" if r["srs_ci"] is None else f"[{r['srs_ci'][0]:.3f}, {r['srs_ci'][1]:.3f}]"
            adv = "" if r["adversarial_accuracy"] is None else f"{r['adversarial_accuracy']:.3f}"
            line = (
                f"{r['model']:<24} {r['srs']:>6.3f} {ci:>16} {r['clean_accuracy']:>6.3f} "
                f"{r['corruption_accuracy']:>8.3f} {adv:>6}"
            )
            if self.reference is not None:
                line += f" {_percent(r['mce']):>7} {_percent(r['relative_mce']):>9}"
            lines.append(line)
        if self.reference is not None:
            lines.append(
                f"mCE and relative mCE over {len(self.rows[0]['mce_corruptions'])} ImageNet-C corruptions, "
                + (
                    "normalised by AlexNet's published errors (Hendrycks & Dietterich, 2019; 100% = as robust as "
                    "AlexNet)"
                    if self.reference == PUBLISHED_ALEXNET
                    else f"normalised by {self.reference} (100% = as robust as it)"
                )
            )
        for name, c in self.correlations.items():
            if math.isnan(c["spearman"]):
                lines.append(f"SRS vs {name}: no correlation (it needs 3 or more models whose values differ)")
            else:
                lines.append(f"SRS vs {name}: Spearman {c['spearman']:+.3f}, Pearson {c['pearson']:+.3f}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        r"""JSON-serialisable content (with the reference model that normalises the mCE)."""
        return {"rows": self.rows, "correlations": self.correlations, "reference": self.reference}

    def to_json(self, path: str) -> None:
        r"""Write :meth:`to_dict` to ``path``."""
        with open(path, "w") as fh:
            json.dump(self.to_dict(), fh, indent=2)


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1%}"


def _correlations(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    from scipy.stats import pearsonr, spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return {"spearman": math.nan, "pearson": math.nan}
    return {"spearman": float(spearmanr(x, y).statistic), "pearson": float(pearsonr(x, y).statistic)}


def _by_corruption(acc: dict[str, float]) -> dict[str, dict[int, float]]:
    r"""``{"fog": {1: 0.8, 3: 0.6}, ...}`` from ``{"fog@1": 0.8, "fog@3": 0.6, ...}``."""
    out: dict[str, dict[int, float]] = {}
    for key, value in acc.items():
        name, _, severity = key.partition("@")
        if name in CORRUPTIONS and severity.isdigit():
            out.setdefault(name, {})[int(severity)] = value
    return out


def _published(accuracies: dict[str, float]) -> dict[str, dict[str, float]]:
    r"""
    The errors of :func:`corruption_errors` against AlexNet's published ones: they are means over the 5
    severities, so an ImageNet-C corruption measured at other severities is refused (its CE would not compare).
    """
    out = {}
    for name, by_severity in _by_corruption(accuracies).items():
        error = sum(1 - a for a in by_severity.values()) / len(by_severity)
        entry = {"error": error, "ce": math.nan, "relative_ce": math.nan}
        if name in ALEXNET_ERRORS:
            if sorted(by_severity) != list(SEVERITIES):
                raise ValueError(
                    f"reference {PUBLISHED_ALEXNET!r} normalises by AlexNet's published errors, means over severities "
                    f"{list(SEVERITIES)}; {name} was measured at {sorted(by_severity)}: measure all five"
                )
            entry["ce"] = error / ALEXNET_ERRORS[name]
            entry["relative_ce"] = (error - (1 - accuracies["clean"])) / (ALEXNET_ERRORS[name] - ALEXNET_CLEAN_ERROR)
        out[name] = entry
    return out


def corruption_errors(
    accuracies: dict[str, float], reference: dict[str, float] | str | None = None
) -> dict[str, dict[str, float]]:
    r"""
    Corruption errors of one model, per corruption (Hendrycks & Dietterich, 2019, §3): the error
    ``E_{c,s} = 1 − acc_{c,s}`` at each severity; with a reference model,
    ``CE_c = Σ_s E_{c,s} / Σ_s E^ref_{c,s}`` and the relative
    ``Σ_s (E_{c,s} − E_clean) / Σ_s (E^ref_{c,s} − E^ref_clean)``, over the severities both measured.

    Args:
        accuracies (dict): :func:`robust_accuracy` output of the model.
        reference (dict or str, optional): :func:`robust_accuracy` output of the reference model, or
                    ``"alexnet"``: AlexNet's published errors
                    (:data:`~captum_iaside.robustness.alexnet.ALEXNET_ERRORS`, means over the 5 severities, so
                    each of ImageNet-C's corruptions must be measured at all five).
                    Default: None

    Returns:
        *dict* corruption → ``{"error": the mean of E_{c,s} over severities, "ce": ..., "relative_ce": ...}``
        (the last two with a reference; NaN where the reference makes no error to normalise by, or, for
        ``"alexnet"``, has no published error).

    Examples::

        >>> acc = {"clean": 0.76, **{f"fog@{s}": 0.6 for s in range(1, 6)}}
        >>> round(corruption_errors(acc, "alexnet")["fog"]["ce"], 4)   # 0.4 / 0.819324
        0.4882
    """
    if isinstance(reference, str):
        if reference != PUBLISHED_ALEXNET:
            raise ValueError(f"reference must be a model's accuracies or {PUBLISHED_ALEXNET!r}, got {reference!r}")
        return _published(accuracies)
    own, ref = _by_corruption(accuracies), _by_corruption(reference or {})
    out = {}
    for name, by_severity in own.items():
        entry = {"error": sum(1 - a for a in by_severity.values()) / len(by_severity)}
        if reference is not None:
            shared = sorted(set(by_severity) & set(ref.get(name, {})))
            err = sum(1 - by_severity[s] for s in shared)
            err_ref = sum(1 - ref[name][s] for s in shared)
            rel = sum(accuracies["clean"] - by_severity[s] for s in shared)
            rel_ref = sum(reference["clean"] - ref[name][s] for s in shared)
            entry["ce"] = err / err_ref if shared and err_ref > 0 else math.nan
            entry["relative_ce"] = rel / rel_ref if shared and rel_ref > 0 else math.nan
        out[name] = entry
    return out


def robustness_report(
    results: dict[str, SpectralImportance],
    accuracies: dict[str, dict[str, float]],
    reference: str | None = None,
) -> RobustnessReport:
    r"""
    Put each model's SRS (with its bootstrap interval) next to its clean, mean corruption and mean
    adversarial accuracy and its corruption errors, and correlate SRS with them across models (Spearman
    and Pearson; needs at least three models). With ``reference``, each model's errors are normalised by
    that model's: the CE per corruption, the mCE (their mean over ImageNet-C's 15 corruptions, as many as
    were measured and the reference erred on; the row's ``mce_corruptions`` names them) and the relative
    mCE, as Hendrycks & Dietterich (2019) define them with AlexNet as the reference. ``reference="alexnet"``
    normalises by AlexNet's published errors (:mod:`captum_iaside.robustness.alexnet`), the numbers papers
    report.

    Args:
        results (dict): Model name → its global :class:`SpectralImportance`.
        accuracies (dict): Model name → :func:`robust_accuracy` output; every model of ``results``, and
                    the reference (which needs no result).
        reference (str, optional): The model whose errors normalise the others', or ``"alexnet"`` for
                    AlexNet's published errors (then no model may have that name).
                    Default: None (no CE, mCE)

    Returns:
        :class:`RobustnessReport`.
    """
    missing = [name for name in results if name not in accuracies]
    if missing or not results:
        raise ValueError(f"results and accuracies must name the same models; no accuracies for {missing}")
    extra = [name for name in accuracies if name not in results and name != reference]
    if extra:
        raise ValueError(f"results and accuracies must name the same models; no result for {extra}")
    if reference == PUBLISHED_ALEXNET and reference in accuracies:
        raise ValueError(
            f"reference {PUBLISHED_ALEXNET!r} asks for AlexNet's published errors, but a model of accuracies has that "
            "name too; rename the model"
        )
    if reference is not None and reference != PUBLISHED_ALEXNET and reference not in accuracies:
        raise ValueError(
            f"reference {reference!r} is not a model of accuracies {list(accuracies)} nor {PUBLISHED_ALEXNET!r} "
            "(AlexNet's published errors)"
        )
    published = reference == PUBLISHED_ALEXNET
    rows = []
    for name, res in results.items():
        acc = accuracies[name]
        corr = [v for k, v in acc.items() if k.split("@")[0] in CORRUPTIONS]
        adv = [v for k, v in acc.items() if k.startswith(("FGSM@", "PGD@"))]
        errors = corruption_errors(acc, reference if published or reference is None else accuracies[reference])
        row = {
            "model": name,
            "srs": res.srs,
            "srs_ci": None if res.srs_ci is None else list(res.srs_ci),
            "sid": res.sid.tolist(),
            "clean_accuracy": acc["clean"],
            "corruption_accuracy": sum(corr) / len(corr) if corr else math.nan,
            "adversarial_accuracy": sum(adv) / len(adv) if adv else None,
            "corruption_errors": errors,
            "accuracies": dict(acc),
        }
        if reference is not None:
            # ImageNet-C's corruptions measured for both, whose CE is defined (the reference erred on them)
            standard = [c for c in IMAGENET_C if c in errors and math.isfinite(errors[c]["ce"])]
            relative = [c for c in standard if math.isfinite(errors[c]["relative_ce"])]
            row["mce_corruptions"] = standard
            row["mce"] = sum(errors[c]["ce"] for c in standard) / len(standard) if standard else math.nan
            row["relative_mce"] = (
                sum(errors[c]["relative_ce"] for c in relative) / len(relative) if relative else math.nan
            )
        rows.append(row)
    srs = [r["srs"] for r in rows]
    correlations = {"corruption accuracy": _correlations(srs, [r["corruption_accuracy"] for r in rows])}
    if all(r["adversarial_accuracy"] is not None for r in rows):
        correlations["adversarial accuracy"] = _correlations(srs, [r["adversarial_accuracy"] for r in rows])
    return RobustnessReport(rows, correlations, reference)

r"""The SRS of several models next to their robust accuracies, with correlations across models.

Each row of a :class:`RobustnessReport` holds a model's SRS and its robustness **measures**: clean accuracy, the
mean accuracy over the corruptions measured, with a reference its mCE and relative mCE, its accuracy on each
out-of-distribution set (accuracy keys ``"ood:<name>"``) and under attack. Every measure is correlated with the
SRS across the models (Spearman's ρ with a bootstrap interval that resamples the models, and Pearson's r); each
correlation says how many models it rests on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from captum_iaside._utils.checks import check_open_unit
from captum_iaside.results.importance import SpectralImportance
from captum_iaside.robustness.adversarial import AdversarialSpectrum
from captum_iaside.robustness.alexnet import ALEXNET_CLEAN_ERROR, ALEXNET_ERRORS, PUBLISHED_ALEXNET
from captum_iaside.robustness.corruptions import SEVERITIES
from captum_iaside.robustness.imagenet_c import IMAGENET_C

#: Bootstrap replicates over the models behind the interval of a Spearman correlation.
CORRELATION_REPLICATES = 2000
#: Prefix of the accuracy keys of out-of-distribution sets (``"ood:imagenet-r"``).
OOD_PREFIX = "ood:"
#: Prefixes of the accuracy keys of attacks (``"FGSM@0.03"``).
ATTACK_PREFIXES = ("FGSM@", "PGD@")


@dataclass
class RobustnessReport:
    r"""
    SRS next to robust accuracy for several models, with correlations across models; with a reference
    model, the corruption errors normalised by its own (CE), their mean over ImageNet-C's corruptions
    (mCE) and the relative mCE (Hendrycks & Dietterich, 2019).
    """

    rows: list[dict[str, Any]]
    correlations: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference: str | None = None
    adversarial: dict[str, AdversarialSpectrum] | None = None

    def measures(self) -> list[str]:
        r"""The robustness measures of the rows (each row's ``"measures"`` keys), in the rows' order."""
        return list(dict.fromkeys(m for row in self.rows for m in row["measures"]))

    def table(self) -> str:
        r"""A plain-text table: one row per model."""
        head = f"{'model':<24} {'SRS':>6} {'SRS 95% CI':>16} {'clean':>6} {'corrupt':>8} {'adv':>6}"
        if self.reference is not None:
            head += f" {'mCE':>7} {'rel. mCE':>9}"
        ood = [m for m in self.measures() if m.startswith("OOD ")]
        head += "".join(f" {m[4:-9]:>10}" for m in ood)
        lines = [head]
        for r in self.rows:
            ci = "" if r["srs_ci"] is None else f"[{r['srs_ci'][0]:.3f}, {r['srs_ci'][1]:.3f}]"
            adv = "" if r["adversarial_accuracy"] is None else f"{r['adversarial_accuracy']:.3f}"
            line = (
                f"{r['model']:<24} {r['srs']:>6.3f} {ci:>16} {r['clean_accuracy']:>6.3f} "
                f"{_fraction(r['corruption_accuracy']):>8} {adv:>6}"
            )
            if self.reference is not None:
                line += f" {_percent(r['mce']):>7} {_percent(r['relative_mce']):>9}"
            line += "".join(f" {_fraction(r['measures'].get(m, math.nan)):>10}" for m in ood)
            lines.append(line)
        if ood:
            lines.append("The last columns: accuracy on each out-of-distribution set")
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
            lines.append(correlation_line(name, c))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        r"""JSON-serialisable content (with the reference model that normalises the mCE, and the spectra of attacks)."""
        adversarial = None if self.adversarial is None else {k: v.to_dict() for k, v in self.adversarial.items()}
        return {
            "rows": self.rows,
            "correlations": self.correlations,
            "reference": self.reference,
            "adversarial": adversarial,
        }

    def to_json(self, path: str) -> None:
        r"""Write :meth:`to_dict` to ``path``."""
        with open(path, "w") as fh:
            json.dump(self.to_dict(), fh, indent=2)


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1%}"


def _fraction(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def correlation_line(measure: str, c: Mapping[str, Any]) -> str:
    r"""One line on the correlation of SRS with ``measure``: ρ, its interval, r, and how many models it rests on."""
    if math.isnan(c["spearman"]):
        return f"SRS vs {measure}: {undefined_reason(c)}"
    ci = c["spearman_ci"]
    interval = "" if ci is None else f" [{ci[0]:+.2f}, {ci[1]:+.2f}] {c['confidence']:.0%} bootstrap over models,"
    return (
        f"SRS vs {measure}: Spearman {c['spearman']:+.3f}{interval} Pearson {c['pearson']:+.3f} ({c['models']} models)"
    )


def undefined_reason(c: Mapping[str, Any]) -> str:
    r"""Why a correlation has no ρ: fewer than three models, or no spread among them."""
    if c["models"] < 3:
        return f"ρ undefined: it needs 3 or more models, {c['models']} here"
    return f"ρ undefined: the {c['models']} models do not differ in it (or in their SRS)"


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def _correlations(x: Sequence[float], y: Sequence[float], confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    r"""
    Spearman's ρ and Pearson's r of ``x`` and ``y`` over the models, and a percentile interval of ρ from
    :data:`CORRELATION_REPLICATES` resamples of the models (those where ρ is defined: three or more distinct models
    whose values differ); NaN and no interval below three models or without spread.
    """
    from scipy.stats import pearsonr

    n = len(x)
    out: dict[str, Any] = {"spearman": math.nan, "pearson": math.nan, "spearman_ci": None, "models": n}
    out["confidence"] = confidence
    if n < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return out
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out["spearman"], out["pearson"] = _spearman(xs, ys), float(pearsonr(xs, ys).statistic)
    rng = np.random.default_rng(seed)
    replicates = []
    for _ in range(CORRELATION_REPLICATES):
        pick = rng.integers(0, n, n)
        if len(set(pick.tolist())) >= 3 and np.ptp(xs[pick]) > 0 and np.ptp(ys[pick]) > 0:
            replicates.append(_spearman(xs[pick], ys[pick]))
    if replicates:
        tail = (1 - confidence) / 2
        low, high = np.quantile(replicates, [tail, 1 - tail])
        out["spearman_ci"] = [float(low), float(high)]
    return out


def _is_corruption(key: str) -> bool:
    r"""Whether an accuracy key is a corruption at a severity (``"fog@3"``), not an attack (``"FGSM@0.03"``)."""
    name, sep, severity = key.partition("@")
    return bool(sep) and bool(name) and severity.isdigit() and not key.startswith(ATTACK_PREFIXES)


def _by_corruption(acc: dict[str, float]) -> dict[str, dict[int, float]]:
    r"""``{"fog": {1: 0.8, 3: 0.6}, ...}`` from ``{"fog@1": 0.8, "fog@3": 0.6, ...}``."""
    out: dict[str, dict[int, float]] = {}
    for key, value in acc.items():
        if _is_corruption(key):
            name, _, severity = key.partition("@")
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
    adversarial: Mapping[str, AdversarialSpectrum] | None = None,
    confidence: float = 0.95,
) -> RobustnessReport:
    r"""
    Put each model's SRS (with its bootstrap interval) next to its clean, mean corruption and mean
    adversarial accuracy, its accuracy on each out-of-distribution set and its corruption errors, and
    correlate SRS with each measure across models (Spearman's ρ with a bootstrap interval over the models,
    and Pearson's r; needs at least three models). With ``reference``, each model's errors are normalised by
    that model's: the CE per corruption, the mCE (their mean over ImageNet-C's 15 corruptions, as many as
    were measured and the reference erred on; the row's ``mce_corruptions`` names them) and the relative
    mCE, as Hendrycks & Dietterich (2019) define them with AlexNet as the reference. ``reference="alexnet"``
    normalises by AlexNet's published errors (:mod:`captum_iaside.robustness.alexnet`), the numbers papers
    report.

    Args:
        results (dict): Model name → its global :class:`SpectralImportance`.
        accuracies (dict): Model name → :func:`robust_accuracy` or
                    :func:`~captum_iaside.robustness.released.released_accuracy` output (keys ``"clean"``,
                    ``"fog@3"``, ``"FGSM@0.03"``, ``"ood:imagenet-r"``); every model of ``results``, and the
                    reference (which needs no result).
        reference (str, optional): The model whose errors normalise the others', or ``"alexnet"`` for
                    AlexNet's published errors (then no model may have that name).
                    Default: None (no CE, mCE)
        adversarial (dict, optional): Model name → its :class:`AdversarialSpectrum`
                    (:func:`~captum_iaside.robustness.adversarial.adversarial_spectrum`), kept beside the rows.
                    Default: None
        confidence (float, optional): Level of the correlations' bootstrap intervals.
                    Default: 0.95

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
    if adversarial is not None and set(adversarial) - set(results):
        raise ValueError(f"adversarial names models without a result: {sorted(set(adversarial) - set(results))}")
    check_open_unit(confidence, "confidence")
    published = reference == PUBLISHED_ALEXNET
    rows = []
    for name, res in results.items():
        acc = accuracies[name]
        if "clean" not in acc:
            raise ValueError(f"accuracies[{name!r}] has no 'clean' accuracy")
        corr = [v for k, v in acc.items() if _is_corruption(k)]
        adv = [v for k, v in acc.items() if k.startswith(ATTACK_PREFIXES)]
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
        measures = {"clean accuracy": row["clean_accuracy"]}
        if corr:
            measures["corruption accuracy"] = row["corruption_accuracy"]
        if reference is not None:
            measures["mCE"], measures["relative mCE"] = row["mce"], row["relative_mce"]
        for key, value in acc.items():
            if key.startswith(OOD_PREFIX):
                measures[f"OOD {key[len(OOD_PREFIX) :]} accuracy"] = value
        if adv:
            measures["adversarial accuracy"] = row["adversarial_accuracy"]
        row["measures"] = measures
        rows.append(row)
    correlations = {}
    for measure in dict.fromkeys(m for row in rows for m in row["measures"]):
        pairs = [(r["srs"], r["measures"][measure]) for r in rows if measure in r["measures"]]
        pairs = [(x, y) for x, y in pairs if math.isfinite(x) and math.isfinite(y)]
        correlations[measure] = _correlations([x for x, _ in pairs], [y for _, y in pairs], confidence)
    return RobustnessReport(rows, correlations, reference, None if adversarial is None else dict(adversarial))

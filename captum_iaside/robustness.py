r"""Robustness: spectral SNR of perturbations, accuracy under corruptions and attacks, and their link
to the spectral robustness score across models.

I-ASIDE's premise (Luo et al., 2024): perturbations of natural images have a signal-to-noise ratio that
falls with frequency, so models that draw their predictive power from low bands (a high SRS) should be
more robust. :func:`spectral_snr` measures the first half on any corruption; :func:`robustness_report`
checks the second half on your models.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from captum.robust import FGSM, PGD, AttackComparator
from torch import Tensor

from captum_iaside.bands import SpectralBands, check_images
from captum_iaside.corruptions import CORRUPTIONS, SEVERITIES, corrupt
from captum_iaside.importance import SpectralImportance


def spectral_snr(
    clean: Tensor | Iterable[tuple[Tensor, Tensor]],
    perturbed: Tensor | None = None,
    bands: int | SpectralBands = 8,
) -> Tensor:
    r"""
    Signal-to-noise ratio of a perturbation in every frequency band, over a data set:
    ``SNR_i = 10 log10(Σ ‖x_i‖² / Σ ‖(x' − x)_i‖²)`` in dB, sums over all images.

    Args:
        clean (Tensor or iterable): Clean images ``(B, C, H, W)``, or an iterable of
                    ``(clean, perturbed)`` batches.
        perturbed (Tensor, optional): The perturbed images, when ``clean`` is a tensor.
        bands (int or SpectralBands, optional): The bands.
                    Default: 8

    Returns:
        *Tensor* ``(M,)`` float64, in dB (``inf`` for a band the perturbation leaves intact).

    Examples::

        >>> x = torch.rand(8, 3, 64, 64)
        >>> spectral_snr(x, corrupt(x, "gaussian_noise", 3))   # falls from band 0 to band 7
    """
    bands = bands if isinstance(bands, SpectralBands) else SpectralBands(bands)
    pairs = [(clean, perturbed)] if isinstance(clean, Tensor) else clean
    signal = torch.zeros(bands.n_bands, dtype=torch.float64)
    noise = torch.zeros(bands.n_bands, dtype=torch.float64)
    for x, y in pairs:
        check_images(x, "clean")
        if not isinstance(y, Tensor) or y.shape != x.shape:
            raise ValueError(f"perturbed must have the shape of clean {tuple(x.shape)}")
        signal += bands.decompose(x.double()).pow(2).sum(dim=(0, 2, 3, 4)).cpu()
        noise += bands.decompose((y - x).double()).pow(2).sum(dim=(0, 2, 3, 4)).cpu()
    return 10 * torch.log10(signal / noise)


def _correct(output: Tensor, target: Tensor) -> Tensor:
    return (output.argmax(dim=1) == target).float()


def attack_comparator(
    model: Callable[[Tensor], Tensor],
    corruptions: Sequence[str] = tuple(CORRUPTIONS),
    severities: Sequence[int] = SEVERITIES,
    epsilons: Sequence[float] = (),
    pgd_steps: int = 10,
    seed: int = 0,
) -> AttackComparator:
    r"""
    A :class:`captum.robust.AttackComparator` measuring accuracy under every corruption and
    severity (``"gaussian_noise@3"``) and under FGSM and PGD (L∞) at every ``ε`` (``"FGSM@0.03"``,
    ``"PGD@0.03"``, PGD with step ``ε/4``). The model takes images in ``[0, 1]``.
    """
    comparator = AttackComparator(model, metric=_correct)
    for name in corruptions:
        for s in severities:
            comparator.add_attack(partial(corrupt, name=name, severity=s, seed=seed), name=f"{name}@{s}")
    for eps in epsilons:
        comparator.add_attack(
            FGSM(model, lower_bound=0.0, upper_bound=1.0),
            name=f"FGSM@{eps:g}",
            attack_kwargs={"epsilon": eps},
            additional_attack_arg_names=["target"],
        )
        comparator.add_attack(
            PGD(model, lower_bound=0.0, upper_bound=1.0),
            name=f"PGD@{eps:g}",
            attack_kwargs={"radius": eps, "step_size": eps / 4, "step_num": pgd_steps},
            additional_attack_arg_names=["target"],
        )
    return comparator


def robust_accuracy(
    model: Callable[[Tensor], Tensor],
    data: Iterable[tuple[Tensor, Tensor]],
    corruptions: Sequence[str] = tuple(CORRUPTIONS),
    severities: Sequence[int] = SEVERITIES,
    epsilons: Sequence[float] = (),
    pgd_steps: int = 10,
    seed: int = 0,
) -> dict[str, float]:
    r"""
    Accuracy on clean images (``"clean"``), under each corruption and severity, and under FGSM / PGD,
    through :func:`attack_comparator`, averaged over all images of ``data`` (batches of images in
    ``[0, 1]`` and labels).

    Returns:
        *dict* name → accuracy in ``[0, 1]``.
    """
    comparator = attack_comparator(model, corruptions, severities, epsilons, pgd_steps, seed)
    totals: dict[str, float] = {}
    seen = 0
    for x, y in data:
        # per-example results, summed here: the comparator's own summary() weighs every batch
        # equally, whatever its size. The attacks need input gradients; Captum switches them on for
        # each attack step and says so, which is expected here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Input Tensor 0 did not already require gradients", UserWarning)
            results = comparator.evaluate(x, target=y)
        for key, value in results.items():
            correct = value["mean"] if isinstance(value, dict) else value
            name = "clean" if key == "Original" else key
            totals[name] = totals.get(name, 0.0) + float(correct.sum())
        comparator.reset()
        seen += x.shape[0]
    if seen == 0:
        raise ValueError("data yielded no images")
    return {name: total / seen for name, total in totals.items()}


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

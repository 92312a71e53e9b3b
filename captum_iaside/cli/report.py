r"""The report of a run: the table printed, results.json and results.csv, then the pictures."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from captum_iaside import __version__

RESULT_KEYS = ("captum_iaside_version", "versions", "config", "models", "comparison", "files")


def slug(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def max_srs_of(n_bands: int) -> float:
    r"""The largest spectral robustness score for ``n_bands`` bands (all importance on band 0)."""
    from captum_iaside.results.summaries import max_spectral_robustness_score

    return max_spectral_robustness_score(n_bands)


def format_table(name: str, res: Any, bands: Any, confidence: float) -> str:
    r"""The printed table of one model: ψ with its interval, SID, and the SRS with its direction."""
    edges = bands.band_edges()
    level = f"{confidence:.0%}"
    lines = [
        f"\n{name}  (K = {res.n_samples} images, v(∅) = {res.v_empty:.3f}, v(N) = {res.v_full:.3f})",
        f"{'band':>4}  {'radius':>11}  {'psi':>9} ± {'stderr':<7} {level + ' interval':>21}    {'SID':>6}",
    ]
    significant = res.significant
    for i in range(res.n_bands):
        ci = "" if res.values_ci is None else f"[{res.values_ci[0, i]:+.4f}, {res.values_ci[1, i]:+.4f}]"
        mark = " " if significant is None or bool(significant[i]) else "~"
        psi = f"{res.values[i]:>+9.4f} ± {res.stderr[i]:<7.4f}"
        sid = f"{res.sid[i]:>6.3f}" if res.identified else f"{'n/a':>6}"
        lines.append(f"{i:>4}  {edges[i]:.3f}-{edges[i + 1]:.3f}  {psi} {ci:>21} {mark}  {sid}")
    if not res.identified:
        lines.append(
            "SID and SRS undefined: ψ is zero, or equal in every band to within rounding, so no band carries more "
            f"of the prediction than another (v(∅) = {res.v_empty:.4g}, v(N) = {res.v_full:.4g})"
        )
    else:
        ci = "" if res.srs_ci is None else f" [{res.srs_ci[0]:.4f}, {res.srs_ci[1]:.4f}] {level} bootstrap CI"
        lines.append(
            f"SRS = {res.srs:.4f}{ci}; leans to {res.direction} bands (signed {res.signed_srs:+.4f}; "
            f"M = {res.n_bands}: 0 uniform, {max_srs_of(res.n_bands):.4f} all on band 0)"
        )
    if significant is not None and not bool(significant.all()):
        lines.append("~ the interval holds 0: no evidence at this K that the band helps or hurts")
    return "\n".join(lines)


def versions() -> dict:
    import platform

    import captum
    import torch
    import torchvision

    return {
        "captum_iaside": __version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "captum": captum.__version__,
        "python": platform.python_version(),
    }


def write_report(
    out: str,
    config: dict,
    runs: Sequence[dict],
    results: Sequence[Any],
    comparison: dict | None,
    example: Any,
    bands: Any,
) -> list:
    r"""
    Write ``results.csv`` and ``results.json`` into ``out``, then the pictures (so a picture that fails
    loses no number); returns the file names.
    """
    import csv
    import json

    import matplotlib.pyplot as plt

    from captum_iaside.results.importance import clean_float
    from captum_iaside.visualization.decomposition import plot_band_decomposition
    from captum_iaside.visualization.fourier import plot_fourier_importance
    from captum_iaside.visualization.importance import plot_spectral_importance

    os.makedirs(out, exist_ok=True)
    files: list = []

    def save(fig: Any, name: str) -> None:
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)
        files.append(name)

    names = [r["model"] for r in runs]
    edges = bands.band_edges()
    columns = ["model", "band", "radius_low", "radius_high", "psi", "stderr", "psi_low", "psi_high", "significant"]
    columns += ["sid", "share", "srs", "signed_srs", "n_samples"]
    with open(os.path.join(out, "results.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for name, res in zip(names, results, strict=True):
            ci, sig = res.values_ci, res.significant
            for i in range(res.n_bands):
                w.writerow(
                    [
                        name,
                        i,
                        edges[i],
                        edges[i + 1],
                        float(res.values[i]),
                        float(res.stderr[i]),
                        None if ci is None else float(ci[0, i]),
                        None if ci is None else float(ci[1, i]),
                        None if sig is None else bool(sig[i]),
                        clean_float(float(res.sid[i])),
                        clean_float(float(res.share[i])),
                        clean_float(res.srs),
                        clean_float(res.signed_srs),
                        res.n_samples,
                    ]
                )
    files += ["results.csv", "results.json"]
    report = {
        "captum_iaside_version": __version__,
        "versions": versions(),
        "config": config,
        "models": list(runs),
        "comparison": comparison,
        "files": sorted(files),
    }

    def write_json() -> None:
        report["files"] = sorted(files)
        with open(os.path.join(out, "results.json"), "w") as fh:
            json.dump(report, fh, indent=2)

    write_json()  # the numbers first
    for name, res in zip(names, results, strict=True):
        save(plot_spectral_importance(res, labels=[name])[0], f"sid_{slug(name)}.png")
        save(plot_fourier_importance(res, title=f"ψ on the Fourier plane — {name}")[0], f"fourier_{slug(name)}.png")
    save(plot_spectral_importance(list(results), labels=names)[0], "comparison.png")
    save(plot_band_decomposition(example, bands)[0], "decomposition.png")
    write_json()  # with the pictures listed
    return sorted(files)

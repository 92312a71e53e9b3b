r"""The printed table of a result and the rows of ``results.csv``."""

from __future__ import annotations

from typing import Any

from captum_iaside.results.importance import SpectralImportance, clean_float
from captum_iaside.results.summaries import max_spectral_robustness_score
from captum_iaside.visualization.common import bands_of

#: The columns of ``results.csv``, one row per model and band.
CSV_COLUMNS = (
    "model",
    "band",
    "radius_low",
    "radius_high",
    "psi",
    "stderr",
    "psi_low",
    "psi_high",
    "significant",
    "sid",
    "share",
    "srs",
    "signed_srs",
    "n_samples",
)


def format_table(name: str, res: SpectralImportance) -> str:
    r"""The printed table of one model: ψ with its interval, SID, and the SRS with its direction."""
    edges = bands_of(res).band_edges()
    level = f"{res.config.get('confidence', 0.95):.0%}"
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
    lines.append(score_line(res))
    if significant is not None and not bool(significant.all()):
        lines.append("~ the interval holds 0: no evidence at this K that the band helps or hurts")
    return "\n".join(lines)


def score_line(res: SpectralImportance) -> str:
    r"""The SRS with its interval and direction, or why it is undefined."""
    if not res.identified:
        return (
            "SID and SRS undefined: ψ is zero, or equal in every band to within rounding, so no band carries more "
            f"of the prediction than another (v(∅) = {res.v_empty:.4g}, v(N) = {res.v_full:.4g})"
        )
    level = f"{res.config.get('confidence', 0.95):.0%}"
    ci = "" if res.srs_ci is None else f" [{res.srs_ci[0]:.4f}, {res.srs_ci[1]:.4f}] {level} bootstrap CI"
    return (
        f"SRS = {res.srs:.4f}{ci}; leans to {res.direction} bands (signed {res.signed_srs:+.4f}; "
        f"M = {res.n_bands}: 0 uniform, {max_spectral_robustness_score(res.n_bands):.4f} all on band 0)"
    )


def csv_rows(name: str, res: SpectralImportance) -> list[list[Any]]:
    r"""The rows of ``results.csv`` for one model, in the order of :data:`CSV_COLUMNS`."""
    edges, ci, sig = bands_of(res).band_edges(), res.values_ci, res.significant
    return [
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
        for i in range(res.n_bands)
    ]

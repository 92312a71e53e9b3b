r"""The printed table of a result and the rows of ``results.csv``."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class BandRow:
    r"""One band of a result as the printed table and the HTML page show it (numbers formatted, unpadded)."""

    band: int
    low: float
    high: float
    psi: str
    stderr: str
    #: ψ's bootstrap interval; empty without a bootstrap.
    interval: str
    #: Whether the interval holds 0 (marked ``~``).
    uncertain: bool
    #: The SID, or ``n/a`` where it is undefined.
    sid: str


def level(res: SpectralImportance) -> str:
    r"""The level of ``res``'s intervals, as a percentage (``"95%"``)."""
    return f"{res.config.get('confidence', 0.95):.0%}"


def band_rows(res: SpectralImportance) -> list[BandRow]:
    r"""The rows of ``res``'s table, one per band."""
    edges, ci, significant = bands_of(res).band_edges(), res.values_ci, res.significant
    return [
        BandRow(
            band=i,
            low=edges[i],
            high=edges[i + 1],
            psi=f"{res.values[i]:+.4f}",
            stderr=f"{res.stderr[i]:.4f}",
            interval="" if ci is None else f"[{ci[0, i]:+.4f}, {ci[1, i]:+.4f}]",
            uncertain=significant is not None and not bool(significant[i]),
            sid=f"{res.sid[i]:.3f}" if res.identified else "n/a",
        )
        for i in range(res.n_bands)
    ]


def format_table(name: str, res: SpectralImportance) -> str:
    r"""The printed table of one model: ψ with its interval, SID, and the SRS with its direction."""
    lines = [
        f"\n{name}  (K = {res.n_samples} images, v(∅) = {res.v_empty:.3f}, v(N) = {res.v_full:.3f})",
        f"{'band':>4}  {'radius':>11}  {'psi':>9} ± {'stderr':<7} {level(res) + ' interval':>21}    {'SID':>6}",
    ]
    for r in band_rows(res):
        mark = "~" if r.uncertain else " "
        lines.append(
            f"{r.band:>4}  {r.low:.3f}-{r.high:.3f}  {r.psi:>9} ± {r.stderr:<7} {r.interval:>21} {mark}  {r.sid:>6}"
        )
    lines.append(score_line(res))
    if res.significant is not None and not bool(res.significant.all()):
        lines.append("~ the interval holds 0: no evidence at this K that the band helps or hurts")
    return "\n".join(lines)


def score_line(res: SpectralImportance) -> str:
    r"""The SRS with its interval and direction, or why it is undefined."""
    if not res.identified:
        return (
            "SID and SRS undefined: ψ is zero, or equal in every band to within rounding, so no band carries more "
            f"of the prediction than another (v(∅) = {res.v_empty:.4g}, v(N) = {res.v_full:.4g})"
        )
    ci = "" if res.srs_ci is None else f" [{res.srs_ci[0]:.4f}, {res.srs_ci[1]:.4f}] {level(res)} bootstrap CI"
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

r"""The printed table of a result and the rows of ``results.csv``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from captum_iaside.execution.workspace import ExecutionReport
from captum_iaside.game.bands import SpectralBands
from captum_iaside.game.orientations import OrientedBands
from captum_iaside.game.partition import FourierPartition
from captum_iaside.results.dynamics import StepComparison, StepDifference, StepRow
from captum_iaside.results.importance import SpectralImportance, clean_float
from captum_iaside.results.summaries import max_spectral_robustness_score
from captum_iaside.robustness.report import RobustnessReport

#: The columns of ``results.csv``, one row per model and band.
CSV_COLUMNS = (
    "model",
    "band",
    "player",
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

#: The columns of ``dynamics.csv`` (``--steps``), one row per step and player: the model, then a
#: :class:`~captum_iaside.results.dynamics.StepRow`'s fields.
DYNAMICS_COLUMNS = ("model", *(f.name for f in fields(StepRow)))

#: The columns of ``robustness.csv``, one row per model and measure or accuracy (``"mCE"``, ``"fog@3"``).
ROBUSTNESS_COLUMNS = ("model", "srs", "measure", "value")

#: The columns of ``interactions.csv``, one row per model and pair of players ``i < j``.
INTERACTION_COLUMNS = ("model", "index", "i", "j", "player_i", "player_j", "value", "stderr")


@dataclass(frozen=True)
class BandRow:
    r"""One band of a result as the printed table and the HTML page show it (numbers formatted, unpadded)."""

    band: int
    #: What the player is: its radii (``0.000-0.125``) for radial bands, else its label (``r0 0–45°``).
    region: str
    psi: str
    stderr: str
    #: ψ's bootstrap interval; empty without a bootstrap.
    interval: str
    #: Whether the interval holds 0 (marked ``~``).
    uncertain: bool
    #: The SID, or ``n/a`` where it is undefined.
    sid: str


def describe_players(players: FourierPartition) -> str:
    r"""The players in words: ``"M = 8 square bands"``, rings × orientation sectors, or a grid of Fourier cells."""
    if isinstance(players, OrientedBands):
        return (
            f"M = {players.n_rings} {players.shape} rings x {players.orientations} orientations = "
            f"{players.n_bands} players"
        )
    if isinstance(players, SpectralBands):
        return f"M = {players.n_bands} {players.shape} bands"
    kind = players.config()["kind"]
    if kind == "grid":
        return f"a {players.grid} x {players.grid} grid of Fourier cells ({players.n_bands} players)"
    return f"M = {players.n_bands} players ({kind})"


def settings_rows(res: SpectralImportance, config: Mapping[str, Any], versions: Mapping[str, str]) -> dict[str, str]:
    r"""
    The settings a reader of the report needs, by name, from the first result's configuration (the same for every
    entry point) and the run's (the command line's data and device, where it records them).
    """
    own = res.config
    labels = {"given": "of the given label", "predicted": "of the predicted class"}.get(own.get("labels"), "")
    design = own.get("design") or {}
    estimator = (design.get("estimator") or {}).get("name", "")
    rows = {
        "players": describe_players(res.players),
        "baseline": str((own.get("baseline") or {}).get("name", "")),
        "value": f"{own.get('value', '')} {labels}".strip(),
        "estimator": f"{estimator}, {own.get('evaluations')} model evaluations" if estimator else "",
        "images (K)": str(res.n_samples),
        "intervals": f"{own.get('confidence', 0.95):.0%} bootstrap, {own.get('n_bootstrap')} replicates"
        if own.get("n_bootstrap")
        else "none",
        "strata": str((own.get("strata") or {}).get("source") or "none"),
        "seed": str(own.get("seed", "")),
        "data": str(config.get("data", "")),
        **_robustness_settings(config),
        "device": str(config.get("device", "")),
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items() if k in ("captum_iaside", "captum", "torch")),
    }
    return {name: text for name, text in rows.items() if text}


def _robustness_settings(config: Mapping[str, Any]) -> dict[str, str]:
    r"""The command line's robustness settings, where it recorded them (``--corruptions``, ``--ood``, attacks)."""
    rows = {}
    if config.get("corruptions"):
        severities = ", ".join(map(str, config.get("severities") or []))
        rows["corruptions"] = f"{config['corruptions']} (severities {severities})"
    if config.get("ood"):
        rows["out-of-distribution sets"] = ", ".join(f"{name}: {path}" for name, path in config["ood"])
    if config.get("attack_epsilon"):
        radii = ", ".join(f"{eps:g}" for eps in config["attack_epsilon"])
        rows["attacks"] = f"FGSM and PGD ({config.get('pgd_steps')} steps), L∞ radius {radii} on images in [0, 1]"
    if config.get("reference"):
        rows["mCE reference"] = str(config["reference"])
    if config.get("robustness_samples"):
        rows["images per robustness set"] = str(config["robustness_samples"])
    return rows


def level(res: SpectralImportance) -> str:
    r"""The level of ``res``'s intervals, as a percentage (``"95%"``)."""
    return f"{res.config.get('confidence', 0.95):.0%}"


def band_rows(res: SpectralImportance) -> list[BandRow]:
    r"""The rows of ``res``'s table, one per band."""
    bands = res.players
    spans, labels = radial_spans(bands), bands.labels()
    ci, significant = res.values_ci, res.significant
    radial = isinstance(bands, SpectralBands)
    return [
        BandRow(
            band=i,
            region=f"{spans[i][0]:.3f}-{spans[i][1]:.3f}" if radial else labels[i],
            psi=f"{res.values[i]:+.4f}",
            stderr=f"{res.stderr[i]:.4f}",
            interval="" if ci is None else interval_text(ci[0, i], ci[1, i]),
            uncertain=significant is not None and not bool(significant[i]),
            sid=f"{res.sid[i]:.3f}" if res.identified else "n/a",
        )
        for i in range(res.n_bands)
    ]


def execution_of(res: SpectralImportance, name: str) -> ExecutionReport:
    r"""
    How the forwards of model ``name`` ran (``res.config["execution"]``, keyed by the run's model names;
    a result of ``attribute_global`` has one entry); an empty report for a result without one.
    """
    runs = res.config.get("execution") or {}
    found = runs.get(name) if name in runs else (next(iter(runs.values())) if len(runs) == 1 else None)
    return ExecutionReport.from_dict(found or {})


def format_table(name: str, res: SpectralImportance) -> str:
    r"""The printed table of one model: ψ with its interval, SID, and the SRS with its direction."""
    column = "radius" if isinstance(res.players, SpectralBands) else "player"
    lines = [
        f"\n{name}  (K = {res.n_samples} images, v(∅) = {res.v_empty:.3f}, v(N) = {res.v_full:.3f})",
        f"{'band':>4}  {column:>11}  {'psi':>9} ± {'stderr':<7} {level(res) + ' interval':>21}    {'SID':>6}",
    ]
    for r in band_rows(res):
        mark = "~" if r.uncertain else " "
        lines.append(f"{r.band:>4}  {r.region:>11}  {r.psi:>9} ± {r.stderr:<7} {r.interval:>21} {mark}  {r.sid:>6}")
    lines.append(score_line(res))
    note = minimum_note(res)
    if note:
        lines.append(note)
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
    if res.radial_sid is None:
        return "SRS undefined: these players (a grid of cells, custom masks) have no order from low to high frequency"
    ci = "" if res.srs_ci is None else f" [{res.srs_ci[0]:.4f}, {res.srs_ci[1]:.4f}] {level(res)} bootstrap CI"
    rings = res.radial_sid.numel()
    radial = rings == res.n_bands
    over = f"M = {rings}" if radial else f"of the {rings} rings, ψ summed over their sectors"
    lowest = "band 0" if radial else "ring 0"
    return (
        f"SRS = {res.srs:.4f}{ci}; leans to {res.direction} bands (signed {res.signed_srs:+.4f}; "
        f"{over}: 0 uniform, {max_spectral_robustness_score(rings):.4f} all on {lowest})"
    )


def minimum_note(res: SpectralImportance) -> str:
    r"""
    A sentence where the weakest ring, on which the SID and the SRS anchor, is not identified at the run's
    precision (:attr:`~captum_iaside.SpectralImportance.minimum_identified` False), else ``""``.
    """
    if res.minimum_identified is not False or res.radial_sid is None:
        return ""
    kind = "band" if res.radial_sid.numel() == res.n_bands else "ring"
    names = ", ".join(str(j) for j in res.weakest_candidates)
    return (
        f"weakest {kind} not identified at this K: {kind}s {names} could each be the weakest (the "
        f"{level(res)} interval of the difference holds 0), so the SRS may be biased towards 0 and its interval "
        "is the hull over taking each as the weakest"
    )


def csv_rows(name: str, res: SpectralImportance) -> list[list[Any]]:
    r"""The rows of ``results.csv`` for one model, in the order of :data:`CSV_COLUMNS`."""
    bands = res.players
    spans, labels = radial_spans(bands), bands.labels()
    ci, sig = res.values_ci, res.significant
    return [
        [
            name,
            i,
            labels[i],
            None if spans is None else spans[i][0],
            None if spans is None else spans[i][1],
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


def radial_spans(bands: FourierPartition) -> list[tuple[float, float]] | None:
    r"""The radii ``(low, high)`` of each player's ring (a band's own), or None for players without rings."""
    if isinstance(bands, SpectralBands):
        e = bands.band_edges()
        return [(e[i], e[i + 1]) for i in range(bands.n_bands)]
    if isinstance(bands, OrientedBands):
        e = bands.ring_edges()
        return [(e[r], e[r + 1]) for r in range(bands.n_rings) for _ in range(bands.orientations)]
    return None


def interaction_rows(name: str, res: SpectralImportance) -> list[list[Any]]:
    r"""The rows of ``interactions.csv`` for one model (none without interactions)."""
    if res.interactions is None:
        return []
    index, m, labels = res.config.get("interactions", "SII"), res.n_bands, res.players.labels()
    se = res.interactions_stderr
    return [
        [
            name,
            index,
            i,
            j,
            labels[i],
            labels[j],
            clean_float(float(res.interactions[i, j])),
            None if se is None else clean_float(float(se[i, j])),
        ]
        for i in range(m)
        for j in range(i + 1, m)
    ]


def dynamics_rows(over: StepComparison) -> list[list[Any]]:
    r"""The rows of ``dynamics.csv``, in the order of :data:`DYNAMICS_COLUMNS`."""
    model = over.models
    return [[model[row.step], *row.to_dict().values()] for row in over.history]


def robustness_rows(report: RobustnessReport) -> list[list[Any]]:
    r"""
    The rows of ``robustness.csv``, in the order of :data:`ROBUSTNESS_COLUMNS`: each model's measures (``"clean
    accuracy"``, ``"mCE"``, ``"OOD imagenet-r accuracy"``), then every accuracy it was given (``"fog@3"``).
    """
    rows = []
    for row in report.rows:
        values = {**row["measures"], **row["accuracies"]}
        rows.extend([row["model"], clean_float(row["srs"]), k, clean_float(v)] for k, v in values.items())
    return rows


def interval_text(low: float, high: float) -> str:
    r"""An interval as the tables print it: ``[+0.0012, +0.0034]``."""
    return f"[{low:+.4f}, {high:+.4f}]"


def step_line(over: StepComparison, difference: StepDifference) -> str:
    r"""
    One consecutive pair of steps in words: ΔSRS with its paired interval, and how many players' Δψ intervals
    exclude 0 (the players whose ψ moved).
    """
    model = over.models
    level = f"{difference.confidence:.0%}"
    pair = f"step {difference.b} → {difference.a} ({model[difference.b]} → {model[difference.a]})"
    if difference.srs != difference.srs:  # NaN: a score that is not defined has no difference
        srs = "ΔSRS n/a"
    else:
        ci = "" if difference.srs_ci is None else " " + interval_text(*difference.srs_ci)
        srs = f"ΔSRS = {difference.srs:+.4f}{ci}"
    if difference.values_ci is None:
        return f"  {pair}: {srs}"
    low, high = difference.values_ci
    moved = [str(m) for m in range(low.numel()) if low[m] > 0 or high[m] < 0]
    if not moved:
        return f"  {pair}: {srs}; every band's Δψ {level} interval holds 0"
    return f"  {pair}: {srs}; Δψ {level} interval excludes 0 for band{'s' if len(moved) > 1 else ''} {', '.join(moved)}"

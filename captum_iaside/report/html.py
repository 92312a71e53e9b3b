r"""``report.html``: one self-contained page (pictures embedded as PNG data) that reads like the printed report."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from captum_iaside.report.tables import (
    band_rows,
    execution_of,
    interval_text,
    level,
    minimum_note,
    score_line,
    settings_rows,
)
from captum_iaside.results.dynamics import StepComparison
from captum_iaside.results.importance import SpectralImportance
from captum_iaside.robustness.alexnet import PUBLISHED_ALEXNET
from captum_iaside.robustness.report import ATTACK_PREFIXES, RobustnessReport, correlation_line

HOW_TO_READ = (
    "ψ of a band is how much of the model's value ({value}: from v(∅), every band replaced by the baseline, to "
    "v(N), the images themselves) that band carries, averaged over the images; the bands' ψ add up "
    "to v(N) − v(∅), and a band whose interval holds 0 (marked ~) has no evidence of helping or hurting. "
    "The SID shares ψ above the weakest band, and the SRS condenses it into one number: high when the "
    "low bands carry the prediction, which the I-ASIDE paper reads as robustness to perturbations that hit "
    "high frequencies (noise, blur, compression)."
)

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .6em 0; font-variant-numeric: tabular-nums; }
th, td { padding: .2em .7em; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f4f4f4; } td.left, th.left { text-align: left; } td.nowrap { white-space: nowrap; }
figure { display: inline-block; margin: .5em 1em .5em 0; vertical-align: top; }
figure img { max-width: 520px; border: 1px solid #ddd; } figcaption { font-size: .85em; color: #555; }
figure.wide { display: block; } figure.wide img { max-width: 100%; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: .8em; }
.note { background: #eef5ff; padding: .6em .9em; border-left: 4px solid #4a7bd0; }
details summary { cursor: pointer; color: #4a7bd0; margin: .6em 0; }
"""


@dataclass(frozen=True)
class Picture:
    r"""A picture of the report: its file name, its caption and its PNG bytes."""

    file: str
    caption: str
    png: bytes
    #: Shown at the page's width (a chart with much to read), not beside other pictures.
    wide: bool = False


def _figure(picture: Picture) -> str:
    data = base64.b64encode(picture.png).decode("ascii")
    kind = " class='wide'" if picture.wide else ""
    return (
        f'<figure{kind}><img src="data:image/png;base64,{data}" alt="{escape(picture.caption)}">'
        f"<figcaption>{escape(picture.caption)} ({escape(picture.file)})</figcaption></figure>"
    )


def _band_table(res: SpectralImportance) -> str:
    head = "".join(
        f"<th>{h}</th>" for h in ("band", "player", "ψ", "stderr", f"{level(res)} interval", "holds 0", "SID")
    )
    rows = []
    for r in band_rows(res):
        cells = (r.band, r.region, r.psi, r.stderr, r.interval, "~" if r.uncertain else "", r.sid)
        rows.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _comparison_table(comparison: Mapping[str, Any]) -> str:
    reference = comparison["reference"]
    level = f"{comparison['confidence']:.0%}"
    rows = []
    for name, entry in comparison["models"].items():
        if name == reference:
            continue
        diff = entry["srs_difference"]
        ci = diff["interval"]
        interval = "" if ci is None else f"[{ci[0]:+.4f}, {ci[1]:+.4f}]"
        estimate = "n/a" if diff["estimate"] is None else f"{diff['estimate']:+.4f}"
        rows.append(
            f"<tr><td class='left'>{escape(name)} − {escape(reference)}</td><td>{estimate}</td><td>{interval}</td></tr>"
        )
    return (
        f"<table><tr><th class='left'>models</th><th>ΔSRS</th><th>{level} paired bootstrap interval</th></tr>"
        f"{''.join(rows)}</table><p>Paired: every model saw the same images, baselines and coalitions, and the "
        "interval resamples the images of both at once, so it accounts for what the two results share; read the "
        "difference from this interval, not from the overlap of the two results' own.</p>"
    )


def _cell(text: str, left: bool = False) -> str:
    return f"<td class='left'>{escape(text)}</td>" if left else f"<td>{escape(text)}</td>"


def _steps_section(over: StepComparison, pictures: Sequence[Picture]) -> str:
    r"""The models read as training steps: SRS per step, ΔSRS and Δψ between consecutive steps, the picture."""
    first = over.differences[0]
    level = f"{first.confidence:.0%}"
    model = over.models
    srs = {row.step: row for row in over.history if row.player == 0}
    before = {d.a: d for d in over.differences}
    rows = []
    for step, row in srs.items():
        cells = [str(step), model[step], "n/a" if row.srs != row.srs else f"{row.srs:.4f}"]
        cells.append("" if row.srs_low is None else f"[{row.srs_low:.4f}, {row.srs_high:.4f}]")
        d = before.get(step)
        cells.append("" if d is None or d.srs != d.srs else f"{d.srs:+.4f}")
        cells.append("" if d is None or d.srs_ci is None else interval_text(*d.srs_ci))
        rows.append("<tr>" + "".join(_cell(c, left=i == 1) for i, c in enumerate(cells)) + "</tr>")
    head = ("step", "model", "SRS", f"{level} interval", "ΔSRS from the step before", f"{level} paired interval")
    scores = "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"
    labels = {row.player: row.label for row in over.history}
    head = "<th>band</th><th class='left'>player</th>" + "".join(
        f"<th>Δψ step {d.b} → {d.a}</th><th>{level} paired interval</th>" for d in over.differences
    )
    rows = []
    for m, label in labels.items():
        cells = [_cell(str(m)), _cell(label, left=True)]
        for d in over.differences:
            ci = d.values_ci
            holds_zero = ci is not None and ci[0, m] <= 0 <= ci[1, m]
            cells.append(_cell(f"{d.values[m]:+.4f} ± {d.stderr[m]:.4f}"))
            cells.append(_cell("" if ci is None else interval_text(ci[0, m], ci[1, m]) + (" ~" if holds_zero else "")))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    changes = f"<table><tr>{head}</tr>{''.join(rows)}</table>"
    ratios = sorted(
        float(d.unpaired_stderr[m] / d.stderr[m]) for d in over.differences for m in labels if d.stderr[m] > 0
    )
    gain = (
        f" Probes drawn afresh at each step would give standard errors {ratios[len(ratios) // 2]:.1f}× the paired "
        "ones (median over bands and steps)."
        if ratios
        else ""
    )
    text = (
        "<p>The models were read as the steps of one training run (<code>--steps</code>). Each saw the same images, "
        "baselines and coalitions, so a difference between two steps is paired: its standard error and interval "
        f"come from the per-image differences.{escape(gain)} A Δψ whose interval holds 0 is marked ~.</p>"
    )
    return "\n".join(["<h2>Over the training steps</h2>", text, scores, changes, *(_figure(p) for p in pictures)])


def _robustness_section(report: RobustnessReport, pictures: Sequence[Picture], level: str) -> str:
    r"""The models' robustness: a row per model and measure column, the correlations with the SRS, the pictures."""
    measures = report.measures()
    names = [f"{m} (%, lower is better)" if "mCE" in m else m for m in measures]
    head = f"<th class='left'>model</th><th>SRS</th><th>SRS {level} interval</th>"
    head += "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = []
    for row in report.rows:
        ci = "" if row["srs_ci"] is None else f"[{row['srs_ci'][0]:.4f}, {row['srs_ci'][1]:.4f}]"
        cells = [_cell(row["model"], left=True), _cell(f"{row['srs']:.4f}"), f"<td class='nowrap'>{escape(ci)}</td>"]
        for m in measures:
            value = row["measures"].get(m, math.nan)
            text = "n/a" if math.isnan(value) else (f"{value:.1%}" if "mCE" in m else f"{value:.3f}")
            cells.append(_cell(text))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    table = f"<table><tr>{head}</tr>{''.join(rows)}</table>"
    notes = []
    first = report.rows[0]
    if report.reference is not None:
        by = "AlexNet's published errors" if report.reference == PUBLISHED_ALEXNET else escape(report.reference)
        over = first.get("mce_corruptions") or []
        notes.append(
            f"mCE and relative mCE: over {len(over)} of ImageNet-C's 15 corruptions ({escape(', '.join(over))}), "
            f"normalised by {by} (100% = as many errors as it; lower is better)."
        )
    attacks = sorted(k for k in first["accuracies"] if k.startswith(ATTACK_PREFIXES))
    if attacks:
        notes.append(
            f"Adversarial accuracy: the mean over {escape(', '.join(attacks))} (L∞, radius on images in [0, 1]); "
            "each attack's own accuracy is in robustness.csv."
        )
    text = (
        "<p>Top-1 accuracy on the clean images; under the corruptions (the corruption accuracy is the mean over "
        "every corruption and severity); on each out-of-distribution set; and on the clean images under attack.</p>"
    )
    lines = "".join(f"<li>{escape(correlation_line(m, c))}</li>" for m, c in report.correlations.items())
    n = len(report.rows)
    caution = (
        f"<p class='note'>Each correlation below rests on {n} models: each point of a scatter is a model, and ρ's "
        "interval resamples the models, so it is wide with few of them.</p>"
    )
    parts = ["<h2>Robustness</h2>", text, table, *(f"<p>{note}</p>" for note in notes), caution, f"<ul>{lines}</ul>"]
    return "\n".join([*parts, *(_figure(p) for p in pictures)])


def html_page(
    results: Mapping[str, SpectralImportance],
    pictures: Mapping[str, Sequence[Picture]],
    shared: Mapping[str, Sequence[Picture]],
    comparison: Mapping[str, Any] | None,
    config: Mapping[str, Any],
    versions: Mapping[str, str],
    docs_url: str | None,
    steps: StepComparison | None = None,
    steps_pictures: Sequence[Picture] = (),
    robustness: RobustnessReport | None = None,
    robustness_pictures: Sequence[Picture] = (),
) -> str:
    r"""
    The whole page as a string (UTF-8, no external resource).

    Args:
        results (dict): Model name → its :class:`~captum_iaside.SpectralImportance`, in the page's order.
        pictures (dict): Model name → its pictures, shown under its table.
        shared (dict): Heading → pictures of all models or of the bands, shown after the comparison.
        comparison (dict, optional): :meth:`SpectralComparison.to_dict
                    <captum_iaside.SpectralComparison.to_dict>` without the results, for two or more models.
        config (dict): The configuration: the settings a reader needs as a table, all of it as folded JSON.
        versions (dict): Package versions, in the table and the JSON.
        docs_url (str, optional): The address of the interpreting page, linked where known.
        steps (StepComparison, optional): The models read as training steps; adds a section before the
                    comparison. Default: None
        steps_pictures (sequence of Picture, optional): That section's pictures. Default: ()
        robustness (RobustnessReport, optional): The models' robustness; adds a section after the comparison.
                    Default: None
        robustness_pictures (sequence of Picture, optional): That section's pictures. Default: ()

    Returns:
        *str*: the HTML page.
    """
    first = next(iter(results.values()))
    read = HOW_TO_READ.format(value=escape(str(first.config.get("value", "value"))))
    where = "the “Interpreting results” page of the documentation"
    link = f'<a href="{escape(docs_url)}">{where}</a>' if docs_url else f"{where} (docs/interpreting.md)"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>I-ASIDE report — {escape(', '.join(results))}</title><style>{_STYLE}</style></head><body>",
        "<h1>Global spectral importance (I-ASIDE)</h1>",
        f"<p class='note'>{read} More in {link}.</p>",
    ]
    for name, res in results.items():
        parts.append(f"<h2>{escape(name)}</h2>")
        note = minimum_note(res)
        parts.append(
            f"<p>K = {res.n_samples} images, v(∅) = {res.v_empty:.3f}, v(N) = {res.v_full:.3f}; "
            f"<b>{escape(score_line(res))}</b>{escape('; ' + note if note else '')}</p>"
        )
        parts.append(_band_table(res))
        execution = execution_of(res, name)
        if execution.perturbations_per_eval is not None:
            timed = execution.timings_line()
            timed = f" Timed: {timed}." if timed else ""
            parts.append(f"<p class='note'>Forwards: {escape(execution.summary())}.{escape(timed)}</p>")
        parts.extend(_figure(p) for p in pictures.get(name, ()))
    if steps is not None:
        parts.append(_steps_section(steps, steps_pictures))
    if comparison is not None:
        parts.append("<h2>Comparison</h2>")
        parts.append(_comparison_table(comparison))
    if robustness is not None:
        parts.append(_robustness_section(robustness, robustness_pictures, level(first)))
    for heading, pictures_of in shared.items():
        parts.append(f"<h2>{escape(heading)}</h2>")
        parts.extend(_figure(p) for p in pictures_of)
    parts.append("<h2>Settings</h2>")
    rows = settings_rows(first, config, versions)
    parts.append(
        "<table>"
        + "".join(
            f"<tr><th class='left'>{escape(k)}</th><td class='left'>{escape(v)}</td></tr>" for k, v in rows.items()
        )
        + "</table>"
    )
    full = escape(json.dumps({"versions": dict(versions), "config": dict(config)}, indent=2))
    parts.append(
        f"<details><summary>The whole configuration and the versions (JSON)</summary><pre>{full}</pre></details>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)

r"""Writing a report: ``results.json`` and ``results.csv`` first, then the pictures, then ``report.html``."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from torch import Tensor

from captum_iaside import __version__
from captum_iaside.game.orientations import OrientedBands
from captum_iaside.report.html import Picture, html_page
from captum_iaside.report.tables import (
    CSV_COLUMNS,
    DYNAMICS_COLUMNS,
    INTERACTION_COLUMNS,
    ROBUSTNESS_COLUMNS,
    csv_rows,
    dynamics_rows,
    interaction_rows,
    robustness_rows,
)
from captum_iaside.results.comparison import SpectralComparison
from captum_iaside.results.importance import SpectralImportance
from captum_iaside.robustness.report import RobustnessReport

#: The keys of ``results.json``.
RESULT_KEYS = (
    "captum_iaside_version",
    "versions",
    "config",
    "models",
    "comparison",
    "dynamics",
    "robustness",
    "files",
)


def slug(name: str) -> str:
    r"""``name`` as a file-name part (letters, digits, ``_.-``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def versions() -> dict[str, str]:
    r"""The versions a result depends on."""
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


def _documentation_url() -> str | None:
    r"""The documentation's address from the installed package's metadata, where it names one."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("captum-iaside").get_all("Project-URL") or []
    except PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "documentation":
            return url.strip().rstrip("/") + "/interpreting.html"
    return None


def _previous_files(out_dir: str) -> list[str]:
    r"""
    The files a previous report of this package listed in ``out_dir``'s ``results.json`` (plain names of files
    in the folder; none if there is no such report). Other files of the folder are not the package's.
    """
    try:
        with open(os.path.join(out_dir, "results.json")) as fh:
            previous = json.load(fh)
    except (OSError, ValueError):
        return []
    if not isinstance(previous, dict) or "captum_iaside_version" not in previous:
        return []
    listed = previous.get("files")
    if not isinstance(listed, list):
        return []
    return [
        name
        for name in listed
        if isinstance(name, str)
        and name == os.path.basename(name)
        and name not in ("", ".", "..")
        and os.path.isfile(os.path.join(out_dir, name))
        and not os.path.islink(os.path.join(out_dir, name))
    ]


def _named(results: Any) -> tuple[dict[str, SpectralImportance], dict[str, Any] | None]:
    if isinstance(results, SpectralComparison):
        paired = results.to_dict() if len(results.results) > 1 else None
        if paired is not None:
            for entry in paired["models"].values():
                entry.pop("result")  # the results are in "models"
        return dict(results.results), paired
    if isinstance(results, SpectralImportance):
        return {str(results.config.get("model", "model")): results}, None
    if isinstance(results, Mapping) and results and all(isinstance(r, SpectralImportance) for r in results.values()):
        return {str(k): v for k, v in results.items()}, None
    raise TypeError(
        "results must be a SpectralImportance, a SpectralComparison or a dict of name -> SpectralImportance, "
        f"got {type(results).__name__}"
    )


def write_report(
    results: SpectralImportance | SpectralComparison | Mapping[str, SpectralImportance],
    out_dir: str,
    example: Tensor | None = None,
    config: Mapping[str, Any] | None = None,
    details: Mapping[str, Mapping[str, Any]] | None = None,
    steps: Mapping[str, int] | None = None,
    robustness: RobustnessReport | None = None,
) -> list[str]:
    r"""
    Write the report of a global run into ``out_dir``, as the command line does: ``results.json`` and
    ``results.csv`` first (so a picture that fails loses no number), then per model the SID bar chart
    and ψ on the Fourier plane, the chart of all models, the band decomposition of ``example``, and
    ``report.html`` — one self-contained page with the tables, the paired comparison, every picture, the
    configuration and the versions.

    Args:
        results (SpectralImportance, SpectralComparison or dict): What
                    :meth:`~captum_iaside.IASIDE.attribute_global` or
                    :func:`~captum_iaside.compare_global` returned, or a dict of name → result. A
                    comparison of several models adds its paired ΔSRS with intervals.
        out_dir (str): The folder (made if missing). A report written there before is replaced: the
                    files its ``results.json`` lists are removed first; files the package did not write
                    stay.
        example (Tensor, optional): One ``(C, H, W)`` image to draw the band decomposition of.
                    Default: None (no decomposition picture)
        config (dict, optional): The configuration to record (the command line's arguments).
                    Default: the result's configuration (for several, each model's by name)
        details (dict, optional): Model name → extra fields recorded beside its result in
                    ``results.json`` (e.g. ``{"resolution": 224}``).
                    Default: None
        steps (dict, optional): Model name → training step, for a comparison of checkpoints of one training
                    run: the report reads them as steps (:meth:`SpectralComparison.as_steps
                    <captum_iaside.SpectralComparison.as_steps>`) and adds ψ and SRS against the step
                    (``dynamics.png``), the tidy history (``dynamics.csv``), each step minus the one before with
                    paired intervals (``results.json``'s ``"dynamics"``) and a section of ``report.html``.
                    Default: None
        robustness (RobustnessReport, optional): The models' robustness
                    (:func:`~captum_iaside.robustness.report.robustness_report`): adds ``robustness.csv`` (one row
                    per model and measure or accuracy), ``results.json``'s ``"robustness"``, the SRS against each
                    measure with Spearman's ρ and its interval over the models (``robustness.png``), the
                    adversarial spectra beside the SID where the report has them (``adversarial.png``) and a
                    section of ``report.html``. Its models must be the results' models.
                    Default: None

    Returns:
        *list* of the file names written, sorted.

    Examples::

        >>> result = IASIDE(model, bands=8).attribute_global(loader)
        >>> write_report(result, "iaside-report", example=images[0])
        ['decomposition.png', 'fourier_model.png', 'report.html', 'results.csv', 'results.json', 'sid_model.png']
    """
    import matplotlib.pyplot as plt

    from captum_iaside.visualization.adversarial import plot_adversarial_spectra
    from captum_iaside.visualization.decomposition import plot_band_decomposition
    from captum_iaside.visualization.dynamics import plot_dynamics
    from captum_iaside.visualization.fourier import plot_fourier_importance
    from captum_iaside.visualization.importance import plot_spectral_importance
    from captum_iaside.visualization.interactions import plot_interactions
    from captum_iaside.visualization.orientation import plot_polar_importance
    from captum_iaside.visualization.robustness import plot_robustness_measures

    named, paired = _named(results)
    over = None
    if steps is not None:
        if not isinstance(results, SpectralComparison):
            raise TypeError(
                "steps reads the models of a SpectralComparison (compare_global) as steps, got results of type "
                f"{type(results).__name__}"
            )
        over = results.as_steps(steps)
    if robustness is not None:
        if not isinstance(robustness, RobustnessReport):
            raise TypeError(f"robustness must be a RobustnessReport, got {type(robustness).__name__}")
        if [row["model"] for row in robustness.rows] != list(named):
            raise ValueError(
                f"robustness reports on {[row['model'] for row in robustness.rows]}, the results are of {list(named)}"
            )
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a folder path, got {type(out_dir).__name__}")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"out_dir {str(out_dir)!r} is a file; give a folder for the report")
    os.makedirs(out_dir, exist_ok=True)
    for name in _previous_files(out_dir):  # a report folder belongs to its run: the previous report's files go
        os.remove(os.path.join(out_dir, name))
    if config is None:  # the results' own: one model's, or every model's by name
        first = next(iter(named.values())).config
        config = dict(first) if len(named) == 1 else {name: dict(res.config) for name, res in named.items()}
    config = dict(config)
    details = details or {}
    files = ["results.json"]

    def table(file: str, columns: tuple[str, ...], rows: list[list[Any]]) -> None:
        with open(os.path.join(out_dir, file), "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerows(rows)
        files.append(file)

    table("results.csv", CSV_COLUMNS, [row for name, res in named.items() for row in csv_rows(name, res)])
    if any(res.interactions is not None for res in named.values()):
        rows = [row for name, res in named.items() for row in interaction_rows(name, res)]
        table("interactions.csv", INTERACTION_COLUMNS, rows)
    if over is not None:
        table("dynamics.csv", DYNAMICS_COLUMNS, dynamics_rows(over))
    if robustness is not None:
        table("robustness.csv", ROBUSTNESS_COLUMNS, robustness_rows(robustness))
    report = {
        "captum_iaside_version": __version__,
        "versions": versions(),
        "config": config,
        "models": [
            {"model": name, **dict(details.get(name, {})), "result": res.to_dict()} for name, res in named.items()
        ],
        "comparison": paired,
        "dynamics": None if over is None else over.to_dict(),
        "robustness": None if robustness is None else robustness.to_dict(),
        "files": sorted(files),
    }

    def write_json() -> None:
        report["files"] = sorted(files)
        with open(os.path.join(out_dir, "results.json"), "w") as fh:
            json.dump(report, fh, indent=2)

    write_json()  # the numbers first

    def picture(fig: Any, file: str, caption: str, wide: bool = False) -> Picture:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        plt.close(fig)
        with open(os.path.join(out_dir, file), "wb") as fh:
            fh.write(buffer.getvalue())
        files.append(file)
        return Picture(file, caption, buffer.getvalue(), wide)

    per_model = {}
    for name, res in named.items():
        per_model[name] = [
            picture(
                plot_spectral_importance(res, labels=[name])[0],
                f"sid_{slug(name)}.png",
                f"SID: each band's share of ψ above the weakest, with its intervals (the SRS in the legend) — {name}",
                wide=True,
            ),
            picture(
                plot_fourier_importance(res, title=f"ψ on the Fourier plane — {name}")[0],
                f"fourier_{slug(name)}.png",
                f"ψ on the centred Fourier plane — {name}",
            ),
        ]
        if isinstance(res.players, OrientedBands):
            fig = plot_polar_importance(res)[0]
            per_model[name].append(picture(fig, f"polar_{slug(name)}.png", f"ψ by ring and orientation — {name}"))
        if res.interactions is not None:
            fig = plot_interactions(res)[0]
            caption = (
                f"{res.config.get('interactions', 'SII')} of pairs of players (* beyond 1.96 stderr, a guide with few "
                f"images; the diagonal, order 1, grey) — {name}"
            )
            per_model[name].append(picture(fig, f"interactions_{slug(name)}.png", caption))
    shared: dict[str, list[Picture]] = {}
    steps_pictures = []
    if over is not None:
        fig = plot_dynamics(over, title="Spectral importance over the training steps")[0]
        caption = "ψ of each band and the SRS against the step, with their intervals"
        steps_pictures.append(picture(fig, "dynamics.png", caption, wide=True))
    robustness_pictures = []
    if robustness is not None and robustness.measures():
        fig = plot_robustness_measures(robustness)[0]
        caption = (
            "the SRS against each robustness measure, one point per model, its interval as a horizontal bar; each "
            "panel's title gives Spearman's ρ, its interval over the models and how many models"
        )
        robustness_pictures.append(picture(fig, "robustness.png", caption, wide=True))
    if robustness is not None and robustness.adversarial:
        fig = plot_adversarial_spectra(named, robustness.adversarial)[0]
        caption = (
            "each model's SID (its weakest band is 0 by the SID's definition) beside the share of an adversarial "
            "perturbation's energy in each band, summed over the attacked images"
        )
        robustness_pictures.append(picture(fig, "adversarial.png", caption, wide=True))
    if len(named) > 1:
        fig = plot_spectral_importance(list(named.values()), labels=list(named))[0]
        caption = "SID of every model, and their SRS side by side"
        shared["All models"] = [picture(fig, "comparison.png", caption, wide=True)]
    if example is not None:
        bands = next(iter(named.values())).players
        fig = plot_band_decomposition(example, bands)[0]
        caption = "the first image split into its frequency bands"
        shared["The bands of the first image"] = [picture(fig, "decomposition.png", caption, wide=True)]
    files.append("report.html")
    page = html_page(
        named,
        per_model,
        shared,
        paired,
        config,
        report["versions"],
        _documentation_url(),
        over,
        steps_pictures,
        robustness,
        robustness_pictures,
    )
    with open(os.path.join(out_dir, "report.html"), "w", encoding="utf-8") as fh:
        fh.write(page)
    write_json()  # with the pictures and the page listed
    return sorted(files)

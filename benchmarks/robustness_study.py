"""Does spectral importance explain robustness? A study on Fashion-MNIST.

    python benchmarks/robustness_study.py [--train-size 20000] [--epochs 3] [--k 500] [--out docs/robustness]

Needs Fashion-MNIST from Debian's package (apt-get install dataset-fashion-mnist). Trains a family of
small CNNs on the CPU — standard; Gaussian-noise augmentation at several σ; low-pass-filtered training;
20 % and 40 % label noise — then computes for each model global I-ASIDE (M = 8 square bands, zero
baseline, log-probability of the true class, K test images), accuracy under ImageNet-C's 15
corruptions (imagecorruptions-imaug) and our two spectral filters at five severities, and under FGSM /
PGD (L∞) through captum.robust, the mCE and relative mCE against the standard model, and the
correlations of SRS with every robustness measure across models. The corrupted test images are written
as CIFAR-10-C's arrays (``<corruption>.npy``: the 5 severities of the test images as uint8, and
``labels.npy``) and scored from them with ``cifar10_c_sets`` and ``released_accuracy``, the path a
researcher takes with the released data; every model sees the same images. Writes results.json,
results.md, and the pictures to --out. Seeds are fixed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from fashion_mnist_data import fashion_mnist
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from captum_iaside import IASIDE, SpectralBands
from captum_iaside.robustness.accuracy import robust_accuracy
from captum_iaside.robustness.corruptions import SPECTRAL_FILTERS, corrupt
from captum_iaside.robustness.imagenet_c import IMAGENET_C
from captum_iaside.robustness.released import cifar10_c_sets, released_accuracy
from captum_iaside.robustness.report import correlation_line, robustness_report
from captum_iaside.robustness.snr import spectral_snr
from captum_iaside.visualization.importance import plot_spectral_importance
from captum_iaside.visualization.robustness import plot_robustness
from captum_iaside.visualization.snr import plot_spectral_snr

FAMILY = {
    "standard": {},
    "noise σ=0.1": {"noise": 0.1},
    "noise σ=0.2": {"noise": 0.2},
    "noise σ=0.4": {"noise": 0.4},
    "low-pass training": {"lowpass": 4},
    "label noise 20%": {"label_noise": 0.2},
    "label noise 40%": {"label_noise": 0.4},
}
EPSILONS = (0.03, 0.1)


def slug(name: str) -> str:
    """A file name for a model name: ``"noise σ=0.4"`` -> ``"noise_sigma_0.4"``."""
    return re.sub(r"[^A-Za-z0-9.]+", "_", name.replace("σ", "sigma").replace("%", "pc")).strip("_")


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def train(config: dict, data: TensorDataset, epochs: int, seed: int) -> nn.Module:
    """One member of the family: the same architecture, data order and seed, one change each."""
    torch.manual_seed(seed)
    model = small_cnn()
    x, y = data.tensors
    if "label_noise" in config:
        g = torch.Generator().manual_seed(seed + 1)
        flip = torch.rand(len(y), generator=g) < config["label_noise"]
        y = torch.where(flip, torch.randint(0, 10, y.shape, generator=g), y)
    bands = SpectralBands(8)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loader = DataLoader(
        TensorDataset(x, y), batch_size=128, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    noise_gen = torch.Generator().manual_seed(seed + 2)
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            if "noise" in config:
                xb = (xb + config["noise"] * torch.randn(xb.shape, generator=noise_gen)).clamp(0, 1)
            if "lowpass" in config:
                xb = bands.decompose(xb)[:, : config["lowpass"]].sum(1).clamp(0, 1)
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    return model.eval()


def write_c_arrays(images: torch.Tensor, labels: torch.Tensor, corruptions, seed: int, root: str) -> None:
    """
    The test images under every corruption at the 5 severities, written as CIFAR-10-C's arrays: ``<corruption>.npy``
    of ``(5 N, H, W, C)`` uint8 (severity 1 first) and ``labels.npy``.
    """
    os.makedirs(root, exist_ok=True)
    np.save(os.path.join(root, "labels.npy"), labels.numpy())
    for corruption in corruptions:
        severities = [corrupt(images, corruption, s, seed=seed) for s in (1, 2, 3, 4, 5)]
        pixels = (torch.cat(severities) * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        np.save(os.path.join(root, f"{corruption}.npy"), pixels.numpy())


def run(
    train_size: int,
    epochs: int,
    k: int,
    eval_size: int,
    family: dict,
    seed: int = 0,
    severities=(1, 2, 3, 4, 5),
    epsilons=EPSILONS,
    corruptions=IMAGENET_C + SPECTRAL_FILTERS,
) -> dict:
    torch.manual_seed(seed)
    train_set = fashion_mnist("train")
    train_set = TensorDataset(*(t[:train_size] for t in train_set.tensors))
    test_x, test_y = fashion_mnist("test").tensors
    test_x, test_y = test_x[:eval_size], test_y[:eval_size]
    models, results, times = {}, {}, {}
    for name, config in family.items():
        start = time.perf_counter()
        model = train(config, train_set, epochs, seed)
        models[name] = model
        loader = DataLoader(TensorDataset(test_x[:k], test_y[:k]), batch_size=100)
        result = IASIDE(model, bands=8).attribute_global(loader, perturbations_per_eval=64, seed=seed)
        results[name] = result.with_model(name)
        times[name] = time.perf_counter() - start
        print(f"{name}: SRS {results[name].srs:.3f}, {times[name]:.0f} s", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as arrays:  # the released path: CIFAR-10-C's arrays on disk, read back
        write_c_arrays(test_x, test_y, corruptions, seed, arrays)
        sets = {"clean": TensorDataset(test_x, test_y)}
        sets.update(cifar10_c_sets(arrays, corruptions=corruptions, severities=severities))
        accuracies = released_accuracy(models, sets, batch_size=500)
    if epsilons:
        eval_loader = DataLoader(TensorDataset(test_x, test_y), batch_size=500)
        attacked = robust_accuracy(models, eval_loader, corruptions=(), epsilons=epsilons, seed=seed)
        for name in models:
            accuracies[name].update({k: v for k, v in attacked[name].items() if k != "clean"})
    print(f"robust accuracies of {len(models)} models: {time.perf_counter() - start:.0f} s", flush=True)
    report = robustness_report(results, accuracies, reference="standard" if "standard" in results else None)
    return {"report": report, "results": results, "models": models, "times": times, "test": (test_x, test_y)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-size", type=int, default=20000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--k", type=int, default=500, help="test images for I-ASIDE")
    p.add_argument("--eval-size", type=int, default=2000, help="test images for the robust accuracies")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join("docs", "robustness"))
    p.add_argument("--save-models", action="store_true", help="also save each model's state dict")
    args = p.parse_args()
    torch.set_num_threads(2)
    start = time.perf_counter()
    try:
        out = run(args.train_size, args.epochs, args.k, args.eval_size, FAMILY, args.seed)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    wall = time.perf_counter() - start
    report = out["report"]
    os.makedirs(args.out, exist_ok=True)
    test_x = out["test"][0][:500]
    snr = {f"{c}@3": spectral_snr(test_x, corrupt(test_x, c, 3)) for c in IMAGENET_C + SPECTRAL_FILTERS}
    for fig, name in [
        (plot_spectral_snr(snr)[0], "snr.png"),
        (plot_robustness(report)[0], "srs_vs_corruption.png"),
        (plot_robustness(report, "adversarial_accuracy")[0], "srs_vs_adversarial.png"),
        (plot_spectral_importance(list(out["results"].values()))[0], "sid.png"),
    ]:
        fig.savefig(os.path.join(args.out, name), dpi=90)
    summary = {
        "args": vars(args),
        "wall_time_s": round(wall, 1),
        "per_model_time_s": out["times"],
        "snr_db": {k: v.tolist() for k, v in snr.items()},
        **report.to_dict(),
    }
    with open(os.path.join(args.out, "results.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    lines = [
        "| model | SRS | SRS 95% CI | clean acc. | mean corruption acc. | Gaussian noise acc. (mean of 5) "
        "| FGSM/PGD acc. (mean) | mCE | relative mCE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report.rows:
        gn = sum(v for key, v in r["accuracies"].items() if key.startswith("gaussian_noise@")) / 5
        lines.append(
            f"| {r['model']} | {r['srs']:.3f} | [{r['srs_ci'][0]:.3f}, {r['srs_ci'][1]:.3f}] | "
            f"{r['clean_accuracy']:.3f} | {r['corruption_accuracy']:.3f} | {gn:.3f} | "
            f"{r['adversarial_accuracy']:.3f} | {r['mce']:.1%} | {r['relative_mce']:.1%} |"
        )
    lines.append("")
    lines.append(
        f"Mean corruption accuracy: the {len(IMAGENET_C)} ImageNet-C corruptions and our 2 filters, 5 severities "
        "each; mCE and relative mCE over the ImageNet-C corruptions, normalised by the standard model (100 %)."
    )
    lines.append(
        "The corrupted images were written as CIFAR-10-C's arrays (uint8, as the released data are) and scored from "
        "them (`cifar10_c_sets`, `released_accuracy`)."
    )
    lines.extend(f"- {correlation_line(name, c)}" for name, c in report.correlations.items())
    lines.append(
        f"\nWall time {wall:.0f} s on {torch.get_num_threads()} CPU threads "
        f"(train size {args.train_size}, {args.epochs} epochs, K = {args.k}, {args.eval_size} test images)."
    )
    with open(os.path.join(args.out, "results.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(report.table())
    print("\n".join(lines))
    if args.save_models:
        for name, model in out["models"].items():
            torch.save(model.state_dict(), os.path.join(args.out, f"{slug(name)}.pt"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmarks of captum-iaside: every figure is a ratio or count measured in this run.

    python benchmarks/run_benchmarks.py [--quick] [--out benchmarks/results.md] [--device cpu|cuda]

(a) overhead of exact global I-ASIDE over the bare model forwards of the same images and chunks;
(b) speed-up over a naive loop that filters every coalition with its own FFT (the structure of the
    paper's reference code); (c) model evaluations per image against Captum's ShapleyValues and
    ShapleyValueSampling on the same game; (d) error of the per-image estimators against exact
    (M = 12) or a 100x-budget reference (M = 16), next to Captum's ShapleyValueSampling at equal
    evaluations; (e) peak memory for K = 64 and K = 512 images. The statistics of global designs at
    a budget are in budget_designs.py, the estimators against shapiq in local_estimators.py and the
    execution speed in execution.py.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

import torch
import torchvision
from captum.attr import ShapleyValues, ShapleyValueSampling
from report import write_report
from torch import nn
from torch.utils.data import DataLoader, Dataset

from captum_iaside import IASIDE, SpectralBands, SpectralGates


def small_cnn(n_classes: int = 10, width: int = 16) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2 * width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2 * width, n_classes),
    ).eval()


def resnet18() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10).eval()


class Synthetic(Dataset):
    """Images made on demand (nothing held in memory), labelled 0..9."""

    def __init__(self, n: int, size: int = 32) -> None:
        self.n, self.size = n, size

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        g = torch.Generator().manual_seed(i)
        return torch.randn(3, self.size, self.size, generator=g), i % 10


def timed(fn, repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


# ------------------------------------------------------------------ (a), (b)
def overhead_and_naive(
    model: nn.Module, device: torch.device, k: int, repeats: int
) -> tuple[float, float, float, float]:
    m, batch, ppe = 8, 16, 64
    model = model.to(device)
    loader = DataLoader(Synthetic(k), batch_size=batch)
    ia = IASIDE(model, bands=m)

    def ours():
        ia.attribute_global(loader, perturbations_per_eval=ppe, n_bootstrap=0, device=device)

    chunk = torch.randn(batch * ppe, 3, 32, 32, device=device)
    n_chunks = (k // batch) * (2**m // ppe)

    def bare():
        with torch.no_grad():
            for _ in range(n_chunks):
                model(chunk)

    bands = SpectralBands(m)
    masks = bands.masks(32, 32, device=device)
    members = [[i for i in range(m) if (t >> i) & 1] for t in range(2**m)]

    def naive():  # one FFT filter per coalition and per batch, one forward per coalition
        with torch.no_grad():
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                for s in members:
                    keep = masks[s].sum(0) if s else torch.zeros_like(masks[0])
                    xs = torch.fft.ifft2(torch.fft.fft2(x) * keep).real
                    torch.log_softmax(model(xs), 1).gather(1, y[:, None])

    def ours_small_chunks():  # the naive loop's forward batch: one coalition per forward
        ia.attribute_global(loader, perturbations_per_eval=1, n_bootstrap=0, device=device)

    t_ours, t_bare = timed(ours, repeats), timed(bare, repeats)
    t_naive, t_small = timed(naive, 1), timed(ours_small_chunks, 1)
    return t_ours / t_bare, t_naive / t_small, t_naive / t_ours, t_ours


# ------------------------------------------------------------------ (c)
class Counting(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.images = model, 0

    def forward(self, x):
        self.images += x.shape[0]
        return self.model(x)


def evaluations_per_image(m: int) -> dict[str, float]:
    x = torch.randn(2, 3, 32, 32)
    out = {}
    counted = Counting(small_cnn(width=4)).eval()
    IASIDE(counted, bands=m).attribute(x, target=0, perturbations_per_eval=2**m)
    out["I-ASIDE (exact)"] = counted.images / 2
    counted.images = 0
    sg = SpectralGates(counted, bands=m, output="log_prob")
    gates, extra = sg.prepare(x)
    ShapleyValues(sg).attribute(gates, baselines=0, target=0, additional_forward_args=extra, perturbations_per_eval=64)
    out["Captum ShapleyValues"] = counted.images / 2
    counted.images = 0
    ShapleyValueSampling(sg).attribute(gates, baselines=0, target=0, additional_forward_args=extra, n_samples=32)
    out["Captum ShapleyValueSampling (n_samples=32)"] = counted.images / 2
    return out


# ------------------------------------------------------------------ (d)
def estimator_errors(m: int, quick: bool) -> list[tuple[str, int, float]]:
    torch.manual_seed(0)
    model = small_cnn(width=4)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    y = model(x).argmax(1)
    ia = IASIDE(model, bands=m)
    ppe = 512
    budgets = [4 * m, 16 * m, 64 * m]
    if m <= 12:
        reference = ia.attribute(x, target=y, perturbations_per_eval=ppe).double()
    else:
        reference = ia.attribute(
            x, target=y, estimator="permutation", budget=100 * budgets[-1], perturbations_per_eval=ppe, seed=999
        ).double()
    seeds = range(2 if quick else 5)
    rows = []
    for name, est in [("automatic (estimator=None)", None), ("permutation", "permutation"), ("kernel", "kernel")]:
        for b in budgets:
            err = [
                (
                    ia.attribute(x, target=y, estimator=est, budget=b, perturbations_per_eval=ppe, seed=s).double()
                    - reference
                )
                .pow(2)
                .mean()
                .sqrt()
                for s in seeds
            ]
            rows.append((f"I-ASIDE {name}", b, float(torch.stack(err).mean())))
    sg = SpectralGates(model, bands=m, output="log_prob")
    gates, extra = sg.prepare(x)
    for b in budgets:
        n = (b - 1) // m  # ShapleyValueSampling spends 1 + n·M evaluations
        err = []
        for s in seeds:
            torch.manual_seed(s)
            phi = ShapleyValueSampling(sg).attribute(
                gates, baselines=0, target=y, additional_forward_args=extra, n_samples=n, perturbations_per_eval=64
            )
            err.append((phi.double() - reference).pow(2).mean().sqrt())
        rows.append(("Captum ShapleyValueSampling", 1 + n * m, float(torch.stack(err).mean())))
    return rows


# ------------------------------------------------------------------ (e)
def peak_memory_mb(k: int) -> float:
    code = (
        "import resource, torch, sys; sys.path.insert(0, 'benchmarks');"
        "from run_benchmarks import small_cnn, Synthetic; from captum_iaside import IASIDE;"
        "from torch.utils.data import DataLoader; torch.set_num_threads(2);"
        f"IASIDE(small_cnn(), bands=8).attribute_global(DataLoader(Synthetic({k}), batch_size=16),"
        " perturbations_per_eval=64);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats and seeds")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=os.path.join("benchmarks", "results.md"))
    args = p.parse_args()
    torch.set_num_threads(2)
    device = torch.device(args.device)
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"device {device}, torch {torch.__version__}",
        "",
    ]
    start = time.perf_counter()

    lines += ["| measurement | model | value |", "|---|---|---|"]
    for name, model in [("small CNN", small_cnn()), ("ResNet-18", resnet18())]:
        over, same_batch, speed, t = overhead_and_naive(model, device, k=64, repeats=1 if args.quick else 2)
        lines.append(
            f"| (a) global I-ASIDE time ÷ bare forwards, same chunks of 16×64 images (M=8, 32×32, K=64) "
            f"| {name} | {over:.3f} ({t:.1f} s) |"
        )
        lines.append(
            f"| (b) naive per-coalition FFT loop ÷ ours, both 16 images per forward | {name} | {same_batch:.2f}× |"
        )
        lines.append(f"| (b) naive loop ÷ ours at 64 coalitions per forward | {name} | {speed:.2f}× |")
    for key, count in evaluations_per_image(6).items():
        lines.append(f"| (c) model evaluations per image, M=6 (measured, 2 images) | {key} | {count:,.1f} |")
    lines.append(
        f"| (c) model evaluations per image, M=8 | I-ASIDE (exact) / Captum ShapleyValues (1 + M·M!) | "
        f"256 / {1 + 8 * 40320:,} |"
    )
    for m in (12, 16):
        what = "exact" if m == 12 else "a 100× budget permutation reference"
        for est, budget, err in estimator_errors(m, args.quick):
            lines.append(f"| (d) RMSE against {what}, M={m} | {est} | {err:.5f} at {budget} evaluations per image |")
    mem64, mem512 = peak_memory_mb(64), peak_memory_mb(512)
    lines.append(
        f"| (e) peak RSS, K=64 → K=512 | small CNN | {mem64:.0f} MB → {mem512:.0f} MB (×{mem512 / mem64:.3f}) |"
    )
    write_report(lines, args.out, start)


if __name__ == "__main__":
    main()

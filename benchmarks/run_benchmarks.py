"""Benchmarks of captum-iaside: every figure is a ratio or count measured in this run.

    python benchmarks/run_benchmarks.py [--quick] [--out benchmarks/results.md] [--device cpu|cuda]

(a) overhead of exact global I-ASIDE over the bare model forwards of the same images and chunks;
(b) speed-up over a naive loop that filters every coalition with its own FFT (the structure of the
    paper's reference code); (c) model evaluations per image against Captum's ShapleyValues and
    ShapleyValueSampling on the same game; (d) error of the sampling estimators against exact
    (M = 12) or a 100x-budget reference (M = 16), next to Captum's ShapleyValueSampling;
(e) peak memory for K = 64 and K = 512 images; (f) forwards needed for the same standard error of
    the SRS with common images for every coalition (ours) against independent images per
    coalition (the reference code's sampling), on a model trained on scikit-learn's digits.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
import torchvision
from captum.attr import ShapleyValues, ShapleyValueSampling
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from captum_iaside import IASIDE, SpectralBands, SpectralGates, spectral_importance_distribution
from captum_iaside import spectral_robustness_score as srs_of
from captum_iaside.coalitions import coalition_matrix
from captum_iaside.game import SpectralGame
from captum_iaside.shapley import shapley_weights
from captum_iaside.values import ValueFunction


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
    for est in ["permutation", "kernel"]:
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
            rows.append((f"I-ASIDE {est}", b, float(torch.stack(err).mean())))
    sg = SpectralGates(model, bands=m, output="log_prob")
    gates, extra = sg.prepare(x)
    for n in [4, 16, 64]:
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


# ------------------------------------------------------------------ (f)
def digits_model() -> tuple[nn.Module, torch.Tensor, torch.Tensor, float]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    x = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False).expand(-1, 3, -1, -1).contiguous()
    x = (x - 0.5) / 0.5
    y = torch.tensor(d.target)
    train, test = slice(0, 1400), slice(1400, None)
    torch.manual_seed(0)
    model = small_cnn(width=16)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(15):
        for xb, yb in DataLoader(TensorDataset(x[train], y[train]), batch_size=64, shuffle=True):
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(x[test]).argmax(1) == y[test]).float().mean())
    return model, x[test], y[test], accuracy


def statistical_efficiency(quick: bool) -> tuple[float, float, float, float, torch.Tensor]:
    model, x, y, accuracy = digits_model()
    m = 8
    bands = SpectralBands(m)
    values = []  # every coalition value of every pool image: the exact game per image
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=64):
        game = SpectralGame(model, bands, xb, torch.zeros_like(xb[:1]), ValueFunction("log_prob"), yb)
        values.append(game.evaluate(coalition_matrix(m), perturbations_per_eval=2**m))
    v = torch.cat(values)  # (N, 2^M)
    w = shapley_weights(m)
    phi = v @ w.T
    k, reps = 32, (200 if quick else 1000)
    g = torch.Generator().manual_seed(0)
    n = v.shape[0]
    ours, ref = [], []
    for _ in range(reps):
        idx = torch.randint(0, n, (k,), generator=g)
        ours.append(srs_of(spectral_importance_distribution(phi[idx].mean(0))))
        per_coalition = torch.randint(0, n, (k, v.shape[1]), generator=g)
        vbar = v.gather(0, per_coalition).mean(0)
        ref.append(srs_of(spectral_importance_distribution(w @ vbar)))
    se_ours = float(torch.tensor(ours).std())
    se_ref = float(torch.tensor(ref).std())
    band_ratio = (w**2 @ v.var(0)) / phi.var(0)  # variance of ψ_i: independent ÷ common images
    return se_ours, se_ref, (se_ref / se_ours) ** 2, accuracy, band_ratio


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

    lines += ["| measurement | model | value | target |", "|---|---|---|---|"]
    for name, model, target_a in [("small CNN", small_cnn(), 1.10), ("ResNet-18", resnet18(), 1.03)]:
        over, same_batch, speed, t = overhead_and_naive(model, device, k=64, repeats=1 if args.quick else 2)
        lines.append(
            f"| (a) exact global I-ASIDE time ÷ bare forwards, same chunks of 16×64 images (M=8, 32×32, K=64) "
            f"| {name} | {over:.3f} ({t:.1f} s) | ≤ {target_a} |"
        )
        lines.append(
            f"| (b) naive per-coalition FFT loop ÷ ours, both 16 images per forward | {name} "
            f"| {same_batch:.2f}× | ≥ 2× |"
        )
        lines.append(f"| (b) naive loop ÷ ours at 64 coalitions per forward | {name} | {speed:.2f}× | ≥ 2× |")
    for key, count in evaluations_per_image(6).items():
        lines.append(f"| (c) model evaluations per image, M=6 (measured) | {key} | {count:,.0f} | 2^M = 64 |")
    lines.append(
        f"| (c) model evaluations per image, M=8 | I-ASIDE (exact) / Captum ShapleyValues (1 + M·M!) | "
        f"256 / {1 + 8 * 40320:,} | 2^M |"
    )
    for m in (12, 16):
        rows = estimator_errors(m, args.quick)
        for est, budget, err in rows:
            what = "exact" if m == 12 else "100× budget permutation reference"
            lines.append(f"| (d) RMSE vs {what}, M={m} | {est} | {err:.5f} at {budget} evals/img | |")
        svs = rows[-1][2]
        best_err, best_est = min((err, est) for est, budget, err in rows if budget == 16 * m)
        verdict = "met" if best_err <= svs else "missed"
        lines.append(
            f"| (d) M={m}: best of ours at 16·M = {16 * m} evals vs Captum SVS at 64·M + 1 | {best_est} | "
            f"{best_err:.5f} vs {svs:.5f} ({verdict}) | ours ≤ SVS |"
        )
    mem64, mem512 = peak_memory_mb(64), peak_memory_mb(512)
    lines.append(
        f"| (e) peak RSS, K=64 → K=512 | small CNN | {mem64:.0f} MB → {mem512:.0f} MB (×{mem512 / mem64:.3f}) | flat |"
    )
    se_ours, se_ref, ratio, acc, band_ratio = statistical_efficiency(args.quick)
    lines.append(
        f"| (f) s.e. of SRS at K=32: same images for all coalitions vs independent | digits CNN (test acc {acc:.3f}) "
        f"| {se_ours:.4f} vs {se_ref:.4f} → independent needs {ratio:.2f}× our forwards | ≥ 10× |"
    )
    ratios = " ".join(f"{r:.2g}" for r in band_ratio.tolist())
    lines.append(f"| (f) variance of ψ per band, independent ÷ same images (bands 0 … 7) | digits CNN | {ratios} | |")
    lines += ["", f"Total benchmark time: {time.perf_counter() - start:.0f} s"]
    text = "\n".join(lines)
    print(text)
    with open(args.out, "w") as fh:
        fh.write(text + "\n")


if __name__ == "__main__":
    main()

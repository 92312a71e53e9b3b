"""Global I-ASIDE at a budget: the error of each design at equal model evaluations.

    python benchmarks/budget_designs.py [--images 3000] [--reps 200] [--out benchmarks/budget_designs.md]

The standard Fashion-MNIST CNN of docs/robustness (Debian's dataset-fashion-mnist) with M = 8 square bands,
the zero baseline and log p(true class). Every coalition value of every one of the first --images test images
is computed once with the project's game; the exact global ψ over those images is the truth.

Each design then runs --reps times with seeds through ``IASIDE.attribute_global(..., max_evaluations=F)``
itself, on a stand-in model that answers every coalition image with the stored value (its inputs carry the
image's index and the coalition's bands in orthogonal band patterns, which it decodes), so the whole
pipeline — design, streaming, shared baseline image, bootstrap — is measured at the cost of a table lookup.
Images are drawn with replacement from the pool (so the truth is the mean of the distribution sampled).
Reported: the mean squared error of ψ (summed over bands) and the RMSE of the SRS against the truth, the
evaluations exact-per-image values need for the same errors (interpolated on its own error curve), the
coverage of the automatic design's 95 % intervals, and a figure of error against evaluations. Independent
images per coalition (the reference code's sampling) cannot be run by the package; it is simulated on the
stored values.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, RandomSampler, TensorDataset  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fashion_mnist_data import fashion_mnist  # noqa: E402
from report import write_report  # noqa: E402
from robustness_study import small_cnn  # noqa: E402

from captum_iaside import (  # noqa: E402
    IASIDE,
    KernelShapley,
    PermutationShapley,
    SpectralBands,
    spectral_importance_distribution,
    spectral_robustness_score,
)
from captum_iaside.estimators.exact import shapley_weights  # noqa: E402
from captum_iaside.execution.workspace import Workspace  # noqa: E402
from captum_iaside.game.coalitions import coalition_matrix  # noqa: E402
from captum_iaside.game.spectral_game import SpectralGame  # noqa: E402
from captum_iaside.game.value_functions import ValueFunction  # noqa: E402

M = 8
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def srs(psi: torch.Tensor) -> float:
    return spectral_robustness_score(spectral_importance_distribution(psi))


def coalition_values(n_images: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(n_images, 2^M) values of every coalition of the first test images (with the project's game), their
    labels, and the model's logits on the empty coalition (the black image)."""
    model = small_cnn()
    model.load_state_dict(torch.load(os.path.join(ROOT, "docs", "robustness", "standard.pt"), weights_only=True))
    model.eval()
    x, y = fashion_mnist("test").tensors
    with torch.no_grad():
        empty = model(torch.zeros_like(x[:1]))
    bands, value, workspace = SpectralBands(M), ValueFunction("log_prob"), Workspace(64)
    rows = []
    for start in range(0, n_images, 100):
        xb, yb = x[start : start + 100][: n_images - start], y[start : start + 100][: n_images - start]
        game = SpectralGame(model, bands, xb, torch.zeros_like(xb[:1]), value, yb, workspace=workspace)
        rows.append(game.values(coalition_matrix(M)))
    return torch.cat(rows), y[:n_images], empty


class LookupModel(nn.Module):
    """Answers the coalition image of pool image j and coalition S with log-probability v_j(S)."""

    def __init__(self, table: torch.Tensor, targets: torch.Tensor, patterns: torch.Tensor, empty: torch.Tensor):
        super().__init__()
        self.table, self.targets, self.empty = table, targets, empty
        self.patterns = patterns.flatten(1)  # (M, CHW), orthonormal
        self.powers = 2 ** torch.arange(M)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = x.flatten(1).double() @ self.patterns.T  # (N, M): c_j on the bands of S, 0 elsewhere
        c = p.max(dim=1).values
        present = c > 0.5
        j = (c.round().long() - 1).clamp(min=0)
        code = ((p > c[:, None] / 2).long() * self.powers).sum(1)
        v = self.table[j, code].clamp(max=-1e-12)
        rest = torch.log(-torch.expm1(v) / 9)  # the other 9 classes share 1 − e^v
        logits = rest[:, None].repeat(1, 10)
        logits[torch.arange(x.shape[0]), self.targets[j]] = v
        return torch.where(present[:, None], logits, self.empty.expand_as(logits)).float()


def lookup_data(table: torch.Tensor, targets: torch.Tensor, empty_logits: torch.Tensor):
    """The stand-in model and its pool of images: image j is (j + 1) times the sum of the band patterns."""
    g = torch.Generator().manual_seed(0)
    parts = SpectralBands(M).decompose(torch.randn(1, 1, 28, 28, generator=g, dtype=torch.float64))[0]
    patterns = parts / parts.flatten(1).norm(dim=1)[:, None, None, None]  # (M, 1, 28, 28), orthonormal bands
    n = table.shape[0]
    images = (torch.arange(1, n + 1, dtype=torch.float64)[:, None, None, None] * patterns.sum(0)).float()
    return LookupModel(table, targets, patterns, empty_logits).eval(), TensorDataset(images, targets)


class Design:
    """A named way to spend F evaluations."""

    def __init__(self, name, estimator=None, budget=None, independent=False):
        self.name, self.estimator, self.budget, self.independent = name, estimator, budget, independent

    def run(self, model, pool, table, f, seed, n_bootstrap=0):
        """The SpectralImportance of one seeded run at F evaluations (ψ only for the simulated design)."""
        g = torch.Generator().manual_seed(seed)
        if self.independent:  # the reference code: each coalition on its own random images
            idx = torch.randint(0, table.shape[0], (f // 2**M, 2**M), generator=g)
            return shapley_weights(M) @ table.gather(0, idx).mean(0)
        sampler = RandomSampler(pool, replacement=True, num_samples=len(pool), generator=g)
        loader = DataLoader(pool, batch_size=100, sampler=sampler)
        res = IASIDE(model, bands=M).attribute_global(
            loader,
            estimator=self.estimator,
            budget=self.budget,
            max_evaluations=f,
            n_bootstrap=n_bootstrap,
            seed=seed,
            perturbations_per_eval=64,
        )
        assert res.config["evaluations"] <= f, (self.name, res.config["evaluations"], f)
        return res


DESIGNS = [
    Design("exact values per image (2^M each)", "exact"),
    Design("independent images per coalition (reference code)", independent=True),
    Design("antithetic permutation pair per image", PermutationShapley(), 2 + 2 * (M - 1)),
    Design("paired KernelSHAP per image", KernelShapley(), 2 + 2 * M),
    Design("one permutation per image", PermutationShapley(antithetic=False), M + 1),
    Design("one stratified permutation per image", PermutationShapley(antithetic=False, stratified=True), M + 1),
    Design(
        "2 stratified permutations per image", PermutationShapley(antithetic=False, stratified=True), 2 + 2 * (M - 1)
    ),
    Design(
        "4 stratified permutations per image", PermutationShapley(antithetic=False, stratified=True), 2 + 4 * (M - 1)
    ),
    Design("automatic design (estimator=None)"),
]


def errors(design: Design, model, pool, table, truth, f, reps, seed):
    sq, srs_sq, images = [], [], []
    for r in range(reps):
        res = design.run(model, pool, table, f, seed * 100_003 + r)
        psi = res if isinstance(res, torch.Tensor) else res.values
        images.append(f // 2**M if isinstance(res, torch.Tensor) else res.n_samples)
        sq.append(float(((psi - truth) ** 2).sum()))
        srs_sq.append((srs(psi) - srs(truth)) ** 2)
    return float(np.mean(sq)), math.sqrt(float(np.mean(srs_sq))), float(np.mean(images))


def needed(curve_f, curve_err, target):
    """Evaluations at which a decreasing error curve reaches target (log-log interpolation)."""
    lf, le = np.log(curve_f), np.log(curve_err)
    if target >= curve_err[0]:
        return curve_f[0] * math.exp((le[0] - math.log(target)) / ((le[0] - le[1]) / (lf[1] - lf[0])))
    for i in range(len(lf) - 1):
        if curve_err[i + 1] <= target <= curve_err[i]:
            t = (math.log(target) - le[i]) / (le[i + 1] - le[i])
            return math.exp(lf[i] + t * (lf[i + 1] - lf[i]))
    slope = (le[-1] - le[-2]) / (lf[-1] - lf[-2])
    return math.exp(lf[-1] + (math.log(target) - le[-1]) / slope)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=3000)
    p.add_argument("--reps", type=int, default=200)
    p.add_argument("--budget", type=int, default=8192, help="F of the table")
    p.add_argument("--out", default=os.path.join("benchmarks", "budget_designs.md"))
    p.add_argument("--figure", default=os.path.join("docs", "budget-designs.png"))
    p.add_argument("--cache", default=None, help="file to keep the coalition values in between runs")
    args = p.parse_args()
    torch.set_num_threads(2)
    start = time.perf_counter()
    if args.cache and os.path.exists(args.cache):
        table, targets, empty = torch.load(args.cache, weights_only=True)
    else:
        table, targets, empty = coalition_values(args.images)
        if args.cache:
            torch.save((table, targets, empty), args.cache)
    t_table = time.perf_counter() - start
    phi = table @ shapley_weights(M).T
    truth = phi.mean(0)
    model, pool = lookup_data(table, targets, empty)
    f, reps = args.budget, args.reps
    lines = [
        f"Fashion-MNIST CNN (docs/robustness/standard.pt), M = {M}, zero baseline, log p(true class); "
        "truth: exact ψ on "
        f"{len(pool)} test images ({len(pool) * 2**M:,} evaluations, {t_table:.0f} s); SRS of the truth "
        f"{srs(truth):.4f}. Between-image s.d. of φ per band: {' '.join(f'{v:.3f}' for v in phi.std(0).tolist())}.",
        "",
        f"At F = {f:,} evaluations ({reps} seeded runs of each design; images drawn with replacement from the pool):",
        "",
        "| design | images | ψ squared error | ÷ by it, exact-per-image's | SRS RMSE | ÷ by it, exact-per-image's |",
        "|---|---|---|---|---|---|",
    ]
    results = {d.name: errors(d, model, pool, table, truth, f, reps, seed=1) for d in DESIGNS}
    base_sq, base_srs, _ = results[DESIGNS[0].name]
    for d in DESIGNS:
        sq, rmse, images = results[d.name]
        shown = f"{images:.0f} per coalition" if d.independent else f"{images:.0f}"
        lines.append(f"| {d.name} | {shown} | {sq:.3g} | {base_sq / sq:.1f} | {rmse:.4f} | {base_srs / rmse:.2f} |")

    # evaluations exact-per-image values need to match the automatic design at F: measured on its own error curve,
    # and for ψ also from the variance decomposition (exact values on K images drawn with replacement have
    # E‖ψ̂ − ψ‖² = Σ_i Var(φ_i) / K over the pool, no within-image term)
    grid = [f * 2**j for j in range(6)]
    exact_curve = [errors(DESIGNS[0], model, pool, table, truth, fj, max(reps // 2, 50), seed=2) for fj in grid]
    auto_sq, auto_srs, _ = results[DESIGNS[-1].name]
    need_sq = needed(grid, [e[0] for e in exact_curve], auto_sq)
    need_srs = needed(grid, [e[1] for e in exact_curve], auto_srs)
    between = float(phi.var(0, unbiased=False).sum())
    per_image = f / results[DESIGNS[0].name][2]
    need_sq_theory = between / auto_sq * per_image
    lines += [
        "",
        f"Exact values per image need {need_sq / f:.1f}× the evaluations ({need_sq:,.0f}) to reach the automatic "
        f"design's ψ squared error at F = {f:,}, and {need_srs / f:.1f}× ({need_srs:,.0f}) to reach its SRS RMSE "
        "(interpolated on exact-per-image's own error curve, measured at F·2^j, j = 0..5, "
        f"{max(reps // 2, 50)} runs each). "
        f"From the variance decomposition, exact values reach that ψ error on Σ Var(φ_i) / error = {between:.3f} / "
        f"{auto_sq:.3g} = {between / auto_sq:,.0f} images, {need_sq_theory / f:.1f}× the evaluations "
        f"({need_sq_theory:,.0f} at {per_image:.0f} per image).",
    ]

    # coverage of the automatic design's intervals
    hits, hits_srs = torch.zeros(M), 0
    for r in range(reps):
        res = DESIGNS[-1].run(model, pool, table, f, 3 * 100_003 + r, n_bootstrap=200)
        hits += ((res.values_ci[0] <= truth) & (truth <= res.values_ci[1])).float()
        hits_srs += res.srs_ci[0] <= srs(truth) <= res.srs_ci[1]
    lines += [
        "",
        f"Coverage of the automatic design's 95 % bootstrap intervals at F = {f:,} ({reps} runs): ψ per band "
        f"{' '.join(f'{v:.3f}' for v in (hits / reps).tolist())}; SRS {hits_srs / reps:.3f}.",
    ]

    # figure: error against evaluations
    fs = [2048, 4096, 8192, 16384, 32768, 65536]
    shown = [DESIGNS[i] for i in (0, 1, 2, 3, 5, 8)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    curve_rows = [
        "",
        f"Error against evaluations, ψ squared error / SRS RMSE ({max(reps // 4, 50)} runs each):",
        "",
        "| design | " + " | ".join(f"F = {x:,}" for x in fs) + " |",
        "|---|" + "---|" * len(fs),
    ]
    for d in shown:
        errs = [errors(d, model, pool, table, truth, fj, max(reps // 4, 50), seed=4) for fj in fs]
        axes[0].loglog(fs, [e[0] for e in errs], marker="o", label=d.name)
        axes[1].loglog(fs, [e[1] for e in errs], marker="o", label=d.name)
        curve_rows.append(f"| {d.name} | " + " | ".join(f"{e[0]:.2g} / {e[1]:.3f}" for e in errs) + " |")
    axes[0].set_ylabel("ψ squared error (sum over bands)")
    axes[1].set_ylabel("SRS RMSE")
    for ax in axes:
        ax.set_xlabel("model evaluations F")
        ax.set_xticks(fs, [f"{x // 1024}k" for x in fs])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Global I-ASIDE at a budget — Fashion-MNIST CNN, M = {M}, truth: exact on {len(pool)} images")
    fig.tight_layout()
    fig.savefig(args.figure, dpi=100)
    lines += curve_rows
    write_report(lines, args.out, start)


if __name__ == "__main__":
    main()

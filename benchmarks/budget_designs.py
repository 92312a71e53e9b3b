"""Global I-ASIDE at a budget: the error of each design at equal model evaluations, and of stratified images.

    python benchmarks/budget_designs.py [--images 3000] [--reps 200] [--section all|designs|strata]

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

The strata section (``benchmarks/budget_strata.md``, ``docs/budget-strata.png``) samples images without
replacement from the pool, as a user's data set is read, and sets today's automatic design (the images in
random order) against the same design on images in stratified order: ``strata="target"`` (the labels) and a
tensor of the CNN's predicted classes (computed once, outside the budget), at 2,048–32,768 evaluations, with
the ψ squared error, the SRS RMSE, the reported variance and the coverage of the 95 % intervals against the
pool's exact ψ, on the pool and on a pool four times as large (every image four times, so its exact ψ is the
same and the budget reaches under 10 % of it). Neyman allocation is weighed against proportional allocation
from the per-class spreads of one-permutation estimates measured on the whole pool.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings

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
            strata=None,  # images drawn at random: the designs differ only in how they spend an image's share
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


def label_error_axes(axes, fs: list[int]) -> None:
    """The two panels of an error-against-evaluations figure: ψ squared error and SRS RMSE."""
    axes[0].set_ylabel("ψ squared error (sum over bands)")
    axes[1].set_ylabel("SRS RMSE")
    for ax in axes:
        ax.set_xlabel("model evaluations F")
        ax.set_xticks(fs, [f"{x // 1024}k" for x in fs])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)


def predicted_classes() -> torch.Tensor:
    """The Fashion-MNIST CNN's predicted class of every test image (label-free strata, bought outside the budget)."""
    model = small_cnn()
    model.load_state_dict(torch.load(os.path.join(ROOT, "docs", "robustness", "standard.pt"), weights_only=True))
    model.eval()
    x, _ = fashion_mnist("test").tensors
    with torch.no_grad():
        return torch.cat([model(x[i : i + 500]).argmax(1) for i in range(0, len(x), 500)])


def stratified_run(model, pool, f, seed, strata, n_bootstrap=200):
    """One seeded run of the automatic design at F evaluations on images read without replacement."""
    g = torch.Generator().manual_seed(seed)
    shuffled = strata is None  # today's design: the images in random order
    loader = DataLoader(pool, batch_size=100, shuffle=shuffled, generator=g if shuffled else None)
    res = IASIDE(model, bands=M).attribute_global(
        loader, max_evaluations=f, n_bootstrap=n_bootstrap, seed=seed, perturbations_per_eval=64, strata=strata
    )
    assert res.config["evaluations"] <= f, (res.config["evaluations"], f)
    return res


def strata_errors(model, pool, truth, f, reps, seed, strata):
    """Mean ψ squared error, SRS RMSE, mean reported variance (sum over bands), ψ and SRS coverage, images."""
    sq, srs_sq, var, cover, cover_srs, images, spent = [], [], [], [], [], [], []
    for r in range(reps):
        res = stratified_run(model, pool, f, seed * 100_003 + r, strata)
        sq.append(float(((res.values - truth) ** 2).sum()))
        srs_sq.append((res.srs - srs(truth)) ** 2)
        var.append(float((res.stderr**2).sum()))
        cover.append(float(((res.values_ci[0] <= truth) & (truth <= res.values_ci[1])).double().mean()))
        cover_srs.append(res.srs_ci[0] <= srs(truth) <= res.srs_ci[1])
        images.append(res.n_samples)
        spent.append(res.config["evaluations"])
    return {
        "sq": float(np.mean(sq)),
        "srs": math.sqrt(float(np.mean(srs_sq))),
        "var": float(np.mean(var)),
        "cover": float(np.mean(cover)),
        "cover_srs": float(np.mean(cover_srs)),
        "images": float(np.mean(images)),
        "spent": max(spent),
    }


def within(phi: torch.Tensor, ids: torch.Tensor) -> float:
    """Σ_i of the within-stratum variance of φ_i (population form, weighted by stratum size)."""
    total = 0.0
    for h in ids.unique():
        rows = phi[ids == h]
        total += float(((rows - rows.mean(0)) ** 2).sum())
    return total / phi.shape[0]


def neyman_ratio(model, pool, targets) -> tuple[float, float]:
    """
    Variance of Neyman against proportional allocation by class (≤ 1), from the per-class spread of
    one-permutation estimates on every pool image (one run of the whole pool), allocating n_h ∝ W_h S_h with
    S_h² the per-class variance summed over bands; and the same with the oracle allocation per band (its floor).
    """
    res = IASIDE(model, bands=M).attribute_global(
        DataLoader(pool, batch_size=100),
        estimator=PermutationShapley(antithetic=False, stratified=True),
        budget=M + 1,
        n_bootstrap=0,
        by_class=True,
        perturbations_per_eval=64,
        strata=None,
    )
    counts = torch.tensor([targets.eq(c).sum() for c in sorted(res.by_class)], dtype=torch.float64)
    w = counts / counts.sum()
    s2 = torch.stack([res.by_class[c]["stderr"] ** 2 * res.by_class[c]["n_samples"] for c in sorted(res.by_class)])
    proportional = float((w[:, None] * s2).sum())  # × 1/n
    s = s2.sum(1).sqrt()
    share = w * s / (w * s).sum()  # n_h / n
    neyman = float(((w**2)[:, None] * s2 / share[:, None]).sum())
    oracle = float(((w[:, None] * s2.sqrt()).sum(0) ** 2).sum())
    return neyman / proportional, oracle / proportional


def strata_row(size: int, f: int, name: str, e: dict, base: float) -> str:
    return (
        f"| {size:,} | {f:,} | {name} | {e['images']:.0f} | {e['sq']:.3g} | {base / e['sq']:.2f}× | {e['var']:.3g} | "
        f"{e['srs']:.4f} | {e['cover']:.3f} | {e['cover_srs']:.3f} | {e['spent']:,} |"
    )


def strata_section(args, table, targets, empty, phi, truth, start) -> None:
    model, pool = lookup_data(table, targets, empty)
    n = len(pool)
    predicted = predicted_classes()[:n]
    big = torch.utils.data.ConcatDataset([pool] * 4)
    big.targets = targets.repeat(4)  # what the stratified design reads (as ImageFolder's .targets)
    between = float(phi.var(0, unbiased=False).sum())
    by_label, by_prediction = within(phi, targets), within(phi, predicted)
    fs = [2048, 4096, 8192, 16384, 32768]
    designs = [
        ("images in random order (today)", None),
        ("strata='target'", "target"),
        ("strata=predicted class", predicted),
    ]
    lines = [
        f"Fashion-MNIST CNN (docs/robustness/standard.pt), M = {M}, zero baseline, log p(true class); truth: exact ψ "
        f"on {n} test images; images read without replacement. Σ_i Var φ_i over the pool {between:.3f}; within classes "
        f"{by_label:.3f} (the class explains {1 - by_label / between:.0%} of it); within predicted classes "
        f"{by_prediction:.3f} ({1 - by_prediction / between:.0%}). The automatic design is one stratified permutation "
        f"per image on as many images as F reaches; the strata change only which images it reads and how it weighs "
        f"them. {args.reps} seeded runs per cell; coverage: the share of bands (ψ) and of runs (SRS) whose 95 % "
        "bootstrap interval holds the truth.",
        "",
        "| pool | F | design | images | ψ squared error | gain | reported variance | SRS RMSE | ψ coverage | "
        "SRS coverage | most evaluations spent |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    curves: dict[str, list[dict]] = {name: [] for name, _ in designs}
    for f in fs:
        base = None
        for name, strata in designs:
            e = strata_errors(model, pool, truth, f, args.reps, seed=5, strata=strata)
            curves[name].append(e)
            base = e["sq"] if base is None else base
            lines.append(strata_row(n, f, name, e, base))
    f = args.budget
    base = None
    big_rows = []
    for name, strata in designs[:2]:
        e = strata_errors(model, big, truth, f, args.reps, seed=6, strata=strata)
        base = e["sq"] if base is None else base
        big_rows.append(strata_row(len(big), f, name, e, base))
    lines += big_rows
    g = torch.Generator().manual_seed(7)
    singleton = targets.clone()
    singleton[0] = 10  # one image a stratum of its own
    hard = [
        ("1,500 random strata of 2 images", torch.randperm(n, generator=g) // 2, f),
        ("1,000 strata of 3 images (class × index)", targets * 1000 + torch.arange(n) % 100, f),
        ("the classes and a stratum of one image", singleton, f),
        ("the classes, F = 45: 5 images for 10 classes", targets, 45),
        ("the classes, F = 90: 10 images for 10 classes", targets, 90),
    ]
    lines += [
        "",
        f"Strata that cannot help, and budgets that miss classes ({args.reps} runs each, against the images in random "
        "order at the same F):",
        "",
        "| strata | F | images | ψ squared error, random order | stratified | ratio (≥ 1: stratified no worse) | "
        "ψ coverage, stratified | most evaluations spent |",
        "|---|---|---|---|---|---|---|---|",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unseen classes at F = 45 are reported in config, and warned of
        for name, ids, f_hard in hard:
            plain = strata_errors(model, pool, truth, f_hard, args.reps, seed=8, strata=None)
            strat = strata_errors(model, pool, truth, f_hard, args.reps, seed=8, strata=ids)
            lines.append(
                f"| {name} | {f_hard:,} | {strat['images']:.0f} | {plain['sq']:.3g} | {strat['sq']:.3g} | "
                f"{plain['sq'] / strat['sq']:.2f} | {strat['cover']:.3f} | {strat['spent']:,} |"
            )
    ney, oracle = neyman_ratio(model, pool, targets)
    lines += [
        "",
        f"The pool of {len(big):,} holds every image of the {n:,} four times (its exact ψ is theirs); the budget "
        f"reaches {curves[designs[0][0]][fs.index(f)]['images'] / len(big):.1%} of it. Neyman allocation by class "
        f"(n_h ∝ W_h S_h, S_h the per-class spread of one-permutation estimates measured on the whole pool) "
        f"would change the variance of proportional allocation by {ney:.3f}× (one allocation for all bands; "
        f"{oracle:.3f}× with a separate allocation per band, which one run cannot have). The spreads are not known "
        "before a run, so the design allocates in proportion, which never loses to random images.",
    ]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, _ in designs:
        axes[0].loglog(fs, [e["sq"] for e in curves[name]], marker="o", label=name)
        axes[1].loglog(fs, [e["srs"] for e in curves[name]], marker="o", label=name)
    reached = np.array([e["images"] for e in curves[designs[0][0]]])
    fpc = 1 - reached / n
    axes[0].loglog(fs, between * fpc / reached, "k--", lw=1, label="between-image floor, random images")
    axes[0].loglog(
        fs,
        by_label * fpc / reached,
        "k:",
        lw=1,
        label="between-image floor, stratified by class",
    )
    label_error_axes(axes, fs)
    fig.suptitle(f"Stratified images — Fashion-MNIST CNN, M = {M}, {n:,} images read without replacement")
    fig.tight_layout()
    fig.savefig(args.strata_figure, dpi=100)
    write_report(lines, args.strata_out, start)


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
    p.add_argument("--section", choices=["all", "designs", "strata"], default="all")
    p.add_argument("--strata-out", default=os.path.join("benchmarks", "budget_strata.md"))
    p.add_argument("--strata-figure", default=os.path.join("docs", "budget-strata.png"))
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
    if args.section in ("all", "strata"):
        strata_section(args, table, targets, empty, phi, truth, start)
        if args.section == "strata":
            return
        start = time.perf_counter()
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
    label_error_axes(axes, fs)
    fig.suptitle(f"Global I-ASIDE at a budget — Fashion-MNIST CNN, M = {M}, truth: exact on {len(pool)} images")
    fig.tight_layout()
    fig.savefig(args.figure, dpi=100)
    lines += curve_rows
    write_report(lines, args.out, start)


if __name__ == "__main__":
    main()

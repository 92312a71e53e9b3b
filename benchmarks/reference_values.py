"""Reference values of global I-ASIDE on the bundled photos, for docs/interpreting.md.

    python benchmarks/reference_values.py [--out benchmarks/reference_values.md]

Every run is exact (all 2^8 = 256 coalitions per image), M = 8 square bands, the log-probability of the
model's own prediction (label-free), seed 0, 200 bootstrap replicates, the 7 photos bundled with
scikit-image and scikit-learn in one batch, preprocessed with EfficientNet-Lite's own mean and std.

(a) EfficientNet-Lite0 at 128, 160 and 224 px × the zero, shuffle and gaussian (std 1 in input units)
    baselines: 9 runs. The 160 px zero-baseline cell is the Lite0 result of (b), the same run.
(b) EfficientNet-Lite0, -Lite1 and -Lite2 at 160 px, zero baseline, paired with ``compare_global`` (same
    images, baselines and coalitions; the bootstrap gives every image the same weights for every model):
    SRS and ΔSRS against Lite0 with its paired interval.
(c) SRS of a few hand-made SIDs: the reference points of the score.

The tables are written to benchmarks/reference_values.md with the machine, versions and wall times.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch
from torch.utils.data import DataLoader

from captum_iaside import IASIDE, compare_global, spectral_robustness_score, tune_cpu
from captum_iaside.cli.data import EMBEDDED_PHOTOS, embedded_photos, preprocess
from captum_iaside.game.baselines import GaussianBaseline
from captum_iaside.models import load_model
from captum_iaside.results.importance import SpectralImportance
from captum_iaside.results.summaries import max_spectral_robustness_score

M = 8
RESOLUTIONS = (128, 160, 224)
BASELINES = ("zero", "shuffle", "gaussian")
MODELS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
COMMON_RESOLUTION = 160
SEED = 0


def loader_for(resolution: int, mean, std) -> DataLoader:
    photos = embedded_photos(preprocess(resolution, mean, std))
    return DataLoader(photos, batch_size=len(EMBEDDED_PHOTOS), shuffle=False)


def baseline_spec(name: str):
    return GaussianBaseline(1.0) if name == "gaussian" else name


def summary(res: SpectralImportance) -> dict:
    psi = res.values
    weakest = int(psi.argmin())
    return {
        "srs": res.srs,
        "srs_ci": res.srs_ci,
        "signed_srs": res.signed_srs,
        "direction": res.direction,
        "share01": float(psi[:2].sum() / psi.sum()),
        "v_full": res.v_full,
        "v_empty": res.v_empty,
        "psi": psi.tolist(),
        "stderr": res.stderr.tolist(),
        "significant": res.significant.tolist(),
        "weakest": weakest,
        "weakest_significant": bool(res.significant[weakest]),
        "ppe": res.config.get("perturbations_per_eval"),
    }


def predictions(model: torch.nn.Module, loader: DataLoader) -> list[int]:
    (x,) = next(iter(loader))
    with torch.no_grad():
        return model(x.contiguous(memory_format=torch.channels_last)).argmax(1).tolist()


def fmt_ci(ci) -> str:
    return f"[{ci[0]:.4f}, {ci[1]:.4f}]"


def score_cells(row: dict) -> str:
    """The cells SRS | its CI | signed SRS | share of bands 0–1 | v(N) | v(∅) of a summary."""
    return (
        f"{row['srs']:.4f} | {fmt_ci(row['srs_ci'])} | {row['signed_srs']:+.4f} | {row['share01']:.2f} | "
        f"{row['v_full']:.3f} | {row['v_empty']:.3f}"
    )


def psi_cells(row: dict) -> str:
    return " | ".join(f"{v:+.3f}{'' if sig else '~'}" for v, sig in zip(row["psi"], row["significant"], strict=True))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_values.md"))
    args = p.parse_args()
    tuning = tune_cpu()
    print(tuning.message, flush=True)
    start_all = time.perf_counter()

    loaded = {name: load_model(name) for name in MODELS}
    models = {name: lm.model.to(memory_format=torch.channels_last) for name, lm in loaded.items()}
    mean, std = loaded["efficientnet-lite0"].mean, loaded["efficientnet-lite0"].std
    assert all(lm.mean == mean and lm.std == std for lm in loaded.values()), "the Lite models preprocess alike"

    # (b) the three models, paired, at the common resolution (also the 160 px zero cell of (a))
    loader = loader_for(COMMON_RESOLUTION, mean, std)
    tic = time.perf_counter()
    comp = compare_global(
        models,
        loader,
        bands=M,
        baseline="zero",
        use_labels=False,
        perturbations_per_eval="auto",
        seed=SEED,
    )
    compare_seconds = time.perf_counter() - tic
    print(f"(b) compare_global of {len(MODELS)} models: {compare_seconds:.1f} s", flush=True)
    preds = {name: predictions(model, loader) for name, model in models.items()}

    # (a) Lite0: resolution x baseline
    lite0 = models["efficientnet-lite0"]
    grid: dict[tuple[int, str], dict] = {}
    seconds: dict[tuple[int, str], float] = {}
    res_preds: dict[int, list[int]] = {}
    for resolution in RESOLUTIONS:
        loader = loader_for(resolution, mean, std)
        res_preds[resolution] = predictions(lite0, loader)
        for baseline in BASELINES:
            if (resolution, baseline) == (COMMON_RESOLUTION, "zero"):
                grid[resolution, baseline] = summary(comp.results["efficientnet-lite0"])
                seconds[resolution, baseline] = float("nan")
                continue
            tic = time.perf_counter()
            res = IASIDE(lite0, bands=M, baseline=baseline_spec(baseline)).attribute_global(
                loader, use_labels=False, perturbations_per_eval="auto", seed=SEED
            )
            seconds[resolution, baseline] = time.perf_counter() - tic
            grid[resolution, baseline] = summary(res)
            print(
                f"(a) {resolution} px, {baseline}: SRS {res.srs:.4f}, {seconds[resolution, baseline]:.1f} s",
                flush=True,
            )
    total = time.perf_counter() - start_all

    # (c) reference points of the score
    points = [
        ("uniform over all 8 bands", [1 / 8] * 8),
        ("uniform over bands 0–3", [0.25] * 4 + [0.0] * 4),
        ("uniform over bands 4–7", [0.0] * 4 + [0.25] * 4),
        ("all on band 0", [1.0] + [0.0] * 7),
        ("all on band 7", [0.0] * 7 + [1.0]),
    ]

    out: list[str] = []
    w = out.append
    w("# Reference values: EfficientNet-Lite on the bundled photos\n")
    gpu = "a GPU present but unused" if torch.cuda.is_available() else "no GPU"
    w(
        f"Measured by `python benchmarks/reference_values.py` on {platform.machine()}, "
        f"{torch.get_num_threads()} CPU threads, {gpu}; "
        f"Python {platform.python_version()}, torch {torch.__version__}. "
        f'Total wall time {total:.0f} s (`tune_cpu()`, channels-last models, `perturbations_per_eval="auto"`).\n'
    )
    w(
        f"Every run: the {len(EMBEDDED_PHOTOS)} bundled photos ({', '.join(EMBEDDED_PHOTOS)}) in one batch, "
        "resized and centre-cropped, EfficientNet-Lite's mean and std; M = 8 square bands, exact (256 coalitions "
        "per photo); value log p of the model's own prediction on the full photo (label-free); seed 0; "
        "95% intervals from 200 Poisson-bootstrap replicates over the photos. ψ and v are in nats.\n"
    )
    w("## (a) EfficientNet-Lite0: resolution × baseline\n")
    w(
        "`gaussian` is white noise of std 1 in input units; `shuffle` replaces a band by the same band of "
        "another of the 7 photos (a seeded derangement). Share 0–1 is (ψ₀ + ψ₁) / Σψ; Σψ = v(N) − v(∅). "
        f"The {COMMON_RESOLUTION} px zero-baseline row is the Lite0 run of (b).\n"
    )
    w("| px | baseline | SRS | SRS 95% CI | signed SRS | share 0–1 | v(N) | v(∅) | weakest band | time (s) |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for resolution in RESOLUTIONS:
        for baseline in BASELINES:
            r = grid[resolution, baseline]
            s = seconds[resolution, baseline]
            t = "(b)" if s != s else f"{s:.0f}"
            weak = f"{r['weakest']}{'' if r['weakest_significant'] else ' ~'}"
            w(f"| {resolution} | {baseline} | {score_cells(r)} | {weak} | {t} |")
    w("")
    w("ψ per band (`~`: the 95% interval holds 0):\n")
    w("| px | baseline | " + " | ".join(f"ψ{i}" for i in range(M)) + " |")
    w("|---|---|" + "---|" * M)
    for resolution in RESOLUTIONS:
        for baseline in BASELINES:
            w(f"| {resolution} | {baseline} | {psi_cells(grid[resolution, baseline])} |")
    w("")
    base = res_preds[COMMON_RESOLUTION]
    agree = ", ".join(
        f"{r} px: {sum(a == b for a, b in zip(res_preds[r], base, strict=True))}/{len(base)}" for r in RESOLUTIONS
    )
    w(f"Lite0's predicted class agrees with its {COMMON_RESOLUTION} px prediction on {agree} photos.\n")

    w(f"## (b) EfficientNet-Lite0, -Lite1, -Lite2 at {COMMON_RESOLUTION} px, paired\n")
    w(
        "`compare_global` with the zero baseline: the three models see the same photos and coalitions, and "
        f"the bootstrap weights every photo alike for all three. Wall time {compare_seconds:.0f} s for the three.\n"
    )
    w("| model | SRS | SRS 95% CI | signed SRS | share 0–1 | v(N) | v(∅) | ΔSRS vs Lite0 | paired 95% CI |")
    w("|---|---|---|---|---|---|---|---|---|")
    reference = MODELS[0]
    summaries = {name: summary(comp.results[name]) for name in MODELS}
    for name, r in summaries.items():
        if name == reference:
            delta = "— | —"
        else:
            est, ci = comp.srs_difference(name, reference)
            delta = f"{est:+.4f} | [{ci[0]:+.4f}, {ci[1]:+.4f}]"
        w(f"| {name} | {score_cells(r)} | {delta} |")
    w("")
    w("ψ per band (`~`: the 95% interval holds 0):\n")
    w("| model | " + " | ".join(f"ψ{i}" for i in range(M)) + " |")
    w("|---|" + "---|" * M)
    for name, r in summaries.items():
        w(f"| {name} | {psi_cells(r)} |")
    w("")
    w("Δψ against Lite0 per band ± paired standard error:\n")
    w("| model | " + " | ".join(f"Δψ{i}" for i in range(M)) + " |")
    w("|---|" + "---|" * M)
    for name in MODELS[1:]:
        d = comp.values_difference(name, reference)
        cells = " | ".join(f"{v:+.3f} ± {s:.3f}" for v, s in zip(d.values.tolist(), d.stderr.tolist(), strict=True))
        w(f"| {name} | {cells} |")
    w("")
    same = sum(len(set(col)) == 1 for col in zip(*preds.values(), strict=True))
    w(
        f"Label-free, each model explains its own prediction: the three predict the same class on {same} of "
        f"{len(EMBEDDED_PHOTOS)} photos at {COMMON_RESOLUTION} px.\n"
    )

    w("## (c) Reference points of the score (M = 8, β = 0.75)\n")
    w("| SID | SRS | signed SRS |")
    w("|---|---|---|")
    for label, sid in points:
        w(f"| {label} | {spectral_robustness_score(sid):.4f} | {spectral_robustness_score(sid, signed=True):+.4f} |")
    w("")
    maxima = ", ".join(f"M = {m}: {max_spectral_robustness_score(m):.4f}" for m in (4, 8, 12))
    w(f"Largest SRS (all importance on band 0): {maxima}.")

    text = "\n".join(out) + "\n"
    with open(args.out, "w") as fh:
        fh.write(text)
    print(text)
    print(f"written to {args.out}; {total:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

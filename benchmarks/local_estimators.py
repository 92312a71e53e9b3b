"""Per-image I-ASIDE at a budget: our estimators against shapiq's and Captum's on the same exact games.

    python benchmarks/local_estimators.py [--seeds 20] [--out benchmarks/local_estimators.md]
    SHAPIQ_PYTHON=/path/to/python python benchmarks/local_estimators.py   # the peer's environment

Games, M = 10, 12 and 16 square bands, zero baseline, log-probability of the predicted class: (a) a small CNN
with random weights (two tanh convolutions, seed 0) on 4 photos bundled with scikit-image (chelsea, coffee,
astronaut, rocket) and 4 Gaussian-noise images, all at 32 × 32; (b) the trained Fashion-MNIST CNN of
docs/robustness on the first 8 test images (28 × 28, too small for 16 square bands; needs Debian's
dataset-fashion-mnist, else skipped). Every coalition value is computed once with the project's game (2^16 =
65,536 per image at M = 16), so the exact Shapley values are known: from the package's weights up to M = 12, and
by summing the weighted marginal contributions directly beyond. Each estimator then runs
on the stored values (captum_iaside.game.table_game.TableGame: each lookup is one evaluation, ∅ and N included)
with --seeds seeds per budget; reported is the RMSE over bands, averaged over images and seeds.

shapiq (kADDSHAP of order 2, KernelSHAP with the pairing trick) runs in its own environment (SHAPIQ_PYTHON,
default benchmarks/.peer-venv/bin/python) through benchmarks/peer_shapiq.py; without it the peer columns say
"peer skipped". Captum's ShapleyValueSampling runs on the same table through gates.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from captum.attr import ShapleyValueSampling

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fashion_mnist_data import fashion_mnist  # noqa: E402
from report import write_report  # noqa: E402
from robustness_study import small_cnn as fashion_cnn  # noqa: E402

from captum_iaside import KernelShapley, PermutationShapley, SpectralBands  # noqa: E402
from captum_iaside.cli.data import embedded_photos, preprocess  # noqa: E402
from captum_iaside.estimators.exact import exact_shapley  # noqa: E402
from captum_iaside.estimators.selection import resolve_estimator  # noqa: E402
from captum_iaside.execution.workspace import Workspace  # noqa: E402
from captum_iaside.game.coalitions import coalition_matrix  # noqa: E402
from captum_iaside.game.spectral_game import SpectralGame  # noqa: E402
from captum_iaside.game.table_game import TableGame  # noqa: E402
from captum_iaside.game.value_functions import ValueFunction  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUDGETS = (48, 96, 192, 384, 768)
PEER = os.environ.get("SHAPIQ_PYTHON", os.path.join(HERE, ".peer-venv", "bin", "python"))


def random_cnn() -> torch.nn.Module:
    """Two tanh convolutions with N(0, 0.5²) weights (seed 0): outputs that vary with the bands."""
    g = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3, padding=1),
        torch.nn.Tanh(),
        torch.nn.Conv2d(6, 6, 3, stride=2, padding=1),
        torch.nn.Tanh(),
        torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(24, 10),
    )
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return model.eval()


def games(m: int) -> dict[str, torch.Tensor]:
    """Name -> (8, 2^M) coalition values of its 8 images."""
    photos = embedded_photos(preprocess(32, (0.5,) * 3, (0.5,) * 3), names=("chelsea", "coffee", "astronaut", "rocket"))
    noise = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    out = {"random CNN, photos + noise": values(random_cnn(), torch.cat([photos.tensors[0], noise]), m)}
    if m > 14:  # 28 × 28 images have 15 distinct square radii
        return out
    try:
        x = fashion_mnist("test").tensors[0][:8]
    except FileNotFoundError:
        return out
    model = fashion_cnn()
    model.load_state_dict(torch.load(os.path.join(HERE, "..", "docs", "robustness", "standard.pt"), weights_only=True))
    out["Fashion-MNIST CNN"] = values(model.eval(), x, m)
    return out


def values(model: torch.nn.Module, x: torch.Tensor, m: int) -> torch.Tensor:
    with torch.no_grad():
        y = model(x).argmax(1)
    game = SpectralGame(model, SpectralBands(m), x, torch.zeros_like(x[:1]), ValueFunction("log_prob"), y)
    game.workspace = Workspace(256)
    z = coalition_matrix(m)
    return torch.cat([game.values(z[i : i + 4096]) for i in range(0, z.shape[0], 4096)], dim=1)


def exact_values(table: torch.Tensor) -> torch.Tensor:
    """Exact Shapley values: the package's weights up to M = 12, the weighted marginal contributions beyond."""
    m = table.shape[1].bit_length() - 1
    if m <= 12:
        return exact_shapley(table)
    index = torch.arange(2**m)
    sizes = ((index[:, None] >> torch.arange(m)) & 1).sum(1)
    weight = torch.tensor([1 / (m * math.comb(m - 1, s)) for s in range(m)], dtype=torch.float64)
    phi = torch.zeros(table.shape[0], m, dtype=torch.float64)
    for i in range(m):
        without = index[(index >> i) & 1 == 0]
        phi[:, i] = ((table[:, without | (1 << i)] - table[:, without]).double() * weight[sizes[without]]).sum(1)
    return phi


def rmse(phi: torch.Tensor, exact: torch.Tensor) -> float:
    return float(((phi - exact) ** 2).mean(dim=-1).sqrt().mean())


def ours(estimator, table: torch.Tensor, exact: torch.Tensor, budget: int, seeds: int) -> float | None:
    m = table.shape[1].bit_length() - 1
    if estimator != "auto" and estimator.minimum_budget(m) > budget:
        return None
    est, b = resolve_estimator(None if estimator == "auto" else estimator, budget, m)
    errs = []
    for s in range(seeds):
        game = TableGame(table)
        phi = est.estimate(game, b, torch.Generator().manual_seed(s)).values
        assert game.evaluations <= budget * table.shape[0]
        errs.append(rmse(phi, exact))
    return float(np.mean(errs))


def captum_svs(table: torch.Tensor, exact: torch.Tensor, budget: int, seeds: int) -> float:
    m = table.shape[1].bit_length() - 1
    powers = 2 ** torch.arange(m)

    def lookup(gates: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return table[index, (gates.round().long() * powers).sum(1)]

    n = max(1, (budget - 1) // m)  # ShapleyValueSampling spends 1 + n·M evaluations
    errs = []
    for s in range(seeds):
        torch.manual_seed(s)
        index = torch.arange(table.shape[0])
        phi = ShapleyValueSampling(lookup).attribute(
            torch.ones(table.shape[0], m, dtype=torch.float64),
            baselines=0.0,
            additional_forward_args=index,
            n_samples=n,
        )
        errs.append(rmse(phi.double(), exact))
    return float(np.mean(errs))


def peer(table: torch.Tensor, exact: torch.Tensor, seeds: int) -> dict[str, list[float]] | None:
    if not os.path.exists(PEER):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        games, out = os.path.join(tmp, "games.npz"), os.path.join(tmp, "out.npz")
        np.savez(games, tables=table.numpy(), budgets=np.array(BUDGETS), seeds=np.arange(seeds))
        subprocess.run([PEER, os.path.join(HERE, "peer_shapiq.py"), games, out], check=True)
        result = np.load(out)
        ex = exact.numpy()
        return {
            name: [float(np.sqrt(((result[name][b] - ex) ** 2).mean(axis=-1)).mean()) for b in range(len(BUDGETS))]
            for name in ("kadd", "kernel")
        }


def fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3g}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--out", default=os.path.join("benchmarks", "local_estimators.md"))
    args = p.parse_args()
    torch.set_num_threads(2)
    start = time.perf_counter()
    lines = [
        "RMSE over bands against exact Shapley values, mean over the 8 images of a game and "
        f"{args.seeds} seeds; budget = evaluations per image, ∅ and N included.",
    ]
    verdicts = []
    for m in (10, 12, 16):
        for name, table in games(m).items():
            truth = exact_values(table)
            peers = peer(table, truth, args.seeds)
            lines += [
                "",
                f"**{name}, M = {m}**",
                "",
                "| budget | automatic | permutation | kernel (order 1) | kadd (order 2, unpaired) | kadd3 (order 3) "
                "| shapiq kADDSHAP(2) | shapiq KernelSHAP, paired | Captum ShapleyValueSampling | automatic picks |",
                "|---|---|---|---|---|---|---|---|---|---|",
            ]
            for j, budget in enumerate(BUDGETS):
                cols = [
                    ours(e, table, truth, budget, args.seeds)
                    for e in (
                        "auto",
                        PermutationShapley(),
                        KernelShapley(),
                        KernelShapley(order=2, paired=False),
                        KernelShapley(order=3),
                    )
                ]
                svs = captum_svs(table, truth, budget, args.seeds)
                chosen = resolve_estimator(None, budget, m)[0]
                peer_cols = ["peer skipped"] * 2 if peers is None else [fmt(peers["kadd"][j]), fmt(peers["kernel"][j])]
                cells = [str(budget), *(fmt(c) for c in cols), *peer_cols, f"{svs:.3g}", repr(chosen)]
                lines.append(f"| {' | '.join(cells)} |")
                if peers is not None:
                    verdicts.append((name, m, budget, cols[0], min(peers["kadd"][j], peers["kernel"][j])))
    if verdicts:
        wins = sum(auto <= best for *_, auto, best in verdicts)
        lines += [
            "",
            f"Automatic choice against the better of shapiq's two: at or below it in {wins} of {len(verdicts)} cells.",
            "",
        ]
        for name, m, budget, auto, best in verdicts:
            lines.append(
                f"- {name}, M = {m}, budget {budget}: ours {auto:.3g}, shapiq {best:.3g} (ratio {auto / best:.2f})"
            )
    write_report(lines, args.out, start)


if __name__ == "__main__":
    main()

"""Per-image I-ASIDE at a budget: our estimators against shapiq's and Captum's on exact games never designed on.

    python benchmarks/local_estimators.py [--half development|held-out|both] [--seeds 4] [--out FILE]
    python benchmarks/local_estimators.py --render-only   # the tables again from local_estimators.json
    SHAPIQ_PYTHON=/path/to/python python benchmarks/local_estimators.py   # the peer's environment

The games (benchmarks/local_games.py) are real and random models at M = 8, 10, 12 and 16 square bands whose
every coalition value is known, split into a development half and a held-out half, fixed before the automatic
choice was designed, that share no image and no (model, resolution) pair; each half is reported on its own.
Each estimator runs on the stored values (captum_iaside.game.table_game.TableGame: each lookup is one
evaluation, ∅ and N included) with --seeds seeds per budget, at the budgets below 2^M among 48-768 (and 1,024
and 2,048 at M ≥ 12); reported is the RMSE over bands against the exact Shapley values, averaged over images
and seeds.

Columns: the automatic choice (estimator=None), the rule it replaced (fixed thresholds of M and the budget, run
with the cross-validated penalties of today),
each of our estimators alone, shapiq's kADDSHAP (order 2), paired KernelSHAP, SVARM and permutation sampling
(shapiq 1.x in its own environment, SHAPIQ_PYTHON, default benchmarks/.peer-venv/bin/python, through
benchmarks/peer_shapiq.py; without it the peer columns say "peer skipped") and Captum's ShapleyValueSampling
on the same table through gates. The verdict compares the automatic choice with shapiq's best estimator of
each cell (the lowest of its four).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter

import numpy as np
import torch
from captum.attr import ShapleyValueSampling

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_games import HALVES, ExactGame, exact_games  # noqa: E402
from report import write_report  # noqa: E402

from captum_iaside import ExactShapley, KernelShapley, PermutationShapley, ShapleyEstimator  # noqa: E402
from captum_iaside.estimators.exact import exact_shapley  # noqa: E402
from captum_iaside.estimators.selection import resolve_estimator  # noqa: E402
from captum_iaside.game.table_game import TableGame  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.environ.get("SHAPIQ_PYTHON", os.path.join(HERE, ".peer-venv", "bin", "python"))
PEER_NAMES = {"kadd": "kADDSHAP(2)", "kernel": "KernelSHAP, paired", "svarm": "SVARM", "permutation": "permutation"}
OURS = {
    "permutation": PermutationShapley(),
    "kernel": KernelShapley(),
    "kadd": KernelShapley(order=2, paired=False),
    "kadd3": KernelShapley(order=3),
}


def budgets(m: int) -> list[int]:
    """48-768, and 1,024 and 2,048 at M ≥ 12, below 2^M (where exact enumeration fits)."""
    return [b for b in (48, 96, 192, 384, 768, 1024, 2048) if b < 2**m and (b <= 768 or m >= 12)]


def previous_rule(m: int, budget: int) -> ShapleyEstimator:
    """The automatic choice this benchmark replaced: fixed thresholds of M and the budget."""
    if m <= 12 and 2**m <= budget:
        return ExactShapley()
    if budget < 2 * m + 2:
        return PermutationShapley()
    if budget - 2 < 3 * m:
        return KernelShapley()
    if m <= 16 and budget - 2 >= max(8 * m, sum(math.comb(m, k) for k in (1, 2, 3)) / 2):
        return KernelShapley(order=3)
    return KernelShapley(order=2, paired=False)


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


def ours(
    estimator: ShapleyEstimator | None, game: ExactGame, exact: torch.Tensor, budget: int, seeds: int
) -> tuple[float | None, Counter]:
    """Mean RMSE over seeds (None below the estimator's minimum budget) and what the fits chose per image."""
    m = game.n_bands
    if estimator is not None and estimator.minimum_budget(m) > budget:
        return None, Counter()
    est, b = resolve_estimator(estimator, budget, m)
    errs, picks = [], Counter()
    for s in range(seeds):
        table_game = TableGame(game.table)
        result = est.estimate(table_game, b, torch.Generator().manual_seed(s))
        if table_game.evaluations > budget * game.table.shape[0]:
            raise AssertionError(f"{est!r} spent {table_game.evaluations} evaluations, over the budget {budget}")
        errs.append(rmse(result.values, exact))
        fits = result.fits
        if fits is None:
            picks.update([type(est).__name__] * game.table.shape[0])
        else:
            picks.update(f"order {k}" for k in fits.order.tolist())
    return float(np.mean(errs)), picks


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


def peers(game: ExactGame, exact: torch.Tensor, cells: list[int], seeds: int) -> dict[str, list[float]] | None:
    """
    shapiq's estimators' mean RMSE per budget of ``cells``, or None without shapiq's environment; kept in
    benchmarks/.cache/peers/ (the peers do not change with our estimators: rerun with the cache removed).
    """
    name = f"{game.name}, M={game.n_bands}, seeds={seeds}.json".replace("/", "_").replace(" ", "_")
    path = os.path.join(HERE, ".cache", "peers", name)
    if os.path.exists(path):
        with open(path) as f:
            cached = json.load(f)
        if cached["budgets"] == cells:
            return cached["rmse"]
    if not os.path.exists(PEER):
        return None
    table = game.table
    with tempfile.TemporaryDirectory() as tmp:
        games, out = os.path.join(tmp, "games.npz"), os.path.join(tmp, "out.npz")
        np.savez(games, tables=table.numpy(), budgets=np.array(cells), seeds=np.arange(seeds))
        subprocess.run([PEER, os.path.join(HERE, "peer_shapiq.py"), games, out], check=True)
        result = np.load(out)
        ex = exact.numpy()
        rmse_of = {
            name: [float(np.sqrt(((result[name][b] - ex) ** 2).mean(axis=-1)).mean()) for b in range(len(cells))]
            for name in PEER_NAMES
        }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"budgets": cells, "rmse": rmse_of}, f)
    return rmse_of


def fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3g}"


def measure_half(half: str, seeds: int) -> list[dict]:
    """One row per game and budget of ``half``: every estimator's mean RMSE and what the automatic choice picked."""
    rows = []
    for game in exact_games(half):
        truth = exact_values(game.table)
        cells = budgets(game.n_bands)
        peer = peers(game, truth, cells, seeds)
        for j, budget in enumerate(cells):
            t = time.perf_counter()
            auto, picks = ours(None, game, truth, budget, seeds)
            alone = {name: ours(e, game, truth, budget, seeds)[0] for name, e in OURS.items()}
            rule = previous_rule(game.n_bands, budget)  # one of OURS below 2^M: its errors are already measured
            rows.append(
                {
                    "half": half,
                    "game": game.name,
                    "n_bands": game.n_bands,
                    "n_images": game.table.shape[0],
                    "budget": budget,
                    "automatic": auto,
                    "previous rule": alone[next(name for name, e in OURS.items() if e == rule)],
                    **alone,
                    "Captum SVS": captum_svs(game.table, truth, budget, seeds),
                    "shapiq": None if peer is None else {n: peer[n][j] for n in PEER_NAMES},
                    "fits": dict(picks),
                }
            )
            print(
                f"{half}: {game.name}, M = {game.n_bands}, budget {budget}: {time.perf_counter() - t:.0f} s",
                file=sys.stderr,
            )
    return rows


def best_peer(row: dict) -> float | None:
    return None if row["shapiq"] is None else min(row["shapiq"].values())


def render(rows: list[dict], half: str) -> list[str]:
    """The tables and the verdict of one half."""
    lines = [f"### {half.capitalize()} half", ""]
    names = ["automatic", "previous rule", *OURS]
    games = dict.fromkeys((r["game"], r["n_bands"], r["n_images"]) for r in rows if r["half"] == half)
    for name, m, n in games:
        lines += [
            f"**{name}, M = {m}** ({n} images)",
            "",
            f"| budget | {' | '.join(names)} | "
            + " | ".join(f"shapiq {p}" for p in PEER_NAMES.values())
            + " | Captum SVS | automatic / shapiq's best | automatic's fits |",
            "|---" * (len(names) + len(PEER_NAMES) + 4) + "|",
        ]
        for r in rows:
            if (r["half"], r["game"], r["n_bands"]) != (half, name, m):
                continue
            best = best_peer(r)
            peer_cells = (
                ["peer skipped"] * len(PEER_NAMES) if best is None else [fmt(r["shapiq"][p]) for p in PEER_NAMES]
            )
            total = sum(r["fits"].values())
            chosen = ", ".join(
                f"{k} {100 * v / total:.0f} %" for k, v in sorted(r["fits"].items(), key=lambda kv: -kv[1])
            )
            ratio = "–" if best is None else f"{r['automatic'] / best:.2f}"
            cells = [str(r["budget"]), *(fmt(r[k]) for k in names), *peer_cells, fmt(r["Captum SVS"]), ratio, chosen]
            lines.append(f"| {' | '.join(cells)} |")
        lines.append("")
    scored = [r for r in rows if r["half"] == half and best_peer(r) is not None]
    if scored:
        ratios = [r["automatic"] / best_peer(r) for r in scored]
        before = [r["previous rule"] / best_peer(r) for r in scored]
        worst = max(scored, key=lambda r: r["automatic"] / best_peer(r))
        lines += [
            f"**Verdict, {half} half** ({len(scored)} cells): automatic / shapiq's best — median "
            f"{statistics.median(ratios):.2f}, worst {max(ratios):.2f} ({worst['game']}, M = {worst['n_bands']}, "
            f"budget {worst['budget']}); at most 1.05 in {sum(x <= 1.05 for x in ratios)} of {len(ratios)} cells, at "
            f"most 1.0 in {sum(x <= 1.0 for x in ratios)}. The previous rule: median {statistics.median(before):.2f}, "
            f"worst {max(before):.2f}, at most 1.05 in {sum(x <= 1.05 for x in before)}.",
            "",
        ]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--half", choices=[*HALVES, "both"], default="both")
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--out", default=os.path.join("benchmarks", "local_estimators.md"))
    p.add_argument(
        "--json",
        default=os.path.join("benchmarks", "local_estimators.json"),
        help="the measured rows; a half measured again replaces its rows, the other half's are kept",
    )
    p.add_argument(
        "--render-only", action="store_true", help="write the tables of the rows in --json, measuring nothing"
    )
    args = p.parse_args()
    torch.set_num_threads(2)
    start = time.perf_counter()
    halves = [] if args.render_only else list(HALVES) if args.half == "both" else [args.half]
    stored = {"seeds": args.seeds, "rows": [], "seconds": 0.0}
    if os.path.exists(args.json):
        with open(args.json) as fh:
            stored = json.load(fh)
    rows = [r for r in stored["rows"] if r["half"] not in halves]
    rows += [r for half in halves for r in measure_half(half, args.seeds)]
    if halves:
        stored = {"seeds": args.seeds, "rows": rows, "seconds": time.perf_counter() - start}
        with open(args.json, "w") as fh:
            json.dump(stored, fh, indent=1)
    lines = [
        "RMSE over bands against exact Shapley values, mean over the images of a game and "
        f"{stored['seeds']} seeds; budget = evaluations per image, ∅ and N included. The held-out half was fixed "
        "in benchmarks/local_games.py before the automatic choice was designed and evaluated once, at the end; "
        "the development half, which was looked at while designing it, holds the first held-out half (spent on "
        "the first per-image choice).",
        "",
    ]
    for half in HALVES:
        if any(r["half"] == half for r in rows):
            lines += render(rows, half)
    lines += ["", f"Measured in {stored.get('seconds', 0.0):.0f} s."]
    write_report(lines, args.out, start)


if __name__ == "__main__":
    main()

"""SpectralMonitor on a model while it trains: what a call costs, what pairing buys, and whether the intervals cover.

    python benchmarks/dynamics.py [--train-size 60000] [--epochs 6] [--probe 128] [--repeats 20] [--out F]

Needs Fashion-MNIST from Debian's package (apt-get install dataset-fashion-mnist). Trains the small CNN of the
robustness study on the CPU with clean labels, saving the weights after every epoch (and before the first); then

- **cost**: a monitor call at the default settings (8 bands, zero baseline, log-probability of the label,
  ``max_evaluations=2048``) against 5 % of the forwards of one epoch on 60,000 images (3,000);
- **pairing**: for each pair of consecutive epochs, the paired standard error of Δψ (the per-image differences
  on the same games) against the unpaired one at the same evaluations (two independent probes of the same size:
  ``sqrt(se_a² + se_b²)``), per band;
- **coverage**: the exact per-probe-set Δψ (exact Shapley values of every checkpoint on the probe images) against
  the default monitor's 95 % paired intervals of Δψ over ``--repeats`` seeds (other coalitions each), per (band,
  pair of epochs); the target is 92 %.

Writes a markdown table to ``--out`` (default: benchmarks/dynamics.md) and prints it.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from fashion_mnist_data import fashion_mnist
from robustness_study import small_cnn
from torch.utils.data import DataLoader, TensorDataset

from captum_iaside import SpectralMonitor


def checkpoints(train_size: int, epochs: int, seed: int = 0) -> tuple[list[dict], float]:
    """The CNN's weights before training and after each epoch, and the seconds of one epoch's training."""
    torch.manual_seed(seed)
    x, y = (t[:train_size] for t in fashion_mnist("train").tensors)
    model = small_cnn()
    order = torch.Generator().manual_seed(seed)
    loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True, generator=order)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    states, seconds = [copy.deepcopy(model.state_dict())], []
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        seconds.append(time.perf_counter() - start)
        states.append(copy.deepcopy(model.state_dict()))
        print(f"epoch {epoch + 1}: {seconds[-1]:.0f} s", flush=True)
    return states, statistics.median(seconds)


def model_of(state: dict) -> torch.nn.Module:
    model = small_cnn()
    model.load_state_dict(state)
    return model.eval()


def measured(monitor: SpectralMonitor, states: list[dict]) -> SpectralMonitor:
    for step, state in enumerate(states):
        monitor(model_of(state), step)
    return monitor


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-size", type=int, default=60_000)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--probe", type=int, default=128)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--out", default="benchmarks/dynamics.md")
    args = p.parse_args()
    torch.set_num_threads(2)
    states, epoch_seconds = checkpoints(args.train_size, args.epochs)
    test_x, test_y = fashion_mnist("test").tensors
    x_probe, y_probe = test_x[: args.probe], test_y[: args.probe]

    start = time.perf_counter()
    exact = measured(SpectralMonitor(x_probe, y_probe, max_evaluations=None, n_bootstrap=0), states)
    exact_seconds = (time.perf_counter() - start) / len(states)
    pairs = [(s, s - 1) for s in range(1, len(states))]
    truth = {pair: exact.difference(*pair).values for pair in pairs}

    covered, cases, ratios, call_seconds = 0, 0, [], []
    for seed in range(args.repeats):
        start = time.perf_counter()
        monitor = measured(SpectralMonitor(x_probe, y_probe, seed=seed), states)
        call_seconds.append((time.perf_counter() - start) / len(states))
        for pair in pairs:
            d = monitor.difference(*pair)
            lo, hi = d.values_ci
            covered += int(((lo <= truth[pair]) & (truth[pair] <= hi)).sum())
            cases += truth[pair].numel()
            ratios += (d.unpaired_stderr / d.stderr).tolist()
    cost = monitor.cost
    coverage = covered / cases
    lines = [
        f"Fashion-MNIST CNN trained on {args.train_size} images for {args.epochs} epochs (one epoch "
        f"{epoch_seconds:.0f} s on this machine); probe: the first {args.probe} test images; "
        f"{args.repeats} seeds of the default monitor.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| model evaluations of a call at the defaults | {cost} ({cost / 60_000:.1%} of an epoch's 60,000 forwards; "
        f"{statistics.median(call_seconds):.2f} s) | ≤ 3,000 (5 %) {'✓' if cost <= 3000 else '✗'} |",
        f"| unpaired ÷ paired stderr of Δψ, consecutive epochs (median over bands, pairs and seeds; 10th "
        f"percentile) | {statistics.median(ratios):.1f}× ({sorted(ratios)[len(ratios) // 10]:.1f}×) | ≥ 1.5× "
        f"{'✓' if statistics.median(ratios) >= 1.5 else '✗'} |",
        f"| 95 % paired intervals of Δψ covering the exact per-probe Δψ ({cases} (band, pair, seed) cases) | "
        f"{coverage:.1%} | ≥ 92 % {'✓' if coverage >= 0.92 else '✗'} |",
        f"| exact monitor call (2^8 per image) | {exact.cost} evaluations, {exact_seconds:.2f} s | |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()

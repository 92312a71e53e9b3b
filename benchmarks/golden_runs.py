"""The global run's numbers on fixed-seed configurations, recorded to show that a change to the run changes none.

    python benchmarks/golden_runs.py                      # compare with benchmarks/golden_runs.json
    python benchmarks/golden_runs.py --record             # write benchmarks/golden_runs.json anew

Each configuration runs a small seeded CNN on 48 seeded 16 x 16 images of 4 classes (batches of 8): exact values,
budgets with and without strata, the permutation, kernel and adaptive estimators, interactions, per-class values,
oriented bands and a Fourier grid, ``compare_global`` of two models, a checkpointed run resumed, and the same exact
run on two ranks of ``torchrun`` (gloo). For each result it keeps ψ, its standard errors, the intervals of ψ, SID
and SRS, and the interactions where there are any. The comparison allows a relative difference of 1e-6 (sums in
another order; BLAS does not fix its summation order) and says which numbers differ.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from captum_iaside import IASIDE, FourierGrid, OrientedBands, compare_global

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_runs.json")
RTOL, ATOL = 1e-6, 1e-9


def model(seed: int) -> nn.Module:
    """A small CNN of 4 classes with seeded weights, in eval mode."""
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(6, 6, 3, stride=2, padding=1),
        nn.Tanh(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(24, 4),
    )
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return net.eval()


def data() -> DataLoader:
    """48 seeded images of 16 x 16 px, each class a smooth pattern of its own plus noise; batches of 8."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(48) % 4
    grid = torch.linspace(0, 1, 16)
    patterns = torch.stack([torch.sin((k + 1) * math.pi * grid)[None, :] * torch.ones(3, 16, 1) for k in range(4)])
    images = patterns[labels] + 0.5 * torch.randn(48, 3, 16, 16, generator=g)
    return DataLoader(TensorDataset(images, labels), batch_size=8)


def numbers(result: Any) -> dict[str, Any]:
    """The numbers of a result that the run computes (a comparison: each model's, and the paired covariance)."""
    if hasattr(result, "results"):
        out = {name: numbers(r) for name, r in result.results.items()}
        if result.covariance is not None:
            out["covariance"] = result.covariance.tolist()
        return out
    out: dict[str, Any] = {"values": result.values.tolist(), "stderr": result.stderr.tolist(), "K": result.n_samples}
    for name in ("values_ci", "sid_ci", "interactions", "interactions_stderr"):
        value = getattr(result, name)
        if value is not None:
            out[name] = value.tolist()
    if result.srs_ci is not None:
        out["srs_ci"] = list(result.srs_ci)
    if result.by_class:
        out["by_class"] = {str(c): numbers_of_class(d) for c, d in sorted(result.by_class.items())}
    return out


def numbers_of_class(d: dict[str, Any]) -> dict[str, Any]:
    return {"K": d["n_samples"], "values": d["values"].tolist(), "stderr": d["stderr"].tolist()}


class Interrupted(Exception):
    """The stop of a run that a checkpoint resumes."""


def resumed() -> Any:
    """A checkpointed run interrupted in its fourth batch (a forward hook raises), then resumed from its checkpoint."""
    net = model(0)
    calls = {"n": 0}

    def interrupt(module: nn.Module, args: Any, output: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 3 * 16 + 2:  # the exact games of 4 bands: 16 coalitions a batch, v(∅) once more
            raise Interrupted

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "run.ckpt")
        ia = IASIDE(net, bands=4)
        handle = net.register_forward_hook(interrupt)
        try:
            ia.attribute_global(data(), checkpoint=path)
        except Interrupted:
            pass
        finally:
            handle.remove()
        return ia.attribute_global(data(), checkpoint=path)


CONFIGS: dict[str, Callable[[], Any]] = {
    "exact, 4 bands": lambda: IASIDE(model(0), bands=4).attribute_global(data()),
    "exact, 6 bands, mean baseline": lambda: IASIDE(model(0), bands=6, baseline="mean").attribute_global(data()),
    "budget 300, strata": lambda: IASIDE(model(0), bands=6).attribute_global(data(), max_evaluations=300),
    "budget 300, no strata": lambda: IASIDE(model(0), bands=6).attribute_global(
        data(), max_evaluations=300, strata=None
    ),
    "permutation, 24 per image": lambda: IASIDE(model(0), bands=6).attribute_global(
        data(), estimator="permutation", budget=24
    ),
    "kernel, 24 per image": lambda: IASIDE(model(0), bands=6).attribute_global(data(), estimator="kernel", budget=24),
    "adaptive kernel": lambda: IASIDE(model(0), bands=6).attribute_global(data(), estimator="adaptive", budget=32),
    "interactions": lambda: IASIDE(model(0), bands=4).attribute_global(data(), interactions=True),
    "by class": lambda: IASIDE(model(0), bands=4).attribute_global(data(), by_class=True),
    "oriented bands": lambda: IASIDE(model(0), bands=OrientedBands(n_rings=2, orientations=2)).attribute_global(data()),
    "Fourier grid": lambda: IASIDE(model(0), bands=FourierGrid(2)).attribute_global(data()),
    "compare_global": lambda: compare_global({"a": model(0), "b": model(1)}, data(), bands=4, max_evaluations=400),
    "checkpoint resumed": resumed,
}

DISTRIBUTED = "exact, 4 bands, torchrun of 2 ranks"


def distributed() -> dict[str, Any]:
    """The first configuration on two ranks of torchrun (gloo): rank 0 writes its numbers to a file."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "rank0.json")
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
        command += [os.path.abspath(__file__), "--rank-out", out]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        subprocess.run(command, check=True, env=env, capture_output=True)
        with open(out) as fh:
            return json.load(fh)


def rank_main(out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo")
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        images, labels = data().dataset.tensors
        shard = DataLoader(TensorDataset(images[rank::world], labels[rank::world]), batch_size=8)
        result = IASIDE(model(0), bands=4).attribute_global(shard)
        if rank == 0:
            with open(out, "w") as fh:
                json.dump(numbers(result), fh)
    finally:
        dist.destroy_process_group()


def differences(old: Any, new: Any, where: str = "") -> list[str]:
    """Where ``new`` differs from ``old`` beyond the tolerance (or in shape or keys)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = [f"{where}/{k}: missing" for k in old if k not in new]
        out += [f"{where}/{k}: new" for k in new if k not in old]
        return out + [d for k in old if k in new for d in differences(old[k], new[k], f"{where}/{k}")]
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{where}: {len(old)} numbers, now {len(new)}"]
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True)) for d in differences(a, b, f"{where}[{i}]")]
    if isinstance(old, float) or isinstance(new, float):
        if math.isclose(old, new, rel_tol=RTOL, abs_tol=ATOL) or (math.isnan(old) and math.isnan(new)):
            return []
    elif old == new:
        return []
    return [f"{where}: {old!r}, now {new!r}"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--record", action="store_true", help=f"write {os.path.relpath(GOLDEN)} anew")
    p.add_argument("--rank-out", help=argparse.SUPPRESS)  # a rank of the torchrun configuration
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.rank_out:
        rank_main(args.rank_out)
        return
    found = {name: numbers(run()) for name, run in CONFIGS.items()}
    found[DISTRIBUTED] = distributed()
    if args.record:
        with open(GOLDEN, "w") as fh:
            json.dump(found, fh, indent=1)
        print(f"recorded {len(found)} configurations in {GOLDEN}")
        return
    with open(GOLDEN) as fh:
        golden = json.load(fh)
    diffs = differences(golden, found)
    for line in diffs:
        print(line)
    print(f"{len(found)} configurations: {'unchanged' if not diffs else f'{len(diffs)} numbers differ'}")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()

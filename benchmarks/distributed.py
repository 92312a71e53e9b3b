"""The command line under torchrun: one process against two (gloo) on this machine's CPUs.

    python benchmarks/distributed.py [--repeats 2] [--out benchmarks/distributed.md]

The main job (EfficientNet-Lite0 on the 7 bundled photos at 160 px, M = 8, exact) run by
``python -m captum_iaside`` in one process with every core, and by
``torchrun --standalone --nproc_per_node=2 -m captum_iaside`` with one thread per rank, interleaved, best of
--repeats: the attribution time (``wall_time_s`` in results.json) and the whole command. The two reports'
ψ must agree to rounding, since the exact design does not depend on how the images are sharded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from report import write_report


def run_once(processes: int, folder: str) -> tuple[float, float, list[float]]:
    out = os.path.join(folder, f"p{processes}")
    cores = os.cpu_count() or 1
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // processes))}
    if processes == 1:
        command = [sys.executable, "-m", "captum_iaside"]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        command += ["-m", "captum_iaside"]
    start = time.perf_counter()
    subprocess.run([*command, "--quiet", "--out", out], check=True, env=env, capture_output=True)
    whole = time.perf_counter() - start
    report = json.load(open(os.path.join(out, "results.json")))
    run = report["models"][0]
    return run["wall_time_s"], whole, run["result"]["values"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed.md"))
    args = p.parse_args()
    start = time.perf_counter()
    best: dict[int, list[float]] = {1: [float("inf")] * 2, 2: [float("inf")] * 2}
    values: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            for processes in (1, 2):
                attribution, whole, values[processes] = run_once(processes, folder)
                best[processes] = [min(best[processes][0], attribution), min(best[processes][1], whole)]
    gap = max(abs(a - b) for a, b in zip(values[1], values[2], strict=True))
    lines = [
        "# The command line under torchrun (this machine's CPUs)",
        "",
        f"{os.cpu_count()} cores; the main job (EfficientNet-Lite0, 7 photos at 160 px, M = 8, exact), best of "
        f"{args.repeats}, interleaved.",
        "",
        "| processes | threads each | attribution (s) | whole command (s) |",
        "|---|---|---|---|",
    ]
    for processes in (1, 2):
        threads = max(1, (os.cpu_count() or 1) // processes)
        lines.append(f"| {processes} | {threads} | {best[processes][0]:.1f} | {best[processes][1]:.1f} |")
    lines += [
        "",
        f"Two processes against one: {best[1][0] / best[2][0]:.2f}x the attribution speed, "
        f"{best[1][1] / best[2][1]:.2f}x the whole command's; largest |Δψ| between the two reports {gap:.1e}.",
    ]
    write_report(lines, args.out, start)


if __name__ == "__main__":
    main()

"""Bursty competing load, as a shared machine has: processes that work for 0.2-2 s, then idle for up to 1 s.

    with BurstyLoad(torch_jobs=3, python_jobs=1, seconds=600):
        ...  # what to measure under load

Each competitor is a separate process with a deadline of its own (it stops by itself even if this process dies)
and is terminated when the context exits. PyTorch competitors multiply matrices with 2 intra-op threads, so their
OpenMP threads contend with the measured process's; a Python competitor spins one core. ``python load.py SECONDS``
runs the load alone (to watch ``uptime``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

WORKER = r"""
import random, sys, time
kind, seed, deadline = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rng = random.Random(seed)
if kind == "torch":
    import torch
    torch.set_num_threads(2)
    a = torch.randn(384, 384)
    def work():
        torch.mm(a, a)
else:
    def work():
        sum(i * i for i in range(20000))
while time.time() < deadline:
    busy_until = time.time() + rng.uniform(0.2, 2.0)
    while time.time() < min(busy_until, deadline):
        work()
    time.sleep(min(rng.uniform(0.0, 1.0), max(0.0, deadline - time.time())))
"""


class BurstyLoad:
    r"""Competing processes for at most ``seconds`` (a context manager; ``seed`` fixes their bursts)."""

    def __init__(self, torch_jobs: int = 3, python_jobs: int = 1, seconds: float = 900.0, seed: int = 0) -> None:
        self.jobs = ["torch"] * torch_jobs + ["python"] * python_jobs
        self.seconds = seconds
        self.seed = seed
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> BurstyLoad:
        deadline = time.time() + self.seconds
        env = dict(os.environ, OMP_NUM_THREADS="2")
        for i, kind in enumerate(self.jobs):
            args = [sys.executable, "-c", WORKER, kind, str(self.seed * 100 + i), str(deadline)]
            self.processes.append(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL))
        time.sleep(2.0)  # let the imports finish: the load is on when the block starts
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.processes:
            p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.processes = []


if __name__ == "__main__":
    with BurstyLoad(seconds=float(sys.argv[1]) if len(sys.argv) > 1 else 30.0) as load:
        time.sleep(load.seconds)
        print(os.getloadavg())

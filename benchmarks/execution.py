"""How fast the forwards run: the main job against the fastest plain PyTorch forwards of this machine.

    python benchmarks/execution.py [--repeats 3] [--out benchmarks/execution.md] [--skip-compile]

1. Bare forwards of EfficientNet-Lite0 at 160 px (the default run's model and side) under each setting —
   glibc malloc as it is or told to keep freed memory (captum_iaside.tune_cpu), NCHW or channels-last, 16 to 112
   images per forward — each in a fresh process (malloc settings are process-wide), interleaved, best of
   --repeats. The fastest setting gives the time of the default run's 1,786 forwards.
2. The main job: ``captum-iaside`` without arguments, its attribution time (``wall_time_s`` in results.json)
   and its whole run, best of --repeats, against 1.3 × the fastest forwards (+ 15 s for the whole run); and
   ``captum-iaside --help``.
3. The library's overhead at an equal forward batch: global I-ASIDE (M = 8, 32 × 32, K = 64) against the bare
   forwards of the same chunks, small CNN and ResNet-18, interleaved, best of --repeats.
4. ``torch.compile`` of EfficientNet-Lite0 on this CPU (bare forwards, the fastest setting), unless skipped.
5. With CUDA: ResNet-50 at 224 px, M = 8, ours against the bare forwards of the same batches, float32 and
   bfloat16 autocast; without it, a line saying it was skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

from report import write_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORWARDS = 7 * 255 + 1  # the default run: 7 photos x 2^8 coalitions, the shared zero baseline evaluated once

BARE = r"""
import sys, time, torch
from captum_iaside import tune_cpu
from captum_iaside.cli.models import load_model
malloc, cl, compile_ = (sys.argv[i] == "1" for i in (1, 2, 5))
batch, n = int(sys.argv[3]), int(sys.argv[4])
if malloc:
    tune_cpu()
model = load_model("efficientnet-lite0").model
x = torch.randn(batch, 3, 160, 160)
if cl:
    model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
if compile_:
    model = torch.compile(model)
calls = max(1, n // batch)
with torch.inference_mode():
    for _ in range(2):
        model(x)
    start = time.perf_counter()
    for _ in range(calls):
        model(x)
    print(calls * batch / (time.perf_counter() - start))
"""


def bare_rate(malloc: bool, cl: bool, batch: int, n: int = 448, compile_: bool = False) -> float:
    args = [sys.executable, "-c", BARE, *("1" if v else "0" for v in (malloc, cl)), str(batch), str(n)]
    out = subprocess.run([*args, "1" if compile_ else "0"], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def main_job(repeats: int, *flags: str) -> tuple[float, float, float]:
    best_attr, best_whole, best_help = float("inf"), float("inf"), float("inf")
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            command = ["captum-iaside", "--quiet", "--out", out, *flags]
            subprocess.run(command, check=True, capture_output=True, cwd=out)
            best_whole = min(best_whole, time.perf_counter() - start)
            with open(os.path.join(out, "results.json")) as fh:
                best_attr = min(best_attr, json.load(fh)["models"][0]["wall_time_s"])
        start = time.perf_counter()
        subprocess.run(["captum-iaside", "--help"], check=True, capture_output=True)
        best_help = min(best_help, time.perf_counter() - start)
    return best_attr, best_whole, best_help


def overhead(repeats: int) -> list[tuple[str, float]]:
    import torch
    import torchvision
    from run_benchmarks import Synthetic, small_cnn
    from torch.utils.data import DataLoader

    from captum_iaside import IASIDE

    rows = []
    for name, model in [("small CNN", small_cnn()), ("ResNet-18", torchvision.models.resnet18(num_classes=10).eval())]:
        m, batch, ppe, k = 8, 16, 64, 64
        loader = DataLoader(Synthetic(k), batch_size=batch)
        ia = IASIDE(model, bands=m)
        chunk = torch.randn(batch * ppe, 3, 32, 32)
        n_chunks = (k // batch) * (2**m // ppe)

        def ours(ia=ia, loader=loader, ppe=ppe) -> None:
            ia.attribute_global(loader, perturbations_per_eval=ppe, n_bootstrap=0)

        def bare(model=model, chunk=chunk, n_chunks=n_chunks) -> None:
            with torch.inference_mode():
                for _ in range(n_chunks):
                    model(chunk)

        t_ours, t_bare = float("inf"), float("inf")
        for _ in range(repeats):
            for fn in (ours, bare):
                start = time.perf_counter()
                fn()
                elapsed = time.perf_counter() - start
                if fn is ours:
                    t_ours = min(t_ours, elapsed)
                else:
                    t_bare = min(t_bare, elapsed)
        rows.append((name, t_ours / t_bare))
    return rows


def gpu_table() -> list[str]:
    import torch
    import torchvision
    from torch.utils.data import DataLoader, TensorDataset

    from captum_iaside import IASIDE

    if not torch.cuda.is_available():
        return ["GPU: skipped (no CUDA device here)."]
    device = torch.device("cuda")
    model = torchvision.models.resnet50().eval().to(device).to(memory_format=torch.channels_last)
    data = TensorDataset(torch.randn(64, 3, 224, 224), torch.randint(0, 1000, (64,)))
    loader = DataLoader(data, batch_size=16, pin_memory=True)
    name = torch.cuda.get_device_name(device)
    lines = [f"GPU: {name}, ResNet-50 at 224 px, M = 8, K = 64, 16 images × 16 coalitions per forward"]
    for dtype in (None, torch.bfloat16):
        ia = IASIDE(model, bands=8)

        def ours(dtype: torch.dtype | None = dtype, ia=ia) -> None:
            ia.attribute_global(loader, perturbations_per_eval=16, n_bootstrap=0, autocast_dtype=dtype, device=device)
            torch.cuda.synchronize()

        chunk = torch.randn(256, 3, 224, 224, device=device).contiguous(memory_format=torch.channels_last)

        def bare(dtype: torch.dtype | None = dtype, chunk=chunk) -> None:
            ctx = torch.autocast("cuda", dtype=dtype) if dtype else torch.autocast("cuda", enabled=False)
            with torch.inference_mode(), ctx:
                for _ in range(4 * 16):
                    model(chunk)
            torch.cuda.synchronize()

        ours(), bare()  # warm-up
        t_ours = min(_timed(ours) for _ in range(3))
        t_bare = min(_timed(bare) for _ in range(3))
        ratio = t_ours / t_bare
        lines.append(f"- {dtype or 'float32'}: ours {t_ours:.2f} s, bare forwards {t_bare:.2f} s, ratio {ratio:.3f}")
    return lines


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=os.path.join("benchmarks", "execution.md"))
    p.add_argument("--skip-compile", action="store_true")
    args = p.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    start = time.perf_counter()
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; best of {args.repeats}, settings interleaved.",
        "",
        "**Bare forwards, EfficientNet-Lite0 at 160 px** (images/s; each setting in a fresh process):",
        "",
        "| malloc | layout | images per forward | images / s | time of the default run's 1,786 forwards |",
        "|---|---|---|---|---|",
    ]
    settings = [(False, False, 112), (True, False, 112), (False, True, 112)]
    settings += [(True, True, b) for b in (16, 32, 64, 112)]
    rates = {s: 0.0 for s in settings}
    for _ in range(args.repeats):
        for s in settings:
            rates[s] = max(rates[s], bare_rate(*s))
    for (malloc, cl, batch), rate in rates.items():
        lines.append(
            f"| {'keeps memory (tune_cpu)' if malloc else 'glibc default'} | {'channels-last' if cl else 'NCHW'} "
            f"| {batch} | {rate:.1f} | {FORWARDS / rate:.1f} s |"
        )
    fastest = max(rates, key=rates.get)
    t_fast = FORWARDS / rates[fastest]
    attr, whole, help_time = main_job(args.repeats)
    before_attr, before_whole, _ = main_job(1, "--no-tune", "--perturbations-per-eval", "16")
    lines += [
        "",
        f"Fastest setting: {rates[fastest]:.1f} images/s → {t_fast:.1f} s for 1,786 forwards.",
        "",
        "**The main job** (`captum-iaside`, no arguments):",
        "",
        f"- attribution (`wall_time_s`): {attr:.1f} s = {attr / t_fast:.2f} × the fastest forwards "
        f"(limit 1.3 × = {1.3 * t_fast:.1f} s)",
        f"- whole run: {whole:.1f} s (limit {1.3 * t_fast + 15:.1f} s)",
        f"- the same run as before tuning (`--no-tune --perturbations-per-eval 16`: glibc default, NCHW, 112 images "
        f"per forward), once: attribution {before_attr:.1f} s, whole run {before_whole:.1f} s",
        f"- `captum-iaside --help`: {help_time:.2f} s",
        "",
        "**Overhead at an equal forward batch** (global I-ASIDE ÷ bare forwards of the same 16 × 64-image chunks, "
        "M = 8, 32 × 32, K = 64):",
        "",
    ]
    for name, ratio in overhead(args.repeats):
        lines.append(f"- {name}: {ratio:.3f}")
    if not args.skip_compile:
        t0 = time.perf_counter()
        compiled = bare_rate(*fastest, compile_=True)
        lines += [
            "",
            f"**torch.compile** (EfficientNet-Lite0, the fastest setting): {compiled:.1f} images/s against "
            f"{rates[fastest]:.1f} without ({compiled / rates[fastest]:.2f}×), compilation included in "
            f"{time.perf_counter() - t0:.0f} s of process time.",
        ]
    lines += ["", *gpu_table()]
    write_report(lines, args.out, start)


if __name__ == "__main__":
    main()

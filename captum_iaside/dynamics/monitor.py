r"""Global I-ASIDE of one model at many steps of its training, on games fixed once: :class:`SpectralMonitor`."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from captum_iaside._utils.checks import (
    check_device,
    check_dtype,
    check_images,
    check_int,
    check_open_unit,
    check_positive_int,
    check_seed,
    check_writable_file,
)
from captum_iaside._utils.digest import tensor_digest
from captum_iaside.attr.iaside import IASIDE
from captum_iaside.dynamics.checkpoints import checkpoint_steps, load_checkpoint
from captum_iaside.estimators.base import BandShapley, ShapleyEstimator
from captum_iaside.estimators.exact import ExactShapley
from captum_iaside.estimators.permutation import PermutationShapley
from captum_iaside.estimators.selection import as_estimator, resolve_estimator
from captum_iaside.execution.forward_args import as_arg_tuple, rows_of_args
from captum_iaside.execution.model_state import autocast_to, dtype_mismatch
from captum_iaside.game.baselines import BaselineSpec, prepared_reference, resolve_baseline
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.players import as_bands
from captum_iaside.game.value_functions import ValueFunction, ValueSpec, scores_of
from captum_iaside.global_run.accumulators import GlobalAccumulator
from captum_iaside.global_run.strata import as_labels
from captum_iaside.results.dynamics import StepDifference, StepRow, step_difference, step_rows
from captum_iaside.results.importance import SpectralImportance

#: The version of the history file :class:`SpectralMonitor` writes with ``path=``.
HISTORY_FORMAT = 1


class SpectralMonitor:
    r"""
    Global I-ASIDE of a model at many steps of its training, every step on the same games: the same probe images
    and labels, strata, baseline images, and coalitions (or permutations) of every image, fixed once here. A call
    ``monitor(model, step)`` plays those games on the model as it is at ``step``, so two steps' ψ differ only by what
    the model learned, and their difference is **paired** (:meth:`difference`): the variance between images, the
    largest part of each step's own standard error, cancels (common random numbers, as in
    :func:`~captum_iaside.compare_global`).

    (An estimator that chooses its fit per image, ``"adaptive"``, chooses it again at each step from the same
    coalitions.) ψ of a step is the mean over the probe images of their per-image Shapley values, stratified by
    ``strata``, with bootstrap intervals whose replicate weights per image are drawn once, so the replicates of two
    steps are paired too. I-ASIDE: Wang et al., *Spectral Shapley importance*,
    https://arxiv.org/abs/2307.07470.

    Args:
        inputs (Tensor): The probe images ``(n, C, H, W)``, prepared as the model takes them. They are copied.
        target (Tensor or list of int): Their class labels ``(n,)``: each image's game is the value of its label.
        bands (int or FourierPartition, optional): The players (an int ``M``: ``M`` radial bands).
                    Default: 8
        baseline (str, float, Tensor, Baseline or callable, optional): What replaces a removed band (as for
                    :class:`~captum_iaside.IASIDE`), drawn once for the probe images.
                    Default: ``"zero"``
        value (str or callable, optional): The value of a model's output for a label (as for
                    :class:`~captum_iaside.IASIDE`).
                    Default: ``"log_prob"``
        estimator (str or ShapleyEstimator, optional): The estimator of each image's Shapley values (a name of
                    ``estimators.ESTIMATORS`` or an object). None: exact without ``max_evaluations``, else the
                    automatic choice for its budget per image.
                    Default: None
        max_evaluations (int, optional): Model evaluations (images through the model) the games of a call may
                    spend, shared equally by the probe images: exact where ``2^M`` per image fits, else the
                    estimator's (:attr:`cost` adds the one image that checks the model's classes). The default is
                    cheap enough to run every epoch (3.4 % of the forwards of an epoch on Fashion-MNIST's 60,000
                    images) and gives 128 probe images 16 evaluations each, the fewest that 8 bands take; None:
                    exact, ``n · 2^M``.
                    Default: 2048
        strata (str, Tensor or None, optional): ``"labels"``: ψ is stratified by the probe's classes (every class
                    needs two probe images), which removes the variance between classes from its standard error;
                    a ``(n,)`` tensor of stratum ids; None: no strata.
                    Default: ``"labels"``
        n_bootstrap (int, optional): Bootstrap replicates of the intervals (0: no intervals).
                    Default: 200
        confidence (float, optional): Level of the intervals.
                    Default: 0.95
        seed (int, optional): Seed of the baseline images, the coalitions and the bootstrap weights.
                    Default: 0
        batch_size (int, optional): Probe images per game (one game holds their coalition images in memory).
                    Default: 64
        perturbations_per_eval (int, optional): Coalitions per forward (Captum's argument).
                    Default: 1
        autocast_dtype (torch.dtype, optional): Run the model under ``torch.autocast`` in this dtype.
                    Default: None
        path (str, optional): A JSON file the history is written to, atomically, after every call, so a crash
                    loses no step measured before it. A file written by a monitor with the same probe and settings
                    is read back (its steps continue); one written with others is refused.
                    Default: None

    Examples::

        >>> monitor = SpectralMonitor(x_probe[:128], y_probe[:128], bands=8)
        >>> monitor.cost              # model evaluations of one call
        2049
        >>> for epoch in range(5):
        ...     train_one_epoch(model)
        ...     monitor(model, step=epoch)
        >>> d = monitor.difference(4, 0)
        >>> d.values, d.stderr, d.srs_ci
    """

    def __init__(
        self,
        inputs: Tensor,
        target: Tensor | list[int],
        bands: int | FourierPartition = 8,
        baseline: BaselineSpec = "zero",
        value: ValueSpec = "log_prob",
        estimator: str | ShapleyEstimator | None = None,
        max_evaluations: int | None = 2048,
        strata: str | Tensor | None = "labels",
        n_bootstrap: int = 200,
        confidence: float = 0.95,
        seed: int = 0,
        batch_size: int = 64,
        perturbations_per_eval: int = 1,
        autocast_dtype: torch.dtype | None = None,
        path: str | None = None,
    ) -> None:
        check_images(inputs, "inputs")
        n = inputs.shape[0]
        labels = as_labels(target, n)
        if labels is None:
            raise ValueError(f"target must hold one int class label per probe image ({n}), got {target!r:.80}")
        if bool((labels < 0).any()):
            raise ValueError(f"target holds negative labels ({int(labels.min())}); labels are class indices")
        labels = labels.clone()  # the caller's tensor may change after this
        self.players = as_bands(bands)
        self.players.index(*inputs.shape[-2:])  # a clear error if a player is empty at this size
        m = self.players.n_bands
        self._value_spec = value
        self.value = ValueFunction(value)
        self.estimator, self.budget = _estimator(estimator, max_evaluations, n, m)
        self.n_bootstrap = check_int(n_bootstrap, "n_bootstrap", minimum=0)
        self.confidence = check_open_unit(confidence, "confidence")
        self.seed = check_seed(seed)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.perturbations_per_eval = check_positive_int(perturbations_per_eval, "perturbations_per_eval")
        self.autocast_dtype = check_dtype(autocast_dtype, "autocast_dtype")
        self.path = check_writable_file(path, "path")
        self.strata = _strata_ids(strata, labels).clone()

        base = resolve_baseline(baseline)
        self.inputs, self.reference = prepared_reference(inputs.detach().cpu().clone(), base, seed=self.seed)
        self.target = labels
        generator = torch.Generator().manual_seed(self.seed)
        n_games = math.ceil(n / self.batch_size)
        self._game_seeds = torch.randint(2**62, (n_games,), generator=generator).tolist()
        self._weights = torch.poisson(torch.ones(n, self.n_bootstrap, dtype=torch.float64), generator=generator)
        self._population = {int(h): int(c) for h, c in zip(*self.strata.unique(return_counts=True), strict=True)}
        self.config: Mapping[str, Any] = MappingProxyType(
            {
                "method": "I-ASIDE",
                "bands": self.players.config(),
                "baseline": base.config(),
                "value": self.value.name,
                "estimator": self.estimator.config(),
                "budget": self.budget,
                "n_samples": n,
                "strata": None if strata is None else (strata if isinstance(strata, str) else "tensor"),
                "n_bootstrap": self.n_bootstrap,
                "seed": self.seed,
                "autocast_dtype": None if self.autocast_dtype is None else str(self.autocast_dtype),
            }
        )
        self._fingerprint = {  # what makes the games and their statistics: a history is read back only under all of it
            **{k: v for k, v in self.config.items() if k != "baseline"},  # a callable's config may not be stable
            "inputs": tensor_digest(self.inputs),
            "baseline_images": tensor_digest(self.reference),
            "target": tensor_digest(self.target),
            "strata_ids": tensor_digest(self.strata),
            "batch_size": self.batch_size,
            "game_seeds": tensor_digest(torch.tensor(self._game_seeds)),
            "bootstrap_weights": tensor_digest(self._weights),
            "confidence": self.confidence,
        }
        self._results: dict[int, SpectralImportance] = {}
        self._phi: dict[int, Tensor] = {}  # per step, the (n, M) per-image Shapley values, for paired differences
        self._classes: int | None = None
        if self.path is not None and os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            self._read(self.path)

    # ------------------------------------------------------------------ what a call costs and what it kept
    @property
    def cost(self) -> int:
        r"""The most model evaluations (images through the model) of one call: every probe image's game at its
        budget (an estimator that meets a coalition twice evaluates it once), and one image that checks the
        model's classes."""
        per_image = 2**self.players.n_bands if self.budget is None else self.budget
        return self.inputs.shape[0] * per_image + 1

    @property
    def steps(self) -> list[int]:
        r"""The steps measured, in the order they were."""
        return list(self._results)

    @property
    def results(self) -> Mapping[int, SpectralImportance]:
        r"""Step → its :class:`~captum_iaside.SpectralImportance`, read-only."""
        return MappingProxyType(self._results)

    @property
    def history(self) -> list[StepRow]:
        r"""A tidy table: one :class:`~captum_iaside.results.dynamics.StepRow` per step and player (step, player,
        ψ, stderr, its interval, SID, SRS and its interval), in the order of the steps."""
        return [row for step, res in self._results.items() for row in step_rows(step, res)]

    # ------------------------------------------------------------------ one call
    def __call__(self, model: Callable[..., Any], step: int, additional_forward_args: Any = None) -> SpectralImportance:
        r"""
        Measure ``model`` as it is at ``step`` and keep the result.

        A module is measured in eval mode and each of its submodules is given back in the mode it was in; its
        buffers (batch-norm statistics) are left as they were. The probe images go to the device of the model's
        first parameter.

        Args:
            model (callable): The model at this step: images → class scores ``(B, K)``.
            step (int): The training step (an epoch, an iteration), at least 0, not measured before.
            additional_forward_args (Any, optional): Further arguments of the model's forward (Captum's).
                        Default: None

        Returns:
            :class:`~captum_iaside.SpectralImportance` of the step (``config["step"]`` holds it).
        """
        step = check_int(step, "step", minimum=0)
        if step in self._results:
            raise ValueError(f"step={step} was measured already; each step is measured once")
        if not callable(model):
            raise TypeError(f"model must be callable (images -> class scores), got {type(model).__name__}")
        device = _device_of(model)
        modes = {m: m.training for m in model.modules()} if isinstance(model, nn.Module) else {}
        if modes:
            model.eval()
        try:
            self._check_classes(model, device, additional_forward_args)
            shapley = self._play(model, device, additional_forward_args)
        finally:
            for module, training in modes.items():
                module.training = training
        result = self._accumulator(shapley).result(
            {**self.config, "step": step}, self.confidence, f"step {step}", players=self.players
        )
        self._results[step], self._phi[step] = result, shapley.values
        if self.path is not None:
            self._write(self.path)
        return result

    def _check_classes(self, model: Callable[..., Any], device: torch.device, args: Any) -> None:
        r"""One probe image through the model, as the games run it: its class scores must hold every label."""
        x = self.inputs[:1].to(device, copy=True)  # a model that edits its input in place keeps the probe intact
        try:
            with torch.inference_mode(), autocast_to(device, self.autocast_dtype):
                output = model(x, *rows_of_args(as_arg_tuple(args), self.inputs.shape[0], slice(0, 1)))
        except (RuntimeError, TypeError) as exc:
            mismatch = dtype_mismatch(model, x, self.autocast_dtype)
            if mismatch is None:
                raise
            raise mismatch from exc
        scores = scores_of(output)
        if not isinstance(scores, Tensor) or scores.dim() != 2:
            shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
            raise ValueError(f"model must return class scores (B, K) for the probe images, got {shape}")
        k = scores.shape[1]
        if int(self.target.max()) >= k:
            raise ValueError(
                f"model gives {k} class scores, but the probe's labels (target) reach class {int(self.target.max())}"
            )
        if self._classes is not None and k != self._classes:
            raise ValueError(f"model gives {k} class scores, the monitor's earlier steps {self._classes}")
        self._classes = k

    def _play(self, model: Callable[..., Any], device: torch.device, args: Any) -> BandShapley:
        r"""Every probe image's game on ``model``, a game of :attr:`batch_size` images at a time, as one estimate."""
        attribution = IASIDE(model, self.players, "zero", self._value_spec)
        estimates = []
        for k, seed in enumerate(self._game_seeds):
            rows = slice(k * self.batch_size, (k + 1) * self.batch_size)
            estimates.append(
                attribution.estimate(
                    self.inputs[rows].to(device),
                    baselines=self.reference[rows].to(device),
                    target=self.target[rows].to(device),
                    additional_forward_args=rows_of_args(as_arg_tuple(args), self.inputs.shape[0], rows),
                    perturbations_per_eval=self.perturbations_per_eval,
                    estimator=self.estimator,
                    budget=self.budget,
                    seed=seed,
                    autocast_dtype=self.autocast_dtype,
                )
            )

        def joined(field: str) -> Tensor:
            return torch.cat([getattr(e, field).detach().to("cpu", torch.float64) for e in estimates])

        return BandShapley(
            joined("values"), joined("v_empty"), joined("v_full"), self.target, sum(e.evaluations for e in estimates)
        )

    def _accumulator(self, shapley: BandShapley) -> GlobalAccumulator:
        r"""The statistics of per-image values of every probe image, in its stratum, with its bootstrap weights."""
        acc = GlobalAccumulator(self.players.n_bands, self.n_bootstrap, population=self._population)
        acc.update(shapley, self._weights if self.n_bootstrap else None, self.strata)
        return acc

    def _per_image(self, values: Tensor) -> BandShapley:
        zeros = torch.zeros(values.shape[0], dtype=torch.float64)
        return BandShapley(values, zeros, zeros, None, 0)

    def measure_checkpoints(
        self,
        checkpoints: Sequence[str | os.PathLike] | Mapping[int, str | os.PathLike],
        model: Callable[[], nn.Module] | None = None,
        steps: Sequence[int] | None = None,
        device: str | torch.device | None = None,
        show_progress: bool = False,
    ) -> list[SpectralImportance]:
        r"""
        Measure the checkpoints of a finished training run, one loaded at a time.

        Every path is checked to be a file, and no step to be measured already, before the first is loaded; a
        checkpoint that does not load raises ``ValueError`` naming it, and the steps measured before it stay.

        Args:
            checkpoints (list of path or dict): Paths in the order of training (steps ``0, 1, …`` unless
                        ``steps`` says otherwise), or step → path.
            model (callable, optional): A factory of the architecture (``lambda: Net(num_classes=10)``) each state
                        dict is loaded into (``.pt``/``.pth``/``.safetensors``; ``{"state_dict": …}`` and DDP's
                        ``module.`` prefix are unwrapped). None: the files are TorchScript.
                        Default: None
            steps (list of int, optional): The step of each path of a list.
                        Default: None (0, 1, 2, …)
            device (str or torch.device, optional): Where the models run.
                        Default: None (the CPU)
            show_progress (bool, optional): A progress bar over the checkpoints.
                        Default: False

        Returns:
            The :class:`~captum_iaside.SpectralImportance` of each checkpoint, in order.

        Examples::

            >>> monitor.measure_checkpoints({1: "epoch1.pt", 5: "epoch5.pt"}, model=lambda: Net())
        """
        paths = checkpoint_steps(checkpoints, steps)
        for step in paths:
            check_int(step, "steps", minimum=0)
            if step in self._results:
                raise ValueError(f"steps: step {step} was measured already; each step is measured once")
        device = check_device(device, "device") or torch.device("cpu")
        results = []
        for step, path in tqdm(paths.items(), desc="checkpoints", unit="model", disable=not show_progress):
            results.append(self(load_checkpoint(step, path, model).to(device).eval(), step))
        return results

    # ------------------------------------------------------------------ between steps
    def _known(self, step: Any, name: str) -> int:
        if step not in self._results:
            raise ValueError(f"{name}={step!r} is not a measured step; measured: {self.steps}")
        return step

    def difference(self, a: int, b: int) -> StepDifference:
        r"""
        ψ and SRS of step ``a`` minus those of step ``b``, paired (same images, baselines and coalitions).

        The standard error of Δψ is that of the per-image differences (stratified as ψ), its interval and
        ΔSRS's the percentiles of the paired bootstrap replicates.

        Examples::

            >>> d = monitor.difference(4, 0)       # what changed from step 0 to step 4
            >>> (d.unpaired_stderr / d.stderr).min()   # the precision pairing bought
        """
        a, b = self._known(a, "a"), self._known(b, "b")
        est = self._accumulator(self._per_image(self._phi[a] - self._phi[b])).estimate()
        reps_a = self._accumulator(self._per_image(self._phi[a])).replicates()
        reps_b = self._accumulator(self._per_image(self._phi[b])).replicates()
        replicates = None if reps_a is None or reps_b is None else (reps_a, reps_b)
        results = (self._results[a], self._results[b])
        return step_difference(a, b, results, (est.values, est.stderr), replicates, self.confidence)

    # ------------------------------------------------------------------ out to other tools
    def log(self, writer: Any, step: int | None = None, prefix: str = "iaside") -> None:
        r"""
        Write a step's ψ, SID and SRS as scalars to ``writer``: any object with TensorBoard's
        ``add_scalar(tag, value, global_step)`` (``torch.utils.tensorboard.SummaryWriter``, or a logger of
        Lightning, Weights & Biases or MLflow wrapped in one).

        Args:
            writer (object): Has ``add_scalar``.
            step (int, optional): The step to write. Default: the last one measured
            prefix (str, optional): The tags' prefix: ``{prefix}/psi/{m}`` and ``{prefix}/sid/{m}`` for player
                        ``m`` (0 holds the lowest frequencies), ``{prefix}/srs``.
                        Default: ``"iaside"``
        """
        if not callable(getattr(writer, "add_scalar", None)):
            raise TypeError(f"writer must have add_scalar(tag, value, step), got {type(writer).__name__}")
        if not self._results:
            raise ValueError("no step has been measured yet; call the monitor first")
        step = self.steps[-1] if step is None else self._known(step, "step")
        for row in step_rows(step, self._results[step]):
            writer.add_scalar(f"{prefix}/psi/{row.player}", row.psi, step)
            writer.add_scalar(f"{prefix}/sid/{row.player}", row.sid, step)
        writer.add_scalar(f"{prefix}/srs", self._results[step].srs, step)

    def _write(self, path: str) -> None:
        r"""The history as JSON, written to a temporary file beside ``path`` and moved over it (atomic)."""
        data = {
            "format": HISTORY_FORMAT,
            "fingerprint": self._fingerprint,
            "classes": self._classes,
            "steps": [
                {"step": s, "result": r.to_dict(), "per_image": self._phi[s].tolist()} for s, r in self._results.items()
            ],
            "history": [row.to_dict() for row in self.history],
        }
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)  # the writability check leaves no folder behind
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as f:
            try:
                json.dump(data, f)
            except BaseException:
                f.close()
                os.remove(f.name)
                raise
        os.replace(f.name, path)

    def _read(self, path: str) -> None:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"path={path!r} holds no monitor history ({type(exc).__name__}: {exc})") from exc
        if not isinstance(data, dict) or data.get("format") != HISTORY_FORMAT:
            raise ValueError(f"path={path!r} is not a history of this version's monitor (format {HISTORY_FORMAT})")
        if data.get("fingerprint") != json.loads(json.dumps(self._fingerprint)):
            raise ValueError(
                f"path={path!r} was written by a monitor with other probe images or settings; "
                "give another path to start a new history"
            )
        shape = (self.inputs.shape[0], self.players.n_bands)
        try:
            classes = data["classes"]
            for entry in data["steps"]:
                step = int(entry["step"])
                result = dataclasses.replace(SpectralImportance.from_dict(entry["result"]), players=self.players)
                phi = torch.tensor(entry["per_image"], dtype=torch.float64)
                if tuple(phi.shape) != shape:
                    raise ValueError(f"step {step} holds per-image values of shape {tuple(phi.shape)}, not {shape}")
                self._results[step], self._phi[step] = result, phi
        except (KeyError, TypeError, ValueError) as exc:
            self._results, self._phi = {}, {}
            raise ValueError(f"path={path!r} holds a damaged monitor history ({type(exc).__name__}: {exc})") from exc
        self._classes = classes


def _strata_ids(strata: Any, labels: Tensor) -> Tensor:
    r"""The ``(n,)`` stratum ids of ``strata=`` (each stratum with two probe images at least)."""
    n = labels.shape[0]
    if strata is None:
        return torch.zeros(n, dtype=torch.int64)
    if isinstance(strata, str):
        if strata != "labels":
            raise ValueError(f"strata must be 'labels', a tensor of stratum ids or None, got {strata!r}")
        ids, what = labels, "class"
    else:
        ids, what = as_labels(strata, n), "stratum"
        if ids is None:
            raise ValueError(f"strata must be 'labels', None or ({n},) int stratum ids, got {strata!r:.80}")
    values, counts = ids.unique(return_counts=True)
    if int(counts.min()) < 2:
        small = int(values[counts.argmin()])
        raise ValueError(
            f"strata: {what} {small} has {int(counts.min())} probe image; every stratum needs two for a standard "
            f"error ({n} images, {len(values)} strata): give more probe images or strata=None"
        )
    return ids


def _device_of(model: Callable[..., Any]) -> torch.device:
    if isinstance(model, nn.Module):
        for p in model.parameters():
            return p.device
    return torch.device("cpu")


def _estimator(
    estimator: str | ShapleyEstimator | None, max_evaluations: int | None, n: int, n_bands: int
) -> tuple[ShapleyEstimator, int | None]:
    r"""The estimator and the budget per probe image of ``max_evaluations`` shared by ``n`` images (None: exact)."""
    if max_evaluations is None:
        return resolve_estimator(estimator, None, n_bands)
    budget = check_positive_int(max_evaluations, "max_evaluations") // n
    chosen = as_estimator(estimator)
    # the automatic choice takes the fewest of exact enumeration and antithetic permutations
    least = (
        min(ExactShapley().minimum_budget(n_bands), PermutationShapley().minimum_budget(n_bands))
        if chosen is None
        else chosen.minimum_budget(n_bands)
    )
    if budget < least:
        name = "the automatic" if chosen is None else f"the {chosen.name!r}"
        raise ValueError(
            f"max_evaluations={max_evaluations} gives each of the {n} probe images {budget} evaluations, fewer than "
            f"the {least} that {n_bands} players take with {name} estimator: pass max_evaluations={least * n} or "
            "more, or fewer probe images"
        )
    return resolve_estimator(chosen, budget, n_bands)

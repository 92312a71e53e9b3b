r"""The streaming loop of a global run: data in, accumulated statistics out.

:class:`GlobalRun` owns everything that makes a long run practical and none of the mathematics:
the passes over the data, the evaluation budget, the stopping rules (``n_samples``, budget,
``tolerance``), checkpoints with exact resume, the progress bar, the ``torch.distributed``
protocol and the bootstrap weights. Each batch is handed to the design's estimator once per model,
with the same images, baseline images, coalitions and bootstrap weights for every model (common
random numbers), so several models are compared pairwise at no extra cost.

Random streams: batch ``k`` of pass ``p`` on rank ``r`` draws its baseline, its coalitions and its
bootstrap weights from three generators seeded by ``(seed, r, p, k, stream)``; the bootstrap
weights do not depend on the pass, so an image keeps its weights when it is seen again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader
from tqdm import tqdm

from captum_iaside.accumulators import GlobalAccumulator, MomentAccumulator
from captum_iaside.bands import SpectralBands
from captum_iaside.baselines import Baseline, reference_images
from captum_iaside.checkpoint import batch_digest, load_checkpoint, model_digest, save_checkpoint
from captum_iaside.design import GlobalDesign, pass_weight, plan_global, second_pass_design
from captum_iaside.distributed import gather, world
from captum_iaside.estimators import BandShapley, ShapleyEstimator
from captum_iaside.game import SpectralGame, Workspace
from captum_iaside.importance import SpectralImportance
from captum_iaside.values import ValueFunction, resolve_target

_BASELINE, _ESTIMATOR, _BOOTSTRAP = 0, 1, 2


def _batch_generator(seed: int, rank: int, pass_index: int, batch_index: int, stream: int) -> torch.Generator:
    r"""A CPU generator for one random stream of batch ``batch_index`` of pass ``pass_index``."""
    key = [int(seed), int(rank), int(pass_index), int(batch_index), int(stream)]
    state = np.random.SeedSequence(key).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def _clone(generator: torch.Generator) -> torch.Generator:
    g = torch.Generator()
    g.set_state(generator.get_state())
    return g


def _split_batch(batch: Any) -> tuple[Tensor, Any]:
    r"""``(images, targets)`` of a batch that is an image tensor or an ``(images, targets, ...)`` sequence."""
    if isinstance(batch, Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)) and 1 <= len(batch) and isinstance(batch[0], Tensor):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    raise TypeError(
        f"data must yield image tensors or (images, targets) batches, got a batch of type {type(batch).__name__}"
    )


def _known_images(data: Any) -> int | None:
    r"""Images ``data`` will yield (this rank's share), where that is known without reading it."""
    if isinstance(data, dict):
        data = next(iter(data.values()))
    if isinstance(data, DataLoader):
        try:
            n = len(data.sampler)
            if data.drop_last and data.batch_size:
                n = len(data) * data.batch_size
            return n
        except TypeError:
            return None
    if isinstance(data, (list, tuple)):
        return sum(_split_batch(b)[0].shape[0] for b in data)
    return None


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


@dataclass
class RunOptions:
    r"""
    The options of a global run, checked once (see
    :meth:`IASIDE.attribute_global <captum_iaside.IASIDE.attribute_global>` for their meaning).
    """

    n_samples: int | None = None
    use_labels: bool = True
    additional_forward_args: tuple[Any, ...] = ()
    perturbations_per_eval: int | str = 1
    max_evaluations: int | None = None
    tolerance: float | None = None
    n_bootstrap: int = 200
    confidence: float = 0.95
    by_class: bool = False
    checkpoint: str | None = None
    checkpoint_every: int = 1
    seed: int = 0
    device: torch.device | None = None
    show_progress: bool = False
    autocast_dtype: torch.dtype | None = None

    def __post_init__(self) -> None:
        if self.n_samples is not None:
            _positive_int(self.n_samples, "n_samples")
        if self.perturbations_per_eval != "auto":
            _positive_int(self.perturbations_per_eval, "perturbations_per_eval")
        if self.max_evaluations is not None:
            _positive_int(self.max_evaluations, "max_evaluations")
        _positive_int(self.checkpoint_every, "checkpoint_every")
        if isinstance(self.n_bootstrap, bool) or not isinstance(self.n_bootstrap, int) or self.n_bootstrap < 0:
            raise ValueError(f"n_bootstrap must be a non-negative int, got {self.n_bootstrap!r}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must lie in (0, 1), got {self.confidence}")
        if self.tolerance is not None and not self.tolerance > 0:
            raise ValueError(f"tolerance must be positive, got {self.tolerance}")
        if self.autocast_dtype is not None and not isinstance(self.autocast_dtype, torch.dtype):
            raise TypeError(f"autocast_dtype must be a torch.dtype, got {type(self.autocast_dtype).__name__}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an int, got {type(self.seed).__name__}")
        self.device = None if self.device is None else torch.device(self.device)

    def fingerprint(self) -> dict[str, Any]:
        r"""The options that change the result (for checkpoints and ``config``)."""
        return {
            "n_samples": self.n_samples,
            "use_labels": bool(self.use_labels),
            "max_evaluations": self.max_evaluations,
            "tolerance": self.tolerance,
            "n_bootstrap": self.n_bootstrap,
            "by_class": bool(self.by_class),
            "seed": int(self.seed),
            "autocast_dtype": None if self.autocast_dtype is None else str(self.autocast_dtype),
        }


@dataclass
class _State:
    r"""Everything a checkpoint holds: where the run is and what it has accumulated."""

    accumulators: dict[str, GlobalAccumulator]
    joint: MomentAccumulator | None
    steps: int = 0
    pass_index: int = 0
    batches_done: int = 0
    images_done: int = 0
    images_first_pass: int = 0
    spent: int = 0
    finished: bool = False
    local_reason: str = ""
    stop_reason: str = ""
    labelled: bool = False
    second_pass: tuple[int, int] | None = None  # (remaining evaluations, images) it was planned with
    store: dict[int, dict[str, dict[str, Tensor | None]]] | None = None
    perturbations_per_eval: dict[str, int | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accumulators": {n: a.state_dict() for n, a in self.accumulators.items()},
            "joint": None if self.joint is None else self.joint.state_dict(),
            "steps": self.steps,
            "pass_index": self.pass_index,
            "batches_done": self.batches_done,
            "images_done": self.images_done,
            "images_first_pass": self.images_first_pass,
            "spent": self.spent,
            "finished": self.finished,
            "local_reason": self.local_reason,
            "stop_reason": self.stop_reason,
            "labelled": self.labelled,
            "second_pass": None if self.second_pass is None else list(self.second_pass),
            "store": self.store,
            "perturbations_per_eval": dict(self.perturbations_per_eval),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _State:
        joint = None if d["joint"] is None else MomentAccumulator.from_state_dict(d["joint"])
        accs = {n: GlobalAccumulator.from_state_dict(a) for n, a in d["accumulators"].items()}
        fields = {k: v for k, v in d.items() if k not in ("accumulators", "joint", "second_pass")}
        second = None if d["second_pass"] is None else (int(d["second_pass"][0]), int(d["second_pass"][1]))
        return cls(accumulators=accs, joint=joint, second_pass=second, **fields)


@dataclass
class RunOutcome:
    r"""What a global run returns: the merged statistics of all ranks and why it stopped."""

    accumulators: dict[str, GlobalAccumulator]
    joint: MomentAccumulator | None
    stop_reason: str
    config: dict[str, Any]

    def result(self, name: str, confidence: float) -> SpectralImportance:
        r"""The :class:`SpectralImportance` of model ``name``."""
        config = dict(self.config)
        config["model"] = name
        return self.accumulators[name].result(config, confidence=confidence, stop_reason=self.stop_reason)


class GlobalRun:
    r"""
    One global run of one or more models over a data set.

    Args:
        models (dict): Name → forward function.
        bands (SpectralBands): The players.
        baseline (Baseline): What replaces a removed band.
        value (ValueFunction): The value of a coalition.
        estimator (str, ShapleyEstimator or None): Per-image estimator, None for the automatic
                    design (:func:`~captum_iaside.design.plan_global`).
        budget (int, optional): Evaluations per image.
        options (RunOptions): The run's options.
        config (dict): The configuration to report (and to fingerprint checkpoints with).
    """

    def __init__(
        self,
        models: dict[str, Callable[..., Any]],
        bands: SpectralBands,
        baseline: Baseline,
        value: ValueFunction,
        estimator: str | ShapleyEstimator | None,
        budget: int | None,
        options: RunOptions,
        config: dict[str, Any],
    ) -> None:
        self.models = models
        self.bands = bands
        self.baseline = baseline
        self.value = value
        self.estimator = estimator
        self.budget = budget
        self.options = options
        self.config = config
        self.rank, self.world_size = world()
        self.workspaces = {name: Workspace(options.perturbations_per_eval) for name in models}
        self._donors: dict[str, Tensor] = {}

    # ------------------------------------------------------------------ data
    def _iterate(self, data: Any) -> Iterator[dict[str, Any]]:
        names = list(self.models)
        if isinstance(data, dict):
            missing = [n for n in names if n not in data]
            if missing:
                raise ValueError(f"data is a dict without an entry for the model(s) {missing}")
            iterators = [iter(data[n]) for n in names]
            while True:
                batches = [next(it, None) for it in iterators]
                if all(b is None for b in batches):
                    return
                if any(b is None for b in batches):
                    raise ValueError(
                        "the data of the compared models end at different batches; give each model the same images"
                    )
                yield dict(zip(names, batches, strict=True))
        else:
            for batch in data:
                yield dict.fromkeys(names, batch)

    # ------------------------------------------------------------ the run
    def run(self, data: Iterable[Any]) -> RunOutcome:
        r"""Stream ``data`` and return the merged statistics."""
        opts, m = self.options, self.bands.n_bands
        share = None
        if opts.max_evaluations is not None:
            share = opts.max_evaluations // self.world_size + (self.rank < opts.max_evaluations % self.world_size)
        n_images = _known_images(data)
        if n_images is not None and opts.n_samples is not None:
            n_images = min(n_images, opts.n_samples)
        design = plan_global(self.estimator, self.budget, share, m, n_images)
        stream = self._iterate(data)
        first = next(stream, None)
        fingerprint = self._fingerprint(design, data, first)
        checkpoint = opts.checkpoint
        if checkpoint is not None and self.world_size > 1:
            checkpoint = f"{checkpoint}.rank{self.rank}"
        saved = load_checkpoint(checkpoint, fingerprint) if checkpoint is not None else None
        st = _State.from_dict(saved["state"]) if saved is not None else self._fresh_state()
        for name, ppe in st.perturbations_per_eval.items():
            if ppe is not None and self.workspaces[name].auto:
                self.workspaces[name].perturbations_per_eval = ppe
        designs = self._designs = [design]
        if st.second_pass is not None:
            designs.append(second_pass_design(*st.second_pass, m))

        def save() -> None:
            if checkpoint is not None:
                st.perturbations_per_eval = {n: w.perturbations_per_eval for n, w in self.workspaces.items()}
                save_checkpoint(checkpoint, {"fingerprint": fingerprint, "state": st.to_dict()})

        bar = tqdm(
            total=design.n_images,
            initial=st.images_done,
            desc="I-ASIDE (global)",
            unit="img",
            disable=not opts.show_progress or self.rank != 0,
        )
        with bar:
            steps = self._steps(data, stream, first, st, designs, share)
            while not st.stop_reason:
                if not st.finished:
                    item = next(steps, None)
                    if item is None:
                        st.finished = True
                        st.local_reason = st.local_reason or "data exhausted"
                    else:
                        self._step(item, st, designs[st.pass_index], share, bar)
                st.steps += 1
                st.stop_reason = self._agree(st)
                if st.stop_reason or st.steps % opts.checkpoint_every == 0:
                    save()
        accumulators, joint, spent = self._merged(st)
        if next(iter(accumulators.values())).count == 0:
            raise ValueError("data yielded no images")
        config = dict(self.config)
        config.update(opts.fingerprint())
        config["confidence"] = opts.confidence
        config["world_size"] = self.world_size
        config["design"] = designs[0].config()
        if len(designs) > 1:
            config["second_pass_design"] = designs[1].config()
        config["passes"] = st.pass_index + 1
        config["evaluations"] = spent
        config["perturbations_per_eval"] = self._chosen_perturbations_per_eval()
        config["labels"] = "given" if st.labelled else "predicted"
        return RunOutcome(accumulators, joint, st.stop_reason, config)

    def _fresh_state(self) -> _State:
        m, opts = self.bands.n_bands, self.options
        accs = {n: GlobalAccumulator(m, opts.n_bootstrap, opts.by_class) for n in self.models}
        joint = MomentAccumulator(m * len(self.models), covariance=True) if len(self.models) > 1 else None
        return _State(accumulators=accs, joint=joint)

    def _fingerprint(self, design: GlobalDesign, data: Any, first: dict[str, Any] | None) -> dict[str, Any]:
        fp = dict(self.config)
        fp.update(self.options.fingerprint())
        fp["design"] = design.config()
        fp["world_size"] = self.world_size
        fp["models"] = {n: model_digest(f) for n, f in self.models.items()}
        fp["data"] = {
            "images": _known_images(data),
            "first_batch": None if first is None else {n: batch_digest(*_split_batch(b)) for n, b in first.items()},
        }
        return fp

    def _chosen_perturbations_per_eval(self) -> int | str | dict[str, int | None]:
        chosen = {n: w.perturbations_per_eval for n, w in self.workspaces.items()}
        values = set(chosen.values())
        return values.pop() if len(values) == 1 else chosen

    # ------------------------------------------------------------ passes
    def _steps(
        self,
        data: Any,
        stream: Iterator[dict[str, Any]],
        first: dict[str, Any] | None,
        st: _State,
        designs: list[GlobalDesign],
        share: int | None,
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        r"""The batches still to process, pass after pass (resumed runs skip what is done)."""
        if st.pass_index == 0:
            yield from self._not_done(stream if first is None else _chain(first, stream), st)
            if not designs[0].second_pass or share is None:
                return
            follow = second_pass_design(share - st.spent, st.images_first_pass, self.bands.n_bands)
            if follow is None:
                return
            st.second_pass = (share - st.spent, st.images_first_pass)
            designs.append(follow)
            st.pass_index, st.batches_done, st.images_done = 1, 0, 0
            self._donors = {}
        yield from self._not_done(self._iterate(data), st)
        if st.batches_done == 0:
            st.local_reason = (
                "data exhausted (a second pass to spend the rest of max_evaluations found no data: pass a "
                "re-iterable such as a DataLoader)"
            )

    def _not_done(self, batches: Iterable[dict[str, Any]], st: _State) -> Iterator[tuple[int, dict[str, Any]]]:
        for k, batch in enumerate(batches):
            if k < st.batches_done:  # done before the checkpoint; its images serve as donors
                self._donors = {n: _split_batch(b)[0] for n, b in batch.items()}
                continue
            yield k, batch

    def _step(
        self, item: tuple[int, dict[str, Any]], st: _State, design: GlobalDesign, share: int | None, bar: tqdm
    ) -> None:
        k, batch = item
        opts, m = self.options, self.bands.n_bands
        split = {n: _split_batch(b) for n, b in batch.items()}
        sizes = {x.shape[0] for x, _ in split.values()}
        if len(sizes) != 1:
            raise ValueError(f"the data of the compared models yield batches of different sizes {sorted(sizes)}")
        n = sizes.pop()
        draw = n
        if st.pass_index > 0:
            draw = _stored_images(st, k)
            if n < draw:
                raise ValueError(
                    f"batch {k} held {draw} images on the first pass and {n} on the second; a second pass needs "
                    "data that yield the same batches in the same order"
                )
            n = draw
        if opts.n_samples is not None:
            n = min(n, opts.n_samples - st.images_done)
        budget = self._batch_budget(design, st, share)
        cost = 2**m if budget is None else budget
        if share is not None:
            n = min(n, (share - st.spent) // cost)
        if n > 0:
            self._evaluate(k, {name: (x[:n], y) for name, (x, y) in split.items()}, n, draw, st, design, budget, bar)
        st.batches_done = k + 1
        if opts.n_samples is not None and st.images_done >= opts.n_samples:
            st.finished, st.local_reason = True, f"n_samples={opts.n_samples} reached"
        elif share is not None and share - st.spent < design.evaluations_per_image(m):
            st.finished = True
            st.local_reason = f"max_evaluations={opts.max_evaluations} reached ({st.spent} evaluations spent)"

    def _batch_budget(self, design: GlobalDesign, st: _State, share: int | None) -> int | None:
        r"""
        Evaluations per image for the next batch. A design that spreads its budget over all images
        gives each batch what is left per image still to come, so what one batch saves (a shared
        baseline image, the remainder of whole permutations) goes to the next ones.
        """
        if not design.spread or share is None:
            return design.budget
        planned = design.n_images if st.pass_index == 0 else st.images_first_pass
        remaining = (planned or 0) - st.images_done
        if remaining <= 0:
            return design.budget
        return max(design.budget, (share - st.spent) // remaining)

    def _evaluate(
        self,
        k: int,
        inputs: dict[str, tuple[Tensor, Any]],
        n: int,
        draw: int,
        st: _State,
        design: GlobalDesign,
        budget: int | None,
        bar: tqdm,
    ) -> None:
        opts = self.options
        m = self.bands.n_bands
        g_base = _batch_generator(opts.seed, self.rank, st.pass_index, k, _BASELINE)
        g_est = _batch_generator(opts.seed, self.rank, st.pass_index, k, _ESTIMATOR)
        per_image = (2**m if budget is None else budget) * len(self.models)
        results: dict[str, BandShapley] = {}
        classes: dict[str, int | None] = {}
        spent = 0
        for name, (x, y) in inputs.items():
            device = opts.device or _device_of(self.models[name])
            x = x.to(device, non_blocking=True)
            target = None
            if opts.use_labels and y is not None:
                st.labelled = True
                target = resolve_target(y[:n] if isinstance(y, (Tensor, list, tuple)) else y, n, device)
            donors = self._donors.get(name)
            reference = reference_images(
                self.baseline, x, _clone(g_base), None if donors is None else donors.to(device, non_blocking=True)
            )
            game = SpectralGame(
                self.models[name],
                self.bands,
                x,
                reference,
                self.value,
                target,
                self.options.additional_forward_args,
                workspace=self.workspaces[name],
                progress=lambda c, share=n / per_image: bar.update(c * share),
                autocast_dtype=opts.autocast_dtype,
            )
            try:
                results[name] = design.estimator.estimate(game, budget, _clone(g_est))
            except ValueError as exc:
                if "not finite" not in str(exc):
                    raise
                where = f"batch {k} of the data" + ("" if len(self.models) == 1 else f", model {name!r}")
                raise ValueError(f"{exc} ({where})") from exc
            spent = max(spent, results[name].evaluations)
            self._donors[name] = x.detach()
            classes[name] = game.output_classes
        if st.labelled and len(set(classes.values())) > 1:
            raise ValueError(
                f"models have different numbers of classes {classes}, but the value needs each image's class from "
                "the data's labels; compare models with the same classes, or pass use_labels=False to explain each "
                "model's own prediction"
            )
        weights = None
        if opts.n_bootstrap:
            g_boot = _batch_generator(opts.seed, self.rank, 0, k, _BOOTSTRAP)
            # drawn for the whole batch as first seen, so an image keeps its weights on a second pass
            weights = torch.poisson(torch.ones(draw, opts.n_bootstrap, dtype=torch.float64), generator=g_boot)[:n]
        if st.pass_index == 0:
            self._add(results, weights, st)
            if design.second_pass:
                st.store = st.store or {}
                st.store[k] = _stored(results)
            st.images_first_pass += n
        else:
            self._replace(k, results, weights, st)
        st.images_done += n
        st.spent += spent
        bar.n = st.images_done
        first = next(iter(st.accumulators.values()))
        bar.set_postfix(
            srs=f"{first.running_srs():.4f}", max_se=f"{float(first.phi.stderr().max()):.3g}", evals=st.spent
        )

    def _add(self, results: dict[str, BandShapley], weights: Tensor | None, st: _State, remove: bool = False) -> None:
        for name, res in results.items():
            st.accumulators[name].update(res, weights, remove=remove)
        if st.joint is not None:
            rows = torch.cat([results[name].values.to("cpu", torch.float64) for name in self.models], dim=1)
            if remove:
                st.joint.remove(rows)
            else:
                st.joint.update(rows)

    def _replace(self, k: int, results: dict[str, BandShapley], weights: Tensor | None, st: _State) -> None:
        r"""Second pass: average the new estimates of batch ``k`` with the first pass's."""
        m = self.bands.n_bands
        n = next(iter(results.values())).values.shape[0]
        old = {name: _restored(st.store[k][name], slice(0, n)) for name in self.models}
        w_old, w_new = (pass_weight(d, m) for d in self._designs)
        combined = {name: _average(old[name], res, w_old, w_new) for name, res in results.items()}
        self._add(old, weights, st, remove=True)
        self._add(combined, weights, st)
        for name, new in _stored(combined).items():  # the images past n keep their first estimate
            for key, t in new.items():
                if t is not None:
                    st.store[k][name][key] = torch.cat([t, st.store[k][name][key][n:]])

    # ------------------------------------------------------------ stopping
    def _agree(self, st: _State) -> str:
        r"""The run's stop reason, identical on every rank (a collective under torch.distributed)."""
        opts = self.options
        if self.world_size == 1:
            if opts.tolerance is not None and not st.finished:
                reason = self._tolerance_reason([st.accumulators], st)
                if reason:
                    return reason
            return st.local_reason if st.finished else ""
        statuses = gather(
            (
                st.finished,
                st.local_reason,
                None if opts.tolerance is None else {n: a.state_dict() for n, a in st.accumulators.items()},
            )
        )
        if opts.tolerance is not None:
            accs = [{n: GlobalAccumulator.from_state_dict(a) for n, a in s[2].items()} for s in statuses]
            reason = self._tolerance_reason(accs, st)
            if reason:
                return reason
        if all(s[0] for s in statuses):
            return "; ".join(sorted({s[1] for s in statuses}))
        return ""

    def _tolerance_reason(self, per_rank: list[dict[str, GlobalAccumulator]], st: _State) -> str:
        tol = self.options.tolerance
        worst = 0.0
        for name in self.models:
            total = GlobalAccumulator.from_state_dict(per_rank[0][name].state_dict())
            for accs in per_rank[1:]:
                total.merge(accs[name])
            worst = max(worst, total.relative_error())
        if worst <= tol:
            return f"tolerance: max stderr / range(psi) = {worst:.4g} <= {tol} after {st.steps + 1} steps"
        return ""

    def _merged(self, st: _State) -> tuple[dict[str, GlobalAccumulator], MomentAccumulator | None, int]:
        states = gather(
            (
                {n: a.state_dict() for n, a in st.accumulators.items()},
                None if st.joint is None else st.joint.state_dict(),
                st.spent,
            )
        )
        accs = {n: GlobalAccumulator.from_state_dict(states[0][0][n]) for n in self.models}
        joint = None if states[0][1] is None else MomentAccumulator.from_state_dict(states[0][1])
        for other in states[1:]:
            for n in self.models:
                accs[n].merge(GlobalAccumulator.from_state_dict(other[0][n]))
            if joint is not None:
                joint.merge(MomentAccumulator.from_state_dict(other[1]))
        return accs, joint, sum(s[2] for s in states)


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _device_of(model: Callable[..., Any]) -> torch.device:
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.device
        for b in model.buffers():
            return b.device
    return torch.device("cpu")


def _stored(results: dict[str, BandShapley]) -> dict[str, dict[str, Tensor | None]]:
    return {
        name: {
            "values": r.values.detach().cpu(),
            "v_empty": r.v_empty.detach().cpu(),
            "v_full": r.v_full.detach().cpu(),
            "target": None if r.target is None else r.target.detach().cpu(),
        }
        for name, r in results.items()
    }


def _restored(d: dict[str, Tensor | None], rows: slice) -> BandShapley:
    target = None if d["target"] is None else d["target"][rows]
    return BandShapley(d["values"][rows], d["v_empty"][rows], d["v_full"][rows], target, 0)


def _stored_images(st: _State, k: int) -> int:
    if not st.store or k not in st.store:
        return 0
    return int(next(iter(st.store[k].values()))["values"].shape[0])


def _average(old: BandShapley, new: BandShapley, w_old: float, w_new: float) -> BandShapley:
    if math.isinf(w_new):
        return BandShapley(new.values.cpu(), new.v_empty.cpu(), new.v_full.cpu(), old.target, new.evaluations)
    a, b = w_old / (w_old + w_new), w_new / (w_old + w_new)
    return BandShapley(
        a * old.values + b * new.values.cpu(),
        a * old.v_empty + b * new.v_empty.cpu(),
        a * old.v_full + b * new.v_full.cpu(),
        old.target,
        new.evaluations,
    )

r"""The streaming loop of a global run: data in, accumulated statistics out.

:class:`GlobalRun` owns everything that makes a long run practical and none of the mathematics:
the passes over the data, the evaluation budget, the stopping rules (``n_samples``, budget,
``tolerance``), checkpoints with exact resume, the progress bar, the ``torch.distributed``
protocol and the bootstrap weights. Each batch is handed to the design's estimator once per model,
with the same images, baseline images, coalitions and bootstrap weights for every model (common
random numbers), so several models are compared pairwise at no extra cost. Each concern it
coordinates has its own module: options, random streams, batches, the checkpointed state,
checkpoints, the second pass and ``torch.distributed``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_iaside.errors import NonFiniteValueError, StrataLabelsError
from captum_iaside.estimators.base import BandShapley, ShapleyEstimator
from captum_iaside.estimators.selection import interaction_estimator
from captum_iaside.execution.workspace import Workspace
from captum_iaside.game.baselines import Baseline, reference_images
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.spectral_game import SpectralGame
from captum_iaside.game.value_functions import ValueFunction, resolve_target
from captum_iaside.global_run.accumulators import (
    GlobalAccumulator,
    MomentAccumulator,
    group_moments,
    merge_by_key,
    stratified_covariance,
    update_by_key,
)
from captum_iaside.global_run.batches import chain, check_batch_labels, known_images, split_batch
from captum_iaside.global_run.checkpoint import batch_digest, load_checkpoint, model_digest, save_checkpoint
from captum_iaside.global_run.design import GlobalDesign, pass_weight, plan_global, second_pass_design
from captum_iaside.global_run.distributed import gather, world
from captum_iaside.global_run.options import RunOptions
from captum_iaside.global_run.progress import RunProgress
from captum_iaside.global_run.second_pass import restored_estimates, stored_estimates, stored_images, weighted_average
from captum_iaside.global_run.state import RunState
from captum_iaside.global_run.strata import StrataPlan, as_labels, plan_strata, reorder
from captum_iaside.global_run.streams import (
    BASELINE_STREAM,
    BOOTSTRAP_STREAM,
    ESTIMATOR_STREAM,
    batch_generator,
    clone_generator,
)
from captum_iaside.results.comparison import SpectralComparison
from captum_iaside.results.importance import SpectralImportance


@dataclass
class RunOutcome:
    r"""What a global run returns: the merged statistics of all ranks and why it stopped."""

    accumulators: dict[str, GlobalAccumulator]
    joint: dict[int, MomentAccumulator] | None
    stop_reason: str
    config: dict[str, Any]
    interactions: dict[str, GlobalAccumulator] | None = None

    @property
    def confidence(self) -> float:
        r"""The level of the bootstrap intervals."""
        return float(self.config["confidence"])

    def result(self, name: str) -> SpectralImportance:
        r"""The :class:`SpectralImportance` of model ``name``."""
        config = dict(self.config)
        config["model"] = name
        result = self.accumulators[name].result(config, confidence=self.confidence, stop_reason=self.stop_reason)
        if self.interactions is not None:
            m = result.n_bands
            est = self.interactions[name].estimate()
            result.interactions = est.values.reshape(m, m)
            result.interactions_stderr = est.stderr.reshape(m, m)
        return result

    def comparison(self) -> SpectralComparison:
        r"""
        The :class:`SpectralComparison` of all models: each model's result, its bootstrap replicates
        (the same replicate weights for every model) and the covariance of all models' ψ̂ (stratified as
        each model's own estimate is).
        """
        results = {name: self.result(name) for name in self.accumulators}
        replicates = {name: acc.replicates() for name, acc in self.accumulators.items()}
        covariance = None
        if self.joint is not None:
            groups, _ = next(iter(self.accumulators.values())).groups()
            covariance = stratified_covariance(group_moments(groups, self.joint))
        return SpectralComparison(
            results,
            confidence=self.confidence,
            replicates=None if any(r is None for r in replicates.values()) else replicates,
            covariance=covariance,
        )


class GlobalRun:
    r"""
    One global run of one or more models over a data set.

    Args:
        models (dict): Name → forward function.
        bands (FourierPartition): The players.
        baseline (Baseline): What replaces a removed band.
        value (ValueFunction): The value of a coalition.
        estimator (str, ShapleyEstimator or None): Per-image estimator, None for the automatic
                    design (:func:`~captum_iaside.global_run.design.plan_global`).
        budget (int, optional): Evaluations per image.
        options (RunOptions): The run's options.
        config (dict): The configuration to report (and to fingerprint checkpoints with).
    """

    def __init__(
        self,
        models: dict[str, Callable[..., Any]],
        bands: FourierPartition,
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
        self._checkpoint: str | None = None
        self.workspaces = {name: Workspace(options.perturbations_per_eval, options.max_memory) for name in models}
        self._donors: dict[str, Tensor] = {}
        self._strata: StrataPlan | None = None

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
        data = self._stratified(data)
        n_images = known_images(data)
        if n_images is not None and opts.n_samples is not None:
            n_images = min(n_images, opts.n_samples)
        estimator = self.estimator
        if opts.interactions is not None:
            estimator = interaction_estimator(estimator, self.budget, m)  # exact without a budget
        design = plan_global(estimator, self.budget, share, m, n_images)
        stream = self._iterate(data)
        first = next(stream, None)
        fingerprint = self._fingerprint(design, data, first)
        checkpoint = opts.checkpoint
        if checkpoint is not None and self.world_size > 1:
            checkpoint = f"{checkpoint}.rank{self.rank}"
        saved = load_checkpoint(checkpoint, fingerprint) if checkpoint is not None else None
        st = RunState.from_dict(saved["state"]) if saved is not None else self._fresh_state()
        self._checkpoint = checkpoint
        if saved is not None and st.probe is not None and first is not None:
            self._check_probe(first, st)
        if saved is not None and st.finished:
            self._check_finished(stream if first is None else chain(first, stream), st)
        for name, ppe in st.perturbations_per_eval.items():
            if ppe is not None:
                self.workspaces[name].resume(ppe)
        designs = self._designs = [design]
        if st.second_pass is not None:
            designs.append(second_pass_design(*st.second_pass, m))

        def save() -> None:
            if checkpoint is not None:
                st.perturbations_per_eval = {n: w.perturbations_per_eval for n, w in self.workspaces.items()}
                save_checkpoint(checkpoint, {"fingerprint": fingerprint, "state": st.to_dict()})

        progress = RunProgress(
            list(self.models),
            design.n_images,
            design.evaluations_per_image(m),
            st.images_done,
            "I-ASIDE (global)" if self.world_size == 1 else f"I-ASIDE (global, rank 0's shard of {self.world_size})",
            show=opts.show_progress and self.rank == 0,
        )
        with progress:
            steps = self._steps(data, stream, first, st, designs, share)
            while not st.stop_reason:
                if not st.finished:
                    item = next(steps, None)
                    if item is None:
                        st.finished = st.exhausted = True
                        st.local_reason = st.local_reason or "data exhausted"
                    else:
                        self._step(item, st, designs[st.pass_index], share, progress)
                st.steps += 1
                st.stop_reason = self._agree(st)
                if st.stop_reason or st.steps % opts.checkpoint_every == 0:
                    save()
        accumulators, joint, spent, pairs = self._merged(st)
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
        config["execution"] = {name: w.report().to_dict() for name, w in self.workspaces.items()}
        config["labels"] = "given" if st.labelled else "predicted"
        config["strata"] = self._strata_config(next(iter(accumulators.values())))
        return RunOutcome(accumulators, joint, st.stop_reason, config, pairs)

    def _stratified(self, data: Any) -> Any:
        r"""The data in stratified order where they can be put in it (every model's, alike); sets the plan."""
        names = list(self.models)
        own = data[names[0]] if isinstance(data, dict) and names[0] in data else data
        opts = self.options
        ordered, plan = plan_strata(opts.strata, own, opts.use_labels, opts.seed, self.rank)
        if plan is not None and plan.order is not None and isinstance(data, dict):
            try:
                ordered = {n: ordered if n == names[0] else reorder(d, plan.order) for n, d in data.items()}
            except ValueError:
                if not (isinstance(opts.strata, str) and opts.strata == "auto"):
                    raise
                ordered, plan = data, None  # the other models' data cannot follow: not stratified
        self._strata = plan
        return data if plan is None or plan.order is None else ordered

    def _strata_config(self, acc: GlobalAccumulator) -> dict[str, Any] | None:
        r"""``config["strata"]``: the plan, the strata the images reached and the weight of those they missed."""
        if self._strata is None:
            return None
        _, missing = acc.groups()
        config = self._strata.config()
        config["strata"] = len(acc.population)
        config["images"] = sum(acc.population.values())
        config["strata_seen"] = len(acc.strata)
        config["strata_pooled"] = sum(1 for count in acc.counts().values() if count < 2)  # into one group
        config["weight_unseen"] = missing
        if missing > 0:
            warnings.warn(
                f"the images the run reached held none of {config['strata'] - config['strata_seen']} strata "
                f"(weight {missing:.3g} of the data); ψ is estimated over the other strata",
                stacklevel=4,
            )
        return config

    def _fresh_state(self) -> RunState:
        m, opts = self.bands.n_bands, self.options
        population = None if self._strata is None else self._strata.population()
        accs = {n: GlobalAccumulator(m, opts.n_bootstrap, opts.by_class, population) for n in self.models}
        joint = {} if len(self.models) > 1 else None
        pairs = None
        if opts.interactions is not None:  # the (M, M) matrix per image, flattened; standard errors from its moments
            pairs = {n: GlobalAccumulator(m * m, 0, False, population) for n in self.models}
        return RunState(accumulators=accs, joint=joint, interactions=pairs)

    def _fingerprint(self, design: GlobalDesign, data: Any, first: dict[str, Any] | None) -> dict[str, Any]:
        fp = dict(self.config)
        fp.update(self.options.fingerprint())
        fp["design"] = design.config()
        fp["world_size"] = self.world_size
        fp["models"] = {n: model_digest(f) for n, f in self.models.items()}
        fp["data"] = {
            "images": known_images(data),
            "first_batch": None if first is None else {n: batch_digest(*split_batch(b)) for n, b in first.items()},
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
        st: RunState,
        designs: list[GlobalDesign],
        share: int | None,
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        r"""The batches still to process, pass after pass (resumed runs skip what is done)."""
        if st.pass_index == 0:
            yield from self._not_done(stream if first is None else chain(first, stream), st)
            if not designs[0].second_pass or share is None:
                return
            follow = second_pass_design(share - st.spent, st.images_first_pass, self.bands.n_bands)
            if follow is None:
                return
            st.second_pass = (share - st.spent, st.images_first_pass)
            designs.append(follow)
            st.pass_index, st.batches_done, st.images_done, st.streamed = 1, 0, 0, 0
            self._donors = {}
        yield from self._not_done(self._iterate(data), st)
        if st.batches_done == 0:
            st.local_reason = (
                "data exhausted (a second pass to spend the rest of max_evaluations found no data: pass a "
                "re-iterable such as a DataLoader)"
            )

    def _not_done(self, batches: Iterable[dict[str, Any]], st: RunState) -> Iterator[tuple[int, dict[str, Any]]]:
        for k, batch in enumerate(batches):
            if self._checkpoint is not None or self._designs[0].second_pass:
                self._check_digest(k, batch, st)
            if k < st.batches_done:  # done before the checkpoint; its images serve as donors
                self._donors = {n: split_batch(b)[0] for n, b in batch.items()}
                continue
            yield k, batch

    def _step(
        self,
        item: tuple[int, dict[str, Any]],
        st: RunState,
        design: GlobalDesign,
        share: int | None,
        progress: RunProgress,
    ) -> None:
        k, batch = item
        opts, m = self.options, self.bands.n_bands
        split = {n: split_batch(b) for n, b in batch.items()}
        sizes = {x.shape[0] for x, _ in split.values()}
        if len(sizes) != 1:
            raise ValueError(f"the data of the compared models yield batches of different sizes {sorted(sizes)}")
        n = sizes.pop()
        if opts.use_labels or (self._strata is not None and self._strata.source == "target"):
            for x, y in split.values():
                if y is not None:
                    check_batch_labels(y, x.shape[0], k)
        offset = st.streamed
        st.streamed += n
        draw = n
        if st.pass_index > 0:
            draw = stored_images(st, k)
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
            ids = self._strata_ids(offset, n, next(iter(split.values()))[1])
            inputs = {name: (x[:n], y) for name, (x, y) in split.items()}
            self._evaluate(k, inputs, n, draw, ids, st, design, budget, progress)
        st.batches_done = k + 1
        if opts.n_samples is not None and st.images_done >= opts.n_samples:
            st.finished, st.local_reason = True, f"n_samples={opts.n_samples} reached"
        elif share is not None and share - st.spent < design.evaluations_per_image(m):
            st.finished = True
            st.local_reason = f"max_evaluations={opts.max_evaluations} reached ({st.spent} evaluations spent)"

    def _strata_ids(self, offset: int, n: int, labels: Any) -> Tensor | None:
        r"""
        The stratum ids of the ``n`` images from position ``offset`` of the data (None: unstratified); strata
        by target are checked against the labels the batch holds (a ``collate_fn`` that leaves images out would
        shift every later id).
        """
        if self._strata is None:
            return None
        ids = self._strata.ids
        if offset + n > ids.numel():
            raise ValueError(
                f"strata has {ids.numel()} ids, but the data yielded more images; give one id per image of the data"
            )
        ids = ids[offset : offset + n]
        if self._strata.source == "target" and isinstance(labels, (Tensor, list, tuple)):
            given = as_labels(labels[:n], n)
            if given is not None and not torch.equal(given, ids):
                raise StrataLabelsError(
                    f"the labels of the batch at image {offset} differ from the data set's labels that strata='target' "
                    "read before the run: does a collate_fn leave images out? Pass strata=None",
                    offset,
                )
        return ids

    def _batch_budget(self, design: GlobalDesign, st: RunState, share: int | None) -> int | None:
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

    def _check_digest(self, k: int, batch: dict[str, Any], st: RunState) -> None:
        r"""
        Digest batch ``k`` and compare it with the digest of the first pass (recorded as the batch is
        first seen): a resumed run or a second pass on other data is refused, naming the first batch
        that differs, before anything is written.
        """
        digest = "/".join(batch_digest(*split_batch(b)) for b in batch.values())
        if k < len(st.batch_digests):
            if digest != st.batch_digests[k]:
                where = "the checkpoint was written with" if st.pass_index == 0 else "the first pass read"
                raise ValueError(
                    f"batch {k} of the data differs from the batch {k} {where}: resuming needs data that yield "
                    f"the same batches in the same order (checkpoint {self._checkpoint!r} left untouched)"
                )
        elif st.pass_index == 0:
            st.batch_digests.append(digest)

    def _check_finished(self, batches: Iterable[dict[str, Any]], st: RunState) -> None:
        r"""
        A finished checkpoint's result is returned only for the data it was computed from: every batch its run
        read is read again (no forward) and compared with its digest, and where that run read the data to their
        end, the data must end there too. Refused otherwise, naming the first batch that differs or the change
        in the number of batches, with the checkpoint left untouched.
        """
        read = len(st.batch_digests)
        to_the_end = st.exhausted or st.pass_index > 0  # a second pass starts only after the first read everything
        seen = 0
        for k, batch in enumerate(batches):
            if k == read:
                if to_the_end:
                    raise ValueError(
                        f"the data hold more than the {read} batches ({st.images_first_pass or st.images_done} "
                        f"images) that the finished checkpoint {self._checkpoint!r} was computed from; it was left "
                        "untouched: pass another checkpoint path or delete it"
                    )
                return
            self._check_digest(k, batch, st)
            seen = k + 1
        if seen < read:
            raise ValueError(
                f"the data end after {seen} batches, but the finished checkpoint {self._checkpoint!r} was computed "
                f"from {read}; it was left untouched: pass another checkpoint path or delete it"
            )

    def _device(self, name: str) -> torch.device:
        r"""Where model ``name`` evaluates: ``device=``, else the device of its parameters."""
        return self.options.device or _device_of(self.models[name])

    def _game(
        self, name: str, x: Tensor, y: Any, n: int, k: int, pass_index: int, st: RunState, **kwargs: Any
    ) -> SpectralGame:
        r"""The game of the first ``n`` images ``x`` of batch ``k`` of pass ``pass_index`` for model ``name``."""
        opts = self.options
        device = x.device
        target = None
        if opts.use_labels and y is not None:
            st.labelled = True
            target = resolve_target(y[:n] if isinstance(y, (Tensor, list, tuple)) else y, n, device)
        donors = self._donors.get(name)
        g_base = batch_generator(opts.seed, self.rank, pass_index, k, BASELINE_STREAM)
        reference = reference_images(
            self.baseline, x, g_base, None if donors is None else donors.to(device, non_blocking=True)
        )
        return SpectralGame(
            self.models[name],
            self.bands,
            x,
            reference,
            self.value,
            target,
            opts.additional_forward_args,
            workspace=self.workspaces[name],
            autocast_dtype=opts.autocast_dtype,
            **kwargs,
        )

    def _check_probe(self, first: dict[str, Any], st: RunState) -> None:
        r"""
        Identify each model (and the value and baseline) by what it does: ``v(∅)`` and ``v(N)`` of the first
        batch, stored when it was first evaluated, are computed again and must agree. A plain function
        has no weights to digest; this is what tells two of them apart.
        """
        for name, batch in first.items():
            stored = st.probe.get(name)
            if stored is None:
                continue
            x, y = split_batch(batch)
            n = stored["v_full"].shape[0]
            game = self._game(name, x[:n].detach().to(self._device(name)), y, n, 0, 0, st)
            for key, now in (("v_empty", game.v_empty()), ("v_full", game.v_full())):
                before = stored[key].to(torch.float64)
                # loose enough for another device or kernel (TF32 convolutions differ by ~1e-3), far tighter
                # than two models differ
                scale = max(1.0, float(before.abs().nan_to_num(0.0).max()))
                if not torch.allclose(now.cpu(), before, rtol=5e-3, atol=5e-3 * scale, equal_nan=True):
                    gap = float((now.cpu() - before).abs().nan_to_num(float("inf")).max())
                    what = "v(∅) (the baseline's value)" if key == "v_empty" else "v(N) (the image's value)"
                    raise ValueError(
                        f"checkpoint {self._checkpoint!r} was written for a model, value or baseline that behaves "
                        f"differently: {what} of the first batch differs for model {name!r} (max |difference| "
                        f"{gap:.3g}); it was left untouched: pass another checkpoint path or delete it"
                    )

    def _evaluate(
        self,
        k: int,
        inputs: dict[str, tuple[Tensor, Any]],
        n: int,
        draw: int,
        ids: Tensor | None,
        st: RunState,
        design: GlobalDesign,
        budget: int | None,
        progress: RunProgress,
    ) -> None:
        opts = self.options
        g_est = batch_generator(opts.seed, self.rank, st.pass_index, k, ESTIMATOR_STREAM)
        results: dict[str, BandShapley] = {}
        pairs: dict[str, BandShapley] = {}
        classes: dict[str, int | None] = {}
        spent = 0
        for name, (x, y) in inputs.items():
            device = self._device(name)
            x = x.detach().to(device, non_blocking=True)
            game = self._game(name, x, y, n, k, st.pass_index, st, progress=progress.game(name, n))
            try:
                if opts.interactions is None:
                    results[name] = design.estimator.estimate(game, budget, clone_generator(g_est))
                else:
                    found = design.estimator.estimate_interactions(
                        game, budget, clone_generator(g_est), opts.interactions
                    )
                    results[name] = s = found.shapley
                    pairs[name] = BandShapley(found.values.flatten(1), s.v_empty, s.v_full, s.target, s.evaluations)
            except NonFiniteValueError as exc:
                raise exc.located(k, None if len(self.models) == 1 else name) from exc
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
            g_boot = batch_generator(opts.seed, self.rank, 0, k, BOOTSTRAP_STREAM)
            # drawn for the whole batch as first seen, so an image keeps its weights on a second pass
            weights = torch.poisson(torch.ones(draw, opts.n_bootstrap, dtype=torch.float64), generator=g_boot)[:n]
        if st.pass_index == 0:
            if k == 0:  # what identifies the models on resume (a run whose batch 0 is empty has no probe)
                st.probe = {name: {"v_empty": r.v_empty.cpu(), "v_full": r.v_full.cpu()} for name, r in results.items()}
            self._add(results, weights, ids, st)
            if st.interactions is not None:
                for name, res in pairs.items():
                    st.interactions[name].update(res, None, ids)
            if design.second_pass:
                st.store = st.store or {}
                st.store[k] = stored_estimates(results)
            st.images_first_pass += n
        else:
            self._replace(k, results, weights, ids, st)
        st.images_done += n
        st.spent += spent
        if progress.shown:
            rings = self.bands.rings()
            notes = {
                name: f"srs={acc.running_srs(rings):.4f}, max_se={float(acc.estimate().stderr.max()):.3g}, "
                f"evals={st.spent}"
                for name, acc in st.accumulators.items()
            }
            progress.batch_done(st.images_done, notes)

    def _add(
        self,
        results: dict[str, BandShapley],
        weights: Tensor | None,
        ids: Tensor | None,
        st: RunState,
        remove: bool = False,
    ) -> None:
        for name, res in results.items():
            st.accumulators[name].update(res, weights, ids, remove=remove)
        if st.joint is not None:
            rows = torch.cat([results[name].values.to("cpu", torch.float64) for name in self.models], dim=1)
            strata = torch.zeros(rows.shape[0], dtype=torch.int64) if ids is None else ids
            update_by_key(st.joint, strata, rows, covariance=True, remove=remove)

    def _replace(
        self, k: int, results: dict[str, BandShapley], weights: Tensor | None, ids: Tensor | None, st: RunState
    ) -> None:
        r"""Second pass: average the new estimates of batch ``k`` with the first pass's."""
        m = self.bands.n_bands
        n = next(iter(results.values())).values.shape[0]
        old = {name: restored_estimates(st.store[k][name], slice(0, n)) for name in self.models}
        w_old, w_new = (pass_weight(d, m) for d in self._designs)
        combined = {name: weighted_average(old[name], res, w_old, w_new) for name, res in results.items()}
        self._add(old, weights, ids, st, remove=True)
        self._add(combined, weights, ids, st)
        for name, new in stored_estimates(combined).items():  # the images past n keep their first estimate
            for key, t in new.items():
                if t is not None:
                    st.store[k][name][key] = torch.cat([t, st.store[k][name][key][n:]])

    # ------------------------------------------------------------ stopping
    def _agree(self, st: RunState) -> str:
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

    def _tolerance_reason(self, per_rank: list[dict[str, GlobalAccumulator]], st: RunState) -> str:
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

    def _merged(
        self, st: RunState
    ) -> tuple[
        dict[str, GlobalAccumulator], dict[int, MomentAccumulator] | None, int, dict[str, GlobalAccumulator] | None
    ]:
        states = gather(
            (
                {n: a.state_dict() for n, a in st.accumulators.items()},
                None if st.joint is None else {h: a.state_dict() for h, a in st.joint.items()},
                st.spent,
                None if st.interactions is None else {n: a.state_dict() for n, a in st.interactions.items()},
            )
        )
        accs = {n: GlobalAccumulator.from_state_dict(states[0][0][n]) for n in self.models}
        joint = (
            None if states[0][1] is None else {h: MomentAccumulator.from_state_dict(a) for h, a in states[0][1].items()}
        )
        pairs = (
            None
            if states[0][3] is None
            else {n: GlobalAccumulator.from_state_dict(states[0][3][n]) for n in self.models}
        )
        for other in states[1:]:
            for n in self.models:
                accs[n].merge(GlobalAccumulator.from_state_dict(other[0][n]))
                if pairs is not None:
                    pairs[n].merge(GlobalAccumulator.from_state_dict(other[3][n]))
            if joint is not None:
                merge_by_key(joint, {h: MomentAccumulator.from_state_dict(a) for h, a in other[1].items()})
        return accs, joint, sum(s[2] for s in states), pairs


def _device_of(model: Callable[..., Any]) -> torch.device:
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.device
        for b in model.buffers():
            return b.device
    return torch.device("cpu")

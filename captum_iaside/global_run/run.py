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

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_iaside.errors import NonFiniteValueError
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
    stratified_covariance,
)
from captum_iaside.global_run.batches import chain, check_batch_labels, known_images, model_batches, split_batch
from captum_iaside.global_run.checkpoint import load_checkpoint, run_fingerprint, save_checkpoint
from captum_iaside.global_run.design import GlobalDesign, plan_global, second_pass_design
from captum_iaside.global_run.distributed import agreed_stop, merged_statistics, world
from captum_iaside.global_run.options import RunOptions
from captum_iaside.global_run.progress import RunProgress
from captum_iaside.global_run.resume import check_digest, check_finished, check_probe
from captum_iaside.global_run.second_pass import replace_estimates, stored_estimates, stored_images
from captum_iaside.global_run.state import RunState
from captum_iaside.global_run.strata import StrataPlan, stratify
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
        self._checkpoint: str | None = None  # set by run(): this rank's checkpoint file
        self.workspaces = {name: Workspace(options.perturbations_per_eval, options.max_memory) for name in models}
        self._donors: dict[str, Tensor] = {}
        self._strata: StrataPlan | None = None  # set by run(): the strata of this run's images
        self._designs: list[GlobalDesign] = []  # set by run(): the first pass's design, then the second's

    # ------------------------------------------------------------ the run
    def run(self, data: Iterable[Any]) -> RunOutcome:
        r"""Stream ``data`` and return the merged statistics."""
        opts, m = self.options, self.bands.n_bands
        share = None
        if opts.max_evaluations is not None:
            share = opts.max_evaluations // self.world_size + (self.rank < opts.max_evaluations % self.world_size)
        data, self._strata = stratify(data, list(self.models), opts.strata, opts.use_labels, opts.seed, self.rank)
        n_images = known_images(data)
        if n_images is not None and opts.n_samples is not None:
            n_images = min(n_images, opts.n_samples)
        estimator = self.estimator
        if opts.interactions is not None:
            estimator = interaction_estimator(estimator, self.budget, m)  # exact without a budget
        design = plan_global(estimator, self.budget, share, m, n_images)
        stream = model_batches(data, list(self.models))
        first = next(stream, None)
        fingerprint = run_fingerprint(
            self.config | opts.fingerprint(), design.config(), self.world_size, self.models, data, first
        )
        checkpoint = opts.checkpoint
        if checkpoint is not None and self.world_size > 1:
            checkpoint = f"{checkpoint}.rank{self.rank}"
        saved = load_checkpoint(checkpoint, fingerprint) if checkpoint is not None else None
        st = RunState.from_dict(saved["state"]) if saved is not None else self._fresh_state()
        self._checkpoint = checkpoint
        if saved is not None and st.probe is not None and first is not None:
            check_probe(first, st, checkpoint, self._probe_game)
        if saved is not None and st.finished:
            check_finished(stream if first is None else chain(first, stream), st, checkpoint)
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
                st.stop_reason = agreed_stop(st, list(self.models), opts.tolerance, self.world_size)
                if st.stop_reason or st.steps % opts.checkpoint_every == 0:
                    save()
        merged = merged_statistics(st, list(self.models))
        accumulators = merged.accumulators
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
        config["evaluations"] = merged.spent
        config["perturbations_per_eval"] = self._chosen_perturbations_per_eval()
        config["execution"] = {name: w.report().to_dict() for name, w in self.workspaces.items()}
        config["labels"] = "given" if st.labelled else "predicted"
        config["strata"] = None if self._strata is None else self._strata.reached(next(iter(accumulators.values())))
        return RunOutcome(accumulators, merged.joint, st.stop_reason, config, merged.interactions)

    def _fresh_state(self) -> RunState:
        r"""The state of a run that starts: empty accumulators (stratified by the plan's population, if any)."""
        m, opts = self.bands.n_bands, self.options
        population = None if self._strata is None else self._strata.population()
        accs = {n: GlobalAccumulator(m, opts.n_bootstrap, opts.by_class, population) for n in self.models}
        joint = {} if len(self.models) > 1 else None
        pairs = None
        if opts.interactions is not None:  # the (M, M) matrix per image, flattened; standard errors from its moments
            pairs = {n: GlobalAccumulator(m * m, 0, False, population) for n in self.models}
        return RunState(accumulators=accs, joint=joint, interactions=pairs)

    def _chosen_perturbations_per_eval(self) -> int | str | dict[str, int | None]:
        r"""The forward size in use: one value shared by every model, else model name → size."""
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
        yield from self._not_done(model_batches(data, list(self.models)), st)
        if st.batches_done == 0:
            st.local_reason = (
                "data exhausted (a second pass to spend the rest of max_evaluations found no data: pass a "
                "re-iterable such as a DataLoader)"
            )

    def _not_done(self, batches: Iterable[dict[str, Any]], st: RunState) -> Iterator[tuple[int, dict[str, Any]]]:
        r"""The batches of this pass from the first not done yet (earlier ones are digested and serve as donors)."""
        for k, batch in enumerate(batches):
            if self._checkpoint is not None or self._designs[0].second_pass:
                check_digest(k, batch, st, self._checkpoint)
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
        r"""
        One step: batch ``k`` cut to what ``n_samples`` and the evaluations left allow, its games played for every
        model (:meth:`_evaluate`), and the limits that finish the rank's run.
        """
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
        planned = design.n_images if st.pass_index == 0 else st.images_first_pass
        budget = design.batch_budget(planned, st.images_done, st.spent, share)
        cost = 2**m if budget is None else budget
        if share is not None:
            n = min(n, (share - st.spent) // cost)
        if n > 0:
            ids = None if self._strata is None else self._strata.ids_of(offset, n, next(iter(split.values()))[1])
            inputs = {name: (x[:n], y) for name, (x, y) in split.items()}
            self._evaluate(k, inputs, n, draw, ids, st, design, budget, progress)
        st.batches_done = k + 1
        if opts.n_samples is not None and st.images_done >= opts.n_samples:
            st.finished, st.local_reason = True, f"n_samples={opts.n_samples} reached"
        elif share is not None and share - st.spent < design.evaluations_per_image(m):
            st.finished = True
            st.local_reason = f"max_evaluations={opts.max_evaluations} reached ({st.spent} evaluations spent)"

    def _device(self, name: str) -> torch.device:
        r"""Where model ``name`` evaluates: ``device=``, else the device of its parameters."""
        return self.options.device or _device_of(self.models[name])

    def _probe_game(self, name: str, x: Tensor, y: Any, n: int) -> SpectralGame:
        r"""The game of the first ``n`` images of batch 0 for model ``name`` (a resumed run's check of the models)."""
        return self._game(name, x[:n].detach().to(self._device(name)), y, n, 0, 0)

    def _game(self, name: str, x: Tensor, y: Any, n: int, k: int, pass_index: int, **kwargs: Any) -> SpectralGame:
        r"""The game of the first ``n`` images ``x`` of batch ``k`` of pass ``pass_index`` for model ``name``."""
        opts = self.options
        device = x.device
        target = None
        if opts.use_labels and y is not None:
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
        r"""
        Play the games of the ``n`` images of batch ``k`` for every model with the same generator, draw the
        images' bootstrap weights and add the estimates to the state (the second pass averages them in).
        """
        opts = self.options
        g_est = batch_generator(opts.seed, self.rank, st.pass_index, k, ESTIMATOR_STREAM)
        results: dict[str, BandShapley] = {}
        pairs: dict[str, BandShapley] = {}
        classes: dict[str, int | None] = {}
        spent = 0
        for name, (x, y) in inputs.items():
            device = self._device(name)
            x = x.detach().to(device, non_blocking=True)
            game = self._game(name, x, y, n, k, st.pass_index, progress=progress.game(name, n))
            st.labelled = st.labelled or (opts.use_labels and y is not None)
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
            st.add(results, weights, ids)
            if st.interactions is not None:
                for name, res in pairs.items():
                    st.interactions[name].update(res, None, ids)
            if design.second_pass:
                st.store = st.store or {}
                st.store[k] = stored_estimates(results)
            st.images_first_pass += n
        else:
            w_old, w_new = (d.estimator.pass_weight(self.bands.n_bands, d.budget) for d in self._designs)
            replace_estimates(st, k, results, weights, ids, w_old, w_new)
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


def _device_of(model: Callable[..., Any]) -> torch.device:
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.device
        for b in model.buffers():
            return b.device
    return torch.device("cpu")

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
    InteractionAccumulator,
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
from captum_iaside.global_run.resume import check_digest, check_finished, check_probe, digest_of_batch
from captum_iaside.global_run.state import BatchEstimates, RunState
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
    interactions: dict[str, InteractionAccumulator] | None
    players: FourierPartition

    @property
    def confidence(self) -> float:
        r"""The level of the bootstrap intervals."""
        return float(self.config["confidence"])

    def result(self, name: str, label: str | None = None) -> SpectralImportance:
        r"""The :class:`SpectralImportance` of model ``name``, reported as ``label`` (default: ``name``)."""
        config = dict(self.config)
        config["model"] = name if label is None else label
        pairs = None if self.interactions is None else self.interactions[name].estimate()
        return self.accumulators[name].result(
            config, confidence=self.confidence, stop_reason=self.stop_reason, interactions=pairs, players=self.players
        )

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


@dataclass(frozen=True)
class PendingBatch:
    r"""A batch still to play: its index ``k`` in the pass, every model's data, the previous batch's images (the
    donors of a shuffled baseline; None for the first of a pass) and its digest where the run checks them."""

    k: int
    batch: dict[str, Any]
    donors: dict[str, Tensor] | None
    digest: str | None


@dataclass(frozen=True)
class SecondPass:
    r"""The first pass is over and a second follows, planned for ``remaining`` evaluations over ``images``."""

    remaining: int
    images: int
    design: GlobalDesign


#: Why a second pass ends without a batch.
NO_SECOND_PASS_DATA = (
    "data exhausted (a second pass to spend the rest of max_evaluations found no data: pass a re-iterable such as a "
    "DataLoader)"
)


class GlobalRun:
    r"""
    One global run of one or more models over a data set.

    :meth:`run` reads top to bottom: plan the design, fingerprint the run and resume its checkpoint, then step until
    every rank agrees to stop — each step plays one batch (:meth:`_play`, which only reads the state) and hands what
    it produced to :class:`RunState`, the one place that writes the run's state — and merge the ranks' statistics.

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
        self.workspaces = {name: Workspace(options.perturbations_per_eval, options.max_memory) for name in models}

    # ------------------------------------------------------------ the run
    def run(self, data: Iterable[Any]) -> RunOutcome:
        r"""Stream ``data`` and return the merged statistics."""
        opts, m, names = self.options, self.bands.n_bands, list(self.models)
        share = None
        if opts.max_evaluations is not None:
            share = opts.max_evaluations // self.world_size + (self.rank < opts.max_evaluations % self.world_size)
        data, strata = stratify(data, names, opts.strata, opts.use_labels, opts.seed, self.rank)
        n_images = known_images(data)
        if n_images is not None and opts.n_samples is not None:
            n_images = min(n_images, opts.n_samples)
        estimator = self.estimator
        if opts.interactions is not None:
            estimator = interaction_estimator(estimator, self.budget, m)  # exact without a budget
        design = plan_global(estimator, self.budget, share, m, n_images)
        stream = model_batches(data, names)
        first = next(stream, None)
        fingerprint = run_fingerprint(
            self.config | opts.fingerprint(), design.config(), self.world_size, self.models, data, first
        )
        checkpoint = opts.checkpoint
        if checkpoint is not None and self.world_size > 1:
            checkpoint = f"{checkpoint}.rank{self.rank}"
        saved = load_checkpoint(checkpoint, fingerprint) if checkpoint is not None else None
        if saved is None:
            population = None if strata is None else strata.population()
            st = RunState.fresh(names, m, opts.n_bootstrap, opts.by_class, population, opts.interactions is not None)
        else:
            st = RunState.from_dict(saved["state"])
            if st.probe is not None and first is not None:
                check_probe(first, st, checkpoint, self._probe_game)
            if st.finished:
                check_finished(stream if first is None else chain(first, stream), st, checkpoint)
            for name, ppe in saved["perturbations_per_eval"].items():
                if ppe is not None:
                    self.workspaces[name].resume(ppe)
        designs = [design]
        if st.second_pass is not None:
            designs.append(second_pass_design(*st.second_pass, m))

        def save() -> None:
            if checkpoint is not None:
                sizes = {n: w.perturbations_per_eval for n, w in self.workspaces.items()}
                save_checkpoint(
                    checkpoint, {"fingerprint": fingerprint, "state": st.to_dict(), "perturbations_per_eval": sizes}
                )

        progress = RunProgress(
            names,
            design.n_images,
            design.evaluations_per_image(m),
            st.images_done,
            "I-ASIDE (global)" if self.world_size == 1 else f"I-ASIDE (global, rank 0's shard of {self.world_size})",
            show=opts.show_progress and self.rank == 0,
        )
        checked = checkpoint is not None or design.second_pass  # batches are digested and compared
        with progress:
            batches = self._batches(data, stream, first, st, design, share, checkpoint, checked)
            while not st.stop_reason:
                if not st.finished:
                    item = next(batches, None)
                    if isinstance(item, SecondPass):
                        st.begin_second_pass(item.remaining, item.images)
                        designs.append(item.design)
                        item = next(batches, None)
                    if item is None:
                        st.exhaust(NO_SECOND_PASS_DATA if st.pass_index and not st.batches_done else "data exhausted")
                    else:
                        self._step(item, st, designs, share, strata, progress)
                st.end_step(agreed_stop(st, names, opts.tolerance, self.world_size))
                if st.stop_reason or st.steps % opts.checkpoint_every == 0:
                    save()
        merged = merged_statistics(st, names)
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
        config["strata"] = None if strata is None else strata.reached(next(iter(accumulators.values())))
        return RunOutcome(accumulators, merged.joint, st.stop_reason, config, merged.interactions, self.bands)

    def _chosen_perturbations_per_eval(self) -> int | str | dict[str, int | None]:
        r"""The forward size in use: one value shared by every model, else model name → size."""
        chosen = {n: w.perturbations_per_eval for n, w in self.workspaces.items()}
        values = set(chosen.values())
        return values.pop() if len(values) == 1 else chosen

    # ------------------------------------------------------------ passes
    def _batches(
        self,
        data: Any,
        stream: Iterator[dict[str, Any]],
        first: dict[str, Any] | None,
        st: RunState,
        design: GlobalDesign,
        share: int | None,
        checkpoint: str | None,
        checked: bool,
    ) -> Iterator[PendingBatch | SecondPass]:
        r"""
        The batches still to play, pass after pass (a resumed run skips those done), with a :class:`SecondPass`
        between the passes where the design has one and evaluations are left. It reads the state and writes nothing.
        """
        if st.pass_index == 0:
            yield from self._not_done(stream if first is None else chain(first, stream), st, checkpoint, checked)
            if not design.second_pass or share is None:
                return
            follow = second_pass_design(share - st.spent, st.images_first_pass, self.bands.n_bands)
            if follow is None:
                return
            yield SecondPass(share - st.spent, st.images_first_pass, follow)
        yield from self._not_done(model_batches(data, list(self.models)), st, checkpoint, checked)

    @staticmethod
    def _not_done(
        batches: Iterable[dict[str, Any]], st: RunState, checkpoint: str | None, checked: bool
    ) -> Iterator[PendingBatch]:
        r"""
        The batches of a pass from the first not done yet; each is compared with the digest the first pass recorded
        (``checked``), and the one before it gives its images as donors.
        """
        donors = None
        for k, batch in enumerate(batches):
            digest = None
            if checked:
                digest = digest_of_batch(batch)
                check_digest(k, digest, st, checkpoint)
            if k >= st.batches_done:
                yield PendingBatch(k, batch, donors, digest)
            donors = {n: split_batch(b)[0] for n, b in batch.items()}

    def _step(
        self,
        item: PendingBatch,
        st: RunState,
        designs: list[GlobalDesign],
        share: int | None,
        strata: StrataPlan | None,
        progress: RunProgress,
    ) -> None:
        r"""One step: the batch played (:meth:`_play`), its estimates recorded, and the limits that finish the rank."""
        m, opts = self.bands.n_bands, self.options
        design = designs[st.pass_index]
        batch = self._play(item, st, design, share, strata, progress)
        if st.pass_index == 0:
            st.record_batch(batch, keep=design.second_pass)
        else:
            w_old, w_new = (d.estimator.pass_weight(m, d.budget) for d in designs)
            st.replace_batch(batch, w_old, w_new)
        if opts.n_samples is not None and st.images_done >= opts.n_samples:
            st.finish(f"n_samples={opts.n_samples} reached")
        elif share is not None and share - st.spent < design.evaluations_per_image(m):
            st.finish(f"max_evaluations={opts.max_evaluations} reached ({st.spent} evaluations spent)")
        if batch.n and progress.shown:
            rings = self.bands.rings()
            notes = {
                name: f"srs={acc.running_srs(rings):.4f}, max_se={float(acc.estimate().stderr.max()):.3g}, "
                f"evals={st.spent}"
                for name, acc in st.accumulators.items()
            }
            progress.batch_done(st.images_done, notes)

    def _play(
        self,
        item: PendingBatch,
        st: RunState,
        design: GlobalDesign,
        share: int | None,
        strata: StrataPlan | None,
        progress: RunProgress,
    ) -> BatchEstimates:
        r"""
        Batch ``k`` cut to what ``n_samples`` and the evaluations left allow, and its games played for every model
        with the same generator (common random numbers) and bootstrap weights; the state is only read.
        """
        k, opts, m = item.k, self.options, self.bands.n_bands
        split = {n: split_batch(b) for n, b in item.batch.items()}
        sizes = {x.shape[0] for x, _ in split.values()}
        if len(sizes) != 1:
            raise ValueError(f"the data of the compared models yield batches of different sizes {sorted(sizes)}")
        streamed = n = sizes.pop()
        if opts.use_labels or (strata is not None and strata.source == "target"):
            for x, y in split.values():
                if y is not None:
                    check_batch_labels(y, x.shape[0], k)
        draw = n
        if st.pass_index > 0:
            draw = st.stored_images(k)
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
        if n <= 0:
            return BatchEstimates(k, streamed, digest=item.digest)
        ids = None if strata is None else strata.ids_of(st.streamed, n, next(iter(split.values()))[1])
        g_est = batch_generator(opts.seed, self.rank, st.pass_index, k, ESTIMATOR_STREAM)
        results: dict[str, BandShapley] = {}
        pairs: dict[str, Tensor] = {}
        classes: dict[str, int | None] = {}
        labelled = False  # whether this batch's value used the data's labels
        for name, (x, y) in split.items():
            x = x[:n].detach().to(self._device(name), non_blocking=True)
            donors = None if item.donors is None else item.donors[name]
            game = self._game(name, x, y, n, k, st.pass_index, donors, progress=progress.game(name, n))
            labelled = labelled or (opts.use_labels and y is not None)
            try:
                if opts.interactions is None:
                    results[name] = design.estimator.estimate(game, budget, clone_generator(g_est))
                else:
                    found = design.estimator.estimate_interactions(
                        game, budget, clone_generator(g_est), opts.interactions
                    )
                    results[name], pairs[name] = found.shapley, found.values
            except NonFiniteValueError as exc:
                raise exc.located(k, None if len(self.models) == 1 else name) from exc
            classes[name] = game.output_classes
        if (st.labelled or labelled) and len(set(classes.values())) > 1:
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
        spent = max(r.evaluations for r in results.values())
        return BatchEstimates(k, streamed, n, results, pairs or None, weights, ids, spent, labelled, item.digest)

    # ------------------------------------------------------------ games
    def _device(self, name: str) -> torch.device:
        r"""Where model ``name`` evaluates: ``device=``, else the device of its parameters."""
        return self.options.device or _device_of(self.models[name])

    def _probe_game(self, name: str, x: Tensor, y: Any, n: int) -> SpectralGame:
        r"""The game of the first ``n`` images of batch 0 for model ``name`` (a resumed run's check of the models)."""
        return self._game(name, x[:n].detach().to(self._device(name)), y, n, 0, 0, None)

    def _game(
        self,
        name: str,
        x: Tensor,
        y: Any,
        n: int,
        k: int,
        pass_index: int,
        donors: Tensor | None,
        **kwargs: Any,
    ) -> SpectralGame:
        r"""
        The game of the first ``n`` images ``x`` of batch ``k`` of pass ``pass_index`` for model ``name``, ``donors``
        the previous batch's images (a shuffled baseline draws from them).
        """
        opts = self.options
        device = x.device
        target = None
        if opts.use_labels and y is not None:
            target = resolve_target(y[:n] if isinstance(y, (Tensor, list, tuple)) else y, n, device)
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


def _device_of(model: Callable[..., Any]) -> torch.device:
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.device
        for b in model.buffers():
            return b.device
    return torch.device("cpu")

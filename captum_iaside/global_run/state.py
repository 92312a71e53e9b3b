r"""Where a global run is and what it has accumulated: the state a checkpoint holds, and the only code that writes it.

A run reads :class:`RunState` everywhere and changes it only through its methods, each one event of the run: a
batch's estimates recorded (:meth:`RunState.record_batch`) or, on the second pass, averaged in
(:meth:`RunState.replace_batch`), the second pass begun, the rank's data finished, a step ended. A checkpoint is
:meth:`RunState.to_dict`; its layout is versioned by
:data:`~captum_iaside.global_run.checkpoint.CHECKPOINT_FORMAT`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from captum_iaside.estimators.base import BandShapley
from captum_iaside.global_run.accumulators import (
    GlobalAccumulator,
    InteractionAccumulator,
    MomentAccumulator,
    stratum_ids,
    update_by_key,
)
from captum_iaside.global_run.second_pass import (
    StoredEstimates,
    restored_estimates,
    stored_estimates,
    weighted_average,
)


@dataclass(frozen=True)
class BatchEstimates:
    r"""
    What one step of a run produced from batch ``k``: every model's estimates of its first ``n`` images.

    Attributes:
        k (int): The batch's index in its pass.
        streamed (int): Images the batch held (evaluated or not).
        n (int): Images evaluated (0: none, the limits left no room).
        results (dict): Model name → :class:`BandShapley` of the ``n`` images (empty where ``n`` is 0).
        interactions (dict, optional): Model name → ``(n, M, M)`` interaction matrices (``interactions=``).
        weights (Tensor, optional): ``(n, R)`` Poisson bootstrap weights of the images, the same for every model.
        ids (Tensor, optional): ``(n,)`` stratum ids of the images (None: unstratified).
        spent (int): Model evaluations per model.
        labelled (bool): Whether the value used the data's labels.
        digest (str, optional): The batch's digest where it is to be recorded (first pass, checked runs).
    """

    k: int
    streamed: int
    n: int = 0
    results: dict[str, BandShapley] = field(default_factory=dict)
    interactions: dict[str, Tensor] | None = None
    weights: Tensor | None = None
    ids: Tensor | None = None
    spent: int = 0
    labelled: bool = False
    digest: str | None = None


@dataclass
class RunState:
    r"""
    Everything a checkpoint holds: where the run is and what it has accumulated.

    Attributes:
        accumulators (dict): Model name → the statistics of its φ̂.
        joint (dict, optional): Stratum → the moments of all models' φ̂ side by side (several models).
        interactions (dict, optional): Model name → the statistics of its interaction matrices.
        steps (int): Steps ended (a step reads one batch, or none once the rank's data are done).
        pass_index (int): 0, or 1 on the second pass.
        batches_done (int): Batches of this pass read.
        images_done (int): Images of this pass evaluated.
        images_first_pass (int): Images the first pass evaluated (the second pass's population).
        spent (int): Model evaluations per model.
        streamed (int): Images the data yielded on this pass, evaluated or not (the next batch's position).
        finished (bool): Whether this rank's data are done (a limit reached or the data exhausted).
        exhausted (bool): Whether the data ran out (every batch was read), rather than a limit stopping the run.
        local_reason (str): Why this rank finished.
        stop_reason (str): Why the run stopped, agreed by every rank ("" while it goes on).
        labelled (bool): Whether the value used the data's labels.
        second_pass (tuple, optional): ``(remaining evaluations, images)`` the second pass was planned with.
        store (dict, optional): Batch → model → the first pass's estimates (for the second pass).
        batch_digests (list of str): Of every batch of the first pass, in order.
        probe (dict, optional): Model name → ``v(∅)`` and ``v(N)`` of the first batch (what identifies the models on
                    resume).
    """

    accumulators: dict[str, GlobalAccumulator]
    joint: dict[int, MomentAccumulator] | None
    interactions: dict[str, InteractionAccumulator] | None = None
    steps: int = 0
    pass_index: int = 0
    batches_done: int = 0
    images_done: int = 0
    images_first_pass: int = 0
    spent: int = 0
    streamed: int = 0
    finished: bool = False
    exhausted: bool = False
    local_reason: str = ""
    stop_reason: str = ""
    labelled: bool = False
    second_pass: tuple[int, int] | None = None
    store: dict[int, dict[str, StoredEstimates]] | None = None
    batch_digests: list[str] = field(default_factory=list)
    probe: dict[str, dict[str, Tensor]] | None = None

    @classmethod
    def fresh(
        cls,
        models: list[str],
        n_bands: int,
        n_bootstrap: int,
        by_class: bool,
        population: dict[int, int] | None,
        interactions: bool,
    ) -> RunState:
        r"""The state of a run that starts: empty statistics for ``models`` (stratified by ``population``, if any)."""
        accs = {n: GlobalAccumulator(n_bands, n_bootstrap, by_class, population) for n in models}
        pairs = {n: InteractionAccumulator(n_bands, population) for n in models} if interactions else None
        return cls(accumulators=accs, joint={} if len(models) > 1 else None, interactions=pairs)

    def stored_images(self, k: int) -> int:
        r"""Images of batch ``k`` the first pass evaluated and stored (0 where none)."""
        if not self.store or k not in self.store:
            return 0
        return int(next(iter(self.store[k].values()))["values"].shape[0])

    # ------------------------------------------------------------ the events of a run
    def record_batch(self, batch: BatchEstimates, keep: bool) -> None:
        r"""
        A first-pass step: add its estimates (and interactions) and move on past its batch; ``keep``: store the
        estimates for a second pass.
        """
        if batch.digest is not None and batch.k == len(self.batch_digests):
            self.batch_digests.append(batch.digest)
        if batch.n:
            if batch.k == 0:  # what identifies the models on resume (a run whose batch 0 is empty has no probe)
                self.probe = {
                    name: {"v_empty": r.v_empty.cpu(), "v_full": r.v_full.cpu()} for name, r in batch.results.items()
                }
            self._add(batch.results, batch.weights, batch.ids)
            if self.interactions is not None and batch.interactions is not None:
                for name, values in batch.interactions.items():
                    self.interactions[name].update(values, batch.ids)
            if keep:
                self.store = self.store or {}
                self.store[batch.k] = stored_estimates(batch.results)
            self.images_first_pass += batch.n
        self._advance(batch)

    def replace_batch(self, batch: BatchEstimates, w_old: float, w_new: float) -> None:
        r"""
        A second-pass step: the first pass's estimates of the batch's images (weight ``w_old``) averaged with the new
        ones (weight ``w_new``) take their place in the statistics and the store; the images past ``n`` keep theirs.
        """
        if batch.n:
            stored = self.store[batch.k]
            old = {name: restored_estimates(stored[name], slice(0, batch.n)) for name in batch.results}
            combined = {name: weighted_average(old[name], res, w_old, w_new) for name, res in batch.results.items()}
            self._add(old, batch.weights, batch.ids, remove=True)
            self._add(combined, batch.weights, batch.ids)
            for name, new in stored_estimates(combined).items():
                for key, t in new.items():
                    if t is not None:
                        stored[name][key] = torch.cat([t, stored[name][key][batch.n :]])
        self._advance(batch)

    def begin_second_pass(self, remaining: int, images: int) -> None:
        r"""Start the second pass, planned for ``remaining`` evaluations over the first pass's ``images``."""
        self.second_pass = (remaining, images)
        self.pass_index, self.batches_done, self.images_done, self.streamed = 1, 0, 0, 0

    def finish(self, reason: str) -> None:
        r"""This rank's data are done: a limit was reached (``reason`` says which)."""
        self.finished, self.local_reason = True, reason

    def exhaust(self, reason: str) -> None:
        r"""This rank's data ran out (``reason``, unless a reason was already given)."""
        self.finished = self.exhausted = True
        self.local_reason = self.local_reason or reason

    def end_step(self, stop_reason: str) -> None:
        r"""A step ended, with the stop reason every rank agreed on ("" to go on)."""
        self.steps += 1
        self.stop_reason = stop_reason

    def _advance(self, batch: BatchEstimates) -> None:
        self.labelled = self.labelled or batch.labelled
        self.streamed += batch.streamed
        self.images_done += batch.n
        self.spent += batch.spent
        self.batches_done = batch.k + 1

    def _add(
        self, results: dict[str, BandShapley], weights: Tensor | None, ids: Tensor | None, remove: bool = False
    ) -> None:
        r"""
        Add (``remove``: take out) each model's estimates of a batch, with the images' bootstrap ``weights`` and
        stratum ``ids``, and all models' side by side to the joint moments (in the order of :attr:`accumulators`).
        """
        for name, res in results.items():
            self.accumulators[name].update(res, weights, ids, remove=remove)
        if self.joint is not None:
            rows = torch.cat([results[name].values.to("cpu", torch.float64) for name in self.accumulators], dim=1)
            update_by_key(self.joint, stratum_ids(ids, rows.shape[0]), rows, covariance=True, remove=remove)

    # ------------------------------------------------------------ the checkpoint
    def to_dict(self) -> dict[str, Any]:
        r"""The state as plain values and tensors (a checkpoint's ``"state"``)."""
        return {
            "accumulators": {n: a.state_dict() for n, a in self.accumulators.items()},
            "joint": None if self.joint is None else {h: a.state_dict() for h, a in self.joint.items()},
            "interactions": None
            if self.interactions is None
            else {n: a.state_dict() for n, a in self.interactions.items()},
            "steps": self.steps,
            "pass_index": self.pass_index,
            "batches_done": self.batches_done,
            "images_done": self.images_done,
            "images_first_pass": self.images_first_pass,
            "spent": self.spent,
            "streamed": self.streamed,
            "finished": self.finished,
            "exhausted": self.exhausted,
            "local_reason": self.local_reason,
            "stop_reason": self.stop_reason,
            "labelled": self.labelled,
            "second_pass": None if self.second_pass is None else list(self.second_pass),
            "store": self.store,
            "batch_digests": list(self.batch_digests),
            "probe": self.probe,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunState:
        r"""Inverse of :meth:`to_dict`."""
        joint = (
            None
            if d["joint"] is None
            else {int(h): MomentAccumulator.from_state_dict(a) for h, a in d["joint"].items()}
        )
        accs = {n: GlobalAccumulator.from_state_dict(a) for n, a in d["accumulators"].items()}
        pairs = d["interactions"]
        pairs = None if pairs is None else {n: InteractionAccumulator.from_state_dict(a) for n, a in pairs.items()}
        fields = {k: v for k, v in d.items() if k not in ("accumulators", "joint", "second_pass", "interactions")}
        second = None if d["second_pass"] is None else (int(d["second_pass"][0]), int(d["second_pass"][1]))
        return cls(accumulators=accs, joint=joint, second_pass=second, interactions=pairs, **fields)

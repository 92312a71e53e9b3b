r"""What a checkpoint holds: where a global run is and what it has accumulated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from captum_iaside.estimators.base import BandShapley
from captum_iaside.global_run.accumulators import GlobalAccumulator, MomentAccumulator, update_by_key


@dataclass
class RunState:
    r"""Everything a checkpoint holds: where the run is and what it has accumulated."""

    accumulators: dict[str, GlobalAccumulator]
    joint: dict[int, MomentAccumulator] | None  # per stratum, of all models' φ̂ side by side
    steps: int = 0
    pass_index: int = 0
    batches_done: int = 0
    images_done: int = 0
    images_first_pass: int = 0
    spent: int = 0
    streamed: int = 0  # images the data yielded on this pass, evaluated or not (the next batch's position)
    finished: bool = False
    exhausted: bool = False  # the data ran out (every batch was read), rather than a limit stopping the run
    local_reason: str = ""
    stop_reason: str = ""
    labelled: bool = False
    second_pass: tuple[int, int] | None = None  # (remaining evaluations, images) it was planned with
    store: dict[int, dict[str, dict[str, Tensor | None]]] | None = None
    perturbations_per_eval: dict[str, int | None] = field(default_factory=dict)
    batch_digests: list[str] = field(default_factory=list)  # of every batch of the first pass, in order
    probe: dict[str, dict[str, Tensor]] | None = None  # v(∅) and v(N) of the first batch, per model
    interactions: dict[str, GlobalAccumulator] | None = None  # of the flattened (M, M) index per image, per model

    def add(
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
            strata = torch.zeros(rows.shape[0], dtype=torch.int64) if ids is None else ids
            update_by_key(self.joint, strata, rows, covariance=True, remove=remove)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accumulators": {n: a.state_dict() for n, a in self.accumulators.items()},
            "joint": None if self.joint is None else {h: a.state_dict() for h, a in self.joint.items()},
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
            "perturbations_per_eval": dict(self.perturbations_per_eval),
            "batch_digests": list(self.batch_digests),
            "probe": self.probe,
            "interactions": None
            if self.interactions is None
            else {n: a.state_dict() for n, a in self.interactions.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunState:
        joint = (
            None
            if d["joint"] is None
            else {int(h): MomentAccumulator.from_state_dict(a) for h, a in d["joint"].items()}
        )
        accs = {n: GlobalAccumulator.from_state_dict(a) for n, a in d["accumulators"].items()}
        pairs = d.get("interactions")
        pairs = None if pairs is None else {n: GlobalAccumulator.from_state_dict(a) for n, a in pairs.items()}
        fields = {k: v for k, v in d.items() if k not in ("accumulators", "joint", "second_pass", "interactions")}
        second = None if d["second_pass"] is None else (int(d["second_pass"][0]), int(d["second_pass"][1]))
        return cls(accumulators=accs, joint=joint, second_pass=second, interactions=pairs, **fields)

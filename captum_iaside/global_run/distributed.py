r"""``torch.distributed`` support: every rank attributes its shard, statistics are merged.

A global run calls :func:`agreed_stop` once per step on every rank, whatever stops it, so ranks whose
data end earlier keep answering the collectives of the others until all agree to stop; then
:func:`merged_statistics` once. What crosses between ranks are named dataclasses of state dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.distributed as dist

from captum_iaside.global_run.accumulators import (
    GlobalAccumulator,
    InteractionAccumulator,
    MomentAccumulator,
    merge_by_key,
)
from captum_iaside.global_run.state import RunState


def world() -> tuple[int, int]:
    r"""``(rank, world_size)``; ``(0, 1)`` without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather(obj: Any) -> list[Any]:
    r"""
    ``obj`` of every rank, in rank order (``[obj]`` without a process group). A collective:
    every rank must call it.
    """
    rank, size = world()
    if size == 1:
        return [obj]
    out: list[Any] = [None] * size
    dist.all_gather_object(out, obj)
    return out


def summed(counts: dict[Any, float]) -> dict[Any, float]:
    r"""
    ``counts`` summed key by key over the ranks (a collective under torch.distributed; ``counts`` itself without a
    process group): the correct answers and images of each rank's shard add up to the whole data set's.
    """
    total: dict[Any, float] = {}
    for own in gather(counts):
        for key, value in own.items():
            total[key] = total.get(key, 0) + value
    return total


@dataclass(frozen=True)
class RankStatus:
    r"""What a rank tells the others at each step: whether its data are done, why, and its statistics (tolerance)."""

    finished: bool
    reason: str
    accumulators: dict[str, dict[str, Any]] | None  # state dicts, for the merged precision of ``tolerance=``


@dataclass(frozen=True)
class RankStatistics:
    r"""
    The statistics of a run: a rank's state dicts as they cross to the others, or all ranks' merged accumulators.

    Attributes:
        accumulators (dict): Model name → the statistics of its φ̂.
        joint (dict, optional): Stratum → the moments of all models' φ̂ side by side (several models).
        interactions (dict, optional): Model name → the statistics of its interaction matrices.
        spent (int): Model evaluations (one rank's, or all ranks' once merged).
    """

    accumulators: dict[str, Any]
    joint: dict[int, Any] | None
    interactions: dict[str, Any] | None
    spent: int


def _state_dicts(accumulators: dict[Any, Any] | None) -> dict[Any, dict[str, Any]] | None:
    return None if accumulators is None else {key: a.state_dict() for key, a in accumulators.items()}


def _accumulators(state_dicts: dict[Any, dict[str, Any]]) -> dict[Any, GlobalAccumulator]:
    return {key: GlobalAccumulator.from_state_dict(d) for key, d in state_dicts.items()}


def tolerance_reason(
    per_rank: list[dict[str, GlobalAccumulator]], models: list[str], tolerance: float, steps: int
) -> str:
    r"""
    The stop reason of ``tolerance=`` once every model's ψ, merged over the ranks, is that precise after ``steps``
    steps, else ``""``.
    """
    worst = 0.0
    for name in models:
        total = GlobalAccumulator.from_state_dict(per_rank[0][name].state_dict())
        for accs in per_rank[1:]:
            total.merge(accs[name])
        worst = max(worst, total.relative_error())
    if worst <= tolerance:
        return f"tolerance: max stderr / range(psi) = {worst:.4g} <= {tolerance} after {steps} steps"
    return ""


def agreed_stop(st: RunState, models: list[str], tolerance: float | None, world_size: int) -> str:
    r"""
    The run's stop reason at the end of a step (the ``st.steps + 1``-th), identical on every rank (a collective under
    torch.distributed).
    """
    if world_size == 1:
        if tolerance is not None and not st.finished:
            reason = tolerance_reason([st.accumulators], models, tolerance, st.steps + 1)
            if reason:
                return reason
        return st.local_reason if st.finished else ""
    own = None if tolerance is None else _state_dicts(st.accumulators)
    statuses: list[RankStatus] = gather(RankStatus(st.finished, st.local_reason, own))
    if tolerance is not None:
        reason = tolerance_reason([_accumulators(s.accumulators) for s in statuses], models, tolerance, st.steps + 1)
        if reason:
            return reason
    if all(status.finished for status in statuses):
        return "; ".join(sorted({status.reason for status in statuses}))
    return ""


def merged_statistics(st: RunState, models: list[str]) -> RankStatistics:
    r"""Every rank's statistics merged (a collective under torch.distributed), with the evaluations of all ranks."""
    ranks: list[RankStatistics] = gather(
        RankStatistics(_state_dicts(st.accumulators), _state_dicts(st.joint), _state_dicts(st.interactions), st.spent)
    )
    first = ranks[0]
    accs = {n: GlobalAccumulator.from_state_dict(first.accumulators[n]) for n in models}
    joint = None
    if first.joint is not None:
        joint = {h: MomentAccumulator.from_state_dict(a) for h, a in first.joint.items()}
    pairs = None
    if first.interactions is not None:
        pairs = {n: InteractionAccumulator.from_state_dict(first.interactions[n]) for n in models}
    for other in ranks[1:]:
        for n in models:
            accs[n].merge(GlobalAccumulator.from_state_dict(other.accumulators[n]))
            if pairs is not None:
                pairs[n].merge(InteractionAccumulator.from_state_dict(other.interactions[n]))
        if joint is not None:
            merge_by_key(joint, {h: MomentAccumulator.from_state_dict(a) for h, a in other.joint.items()})
    return RankStatistics(accs, joint, pairs, sum(rank.spent for rank in ranks))

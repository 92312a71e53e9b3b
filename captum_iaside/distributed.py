r"""``torch.distributed`` support: every rank attributes its shard, statistics are merged."""

from __future__ import annotations

import torch.distributed as dist

from captum_iaside.importance import GlobalAccumulator


def world() -> tuple[int, int]:
    r"""``(rank, world_size)``; ``(0, 1)`` without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def merged(acc: GlobalAccumulator) -> GlobalAccumulator:
    r"""
    The accumulator of all ranks, merged in rank order (identical on every rank); ``acc`` itself
    when no process group is initialised. A collective: every rank must call it.
    """
    rank, size = world()
    if size == 1:
        return acc
    states = [None] * size
    dist.all_gather_object(states, acc.state_dict())
    total = GlobalAccumulator.from_state_dict(states[0])
    for state in states[1:]:
        total.merge(GlobalAccumulator.from_state_dict(state))
    return total

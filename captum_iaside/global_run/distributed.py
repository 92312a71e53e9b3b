r"""``torch.distributed`` support: every rank attributes its shard, statistics are merged.

A global run calls :func:`gather` once per step on every rank, whatever stops it, so ranks whose
data end earlier keep answering the collectives of the others until all agree to stop.
"""

from __future__ import annotations

from typing import Any

import torch.distributed as dist


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

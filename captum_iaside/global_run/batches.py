r"""The data of a global run: batches split into images and targets, and how many images the data hold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch import Tensor
from torch.utils.data import DataLoader


def split_batch(batch: Any) -> tuple[Tensor, Any]:
    r"""``(images, targets)`` of a batch that is an image tensor or an ``(images, targets, ...)`` sequence."""
    if isinstance(batch, Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)) and 1 <= len(batch) and isinstance(batch[0], Tensor):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    raise TypeError(
        f"data must yield image tensors or (images, targets) batches, got a batch of type {type(batch).__name__}"
    )


def known_images(data: Any) -> int | None:
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
        return sum(split_batch(b)[0].shape[0] for b in data)
    return None


def chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest

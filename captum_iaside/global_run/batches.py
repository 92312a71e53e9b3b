r"""The data of a global run: batches split into images and targets, and how many images the data hold."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from torch import Tensor
from torch.utils.data import DataLoader

#: Keys of dict batches (the Hugging Face ``datasets`` convention first) holding the images and the labels.
IMAGE_KEYS = ("pixel_values", "image", "images", "input")
LABEL_KEYS = ("label", "labels", "target", "targets")


def _first_key(batch: Mapping, keys: tuple[str, ...]) -> Any:
    return next((batch[k] for k in keys if k in batch), None)


def split_batch(batch: Any) -> tuple[Tensor, Any]:
    r"""
    ``(images, targets)`` of a batch that is an image tensor, an ``(images, targets, ...)`` sequence, or a
    dict with the images under one of :data:`IMAGE_KEYS` and the labels (if any) under one of :data:`LABEL_KEYS`.
    """
    if isinstance(batch, Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)) and 1 <= len(batch) and isinstance(batch[0], Tensor):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    if isinstance(batch, Mapping):
        images = _first_key(batch, IMAGE_KEYS)
        if isinstance(images, Tensor):
            return images, _first_key(batch, LABEL_KEYS)
        raise TypeError(
            f"data yields dict batches with keys {sorted(batch)}, but none of {list(IMAGE_KEYS)} holds an image tensor"
        )
    raise TypeError(
        "data must yield image tensors, (images, targets) batches or dicts with 'pixel_values' (and 'label'), "
        f"got a batch of type {type(batch).__name__}"
    )


def check_batch_labels(labels: Any, n_images: int, k: int) -> None:
    r"""
    The contract of a labelled batch: one label per image, as a ``(n_images,)`` tensor or a sequence of
    ``n_images`` items (one label for a whole batch, or more labels than images, is refused rather than
    spread or cut).

    Raises:
        ValueError: naming batch ``k`` and both counts.
    """
    if isinstance(labels, Tensor):
        count = labels.shape[0] if labels.dim() > 0 else "a single"
    elif isinstance(labels, (list, tuple)):
        count = len(labels)
    else:
        count = f"one {type(labels).__name__} as the"
    if count != n_images:
        raise ValueError(
            f"batch {k} holds {n_images} images and {count} labels; labelled data need one label per image"
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


def model_batches(data: Any, names: list[str]) -> Iterator[dict[str, Any]]:
    r"""
    One dict of model name → batch per step: each model's own data where ``data`` is a dict of name → data
    (they must end at the same batch), else the same batch for every model.
    """
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


def chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest

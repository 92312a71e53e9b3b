r"""Captum's ``additional_forward_args`` convention: normalised once, repeated for every coalition image."""

from __future__ import annotations

from typing import Any

from torch import Tensor


def as_arg_tuple(additional_forward_args: Any) -> tuple[Any, ...]:
    r"""Captum's convention: None → ``()``, a tuple stays, anything else becomes a 1-tuple."""
    if additional_forward_args is None:
        return ()
    if isinstance(additional_forward_args, tuple):
        return additional_forward_args
    return (additional_forward_args,)


def _per_image(a: Any, n: int) -> bool:
    r"""Whether ``a`` holds one row per image of ``n`` images (a tensor whose first dimension is ``n``)."""
    return isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == n


def has_per_image_args(args: tuple[Any, ...], n: int) -> bool:
    return any(_per_image(a, n) for a in args)


def repeat_args(args: tuple[Any, ...], n: int, repeats: int) -> tuple[Any, ...]:
    return tuple(a.repeat_interleave(repeats, dim=0) if _per_image(a, n) else a for a in args)


def rows_of_args(args: tuple[Any, ...], n: int, rows: slice) -> tuple[Any, ...]:
    r"""The arguments of the images ``rows`` of ``n``: a tensor with one row per image is cut to them, anything else
    passes as it is."""
    return tuple(a[rows] if _per_image(a, n) else a for a in args)

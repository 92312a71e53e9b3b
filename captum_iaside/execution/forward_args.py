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


def has_per_image_args(args: tuple[Any, ...], n: int) -> bool:
    return any(isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == n for a in args)


def repeat_args(args: tuple[Any, ...], n: int, repeats: int) -> tuple[Any, ...]:
    return tuple(
        a.repeat_interleave(repeats, dim=0) if isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == n else a
        for a in args
    )

r"""The state of the user's model: I-ASIDE evaluates it as it is, and says when that is unsound."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import Tensor, nn


def warn_if_training(forward_func: Callable[..., Any], stacklevel: int, name: str | None = None) -> None:
    r"""
    Warn when ``forward_func`` is a module with a computing (leaf) module in training mode: dropout and
    batch-norm statistics then make coalition values depend on their batch-mates. A wrapper such as
    :class:`torch.nn.DataParallel` keeps its own flag, so only the leaves are looked at.
    """
    if isinstance(forward_func, nn.Module) and any(
        m.training for m in forward_func.modules() if next(m.children(), None) is None
    ):
        which = "the model" if name is None else f"the model {name!r}"
        warnings.warn(
            f"{which} is in training mode: dropout and batch-norm statistics make coalition "
            "values depend on their batch-mates; call model.eval() first",
            stacklevel=stacklevel + 1,
        )


def check_input_dtype(forward_func: Callable[..., Any], inputs: Tensor, autocast_dtype: torch.dtype | None) -> None:
    r"""
    Refuse images whose floating dtype differs from the model's parameters (outside autocast), naming
    both, rather than failing inside the model's first layer.
    """
    if autocast_dtype is not None or not isinstance(forward_func, nn.Module):
        return
    for p in forward_func.parameters():
        if p.is_floating_point():
            if inputs.dtype != p.dtype:
                raise TypeError(
                    f"the images are {inputs.dtype} but the model's parameters are {p.dtype}; cast one to the "
                    f"other (images.to({p.dtype}) or model.to({inputs.dtype})), or pass autocast_dtype"
                )
            return


@contextlib.contextmanager
def preserved_buffers(models: Iterable[Callable[..., Any]]) -> Iterator[None]:
    r"""
    Restore every buffer of the models as it was: a batch-norm layer in training mode updates its
    running statistics with every coalition batch, and the user's model must come back unchanged.
    Only models with a module in training mode are copied.
    """
    saved = [
        (b, b.detach().clone())
        for m in models
        if isinstance(m, nn.Module) and any(sub.training for sub in m.modules())
        for b in m.buffers()
    ]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, copy in saved:
                buffer.copy_(copy)

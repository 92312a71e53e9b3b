r"""The state of the user's model: I-ASIDE evaluates it as it is, and says when that is unsound."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from torch import nn


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

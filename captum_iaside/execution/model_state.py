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


def dtype_mismatch(
    forward_func: Callable[..., Any], inputs: Tensor, autocast_dtype: torch.dtype | None
) -> TypeError | None:
    r"""
    The error to raise if the model's first forward fails while the images' floating dtype differs from
    its parameters' (outside autocast), naming both; None when they agree. A model that casts its own
    input (as Hugging Face models do) runs, so the mismatch alone is not refused.
    """
    if autocast_dtype is not None or not isinstance(forward_func, nn.Module):
        return None
    for p in forward_func.parameters():
        if p.is_floating_point():
            if inputs.dtype == p.dtype:
                return None
            return TypeError(
                f"the images are {inputs.dtype} but the model's parameters are {p.dtype}, and the model failed on "
                f"them; cast one to the other (images.to({p.dtype}) or model.to({inputs.dtype})), or pass "
                "autocast_dtype"
            )
    return None


def autocast_to(device: torch.device, autocast_dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    r"""``torch.autocast`` on ``device``'s type in ``autocast_dtype``, or nothing where it is None."""
    if autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=autocast_dtype)


@contextlib.contextmanager
def preserved_buffers(models: Iterable[Callable[..., Any]]) -> Iterator[None]:
    r"""
    Restore every buffer of the models as it was: a batch-norm layer in training mode updates its
    running statistics with every coalition batch, and the user's model must come back unchanged.
    Only models with a module in training mode are copied.
    """
    saved = [
        (module, name, buffer, buffer.detach().clone())
        for m in models
        if isinstance(m, nn.Module) and any(sub.training for sub in m.modules())
        for module in m.modules()
        for name, buffer in module.named_buffers(recurse=False)
    ]
    try:
        yield
    finally:
        with torch.inference_mode():  # in place on ordinary and inference tensors alike
            for module, name, buffer, copy in saved:
                if getattr(module, name) is buffer:
                    buffer.copy_(copy)
                else:  # the module replaced the tensor (x = 0.9 x + ...): put the original back
                    setattr(module, name, buffer)
                    buffer.copy_(copy)

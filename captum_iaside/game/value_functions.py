r"""Value functions ``v_x(S)``: one number per coalition image from the model's output.

A value function takes the model output for ``N`` images and their targets and returns ``(N,)``:

- ``"log_prob"`` — ``log_softmax(output)[target]`` (the paper's);
- ``"prob"`` — ``softmax(output)[target]``;
- ``"logit"`` — ``output[target]``, or the output itself when the model returns one number per
  image (shape ``(N,)``, no target needed);
- ``"correct"`` — 1 where ``argmax(output) == target``, else 0;
- a callable ``(output, target) -> (N,)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

ValueCallable = Callable[[Tensor, Tensor | None], Tensor]
ValueSpec = str | ValueCallable
TargetSpec = None | int | Tensor | list[int]

VALUE_NAMES = ("log_prob", "prob", "logit", "correct")


def scores_of(output: Any) -> Any:
    r"""
    The class scores in a model's output, as the model zoos return them: a tensor as it is; the ``logits``
    of a Hugging Face ``ModelOutput``, a dataclass or a dict; the first item of a tuple or list whose first
    item is a tensor. Anything else is returned unchanged (a callable value may read it).

    Examples::

        >>> scores_of({"logits": torch.zeros(2, 3)}).shape
        torch.Size([2, 3])
    """
    if isinstance(output, Tensor):
        return output
    if isinstance(output, Mapping):
        return output["logits"] if isinstance(output.get("logits"), Tensor) else output
    logits = getattr(output, "logits", None)
    if isinstance(logits, Tensor):
        return logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    return output


def _gather(scores: Tensor, target: Tensor) -> Tensor:
    return scores.gather(1, target[:, None]).squeeze(1)


class ValueFunction:
    r"""
    A named or user-defined value function with its input checks.

    Args:
        value (str or callable): One of ``"log_prob"``, ``"prob"``, ``"logit"``,
                    ``"correct"``, or a callable ``(output, target) -> (N,)``.
    """

    def __init__(self, value: ValueSpec) -> None:
        if isinstance(value, str):
            if value not in VALUE_NAMES:
                raise ValueError(f"unknown value {value!r}; expected one of {list(VALUE_NAMES)} or a callable")
            self.name = value
            self.fn: ValueCallable | None = None
        elif callable(value):
            self.name = getattr(value, "__name__", "callable")
            self.fn = value
        else:
            raise TypeError(f"value must be a name or a callable (output, target) -> (N,), got {type(value).__name__}")

    def needs_target(self, output: Any) -> bool:
        r"""Whether this output needs a class target (2-D class scores with a named value)."""
        return self.fn is None and isinstance(output, Tensor) and output.dim() == 2

    def check_output(self, output: Any, n: int) -> None:
        r"""
        Raise a clear error if ``output`` does not fit this value function for ``n`` images. A
        callable value receives whatever the model returns (a dict or tuple too); its result is
        checked instead.
        """
        if self.fn is not None:
            return
        if not isinstance(output, Tensor):
            raise TypeError(
                f"the model returned {type(output).__name__}; value={self.name!r} needs a tensor of class scores. "
                "Pass a callable value=(output, target) -> (N,) that reads this output"
            )
        if output.dim() == 0 or output.shape[0] != n:
            raise ValueError(
                f"the model returned shape {tuple(output.shape)} for {n} images; expected ({n}, K) or ({n},)"
            )
        if output.dim() == 2 and output.shape[1] == 0:
            raise ValueError(
                f"the model returned no class scores (shape {tuple(output.shape)}); expected (N, K) with K >= 1"
            )
        if output.dim() == 1 and self.name != "logit":
            raise ValueError(
                f"value={self.name!r} needs class scores of shape (N, K), but the model returned "
                f"one number per image {tuple(output.shape)}; use value='logit' to take that "
                "number itself as the value"
            )
        if output.dim() > 2:
            raise ValueError(
                f"value={self.name!r} needs a model output of shape (N, K) or (N,), got "
                f"{tuple(output.shape)}; pass a callable value to reduce it"
            )

    def __call__(self, output: Any, target: Tensor | None, n: int | None = None) -> Tensor:
        r"""
        Values of ``n`` images (``n`` defaults to the output's first dimension); scores are
        computed in float32 or the output's own higher precision (float64 stays float64).
        """
        if self.fn is not None:
            n = output.shape[0] if n is None else n
            v = self.fn(output, target)
            if not isinstance(v, Tensor) or tuple(v.shape) != (n,):
                shape = tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__
                raise ValueError(f"the value callable must return shape ({n},), got {shape}")
            return v
        if output.dim() == 1:
            return output
        scores = output.to(torch.promote_types(output.dtype, torch.float32))
        if self.name == "log_prob":
            return _gather(torch.log_softmax(scores, dim=1), target)
        if self.name == "prob":
            return _gather(torch.softmax(scores, dim=1), target)
        if self.name == "logit":
            return _gather(output, target)
        return (output.argmax(dim=1) == target).to(output.dtype if output.is_floating_point() else torch.float32)


def resolve_target(target: TargetSpec, n: int, device: torch.device) -> Tensor | None:
    r"""
    Normalise a Captum-style ``target`` (int, list, ``(B,)`` tensor or None) to a ``(B,)`` int64
    tensor (or None), with clear errors for a wrong type or length.
    """
    if target is None:
        return None
    if isinstance(target, bool):
        raise TypeError("target must be an int, a list of ints or an integer tensor, got bool")
    if isinstance(target, int):
        return torch.full((n,), target, dtype=torch.int64, device=device)
    if isinstance(target, (list, tuple)):
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in target):
            raise TypeError("target as a list must hold ints (one class index per image)")
        target = torch.tensor(list(target), dtype=torch.int64)
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be an int, a list of ints or an integer tensor, got {type(target).__name__}")
    if target.dtype == torch.bool:
        raise TypeError("target must hold integer class indices, got a bool tensor (not read as classes 0 and 1)")
    if target.is_floating_point() or target.is_complex():
        raise TypeError(f"target must hold integer class indices, got dtype {target.dtype}")
    if target.dim() == 0 or (target.dim() == 1 and target.shape[0] == 1):
        target = target.reshape(()).expand(n)  # Captum: one class for the whole batch
    if target.dim() != 1 or target.shape[0] != n:
        raise ValueError(
            f"target must hold one class index per image ({n},) or one for the whole batch, got shape "
            f"{tuple(target.shape)}"
        )
    return target.to(device=device, dtype=torch.int64)


def check_target_range(target: Tensor | None, output: Tensor) -> None:
    r"""Raise a clear error if a class index lies outside ``[0, K)`` of a ``(N, K)`` output."""
    if target is None or output.dim() != 2:
        return
    k = output.shape[1]
    lo, hi = int(target.min()), int(target.max())
    if lo < 0 or hi >= k:
        bad = lo if lo < 0 else hi
        raise ValueError(f"target {bad} is out of range for a model with {k} classes (expected 0 .. {k - 1})")

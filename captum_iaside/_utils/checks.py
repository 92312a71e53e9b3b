r"""Argument checks, written once and used by every entry point.

Each check raises :class:`TypeError` for a value of the wrong type and :class:`ValueError` for a
value out of range, naming the argument and what was expected, and returns the value it accepted.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    r"""``value`` as an int (a bool is not one), at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_positive_int(value: Any, name: str) -> int:
    r"""``value`` as an int of at least 1."""
    return check_int(value, name, minimum=1)


def check_real(value: Any, name: str) -> float:
    r"""``value`` as a finite real number (a bool or a string is not one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def check_positive(value: Any, name: str) -> float:
    r"""``value`` as a finite number above zero."""
    value = check_real(value, name)
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def check_open_unit(value: Any, name: str) -> float:
    r"""``value`` as a number strictly between 0 and 1 (a confidence level)."""
    value = check_real(value, name)
    if not 0 < value < 1:
        raise ValueError(f"{name} must lie in (0, 1), got {value}")
    return value


def check_callable(value: Any, name: str) -> Any:
    r"""``value`` if it can be called (a model or a forward function)."""
    if not callable(value):
        raise TypeError(f"{name} must be callable (a model or forward function), got {type(value).__name__}")
    return value


def check_images(x: object, name: str) -> Tensor:
    r"""``x`` if it is a 4-D floating-point tensor ``(B, C, H, W)`` holding at least one image."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must be 4-D (B, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point, got dtype {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} holds no image (batch size 0)")
    return x
